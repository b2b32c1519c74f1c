/**
 * Per-speaker timing of the generator: the lag between the opening the generator predicts from the speaker's own
 * audio and the opening the tracker observes, learned live (incrementally, bounded memory), with a confidence gate.
 *
 * Pairs (frame, predicted z, observed opening) arrive in frame order (gaps allowed). For each lag l in
 * [-maxLagFrames, maxLagFrames] the running sums of corr(observed(t), predicted(t + l)) are kept in two groups of
 * interleaved blocks of `blockFrames` frames (block parity), so two nearly independent estimates grow together over
 * the whole call. Positive lag = the prediction is late (it shows at t + l what the mouth did at t): the generator
 * then reads its prediction `lag` frames later.
 *
 * The gate: enough pairs; the best lag is inside the searched range (a curve still rising at its edge is not a peak)
 * and not 0; its correlation is at least `minCorr` and exceeds the zero-lag correlation by `minGain`; the best lag of
 * each group is within one frame of it and on the same side of 0. Otherwise the lag is 0. The applied lag is
 * fractional (parabola through the peak and its neighbours), clamped to [`minApplied`, `maxApplied`].
 */

export interface LagEstimatorOptions {
  /** Lags searched: -maxLagFrames..maxLagFrames (default 4 = 160 ms at 25 fps). */
  maxLagFrames: number;
  /** Block length of the two interleaved groups, frames (default 25). */
  blockFrames: number;
  /** Pairs needed (at lag 0) before any lag is applied (default 50). */
  minPairs: number;
  /** Correlation at the best lag needed (default 0.3). */
  minCorr: number;
  /** Correlation at the best lag minus that at lag 0 needed (default 0.1). */
  minGain: number;
  /** Applied lag range, frames (default -3..2; 2 = the sliding window's lookahead at T = 5). */
  minApplied: number;
  maxApplied: number;
}

export const defaultLagEstimatorOptions: LagEstimatorOptions = {
  maxLagFrames: 4,
  blockFrames: 25,
  minPairs: 50,
  minCorr: 0.3,
  minGain: 0.1,
  minApplied: -3,
  maxApplied: 2,
};

export interface LagEstimate {
  /** Applied lag, frames (fractional; 0 when the gate rejects). */
  lagFrames: number;
  /** Whether the gate accepted a lag. */
  accepted: boolean;
  /** Why not (or 'ok'). */
  reason: string;
  /** Best whole-frame lag over both groups, and per group. */
  best: number;
  groupBest: [number, number];
  /** Correlation by lag, index l + maxLagFrames (both groups together). */
  corr: number[];
  /** Pairs at lag 0. */
  pairs: number;
}

/** Running sums of one (lag, group): n, sx, sy, sxx, syy, sxy. */
const S = 6;

export class LagEstimator {
  readonly options: LagEstimatorOptions;
  private readonly ring: { frame: number; pred: number; obs: number }[];
  private readonly sums: Float64Array;
  private current: LagEstimate;
  private dirty = false;
  private lastFrame = -Infinity;

  constructor(options: Partial<LagEstimatorOptions> = {}) {
    this.options = { ...defaultLagEstimatorOptions, ...options };
    const K = this.options.maxLagFrames;
    this.ring = Array.from({ length: 2 * K + 1 }, () => ({ frame: -Infinity, pred: NaN, obs: NaN }));
    this.sums = new Float64Array(2 * (2 * K + 1) * S);
    this.current = this.compute();
  }

  private slot(frame: number) {
    const n = this.ring.length;
    return this.ring[((frame % n) + n) % n]!;
  }

  private at(frame: number) {
    const s = this.slot(frame);
    return s.frame === frame ? s : null;
  }

  /** One frame's predicted value and observed opening; frames in increasing order (earlier ones are ignored). */
  push(frame: number, pred: number, obs: number): void {
    if (!(frame > this.lastFrame) || !Number.isFinite(pred) || !Number.isFinite(obs)) return;
    const K = this.options.maxLagFrames;
    // Centres that cannot pair with this frame or later ones are complete: add them before this frame's slot is
    // reused (only centres up to the last pushed frame have an observation).
    if (Number.isFinite(this.lastFrame)) {
      for (let c = this.lastFrame - K + 1; c <= Math.min(this.lastFrame, frame - K - 1); c++) this.accumulate(c);
    }
    this.lastFrame = frame;
    const s = this.slot(frame);
    s.frame = frame;
    s.pred = pred;
    s.obs = obs;
    this.accumulate(frame - K);
  }

