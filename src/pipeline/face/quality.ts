/**
 * Tracking quality figures on a landmark sequence: lip jitter on still, closed mouths (relative to the head, in
 * interocular distances) and the lag a smoother adds to the mouth opening. Used by the bench and the tests.
 */
import { interocularDistance, LIP_POINTS, mouthOpening } from './landmarkIndices.ts';

/** Rigid points (eye corners, nose bridge and tip) that carry the head's motion but not the mouth's. */
const HEAD_POINTS = [33, 133, 263, 362, 168, 6, 197, 195, 5, 4, 1, 159, 386, 145, 374];

/**
 * Mean motion of the 40 lip points from frame a to frame b after removing the head's motion (a least-squares
 * similarity fit of HEAD_POINTS from b onto a), divided by a's interocular distance.
 */
export function lipMotionIod(a: Float32Array, b: Float32Array): number {
  // Similarity transform (scale*rotation + translation) mapping b's head points onto a's: complex least squares.
  let ax = 0;
  let ay = 0;
  let bx = 0;
  let by = 0;
  const n = HEAD_POINTS.length;
  for (const i of HEAD_POINTS) {
    ax += a[i * 3] ?? 0;
    ay += a[i * 3 + 1] ?? 0;
    bx += b[i * 3] ?? 0;
    by += b[i * 3 + 1] ?? 0;
  }
  ax /= n;
  ay /= n;
  bx /= n;
  by /= n;
  let re = 0;
  let im = 0;
  let nb = 0;
  for (const i of HEAD_POINTS) {
    const px = (b[i * 3] ?? 0) - bx;
    const py = (b[i * 3 + 1] ?? 0) - by;
    const qx = (a[i * 3] ?? 0) - ax;
    const qy = (a[i * 3 + 1] ?? 0) - ay;
    // sum conj(p) * q
    re += px * qx + py * qy;
    im += px * qy - py * qx;
    nb += px * px + py * py;
  }
  const sr = nb > 0 ? re / nb : 1;
  const si = nb > 0 ? im / nb : 0;
  let sum = 0;
  for (const i of LIP_POINTS) {
    const px = (b[i * 3] ?? 0) - bx;
    const py = (b[i * 3 + 1] ?? 0) - by;
    const mx = ax + sr * px - si * py;
    const my = ay + si * px + sr * py;
    sum += Math.hypot(mx - (a[i * 3] ?? 0), my - (a[i * 3 + 1] ?? 0));
  }
  const iod = interocularDistance(a);
  return iod > 0 ? sum / LIP_POINTS.length / iod : 0;
}

export interface StillMouthOptions {
  /** Mouth opening (inner lips / IOD) below which the mouth counts as closed. Default 0.06. */
  maxOpening?: number;
  /** Largest change of opening and of mouth width (IOD) over the window for the mouth to count as still. Default 0.01. */
  maxRange?: number;
  /** Frames each side of t that must be closed and still too. Default 2. */
  halfWindow?: number;
}

/** Mouth-corner distance over the interocular distance. */
function mouthWidth(lm: Float32Array): number {
  const iod = interocularDistance(lm);
  const dx = (lm[61 * 3] ?? 0) - (lm[291 * 3] ?? 0);
  const dy = (lm[61 * 3 + 1] ?? 0) - (lm[291 * 3 + 1] ?? 0);
  return iod > 0 ? Math.hypot(dx, dy) / iod : 0;
}

/**
 * Frames t of a sequence where the mouth is closed and still over t-h..t+h (opening and width each vary by less
 * than maxRange), judged on `reference` (raw landmarks). null entries are frames without a face. Talking clips
 * have few such frames and lips can still move a little in them (pressing, smiling), so this measure is an upper
 * bound of the tracker's noise; a synthetic still (the bench's repeated noisy frame) isolates it.
 */
export function stillMouthFrames(reference: (Float32Array | null)[], o: StillMouthOptions = {}): number[] {
  const maxOpen = o.maxOpening ?? 0.06;
  const maxRange = o.maxRange ?? 0.01;
  const h = o.halfWindow ?? 2;
  const open = reference.map((lm) => (lm ? mouthOpening(lm) : NaN));
  const width = reference.map((lm) => (lm ? mouthWidth(lm) : NaN));
  const out: number[] = [];
  for (let t = Math.max(1, h); t + h < open.length; t++) {
    let o0 = Infinity;
    let o1 = -Infinity;
    let w0 = Infinity;
    let w1 = -Infinity;
    let ok = true;
    for (let k = t - h; k <= t + h && ok; k++) {
      const a = open[k] ?? NaN;
      const w = width[k] ?? NaN;
      if (!(a < maxOpen) || Number.isNaN(w)) ok = false;
      o0 = Math.min(o0, a);
      o1 = Math.max(o1, a);
      w0 = Math.min(w0, w);
      w1 = Math.max(w1, w);
    }
    if (ok && o1 - o0 < maxRange && w1 - w0 < maxRange) out.push(t);
  }
  return out;
}

/** Mean lipMotionIod(seq[t-1], seq[t]) over the given frames t. */
export function meanLipJitter(seq: (Float32Array | null)[], frames: number[]): number {
  let s = 0;
  let n = 0;
  for (const t of frames) {
    const a = seq[t - 1];
    const b = seq[t];
    if (!a || !b) continue;
    s += lipMotionIod(a, b);
    n++;
  }
  return n ? s / n : NaN;
}

/**
 * Delay of `delayed` behind `reference` in frames (sub-frame by a parabola through the correlation peak): the lag
 * in [-maxLag, maxLag] that maximises their correlation. A causal smoother gives a value >= 0.
 */
export function lagFrames(reference: number[], delayed: number[], maxLag = 6): number {
  const n = Math.min(reference.length, delayed.length);
  const corr = (lag: number): number => {
    const t0 = Math.max(0, lag);
    const t1 = Math.min(n, n + lag);
    let sa = 0;
    let sb = 0;
    for (let t = t0; t < t1; t++) {
      sa += reference[t - lag] ?? 0;
      sb += delayed[t] ?? 0;
    }
    const m = t1 - t0;
    if (m < 3) return -1;
    const ma = sa / m;
    const mb = sb / m;
    let num = 0;
    let da = 0;
    let db = 0;
    for (let t = t0; t < t1; t++) {
      const x = (reference[t - lag] ?? 0) - ma;
      const y = (delayed[t] ?? 0) - mb;
      num += x * y;
      da += x * x;
      db += y * y;
    }
    return da > 0 && db > 0 ? num / Math.sqrt(da * db) : 0;
  };
  let best = -maxLag;
  let bestC = corr(best);
  for (let l = -maxLag + 1; l <= maxLag; l++) {
    const c = corr(l);
    if (c > bestC) {
      best = l;
      bestC = c;
    }
  }
  if (best === -maxLag || best === maxLag) return best;
  const y0 = corr(best - 1);
  const y2 = corr(best + 1);
  const den = y0 - 2 * bestC + y2;
  return den < 0 ? best + (0.5 * (y0 - y2)) / den : best;
}
