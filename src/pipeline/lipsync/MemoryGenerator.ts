/**
 * The default landmark generator: no per-person training, improves during the call.
 *
 * Per frame, three estimates of the speaker-normalised mouth opening (z-score) are fused:
 * - the generic prior (ridge over normalised log-mel, {@link OpeningPrior});
 * - phones, when the drive audio comes with phone timings (dub source) or a recogniser ran over it: a hand table of
 *   openings, sampled `phoneLeadMs` after the frame because the mouth leads the sound;
 * - the implicit memory ({@link ImplicitMemory}): the participant's own (audio -> mouth) pairs observed live,
 *   read by attention with the drive audio's key.
 * The fused opening is smoothed over the window and turned into 57 content points with the speaker's own shape model
 * (mean shape + linear change with opening, fitted on the observed frames), plus a part of the memory's residual
 * shape (width, rounding), in the pose-normalised template frame; then mapped into each frame's pixels with the
 * frame's own similarity transform (the head pose stays real).
 */
import { MEL_CHUNK_FRAMES } from '../audio/mel.ts';
import { chunkFeatures, FEATURE_DIM, MelNormalizer } from './audioFeatures.ts';
import { ImplicitMemory } from './ImplicitMemory.ts';
import { LagEstimator, type LagEstimatorOptions } from './lagEstimator.ts';
import type { OpeningPrior } from './OpeningPrior.ts';
import { PhoneTrack, type PhoneSegment } from './phones.ts';
import { phoneOpening } from './phones.ts';
import { contentFromTemplate, contentOpening, contentToTemplate, meshToTemplate, mouthOpening } from './shape.ts';
import {
  CONTENT_POINTS,
  type LandmarkGenerator,
  type LandmarkWindow,
  type LandmarkWindowResult,
  type SpeakerObservation,
} from './types.ts';

export interface MemoryGeneratorOptions {
  /** T (default 5). */
  windowFrames: number;
  /** Mel frames added to int(80 i / 25): -5 centres the 200 ms chunk ~30 ms after the frame (mouth leads sound). */
  melOffsetFrames: number;
  /** The generic prior, or null. */
  prior: OpeningPrior | null;
  /** Phones are read this many ms after the frame (the mouth leads the sound). Default 65. */
  phoneLeadMs: number;
  /** Half width of the box over which phone openings are averaged, ms. Default 40. */
  phoneHalfMs: number;
  /** Fusion weights of the z-scores. */
  weights: { prior: number; phones: number; memory: number };
  /** Memory entries needed before the memory votes (default 75 = 3 s of speech). */
  minMemory: number;
  /** Observed frames needed before the generator predicts (before: the real content points). Default 25. */
  minObserved: number;
  /** Part of the memory's residual shape (beyond the opening) added to the predicted shape. Default 0.5. */
  shapeResidual: number;
  /** Gaussian smoothing of the fused z over frames, sigma in frames (default 1; 0: none). */
  smoothingFrames: number;
  /** Fused z-score gain (default 1). */
  gain: number;
  /** Frame rate (default 25). */
  fps: number;
  /**
   * Per-speaker lag correction ({@link LagEstimator}): the lag between the fused opening predicted for the frames the
   * memories learn from and the opening observed on them, gated; the prediction is then read that many frames later
   * (fractional). Only meaningful when the drive audio is the speaker's own audio (the prediction of a learned frame
   * is made from that frame's own speech); with another drive audio the curve is noise (and a source's capture offset
   * has nothing to do with the drive's timing). Default false here; `createLipsyncEngine` and the evaluation turn it
   * on when the speaker's own audio drives the lips. An object: the estimator's options.
   */
  lagCorrection: boolean | Partial<LagEstimatorOptions>;
}

