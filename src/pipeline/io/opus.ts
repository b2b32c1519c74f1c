/**
 * Opus RTP payload format (RFC 7587): one Opus packet per RTP packet, 48 kHz RTP clock whatever the coded rate,
 * marker unused. A payload is valid when its TOC byte's frame-count code fits the length (RFC 6716 3.2).
 */
import { RtpPayloadError, type AssembledFrame, type PayloadFormat } from './payload.ts';

export class OpusPayloadFormat implements PayloadFormat {
  readonly codec = 'opus' as const;

  isFrameStart(): boolean {
    return true;
  }

  assemble(payloads: readonly Buffer[]): AssembledFrame {
    if (payloads.length !== 1) throw new RtpPayloadError(`an Opus frame spans ${payloads.length} packets`);
    const data = payloads[0]!;
    if (data.length === 0) throw new RtpPayloadError('Opus payload is empty');
    const code = data[0]! & 3;
    if (code === 1 && (data.length - 1) % 2 !== 0) throw new RtpPayloadError('Opus code-1 packet of odd length');
    if (code === 2 && data.length < 2) throw new RtpPayloadError('Opus code-2 packet truncated');
    if (code === 3 && (data.length < 2 || (data[1]! & 0x3f) === 0)) {
      throw new RtpPayloadError('Opus code-3 packet without a frame count');
    }
    return { data, keyframe: true };
  }

  packetize(frame: Buffer, _keyframe: boolean, maxPayloadBytes: number): Buffer[] {
    if (frame.length > maxPayloadBytes) throw new RangeError(`Opus packet of ${frame.length} B exceeds the MTU`);
    return [frame];
  }
}
