/**
 * RTCP sender reports (RFC 3550 6.4.1): what lets a receiver put an RTP timestamp on the sender's wall clock, and
 * so play audio and video of one sender in sync.
 *
 *  0                   1                   2                   3
 * |V=2|P|    RC   |   PT=SR=200   |             length            |
 * |                         SSRC of sender                        |
 * |              NTP timestamp, most significant word             |
 * |             NTP timestamp, least significant word             |
 * |                         RTP timestamp                         |
 * |                     sender's packet count                     |
 * |                      sender's octet count                     |
 */

/** Seconds from the NTP epoch (1900) to the Unix epoch (1970). */
const NTP_UNIX_OFFSET_S = 2_208_988_800;

export interface SenderReport {
  ssrc: number;
  /** Sender wall clock (Unix milliseconds, fractional). */
  ntpTimeMs: number;
  rtpTimestamp: number;
  packetCount: number;
  octetCount: number;
}

export function buildSenderReport(sr: SenderReport): Buffer {
  const out = Buffer.alloc(28);
  out[0] = 0x80; // V=2, no reception report blocks
  out[1] = 200;
  out.writeUInt16BE(6, 2); // length in 32-bit words minus one
  out.writeUInt32BE(sr.ssrc >>> 0, 4);
  const secs = sr.ntpTimeMs / 1000 + NTP_UNIX_OFFSET_S;
  const whole = Math.floor(secs);
  out.writeUInt32BE(whole >>> 0, 8);
  out.writeUInt32BE(Math.min(0xffffffff, Math.round((secs - whole) * 2 ** 32)) >>> 0, 12);
  out.writeUInt32BE(sr.rtpTimestamp >>> 0, 16);
  out.writeUInt32BE(sr.packetCount >>> 0, 20);
  out.writeUInt32BE(sr.octetCount >>> 0, 24);
  return out;
}

/** Finds the sender reports in a (compound) RTCP packet; other packet types are skipped. */
export function parseSenderReports(buf: Buffer): SenderReport[] {
  const out: SenderReport[] = [];
  let off = 0;
  while (off + 4 <= buf.length) {
    if (buf[off]! >> 6 !== 2) break;
    const len = (buf.readUInt16BE(off + 2) + 1) * 4;
    if (off + len > buf.length) break;
    if (buf[off + 1] === 200 && len >= 28) {
      const sec = buf.readUInt32BE(off + 8);
      const frac = buf.readUInt32BE(off + 12);
      out.push({
        ssrc: buf.readUInt32BE(off + 4),
        ntpTimeMs: (sec - NTP_UNIX_OFFSET_S) * 1000 + (frac / 2 ** 32) * 1000,
        rtpTimestamp: buf.readUInt32BE(off + 16),
        packetCount: buf.readUInt32BE(off + 20),
        octetCount: buf.readUInt32BE(off + 24),
      });
    }
    off += len;
  }
  return out;
}
