/**
 * The generic prior: ridge regression from a speaker-normalised audio feature ({@link chunkFeatures}) to the
 * speaker-normalised (z-scored) mouth opening, fitted on the shared close-up clips' own-speaker data by
 * `scripts/build-prior.ts`. Shipped as `models/lipsync/opening-prior.json`; its `folds` hold the same fit with each
 * clip left out, so evaluation on a clip uses a model that never saw it.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FEATURE_DIM } from './audioFeatures.ts';

export const defaultPriorPath = fileURLToPath(new URL('../../../models/lipsync/opening-prior.json', import.meta.url));

export interface RidgeWeights {
  /** FEATURE_DIM weights then the bias. */
  w: number[];
}

export interface OpeningPriorFile {
  kind: 'lipsync-opening-ridge';
  version: 1;
  featureDim: number;
  /** Global per-bin log-mel mean / std of the training audio (initial CMVN statistics). */
  melMean: number[];
  melStd: number[];
  lambda: number;
  /** Mel frames added to int(80 i / 25) for the chunk of frame i (the features' audio offset). */
  melOffsetFrames: number;
  model: RidgeWeights;
  /** Clip file name -> weights fitted without that clip. */
  folds: Record<string, RidgeWeights>;
  trainedOn: string[];
  metrics: Record<string, number>;
  /** Fusion settings of the memory generator, chosen by scripts/build-prior-fusion.ts (leave-one-clip-out figures). */
  fusion?: { prior: number; phones: number; memory: number; gain: number };
  fusionMetrics?: Record<string, number>;
}

export class OpeningPrior {
  private constructor(
    readonly file: OpeningPriorFile,
    private readonly w: Float64Array,
  ) {}

  static load(path = defaultPriorPath, leaveOut?: string): OpeningPrior {
    const file = JSON.parse(readFileSync(path, 'utf8')) as OpeningPriorFile;
    if (file.kind !== 'lipsync-opening-ridge' || file.featureDim !== FEATURE_DIM) {
      throw new Error(`${path}: not an opening prior for ${FEATURE_DIM}-d features`);
    }
    return OpeningPrior.from(file, leaveOut);
  }

  /** `leaveOut`: a clip file name whose fold (model fitted without it) should be used when present. */
  static from(file: OpeningPriorFile, leaveOut?: string): OpeningPrior {
    const weights = (leaveOut && file.folds[leaveOut]) || file.model;
    return new OpeningPrior(file, Float64Array.from(weights.w));
  }

  /** Predicted z-scored opening for one feature vector. */
  predict(feature: ArrayLike<number>): number {
    const d = this.file.featureDim;
    let s = this.w[d]!;
    for (let i = 0; i < d; i++) s += this.w[i]! * feature[i]!;
    return s;
  }
}

/** Solves (X'X + lambda I) w = X'y for features rows (+ an unpenalised bias); returns FEATURE_DIM + 1 weights. */
export function fitRidge(rows: readonly Float32Array[], y: readonly number[], lambda: number): number[] {
  const d = rows[0]?.length ?? 0;
  const n = d + 1;
  const a = new Float64Array(n * n);
  const b = new Float64Array(n);
  rows.forEach((r, k) => {
    for (let i = 0; i < n; i++) {
      const xi = i < d ? r[i]! : 1;
      b[i]! += xi * y[k]!;
      for (let j = i; j < n; j++) a[i * n + j]! += xi * (j < d ? r[j]! : 1);
    }
  });
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) a[i * n + j] = a[j * n + i]!;
  for (let i = 0; i < d; i++) a[i * n + i]! += lambda;
  // Cholesky-free Gaussian elimination with partial pivoting (n = 141).
  const m = a;
  const x = b;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]!) > Math.abs(m[p * n + c]!)) p = r;
    if (p !== c) {
      for (let k = 0; k < n; k++) {
        const t = m[c * n + k]!;
        m[c * n + k] = m[p * n + k]!;
        m[p * n + k] = t;
      }
      const t = x[c]!;
      x[c] = x[p]!;
      x[p] = t;
    }
    const piv = m[c * n + c]! || 1e-12;
    for (let r = c + 1; r < n; r++) {
      const f = m[r * n + c]! / piv;
      if (f === 0) continue;
      for (let k = c; k < n; k++) m[r * n + k]! -= f * m[c * n + k]!;
      x[r]! -= f * x[c]!;
    }
  }
  const w = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = x[r]!;
    for (let k = r + 1; k < n; k++) s -= m[r * n + k]! * w[k]!;
    w[r] = s / (m[r * n + r]! || 1e-12);
  }
  return w;
}
