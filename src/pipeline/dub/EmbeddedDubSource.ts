/**
 * The embedded default, fully offline: voice activity (Silero VAD) cuts the speaker's audio into utterances, each
 * goes through speech recognition (pocketsphinx, English), translation (Apertium, pivoting through Spanish where
 * needed) and synthesis (Festival or espeak-ng, with exact phoneme timings), and comes out as one DubSegment.
 * Utterances are processed one at a time, in order, from a bounded queue.
 */
import { resample } from '../audio/resample.ts';
import type { SpeechSegment, VadSegmenterOptions } from '../audio/vad.ts';
import type { AudioFrame } from '../media.ts';
import createDebug from './debug.ts';
import { apertiumTranslate } from './engines/apertium.ts';
import { pocketsphinxRecognize, type RecognizeResult } from './engines/pocketsphinx.ts';
import { chooseVoice, synthesize, type TtsEngine } from './engines/tts.ts';
import { TypedEmitter } from './events.ts';
import { checkEmbeddedLanguages } from './languages.ts';
import { SpeechInput } from './SpeechInput.ts';
import { findTool, ProcessGroup, requireData } from './tools.ts';
import { DubError, type DubSegment, type DubSource, type DubSourceEvents } from './types.ts';

const debug = createDebug('embedded');

export interface EmbeddedDubSourceOptions {
  /** Language spoken by the speaker. Only `en` (the recogniser is English-only). Default `en`. */
  sourceLanguage?: string;
  /** `es`, `ca`, `fr` (through Spanish) or `en`. */
  targetLanguage: string;
  /** Voice-activity segmentation (thresholds, hangover, padding, maximum length). */
  vad?: VadSegmenterOptions;
  /** Force a synthesiser; default: Festival where a natural voice exists for the language, else espeak-ng. */
  ttsEngine?: TtsEngine;
  /** English target: `passthrough` (the original audio, no recognition) or `tts` (recognise and re-synthesise). Default `passthrough`. */
  englishMode?: 'passthrough' | 'tts';
  /** Utterances waiting for processing beyond which the oldest is dropped (with an error event). Default 4. */
  maxQueuedSegments?: number;
}

export const defaultEmbeddedDubSourceOptions: Required<
  Pick<EmbeddedDubSourceOptions, 'sourceLanguage' | 'englishMode' | 'maxQueuedSegments'>
> = {
  sourceLanguage: 'en',
  englishMode: 'passthrough',
  maxQueuedSegments: 4,
};

export class EmbeddedDubSource extends TypedEmitter<DubSourceEvents> implements DubSource {
  readonly kind = 'embedded' as const;
  readonly sourceLanguage: string;
  readonly targetLanguage: string;
  private readonly opts: EmbeddedDubSourceOptions & typeof defaultEmbeddedDubSourceOptions;
  private readonly procs = new ProcessGroup();
  private readonly input: SpeechInput;
  private readonly queue: SpeechSegment[] = [];
  private working: Promise<void> | undefined;
  /** Translation + synthesis stage, in utterance order. */
  private tail: Promise<void> = Promise.resolve();
  private nextId = 0;
  private generation = 0;
  private started = false;
  private _closed = false;

  constructor(options: EmbeddedDubSourceOptions) {
    super();
    this.opts = { ...defaultEmbeddedDubSourceOptions, ...options };
    this.sourceLanguage = this.opts.sourceLanguage;
    this.targetLanguage = this.opts.targetLanguage;
    checkEmbeddedLanguages(this.sourceLanguage, this.targetLanguage);
    this.input = new SpeechInput(
      {
        onSpeechStart: (sourceStartMs) => this.safeEmit('speechStart', { sourceStartMs }),
        onSegment: (seg) => this.enqueue(seg),
        onError: (err) => this.safeEmit('error', err),
      },
      this.opts.vad,
    );
  }

  get closed(): boolean {
    return this._closed;
  }

  /** Voice-activity cost so far (for the bench): total inference time and frames of 32 ms. */
  get vadStats(): { vadMs: number; frames: number } {
    return { vadMs: this.input.vadMs, frames: this.input.vadFrames };
  }

  private get passthrough(): boolean {
    return this.targetLanguage === this.sourceLanguage && this.opts.englishMode === 'passthrough';
  }

  /** Checks every tool this configuration needs (a missing one names its Debian package) and loads the VAD. */
  async start(): Promise<void> {
    if (this._closed) throw new DubError('closed', 'EmbeddedDubSource: closed');
    if (this.started) return;
    if (!this.passthrough) {
      findTool('pocketsphinx_continuous');
      requireData('pocketsphinxModel');
      if (this.targetLanguage !== this.sourceLanguage) findTool('apertium');
      const { engine } = chooseVoice(this.targetLanguage, this.opts.ttsEngine);
      findTool(engine === 'festival' ? 'festival' : 'espeak-phonemes');
    }
    await this.input.start();
    this.started = true;
  }