export const defaultMemoryGeneratorOptions: MemoryGeneratorOptions = {
  windowFrames: 5,
  melOffsetFrames: -5,
  prior: null,
  phoneLeadMs: 65,
  phoneHalfMs: 40,
  weights: { prior: 1, phones: 1, memory: 0.7 },
  minMemory: 75,
  minObserved: 25,
  shapeResidual: 0.5,
  smoothingFrames: 1,
  gain: 1,
  fps: 25,
  lagCorrection: false,
};

const SHAPE_LEN = CONTENT_POINTS * 2;
/** Largest change of the applied lag per generated window, frames. */
const LAG_RATE = 0.25;

/** Running statistics of the speaker's own mouth: opening mean/variance and shape = mean + basis * (opening - mean). */
class SpeakerShapeModel {
  n = 0;
  private sumO = 0;
  private sumO2 = 0;
  private readonly sumS = new Float64Array(SHAPE_LEN);
  private readonly sumOS = new Float64Array(SHAPE_LEN);
  minO = Infinity;
  maxO = -Infinity;

  add(opening: number, shape: ArrayLike<number>): void {
    this.n++;
    this.sumO += opening;
    this.sumO2 += opening * opening;
    for (let j = 0; j < SHAPE_LEN; j++) {
      this.sumS[j]! += shape[j]!;
      this.sumOS[j]! += opening * shape[j]!;
    }
    this.minO = Math.min(this.minO, opening);
    this.maxO = Math.max(this.maxO, opening);
  }

  get meanO(): number {
    return this.n ? this.sumO / this.n : 0;
  }

  get stdO(): number {
    if (this.n < 2) return 0.05;
    const m = this.meanO;
    return Math.sqrt(Math.max(1e-6, this.sumO2 / this.n - m * m));
  }

  /** Shape at a given opening (template frame). */
  shapeAt(opening: number, out: Float32Array): Float32Array {
    const m = this.meanO;
    const varO = this.stdO ** 2;
    for (let j = 0; j < SHAPE_LEN; j++) {
      const meanS = this.sumS[j]! / this.n;
      const cov = this.sumOS[j]! / this.n - m * meanS;
      out[j] = meanS + (cov / varO) * (opening - m);
    }
    return out;
  }

  meanShape(out: Float32Array): Float32Array {
    for (let j = 0; j < SHAPE_LEN; j++) out[j] = this.sumS[j]! / this.n;
    return out;
  }
}

interface FrameEstimate {
  z: number;
  memShape: Float32Array | null;
  memOpening: number;
}

export class MemoryGenerator implements LandmarkGenerator {
  readonly name = 'memory';
  readonly options: MemoryGeneratorOptions;
  readonly memory = new ImplicitMemory({ keyDim: FEATURE_DIM });
  readonly speaker = new SpeakerShapeModel();
  private readonly ownNorm: MelNormalizer;
  private readonly driveNorm: MelNormalizer;
  private phones: PhoneTrack | null = null;
  private phoneSum = 0;
  private phoneSum2 = 0;
  private phoneN = 0;
  private readonly estimates = new Map<number, FrameEstimate>();
  private readonly feat = new Float32Array(FEATURE_DIM);
  /** Force a constant mouth (the speaker's mean shape): the evaluation's `mean` baseline. */
  meanOnly = false;
  /** The per-speaker lag estimator (when `lagCorrection`). */
  readonly lag: LagEstimator | null;
  /** Observed openings of the latest learned frames (frame -> opening), paired with their predictions. */
  private readonly observedOpening = new Map<number, number>();
  /** The lag applied now, frames (moves toward the estimator's). */
  appliedLag = 0;

