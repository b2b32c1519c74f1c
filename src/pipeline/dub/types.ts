/**
 * The dub-source contract: a source takes one speaker's audio and yields the speech the lips should follow, in the
 * listener's language, as timed PCM segments. Three implementations share it: the interpreter source (a human
 * interpreter's track), the embedded offline translator (VAD -> ASR -> MT -> TTS) and the external provider client.
 *
 * All times are milliseconds. `sourceStartMs` / `sourceEndMs` are on the speaker's input clock (the `timestampUs` of
 * the pushed AudioFrames, divided by 1000); phoneme times are relative to the first sample of the segment's PCM.
 */
import type { AudioFrame } from '../media.ts';

/** One phoneme of a segment's audio. */
export interface PhonemeTiming {
  /** IPA symbol(s) (`a`, `ɾ`, `tʃ`); `_` for a pause. */
  phoneme: string;
  /** Start, from the first sample of the segment's PCM. */
  startMs: number;
  endMs: number;
  /** `pause` for silence between words or clauses. */
  kind: 'speech' | 'pause';
}

/** Wall-clock time spent in each step of producing a segment (absent steps were not run). */
export interface DubStepTimings {
  vadMs?: number;
  asrMs?: number;
  mtMs?: number;
  ttsMs?: number;
}

export interface DubSegment {
  /** Increasing per source, from 0. */
  id: number;
  /** Language of `pcm` (BCP-47 primary tag: `es`, `ca`, `fr`, `en`). */
  language: string;
  /** Where the speech this segment dubs lies on the speaker's clock. */
  sourceStartMs: number;
  sourceEndMs: number;
  /** End of the speech itself (sourceEndMs includes a little padding), when a VAD cut the segment. */
  speechEndMs?: number;
  /** Mono float PCM of the dubbed speech. */
  pcm: Float32Array;
  sampleRate: number;
  /** Recognised source text, when a recogniser ran. Personal data: never log it at info level. */
  sourceText?: string;
  /** Text of `pcm`, when known. */
  text?: string;
  /** Exact phoneme timings of `pcm`, when the synthesiser reports them. */
  phonemes?: PhonemeTiming[];
  /**
   * Wall-clock time from the end of the source speech reaching the source (the push of the frame that held the
   * segment's last speech sample) to this segment being emitted.
   */
  latencyMs: number;
  steps?: DubStepTimings;
}

export type DubErrorCode =
  | 'missing-tool'
  | 'unsupported-language'
  | 'bad-input'
  | 'tool-failed'
  | 'protocol'
  | 'connection'
  | 'closed';

/** Every failure of a dub source. `retryable` says whether the same call may succeed later. */
export class DubError extends Error {
  override name = 'DubError';
  readonly code: DubErrorCode;
  readonly retryable: boolean;
  constructor(code: DubErrorCode, message: string, opts: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.retryable = opts.retryable ?? false;
  }
}

export interface DubSourceEvents {
  /** A dubbed segment is ready. */
  segment: [DubSegment];
  /** The source detected the start of source speech (for barge-in and for the video-delay policy). */
  speechStart: [{ sourceStartMs: number }];
  /** A non-fatal failure: the segment it concerned is skipped and the source keeps going. */
  error: [DubError];
  /** The source has closed (after close(), or after a fatal error). */
  close: [];
}

export type DubSourceKind = 'interpreter' | 'embedded' | 'provider';

/**
 * Lifecycle: `start()` once (resolves when ready: tools found, models loaded, connection open), then any number of
 * `pushAudio`, `flush()` at the end of input (resolves once every pending segment is emitted), `clear()` for
 * barge-in (drops what is pending), `close()` (idempotent; ends child processes and connections).
 */
export interface DubSource {
  readonly kind: DubSourceKind;
  readonly sourceLanguage: string;
  readonly targetLanguage: string;
  readonly closed: boolean;
  start(): Promise<void>;
  /** The speaker's audio (for the interpreter source: the interpreter's). Any rate and channel count. */
  pushAudio(frame: AudioFrame): void;
  flush(): Promise<void>;
  clear(): void;
  close(): void;
  on<E extends keyof DubSourceEvents>(event: E, listener: (...args: DubSourceEvents[E]) => void): this;
  off<E extends keyof DubSourceEvents>(event: E, listener: (...args: DubSourceEvents[E]) => void): this;
  once<E extends keyof DubSourceEvents>(event: E, listener: (...args: DubSourceEvents[E]) => void): this;
}