  pushAudio(frame: AudioFrame): void {
    if (this._closed) return;
    if (!this.started) throw new DubError('bad-input', 'EmbeddedDubSource: pushAudio() before start()');
    this.input.push(frame);
  }

  /** End of input: resolves once every utterance pushed so far has been emitted (or failed). */
  async flush(): Promise<void> {
    if (this._closed) return;
    await this.input.flush();
    while (this.working) await this.working;
    await this.tail;
  }

  clear(): void {
    this.generation++;
    this.queue.length = 0;
    this.input.clear();
  }

  close(): void {
    if (this._closed) return;
    this._closed = true;
    this.generation++;
    this.queue.length = 0;
    this.input.close();
    this.procs.close();
    this.safeEmit('close');
    this.removeAllListeners();
  }

  private enqueue(seg: SpeechSegment): void {
    if (this._closed) return;
    this.queue.push(seg);
    while (this.queue.length > this.opts.maxQueuedSegments) {
      const dropped = this.queue.shift()!;
      this.safeEmit(
        'error',
        new DubError(
          'tool-failed',
          `overloaded: dropped the utterance at ${Math.round(dropped.startMs)} ms (queue over ${this.opts.maxQueuedSegments})`,
          { retryable: true },
        ),
      );
    }
    // The reset runs after the assignment even when drain() completes synchronously (passthrough).
    if (!this.working) {
      this.working = this.drain().finally(() => {
        this.working = undefined;
      });
    }
  }

  private reportFailure(err: unknown): void {
    if (this._closed || (err instanceof DubError && err.code === 'closed')) return;
    this.safeEmit(
      'error',
      err instanceof DubError ? err : new DubError('tool-failed', String(err), { retryable: true, cause: err }),
    );
  }

  /**
   * Two stages in order: recognition here, translation + synthesis on `tail`, so the next utterance is recognised
   * while the previous one is translated and spoken (the tools are separate processes: they overlap on 2 cores).
   */
  private async drain(): Promise<void> {
    try {
      for (let seg = this.queue.shift(); seg && !this._closed; seg = this.queue.shift()) {
        const gen = this.generation;
        const id = this.nextId++;
        if (this.passthrough) {
          this.safeEmit('segment', {
            ...this.base(id, seg),
            pcm: seg.samples,
            sampleRate: 16000,
            latencyMs: performance.now() - seg.speechEndWallMs,
          });
          continue;
        }
        let asr: RecognizeResult;
        try {
          asr = await pocketsphinxRecognize(this.procs, seg.samples);
        } catch (err) {
          this.reportFailure(err);
          continue;
        }
        debug(
          `segment ${id}: ${seg.samples.length / 16} ms of audio, ${asr.words.length} words in ${asr.wallMs.toFixed(0)} ms`,
        );
        if (!asr.text || gen !== this.generation) continue;
        const current = seg;
        this.tail = this.tail.then(async () => {
          try {
            const out = await this.speak(id, current, asr);
            if (out && gen === this.generation && !this._closed) this.safeEmit('segment', out);
          } catch (err) {
            this.reportFailure(err);
          }
        });
      }
    } catch (err) {
      this.reportFailure(err);
    }
  }

  private base(id: number, seg: SpeechSegment) {
    return {
      id,
      language: this.targetLanguage,
      sourceStartMs: seg.startMs,
      sourceEndMs: seg.endMs,
      speechEndMs: seg.speechEndMs,
    };
  }

  /** Translation and synthesis of one recognised utterance. Undefined when the translation is empty. */
  private async speak(id: number, seg: SpeechSegment, asr: RecognizeResult): Promise<DubSegment | undefined> {
    if (this._closed) return undefined;
    const mt =
      this.targetLanguage === this.sourceLanguage
        ? { text: asr.text, wallMs: 0 }
        : await apertiumTranslate(this.procs, asr.text, this.sourceLanguage, this.targetLanguage);
    if (!mt.text) return undefined;
    const tts = await synthesize(this.procs, mt.text, this.targetLanguage, { engine: this.opts.ttsEngine });
    debug(`segment ${id}: mt ${mt.wallMs.toFixed(0)} ms, tts (${tts.engine}) ${tts.wallMs.toFixed(0)} ms`);
    return {
      ...this.base(id, seg),
      pcm: tts.pcm,
      sampleRate: tts.sampleRate,
      sourceText: asr.text,
      text: mt.text,
      phonemes: tts.phonemes,
      latencyMs: performance.now() - seg.speechEndWallMs,
      steps: { asrMs: asr.wallMs, mtMs: mt.wallMs, ttsMs: tts.wallMs },
    };
  }
}

/** Resamples a segment's PCM (for callers that need one output rate). */
export function segmentAt(seg: DubSegment, sampleRate: number): DubSegment {
  if (seg.sampleRate === sampleRate) return seg;
  return { ...seg, pcm: resample(seg.pcm, seg.sampleRate, sampleRate), sampleRate };
}
