import { beforeAll, describe, expect, it } from 'vitest';
import {
  scaleI420,
  VideoDecoder,
  VideoEncoder,
  videoCodecId,
  type EncodedChunk,
} from '../../src/pipeline/io/codecs.ts';
import { Depacketizer, type EncodedFrame } from '../../src/pipeline/io/depacketizer.ts';
import { H264PayloadFormat, splitAnnexB } from '../../src/pipeline/io/h264.ts';
import { JitterBuffer } from '../../src/pipeline/io/jitterBuffer.ts';
import { OpusPayloadFormat } from '../../src/pipeline/io/opus.ts';
import type { PayloadFormat } from '../../src/pipeline/io/payload.ts';
import { parseRtpPacket, serializeRtpPacket } from '../../src/pipeline/io/rtpPacket.ts';
import { RtpStreamSender } from '../../src/pipeline/io/rtpSender.ts';
import { Vp8PayloadFormat } from '../../src/pipeline/io/vp8.ts';
import { clipFrames, encodedOpus, encodedVideo } from './fixtures.ts';

type Codec = 'vp8' | 'h264' | 'opus';

function format(codec: Codec): PayloadFormat {
  return codec === 'vp8'
    ? new Vp8PayloadFormat()
    : codec === 'h264'
      ? new H264PayloadFormat()
      : new OpusPayloadFormat();
}

/** Packetizes chunks; returns the packets and, per chunk, the range of packet indexes it became. */
function send(chunks: EncodedChunk[], codec: Codec, ssrc?: number) {
  const sender = new RtpStreamSender({
    format: format(codec),
    payloadType: 96,
    clockRate: codec === 'opus' ? 48_000 : 90_000,
    ...(ssrc !== undefined ? { ssrc } : {}),
  });
  const packets: Buffer[] = [];
  const ranges: [number, number][] = [];
  for (const c of chunks) {
    const ps = sender.packetize(c.data, c.keyframe, c.timestampUs);
    ranges.push([packets.length, packets.length + ps.length]);
    packets.push(...ps);
  }
  return { packets, ranges, sender };
}

function receive(packets: Buffer[], codec: Codec) {
  const jb = new JitterBuffer({ maxDelayMs: 50 });
  const dp = new Depacketizer(format(codec));
  const frames: EncodedFrame[] = [];
  const requests: string[] = [];
  const take = (outs: ReturnType<Depacketizer['processInput']>) => {
    for (const o of outs) {
      if (o.type === 'frame') frames.push(o.frame);
      else requests.push(o.reason);
    }
  };
  let now = 0;
  for (const b of packets) {
    for (const j of jb.processInput(parseRtpPacket(b), (now += 1))) take(dp.processInput(j));
  }
  for (const j of jb.flush()) take(dp.processInput(j));
  take(dp.flush());
  return { frames, requests, jb: jb.stats, dp: dp.stats };
}

/** Same bytes, compared as NAL lists for H.264 (the packetizer drops access unit delimiters). */
function sameFrame(codec: Codec, got: Buffer, want: Buffer): boolean {
  if (codec !== 'h264') return got.equals(want);
  const a = splitAnnexB(got);
  const b = splitAnnexB(want).filter((n) => (n[0]! & 0x1f) !== 9);
  return a.length === b.length && a.every((n, i) => n.equals(b[i]!));
}

const chunks: Record<Codec, EncodedChunk[]> = { vp8: [], h264: [], opus: [] };

beforeAll(async () => {
  await clipFrames();
  chunks.vp8 = await encodedVideo('vp8');
  chunks.h264 = await encodedVideo('h264');
  chunks.opus = await encodedOpus();
});

