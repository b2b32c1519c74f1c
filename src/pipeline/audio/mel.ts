/**
 * Log-mel spectrogram with the IP_LAP / Wav2Lip conventions, computed incrementally.
 *
 * 16 kHz mono, pre-emphasis 0.97, STFT n_fft = win = 800 (periodic Hann), hop 200 (80 mel frames per second),
 * centred frames (librosa `center=True`: frame m is centred on sample 200 m; the start is reflect-padded), magnitude
 * (not power) spectrum, 80 Slaney mel bands 55..7600 Hz with Slaney area normalisation, then
 * `20 log10(max(1e-5, mel)) - 20` dB mapped from [-100, 0] dB to [-4, 4] and clipped (Wav2Lip's `hparams`).
 *
 * {@link MelStream} keeps a ring of samples and a ring of mel frames: each pushed sample is pre-emphasised once and
 * each mel frame is computed once, as soon as its last sample has arrived (frame m needs samples up to 200 m + 400).
 * {@link logMelBatch} is the direct (non-streaming) computation of the same formula over a whole signal.
 */
import { Fft } from './fft.ts';

export interface MelOptions {
  /** Hz. Default 16000 (input must already be at this rate). */
  sampleRate: number;
  /** Samples. Default 800. */
  nFft: number;
  /** Samples. Default 200. */
  hop: number;
  /** Default 80. */
  melBins: number;
  /** Hz. Default 55. */
  fMin: number;
  /** Hz. Default 7600. */
  fMax: number;
  /** Default 0.97. */
  preemphasis: number;
}

export const defaultMelOptions: MelOptions = {
  sampleRate: 16000,
  nFft: 800,
  hop: 200,
  melBins: 80,
  fMin: 55,
  fMax: 7600,
  preemphasis: 0.97,
};

/** Mel frames in the chunk of one video frame (Wav2Lip). */
export const MEL_CHUNK_FRAMES = 16;
/** Mel frames per second at the default hop. */
export const MEL_FPS = 80;
/** Value of a silent (or missing) bin after normalisation. */
export const MEL_FLOOR = -4;

function hzToMelSlaney(f: number): number {
  const fSp = 200 / 3;
  const minLogHz = 1000;
  const minLogMel = minLogHz / fSp;
  const logStep = Math.log(6.4) / 27;
  return f >= minLogHz ? minLogMel + Math.log(f / minLogHz) / logStep : f / fSp;
}

function melToHzSlaney(m: number): number {
  const fSp = 200 / 3;
  const minLogHz = 1000;
  const minLogMel = minLogHz / fSp;
  const logStep = Math.log(6.4) / 27;
  return m >= minLogMel ? minLogHz * Math.exp(logStep * (m - minLogMel)) : fSp * m;
}

/** librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk=False, norm='slaney'): melBins x (nFft/2+1), row-major. */
export function melFilterbank(o: MelOptions = defaultMelOptions): Float64Array {
  const nFreq = (o.nFft >> 1) + 1;
  const w = new Float64Array(o.melBins * nFreq);
  const mMin = hzToMelSlaney(o.fMin);
  const mMax = hzToMelSlaney(o.fMax);
  const melF = new Float64Array(o.melBins + 2);
  for (let i = 0; i < melF.length; i++) melF[i] = melToHzSlaney(mMin + ((mMax - mMin) * i) / (o.melBins + 1));
  for (let i = 0; i < o.melBins; i++) {
    const lo = melF[i]!;
    const mid = melF[i + 1]!;
    const hi = melF[i + 2]!;
    const enorm = 2 / (hi - lo);
    for (let k = 0; k < nFreq; k++) {
      const f = (k * o.sampleRate) / o.nFft;
      const lower = (f - lo) / (mid - lo);
      const upper = (hi - f) / (hi - mid);
      w[i * nFreq + k] = Math.max(0, Math.min(lower, upper)) * enorm;
    }
  }
  return w;
}

