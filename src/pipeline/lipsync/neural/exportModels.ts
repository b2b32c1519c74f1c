/**
 * Runs training/export.py to produce ONNX files (random weights for speed measurements, or a checkpoint's), cached
 * under .cache/neural/ by a hash of the Python sources and the arguments: a second call returns at once.
 * Needs Debian's python3-torch (set-up step 40-training).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(fileURLToPath(new URL('../../../../', import.meta.url)));
/** Debian's interpreter: python3-torch installs for /usr/bin/python3 (not for a pyenv/venv python). */
export const PYTHON = process.env.LIPSYNC_PYTHON ?? '/usr/bin/python3';

/** Null when PyTorch imports; otherwise why not. */
export function torchUnavailable(): string | null {
  const r = spawnSync(PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
  if (r.status === 0) return null;
  const why = (r.stderr || String(r.error ?? `exit status ${r.status}`)).trim().split('\n').pop();
  return `PyTorch not importable by ${PYTHON} (${why}); install python3-torch (node scripts/setup.mjs training)`;
}

/** Hash of training/export.py and the network definitions (plus `extra`): the cache key of exported models. */
export function sourcesHash(extra = ''): string {
  const h = createHash('sha256').update(extra);
  const dir = join(repoRoot, 'training');
  const files = [
    'export.py',
    ...readdirSync(join(dir, 'lipsync_nets'))
      .filter((f) => f.endsWith('.py'))
      .map((f) => `lipsync_nets/${f}`),
  ].sort();
  for (const f of files) h.update(f).update(readFileSync(join(dir, f)));
  return h.digest('hex').slice(0, 12);
}

export interface ExportOptions {
  config?: 'tiny' | 'full';
  /** Export this checkpoint instead of random weights. */
  checkpoint?: string;
  models?: string[];
  log?: (message: string) => void;
}

/** Returns the folder holding the exported .onnx files (exporting first when not cached). */
export function ensureExportedModels(opts: ExportOptions = {}): string {
  const config = opts.config ?? 'tiny';
  const models = opts.models ?? ['generator', 'renderer', 'refenc', 'frame'];
  const args = opts.checkpoint
    ? ['--checkpoint', resolve(opts.checkpoint)]
    : ['--random', '--config', config, '--seed', '0'];
  args.push('--models', models.join(','));
  const tag = opts.checkpoint ? 'ckpt' : `${config}-random`;
  const dir = join(repoRoot, '.cache', 'neural', `${tag}-${sourcesHash(args.join(' '))}`);
  if (existsSync(join(dir, 'done'))) return dir;
  const why = torchUnavailable();
  if (why) throw new Error(why);
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const started = performance.now();
  opts.log?.(`exporting ${tag} models (${models.join(', ')}) with PyTorch...`);
  execFileSync(PYTHON, [join(repoRoot, 'training', 'export.py'), ...args, '--out', tmp], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONWARNINGS: 'ignore', OMP_NUM_THREADS: '1' },
    maxBuffer: 64 << 20,
  });
  writeFileSync(join(tmp, 'done'), '');
  rmSync(dir, { recursive: true, force: true });
  try {
    renameSync(tmp, dir);
  } catch {
    rmSync(tmp, { recursive: true, force: true });
  }
  opts.log?.(`exported in ${((performance.now() - started) / 1000).toFixed(0)} s: ${dir}`);
  return dir;
}
