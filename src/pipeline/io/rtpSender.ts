/**
 * The sending half of one outgoing RTP stream: packetizes encoded frames, numbers them, stamps RTP timestamps from
 * the pipeline clock (`timestampUs` -> RTP units, a random base, never going backwards), counts packets/octets and
 * builds the stream's RTCP sender reports.
 */
import { randomInt } from 'node:crypto';
import type { PayloadFormat } from './payload.ts';
import { buildSenderReport } from './rtcp.ts';
import { serializeRtpPacket } from './rtpPacket.ts';
import { tsDiff, uint16Add, uint32Add } from './rtpMath.ts';

export interface RtpSenderOptions {
  format: PayloadFormat;
  payloadType: number;
  clockRate: number;
  /** Default: random. */
  ssrc?: number;
  /** Largest RTP payload; default 1200 B (fits a 1500 B MTU after SRTP, extensions and IP/UDP headers). */
  maxPayloadBytes?: number;
}

export class RtpStreamSender {
  readonly ssrc: number;
  readonly payloadType: number;
  readonly clockRate: number;
  private readonly format: PayloadFormat;
  private readonly maxPayloadBytes: number;
  private seq = randomInt(0, 0x10000);
  private readonly rtpBase = randomInt(0, 0xffffffff);
  private lastRtp: number | null = null;
  packetCount = 0;
  octetCount = 0;

  constructor(opts: RtpSenderOptions) {
    this.format = opts.format;
    this.payloadType = opts.payloadType;
    this.clockRate = opts.clockRate;
    this.ssrc = opts.ssrc ?? randomInt(1, 0xffffffff);
    this.maxPayloadBytes = opts.maxPayloadBytes ?? 1200;
  }

  /** RTP timestamp of a pipeline time (no monotonic clamp). */
  rtpTimestampOf(timestampUs: number): number {
    return uint32Add(this.rtpBase, Math.round((timestampUs * this.clockRate) / 1e6) >>> 0);
  }

  /** Packetizes one encoded frame presented at `timestampUs` on the pipeline clock. */
  packetize(frame: Buffer, keyframe: boolean, timestampUs: number): Buffer[] {
    let ts = this.rtpTimestampOf(timestampUs);
    // A sender's clock may step back (SR arrived, SSRC change): listeners must never see time reverse.
    if (this.lastRtp !== null && tsDiff(ts, this.lastRtp) <= 0) ts = uint32Add(this.lastRtp, 1);
    this.lastRtp = ts;
    const payloads = this.format.packetize(frame, keyframe, this.maxPayloadBytes);
    const out: Buffer[] = [];
    for (let i = 0; i < payloads.length; i++) {
      const payload = payloads[i]!;
      out.push(
        serializeRtpPacket({
          marker: i === payloads.length - 1 && this.format.codec !== 'opus',
          payloadType: this.payloadType,
          sequenceNumber: this.seq,
          timestamp: ts,
          ssrc: this.ssrc,
          payload,
        }),
      );
      this.seq = uint16Add(this.seq, 1);
      this.packetCount++;
      this.octetCount += payload.length;
    }
    return out;
  }

  /** An RTCP SR saying: pipeline time `timestampUs` is wall-clock `ntpTimeMs` (Unix ms) for this stream. */
  senderReport(ntpTimeMs: number, timestampUs: number): Buffer {
    return buildSenderReport({
      ssrc: this.ssrc,
      ntpTimeMs,
      rtpTimestamp: this.rtpTimestampOf(timestampUs),
      packetCount: this.packetCount,
      octetCount: this.octetCount,
    });
  }
}