/** Computes one normalised log-mel frame from nFft windowed-ready (pre-emphasised) samples. */
class MelFrameKernel {
  private readonly fft: Fft;
  private readonly window: Float64Array;
  private readonly bank: Float64Array;
  private readonly re: Float64Array;
  private readonly im: Float64Array;
  private readonly outRe: Float64Array;
  private readonly outIm: Float64Array;
  private readonly mag: Float64Array;
  private readonly nFreq: number;
  /** For each mel bin, the first and one-past-last non-zero FFT bin. */
  private readonly spans: Int32Array;

  constructor(private readonly o: MelOptions) {
    this.fft = new Fft(o.nFft);
    this.window = new Float64Array(o.nFft);
    for (let n = 0; n < o.nFft; n++) this.window[n] = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / o.nFft);
    this.bank = melFilterbank(o);
    this.nFreq = (o.nFft >> 1) + 1;
    this.re = new Float64Array(o.nFft);
    this.im = new Float64Array(o.nFft);
    this.outRe = new Float64Array(o.nFft);
    this.outIm = new Float64Array(o.nFft);
    this.mag = new Float64Array(this.nFreq);
    this.spans = new Int32Array(o.melBins * 2);
    for (let b = 0; b < o.melBins; b++) {
      let first = -1;
      let last = -1;
      for (let k = 0; k < this.nFreq; k++) {
        if (this.bank[b * this.nFreq + k]! > 0) {
          if (first < 0) first = k;
          last = k;
        }
      }
      this.spans[2 * b] = Math.max(0, first);
      this.spans[2 * b + 1] = last + 1;
    }
  }

  /** `frameAt(n)` returns pre-emphasised sample n of this frame (0..nFft-1); result written to out[outOff..+melBins). */
  compute(frameAt: (n: number) => number, out: Float32Array, outOff: number): void {
    const { nFft, melBins } = this.o;
    for (let n = 0; n < nFft; n++) {
      this.re[n] = frameAt(n) * this.window[n]!;
      this.im[n] = 0;
    }
    this.fft.transform(this.re, this.im, this.outRe, this.outIm);
    for (let k = 0; k < this.nFreq; k++) this.mag[k] = Math.hypot(this.outRe[k]!, this.outIm[k]!);
    for (let b = 0; b < melBins; b++) {
      let s = 0;
      const row = b * this.nFreq;
      for (let k = this.spans[2 * b]!; k < this.spans[2 * b + 1]!; k++) s += this.bank[row + k]! * this.mag[k]!;
      const db = 20 * Math.log10(Math.max(1e-5, s)) - 20;
      const v = 8 * ((db + 100) / 100) - 4;
      out[outOff + b] = v < -4 ? -4 : v > 4 ? 4 : v;
    }
  }
}

/**
 * The direct computation over a whole signal: returns `frames x melBins` (frame-major) and the frame count.
 * Frames cover the signal like the streaming path: frame m for every m with 200 m + 400 <= length (no end padding).
 */
export function logMelBatch(
  samples: Float32Array,
  options: Partial<MelOptions> = {},
): { mel: Float32Array; frames: number } {
  const o = { ...defaultMelOptions, ...options };
  const half = o.nFft >> 1;
  const y = new Float64Array(samples.length);
  for (let i = 0; i < samples.length; i++) y[i] = samples[i]! - (i > 0 ? o.preemphasis * samples[i - 1]! : 0);
  const frames = samples.length > half ? Math.floor((samples.length - half) / o.hop) + 1 : 0;
  const mel = new Float32Array(frames * o.melBins);
  const kernel = new MelFrameKernel(o);
  for (let m = 0; m < frames; m++) {
    const start = m * o.hop - half;
    kernel.compute(
      (n) => {
        const i = start + n;
        return y[i < 0 ? -i : i]!; // reflect padding at the start (librosa center=True)
      },
      mel,
      m * o.melBins,
    );
  }
  return { mel, frames };
}

/** Incremental log-mel over a stream of 16 kHz mono samples, with a bounded history of mel frames. */
export class MelStream {
  readonly options: MelOptions;
  private readonly kernel: MelFrameKernel;
  private readonly sampleRing: Float64Array;
  private readonly melRing: Float32Array;
  private readonly melCapacity: number;
  private samplesIn = 0;
  private lastRaw = 0;
  private framesOut = 0;

