/**
 * A human interpreter's audio as the dub of a speaker: the interpreter's AudioFrames come in, segments of that same
 * audio (at its own rate) come out. `vad` mode cuts it at the interpreter's pauses (so the lip-sync engine and the
 * timeline see utterances, and silence stays silence); `continuous` mode passes it on in fixed chunks with no added
 * latency. Which interpreter serves which speaker and language is the SFU's business (see InterpreterRegistry).
 */
import type { VadSegmenterOptions } from '../audio/vad.ts';
import type { AudioFrame } from '../media.ts';
import { TypedEmitter } from './events.ts';
import { checkAudioFrame, frameToMono, SpeechInput } from './SpeechInput.ts';
import { DubError, type DubSource, type DubSourceEvents } from './types.ts';

export interface InterpreterDubSourceOptions {
  /** Language the interpreter speaks (the listeners' language). */
  language: string;
  /** Language of the speaker being interpreted (informational). Default `und`. */
  sourceLanguage?: string;
  /** `vad` (default): one segment per utterance. `continuous`: fixed chunks of `chunkMs`. */
  mode?: 'vad' | 'continuous';
  /** Chunk length in continuous mode. Default 100 ms. */
  chunkMs?: number;
  vad?: VadSegmenterOptions;
}

export const defaultInterpreterDubSourceOptions = { sourceLanguage: 'und', mode: 'vad', chunkMs: 100 } as const;

/** Mono audio history at the input rate, so VAD segments (found at 16 kHz) are cut from the original-rate audio. */
class AudioHistory {
  private chunks: { startMs: number; samples: Float32Array }[] = [];
  sampleRate = 0;
  constructor(private readonly keepMs: number) {}

  append(samples: Float32Array, sampleRate: number, startMs: number): void {
    if (sampleRate !== this.sampleRate) {
      this.chunks = [];
      this.sampleRate = sampleRate;
    }
    this.chunks.push({ startMs, samples });
    while (this.chunks.length > 1 && this.chunks[0]!.startMs < startMs - this.keepMs) this.chunks.shift();
  }

  slice(fromMs: number, toMs: number): Float32Array {
    const rate = this.sampleRate;
    const n = Math.max(0, Math.round(((toMs - fromMs) * rate) / 1000));
    const out = new Float32Array(n);
    for (const c of this.chunks) {
      const at = Math.round(((c.startMs - fromMs) * rate) / 1000);
      for (let i = Math.max(0, -at); i < c.samples.length && at + i < n; i++) out[at + i] = c.samples[i]!;
    }
    return out;
  }

  clear(): void {
    this.chunks = [];
  }
}

export class InterpreterDubSource extends TypedEmitter<DubSourceEvents> implements DubSource {
  readonly kind = 'interpreter' as const;
  readonly sourceLanguage: string;
  readonly targetLanguage: string;
  private readonly mode: 'vad' | 'continuous';
  private readonly chunkMs: number;
  private readonly input: SpeechInput | undefined;
  private readonly history: AudioHistory;
  private nextId = 0;
  private started = false;
  private _closed = false;
  /** Continuous mode: accumulated samples and the wall time of the latest push. */
  private acc: Float32Array[] = [];
  private accSamples = 0;
  private accStartMs = 0;
  private accRate = 0;
  /** Wall time at which each recent push ended, by media end time (for segment latency in VAD mode). */
  private pushTimes: { endMs: number; wallMs: number }[] = [];

  constructor(options: InterpreterDubSourceOptions) {
    super();
    const o = { ...defaultInterpreterDubSourceOptions, ...options };
    if (!o.language) throw new DubError('unsupported-language', 'InterpreterDubSource: language is required');
    if (!(o.chunkMs >= 10 && o.chunkMs <= 5000)) {
      throw new DubError('bad-input', `InterpreterDubSource: chunkMs must be in [10, 5000], got ${o.chunkMs}`);
    }
    this.sourceLanguage = o.sourceLanguage;
    this.targetLanguage = o.language;
    this.mode = o.mode;
    this.chunkMs = o.chunkMs;
    this.history = new AudioHistory((o.vad?.maxSegmentMs ?? 10_000) + 3000);
    if (this.mode === 'vad') {
      this.input = new SpeechInput(
        {
          onSpeechStart: (sourceStartMs) => this.safeEmit('speechStart', { sourceStartMs }),
          onSegment: (seg) => {
            if (this._closed) return;
            const wall = this.pushTimes.find((p) => p.endMs >= seg.speechEndMs)?.wallMs ?? seg.speechEndWallMs;
            this.safeEmit('segment', {
              id: this.nextId++,
              language: this.targetLanguage,
              sourceStartMs: seg.startMs,
              sourceEndMs: seg.endMs,
              speechEndMs: seg.speechEndMs,
              pcm: this.history.slice(seg.startMs, seg.endMs),
              sampleRate: this.history.sampleRate,
              latencyMs: performance.now() - wall,
            });
          },
          onError: (err) => this.safeEmit('error', err),
        },
        o.vad,
      );
    }
  }

  get closed(): boolean {
    return this._closed;
  }

  async start(): Promise<void> {
    if (this._closed) throw new DubError('closed', 'InterpreterDubSource: closed');
    if (this.started) return;
    await this.input?.start();
    this.started = true;
  }

  pushAudio(frame: AudioFrame): void {
    if (this._closed) return;
    if (!this.started) throw new DubError('bad-input', 'InterpreterDubSource: pushAudio() before start()');
    checkAudioFrame(frame);
    const mono = frameToMono(frame);
    const startMs = frame.timestampUs / 1000;
    const now = performance.now();
    if (this.input) {
      this.history.append(mono, frame.sampleRate, startMs);
      const endMs = startMs + (frame.samplesPerChannel / frame.sampleRate) * 1000;
      this.pushTimes.push({ endMs, wallMs: now });
      if (this.pushTimes.length > 2000) this.pushTimes.splice(0, 1000);
      this.input.push(frame, now);
      return;
    }
    if (this.accSamples > 0 && frame.sampleRate !== this.accRate) this.emitChunk();
    if (this.accSamples === 0) {
      this.accStartMs = startMs;
      this.accRate = frame.sampleRate;
    }
    this.acc.push(mono);
    this.accSamples += mono.length;
    if ((this.accSamples / this.accRate) * 1000 >= this.chunkMs) this.emitChunk();
  }

  private emitChunk(): void {
    if (this.accSamples === 0) return;
    const pcm = new Float32Array(this.accSamples);
    let o = 0;
    for (const c of this.acc) {
      pcm.set(c, o);
      o += c.length;
    }
    const durMs = (pcm.length / this.accRate) * 1000;
    this.acc = [];
    this.accSamples = 0;
    this.safeEmit('segment', {
      id: this.nextId++,
      language: this.targetLanguage,
      sourceStartMs: this.accStartMs,
      sourceEndMs: this.accStartMs + durMs,
      pcm,
      sampleRate: this.accRate,
      latencyMs: 0, // emitted in the push that completed it
    });
  }

  async flush(): Promise<void> {
    if (this._closed) return;
    if (this.input) await this.input.flush();
    else this.emitChunk();
  }

  clear(): void {
    this.input?.clear();
    this.history.clear();
    this.acc = [];
    this.accSamples = 0;
  }

  close(): void {
    if (this._closed) return;
    this._closed = true;
    this.input?.close();
    this.safeEmit('close');
    this.removeAllListeners();
  }
}
