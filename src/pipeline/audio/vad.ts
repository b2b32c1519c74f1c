/**
 * Voice activity: Silero VAD v5 (ONNX, from @ricky0123/vad-web) on onnxruntime-node, and a segmenter that turns its
 * per-frame speech probabilities into speech segments with hysteresis, hangover and padding.
 *
 * The model is tiny (about 0.1 ms per 32 ms frame on one thread), so it runs on the caller's thread with one ORT
 * thread: off-loading it would cost more in messaging than it saves.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as Ort from 'onnxruntime-node';
import type { InferenceSession, Tensor } from 'onnxruntime-node';

/** Samples per model frame at 16 kHz (32 ms). */
export const VAD_FRAME_SAMPLES = 512;
export const VAD_SAMPLE_RATE = 16000;
export const VAD_FRAME_MS = (VAD_FRAME_SAMPLES / VAD_SAMPLE_RATE) * 1000;
/** Silero v5 looks at the last 64 samples of the previous frame as context. */
const CONTEXT_SAMPLES = 64;

export function sileroModelPath(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@ricky0123/vad-web/package.json')), 'dist', 'silero_vad_v5.onnx');
}

/** One Silero VAD stream (the model is recurrent: one instance per audio stream). */
export class SileroVad {
  private session: InferenceSession | undefined;
  private ort: typeof Ort | undefined;
  private state = new Float32Array(2 * 1 * 128);
  private readonly input = new Float32Array(CONTEXT_SAMPLES + VAD_FRAME_SAMPLES);
  private srTensor: Tensor | undefined;
  private closed = false;

  static async create(modelPath = sileroModelPath()): Promise<SileroVad> {
    const vad = new SileroVad();
    vad.ort = await import('onnxruntime-node');
    vad.session = await vad.ort.InferenceSession.create(modelPath, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
    });
    vad.srTensor = new vad.ort.Tensor('int64', BigInt64Array.from([BigInt(VAD_SAMPLE_RATE)]), []);
    return vad;
  }

  private constructor() {}

  /** Speech probability of one 512-sample frame of 16 kHz mono float PCM. */
  async process(frame: Float32Array): Promise<number> {
    if (this.closed || !this.session || !this.ort) throw new Error('SileroVad: closed');
    if (frame.length !== VAD_FRAME_SAMPLES) {
      throw new RangeError(`SileroVad: frame must have ${VAD_FRAME_SAMPLES} samples, got ${frame.length}`);
    }
    const { Tensor } = this.ort;
    this.input.copyWithin(0, VAD_FRAME_SAMPLES); // last 64 samples of the previous frame become the context
    this.input.set(frame, CONTEXT_SAMPLES);
    const out = await this.session.run({
      input: new Tensor('float32', this.input, [1, this.input.length]),
      state: new Tensor('float32', this.state, [2, 1, 128]),
      sr: this.srTensor!,
    });
    this.state = Float32Array.from(out.stateN!.data as Float32Array);
    return (out.output!.data as Float32Array)[0]!;
  }

  reset(): void {
    this.state.fill(0);
    this.input.fill(0);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.session?.release().catch(() => undefined);
    this.session = undefined;
  }
}

export interface VadSegmenterOptions {
  /** Probability at or above which a frame is speech. Default 0.5. */
  positiveThreshold?: number;
  /** Probability below which a frame is silence (between the two the state holds). Default 0.35. */
  negativeThreshold?: number;
  /** Silence that ends a segment. Default 400 ms. */
  minSilenceMs?: number;
  /** Segments shorter than this (before padding) are dropped as clicks. Default 200 ms. */
  minSpeechMs?: number;
  /** Audio kept before the first and after the last speech frame. Default 96 ms. */
  speechPadMs?: number;
  /** A segment is cut here even without a pause, to bound latency. Default 10000 ms. */
  maxSegmentMs?: number;
}

export const defaultVadSegmenterOptions: Required<VadSegmenterOptions> = {
  positiveThreshold: 0.5,
  negativeThreshold: 0.35,
  minSilenceMs: 400,
  minSpeechMs: 200,
  speechPadMs: 96,
  maxSegmentMs: 10_000,
};

export interface SpeechSegment {
  /** On the input clock: the first pushed sample is at `startMs` of the first `push`. */
  startMs: number;
  endMs: number;
  /** 16 kHz mono samples of [startMs, endMs) (padding included). */
  samples: Float32Array;
  /** Start / end of the speech itself (without padding). */
  speechStartMs: number;
  speechEndMs: number;
  /** `performance.now()` when the frame holding the last speech sample was pushed. */
  speechEndWallMs: number;
  /** Mean speech probability over the segment's speech frames. */
  meanProbability: number;
}

export type VadEvent = { type: 'start'; speechStartMs: number } | { type: 'end'; segment: SpeechSegment };

/**
 * Turns frame probabilities into segments. Pure: `push(frame, probability, wallMs)` per 512-sample frame returns
 * the events it completes, so it is tested without the model.
 */