  /** @param historySeconds how much mel history stays readable (default 10 s). */
  constructor(options: Partial<MelOptions> = {}, historySeconds = 10) {
    this.options = { ...defaultMelOptions, ...options };
    this.kernel = new MelFrameKernel(this.options);
    // Enough samples for the largest frame plus the reflect-padded start.
    this.sampleRing = new Float64Array(this.options.nFft * 4);
    this.melCapacity = Math.ceil((historySeconds * this.options.sampleRate) / this.options.hop);
    this.melRing = new Float32Array(this.melCapacity * this.options.melBins);
  }

  /** Number of mel frames computed so far (frame indices 0 .. frameCount-1). */
  get frameCount(): number {
    return this.framesOut;
  }

  /** Samples pushed so far. */
  get sampleCount(): number {
    return this.samplesIn;
  }

  /** Oldest mel frame still held. */
  get oldestFrame(): number {
    return Math.max(0, this.framesOut - this.melCapacity);
  }

  /** Appends samples (16 kHz mono float in [-1, 1]); computes every mel frame that became complete. */
  push(samples: Float32Array): void {
    const { preemphasis, nFft, hop } = this.options;
    const ringLen = this.sampleRing.length;
    const half = nFft >> 1;
    for (let i = 0; i < samples.length; i++) {
      const x = samples[i]!;
      const y = x - (this.samplesIn > 0 ? preemphasis * this.lastRaw : 0);
      this.lastRaw = x;
      this.sampleRing[this.samplesIn % ringLen] = y;
      this.samplesIn++;
      // Frame m is complete once sample m*hop + half - 1 has arrived
      // (frame 0 also needs sample `half` for its reflect-padded start).
      while (Math.max(this.framesOut * hop + half, half + 1) <= this.samplesIn) {
        this.computeFrame(this.framesOut++, half, ringLen);
      }
    }
  }

  private computeFrame(m: number, half: number, ringLen: number): void {
    const start = m * this.options.hop - half;
    const off = (m % this.melCapacity) * this.options.melBins;
    this.kernel.compute(
      (n) => {
        const i = start + n;
        return this.sampleRing[(i < 0 ? -i : i) % ringLen]!;
      },
      this.melRing,
      off,
    );
  }

  /** Mel bin `bin` of frame `m`, or {@link MEL_FLOOR} when the frame is not (or no longer) held. */
  value(m: number, bin: number): number {
    if (m < this.oldestFrame || m >= this.framesOut) return MEL_FLOOR;
    return this.melRing[(m % this.melCapacity) * this.options.melBins + bin]!;
  }

  /**
   * Copies the chunk of `frames` mel frames starting at `start` into `out` (melBins x frames, row-major by bin, the
   * layout of a Wav2Lip mel chunk). Frames outside what is held read as silence ({@link MEL_FLOOR}).
   */
  chunk(start: number, out: Float32Array, frames = MEL_CHUNK_FRAMES): Float32Array {
    const bins = this.options.melBins;
    for (let t = 0; t < frames; t++) {
      const m = start + t;
      const held = m >= this.oldestFrame && m < this.framesOut;
      const off = (m % this.melCapacity) * bins;
      for (let b = 0; b < bins; b++) out[b * frames + t] = held ? this.melRing[off + b]! : MEL_FLOOR;
    }
    return out;
  }
}

/** First mel frame of the chunk of video frame `i` at `fps` (Wav2Lip: int(80 * i / 25)). */
export function melChunkStart(frameIndex: number, fps = 25, melFps = MEL_FPS): number {
  return Math.floor((melFps * frameIndex) / fps + 1e-9);
}

/** Samples (count from the start) the mel frame `m` needs: m * hop + nFft / 2 (frame 0: one more). */
export function samplesNeededForMelFrame(m: number, o: MelOptions = defaultMelOptions): number {
  return Math.max(m * o.hop + (o.nFft >> 1), (o.nFft >> 1) + 1);
}
