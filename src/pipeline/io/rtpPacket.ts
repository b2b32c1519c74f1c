/**
 * RTP packets (RFC 3550) as views on the received bytes: the payload is a subarray, never a copy.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 * |                           timestamp                           |
 * |           synchronization source (SSRC) identifier            |
 * |            contributing source (CSRC) identifiers  (CC x 32)  |
 * |  extension profile (if X)     |   extension length (words)    |
 * |                     extension data ...                        |
 * |                     payload ... [padding, last byte = count]  |
 */

export interface RtpPacket {
  marker: boolean;
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  payload: Buffer;
}

/** Bytes that are not a valid RTP packet. */
export class RtpParseError extends Error {
  override name = 'RtpParseError';
}

export function parseRtpPacket(buf: Buffer): RtpPacket {
  if (buf.length < 12) throw new RtpParseError(`RTP packet of ${buf.length} bytes is shorter than its header`);
  const b0 = buf[0]!;
  if (b0 >> 6 !== 2) throw new RtpParseError(`RTP version ${b0 >> 6}, expected 2`);
  const cc = b0 & 0x0f;
  let off = 12 + cc * 4;
  if (b0 & 0x10) {
    if (buf.length < off + 4) throw new RtpParseError('RTP header extension truncated');
    off += 4 + buf.readUInt16BE(off + 2) * 4;
  }
  let end = buf.length;
  if (b0 & 0x20) {
    const pad = buf[buf.length - 1]!;
    if (pad === 0 || pad > end - off) throw new RtpParseError(`RTP padding of ${pad} bytes is invalid`);
    end -= pad;
  }
  if (off > end) throw new RtpParseError('RTP header longer than the packet');
  return {
    marker: (buf[1]! & 0x80) !== 0,
    payloadType: buf[1]! & 0x7f,
    sequenceNumber: buf.readUInt16BE(2),
    timestamp: buf.readUInt32BE(4),
    ssrc: buf.readUInt32BE(8),
    payload: buf.subarray(off, end),
  };
}

/** Serializes a packet without CSRCs or extensions (the SFU adds the extensions it negotiates). */
export function serializeRtpPacket(p: RtpPacket): Buffer {
  const out = Buffer.allocUnsafe(12 + p.payload.length);
  out[0] = 0x80;
  out[1] = (p.marker ? 0x80 : 0) | (p.payloadType & 0x7f);
  out.writeUInt16BE(p.sequenceNumber & 0xffff, 2);
  out.writeUInt32BE(p.timestamp >>> 0, 4);
  out.writeUInt32BE(p.ssrc >>> 0, 8);
  p.payload.copy(out, 12);
  return out;
}