export class VadSegmenter {
  private readonly opts: Required<VadSegmenterOptions>;
  private readonly padFrames: number;
  private readonly hangFrames: number;
  /** Recent frames before speech (padding). */
  private preroll: Float32Array[] = [];
  private frames: Float32Array[] = [];
  private inSpeech = false;
  private frameIndex = 0;
  private originMs = 0;
  private segStartFrame = 0;
  private speechStartFrame = 0;
  private lastSpeechFrame = 0;
  private lastSpeechWallMs = 0;
  private silentRun = 0;
  private probSum = 0;
  private probCount = 0;

  constructor(options: VadSegmenterOptions = {}) {
    this.opts = { ...defaultVadSegmenterOptions, ...options };
    this.padFrames = Math.round(this.opts.speechPadMs / VAD_FRAME_MS);
    this.hangFrames = Math.max(1, Math.ceil(this.opts.minSilenceMs / VAD_FRAME_MS));
  }

  /** Sets the input-clock time of the next pushed frame (before the first push, and after a clear()). */
  setOrigin(ms: number): void {
    this.originMs = ms - this.frameIndex * VAD_FRAME_MS;
  }

  get inSpeechNow(): boolean {
    return this.inSpeech;
  }

  private msOf(frame: number): number {
    return this.originMs + frame * VAD_FRAME_MS;
  }

  push(frame: Float32Array, probability: number, wallMs = performance.now()): VadEvent[] {
    const events: VadEvent[] = [];
    const i = this.frameIndex++;
    const { positiveThreshold, negativeThreshold, maxSegmentMs } = this.opts;
    if (!this.inSpeech) {
      if (probability >= positiveThreshold) {
        this.inSpeech = true;
        this.frames = [...this.preroll, frame];
        this.segStartFrame = i - this.preroll.length;
        this.speechStartFrame = i;
        this.lastSpeechFrame = i;
        this.lastSpeechWallMs = wallMs;
        this.silentRun = 0;
        this.probSum = probability;
        this.probCount = 1;
        this.preroll = [];
        events.push({ type: 'start', speechStartMs: this.msOf(i) });
      } else {
        this.preroll.push(frame);
        if (this.preroll.length > this.padFrames) this.preroll.shift();
      }
      return events;
    }
    this.frames.push(frame);
    if (probability >= negativeThreshold) {
      this.lastSpeechFrame = i;
      this.lastSpeechWallMs = wallMs;
      this.silentRun = 0;
      this.probSum += probability;
      this.probCount++;
    } else {
      this.silentRun++;
    }
    const tooLong = this.frames.length * VAD_FRAME_MS >= maxSegmentMs;
    if (this.silentRun >= this.hangFrames || tooLong) {
      const seg = this.close(tooLong && this.silentRun < this.hangFrames ? i : this.lastSpeechFrame + this.padFrames);
      if (seg) events.push({ type: 'end', segment: seg });
      if (tooLong && probability >= negativeThreshold) {
        // Speech goes on across a forced cut: the next segment starts right away.
        this.inSpeech = true;
        this.frames = [];
        this.segStartFrame = i + 1;
        this.speechStartFrame = i + 1;
        this.lastSpeechFrame = i;
        this.silentRun = 0;
        this.probSum = 0;
        this.probCount = 0;
        events.push({ type: 'start', speechStartMs: this.msOf(i + 1) });
      }
    }
    return events;
  }

  /** End of input: returns the segment in progress, if any. */
  flush(): SpeechSegment | undefined {
    if (!this.inSpeech) return undefined;
    return this.close(Math.min(this.lastSpeechFrame + this.padFrames, this.frameIndex - 1));
  }

  /** Drops the segment in progress (barge-in). */
  clear(): void {
    this.inSpeech = false;
    this.frames = [];
    this.preroll = [];
  }

  private close(lastFrame: number): SpeechSegment | undefined {
    const keep = Math.max(0, Math.min(this.frames.length, lastFrame - this.segStartFrame + 1));
    const frames = this.frames.slice(0, keep);
    // Frames after the kept end are silence: they become the next segment's padding.
    this.preroll = this.frames.slice(keep).slice(-this.padFrames);
    this.inSpeech = false;
    this.frames = [];
    const speechMs = (this.lastSpeechFrame - this.speechStartFrame + 1) * VAD_FRAME_MS;
    if (speechMs < this.opts.minSpeechMs || frames.length === 0) return undefined;
    const samples = new Float32Array(frames.length * VAD_FRAME_SAMPLES);
    frames.forEach((f, k) => samples.set(f, k * VAD_FRAME_SAMPLES));
    return {
      startMs: this.msOf(this.segStartFrame),
      endMs: this.msOf(this.segStartFrame + frames.length),
      samples,
      speechStartMs: this.msOf(this.speechStartFrame),
      speechEndMs: this.msOf(this.lastSpeechFrame + 1),
      speechEndWallMs: this.lastSpeechWallMs,
      meanProbability: this.probCount ? this.probSum / this.probCount : 0,
    };
  }
}
