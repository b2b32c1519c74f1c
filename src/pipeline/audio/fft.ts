/**
 * A mixed-radix complex FFT (any length; fast for lengths made of small factors, e.g. 800 = 2^5 * 5^2 for the
 * IP_LAP / Wav2Lip STFT). Decimation in time as in KISS FFT: recursive split by the plan's factors, generic
 * radix-p butterflies with precomputed twiddles. Forward transform, no scaling: X[k] = sum_n x[n] e^{-2 pi i n k / N}.
 */
export class Fft {
  readonly size: number;
  private readonly factors: number[] = [];
  private readonly twRe: Float64Array;
  private readonly twIm: Float64Array;
  private readonly scratchRe: Float64Array;
  private readonly scratchIm: Float64Array;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new TypeError(`FFT size must be a positive integer, got ${size}`);
    this.size = size;
    let n = size;
    let maxP = 1;
    // Factor with 4 first (cheaper stages), then 2, 3, 5, and any remaining primes.
    for (const p of [4, 2, 3, 5]) {
      while (n % p === 0) {
        this.factors.push(p, (n /= p));
        maxP = Math.max(maxP, p);
      }
    }
    for (let p = 7; n > 1; p += 2) {
      while (n % p === 0) {
        this.factors.push(p, (n /= p));
        maxP = Math.max(maxP, p);
      }
      if (p * p > n && n > 1) {
        this.factors.push(n, 1);
        maxP = Math.max(maxP, n);
        n = 1;
      }
    }
    this.twRe = new Float64Array(size);
    this.twIm = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      const a = (-2 * Math.PI * i) / size;
      this.twRe[i] = Math.cos(a);
      this.twIm[i] = Math.sin(a);
    }
    this.scratchRe = new Float64Array(maxP);
    this.scratchIm = new Float64Array(maxP);
  }

  /** Transforms (inRe, inIm) into (outRe, outIm). Input and output must be distinct arrays of length `size`. */
  transform(inRe: Float64Array, inIm: Float64Array, outRe: Float64Array, outIm: Float64Array): void {
    if (this.size === 1) {
      outRe[0] = inRe[0] ?? 0;
      outIm[0] = inIm[0] ?? 0;
      return;
    }
    this.work(outRe, outIm, 0, inRe, inIm, 0, 1, 0);
  }

  private work(
    outRe: Float64Array,
    outIm: Float64Array,
    outOff: number,
    inRe: Float64Array,
    inIm: Float64Array,
    inOff: number,
    fstride: number,
    fi: number,
  ): void {
    const p = this.factors[fi]!;
    const m = this.factors[fi + 1]!;
    if (m === 1) {
      for (let j = 0; j < p; j++) {
        outRe[outOff + j] = inRe[inOff + j * fstride]!;
        outIm[outOff + j] = inIm[inOff + j * fstride]!;
      }
    } else {
      for (let j = 0; j < p; j++) {
        this.work(outRe, outIm, outOff + j * m, inRe, inIm, inOff + j * fstride, fstride * p, fi + 2);
      }
    }
    this.butterfly(outRe, outIm, outOff, fstride, m, p);
  }

  private butterfly(re: Float64Array, im: Float64Array, off: number, fstride: number, m: number, p: number): void {
    const n = this.size;
    const twRe = this.twRe;
    const twIm = this.twIm;
    const sRe = this.scratchRe;
    const sIm = this.scratchIm;
    if (p === 2) {
      for (let u = 0; u < m; u++) {
        const a = off + u;
        const b = a + m;
        const t = u * fstride;
        const wr = twRe[t]!;
        const wi = twIm[t]!;
        const br = re[b]! * wr - im[b]! * wi;
        const bi = re[b]! * wi + im[b]! * wr;
        re[b] = re[a]! - br;
        im[b] = im[a]! - bi;
        re[a] = re[a]! + br;
        im[a] = im[a]! + bi;
      }
      return;
    }
    for (let u = 0; u < m; u++) {
      // Twiddle the inputs of this butterfly, then a p-point DFT.
      for (let q = 0; q < p; q++) {
        const k = off + u + q * m;
        const t = (q * u * fstride) % n;
        const wr = twRe[t]!;
        const wi = twIm[t]!;
        sRe[q] = re[k]! * wr - im[k]! * wi;
        sIm[q] = re[k]! * wi + im[k]! * wr;
      }
      const step = fstride * m; // = n / p
      for (let q1 = 0; q1 < p; q1++) {
        let accRe = sRe[0]!;
        let accIm = sIm[0]!;
        let t = 0;
        for (let q = 1; q < p; q++) {
          t += step * q1;
          t %= n;
          accRe += sRe[q]! * twRe[t]! - sIm[q]! * twIm[t]!;
          accIm += sRe[q]! * twIm[t]! + sIm[q]! * twRe[t]!;
        }
        re[off + u + q1 * m] = accRe;
        im[off + u + q1 * m] = accIm;
      }
    }
  }
}
