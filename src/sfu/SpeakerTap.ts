/**
 * The tap: takes one speaker's producers (audio and/or video) into Node through a DirectTransport consumer, passes
 * the RTP through a processing stage (an RtpProcessor, see src/pipeline/stage.ts), and re-injects the result into the
 * same router as new producers on a second DirectTransport. Listeners consume those next to or instead of the
 * originals.
 *
 *   original producer -> [in DirectTransport] consumer 'rtp' -> processor.pushRtp
 *   processor 'rtp' -> producer.send -> [out DirectTransport] processed producer -> listeners
 *   listener PLI/FIR -> out transport 'rtcp' -> processor.requestKeyframe -> 'keyframeRequest' -> consumer.requestKeyFrame
 *   original SR -> in transport 'rtcp' -> processor.pushSenderReport ; processor 'senderReport' -> out transport SR
 *
 * One processor per speaker sees both tracks (lip-sync needs audio and video together). The processor's inputs are
 * fixed when it is built, so when the speaker's set of producers changes the tap waits `settleMs` for the set to
 * settle (a client publishes audio and video within a few ms) and rebuilds: the old processed producers close
 * (listeners get producerClosed) and new ones are announced.
 */
import type { types as ms } from 'mediasoup';
import type { MediaKind, RtpProcessor, RtpProcessorFactory, RtpStreamInfo } from '../pipeline/stage.ts';
import { createLogger } from './logger.ts';
import { visitRtcp, writeSenderReport } from './rtcp.ts';
import { SafeEmitter } from './SafeEmitter.ts';

const logger = createLogger('SpeakerTap');

/** Largest SCTP message on a DirectTransport; unused for RTP but required by mediasoup. */
const DIRECT_MAX_MESSAGE_SIZE = 262_144;

export interface SpeakerTapOptions {
  router: ms.Router;
  /** Speaker's peer id (for logs and appData). */
  peerId: string;
  processorFactory: RtpProcessorFactory;
  /** How long to wait for the speaker's set of producers to settle before (re)building, in ms. Default 150. */
  settleMs?: number;
}

/** One processed producer and the original it came from (same kind). */
export interface ProcessedProducer {
  producer: ms.Producer;
  originalProducerId: string;
  kind: MediaKind;
}

export type SpeakerTapEvents = {
  /** Processed producers are live (after each build). */
  processed: [ProcessedProducer[]];
  /** A processed producer closed (rebuild, original closed, tap closed). */
  processedclose: [producerId: string];
  /** Building failed; listeners keep the originals. */
  error: [Error];
};

/** Everything of one build, closed together. */
interface Generation {
  inTransport: ms.DirectTransport;
  outTransport: ms.DirectTransport;
  processor: RtpProcessor | undefined;
  processed: ProcessedProducer[];
  closed: boolean;
}

/** Per-output-stream counters for the sender reports the tap writes. */
interface OutStream {
  producer: ms.Producer;
  ssrc: number;
  packets: number;
  octets: number;
}

export class SpeakerTap extends SafeEmitter<SpeakerTapEvents> {
  readonly peerId: string;
  readonly #router: ms.Router;
  readonly #factory: RtpProcessorFactory;
  readonly #settleMs: number;
  readonly #producers = new Map<string, ms.Producer>();
  #generation: Generation | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Builds are serialised so two rebuilds never race on the same router. */
  #chain: Promise<void> = Promise.resolve();
  #closed = false;
  /** Reused for every sender report written by the tap. */
  readonly #srBuffer = Buffer.alloc(28);

