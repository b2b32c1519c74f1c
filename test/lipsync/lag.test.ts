import { describe, expect, it } from 'vitest';
import { pearson } from '../../src/pipeline/lipsync/eval/metrics.ts';
import { LagEstimator } from '../../src/pipeline/lipsync/lagEstimator.ts';
import { MemoryGenerator } from '../../src/pipeline/lipsync/MemoryGenerator.ts';
import { phoneOpening, type PhoneSegment } from '../../src/pipeline/lipsync/phones.ts';
import { syntheticMesh } from './fixtures.ts';

/** Deterministic pseudo-random numbers in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A mouth-like series: white noise smoothed over about a frame (a peaked autocorrelation). */
function mouthSeries(n: number, seed: number): number[] {
  const r = rng(seed);
  const w = Array.from({ length: n + 4 }, () => r() - 0.5);
  return Array.from({ length: n }, (_, t) => 0.25 * w[t]! + 0.5 * w[t + 1]! + 0.25 * w[t + 2]!);
}

describe('lag estimator', () => {
  it('finds and accepts a clear lag (the prediction 2 frames late)', () => {
    const obs = mouthSeries(200, 1);
    const noise = rng(2);
    const est = new LagEstimator();
    for (let t = 0; t < 200; t++) {
      const pred = t >= 2 ? obs[t - 2]! + 0.1 * (noise() - 0.5) : 0;
      est.push(t, pred, obs[t]!);
    }
    const e = est.estimate();
    expect(e.accepted).toBe(true);
    expect(e.best).toBe(2);
    expect(e.groupBest).toEqual([2, 2]);
    expect(e.lagFrames).toBeGreaterThan(1.5);
    expect(e.lagFrames).toBeLessThanOrEqual(2);
  });

  it('finds an early prediction, with gaps in the frames', () => {
    const obs = mouthSeries(300, 3);
    const est = new LagEstimator();
    for (let t = 0; t < 300; t++) if (t % 17 !== 5) est.push(t, obs[Math.min(299, t + 1)]!, obs[t]!);
    const e = est.estimate();
    expect(e.accepted).toBe(true);
    expect(e.lagFrames).toBeCloseTo(-1, 0);
  });

  it('leaves 0 for a flat curve, an unrelated prediction, a peak at the edge and too few pairs', () => {
    // Slow motion: the correlation hardly changes with the lag.
    const flat = new LagEstimator();
    for (let t = 0; t < 300; t++)
      flat.push(t, Math.sin((2 * Math.PI * (t - 2)) / 200), Math.sin((2 * Math.PI * t) / 200));
    expect(flat.estimate()).toMatchObject({ accepted: false, lagFrames: 0, reason: 'flat curve' });
    // Unrelated.
    const a = mouthSeries(300, 4);
    const b = mouthSeries(300, 5);
    const none = new LagEstimator();
    for (let t = 0; t < 300; t++) none.push(t, a[t]!, b[t]!);
    expect(none.estimate().lagFrames).toBe(0);
    // Still rising at the edge of the searched range (4 frames): not a peak.
    const obs = mouthSeries(300, 6);
    const edge = new LagEstimator();
    for (let t = 0; t < 300; t++) edge.push(t, t >= 6 ? obs[t - 6]! : 0, obs[t]!);
    expect(edge.estimate()).toMatchObject({ accepted: false, lagFrames: 0 });
    // Clear but short.
    const short = new LagEstimator();
    for (let t = 0; t < 40; t++) short.push(t, t >= 2 ? obs[t - 2]! : 0, obs[t]!);
    expect(short.estimate()).toMatchObject({ accepted: false, reason: 'too few pairs' });
  });
});

describe('memory generator lag correction', () => {
  // Phones alternate open and closed at random lengths; the observed mouth does at frame t what the phones (read
  // phoneLeadMs after the frame) say 2 frames later: the prediction is 2 frames late.
  const r = rng(7);
  const phones: PhoneSegment[] = [];
  for (let ms = 0, i = 0; ms < 12_000; i++) {
    const len = 80 + Math.floor(r() * 160);
    phones.push({ phone: i % 2 ? 'M' : 'AA', startMs: ms, endMs: ms + len });
    ms += len;
  }
  const openingAt = (ms: number) => phoneOpening(phones.find((p) => p.startMs <= ms && ms < p.endMs)?.phone);
  const mel = new Float32Array(80 * 16);

  async function run(lagCorrection: boolean) {
    const g = new MemoryGenerator({
      minObserved: 5,
      weights: { prior: 0, phones: 1, memory: 0 },
      phoneHalfMs: 0,
      lagCorrection,
    });
    g.addPhones(phones);
    const pred: number[] = [];
    const real: number[] = [];
    for (let t = 0; t < 250; t++) {
      const open = 0.02 + 0.12 * openingAt((t + 2) * 40 + 65);
      real[t] = open;
      g.observe({ frameIndex: t, mel, mesh: syntheticMesh(open) });
      // As the engine does: the window centred on t - 2 once t is observed.
      if (t >= 4) {
        const frames = [t - 4, t - 3, t - 2, t - 1, t].map((k) => ({ frameIndex: k, mesh: syntheticMesh(0) }));
        const res = await g.generate({ frames, mel: frames.map(() => mel) });
        pred[t - 2] = res.openingIod![2]!;
      }
    }
    // Correlation of the predicted and real openings over the last 100 frames.
    return { g, corr: pearson(pred.slice(146, 246), real.slice(146, 246)) };
  }

  it('learns the lag from the observed frames and reads the prediction later', async () => {
    const on = await run(true);
    const off = await run(false);
    const e = on.g.lag!.estimate();
    expect(e.accepted).toBe(true);
    expect(e.best).toBe(2);
    expect(on.g.appliedLag).toBeCloseTo(e.lagFrames, 5);
    expect(off.g.lag).toBeNull();
    expect(off.g.appliedLag).toBe(0);
    expect(on.corr).toBeGreaterThan(off.corr + 0.3);
  });
});
