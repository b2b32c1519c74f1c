import { describe, expect, it } from 'vitest';
import { SenderClock } from '../../src/pipeline/io/clock.ts';
import { JitterBuffer } from '../../src/pipeline/io/jitterBuffer.ts';
import { buildSenderReport, parseSenderReports } from '../../src/pipeline/io/rtcp.ts';
import type { RtpPacket } from '../../src/pipeline/io/rtpPacket.ts';
import { seqDiff, TimestampUnwrapper, tsDiff, uint16Add } from '../../src/pipeline/io/rtpMath.ts';

describe('RTP math', () => {
  it('wraps sequence numbers and timestamps', () => {
    expect(uint16Add(0xffff, 2)).toBe(1);
    expect(seqDiff(1, 0xffff)).toBe(2);
    expect(seqDiff(0xffff, 1)).toBe(-2);
    expect(tsDiff(5, 0xfffffffb)).toBe(10);
    const u = new TimestampUnwrapper();
    expect(u.unwrap(0xfffffff0)).toBe(0xfffffff0);
    expect(u.unwrap(0x10)).toBe(0x100000010);
  });
});

describe('RTCP sender reports', () => {
  it('round-trip through build/parse, also inside a compound packet', () => {
    const sr = {
      ssrc: 0xdeadbeef,
      ntpTimeMs: 1_700_000_000_123.5,
      rtpTimestamp: 0xfffffff0,
      packetCount: 7,
      octetCount: 9000,
    };
    const rr = Buffer.from([0x80, 201, 0, 1, 0, 0, 0, 1]); // an empty receiver report in front
    const [got] = parseSenderReports(Buffer.concat([rr, buildSenderReport(sr)]));
    expect(got).toMatchObject({ ssrc: sr.ssrc, rtpTimestamp: sr.rtpTimestamp, packetCount: 7, octetCount: 9000 });
    expect(got!.ntpTimeMs).toBeCloseTo(sr.ntpTimeMs, 3);
  });
});

describe('SenderClock', () => {
  it('puts simultaneous audio and video samples at the same time from SRs, whatever their arrival skew', () => {
    // The sender samples both at its wall clock W; video travels 80 ms longer (a slower path, a pacer).
    const W0 = 1_700_000_000_000; // sender NTP ms
    const aBase = 0xfffff000; // audio RTP base near wraparound
    const vBase = 123_456;
    const aRtp = (ms: number) => (aBase + ms * 48) >>> 0;
    const vRtp = (ms: number) => (vBase + ms * 90) >>> 0;
    const clock = new SenderClock();
    clock.addStream('audio', 48_000);
    clock.addStream('video', 90_000);
    const local = (ms: number) => 5_000 + ms; // our clock runs 5 s after the sender's origin
    // Before any SR: arrival-based, so video appears 80 ms late.
    const a0 = clock.toTimestampUs('audio', aRtp(0), local(0) + 10);
    const v0 = clock.toTimestampUs('video', vRtp(0), local(0) + 90);
    expect((v0 - a0) / 1000).toBeCloseTo(80, 0);
    // SRs for both streams (sent at sender time 500 ms), arriving before later packets.
    clock.toTimestampUs('audio', aRtp(480), local(480) + 10);
    clock.onSenderReport('audio', W0 + 500, aRtp(500));
    clock.onSenderReport('video', W0 + 500, vRtp(500));
    expect(clock.hasSenderReport('video')).toBe(true);
    for (const t of [600, 1_000, 20_000, 100_000]) {
      const a = clock.toTimestampUs('audio', aRtp(t), local(t) + 10 + (t % 7));
      const v = clock.toTimestampUs('video', vRtp(t), local(t) + 90 + (t % 5));
      expect(Math.abs(a - v)).toBeLessThan(1); // microseconds
      expect((a - a0) / 1000).toBeCloseTo(t, 0); // one timeline in ms of media time
    }
  });

  it('restarts a stream after an SSRC change without moving the other', () => {
    const clock = new SenderClock();
    clock.addStream('video', 90_000);
    clock.toTimestampUs('video', 1000, 0);
    expect(clock.toTimestampUs('video', 1000 + 90 * 40, 40) / 1000).toBeCloseTo(40, 3);
    clock.resetStream('video');
    // The new SSRC's random base maps through its arrival time: continuous, no jump to the old base.
    expect(clock.toTimestampUs('video', 777_777, 80) / 1000).toBeCloseTo(80, 3);
  });
});

describe('JitterBuffer', () => {
  const pkt = (seq: number, ssrc = 1): RtpPacket => ({
    marker: false,
    payloadType: 96,
    sequenceNumber: seq & 0xffff,
    timestamp: seq * 100,
    ssrc,
    payload: Buffer.from([seq & 0xff]),
  });
  const seqs = (outs: ReturnType<JitterBuffer['processInput']>) =>
    outs.map((o) => (o.type === 'packet' ? o.packet.sequenceNumber : o.type === 'loss' ? `loss${o.count}` : o.type));

  it('waits maxDelayMs for a gap, then declares it lost; late packets after that are counted, not released', () => {
    const jb = new JitterBuffer({ maxDelayMs: 30 });
    const out = [...jb.processInput(pkt(0xfffe), 0), ...jb.poll(40)];
    out.push(...jb.processInput(pkt(0xffff), 41));
    out.push(...jb.processInput(pkt(2), 42)); // 0 and 1 missing (across the wrap)
    expect(seqs(out)).toEqual([0xfffe, 0xffff]);
    expect(seqs(jb.poll(60))).toEqual([]);
    expect(seqs(jb.poll(73))).toEqual(['loss2', 2]);
    expect(jb.stats.lost).toBe(2);
    jb.processInput(pkt(1), 80);
    jb.processInput(pkt(2), 81);
    expect(jb.stats.late).toBe(1);
    expect(jb.stats.duplicates).toBe(1);
  });

  it('treats a large sequence jump as a restart', () => {
    const jb = new JitterBuffer({ maxDelayMs: 0 });
    jb.processInput(pkt(10), 0);
    expect(seqs(jb.processInput(pkt(30_000), 1))).toEqual(['reset', 30_000]);
  });

  it('bounds what it holds', () => {
    const jb = new JitterBuffer({ maxDelayMs: 1e9, capacity: 8 });
    jb.processInput(pkt(0), 0);
    for (let s = 2; s < 20; s++) jb.processInput(pkt(s), s);
    expect(jb.size).toBeLessThanOrEqual(8);
    expect(jb.stats.lost).toBe(1);
  });
});
