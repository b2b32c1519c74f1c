/**
 * Turns an ordered RTP stream (the jitter buffer's output) into whole encoded frames for the decoder.
 *
 * Frames are grouped by RTP timestamp and closed by the marker bit (or by the next timestamp, for senders that omit
 * markers). After a loss, a corrupt payload or a restart, video frames are dropped until a complete keyframe arrives
 * (a delta frame on a broken reference only smears) and the output asks for one; audio just continues.
 * Every dropped frame is counted by cause.
 */
import type { JitterOutput } from './jitterBuffer.ts';
import { RtpPayloadError, type AssembledFrame, type PayloadFormat } from './payload.ts';
import type { RtpPacket } from './rtpPacket.ts';

export interface EncodedFrame extends AssembledFrame {
  rtpTimestamp: number;
  ssrc: number;
  /** Sequence number of the frame's first packet. */
  firstSeq: number;
}

export type DepacketizerOutput =
  | { type: 'frame'; frame: EncodedFrame }
  | { type: 'keyframeRequest'; reason: 'loss' | 'corrupt' | 'start' | 'reset' };

export interface DepacketizerStats {
  frames: number;
  keyframes: number;
  /** Frames dropped because a payload broke its format. */
  corrupt: number;
  /** Frames dropped because some of their packets were lost. */
  incomplete: number;
  /** Decodable-looking frames dropped while waiting for a keyframe. */
  waitingForKeyframe: number;
  /** Streams restarted (SSRC change or sequence jump). */
  resets: number;
}

export class Depacketizer {
  private ts: number | null = null;
  private payloads: Buffer[] = [];
  private firstSeq = 0;
  private ssrc = 0;
  private broken = false;
  private needKeyframe: boolean;
  /** A keyframe request went out since the last keyframe. */
  private requested = false;
  private readonly video: boolean;
  readonly stats: DepacketizerStats = {
    frames: 0,
    keyframes: 0,
    corrupt: 0,
    incomplete: 0,
    waitingForKeyframe: 0,
    resets: 0,
  };
  /** The last corrupt payload's reason (for logs). */
  lastError = '';

  constructor(readonly format: PayloadFormat) {
    this.video = format.codec !== 'opus';
    this.needKeyframe = this.video;
  }

  /** True while video frames are being dropped until a keyframe. */
  get waitingForKeyframe(): boolean {
    return this.needKeyframe;
  }

  processInput(input: JitterOutput): DepacketizerOutput[] {
    const out: DepacketizerOutput[] = [];
    switch (input.type) {
      case 'packet':
        this.packet(input.packet, out);
        break;
      case 'loss':
        if (this.ts !== null) {
          this.broken = true;
          this.finish(out);
        }
        this.lost(out, 'loss');
        break;
      case 'reset':
        this.stats.resets++;
        if (this.ts !== null) this.finish(out);
        this.lost(out, 'reset');
        break;
    }
    return out;
  }

  /** Closes the frame in progress (end of stream). */
  flush(): DepacketizerOutput[] {
    const out: DepacketizerOutput[] = [];
    if (this.ts !== null) this.finish(out);
    return out;
  }

  private lost(out: DepacketizerOutput[], reason: 'loss' | 'reset' | 'corrupt'): void {
    if (!this.video) return;
    this.needKeyframe = true;
    if (!this.requested) {
      this.requested = true;
      out.push({ type: 'keyframeRequest', reason });
    }
  }

  private packet(p: RtpPacket, out: DepacketizerOutput[]): void {
    if (this.ts !== null && p.timestamp !== this.ts) this.finish(out);
    let start: boolean;
    try {
      start = this.format.isFrameStart(p.payload);
    } catch (err) {
      this.corruptPacket(err, p, out);
      return;
    }
    if (this.ts === null) {
      this.ts = p.timestamp;
      this.firstSeq = p.sequenceNumber;
      this.ssrc = p.ssrc;
      this.broken = !start;
    }
    this.payloads.push(p.payload);
    if (p.marker || !this.video) this.finish(out);
  }

  private corruptPacket(err: unknown, p: RtpPacket, out: DepacketizerOutput[]): void {
    if (!(err instanceof RtpPayloadError)) throw err;
    this.lastError = err.message;
    // The frame this packet belonged to is lost; drop what was gathered of it and skip the packet.
    if (this.ts === null) {
      this.ts = p.timestamp;
      this.firstSeq = p.sequenceNumber;
      this.ssrc = p.ssrc;
    }
    this.stats.corrupt++;
    this.discard();
    if (this.video) this.lost(out, 'corrupt');
  }

  private discard(): void {
    this.ts = null;
    this.payloads = [];
    this.broken = false;
  }

  private finish(out: DepacketizerOutput[]): void {
    const ts = this.ts!;
    const payloads = this.payloads;
    const broken = this.broken;
    const firstSeq = this.firstSeq;
    this.discard();
    if (broken) {
      this.stats.incomplete++;
      this.lost(out, 'loss');
      return;
    }
    let frame: AssembledFrame;
    try {
      frame = this.format.assemble(payloads);
    } catch (err) {
      if (!(err instanceof RtpPayloadError)) throw err;
      this.lastError = err.message;
      this.stats.corrupt++;
      this.lost(out, 'corrupt');
      return;
    }
    if (this.needKeyframe && this.video) {
      if (!frame.keyframe) {
        this.stats.waitingForKeyframe++;
        if (!this.requested) {
          this.requested = true;
          out.push({ type: 'keyframeRequest', reason: 'start' });
        }
        return;
      }
      this.needKeyframe = false;
      this.requested = false;
    }
    this.stats.frames++;
    if (frame.keyframe && this.video) this.stats.keyframes++;
    out.push({ type: 'frame', frame: { ...frame, rtpTimestamp: ts, ssrc: this.ssrc, firstSeq } });
  }
}
