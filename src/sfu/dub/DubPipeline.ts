/**
 * One dub pipeline: one speaker dubbed into one language, shared by every listener who chose that language.
 *
 *   speaker's original producers -> SpeakerTap (DirectTransport consumers, RTP in Node)
 *     -> TranscodingProcessor hosting a DubDriveStage(lip-sync engine | identity stage, dub source, DubTimeline)
 *     -> dubbed audio + lip-synced video producers in the room (source 'processed', language set)
 *
 * The tap does the mediasoup plumbing (sender reports, keyframe requests, rebuild when the speaker's producers change);
 * this class builds the processor, registers the outputs in the room and reports health. `replaceSource` swaps the
 * drive (an interpreter handing over to another, a translator to an interpreter and back) while everything else,
 * listeners' consumers included, goes on.
 */
import type { types as ms } from 'mediasoup';
import type { DubSource } from '../../pipeline/dub/index.ts';
import {
  createAvStage,
  TranscodingProcessor,
  type AvStage,
  type MediaKind,
  type RtpStreamInfo,
  type TranscodingStats,
} from '../../pipeline/index.ts';
import type { DubSourceKind, DubStats, ProducerInfo } from '../../protocol/index.ts';
import { createLogger } from '../logger.ts';
import type { Room } from '../Room.ts';
import { SafeEmitter } from '../SafeEmitter.ts';
import { SpeakerTap } from '../SpeakerTap.ts';
import { DubDriveStage } from './DubDriveStage.ts';

const logger = createLogger('DubPipeline');

export interface DubPipelineOptions {
  room: Room;
  speakerPeerId: string;
  language: string;
  sourceKind: DubSourceKind;
  /** Lip re-rendering (false: the speaker refused it; the dubbed voice over the real face). */
  faceRendering: boolean;
  /** Builds and starts the dub source of this pipeline (again on every processor rebuild; see replaceSource). */
  createSource(): Promise<DubSource>;
  /** Face stage name when faceRendering (default `lipsync`). */
  stage?: string;
  stageParams?: Record<string, unknown>;
  /** DubTimeline delay (the video is delayed as much), in ms. Default 1500. */
  timelineDelayMs?: number;
  /**
   * Slack for the face stage's and encoders' jitter: both outputs leave the processor at their media time + the
   * stage's delay + this (TranscodingProcessorOptions.paceOutputMs), so listeners can lip-sync them. Default 800:
   * with 400, stalls of the face stage or of the main thread on a loaded 2-core machine (up to ~850 ms, measured in
   * test/e2e/dub.test.ts) sent packets late, and the listener's jitter buffer and A/V sync then swung by up to 1.5 s
   * for tens of seconds; with 800 the same runs stayed on schedule. It adds to the dub's delay (2530 ms in all with
   * the default timeline), which matters little next to the seconds a translation takes.
   */
  outputSlackMs?: number;
  /** See SpeakerTapOptions.settleMs. Default 50. */
  settleMs?: number;
}

export type DubPipelineEvents = {
  /** The pipeline failed to build or its producers went away for good. */
  failed: [Error];
};

export class DubPipeline extends SafeEmitter<DubPipelineEvents> {
  readonly speakerPeerId: string;
  readonly language: string;
  readonly faceRendering: boolean;
  /** Listener peer ids. */
  readonly listeners = new Set<string>();
  readonly #room: Room;
  readonly #tap: SpeakerTap;
  readonly #options: DubPipelineOptions;
  #stage: DubDriveStage | undefined;
  /** Builds the source of the next processor build (options.createSource until replaceSource). */
  #createSource: () => Promise<DubSource>;
  /** Increments with each replaceSource call: an older call still building its source gives way. */
  #replaceSeq = 0;
  #sourceKind: DubSourceKind;
  #infos: ProducerInfo[] = [];
  #ready: Promise<void>;
  #resolveReady!: () => void;
  #rejectReady!: (err: Error) => void;
  #lastSr: NonNullable<DubStats['senderReports']> = {};
  #lags: Record<MediaKind, number[]> = { audio: [], video: [] };
  #lastFrames = 0;
  #lastAtMs = performance.now();
  #closed = false;

