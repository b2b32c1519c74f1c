/**
 * Places dubbed segments on the speaker's output timeline: each at (source start + a constant delay), pushed back
 * when the previous one runs long, so segments never overlap and no silence is added that was not in the source;
 * a pushed-back run catches up in the source's own pauses (the next segment whose nominal start is free of the
 * previous one starts on time again). See docs/dub.md for the matching video-delay policy.
 *
 * A timeline keeps every placed segment (and its PCM) until told otherwise: the offline path renders and lists the
 * whole of it. A live consumer, which may run for hours, calls `forgetBefore(outputMs)` as its playback advances, so
 * what it holds stays bounded; the placement rules (source order, no overlap) still hold against the last placed
 * segment, which is kept aside (`last`) even once forgotten from `placed`.
 */
import { resample } from '../audio/resample.ts';
import type { DubSegment } from './types.ts';

export interface DubTimelineOptions {
  /** Constant delay from the source speech to its dub (the video is delayed by the same amount). Default 1500 ms. */
  delayMs?: number;
  /** A placed segment whose lag (beyond the delay) exceeds this is reported as `overrun` in its placement. Default 2000 ms. */
  maxLagMs?: number;
}

export const defaultDubTimelineOptions: Required<DubTimelineOptions> = { delayMs: 1500, maxLagMs: 2000 };

export interface PlacedSegment {
  segment: DubSegment;
  /** Output timeline position (the speaker's clock + delay). */
  outputStartMs: number;
  outputEndMs: number;
  /** How far behind its nominal start (sourceStartMs + delayMs) the segment was placed; 0 when on time. */
  lagMs: number;
  /** lagMs > maxLagMs: the dub is running far behind the speaker (long translations back to back). */
  overrun: boolean;
}

export function segmentDurationMs(seg: DubSegment): number {
  return (seg.pcm.length / seg.sampleRate) * 1000;
}

export class DubTimeline {
  readonly delayMs: number;
  readonly maxLagMs: number;
  /** Placed segments not yet forgotten, in placement (= output) order. */
  private readonly items: PlacedSegment[] = [];
  /** The last placed segment, kept when forgetBefore drops it from `items`: the next one is placed against it. */
  private lastPlaced: PlacedSegment | undefined;
  private forgotten = 0;

  constructor(options: DubTimelineOptions = {}) {
    const o = { ...defaultDubTimelineOptions, ...options };
    if (!(o.delayMs >= 0) || !(o.maxLagMs >= 0)) {
      throw new RangeError(`DubTimeline: delayMs and maxLagMs must be >= 0, got ${o.delayMs}, ${o.maxLagMs}`);
    }
    this.delayMs = o.delayMs;
    this.maxLagMs = o.maxLagMs;
  }

  /** End of the last placed segment on the output timeline (or -Infinity when none was placed). */
  get endMs(): number {
    return this.lastPlaced?.outputEndMs ?? -Infinity;
  }

  /** The placed segments not forgotten (all of them unless forgetBefore was called), in output order. */
  get placed(): readonly PlacedSegment[] {
    return this.items;
  }

  /** The last placed segment, also once forgetBefore dropped it from `placed`; undefined before the first. */
  get last(): PlacedSegment | undefined {
    return this.lastPlaced;
  }

  /** How many placed segments forgetBefore has dropped so far. */
  get forgottenCount(): number {
    return this.forgotten;
  }

  /**
   * Forgets the placed segments that end at or before `outputMs` on the output timeline (a live consumer's playback
   * cursor: nothing before it will be read again), releasing their PCM. Placement is unaffected: the last placed
   * segment is kept aside for the order and overlap rules. `render` then renders silence where forgotten segments
   * played. Returns how many were forgotten.
   */
  forgetBefore(outputMs: number): number {
    // Placed segments never overlap and come in output order: the forgettable ones are a prefix.
    let n = 0;
    while (n < this.items.length && this.items[n]!.outputEndMs <= outputMs) n++;
    if (n > 0) this.items.splice(0, n);
    this.forgotten += n;
    return n;
  }

  /** Places the next segment. Segments come in source order (as every dub source emits them). */
  place(segment: DubSegment): PlacedSegment {
    const prev = this.lastPlaced;
    if (prev && segment.sourceStartMs < prev.segment.sourceStartMs) {
      throw new RangeError(
        `DubTimeline: segment ${segment.id} starts at ${segment.sourceStartMs} ms, before the previous one (${prev.segment.sourceStartMs} ms)`,
      );
    }
    const nominal = segment.sourceStartMs + this.delayMs;
    const outputStartMs = Math.max(nominal, prev?.outputEndMs ?? -Infinity);
    const lagMs = outputStartMs - nominal;
    const placed: PlacedSegment = {
      segment,
      outputStartMs,
      outputEndMs: outputStartMs + segmentDurationMs(segment),
      lagMs,
      overrun: lagMs > this.maxLagMs,
    };
    this.items.push(placed);
    this.lastPlaced = placed;
    return placed;
  }

  /**
   * Renders [fromMs, toMs) of the output timeline at `sampleRate` (silence where no segment plays, or where a
   * forgotten one did). For offline use; a live consumer plays each placed segment at its `outputStartMs`.
   */
  render(sampleRate: number, fromMs = 0, toMs = Math.max(0, this.endMs)): Float32Array {
    const n = Math.max(0, Math.round(((toMs - fromMs) * sampleRate) / 1000));
    const out = new Float32Array(n);
    for (const p of this.items) {
      const pcm = resample(p.segment.pcm, p.segment.sampleRate, sampleRate);
      const at = Math.round(((p.outputStartMs - fromMs) * sampleRate) / 1000);
      for (let i = Math.max(0, -at); i < pcm.length && at + i < n; i++) out[at + i] = pcm[i]!;
    }
    return out;
  }
}

/**
 * Trims a synthesised segment's leading and trailing pauses down to `keepMs` (using its phoneme timings), so the
 * dub starts speaking when the speaker did and a pushed-back timeline catches up sooner. Phoneme times are shifted
 * to match. Segments without phonemes are returned as they are.
 */
export function trimSegmentPauses(seg: DubSegment, keepMs = 40): DubSegment {
  const ph = seg.phonemes;
  if (!ph?.length) return seg;
  const first = ph.findIndex((p) => p.kind === 'speech');
  if (first < 0) return seg;
  let last = ph.length - 1;
  while (last > first && ph[last]!.kind === 'pause') last--;
  const durMs = segmentDurationMs(seg);
  const cutStartMs = Math.max(0, ph[first]!.startMs - keepMs);
  const cutEndMs = Math.min(durMs, ph[last]!.endMs + keepMs);
  const a = Math.round((cutStartMs * seg.sampleRate) / 1000);
  const b = Math.round((cutEndMs * seg.sampleRate) / 1000);
  const shiftMs = (a / seg.sampleRate) * 1000;
  const endMs = (b / seg.sampleRate) * 1000 - shiftMs;
  const phonemes = ph
    .map((p) => ({ ...p, startMs: Math.max(0, p.startMs - shiftMs), endMs: Math.min(endMs, p.endMs - shiftMs) }))
    .filter((p) => p.endMs > p.startMs);
  return { ...seg, pcm: seg.pcm.slice(a, b), phonemes };
}
