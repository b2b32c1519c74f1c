/**
 * Masks on a crop: the renderer's lower-half mask (IP_LAP blanks rows H/2.. of the face crop it feeds the
 * generator), and the feathered lower-face mask that paste-back blends with.
 */
import { checkImage, type Image } from './image.ts';
import { LOWER_FACE_CONTOUR } from './subset131.ts';

/**
 * Sets rows floor(H/2)..H-1 of `img` to `fill` in place (IP_LAP: `img[H//2:, :, :] = 0`). `fill` is in the image's
 * own scale (0..255 for bytes, 0..1 for floats).
 */
export function maskLowerHalf(img: Image, fill = 0): Image {
  checkImage(img, 'maskLowerHalf');
  const rowLen = img.width * img.channels;
  img.data.fill(fill, (img.height >> 1) * rowLen, img.height * rowLen);
  return img;
}

export interface LowerFaceMaskOptions {
  /**
   * Top of the masked region in normalised crop coordinates (default 0.5: the half the renderer regenerates).
   * The region is the face contour 234 -> chin -> 454 below this line.
   */
  top?: number;
  /**
   * Gaussian feather sigma in crop pixels. Default 11 * S / 128: IP_LAP's 21x21, sigma 11 blur, scaled to the crop.
   * 0 gives a hard mask.
   */
  featherSigma?: number;
  /** Feather kernel radius in crop pixels (default 10 * S / 128, IP_LAP's 21-tap kernel scaled). */
  featherRadius?: number;
  /**
   * Build the mask at S / divisor and upsample bilinearly (default: S / 64 rounded down to a power of two that divides
   * S, so 4 at 256 and 2 at 128; 1 for a hard mask). The feather is many pixels wide, so the coarse grid is invisible
   * and the blur is 16x cheaper at 256.
   */
  resolutionDivisor?: number;
}

/**
 * Builds the lower-face mask of an S x S crop into `out` (Float32Array of S*S, values 0..1) from the 131 subset points
 * in normalised crop coordinates. Scanline polygon fill, then a separable Gaussian with zero padding (so the mask fades
 * before the crop's border). `scratch` (S*S floats) avoids an allocation per call.
 */
export function lowerFaceMask(
  points131: ArrayLike<number>,
  size: number,
  out: Float32Array,
  options: LowerFaceMaskOptions = {},
  scratch?: Float32Array,
): Float32Array {
  const S = size;
  if (out.length < S * S) throw new RangeError(`lowerFaceMask: out has ${out.length} values, needs ${S * S}`);
  const sigma = options.featherSigma ?? (11 * S) / 128;
  let d = options.resolutionDivisor ?? 1;
  // A hard mask (no feather) is built at full resolution: upsampling would soften it.
  if (options.resolutionDivisor === undefined && sigma > 0) while (S % (d * 2) === 0 && S / (d * 2) >= 64) d *= 2;
  if (!Number.isInteger(d) || d < 1 || S % d !== 0) throw new RangeError(`lowerFaceMask: divisor ${d} of ${S}`);
  const radius = options.featherRadius ?? (10 * S) / 128;
  if (d === 1) return buildMask(points131, S, out, options.top ?? 0.5, sigma, radius, scratch);
  const s = S / d;
  let low = lowRes.get(s);
  if (!low) lowRes.set(s, (low = [new Float32Array(s * s), new Float32Array(s * s)]));
  buildMask(points131, s, low[0], options.top ?? 0.5, sigma / d, radius / d, low[1]);
  upsample(low[0], s, d, out);
  return out;
}

const lowRes = new Map<number, [Float32Array, Float32Array]>();

/** Bilinear upsampling by an integer factor, pixel centres aligned; values under 1/512 become 0. */
function upsample(src: Float32Array, s: number, d: number, out: Float32Array): void {
  const S = s * d;
  for (let y = 0; y < S; y++) {
    let py = (y + 0.5) / d - 0.5;
    if (py < 0) py = 0;
    if (py > s - 1) py = s - 1;
    const yi = Math.min(Math.floor(py), s - 2);
    const fy = py - yi;
    const r0 = yi * s;
    const r1 = r0 + s;
    for (let x = 0; x < S; x++) {
      let px = (x + 0.5) / d - 0.5;
      if (px < 0) px = 0;
      if (px > s - 1) px = s - 1;
      const xi = Math.min(Math.floor(px), s - 2);
      const fx = px - xi;
      const t = src[r0 + xi]! + (src[r0 + xi + 1]! - src[r0 + xi]!) * fx;
      const b = src[r1 + xi]! + (src[r1 + xi + 1]! - src[r1 + xi]!) * fx;
      const v = t + (b - t) * fy;
      out[y * S + x] = v < 1 / 512 ? 0 : v;
    }
  }
}

