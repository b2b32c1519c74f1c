/**
 * The face crop: a square box around the 131 subset points plus a margin, sampled to an S x S RGB crop (S = 128 for
 * the networks, 256 for paste-back), with the forward and inverse maps between frame pixels and crop coordinates.
 *
 * Coordinates: frame pixel (i, j) covers [i, i+1) x [j, j+1), its centre is (i + 0.5, j + 0.5); MediaPipe landmarks
 * (normalised x width) land in this space. Normalised crop coordinates u, v run 0..1 across the box; crop pixel k of
 * an S-wide crop has its centre at u = (k + 0.5) / S.
 */
import type { VideoFrame } from '../../media.ts';
import { checkImage, toByte, YUV_TO_RGB, type Image } from './image.ts';

/** A square crop box in frame pixels. */
export interface CropBox {
  /** Left edge, frame pixels (may be negative or past the frame: sampling clamps to the edge). */
  x: number;
  /** Top edge, frame pixels. */
  y: number;
  /** Side length, frame pixels. */
  size: number;
}

export interface CropBoxOptions {
  /**
   * Margin added on every side of the points' bounding box before squaring. A number is frame pixels; `{ fraction }`
   * is a fraction of the bounding box's longer side. Default 25 px, IP_LAP's inference margin.
   */
  margin?: number | { fraction: number };
  /** How many leading points of `points` to use (default: all, i.e. points.length / 2). */
  count?: number;
}

/** IP_LAP's inference margin in frame pixels. */
export const DEFAULT_CROP_MARGIN_PX = 25;

/**
 * Square box centred on the bounding box of `points` (interleaved x, y in frame pixels) grown by the margin; the side
 * is the longer side of the grown box. Writes into `out` when given.
 */
export function computeCropBox(points: ArrayLike<number>, options: CropBoxOptions = {}, out?: CropBox): CropBox {
  const count = options.count ?? points.length >> 1;
  if (count < 1) throw new RangeError('computeCropBox: no points');
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (let i = 0; i < count; i++) {
    const x = points[i * 2]!;
    const y = points[i * 2 + 1]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) throw new RangeError(`computeCropBox: point ${i} is not finite`);
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  const m = options.margin ?? DEFAULT_CROP_MARGIN_PX;
  const margin = typeof m === 'number' ? m : m.fraction * Math.max(x1 - x0, y1 - y0);
  const size = Math.max(x1 - x0, y1 - y0) + 2 * margin;
  if (!(size > 0)) throw new RangeError('computeCropBox: degenerate box');
  const box = out ?? { x: 0, y: 0, size: 0 };
  box.x = (x0 + x1) / 2 - size / 2;
  box.y = (y0 + y1) / 2 - size / 2;
  box.size = size;
  return box;
}

/** Frame pixels -> normalised crop coordinates (0..1 inside the box). `out` may alias `points`. */
export function frameToCrop<T extends Float32Array | Float64Array = Float32Array>(
  box: CropBox,
  points: ArrayLike<number>,
  out: T = new Float32Array(points.length) as T,
): T {
  const inv = 1 / box.size;
  for (let i = 0; i + 1 < points.length; i += 2) {
    out[i] = (points[i]! - box.x) * inv;
    out[i + 1] = (points[i + 1]! - box.y) * inv;
  }
  return out;
}

/** Normalised crop coordinates -> frame pixels (the inverse of frameToCrop). `out` may alias `points`. */
export function cropToFrame<T extends Float32Array | Float64Array = Float32Array>(
  box: CropBox,
  points: ArrayLike<number>,
  out: T = new Float32Array(points.length) as T,
): T {
  for (let i = 0; i + 1 < points.length; i += 2) {
    out[i] = box.x + points[i]! * box.size;
    out[i + 1] = box.y + points[i + 1]! * box.size;
  }
  return out;
}

/**
 * Per-axis sampling taps of a crop: for each output column (row), `taps` bilinear source positions averaged.
 * Reused across frames; grows only when the crop gets larger or the scale needs more taps.
 */
interface AxisTaps {
  index: Int32Array;
  frac: Float32Array;
  taps: number;
}

