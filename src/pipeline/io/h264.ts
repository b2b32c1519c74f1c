/**
 * H.264 RTP payload format (RFC 6184), packetization-mode 1: single NAL unit packets, STAP-A aggregates, FU-A
 * fragments. Depacketized access units are Annex B (start codes), what FFmpeg's decoder takes without extradata;
 * the encoder (x264 without global headers) produces Annex B with SPS/PPS in front of every IDR.
 *
 * NAL header:  |F|NRI|  Type   |     STAP-A:  [hdr type 24] ([size: 16 bits][NAL unit])...
 * FU-A:        [indicator: F|NRI|28] [header: S|E|R|Type] [fragment]
 */
import { RtpPayloadError, type AssembledFrame, type PayloadFormat } from './payload.ts';

const START_CODE = Buffer.from([0, 0, 0, 1]);
const STAP_A = 24;
const FU_A = 28;
const NAL_IDR = 5;

/** Splits an Annex B byte stream into NAL units (subarrays, no copies). */
export function splitAnnexB(data: Buffer): Buffer[] {
  const nals: Buffer[] = [];
  let i = 0;
  let start = -1;
  const n = data.length;
  while (i + 2 < n) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      if (start >= 0) {
        let end = i;
        while (end > start && data[end - 1] === 0) end--; // trailing zero of a 4-byte start code
        if (end > start) nals.push(data.subarray(start, end));
      }
      i += 3;
      start = i;
    } else {
      i++;
    }
  }
  if (start >= 0 && start < n) nals.push(data.subarray(start));
  if (start < 0 && n > 0) nals.push(data); // no start code: one raw NAL
  return nals;
}

function checkNal(nal: Buffer, where: string): number {
  if (nal.length < 1) throw new RtpPayloadError(`empty NAL unit in ${where}`);
  if (nal[0]! & 0x80) throw new RtpPayloadError(`NAL unit with forbidden bit set in ${where}`);
  const type = nal[0]! & 0x1f;
  if (type === 0 || type > 23) throw new RtpPayloadError(`NAL unit type ${type} is invalid in ${where}`);
  return type;
}

export class H264PayloadFormat implements PayloadFormat {
  readonly codec = 'h264' as const;

  isFrameStart(payload: Buffer): boolean {
    if (payload.length < 1) throw new RtpPayloadError('H.264 payload is empty');
    if (payload[0]! & 0x80) throw new RtpPayloadError('H.264 payload with forbidden bit set');
    const type = payload[0]! & 0x1f;
    if (type >= 1 && type <= STAP_A) return true;
    if (type === FU_A) {
      if (payload.length < 2) throw new RtpPayloadError('FU-A packet truncated');
      return (payload[1]! & 0x80) !== 0;
    }
    throw new RtpPayloadError(`H.264 packet type ${type} is not allowed in packetization-mode 1`);
  }

  assemble(payloads: readonly Buffer[]): AssembledFrame {
    const parts: Buffer[] = [];
    let keyframe = false;
    let fuType = -1; // type of the FU-A being reassembled, -1: none
    const nal = (b: Buffer, where: string) => {
      if (checkNal(b, where) === NAL_IDR) keyframe = true;
      parts.push(START_CODE, b);
    };
    for (const p of payloads) {
      if (p.length < 1) throw new RtpPayloadError('H.264 payload is empty');
      if (p[0]! & 0x80) throw new RtpPayloadError('H.264 payload with forbidden bit set');
      const type = p[0]! & 0x1f;
      if (type !== FU_A && fuType >= 0) throw new RtpPayloadError('FU-A fragment sequence ended without its end bit');
      if (type >= 1 && type <= 23) {
        nal(p, 'single NAL packet');
      } else if (type === STAP_A) {
        let off = 1;
        let count = 0;
        while (off < p.length) {
          if (off + 2 > p.length) throw new RtpPayloadError('STAP-A size field truncated');
          const size = p.readUInt16BE(off);
          off += 2;
          if (size === 0 || off + size > p.length)
            throw new RtpPayloadError(`STAP-A NAL size ${size} overruns the packet`);
          nal(p.subarray(off, off + size), 'STAP-A');
          off += size;
          count++;
        }
        if (count === 0) throw new RtpPayloadError('STAP-A without NAL units');
      } else if (type === FU_A) {
        if (p.length < 3) throw new RtpPayloadError('FU-A packet truncated');
        const h = p[1]!;
        const start = (h & 0x80) !== 0;
        const end = (h & 0x40) !== 0;
        const inner = h & 0x1f;
        if (start) {
          if (fuType >= 0) throw new RtpPayloadError('FU-A start inside another fragmented NAL');
          const header = Buffer.from([(p[0]! & 0xe0) | inner]);
          checkNal(header, 'FU-A');
          if (inner === NAL_IDR) keyframe = true;
          parts.push(START_CODE, header);
          fuType = inner;
        } else if (fuType !== inner) {
          throw new RtpPayloadError('FU-A fragment without its start (or of another NAL type)');
        }
        parts.push(p.subarray(2));
        if (end) fuType = -1;
      } else {
        throw new RtpPayloadError(`H.264 packet type ${type} is not allowed in packetization-mode 1`);
      }
    }
    if (fuType >= 0) throw new RtpPayloadError('access unit ends inside a fragmented NAL unit');
    if (parts.length === 0) throw new RtpPayloadError('empty H.264 access unit');
    return { data: Buffer.concat(parts), keyframe };
  }

  packetize(frame: Buffer, _keyframe: boolean, maxPayloadBytes: number): Buffer[] {
    if (maxPayloadBytes < 3) throw new RangeError(`max payload ${maxPayloadBytes} B is too small for H.264`);
    const nals = splitAnnexB(frame).filter((n) => n.length > 0 && (n[0]! & 0x1f) !== 9); // access unit delimiters add nothing over RTP
    const out: Buffer[] = [];
    let i = 0;
    while (i < nals.length) {
      const first = nals[i]!;
      // Aggregate small neighbours (SPS, PPS, SEI before an IDR) into one STAP-A.
      let size = 1 + 2 + first.length;
      let j = i + 1;
      while (j < nals.length && size + 2 + nals[j]!.length <= maxPayloadBytes) size += 2 + nals[j++]!.length;
      if (j - i >= 2) {
        const p = Buffer.allocUnsafe(size);
        let nri = 0;
        for (let k = i; k < j; k++) nri = Math.max(nri, nals[k]![0]! & 0x60);
        p[0] = nri | STAP_A;
        let off = 1;
        for (let k = i; k < j; k++) {
          const n = nals[k]!;
          p.writeUInt16BE(n.length, off);
          n.copy(p, off + 2);
          off += 2 + n.length;
        }
        out.push(p);
        i = j;
        continue;
      }
      if (first.length <= maxPayloadBytes) {
        out.push(first);
      } else {
        const indicator = (first[0]! & 0xe0) | FU_A;
        const type = first[0]! & 0x1f;
        const room = maxPayloadBytes - 2;
        for (let off = 1; off < first.length; off += room) {
          const end = Math.min(first.length, off + room);
          const p = Buffer.allocUnsafe(2 + end - off);
          p[0] = indicator;
          p[1] = (off === 1 ? 0x80 : 0) | (end === first.length ? 0x40 : 0) | type;
          first.copy(p, 2, off, end);
          out.push(p);
        }
      }
      i++;
    }
    return out;
  }
}
