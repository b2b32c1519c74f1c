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
  const top = (options.top ?? 0.5) * S;
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
  const sigma = options.featherSigma ?? (11 * S) / 128;
  if (sigma > 0) {
    const radius = Math.max(1, Math.round(options.featherRadius ?? (10 * S) / 128));
    gaussianBlur(out, S, S, sigma, radius, scratch);
  }
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
