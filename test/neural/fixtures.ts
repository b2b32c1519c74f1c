/**
 * Test fixtures of the neural path: tiny IP_LAP-shaped models exported by training/export.py (random weights) into
 * .cache/neural/test-<hash>/, keyed by a hash of the Python sources, so a second run reuses them.
 * Needs Debian's python3-torch (set-up step 40-training); without it the tests that need torch skip LOUDLY.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { PYTHON, repoRoot, sourcesHash, torchUnavailable } from '../../src/pipeline/lipsync/neural/exportModels.ts';

export { PYTHON, repoRoot };

let torchChecked: string | null | undefined;

/** Null when torch imports; otherwise the reason it does not (printed by the skipping tests). */
export function torchMissingReason(): string | null {
  if (torchChecked !== undefined) return torchChecked;
  torchChecked = torchUnavailable();
  if (torchChecked) console.warn(`\n*** SKIPPING neural tests that need PyTorch: ${torchChecked}\n`);
  return torchChecked;
}

/** Runs a Python script of training/ with Debian's python; throws with its stderr tail on failure. */
export function python(args: string[], timeoutMs = 240_000): string {
  try {
    return execFileSync(PYTHON, args, {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: timeoutMs,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PYTHONWARNINGS: 'ignore', OMP_NUM_THREADS: '1' },
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(
      `${PYTHON} ${args.join(' ')} failed: ${e.message}\n${(e.stderr ?? '').split('\n').slice(-25).join('\n')}`,
    );
  }
}

/**
 * Exports the tiny models once per source hash (variant `static` = batch fixed to 1, a contract violation).
 * Returns the folder with the .onnx files and golden/.
 */
export function tinyModels(variant: 'ok' | 'static' = 'ok'): string {
  const dir = join(repoRoot, '.cache', 'neural', `test-${sourcesHash()}-${variant}`);
  if (existsSync(join(dir, 'done'))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const args = ['training/export.py', '--random', '--config', 'tiny', '--out', tmp];
  if (variant === 'ok') args.push('--golden', join(tmp, 'golden'));
  else args.push('--static-batch', '--models', 'generator');
  python(args);
  execFileSync('touch', [join(tmp, 'done')]);
  rmSync(dir, { recursive: true, force: true });
  try {
    renameSync(tmp, dir);
  } catch {
    // Another test process finished first: use its copy.
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

export interface GoldenTensor {
  data: Float32Array;
  dims: number[];
}

/** Fixed inputs and PyTorch outputs written by export.py --golden, per model kind. */
export function readGolden(
  dir: string,
): Record<string, { inputs: Record<string, GoldenTensor>; outputs: Record<string, GoldenTensor> }> {
  const index = JSON.parse(readFileSync(join(dir, 'golden', 'golden.json'), 'utf8')) as Record<
    string,
    {
      inputs: Record<string, { file: string; shape: number[] }>;
      outputs: Record<string, { file: string; shape: number[] }>;
    }
  >;
  const read = (f: string): Float32Array => {
    const b = readFileSync(join(dir, 'golden', f));
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
  };
  const out: ReturnType<typeof readGolden> = {};
  for (const [kind, e] of Object.entries(index)) {
    const conv = (m: Record<string, { file: string; shape: number[] }>): Record<string, GoldenTensor> =>
      Object.fromEntries(Object.entries(m).map(([n, v]) => [n, { data: read(v.file), dims: v.shape }]));
    out[kind] = { inputs: conv(e.inputs), outputs: conv(e.outputs) };
  }
  return out;
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Item `i` (batch dim 0) of a batched tensor, as a batch of one. */
export function itemOf(t: GoldenTensor, i: number): GoldenTensor {
  const per = t.data.length / t.dims[0]!;
  return { data: t.data.slice(i * per, (i + 1) * per), dims: [1, ...t.dims.slice(1)] };
}
