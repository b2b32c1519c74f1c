import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Fft } from '../../src/pipeline/audio/fft.ts';
import { logMelBatch, MelStream, melChunkStart, melFilterbank } from '../../src/pipeline/audio/mel.ts';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A speech-like test signal: two harmonics sweeping, amplitude-modulated, plus noise and a silent gap. */
function testSignal(n: number, seed = 1): Float32Array {
  const r = rng(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / 16000;
    const f0 = 120 + 60 * Math.sin(2 * Math.PI * 0.7 * t);
    const env = 0.5 + 0.5 * Math.sin(2 * Math.PI * 3 * t);
    const gap = i > n * 0.4 && i < n * 0.5 ? 0 : 1;
    x[i] =
      gap * (0.3 * env * Math.sin(2 * Math.PI * f0 * t * 4) + 0.1 * Math.sin(2 * Math.PI * 2500 * t)) +
      0.01 * (r() - 0.5);
  }
  return x;
}

describe('fft', () => {
  for (const n of [1, 2, 5, 12, 16, 49, 800, 77]) {
    it(`matches a direct DFT for n=${n}`, () => {
      const r = rng(n);
      const re = Float64Array.from({ length: n }, () => r() - 0.5);
      const im = Float64Array.from({ length: n }, () => r() - 0.5);
      const oRe = new Float64Array(n);
      const oIm = new Float64Array(n);
      new Fft(n).transform(re, im, oRe, oIm);
      let maxErr = 0;
      for (let k = 0; k < n; k++) {
        let sr = 0;
        let si = 0;
        for (let j = 0; j < n; j++) {
          const a = (-2 * Math.PI * j * k) / n;
          sr += re[j]! * Math.cos(a) - im[j]! * Math.sin(a);
          si += re[j]! * Math.sin(a) + im[j]! * Math.cos(a);
        }
        maxErr = Math.max(maxErr, Math.abs(sr - oRe[k]!), Math.abs(si - oIm[k]!));
      }
      expect(maxErr).toBeLessThan(1e-9 * Math.max(1, n));
    });
  }
});

describe('log-mel', () => {
  it('has 80 triangular Slaney bands', () => {
    const w = melFilterbank();
    expect(w.length).toBe(80 * 401);
    for (let b = 0; b < 80; b++) {
      let s = 0;
      for (let k = 0; k < 401; k++) s += w[b * 401 + k]!;
      expect(s).toBeGreaterThan(0);
    }
  });

  it('puts a 1 kHz tone in the band around 1 kHz', () => {
    const x = new Float32Array(16000);
    for (let i = 0; i < x.length; i++) x[i] = 0.5 * Math.sin((2 * Math.PI * 1000 * i) / 16000);
    const { mel, frames } = logMelBatch(x);
    const m = Math.floor(frames / 2);
    let best = 0;
    for (let b = 1; b < 80; b++) if (mel[m * 80 + b]! > mel[m * 80 + best]!) best = b;
    // Slaney band centres: 1 kHz lies near band 24 for fmin 55, fmax 7600.
    expect(best).toBeGreaterThanOrEqual(21);
    expect(best).toBeLessThanOrEqual(27);
  });

  it('matches a numpy computation of the same formula', (ctx) => {
    const probe = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' });
    if (probe.status !== 0) ctx.skip();
    const dir = mkdtempSync(join(tmpdir(), 'mel-'));
    try {
      const x = testSignal(16000 * 2 + 123);
      writeFileSync(join(dir, 'x.f32'), Buffer.from(x.buffer));
      const script = fileURLToPath(new URL('./mel_ref.py', import.meta.url));
      const res = spawnSync('python3', [script, join(dir, 'x.f32'), join(dir, 'y.f32')], { encoding: 'utf8' });
      expect(res.status, res.stderr).toBe(0);
      const buf = readFileSync(join(dir, 'y.f32'));
      const ref = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
      const { mel, frames } = logMelBatch(x);
      expect(frames * 80).toBe(ref.length);
      let maxErr = 0;
      for (let i = 0; i < ref.length; i++) maxErr = Math.max(maxErr, Math.abs(ref[i]! - mel[i]!));
      expect(maxErr).toBeLessThan(1e-3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('streaming equals batch, whatever the push sizes', () => {
    const x = testSignal(16000 * 3 + 77, 2);
    const { mel, frames } = logMelBatch(x);
    const stream = new MelStream();
    const r = rng(9);
    for (let i = 0; i < x.length; ) {
      const n = 1 + Math.floor(r() * 700);
      stream.push(x.subarray(i, Math.min(x.length, i + n)));
      i += n;
    }
    expect(stream.frameCount).toBe(frames);
    let maxErr = 0;
    for (let m = 0; m < frames; m++) {
      for (let b = 0; b < 80; b++) maxErr = Math.max(maxErr, Math.abs(stream.value(m, b) - mel[m * 80 + b]!));
    }
    expect(maxErr).toBe(0);
    // Chunk layout: 80 x 16, row-major by bin, starting at int(80 i / 25).
    const i = 20;
    const start = melChunkStart(i);
    expect(start).toBe(64);
    const chunk = stream.chunk(start, new Float32Array(80 * 16));
    expect(chunk[3 * 16 + 5]).toBe(mel[(start + 5) * 80 + 3]);
  });
});
