/** Wraparound-safe RTP arithmetic (16-bit sequence numbers, 32-bit timestamps). */

export function uint16Add(a: number, b: number): number {
  return (a + b) & 0xffff;
}

export function uint32Add(a: number, b: number): number {
  return (a + b) >>> 0;
}

/** Signed distance a - b in [-32768, 32767]: > 0 when `a` is newer than `b`. */
export function seqDiff(a: number, b: number): number {
  const d = (a - b) & 0xffff;
  return d >= 0x8000 ? d - 0x10000 : d;
}

/** Signed distance a - b between 32-bit RTP timestamps. */
export function tsDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** Extends 32-bit RTP timestamps to a monotonic-ish number line (float64 holds 2^53: ages at 90 kHz). */
export class TimestampUnwrapper {
  private last: number | null = null;
  private extended = 0;

  unwrap(ts: number): number {
    if (this.last === null) {
      this.last = ts >>> 0;
      this.extended = this.last;
      return this.extended;
    }
    this.extended += tsDiff(ts, this.last);
    this.last = ts >>> 0;
    return this.extended;
  }

  /** Extends `ts` near the last unwrapped value without moving the state (an SR's timestamp). */
  peek(ts: number): number {
    if (this.last === null) return ts >>> 0;
    return this.extended + tsDiff(ts, this.last);
  }

  reset(): void {
    this.last = null;
    this.extended = 0;
  }
}