  /**
   * Options not given take the prior file's `fusion` settings (weights, gain; chosen by scripts/build-prior-fusion.ts)
   * when it has them, else the defaults.
   */
  constructor(options: Partial<MemoryGeneratorOptions> = {}) {
    const fusion = options.prior?.file.fusion;
    this.options = {
      ...defaultMemoryGeneratorOptions,
      ...(fusion
        ? { weights: { prior: fusion.prior, phones: fusion.phones, memory: fusion.memory }, gain: fusion.gain }
        : {}),
      ...options,
    };
    const p = this.options.prior?.file;
    this.ownNorm = p ? new MelNormalizer(p.melMean, p.melStd) : new MelNormalizer();
    this.driveNorm = p ? new MelNormalizer(p.melMean, p.melStd) : new MelNormalizer();
    const lc = this.options.lagCorrection;
    this.lag = lc ? new LagEstimator(typeof lc === 'object' ? lc : {}) : null;
  }

  get windowFrames(): number {
    return this.options.windowFrames;
  }

  get melOffsetFrames(): number {
    return this.options.melOffsetFrames;
  }

  /** Phone timings of the drive audio (ms on the frame clock: frame i is at i * 1000 / fps). */
  setPhones(track: PhoneTrack | null): void {
    this.phones = track;
  }

  /** Adds phone timings (ms on the frame clock) to those known. */
  addPhones(segments: readonly PhoneSegment[]): void {
    this.phones ??= new PhoneTrack();
    this.phones.add(segments);
  }

  observe(obs: SpeakerObservation): void {
    const t = meshToTemplate(obs.mesh);
    const shape = contentToTemplate(obs.mesh, t);
    const opening = mouthOpening(obs.mesh);
    // ~3.2 new mel frames per video frame: add the chunk's first 3 to the running statistics.
    this.ownNorm.addChunkFrames(obs.mel, MEL_CHUNK_FRAMES, 0, 3);
    chunkFeatures(obs.mel, this.ownNorm, this.feat);
    this.memory.write(this.feat, shape, opening);
    this.speaker.add(opening, shape);
    if (this.lag) {
      this.observedOpening.set(obs.frameIndex, opening);
      for (const k of this.observedOpening.keys()) {
        if (k < obs.frameIndex - 64) this.observedOpening.delete(k);
        else break;
      }
    }
  }

  private estimate(frameIndex: number, mel: Float32Array): FrameEstimate {
    const cached = this.estimates.get(frameIndex);
    if (cached) return cached;
    const o = this.options;
    this.driveNorm.addChunkFrames(mel, MEL_CHUNK_FRAMES, 0, 3);
    chunkFeatures(mel, this.driveNorm, this.feat);
    let zSum = 0;
    let wSum = 0;
    if (o.prior && o.weights.prior > 0) {
      zSum += o.weights.prior * o.prior.predict(this.feat);
      wSum += o.weights.prior;
    }
    if (this.phones && o.weights.phones > 0) {
      const ms = (frameIndex * 1000) / o.fps + o.phoneLeadMs;
      const v = this.phones.openingAround(ms, o.phoneHalfMs);
      this.phoneN++;
      this.phoneSum += v;
      this.phoneSum2 += v * v;
      // Running statistics with a prior (mean 0.35, sd 0.3) worth 50 frames.
      const n = this.phoneN + 50;
      const m = (this.phoneSum + 50 * 0.35) / n;
      const sd = Math.sqrt(Math.max(1e-4, (this.phoneSum2 + 50 * (0.09 + 0.35 * 0.35)) / n - m * m));
      zSum += (o.weights.phones * (v - m)) / sd;
      wSum += o.weights.phones;
    }
    let memShape: Float32Array | null = null;
    let memOpening = 0;
    // The memory always contributes its residual shape (width, rounding); its vote on the opening has a weight.
    if (this.memory.size >= o.minMemory && (o.weights.memory > 0 || o.shapeResidual > 0)) {
      const r = this.memory.read(this.feat);
      if (r) {
        memShape = Float32Array.from(r.shape);
        memOpening = r.opening;
        if (o.weights.memory > 0) {
          zSum += (o.weights.memory * (r.opening - this.speaker.meanO)) / this.speaker.stdO;
          wSum += o.weights.memory;
        }
      }
    }
    const est = { z: wSum > 0 ? zSum / wSum : 0, memShape, memOpening };
    this.estimates.set(frameIndex, est);
    const seen = this.lag ? this.observedOpening.get(frameIndex) : undefined;
    if (seen !== undefined) this.lag!.push(frameIndex, est.z, seen);
    for (const k of this.estimates.keys()) {
      if (k < frameIndex - 30) this.estimates.delete(k);
      else break;
    }
    return est;
  }

