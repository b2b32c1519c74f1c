/**
 * Reorders one RTP stream by sequence number, drops duplicates and late packets, and declares a gap lost once the
 * packets held behind it have waited `maxDelayMs` (or the buffer is full). A pure processor: `processInput(packet,
 * nowMs)` and `poll(nowMs)` return what can leave, in order, with explicit loss and reset markers, so it is tested
 * without a network or timers.
 *
 * A new SSRC (the sender restarted or switched encoders) or a sequence jump of more than `maxJump` resets the buffer
 * and the stream continues from the new packet: followed, not fatal.
 */
import type { RtpPacket } from './rtpPacket.ts';
import { seqDiff, uint16Add } from './rtpMath.ts';

export type JitterOutput =
  | { type: 'packet'; packet: RtpPacket }
  /** `count` packets before the next one will never come. */
  | { type: 'loss'; count: number }
  /** The stream restarted (new SSRC or a sequence jump); what follows is not continuous with what came before. */
  | { type: 'reset'; reason: 'ssrc' | 'jump'; ssrc: number };

export interface JitterBufferOptions {
  /** How long packets wait behind a gap before it is declared lost. Default 100 ms (audio: use less). */
  maxDelayMs?: number;
  /** Most packets held behind a gap. Default 500. */
  capacity?: number;
  /** A sequence jump beyond this many packets is a restart, not a loss. Default 1000. */
  maxJump?: number;
}

export interface JitterBufferStats {
  received: number;
  released: number;
  lost: number;
  duplicates: number;
  late: number;
  /** Packets that arrived ahead of a gap and were put back in order. */
  reordered: number;
  resets: number;
}

interface Held {
  packet: RtpPacket;
  arrivalMs: number;
}

export class JitterBuffer {
  private readonly maxDelayMs: number;
  private readonly capacity: number;
  private readonly maxJump: number;
  private ssrc: number | null = null;
  private nextSeq = 0;
  /** Local time of the (re)start while the start-up wait lasts: the first packet may not be the first sent. */
  private startMs: number | null = null;
  private readonly held = new Map<number, Held>();
  /** Recently released sequence numbers, to tell a duplicate from a late packet. */
  private readonly recent = new Uint8Array(65536);
  private readonly recentRing = new Int32Array(256).fill(-1);
  private recentPos = 0;
  readonly stats: JitterBufferStats = {
    received: 0,
    released: 0,
    lost: 0,
    duplicates: 0,
    late: 0,
    reordered: 0,
    resets: 0,
  };

  constructor(opts: JitterBufferOptions = {}) {
    this.maxDelayMs = opts.maxDelayMs ?? 100;
    this.capacity = opts.capacity ?? 500;
    this.maxJump = opts.maxJump ?? 1000;
  }

  processInput(packet: RtpPacket, nowMs: number): JitterOutput[] {
    this.stats.received++;
    const out: JitterOutput[] = [];
    if (this.ssrc !== packet.ssrc) {
      this.restart(packet, out, 'ssrc', nowMs);
    } else {
      const d = seqDiff(packet.sequenceNumber, this.nextSeq);
      if (d > this.maxJump || d < -this.maxJump) {
        this.restart(packet, out, 'jump', nowMs);
      } else if (this.held.has(packet.sequenceNumber)) {
        this.stats.duplicates++;
        return out;
      } else if (d < 0 && this.startMs !== null) {
        this.nextSeq = packet.sequenceNumber; // an earlier packet overtaken during start-up
      } else if (d < 0) {
        if (this.recent[packet.sequenceNumber]) this.stats.duplicates++;
        else this.stats.late++;
        return out;
      }
    }
    const fillsHole = packet.sequenceNumber === this.nextSeq && this.held.size > 0;
    this.held.set(packet.sequenceNumber, { packet, arrivalMs: nowMs });
    if (fillsHole) this.stats.reordered++;
    if (this.startMs !== null) {
      if (nowMs - this.startMs < this.maxDelayMs && this.held.size < this.capacity) return out;
      this.startMs = null;
    }
    this.release(out);
    this.expire(out, nowMs);
    return out;
  }

  /** Declares gaps lost whose packets waited too long (call on a timer, e.g. every 10 ms). */
  poll(nowMs: number): JitterOutput[] {
    const out: JitterOutput[] = [];
    if (this.startMs !== null) {
      if (nowMs - this.startMs < this.maxDelayMs) return out;
      this.startMs = null;
      this.release(out);
    }
    this.expire(out, nowMs);
    return out;
  }

  /** Releases everything held, declaring every gap lost (end of stream). */
  flush(): JitterOutput[] {
    const out: JitterOutput[] = [];
    this.startMs = null;
    while (this.held.size > 0) this.skipToOldest(out);
    return out;
  }

  /** Packets held behind a gap. */
  get size(): number {
    return this.held.size;
  }

  private restart(packet: RtpPacket, out: JitterOutput[], reason: 'ssrc' | 'jump', nowMs: number): void {
    const first = this.ssrc === null;
    out.push(...this.flush());
    this.startMs = nowMs;
    this.ssrc = packet.ssrc;
    this.nextSeq = packet.sequenceNumber;
    this.recent.fill(0);
    this.recentRing.fill(-1);
    if (first) return; // the first packet is a start, not a reset
    this.stats.resets++;
    out.push({ type: 'reset', reason, ssrc: packet.ssrc });
  }

  /** Packets wait for the start-up reorder window only once per (re)start; `true` while it lasts. */
  get starting(): boolean {
    return this.startMs !== null;
  }

  private release(out: JitterOutput[]): void {
    for (;;) {
      const h = this.held.get(this.nextSeq);
      if (!h) return;
      this.held.delete(this.nextSeq);
      this.remember(this.nextSeq);
      this.nextSeq = uint16Add(this.nextSeq, 1);
      this.stats.released++;
      out.push({ type: 'packet', packet: h.packet });
    }
  }

  private remember(seq: number): void {
    const old = this.recentRing[this.recentPos]!;
    if (old >= 0) this.recent[old] = 0;
    this.recentRing[this.recentPos] = seq;
    this.recent[seq] = 1;
    this.recentPos = (this.recentPos + 1) % this.recentRing.length;
  }

  private expire(out: JitterOutput[], nowMs: number): void {
    while (this.held.size > 0) {
      let oldestArrival = Infinity;
      for (const h of this.held.values()) oldestArrival = Math.min(oldestArrival, h.arrivalMs);
      if (this.held.size <= this.capacity && nowMs - oldestArrival < this.maxDelayMs) return;
      this.skipToOldest(out);
    }
  }

  /** Gives up on the gap in front of the lowest held sequence number. */
  private skipToOldest(out: JitterOutput[]): void {
    let best = -1;
    let bestD = Infinity;
    for (const seq of this.held.keys()) {
      const d = seqDiff(seq, this.nextSeq);
      if (d < bestD) {
        bestD = d;
        best = seq;
      }
    }
    if (best < 0) return;
    if (bestD > 0) {
      this.stats.lost += bestD;
      out.push({ type: 'loss', count: bestD });
    }
    this.nextSeq = best;
    this.release(out);
  }
}