describe.each(['vp8', 'h264', 'opus'] as const)('%s (de)packetizer on real encoded frames', (codec) => {
  it('round-trips every frame bit-exactly, keyframes fragmented', () => {
    const { packets, ranges } = send(chunks[codec], codec);
    const { frames, jb, dp } = receive(packets, codec);
    expect(frames.length).toBe(chunks[codec].length);
    frames.forEach((f, i) => expect(sameFrame(codec, f.data, chunks[codec][i]!.data)).toBe(true));
    expect(jb.lost + dp.corrupt + dp.incomplete).toBe(0);
    if (codec !== 'opus') {
      const [a, b] = ranges[0]!;
      expect(b - a).toBeGreaterThan(1); // the first keyframe needs several packets
      expect(frames.filter((f) => f.keyframe).length).toBe(3); // gop 10 over 30 frames
      for (const p of packets) expect(p.length).toBeLessThanOrEqual(1212);
    }
  });

  it('recovers every frame from reordered and duplicated packets', () => {
    const { packets } = send(chunks[codec], codec);
    const mangled: Buffer[] = [];
    // Reverse each group of 4 and send every 7th packet twice.
    for (let i = 0; i < packets.length; i += 4) mangled.push(...packets.slice(i, i + 4).reverse());
    const withDups = mangled.flatMap((p, i) => (i % 7 === 3 ? [p, p] : [p]));
    const { frames, jb } = receive(withDups, codec);
    expect(frames.length).toBe(chunks[codec].length);
    frames.forEach((f, i) => expect(sameFrame(codec, f.data, chunks[codec][i]!.data)).toBe(true));
    expect(jb.duplicates).toBeGreaterThan(0);
    expect(jb.reordered).toBeGreaterThan(0);
    expect(jb.lost).toBe(0);
  });

  it('detects a lost packet; video waits for the next keyframe and asks for one', () => {
    const { packets, ranges } = send(chunks[codec], codec);
    const victim = ranges[3]![0]; // first packet of frame 3 (a delta frame)
    const { frames, requests, jb, dp } = receive(
      packets.filter((_, i) => i !== victim),
      codec,
    );
    expect(jb.lost).toBe(1);
    if (codec === 'opus') {
      expect(frames.length).toBe(chunks.opus.length - 1);
      return;
    }
    expect(requests).toContain('loss');
    // Frames 3..9 are undecodable (3 lost, 4..9 reference it); from keyframe 10 on all arrive.
    expect(frames.length).toBe(chunks[codec].length - 7);
    expect(dp.waitingForKeyframe).toBe(6);
    expect(frames[3]!.keyframe).toBe(true);
    expect(sameFrame(codec, frames[3]!.data, chunks[codec][10]!.data)).toBe(true);
  });

  it('drops and counts a corrupt payload, and the stream continues', () => {
    const { packets, ranges } = send(chunks[codec], codec);
    const bad = ranges[5]![0];
    const p = parseRtpPacket(packets[bad]!);
    const junk =
      codec === 'vp8'
        ? Buffer.from([0x80]) // X bit set, extension byte missing
        : codec === 'h264'
          ? Buffer.from([0x1e, 1, 2, 3]) // NAL type 30: not allowed in mode 1
          : Buffer.alloc(0); // an empty Opus packet
    const copy = [...packets];
    copy[bad] = serializeRtpPacket({ ...p, payload: junk });
    const { frames, dp } = receive(copy, codec);
    expect(dp.corrupt).toBe(1);
    const last = frames[frames.length - 1]!;
    expect(sameFrame(codec, last.data, chunks[codec][chunks[codec].length - 1]!.data)).toBe(true);
    expect(frames.length).toBeGreaterThanOrEqual(chunks[codec].length - (codec === 'opus' ? 1 : 5));
  });

  it('follows a sender that switches SSRC mid-stream', () => {
    const half = codec === 'opus' ? 20 : 10; // video switches at a keyframe, as a restarted encoder does
    const a = send(chunks[codec].slice(0, half), codec, 1111);
    const b = send(chunks[codec].slice(half), codec, 2222);
    const { frames, jb, dp } = receive([...a.packets, ...b.packets], codec);
    expect(jb.resets).toBe(1);
    expect(dp.resets).toBe(1);
    expect(frames.length).toBe(chunks[codec].length);
    expect(frames[frames.length - 1]!.ssrc).toBe(2222);
  });
});

describe('H.264 packetization modes', () => {
  it('uses single NAL, STAP-A and FU-A packets', () => {
    const { packets } = send(chunks.h264, 'h264');
    const types = new Set(packets.map((b) => parseRtpPacket(b).payload[0]! & 0x1f));
    expect(types.has(24)).toBe(true); // SPS+PPS aggregated
    expect(types.has(28)).toBe(true); // keyframe fragmented
    expect([...types].some((t) => t >= 1 && t <= 23)).toBe(true);
  });

  it('rejects an FU-A that lost its start even without a reported loss', () => {
    const { packets, ranges } = send(chunks.h264, 'h264');
    // Rewrite the stream with the keyframe's first FU-A fragment removed and sequence numbers closed up.
    const [a, b] = ranges[0]!;
    const fuStart = packets.slice(a, b).findIndex((p) => (parseRtpPacket(p).payload[0]! & 0x1f) === 28);
    const kept = packets.filter((_, i) => i !== a + fuStart);
    const renumbered = kept.map((p, i) =>
      serializeRtpPacket({ ...parseRtpPacket(p), sequenceNumber: (1000 + i) & 0xffff }),
    );
    const { dp } = receive(renumbered, 'h264');
    expect(dp.corrupt + dp.incomplete).toBeGreaterThan(0);
  });
});

describe('decode after depacketizing', () => {
  it.each(['vp8', 'h264'] as const)('%s: depacketized frames decode to the clip size', async (codec) => {
    const { packets } = send(chunks[codec], codec);
    const { frames } = receive(packets, codec);
    const dec = await VideoDecoder.create({ codecId: videoCodecId(codec) });
    let n = 0;
    for (const f of frames) {
      for (const v of await dec.decode(f.data, n * 40_000)) {
        expect([v.width, v.height]).toEqual([524, 524]);
        n++;
      }
    }
    n += (await dec.decode(null, 0)).length;
    dec.close();
    expect(n).toBe(frames.length);
  });

  it('follows a resolution change mid-stream (VP8 encoder re-created, decoder follows)', async () => {
    const { video } = await clipFrames();
    const enc = VideoEncoder.create({ codec: 'vp8', bitrateBps: 500_000 });
    const out: EncodedChunk[] = [];
    for (const [i, f] of video.slice(0, 10).entries()) {
      const g = i < 5 ? f : scaleI420(f, 320, 240);
      out.push(...(await enc.encode({ ...g, timestampUs: i * 40_000 })));
    }
    enc.close();
    expect(enc.reinits).toBe(1);
    expect(out[5]!.keyframe).toBe(true);
    const { packets } = send(out, 'vp8');
    const { frames } = receive(packets, 'vp8');
    expect(frames[5]).toMatchObject({ keyframe: true, width: 320, height: 240 });
    const dec = await VideoDecoder.create({ codecId: videoCodecId('vp8') });
    const sizes: string[] = [];
    for (const f of frames) for (const v of await dec.decode(f.data, 0)) sizes.push(`${v.width}x${v.height}`);
    dec.close();
    expect(sizes.slice(0, 5).every((s) => s === '524x524')).toBe(true);
    expect(sizes.slice(5).every((s) => s === '320x240')).toBe(true);
  });
});
