/**
 * Audio keys of the implicit memory and inputs of the generic prior: a mel chunk (80 bins x 16 frames, Wav2Lip
 * layout) normalised per speaker (running cepstral-style mean/variance normalisation of each log-mel bin, CMVN),
 * pooled to 20 bands x 4 time blocks, plus the 3 block-to-block deltas: 140 values. Per-speaker normalisation is what
 * lets another voice (the dub) find the mouth shapes stored for the participant's own voice.
 */
import { MEL_CHUNK_FRAMES } from '../audio/mel.ts';

export const MEL_BINS = 80;
export const FEATURE_BANDS = 20;
export const FEATURE_BLOCKS = 4;
export const FEATURE_DIM = FEATURE_BANDS * FEATURE_BLOCKS + FEATURE_BANDS * (FEATURE_BLOCKS - 1);

/** Running per-bin mean and variance of log-mel, with a prior (global statistics) that real frames outweigh. */
export class MelNormalizer {
  private readonly sum = new Float64Array(MEL_BINS);
  private readonly sumSq = new Float64Array(MEL_BINS);
  private n = 0;
  readonly mean = new Float64Array(MEL_BINS);
  readonly std = new Float64Array(MEL_BINS);

  /**
   * @param priorMean global per-bin mean (e.g. from the prior model), or a constant
   * @param priorStd global per-bin standard deviation
   * @param priorWeight how many frames the prior counts as (default 100)
   * @param maxFrames forgetting horizon: beyond it, statistics decay so a long call tracks slow changes (default 6000)
   */
  constructor(
    private readonly priorMean: ArrayLike<number> | number = -1.5,
    private readonly priorStd: ArrayLike<number> | number = 1.2,
    private readonly priorWeight = 100,
    private readonly maxFrames = 6000,
  ) {
    this.update();
  }

  get frames(): number {
    return this.n;
  }

  /** Adds one mel frame (80 values at `values[offset + b * stride]`). */
  addFrame(values: ArrayLike<number>, offset = 0, stride = 1): void {
    if (this.n >= this.maxFrames) {
      const k = (this.maxFrames - 1) / this.maxFrames;
      for (let b = 0; b < MEL_BINS; b++) {
        this.sum[b]! *= k;
        this.sumSq[b]! *= k;
      }
      this.n = this.maxFrames - 1;
    }
    for (let b = 0; b < MEL_BINS; b++) {
      const v = values[offset + b * stride]!;
      this.sum[b]! += v;
      this.sumSq[b]! += v * v;
    }
    this.n++;
    if (this.n % 8 === 0 || this.n < 8) this.update();
  }

  /** Adds the frames of a chunk (bins x frames, row-major by bin), e.g. to learn from a whole chunk at once. */
  addChunkFrames(chunk: Float32Array, frames: number, from = 0, to = frames): void {
    for (let t = from; t < to; t++) this.addFrame(chunk, t, frames);
  }

  private update(): void {
    const w = this.priorWeight;
    for (let b = 0; b < MEL_BINS; b++) {
      const pm = typeof this.priorMean === 'number' ? this.priorMean : this.priorMean[b]!;
      const ps = typeof this.priorStd === 'number' ? this.priorStd : this.priorStd[b]!;
      const n = this.n + w;
      const m = (this.sum[b]! + w * pm) / n;
      const ex2 = (this.sumSq[b]! + w * (ps * ps + pm * pm)) / n;
      this.mean[b] = m;
      this.std[b] = Math.sqrt(Math.max(1e-4, ex2 - m * m));
    }
  }
}

/**
 * Feature vector of one chunk (`MEL_BINS x frames`, row-major by bin) normalised with `norm`: band means per time
 * block, then deltas between consecutive blocks. Writes FEATURE_DIM values into `out`.
 */
export function chunkFeatures(
  chunk: Float32Array,
  norm: MelNormalizer,
  out = new Float32Array(FEATURE_DIM),
  frames = MEL_CHUNK_FRAMES,
): Float32Array {
  const binsPerBand = MEL_BINS / FEATURE_BANDS;
  const framesPerBlock = frames / FEATURE_BLOCKS;
  for (let band = 0; band < FEATURE_BANDS; band++) {
    for (let blk = 0; blk < FEATURE_BLOCKS; blk++) {
      let s = 0;
      for (let bb = 0; bb < binsPerBand; bb++) {
        const b = band * binsPerBand + bb;
        const m = norm.mean[b]!;
        const sd = norm.std[b]!;
        for (let t = blk * framesPerBlock; t < (blk + 1) * framesPerBlock; t++) s += (chunk[b * frames + t]! - m) / sd;
      }
      out[band * FEATURE_BLOCKS + blk] = s / (binsPerBand * framesPerBlock);
    }
  }
  const base = FEATURE_BANDS * FEATURE_BLOCKS;
  for (let band = 0; band < FEATURE_BANDS; band++) {
    for (let blk = 0; blk < FEATURE_BLOCKS - 1; blk++) {
      out[base + band * (FEATURE_BLOCKS - 1) + blk] =
        out[band * FEATURE_BLOCKS + blk + 1]! - out[band * FEATURE_BLOCKS + blk]!;
    }
  }
  return out;
}
