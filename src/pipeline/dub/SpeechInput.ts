/**
 * The input side shared by dub sources: AudioFrames of any rate and channel count -> 16 kHz mono -> 32 ms frames ->
 * Silero VAD -> speech segments. Frames are processed strictly in order through one promise chain; `drain()`
 * resolves when everything pushed so far has gone through the VAD.
 */
import { Resampler } from '../audio/resample.ts';
import {
  SileroVad,
  VAD_FRAME_SAMPLES,
  VAD_SAMPLE_RATE,
  VadSegmenter,
  type SpeechSegment,
  type VadSegmenterOptions,
} from '../audio/vad.ts';
import type { AudioFrame } from '../media.ts';
import { DubError } from './types.ts';

export interface SpeechInputHandlers {
  onSpeechStart(speechStartMs: number): void;
  onSegment(segment: SpeechSegment): void;
  onError(err: DubError): void;
}

/** Checks an AudioFrame's format fields against its data, with a DubError('bad-input') that says what is wrong. */
export function checkAudioFrame(frame: AudioFrame): void {
  const { data, sampleRate, channels, samplesPerChannel } = frame;
  if (!(data instanceof Int16Array)) throw new DubError('bad-input', 'AudioFrame.data must be an Int16Array');
  if (!Number.isInteger(sampleRate) || sampleRate < 8000 || sampleRate > 192000) {
    throw new DubError('bad-input', `AudioFrame.sampleRate must be an integer in [8000, 192000], got ${sampleRate}`);
  }
  if (!Number.isInteger(channels) || channels < 1 || channels > 8) {
    throw new DubError('bad-input', `AudioFrame.channels must be 1..8, got ${channels}`);
  }
  if (data.length !== samplesPerChannel * channels) {
    throw new DubError(
      'bad-input',
      `AudioFrame.data has ${data.length} samples, expected samplesPerChannel * channels = ${samplesPerChannel * channels}`,
    );
  }
}

/** Mono float of an interleaved Int16 frame. */
export function frameToMono(frame: AudioFrame): Float32Array {
  const { data, channels, samplesPerChannel } = frame;
  const out = new Float32Array(samplesPerChannel);
  const k = 1 / (32768 * channels);
  for (let i = 0, p = 0; i < samplesPerChannel; i++) {
    let s = 0;
    for (let c = 0; c < channels; c++) s += data[p++]!;
    out[i] = s * k;
  }
  return out;
}

export class SpeechInput {
  private vad: SileroVad | undefined;
  private readonly segmenter: VadSegmenter;
  private resampler: Resampler | undefined;
  private pending = new Float32Array(VAD_FRAME_SAMPLES);
  private pendingLen = 0;
  private chain: Promise<void> = Promise.resolve();
  private originSet = false;
  private generation = 0;
  private closed = false;
  /** Total VAD inference time, for the bench. */
  vadMs = 0;
  vadFrames = 0;

  constructor(
    private readonly handlers: SpeechInputHandlers,
    options: VadSegmenterOptions = {},
  ) {
    this.segmenter = new VadSegmenter(options);
  }

  async start(): Promise<void> {
    if (!this.vad) this.vad = await SileroVad.create();
  }

  push(frame: AudioFrame, wallMs = performance.now()): void {
    if (this.closed) return;
    checkAudioFrame(frame);
    if (!this.originSet) {
      this.segmenter.setOrigin(frame.timestampUs / 1000);
      this.originSet = true;
    }
    if (!this.resampler || this.resampler.fromRate !== frame.sampleRate) {
      // A rate change mid-stream restarts the filter (a few ms of transient, no drift).
      this.resampler = new Resampler(frame.sampleRate, VAD_SAMPLE_RATE);
    }
    this.feed(this.resampler.process(frameToMono(frame)), wallMs);
  }

  private feed(samples: Float32Array, wallMs: number): void {
    let off = 0;
    while (off < samples.length) {
      const n = Math.min(VAD_FRAME_SAMPLES - this.pendingLen, samples.length - off);
      this.pending.set(samples.subarray(off, off + n), this.pendingLen);
      this.pendingLen += n;
      off += n;
      if (this.pendingLen === VAD_FRAME_SAMPLES) {
        const frame = this.pending;
        this.pending = new Float32Array(VAD_FRAME_SAMPLES);
        this.pendingLen = 0;
        this.enqueue(frame, wallMs);
      }
    }
  }

  private enqueue(frame: Float32Array, wallMs: number): void {
    const gen = this.generation;
    this.chain = this.chain.then(async () => {
      if (this.closed || gen !== this.generation || !this.vad) return;
      let p: number;
      const t0 = performance.now();
      try {
        p = await this.vad.process(frame);
      } catch (err) {
        if (!this.closed) {
          this.handlers.onError(new DubError('tool-failed', `VAD failed: ${String(err)}`, { retryable: true }));
        }
        return;
      }
      this.vadMs += performance.now() - t0;
      this.vadFrames++;
      if (gen !== this.generation) return;
      for (const ev of this.segmenter.push(frame, p, wallMs)) {
        if (ev.type === 'start') this.handlers.onSpeechStart(ev.speechStartMs);
        else this.handlers.onSegment(ev.segment);
      }
    });
  }

  /** End of input: pushes the partial frame (zero-padded), waits for the VAD, and closes any open segment. */
  async flush(): Promise<void> {
    if (this.resampler) this.feed(this.resampler.flush(), performance.now());
    this.resampler = undefined;
    if (this.pendingLen > 0) {
      this.pending.fill(0, this.pendingLen);
      const frame = this.pending;
      this.pending = new Float32Array(VAD_FRAME_SAMPLES);
      this.pendingLen = 0;
      this.enqueue(frame, performance.now());
    }
    await this.chain;
    const seg = this.segmenter.flush();
    if (seg) this.handlers.onSegment(seg);
  }

  /** Drops buffered audio and any segment in progress (barge-in). */
  clear(): void {
    this.generation++;
    this.pendingLen = 0;
    this.segmenter.clear();
    // The audio after a barge-in may not follow on: take the clock from the next frame's timestamp.
    this.originSet = false;
    this.resampler = undefined;
    this.vad?.reset();
  }

  get inSpeech(): boolean {
    return this.segmenter.inSpeechNow;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.generation++;
    const vad = this.vad;
    this.vad = undefined;
    // Release the ORT session only after an in-flight inference has finished.
    void this.chain.finally(() => vad?.close());
  }
}