  constructor({ router, peerId, processorFactory, settleMs = 150 }: SpeakerTapOptions) {
    super();
    this.#router = router;
    this.peerId = peerId;
    this.#factory = processorFactory;
    this.#settleMs = settleMs;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The processed producers of the current build. */
  get processed(): readonly ProcessedProducer[] {
    return this.#generation?.processed ?? [];
  }

  /** The current processor (for tests and stats), undefined between builds. */
  get processor(): RtpProcessor | undefined {
    return this.#generation?.processor;
  }

  addProducer(producer: ms.Producer): void {
    if (this.#closed || this.#producers.has(producer.id)) return;
    this.#producers.set(producer.id, producer);
    this.#schedule();
  }

  removeProducer(producerId: string): void {
    if (this.#closed || !this.#producers.delete(producerId)) return;
    this.#schedule();
  }

  /** Resolves when pending builds are done (tests, bench). */
  async settled(): Promise<void> {
    while (this.#timer) await new Promise((r) => setTimeout(r, this.#settleMs / 2 + 1));
    await this.#chain;
  }

  #schedule(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#chain = this.#chain.then(() => this.#rebuild());
    }, this.#settleMs);
  }

  async #rebuild(): Promise<void> {
    if (this.#closed) return;
    this.#closeGeneration();
    const producers = [...this.#producers.values()].filter((p) => !p.closed);
    if (producers.length === 0) return;
    try {
      this.#generation = await this.#build(producers);
      if (this.#generation.closed) return;
      this.safeEmit('processed', this.#generation.processed);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      logger.error(`tap of peer ${this.peerId} failed to build: ${error.message}`);
      this.safeEmit('error', error);
    }
  }

  async #build(producers: ms.Producer[]): Promise<Generation> {
    const router = this.#router;
    const inTransport = await router.createDirectTransport({ maxMessageSize: DIRECT_MAX_MESSAGE_SIZE });
    const gen: Generation = {
      inTransport,
      outTransport: undefined as unknown as ms.DirectTransport,
      processor: undefined,
      processed: [],
      closed: false,
    };
    try {
      gen.outTransport = await router.createDirectTransport({ maxMessageSize: DIRECT_MAX_MESSAGE_SIZE });
      // At most one input per kind: a speaker has one microphone and one camera track.
      const consumers: ms.Consumer[] = [];
      const seenKinds = new Set<MediaKind>();
      for (const producer of producers) {
        if (seenKinds.has(producer.kind)) {
          logger.warn(`peer ${this.peerId} has more than one ${producer.kind} producer; tapping the first only`);
          continue;
        }
        seenKinds.add(producer.kind);
        consumers.push(
          await inTransport.consume({
            producerId: producer.id,
            rtpCapabilities: router.rtpCapabilities,
            // Retransmissions stay inside mediasoup; Node sees each packet once.
            enableRtx: false,
            appData: { tapOf: producer.id },
          }),
        );
      }
      const inputs = consumers.map(streamInfoOf);
      const processor = await this.#factory(inputs);
      gen.processor = processor;
      if (this.#closed) throw new Error('tap closed while building');

      const outByKind = new Map<MediaKind, OutStream>();
      for (const out of processor.outputs) {
        const original = consumers.find((c) => c.kind === out.kind);
        if (!original) throw new Error(`processor output of kind ${out.kind} has no input of that kind`);
        const producer = await gen.outTransport.produce({
          kind: out.kind,
          rtpParameters: producerRtpParameters(out, original.rtpParameters.rtcp?.cname ?? this.peerId),
          appData: { peerId: this.peerId, source: 'processed', originalProducerId: original.producerId },
        });
        outByKind.set(out.kind, { producer, ssrc: out.ssrc, packets: 0, octets: 0 });
        gen.processed.push({ producer, originalProducerId: original.producerId, kind: out.kind });
      }

      this.#wire(gen, processor, consumers, outByKind);
      return gen;
    } catch (err) {
      closeGeneration(gen);
      throw err;
    }
  }

  #wire(
    gen: Generation,
    processor: RtpProcessor,
    consumers: ms.Consumer[],
    outByKind: Map<MediaKind, OutStream>,
  ): void {
    const video = consumers.find((c) => c.kind === 'video');
    const kindBySsrc = new Map<number, MediaKind>();
    for (const c of consumers) {
      const ssrc = c.rtpParameters.encodings?.[0]?.ssrc;
      if (ssrc !== undefined) kindBySsrc.set(ssrc, c.kind);
      const kind = c.kind;
      // Hot path: one call per packet, nothing allocated here.
      c.on('rtp', (packet) => processor.pushRtp(kind, packet));
      c.on('producerclose', () => this.removeProducer(c.producerId));
    }

    processor.on('rtp', (kind, packet) => {
      const out = outByKind.get(kind);
      if (!out || out.producer.closed) return;
      out.packets++;
      out.octets += packet.byteLength - 12;
      out.producer.send(packet);
    });
    processor.on('keyframeRequest', () => {
      if (video && !video.closed) video.requestKeyFrame().catch(() => {});
    });
    processor.on('senderReport', (kind, ntpTimeMs, rtpTimestamp) => {
      const out = outByKind.get(kind);
      if (!out || gen.outTransport.closed) return;
      gen.outTransport.sendRtcp(
        writeSenderReport(this.#srBuffer, out.ssrc, ntpTimeMs, rtpTimestamp, out.packets, out.octets),
      );
    });

    // Sender reports of the original sender, as mediasoup's consumers re-stamp them for our input SSRCs.
    const inVisitor = {
      onSenderReport: (ssrc: number, ntpTimeMs: number, rtpTimestamp: number) => {
        const kind = kindBySsrc.get(ssrc);
        if (kind) processor.pushSenderReport?.(kind, ntpTimeMs, rtpTimestamp);
      },
    };
    gen.inTransport.on('rtcp', (packet) => visitRtcp(packet, inVisitor));

    // Listeners' keyframe requests for a processed video producer reach us as PLI/FIR on the out transport.
    const outVisitor = { onKeyframeRequest: () => processor.requestKeyframe() };
    gen.outTransport.on('rtcp', (packet) => visitRtcp(packet, outVisitor));

    // Start the processed video on a keyframe rather than waiting for the sender's next one.
    if (video) video.requestKeyFrame().catch(() => {});
  }

  #closeGeneration(): void {
    const gen = this.#generation;
    this.#generation = undefined;
    if (!gen) return;
    closeGeneration(gen);
    for (const p of gen.processed) this.safeEmit('processedclose', p.producer.id);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#closeGeneration();
    this.#producers.clear();
    this.removeAllListeners();
  }
}

function closeGeneration(gen: Generation): void {
  if (gen.closed) return;
  gen.closed = true;
  try {
    gen.processor?.close();
  } catch (err) {
    logger.error(`processor close threw: ${String(err)}`);
  }
  // Closing a transport closes its consumers and producers (mediasoup cascades).
  gen.inTransport.close();
  gen.outTransport?.close();
}

/** What the processor is told about one tapped input (the DirectTransport consumer's view of it). */
export function streamInfoOf(consumer: ms.Consumer): RtpStreamInfo {
  const codec = consumer.rtpParameters.codecs[0];
  const ssrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
  if (!codec || ssrc === undefined) throw new Error(`consumer ${consumer.id} has no codec or SSRC`);
  return {
    kind: consumer.kind,
    mimeType: codec.mimeType,
    payloadType: codec.payloadType,
    clockRate: codec.clockRate,
    ...(codec.channels !== undefined ? { channels: codec.channels } : {}),
    ssrc,
    ...(codec.parameters ? { parameters: { ...codec.parameters } as Record<string, unknown> } : {}),
  };
}

/** RTP parameters of a processed producer: one codec and one SSRC, as the processor announced. */
export function producerRtpParameters(out: RtpStreamInfo, cname: string): ms.RtpParameters {
  const rtcpFeedback: ms.RtcpFeedback[] =
    out.kind === 'video'
      ? // PLI/FIR only: no NACK, since Node keeps no retransmission buffer (mediasoup retransmits to listeners itself).
        [
          { type: 'nack', parameter: 'pli' },
          { type: 'ccm', parameter: 'fir' },
        ]
      : [];
  return {
    codecs: [
      {
        mimeType: out.mimeType,
        payloadType: out.payloadType,
        clockRate: out.clockRate,
        ...(out.channels !== undefined ? { channels: out.channels } : {}),
        parameters: (out.parameters ?? {}) as ms.RtpCodecParameters['parameters'],
        rtcpFeedback,
      },
    ],
    encodings: [{ ssrc: out.ssrc }],
    headerExtensions: [],
    rtcp: { cname, reducedSize: true },
  };
}