  generate(window: LandmarkWindow): Promise<LandmarkWindowResult> {
    const o = this.options;
    const content: Float32Array[] = [];
    const openingIod: number[] = [];
    const ests = window.frames.map((f, i) => this.estimate(f.frameIndex, window.mel[i]!));
    // Positive: the prediction is late, read it later (within what this window and earlier ones estimated). The
    // applied lag moves toward the estimate by at most LAG_RATE frames per window, so the mouth's timing slides.
    if (this.lag) {
      const d = this.lag.estimate().lagFrames - this.appliedLag;
      this.appliedLag += Math.max(-LAG_RATE, Math.min(LAG_RATE, d));
    }
    const shift = this.appliedLag;
    const shape = new Float32Array(SHAPE_LEN);
    const memBase = new Float32Array(SHAPE_LEN);
    for (let i = 0; i < window.frames.length; i++) {
      const f = window.frames[i]!;
      const t = meshToTemplate(f.mesh);
      if (this.speaker.n < o.minObserved) {
        // Nothing learned yet: keep the real mouth.
        const real = contentToTemplate(f.mesh, t);
        content.push(contentFromTemplate(real, t));
        openingIod.push(contentOpening(real));
        continue;
      }
      let opening: number;
      if (this.meanOnly) {
        this.speaker.meanShape(shape);
        opening = contentOpening(shape);
      } else {
        // Smooth z over the frames around f (+ the lag): cached estimates of neighbours (earlier windows) and this
        // window's.
        let z = 0;
        let wz = 0;
        const sigma = o.smoothingFrames;
        const reach = sigma > 0 ? Math.ceil(2 * sigma) : 0;
        const c = f.frameIndex + shift;
        const lo = shift === 0 ? f.frameIndex - reach : Math.floor(c - reach);
        const hi = shift === 0 ? f.frameIndex + reach : Math.ceil(c + reach);
        for (let j = lo; j <= hi; j++) {
          const e = j === f.frameIndex ? ests[i] : (this.estimates.get(j) ?? null);
          if (!e) continue;
          const d = j - c;
          // Without smoothing, a fractional lag interpolates linearly between the two frames around it.
          const w = sigma > 0 ? Math.exp((-0.5 * d * d) / (sigma * sigma)) : Math.max(0, 1 - Math.abs(d));
          if (w <= 0) continue;
          z += w * e.z;
          wz += w;
        }
        if (wz === 0) {
          z = ests[i]!.z;
          wz = 1;
        }
        z = wz > 0 ? (z / wz) * o.gain : 0;
        const sp = this.speaker;
        opening = Math.min(sp.maxO * 1.1, Math.max(sp.minO, sp.meanO + z * sp.stdO));
        sp.shapeAt(opening, shape);
        const e = (shift !== 0 ? this.estimates.get(Math.round(c)) : undefined) ?? ests[i]!;
        if (e.memShape && o.shapeResidual > 0) {
          sp.shapeAt(e.memOpening, memBase);
          for (let j = 0; j < SHAPE_LEN; j++) shape[j]! += o.shapeResidual * (e.memShape[j]! - memBase[j]!);
        }
      }
      content.push(contentFromTemplate(shape, t));
      openingIod.push(opening);
    }
    return Promise.resolve({ content, openingIod });
  }

  close(): void {
    this.estimates.clear();
    this.observedOpening.clear();
  }
}

/** Opening of a phone label, re-exported for callers that build phone-only predictions. */
export { phoneOpening };