  /** Adds the pairs whose observed frame is c (its predictions at c - K..c + K are in the ring now). */
  private accumulate(c: number): void {
    const K = this.options.maxLagFrames;
    const o = this.at(c);
    if (!o) return;
    const g = Math.floor(c / this.options.blockFrames) & 1;
    for (let l = -K; l <= K; l++) {
      const p = this.at(c + l);
      if (!p) continue;
      const b = (g * (2 * K + 1) + l + K) * S;
      const s = this.sums;
      s[b]! += 1;
      s[b + 1]! += p.pred;
      s[b + 2]! += o.obs;
      s[b + 3]! += p.pred * p.pred;
      s[b + 4]! += o.obs * o.obs;
      s[b + 5]! += p.pred * o.obs;
    }
    this.dirty = true;
  }

  private corrOf(l: number, groups: readonly number[]): { r: number; n: number } {
    const K = this.options.maxLagFrames;
    let n = 0;
    let sx = 0;
    let sy = 0;
    let sxx = 0;
    let syy = 0;
    let sxy = 0;
    for (const g of groups) {
      const b = (g * (2 * K + 1) + l + K) * S;
      n += this.sums[b]!;
      sx += this.sums[b + 1]!;
      sy += this.sums[b + 2]!;
      sxx += this.sums[b + 3]!;
      syy += this.sums[b + 4]!;
      sxy += this.sums[b + 5]!;
    }
    if (n < 3) return { r: NaN, n };
    const vx = sxx - (sx * sx) / n;
    const vy = syy - (sy * sy) / n;
    const r = vx > 1e-12 && vy > 1e-12 ? (sxy - (sx * sy) / n) / Math.sqrt(vx * vy) : NaN;
    return { r, n };
  }

  private bestOf(groups: readonly number[]): { best: number; corr: number[] } {
    const K = this.options.maxLagFrames;
    const corr: number[] = [];
    let best = 0;
    let bestR = -Infinity;
    for (let l = -K; l <= K; l++) {
      const { r } = this.corrOf(l, groups);
      corr.push(r);
      if (Number.isFinite(r) && r > bestR) {
        bestR = r;
        best = l;
      }
    }
    return { best, corr };
  }

  private compute(): LagEstimate {
    const o = this.options;
    const K = o.maxLagFrames;
    const all = this.bestOf([0, 1]);
    const a = this.bestOf([0]);
    const b = this.bestOf([1]);
    const pairs = this.corrOf(0, [0, 1]).n;
    const out = (accepted: boolean, reason: string, lagFrames = 0): LagEstimate => ({
      lagFrames,
      accepted,
      reason,
      best: all.best,
      groupBest: [a.best, b.best],
      corr: all.corr,
      pairs,
    });
    if (pairs < o.minPairs) return out(false, 'too few pairs');
    const best = all.best;
    if (best === 0) return out(false, 'best lag 0');
    if (Math.abs(best) >= K) return out(false, 'best lag at the edge of the range');
    const r0 = all.corr[K]!;
    const rb = all.corr[best + K]!;
    if (!(rb >= o.minCorr)) return out(false, 'weak correlation');
    if (!(rb - (Number.isFinite(r0) ? r0 : -1) >= o.minGain)) return out(false, 'flat curve');
    for (const g of [a.best, b.best]) {
      if (Math.abs(g - best) > 1 || Math.sign(g) !== Math.sign(best)) return out(false, 'groups disagree');
    }
    // Parabola through the peak and its neighbours.
    const rm = all.corr[best - 1 + K]!;
    const rp = all.corr[best + 1 + K]!;
    const den = rm - 2 * rb + rp;
    const frac = Number.isFinite(den) && den < -1e-9 ? Math.max(-0.5, Math.min(0.5, (0.5 * (rm - rp)) / den)) : 0;
    const lag = Math.max(o.minApplied, Math.min(o.maxApplied, best + frac));
    return out(true, 'ok', lag);
  }

  /** The current estimate (recomputed when pairs were added since the last call). */
  estimate(): LagEstimate {
    if (this.dirty) {
      this.current = this.compute();
      this.dirty = false;
    }
    return this.current;
  }
}