function buildMask(
  points131: ArrayLike<number>,
  S: number,
  out: Float32Array,
  topFraction: number,
  sigma: number,
  featherRadius: number,
  scratch: Float32Array | undefined,
): Float32Array {
  const top = topFraction * S;
  out.fill(0, 0, S * S);
  const n = LOWER_FACE_CONTOUR.length;
  // Closed polygon: the contour, closed by the straight segment from 454 back to 234.
  for (let row = Math.max(0, Math.ceil(top - 0.5)); row < S; row++) {
    const yc = row + 0.5;
    // Collect crossings of this row's centre line; a face contour crosses a row a few times at most.
    let c0 = Infinity;
    let c1 = -Infinity;
    let crossings = 0;
    const xs = CROSS;
    for (let i = 0; i < n; i++) {
      const a = LOWER_FACE_CONTOUR[i]!;
      const b = LOWER_FACE_CONTOUR[(i + 1) % n]!;
      const ax = points131[a * 2]! * S;
      const ay = points131[a * 2 + 1]! * S;
      const bx = points131[b * 2]! * S;
      const by = points131[b * 2 + 1]! * S;
      if (ay <= yc === by <= yc) continue;
      if (crossings < xs.length) xs[crossings++] = ax + ((yc - ay) / (by - ay)) * (bx - ax);
    }
    if (crossings < 2) continue;
    sortPrefix(xs, crossings);
    // Even-odd fill between crossing pairs.
    for (let k = 0; k + 1 < crossings; k += 2) {
      c0 = xs[k]!;
      c1 = xs[k + 1]!;
      const from = Math.max(0, Math.ceil(c0 - 0.5));
      const to = Math.min(S - 1, Math.ceil(c1 - 0.5) - 1);
      for (let x = from; x <= to; x++) out[row * S + x] = 1;
    }
  }
  if (sigma > 0) gaussianBlur(out, S, S, sigma, Math.max(1, Math.round(featherRadius)), scratch);
  return out;
}

const CROSS = new Float64Array(32);

function sortPrefix(a: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) {
    const v = a[i]!;
    let j = i - 1;
    while (j >= 0 && a[j]! > v) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = v;
  }
}

const kernelCache = new Map<string, Float32Array>();

function gaussianKernel(sigma: number, radius: number): Float32Array {
  const key = `${sigma}:${radius}`;
  let k = kernelCache.get(key);
  if (!k) {
    k = new Float32Array(2 * radius + 1);
    let sum = 0;
    for (let i = -radius; i <= radius; i++) sum += k[i + radius] = Math.exp(-(i * i) / (2 * sigma * sigma));
    for (let i = 0; i < k.length; i++) k[i]! /= sum;
    kernelCache.set(key, k);
  }
  return k;
}

/** Separable Gaussian blur of a single-channel float image in place, zero outside. */
export function gaussianBlur(
  img: Float32Array,
  width: number,
  height: number,
  sigma: number,
  radius: number,
  scratch: Float32Array = new Float32Array(width * height),
): Float32Array {
  if (scratch.length < width * height) throw new RangeError('gaussianBlur: scratch too small');
  const k = gaussianKernel(sigma, radius);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      let acc = 0;
      const lo = Math.max(0, x - radius);
      const hi = Math.min(width - 1, x + radius);
      for (let t = lo; t <= hi; t++) acc += img[row + t]! * k[t - x + radius]!;
      scratch[row + x] = acc;
    }
  }
  for (let y = 0; y < height; y++) {
    const lo = Math.max(0, y - radius);
    const hi = Math.min(height - 1, y + radius);
    for (let x = 0; x < width; x++) {
      let acc = 0;
      for (let t = lo; t <= hi; t++) acc += scratch[t * width + x]! * k[t - y + radius]!;
      // Values under 1/512 would round to no change in 8 bits; zero them so "mask > 0" means "touched".
      img[y * width + x] = acc < 1 / 512 ? 0 : acc;
    }
  }
  return img;
}