  constructor(options: DubPipelineOptions) {
    super();
    this.#options = options;
    this.#room = options.room;
    this.speakerPeerId = options.speakerPeerId;
    this.language = options.language;
    this.#sourceKind = options.sourceKind;
    this.faceRendering = options.faceRendering;
    this.#createSource = () => options.createSource();
    this.#ready = new Promise<void>((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.#ready.catch(() => {});
    this.#tap = new SpeakerTap({
      router: options.room.router,
      peerId: options.speakerPeerId,
      settleMs: options.settleMs ?? 50,
      processorFactory: (inputs) => this.#buildProcessor(inputs),
    });
    this.#tap.on('processed', (list) => {
      this.#infos = list.map((p) => ({
        producerId: p.producer.id,
        peerId: this.speakerPeerId,
        kind: p.kind,
        source: 'processed' as const,
        originalProducerId: p.originalProducerId,
        language: this.language,
      }));
      for (const [i, p] of list.entries()) this.#room.registerProducer(p.producer, this.#infos[i]!);
      this.#resolveReady();
    });
    this.#tap.on('error', (err) => {
      logger.warn(`dub ${this.speakerPeerId}/${this.language} failed to build: ${err.message}`);
      this.#rejectReady(err);
      this.safeEmit('failed', err);
    });
  }

  /** Resolves once the dubbed producers exist (first build), rejects if the build failed. */
  ready(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`dub pipeline not ready after ${timeoutMs} ms`)), timeoutMs);
      this.#ready.then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (err: Error) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The kind of the source driving the dub now (changes with replaceSource). */
  get sourceKind(): DubSourceKind {
    return this.#sourceKind;
  }

  /** The dubbed producers listeners consume. */
  get producers(): ProducerInfo[] {
    return this.#infos.filter((i) => this.#room.producers.has(i.producerId));
  }

  addProducer(producer: ms.Producer): void {
    this.#tap.addProducer(producer);
  }

  removeProducer(producerId: string): void {
    this.#tap.removeProducer(producerId);
  }

  /**
   * Swaps the drive of the running pipeline without stopping it: builds and starts a source with `createSource`,
   * hands it to the current DubDriveStage (which closes the old one; words already placed still play out), and uses
   * `createSource` for every later processor rebuild. Listeners keep their consumers. Resolves true once the new
   * source drives (or will drive the build in progress), false when the pipeline closed or a later call superseded
   * this one meanwhile (the source it built is closed); rejects with the error of `createSource`, the old source
   * still driving. `sourceKind`: the new source's kind (default: the one it builds).
   */
  async replaceSource(createSource: () => Promise<DubSource>, sourceKind?: DubSourceKind): Promise<boolean> {
    if (this.#closed) return false;
    const seq = ++this.#replaceSeq;
    let source: DubSource;
    try {
      source = await createSource();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      logger.warn(`dub ${this.speakerPeerId}/${this.language}: new source failed, the old one goes on: ${message}`);
      throw err;
    }
    if (this.#closed || seq !== this.#replaceSeq) {
      source.close();
      return false;
    }
    this.#createSource = createSource;
    this.#sourceKind = sourceKind ?? source.kind;
    const stage = this.#stage;
    // Between builds (the tap rebuilding, or the first build still running) there is no live stage: the build uses
    // the new factory (see #buildProcessor).
    if (stage && !stage.closed) stage.replaceSource(source);
    else source.close();
    return true;
  }

  async #buildProcessor(inputs: readonly RtpStreamInfo[]): Promise<TranscodingProcessor> {
    if (!inputs.some((i) => i.kind === 'audio')) throw new Error('the speaker publishes no audio to dub');
    const createSource = this.#createSource;
    const source = await createSource();
    let inner: AvStage | undefined;
    try {
      const hasVideo = inputs.some((i) => i.kind === 'video');
      inner = await createAvStage(this.faceRendering && hasVideo ? (this.#options.stage ?? 'lipsync') : 'identity', {
        driveAudio: true,
        mode: 'live',
        ...(this.#options.stageParams ? { params: this.#options.stageParams } : {}),
      });
      const stage = new DubDriveStage({
        inner,
        source,
        ...(this.#options.timelineDelayMs !== undefined ? { delayMs: this.#options.timelineDelayMs } : {}),
      });
      const processor = await TranscodingProcessor.create(inputs, {
        stage,
        paceOutputMs: this.#options.outputSlackMs ?? 800,
        onWarning: (m) => logger.debug(`dub ${this.speakerPeerId}/${this.language}: ${m}`),
      });
      processor.on('senderReport', (kind: MediaKind, ntpMs: number, rtpTimestamp: number) => {
        this.#lastSr[kind] = { ntpMs, rtpTimestamp };
      });
      // Send lag per stream: wall time a packet leaves minus the wall time its RTP timestamp stands for (the
      // pipeline's SR). mediasoup stamps its own SRs to listeners with the time it forwards the packet, so a
      // listener's A/V sync is off by the difference of the two lags.
      processor.on('rtp', (kind: MediaKind, packet: Buffer) => {
        const sr = this.#lastSr[kind];
        if (!sr || packet.length < 12) return;
        const diff = (packet.readUInt32BE(4) - sr.rtpTimestamp) | 0;
        const clock = kind === 'audio' ? 48_000 : 90_000;
        const lag = Date.now() - (sr.ntpMs + (diff / clock) * 1000);
        if (Number.isFinite(lag)) this.#lags[kind].push(lag);
        if (this.#lags[kind].length > 2000) this.#lags[kind].shift();
      });
      this.#stage = stage;
      this.#lastSr = {};
      // A replaceSource finished while this build ran with the previous factory: hand the stage to the new one.
      if (createSource !== this.#createSource) {
        this.replaceSource(this.#createSource, this.#sourceKind).catch(() => {});
      }
      return processor;
    } catch (err) {
      if (inner) inner.close();
      source.close();
      throw err;
    }
  }

  /** Health for the listeners (fps over the period since the last call). */
  stats(): DubStats {
    const now = performance.now();
    // Frames leaving the face stage for the encoder.
    const frames = this.#stage?.counters.videoOut ?? 0;
    const dt = (now - this.#lastAtMs) / 1000;
    const fps = frames >= this.#lastFrames && dt > 0 ? (frames - this.#lastFrames) / dt : 0;
    this.#lastFrames = frames;
    this.#lastAtMs = now;
    const stage = this.#stage;
    return {
      speakerPeerId: this.speakerPeerId,
      language: this.language,
      fps: Math.round(fps * 10) / 10,
      // What listeners see: stage delay (timeline + face stage) + the output pacing slack.
      delayMs: stage ? stage.delayMs + (this.#options.outputSlackMs ?? 800) : 0,
      faceRendering: this.faceRendering,
      segments: stage?.counters.segments ?? 0,
      framesOut: stage?.counters.videoOut ?? 0,
      senderReports: { ...this.#lastSr },
    };
  }

  /**
   * Median send lag per output stream over the last packets (ms, see #buildProcessor), and their difference
   * (audio - video): what a receiver synchronising on the SFU's sender reports gets as A/V error, negated.
   */
  sendLagMs(): { audio: number | null; video: number | null; n: Record<MediaKind, number> } {
    const med = (a: number[]) => (a.length ? [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]! : null);
    const n = { audio: this.#lags.audio.length, video: this.#lags.video.length };
    return { audio: med(this.#lags.audio), video: med(this.#lags.video), n };
  }

  /** The send lags of the last packets per stream, oldest first (ms; diagnostics). */
  sendLags(): Record<MediaKind, number[]> {
    return { audio: [...this.#lags.audio], video: [...this.#lags.video] };
  }

  /** Forgets the send lags measured so far (measure a later period). */
  resetSendLag(): void {
    this.#lags = { audio: [], video: [] };
  }

  /** Stage counters (tests, logs). */
  get stageCounters(): DubDriveStage['counters'] | undefined {
    return this.#stage?.counters;
  }

  /** The face stage's counters (see DubDriveStage.faceStageCounters). */
  get faceStageCounters(): Readonly<Record<string, number>> | undefined {
    return this.#stage?.faceStageCounters;
  }

  /** The transcoding processor's counters (packets and frames in and out, drops; tests, logs). */
  get processorStats(): TranscodingStats | undefined {
    const p = this.#tap.processor;
    return p instanceof TranscodingProcessor ? p.stats : undefined;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#rejectReady(new Error('dub pipeline closed'));
    // Closing the tap closes its producers; the room tells listeners (producerClosed / consumerClosed).
    this.#tap.close();
    this.removeAllListeners();
  }
}
