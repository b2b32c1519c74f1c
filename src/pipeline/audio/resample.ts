/**
 * Band-limited sample-rate conversion in pure JS: a Kaiser-windowed sinc evaluated from a precomputed table, any
 * pair of rates (44.1 kHz <-> 16 kHz, 48 kHz -> 22.05 kHz...). Streaming (`Resampler.process` / `flush`) or one-shot
 * (`resample`). Output sample j sits exactly at input time j * fromRate / toRate, so a one-shot conversion adds no
 * delay; the streaming form holds back `lookaheadSamples` of input until more arrives or `flush()` is called.
 */

export interface ResamplerOptions {
  /** Zero crossings of the sinc on each side: quality against cost. Default 16 (about 80 dB stop band). */
  zeroCrossings?: number;
  /** Pass band as a fraction of the lower Nyquist frequency. Default 0.94. */
  rolloff?: number;
}

export const defaultResamplerOptions: Required<ResamplerOptions> = { zeroCrossings: 16, rolloff: 0.94 };

const TABLE_STEPS = 256; // kernel table entries per input sample

function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 50; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
    if (term < sum * 1e-12) break;
  }
  return sum;
}

export class Resampler {
  readonly fromRate: number;
  readonly toRate: number;
  /** Input samples the streaming form holds back before it can emit the output that depends on them. */
  readonly lookaheadSamples: number;
  private readonly table: Float32Array;
  private readonly halfWidth: number;
  private readonly passthrough: boolean;
  private buf = new Float32Array(0);
  /** Absolute input index of buf[0]. */
  private bufStart = 0;
  private totalIn = 0;
  private nextOut = 0;
  private flushed = false;

  constructor(fromRate: number, toRate: number, options: ResamplerOptions = {}) {
    if (!(fromRate > 0 && toRate > 0 && Number.isFinite(fromRate) && Number.isFinite(toRate))) {
      throw new RangeError(`Resampler: rates must be positive numbers, got ${fromRate} -> ${toRate}`);
    }
    const { zeroCrossings, rolloff } = { ...defaultResamplerOptions, ...options };
    this.fromRate = fromRate;
    this.toRate = toRate;
    this.passthrough = fromRate === toRate;
    const fc = Math.min(1, toRate / fromRate) * rolloff; // cutoff, in cycles per 2 input samples
    this.halfWidth = Math.ceil(zeroCrossings / fc);
    this.lookaheadSamples = this.passthrough ? 0 : this.halfWidth;
    const beta = 8.6;
    const n = this.halfWidth * TABLE_STEPS + 2;
    this.table = new Float32Array(n);
    const i0b = besselI0(beta);
    for (let i = 0; i < n; i++) {
      const x = i / TABLE_STEPS;
      const r = x / this.halfWidth;
      if (r >= 1) continue;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * fc * x) / (Math.PI * fc * x);
      this.table[i] = fc * sinc * (besselI0(beta * Math.sqrt(1 - r * r)) / i0b);
    }
  }

  /** Feeds input; returns the output samples that are now fully determined. */
  process(input: Float32Array): Float32Array {
    if (this.flushed) throw new Error('Resampler: process() after flush()');
    if (this.passthrough) return input.slice();
    const merged = new Float32Array(this.buf.length + input.length);
    merged.set(this.buf);
    merged.set(input, this.buf.length);
    this.buf = merged;
    this.totalIn += input.length;
    return this.emit(this.totalIn - this.halfWidth - 1);
  }

  /** End of input: pads with silence and returns the rest, so the whole run has round(n * to / from) samples. */
  flush(): Float32Array {
    if (this.flushed || this.passthrough) {
      this.flushed = true;
      return new Float32Array(0);
    }
    this.flushed = true;
    const end = Math.round((this.totalIn * this.toRate) / this.fromRate);
    return this.emit(Infinity, end);
  }

  /** Emits outputs whose center lies at or before input index `maxCenter` (and below `endOut`). */
  private emit(maxCenter: number, endOut = Infinity): Float32Array {
    const out: number[] = [];
    const { fromRate, toRate, halfWidth, table, buf, bufStart } = this;
    for (;;) {
      const j = this.nextOut;
      if (j >= endOut) break;
      const t = (j * fromRate) / toRate;
      if (t > maxCenter) break;
      const lo = Math.max(Math.floor(t) - halfWidth + 1, bufStart);
      const hi = Math.min(Math.floor(t) + halfWidth, bufStart + buf.length - 1);
      let acc = 0;
      for (let k = lo; k <= hi; k++) {
        const pos = Math.abs(t - k) * TABLE_STEPS;
        const i = pos | 0;
        const f = pos - i;
        const w = table[i]! + (table[i + 1]! - table[i]!) * f;
        acc += w * buf[k - bufStart]!;
      }
      out.push(acc);
      this.nextOut++;
    }
    // Keep only the history the next output still needs.
    const nextT = (this.nextOut * fromRate) / toRate;
    const keepFrom = Math.floor(nextT) - halfWidth + 1;
    if (keepFrom > bufStart) {
      const drop = Math.min(keepFrom - bufStart, buf.length);
      this.buf = buf.subarray(drop);
      this.bufStart += drop;
    }
    return Float32Array.from(out);
  }
}

/** One-shot conversion of a whole signal. Returns the input itself when the rates are equal. */
export function resample(
  input: Float32Array,
  fromRate: number,
  toRate: number,
  options?: ResamplerOptions,
): Float32Array {
  if (fromRate === toRate) return input;
  const r = new Resampler(fromRate, toRate, options);
  const a = r.process(input);
  const b = r.flush();
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
