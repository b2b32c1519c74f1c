/**
 * The identity processing stage: forwards every packet unchanged, so the processed producers carry exactly the
 * original media (same SSRCs, payload types, timestamps). It is the fallback of every later stage and the baseline
 * for the tap's added latency.
 */
import type {
  MediaKind,
  RtpProcessor,
  RtpProcessorEvents,
  RtpProcessorFactory,
  RtpStreamInfo,
} from '../pipeline/stage.ts';
import { SafeEmitter } from './SafeEmitter.ts';

type ProcessorEventTuples = { [K in keyof RtpProcessorEvents]: Parameters<RtpProcessorEvents[K]> };

export class IdentityProcessor implements RtpProcessor {
  readonly outputs: readonly RtpStreamInfo[];
  readonly #emitter = new SafeEmitter<ProcessorEventTuples>();
  #closed = false;

  constructor(inputs: readonly RtpStreamInfo[]) {
    this.outputs = inputs.map((i) => ({ ...i }));
  }

  get closed(): boolean {
    return this.#closed;
  }

  pushRtp(kind: MediaKind, packet: Buffer): void {
    if (this.#closed) return;
    this.#emitter.safeEmit('rtp', kind, packet);
  }

  pushSenderReport(kind: MediaKind, ntpTimeMs: number, rtpTimestamp: number): void {
    if (this.#closed) return;
    this.#emitter.safeEmit('senderReport', kind, ntpTimeMs, rtpTimestamp);
  }

  requestKeyframe(): void {
    if (this.#closed) return;
    this.#emitter.safeEmit('keyframeRequest');
  }

  on<E extends keyof RtpProcessorEvents>(event: E, listener: RtpProcessorEvents[E]): this {
    this.#emitter.on(event, listener as (...args: ProcessorEventTuples[E]) => void);
    return this;
  }

  off<E extends keyof RtpProcessorEvents>(event: E, listener: RtpProcessorEvents[E]): this {
    this.#emitter.off(event, listener as (...args: ProcessorEventTuples[E]) => void);
    return this;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#emitter.removeAllListeners();
  }
}

export const identityProcessorFactory: RtpProcessorFactory = (inputs) => Promise.resolve(new IdentityProcessor(inputs));