function axisTaps(
  origin: number,
  size: number,
  outSize: number,
  limit: number,
  subsample: number,
  antialias: boolean,
  cache: AxisTaps | undefined,
): AxisTaps {
  const scale = size / outSize; // source pixels per crop pixel
  // Box-filter footprint when shrinking, so the network sees no aliasing from a large face.
  const taps = antialias && scale > 1.25 ? Math.min(4, Math.ceil(scale)) : 1;
  const n = outSize * taps;
  const t = cache && cache.index.length >= n ? cache : { index: new Int32Array(n), frac: new Float32Array(n), taps: 1 };
  t.taps = taps;
  for (let k = 0; k < outSize; k++) {
    for (let s = 0; s < taps; s++) {
      // Continuous frame coordinate of this tap, then the sample index space of the plane (centres at integers).
      const pos = origin + (k + (s + 0.5) / taps) * scale;
      let p = pos / subsample - 0.5;
      if (p < 0) p = 0;
      if (p > limit - 1) p = limit - 1;
      let i = Math.floor(p);
      if (i > limit - 2) i = Math.max(0, limit - 2);
      t.index[k * taps + s] = i;
      t.frac[k * taps + s] = p - i;
    }
  }
  return t;
}

export interface SampleCropOptions {
  /** Average several bilinear taps per crop pixel when the box is larger than the crop (default true). */
  antialias?: boolean;
}

/**
 * Samples the box of `frame` into the RGB crop `out` (its width = height = S; Uint8Array 0..255 or Float32Array 0..1).
 * Bilinear, edge-clamped outside the frame. A `CropSampler` keeps its tap tables between calls (no allocation per
 * frame once sized).
 */
export class CropSampler {
  private xt: AxisTaps | undefined;
  private yt: AxisTaps | undefined;
  private xtc: AxisTaps | undefined;
  private ytc: AxisTaps | undefined;

  sample(frame: VideoFrame, box: CropBox, out: Image, options: SampleCropOptions = {}): Image {
    checkImage(out, 'CropSampler.sample out', 3);
    if (out.width !== out.height) throw new RangeError('CropSampler.sample: crop must be square');
    const S = out.width;
    const aa = options.antialias ?? true;
    const { width: W, height: H } = frame;
    this.xt = axisTaps(box.x, box.size, S, W, 1, aa, this.xt);
    this.yt = axisTaps(box.y, box.size, S, H, 1, aa, this.yt);
    const scaleOut = out.data instanceof Float32Array ? 1 / 255 : 1;
    if (frame.format === 'i420') {
      const cw = (W + 1) >> 1;
      const ch = (H + 1) >> 1;
      this.xtc = axisTaps(box.x, box.size, S, cw, 2, aa, this.xtc);
      this.ytc = axisTaps(box.y, box.size, S, ch, 2, aa, this.ytc);
      sampleI420(frame, S, this.xt, this.yt, this.xtc, this.ytc, out.data, scaleOut);
    } else {
      sampleRgb(frame, S, frame.format === 'rgba' ? 4 : 3, this.xt, this.yt, out.data, scaleOut);
    }
    return out;
  }
}

/** Bilinear + tap average of one plane (`ch` interleaved channels, channel `c`) at crop pixel (kx, ky). */
function tapPlane(
  src: Uint8Array,
  stride: number,
  ch: number,
  c: number,
  xt: AxisTaps,
  yt: AxisTaps,
  kx: number,
  ky: number,
): number {
  let acc = 0;
  const nx = xt.taps;
  const ny = yt.taps;
  for (let sy = 0; sy < ny; sy++) {
    const yi = yt.index[ky * ny + sy]!;
    const fy = yt.frac[ky * ny + sy]!;
    const r0 = yi * stride;
    const r1 = fy > 0 ? r0 + stride : r0;
    for (let sx = 0; sx < nx; sx++) {
      const xi = xt.index[kx * nx + sx]!;
      const fx = xt.frac[kx * nx + sx]!;
      const a = (xi * ch + c) | 0;
      const b = fx > 0 ? a + ch : a;
      const top = src[r0 + a]! + (src[r0 + b]! - src[r0 + a]!) * fx;
      const bot = src[r1 + a]! + (src[r1 + b]! - src[r1 + a]!) * fx;
      acc += top + (bot - top) * fy;
    }
  }
  return acc / (nx * ny);
}

/** One bilinear sample of a single-channel plane at crop pixel (kx, ky) (tap tables with one tap per axis). */
function bilinear1(src: Uint8Array, stride: number, xt: AxisTaps, yt: AxisTaps, kx: number, ky: number): number {
  const yi = yt.index[ky]!;
  const fy = yt.frac[ky]!;
  const xi = xt.index[kx]!;
  const fx = xt.frac[kx]!;
  const a = yi * stride + xi;
  const b = fx > 0 ? a + 1 : a;
  const c = fy > 0 ? a + stride : a;
  const d = fx > 0 ? c + 1 : c;
  const top = src[a]! + (src[b]! - src[a]!) * fx;
  return top + (src[c]! + (src[d]! - src[c]!) * fx - top) * fy;
}

