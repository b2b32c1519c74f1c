/**
 * VP8 RTP payload format (RFC 7741).
 *
 *       0 1 2 3 4 5 6 7
 *      +-+-+-+-+-+-+-+-+
 *      |X|R|N|S|R| PID | (REQUIRED)       S: start of a partition, PID: partition index
 *      +-+-+-+-+-+-+-+-+
 * X:   |I|L|T|K| RSV   | (OPTIONAL)
 * I:   |M| PictureID   | (OPTIONAL)       M=1: 15-bit picture id (two bytes)
 * L:   |   TL0PICIDX   | (OPTIONAL)
 * T/K: |TID|Y| KEYIDX  | (OPTIONAL)
 *
 * The VP8 payload header (first 3 bytes of a frame) has the inverse key-frame flag in bit 0 and the first
 * partition's size in bits 5..23; a keyframe then carries the start code 9d 01 2a and its 14-bit width and height.
 */
import { RtpPayloadError, type AssembledFrame, type PayloadFormat } from './payload.ts';

/** Length of the payload descriptor at the front of `p`. */
function descriptorLength(p: Buffer): number {
  if (p.length < 1) throw new RtpPayloadError('VP8 payload is empty');
  let off = 1;
  if (p[0]! & 0x80) {
    if (p.length < 2) throw new RtpPayloadError('VP8 descriptor truncated (X)');
    const x = p[1]!;
    off = 2;
    if (x & 0x80) {
      if (p.length < off + 1) throw new RtpPayloadError('VP8 descriptor truncated (I)');
      off += p[off]! & 0x80 ? 2 : 1;
    }
    if (x & 0x40) off += 1;
    if (x & 0x30) off += 1;
  }
  if (off >= p.length) throw new RtpPayloadError('VP8 packet carries no frame data');
  return off;
}

export class Vp8PayloadFormat implements PayloadFormat {
  readonly codec = 'vp8' as const;
  private pictureId = Math.floor(Math.random() * 0x8000);

  isFrameStart(payload: Buffer): boolean {
    descriptorLength(payload);
    return (payload[0]! & 0x10) !== 0 && (payload[0]! & 0x07) === 0;
  }

  assemble(payloads: readonly Buffer[]): AssembledFrame {
    const parts: Buffer[] = [];
    let total = 0;
    for (const p of payloads) {
      const body = p.subarray(descriptorLength(p));
      parts.push(body);
      total += body.length;
    }
    const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
    if (data.length < 3) throw new RtpPayloadError(`VP8 frame of ${data.length} bytes is too short`);
    const tag = data[0]! | (data[1]! << 8) | (data[2]! << 16);
    const keyframe = (tag & 1) === 0;
    const firstPartitionSize = tag >>> 5;
    const headerBytes = keyframe ? 10 : 3;
    if (((tag >> 1) & 7) > 3) throw new RtpPayloadError(`VP8 version ${(tag >> 1) & 7} is invalid`);
    if (headerBytes + firstPartitionSize > data.length) {
      throw new RtpPayloadError(`VP8 first partition (${firstPartitionSize} B) exceeds the frame (${data.length} B)`);
    }
    if (!keyframe) return { data, keyframe };
    if (data[3] !== 0x9d || data[4] !== 0x01 || data[5] !== 0x2a) {
      throw new RtpPayloadError('VP8 keyframe without its start code');
    }
    const width = data.readUInt16LE(6) & 0x3fff;
    const height = data.readUInt16LE(8) & 0x3fff;
    if (width === 0 || height === 0) throw new RtpPayloadError('VP8 keyframe of size 0');
    return { data, keyframe, width, height };
  }

  packetize(frame: Buffer, _keyframe: boolean, maxPayloadBytes: number): Buffer[] {
    // Descriptor: X=1, S on the first packet, PID 0; extension I=1 with a 15-bit picture id (what WebRTC sends).
    const desc = 4;
    const room = maxPayloadBytes - desc;
    if (room < 1) throw new RangeError(`max payload ${maxPayloadBytes} B leaves no room for VP8 data`);
    this.pictureId = (this.pictureId + 1) & 0x7fff;
    const out: Buffer[] = [];
    for (let off = 0; off < frame.length; off += room) {
      const chunk = frame.subarray(off, Math.min(frame.length, off + room));
      const p = Buffer.allocUnsafe(desc + chunk.length);
      p[0] = 0x80 | (off === 0 ? 0x10 : 0);
      p[1] = 0x80;
      p[2] = 0x80 | (this.pictureId >> 8);
      p[3] = this.pictureId & 0xff;
      chunk.copy(p, desc);
      out.push(p);
    }
    return out;
  }
}
