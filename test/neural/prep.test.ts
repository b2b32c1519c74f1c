import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run as prep } from '../../src/cli/commands/prep.ts';
import { UsageError } from '../../src/cli/args.ts';
import { NpyStreamWriter, readNpy, writeNpy } from '../../src/pipeline/lipsync/neural/npy.ts';
import { python, torchMissingReason } from './fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'lipsync-npy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('.npy files for the Python side', () => {
  it('round-trips float32 and uint8, whole or streamed', () => {
    const f = Float32Array.from({ length: 24 }, (_, i) => i / 7);
    writeNpy(join(dir, 'f.npy'), f, [2, 3, 4]);
    expect(readNpy(join(dir, 'f.npy'))).toEqual({ data: f, shape: [2, 3, 4] });
    const w = new NpyStreamWriter(join(dir, 'u.npy'), 'u1', [3, 2]);
    w.append(Uint8Array.from([1, 2]));
    w.append(Uint8Array.from([3, 4, 5, 6]));
    w.close();
    expect(readNpy(join(dir, 'u.npy'))).toEqual({ data: Uint8Array.from([1, 2, 3, 4, 5, 6]), shape: [3, 2] });
    expect(() => writeNpy(join(dir, 'bad.npy'), f, [5, 5])).toThrow(/holds 25, data has 24/);
    const short = new NpyStreamWriter(join(dir, 's.npy'), 'f4', [4]);
    short.append(new Float32Array(3));
    expect(() => short.close()).toThrow(/wrote 3 of 4/);
  });

  it.skipIf(torchMissingReason() !== null)('numpy reads them', () => {
    writeNpy(join(dir, 'n.npy'), Float32Array.from([1.5, -2, 3]), [3]);
    const out = python([
      '-c',
      `import numpy as n; a=n.load(${JSON.stringify(join(dir, 'n.npy'))}); print(a.dtype, a.shape, a.tolist())`,
    ]);
    expect(out.trim()).toBe('float32 (3,) [1.5, -2.0, 3.0]');
  });
});

describe('lipsync prep options', () => {
  it('says what is missing or wrong', async () => {
    await expect(prep([])).rejects.toBeInstanceOf(UsageError);
    await expect(prep(['--clips', join(dir, 'nope'), '--out', dir])).rejects.toThrow(/--clips .*nope/);
    await expect(prep(['--clips', dir, '--out', dir])).rejects.toThrow(/no video files/);
    await expect(prep(['--clips', dir, '--out', dir, '--bogus'])).rejects.toBeInstanceOf(UsageError);
  });
});
