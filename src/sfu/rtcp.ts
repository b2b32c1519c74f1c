/**
 * The few RTCP facts the tap needs, parsed in place (no allocation per packet): keyframe requests (PLI, FIR) from
 * listeners of a processed producer, and sender reports (SR) of the original sender. Plus an SR writer for the
 * processed streams.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P| RC/FMT  |      PT       |             length            |   common header (RFC 3550 6.4, RFC 4585 6.1)
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                         SSRC of sender                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * SR:   NTP seconds (8) | NTP fraction (12) | RTP timestamp (16) | packet count (20) | octet count (24)
 * PSFB: SSRC of media source (8); FMT 1 = PLI, FMT 4 = FIR.
 */

export const RTCP_SR = 200;
export const RTCP_PSFB = 206;
const FMT_PLI = 1;
const FMT_FIR = 4;

/** Seconds between the NTP epoch (1900) and the Unix epoch (1970). */
const NTP_UNIX_OFFSET_S = 2_208_988_800;
const TWO_POW_32 = 4_294_967_296;

export interface RtcpVisitor {
  /** A PLI or FIR (keyframe request) for `mediaSsrc`. */
  onKeyframeRequest?(mediaSsrc: number): void;
  /** A sender report. `ntpTimeMs` is milliseconds since the Unix epoch. */
  onSenderReport?(ssrc: number, ntpTimeMs: number, rtpTimestamp: number): void;
}

/** Walks a (compound) RTCP packet; malformed trailing data is ignored. Returns the number of packets visited. */
export function visitRtcp(buf: Uint8Array, visitor: RtcpVisitor): number {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let offset = 0;
  let count = 0;
  while (offset + 4 <= buf.byteLength) {
    const b0 = view.getUint8(offset);
    if (b0 >> 6 !== 2) break;
    const fmt = b0 & 0x1f;
    const pt = view.getUint8(offset + 1);
    const size = (view.getUint16(offset + 2) + 1) * 4;
    if (offset + size > buf.byteLength) break;
    if (pt === RTCP_SR && size >= 28 && visitor.onSenderReport) {
      const ssrc = view.getUint32(offset + 4);
      const ntpSec = view.getUint32(offset + 8);
      const ntpFrac = view.getUint32(offset + 12);
      const rtpTs = view.getUint32(offset + 16);
      visitor.onSenderReport(ssrc, (ntpSec - NTP_UNIX_OFFSET_S) * 1000 + (ntpFrac / TWO_POW_32) * 1000, rtpTs);
    } else if (pt === RTCP_PSFB && (fmt === FMT_PLI || fmt === FMT_FIR) && size >= 12 && visitor.onKeyframeRequest) {
      visitor.onKeyframeRequest(view.getUint32(offset + 8));
    }
    offset += size;
    count++;
  }
  return count;
}

/** Writes a 28-byte RTCP SR without report blocks into `out` (reused by the caller) and returns it. */
export function writeSenderReport(
  out: Buffer,
  ssrc: number,
  ntpTimeMs: number,
  rtpTimestamp: number,
  packetCount: number,
  octetCount: number,
): Buffer {
  const ntpSeconds = ntpTimeMs / 1000 + NTP_UNIX_OFFSET_S;
  const sec = Math.floor(ntpSeconds);
  const frac = Math.floor((ntpSeconds - sec) * TWO_POW_32);
  out.writeUInt8(0x80, 0);
  out.writeUInt8(RTCP_SR, 1);
  out.writeUInt16BE(6, 2);
  out.writeUInt32BE(ssrc >>> 0, 4);
  out.writeUInt32BE(sec >>> 0, 8);
  out.writeUInt32BE(frac >>> 0, 12);
  out.writeUInt32BE(rtpTimestamp >>> 0, 16);
  out.writeUInt32BE(packetCount >>> 0, 20);
  out.writeUInt32BE(octetCount >>> 0, 24);
  return out;
}

/** Reads the SSRC of an RTP packet (bytes 8..11), or -1 when too short. */
export function rtpSsrc(packet: Uint8Array): number {
  if (packet.byteLength < 12) return -1;
  return ((packet[8]! << 24) | (packet[9]! << 16) | (packet[10]! << 8) | packet[11]!) >>> 0;
}
