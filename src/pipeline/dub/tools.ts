/**
 * The external programs of the embedded translator, where they come from, and one way to run them: a child process
 * with a time limit, killed when its owner closes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DubError } from './types.ts';

/** Repository root (this file is src/pipeline/dub/tools.ts). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Where each tool comes from: the Debian package to install, or the set-up step that builds it. */
export const toolPackages = {
  pocketsphinx_continuous: 'pocketsphinx',
  apertium: 'apertium',
  festival: 'festival',
  'espeak-ng': 'espeak-ng',
  'espeak-phonemes': 'libespeak-ng-dev (built by `node scripts/setup.mjs dub-tools`)',
} as const;

export type ToolName = keyof typeof toolPackages;

/** Data files the tools need, with their Debian package. */
export const dataPackages = {
  pocketsphinxModel: { path: '/usr/share/pocketsphinx/model/en-us', pkg: 'pocketsphinx-en-us' },
  festivalSlt: { path: '/usr/share/festival/voices/us/cmu_us_slt_arctic_hts', pkg: 'festvox-us-slt-hts' },
  festivalOna: { path: '/usr/share/festival/voices/catalan/upc_ca_ona_hts', pkg: 'festvox-ca-ona-hts' },
} as const;

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const found = new Map<string, string>();

/** Absolute path of a tool, or a DubError('missing-tool') naming the package that provides it. */
export function findTool(name: ToolName): string {
  const cached = found.get(name);
  if (cached) return cached;
  const candidates =
    name === 'espeak-phonemes'
      ? [process.env.LIPSYNC_ESPEAK_PHONEMES ?? '', join(repoRoot, '.cache', 'bin', 'espeak-phonemes')]
      : (process.env.PATH ?? '').split(delimiter).map((d) => join(d, name));
  for (const c of candidates) {
    if (c && isExecutable(c)) {
      found.set(name, c);
      return c;
    }
  }
  throw new DubError('missing-tool', `'${name}' not found: install ${toolPackages[name]}`);
}

/** Checks a data file or folder of a Debian package, with a DubError naming the package when it is missing. */
export function requireData(key: keyof typeof dataPackages): string {
  const { path, pkg } = dataPackages[key];
  if (!existsSync(path)) throw new DubError('missing-tool', `${path} not found: install Debian package ${pkg}`);
  return path;
}

export interface RunResult {
  stdout: Buffer;
  stderr: string;
  wallMs: number;
}

/**
 * Tracks the child processes of one owner so close() can end them all. A killed run rejects with a DubError
 * ('closed').
 */
export class ProcessGroup {
  private readonly children = new Set<ChildProcess>();
  private closed = false;

  run(
    cmd: string,
    args: string[],
    opts: {
      input?: string | Buffer;
      timeoutMs?: number;
      what?: string;
      cwd?: string;
      env?: Record<string, string>;
    } = {},
  ): Promise<RunResult> {
    const what = opts.what ?? cmd;
    if (this.closed) return Promise.reject(new DubError('closed', `${what}: closed`));
    const started = performance.now();
    return new Promise((resolvePromise, reject) => {
      const child = spawn(cmd, args, {
        stdio: ['pipe', 'pipe', 'pipe'],
        cwd: opts.cwd,
        env: opts.env ? { ...process.env, ...opts.env } : process.env,
      });
      this.children.add(child);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, opts.timeoutMs ?? 60_000);
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => {
        if (err.length < 64) err.push(b);
      });
      child.stdin.on('error', () => undefined); // the child may exit before reading all input
      child.on('error', (e) => {
        clearTimeout(timer);
        this.children.delete(child);
        reject(new DubError('tool-failed', `${what}: ${e.message}`, { retryable: true, cause: e }));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        this.children.delete(child);
        const stderr = Buffer.concat(err).toString('utf8');
        if (this.closed) return reject(new DubError('closed', `${what}: closed`));
        if (timedOut) return reject(new DubError('tool-failed', `${what}: timed out`, { retryable: true }));
        if (code !== 0) {
          const tail = stderr.trim().split('\n').slice(-3).join(' | ');
          return reject(
            new DubError('tool-failed', `${what} exited with ${code ?? signal}: ${tail}`, { retryable: true }),
          );
        }
        resolvePromise({ stdout: Buffer.concat(out), stderr, wallMs: performance.now() - started });
      });
      child.stdin.end(opts.input ?? '');
    });
  }

  get running(): number {
    return this.children.size;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.children) c.kill('SIGKILL');
  }
}