function sampleRgb(
  frame: VideoFrame,
  S: number,
  ch: number,
  xt: AxisTaps,
  yt: AxisTaps,
  out: Uint8Array | Float32Array,
  scaleOut: number,
): void {
  const src = frame.data;
  const stride = frame.width * ch;
  const isByte = out instanceof Uint8Array;
  let o = 0;
  if (xt.taps === 1 && yt.taps === 1) {
    // One bilinear tap, inlined for the three channels: the common case (box up to 1.25x the crop).
    for (let ky = 0; ky < S; ky++) {
      const fy = yt.frac[ky]!;
      const r0 = yt.index[ky]! * stride;
      const r1 = fy > 0 ? r0 + stride : r0;
      for (let kx = 0; kx < S; kx++) {
        const fx = xt.frac[kx]!;
        const x0 = xt.index[kx]! * ch;
        const x1 = fx > 0 ? x0 + ch : x0;
        for (let c = 0; c < 3; c++) {
          const t = src[r0 + x0 + c]! + (src[r0 + x1 + c]! - src[r0 + x0 + c]!) * fx;
          const v = t + (src[r1 + x0 + c]! + (src[r1 + x1 + c]! - src[r1 + x0 + c]!) * fx - t) * fy;
          out[o++] = isByte ? toByte(v) : v * scaleOut;
        }
      }
    }
    return;
  }
  for (let ky = 0; ky < S; ky++) {
    for (let kx = 0; kx < S; kx++) {
      for (let c = 0; c < 3; c++) {
        const v = tapPlane(src, stride, ch, c, xt, yt, kx, ky);
        out[o++] = isByte ? toByte(v) : v * scaleOut;
      }
    }
  }
}

function sampleI420(
  frame: VideoFrame,
  S: number,
  xt: AxisTaps,
  yt: AxisTaps,
  xtc: AxisTaps,
  ytc: AxisTaps,
  out: Uint8Array | Float32Array,
  scaleOut: number,
): void {
  const W = frame.width;
  const H = frame.height;
  const cw = (W + 1) >> 1;
  const ch = (H + 1) >> 1;
  const yPlane = frame.data.subarray(0, W * H);
  const uPlane = frame.data.subarray(W * H, W * H + cw * ch);
  const vPlane = frame.data.subarray(W * H + cw * ch, W * H + 2 * cw * ch);
  const isByte = out instanceof Uint8Array;
  const k = YUV_TO_RGB;
  const single = xt.taps === 1 && yt.taps === 1 && xtc.taps === 1 && ytc.taps === 1;
  let o = 0;
  for (let ky = 0; ky < S; ky++) {
    for (let kx = 0; kx < S; kx++) {
      let yv: number;
      let u: number;
      let v: number;
      if (single) {
        // One bilinear tap per plane, inlined: the common case (box up to 1.25x the crop).
        yv = (bilinear1(yPlane, W, xt, yt, kx, ky) - 16) * k.y;
        u = bilinear1(uPlane, cw, xtc, ytc, kx, ky) - 128;
        v = bilinear1(vPlane, cw, xtc, ytc, kx, ky) - 128;
      } else {
        yv = (tapPlane(yPlane, W, 1, 0, xt, yt, kx, ky) - 16) * k.y;
        u = tapPlane(uPlane, cw, 1, 0, xtc, ytc, kx, ky) - 128;
        v = tapPlane(vPlane, cw, 1, 0, xtc, ytc, kx, ky) - 128;
      }
      const r = yv + k.rv * v;
      const g = yv + k.gu * u + k.gv * v;
      const b = yv + k.bu * u;
      if (isByte) {
        out[o] = toByte(r);
        out[o + 1] = toByte(g);
        out[o + 2] = toByte(b);
      } else {
        out[o] = r <= 0 ? 0 : r >= 255 ? 1 : r * scaleOut;
        out[o + 1] = g <= 0 ? 0 : g >= 255 ? 1 : g * scaleOut;
        out[o + 2] = b <= 0 ? 0 : b >= 255 ? 1 : b * scaleOut;
      }
      o += 3;
    }
  }
}
