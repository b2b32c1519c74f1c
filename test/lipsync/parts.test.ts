import { describe, expect, it } from 'vitest';
import { createLipsyncEngine } from '../../src/pipeline/lipsync/createStage.ts';
import { Pcm16kConverter } from '../../src/pipeline/lipsync/LipsyncEngine.ts';
import type { MemoryGenerator } from '../../src/pipeline/lipsync/MemoryGenerator.ts';
import { fitRidge } from '../../src/pipeline/lipsync/OpeningPrior.ts';
import { PhoneTrack, phoneOpening } from '../../src/pipeline/lipsync/phones.ts';
import {
  fitSimilarity,
  invertSimilarity,
  applySimilarity,
  meshToTemplate,
  mouthOpening,
} from '../../src/pipeline/lipsync/shape.ts';
import { syntheticMesh } from './fixtures.ts';

describe('phones', () => {
  it('maps open vowels above close vowels above bilabials and silence', () => {
    expect(phoneOpening('AA')).toBeGreaterThan(phoneOpening('IY'));
    expect(phoneOpening('AA1')).toBe(phoneOpening('AA'));
    expect(phoneOpening('IY')).toBeGreaterThan(phoneOpening('M'));
    expect(phoneOpening('SIL')).toBe(0);
    expect(phoneOpening('a')).toBeGreaterThan(phoneOpening('i'));
    const t = new PhoneTrack([
      { phone: 'M', startMs: 0, endMs: 100 },
      { phone: 'AA', startMs: 100, endMs: 300 },
    ]);
    expect(t.at(50)).toBe('M');
    expect(t.at(150)).toBe('AA');
    expect(t.at(400)).toBeNull();
    expect(t.openingAround(200, 40)).toBeCloseTo(1);
  });
});

describe('audio conversion', () => {
  it('resamples 48 kHz stereo frames to 16 kHz mono without drift across frames', () => {
    const conv = new Pcm16kConverter();
    let total = 0;
    let last = 0;
    let maxJump = 0;
    for (let k = 0; k < 100; k++) {
      const data = new Int16Array(960 * 2);
      for (let i = 0; i < 960; i++) {
        const v = Math.round(10000 * Math.sin((2 * Math.PI * 200 * (k * 960 + i)) / 48000));
        data[2 * i] = v;
        data[2 * i + 1] = v;
      }
      const out = conv.convert({
        data,
        sampleRate: 48000,
        channels: 2,
        samplesPerChannel: 960,
        timestampUs: k * 20000,
      })!;
      for (const s of out.samples) {
        maxJump = Math.max(maxJump, Math.abs(s - last));
        last = s;
      }
      total += out.samples.length;
    }
    expect(Math.abs(total - 32000)).toBeLessThanOrEqual(1);
    // A 200 Hz sine at 16 kHz moves at most 2 pi 200 / 16000 * amplitude per sample: no seams between frames.
    expect(maxJump).toBeLessThan(((2 * Math.PI * 200) / 16000) * (10000 / 32768) * 1.1);
  });
});

describe('ridge', () => {
  it('recovers a linear map', () => {
    const rows: Float32Array[] = [];
    const y: number[] = [];
    for (let i = 0; i < 200; i++) {
      const r = Float32Array.from({ length: 4 }, (_, d) => Math.sin(i * (d + 1) * 0.37));
      rows.push(r);
      y.push(2 * r[0]! - r[2]! + 0.5);
    }
    const w = fitRidge(rows, y, 1e-6);
    expect(w[0]).toBeCloseTo(2, 3);
    expect(w[2]).toBeCloseTo(-1, 3);
    expect(w[4]).toBeCloseTo(0.5, 3);
  });
});

describe('pose normalisation', () => {
  it('maps a rotated, scaled, shifted face onto the same template shape', () => {
    const m = syntheticMesh(0.2);
    const rot = { a: 0.9 * Math.cos(0.2), b: 0.9 * Math.sin(0.2), tx: 30, ty: -12 };
    const moved = new Float32Array(m.length);
    for (let i = 0; i < m.length; i += 2) {
      const [x, y] = applySimilarity(rot, m[i]!, m[i + 1]!);
      moved[i] = x;
      moved[i + 1] = y;
    }
    expect(mouthOpening(moved)).toBeCloseTo(mouthOpening(m), 6);
    const a = meshToTemplate(m);
    const b = meshToTemplate(moved);
    const [x1, y1] = applySimilarity(a, m[2 * 13]!, m[2 * 13 + 1]!);
    const [x2, y2] = applySimilarity(b, moved[2 * 13]!, moved[2 * 13 + 1]!);
    expect(x2).toBeCloseTo(x1, 5);
    expect(y2).toBeCloseTo(y1, 5);
    const inv = invertSimilarity(rot);
    const [bx, by] = applySimilarity(inv, ...applySimilarity(rot, 3, 4));
    expect(bx).toBeCloseTo(3, 9);
    expect(by).toBeCloseTo(4, 9);
    const fit = fitSimilarity(m, moved, m.length / 2);
    expect(fit.a).toBeCloseTo(rot.a, 6);
  });
});

describe('stage params', () => {
  it('passes params.gain to the memory generator (default: the prior file fusion gain) and rejects bad values', () => {
    const gainOf = (params: Record<string, unknown>) => {
      const engine = createLipsyncEngine({ driveAudio: false, params });
      try {
        return (engine.generator as MemoryGenerator).options.gain;
      } finally {
        engine.close();
      }
    };
    expect(gainOf({ gain: 0.5 })).toBe(0.5);
    expect(gainOf({})).toBe(1);
    expect(() => createLipsyncEngine({ driveAudio: false, params: { gain: -1 } })).toThrow(/gain/);
  });
});
