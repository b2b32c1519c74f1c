/**
 * A human interpreter as the drive audio of a dub pipeline.
 *
 *   interpreter's audio producer -> [DirectTransport] consumer 'rtp' -> TranscodingProcessor (jitter buffer,
 *     depacketizer, Opus decoder) whose stage only collects the decoded AudioFrames
 *     -> timestamps mapped onto the speaker's input clock -> InterpreterDubSource -> segments -> DubDriveStage
 *
 * The DubDriveStage pushes the speaker's audio into its source (that is what drives an embedded translator); this
 * source uses it only as the clock: the interpreter's frames are placed at the speaker's media time of the moment they
 * arrive (anchored on the first frame, re-anchored when the two clocks drift apart by more than `reanchorMs`), so the
 * timeline puts the interpreter's words `delayMs` after what the speaker was saying when the interpreter said them.
 */
import type { types as ms } from 'mediasoup';
import { TypedEmitter as DubEmitter } from '../../pipeline/dub/events.ts';
import { InterpreterDubSource, type DubSource, type DubSourceEvents } from '../../pipeline/dub/index.ts';
import { FrameCollectorStage, TranscodingProcessor, type AudioFrame } from '../../pipeline/index.ts';
import { createLogger } from '../logger.ts';
import { streamInfoOf } from '../SpeakerTap.ts';

const logger = createLogger('InterpreterFeed');

const DIRECT_MAX_MESSAGE_SIZE = 262_144;

export interface InterpreterFeedSourceOptions {
  router: ms.Router;
  /** The interpreter's (original) audio producer. */
  producer: ms.Producer;
  interpreterPeerId: string;
  /** Language the interpreter speaks (the dub's language). */
  language: string;
  sourceLanguage?: string;
  /** InterpreterDubSource mode. Default `continuous` (no added latency; silence stays silence anyway). */
  mode?: 'vad' | 'continuous';
  /** Re-anchor the interpreter's clock on the speaker's when they drift apart by more than this (ms). Default 1000. */
  reanchorMs?: number;
}

export class InterpreterFeedSource extends DubEmitter<DubSourceEvents> implements DubSource {
  readonly kind = 'interpreter' as const;
  readonly sourceLanguage: string;
  readonly targetLanguage: string;
  readonly interpreterPeerId: string;
  /** Interpreter frames decoded and fed (tests, logs). */
  readonly counters = { interpreterFrames: 0, droppedBeforeClock: 0, reanchors: 0 };
  readonly #options: InterpreterFeedSourceOptions;
  readonly #inner: InterpreterDubSource;
  #transport: ms.DirectTransport | undefined;
  #processor: TranscodingProcessor | undefined;
  /** Speaker clock: media time (ms) at the end of the latest speaker frame, and the wall time it arrived. */
  #speaker: { mediaMs: number; wallMs: number } | null = null;
  /** Interpreter media time (ms) -> speaker media time (ms). */
  #offsetMs: number | null = null;
  #closed = false;

  constructor(options: InterpreterFeedSourceOptions) {
    super();
    this.#options = options;
    this.interpreterPeerId = options.interpreterPeerId;
    this.targetLanguage = options.language;
    this.sourceLanguage = options.sourceLanguage ?? 'und';
    this.#inner = new InterpreterDubSource({
      language: options.language,
      sourceLanguage: this.sourceLanguage,
      mode: options.mode ?? 'continuous',
    });
    this.#inner.on('segment', (s) => this.safeEmit('segment', s));
    this.#inner.on('speechStart', (s) => this.safeEmit('speechStart', s));
    this.#inner.on('error', (e) => this.safeEmit('error', e));
  }

  get closed(): boolean {
    return this.#closed;
  }

  async start(): Promise<void> {
    if (this.#closed) throw new Error('InterpreterFeedSource: closed');
    if (this.#transport) return;
    await this.#inner.start();
    const { router, producer } = this.#options;
    if (producer.closed) throw new Error(`interpreter ${this.interpreterPeerId}'s audio has closed`);
    const transport = await router.createDirectTransport({ maxMessageSize: DIRECT_MAX_MESSAGE_SIZE });
    this.#transport = transport;
    try {
      const consumer = await transport.consume({
        producerId: producer.id,
        rtpCapabilities: router.rtpCapabilities,
        enableRtx: false,
        appData: { interpreterOf: producer.id },
      });
      const stage = new FrameCollectorStage('interpreter-in', { onAudio: (f) => this.#onInterpreterAudio(f) });
      const processor = await TranscodingProcessor.create([streamInfoOf(consumer)], {
        stage,
        onWarning: (m) => logger.debug(`interpreter ${this.interpreterPeerId}: ${m}`),
      });
      this.#processor = processor;
      if (this.#closed) throw new Error('InterpreterFeedSource: closed while starting');
      consumer.on('rtp', (packet) => processor.pushRtp('audio', packet));
    } catch (err) {
      this.#release();
      throw err;
    }
  }

  /** The speaker's audio, from the DubDriveStage: only its clock is used. */
  pushAudio(frame: AudioFrame): void {
    if (this.#closed) return;
    const mediaMs = (frame.timestampUs + (frame.samplesPerChannel / frame.sampleRate) * 1e6) / 1000;
    this.#speaker = { mediaMs, wallMs: performance.now() };
  }

  #onInterpreterAudio(frame: AudioFrame): void {
    if (this.#closed) return;
    const speaker = this.#speaker;
    if (!speaker) {
      this.counters.droppedBeforeClock++;
      return;
    }
    const speakerNowMs = speaker.mediaMs + (performance.now() - speaker.wallMs);
    const frameMs = frame.timestampUs / 1000;
    const durMs = (frame.samplesPerChannel / frame.sampleRate) * 1000;
    if (this.#offsetMs === null) {
      this.#offsetMs = speakerNowMs - durMs - frameMs;
    } else if (Math.abs(frameMs + this.#offsetMs + durMs - speakerNowMs) > (this.#options.reanchorMs ?? 1000)) {
      this.counters.reanchors++;
      this.#inner.clear();
      this.#offsetMs = speakerNowMs - durMs - frameMs;
    }
    this.counters.interpreterFrames++;
    try {
      this.#inner.pushAudio({ ...frame, timestampUs: Math.round((frameMs + this.#offsetMs) * 1000) });
    } catch (err) {
      logger.debug(`interpreter ${this.interpreterPeerId}: frame rejected: ${String(err)}`);
    }
  }

  flush(): Promise<void> {
    return this.#inner.flush();
  }

  clear(): void {
    this.#inner.clear();
  }

  #release(): void {
    try {
      this.#processor?.close();
    } catch (err) {
      logger.warn(`interpreter processor close threw: ${String(err)}`);
    }
    this.#processor = undefined;
    this.#transport?.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#release();
    this.#inner.close();
    this.safeEmit('close');
    this.removeAllListeners();
  }
}
