/**
 * Small image contract of the geometry module: packed HWC images, 8-bit (0..255) or float (0..1), plus the colour
 * conversion the module uses between i420 frames and RGB crops.
 *
 * YUV <-> RGB is BT.601 limited range ("video range", what VP8/H.264 camera streams carry). Both directions are
 * built from the same Kr/Kb so that they are exact inverses before rounding: a crop taken from an i420 frame and
 * converted back changes nothing but rounding.
 */

/** Packed HWC image. Uint8Array holds 0..255; Float32Array holds 0..1 (the scale models take). */
export interface Image {
  data: Uint8Array | Float32Array;
  width: number;
  height: number;
  channels: number;
}

/** An RGB (3-channel) square crop. */
export interface RgbImage extends Image {
  channels: 3;
}

/** Allocates an image once (call at set-up, not per frame). */
export function createImage(width: number, height: number, channels = 3, type: 'u8' | 'f32' = 'u8'): Image {
  const n = width * height * channels;
  return { data: type === 'u8' ? new Uint8Array(n) : new Float32Array(n), width, height, channels };
}

/** Throws a RangeError when `img` is not a consistent HWC image with the wanted channel count. */
export function checkImage(img: Image, what: string, channels?: number): void {
  if (channels !== undefined && img.channels !== channels) {
    throw new RangeError(`${what}: ${img.channels} channels, expected ${channels}`);
  }
  if (img.data.length < img.width * img.height * img.channels) {
    throw new RangeError(`${what}: ${img.data.length} values for ${img.width}x${img.height}x${img.channels}`);
  }
}

const KR = 0.299;
const KB = 0.114;
const KG = 1 - KR - KB;
const YS = 219 / 255; // luma excursion of limited range
const CS = 224 / 255; // chroma excursion

/** RGB (0..255) -> Y'CbCr (limited range) coefficients. */
export const RGB_TO_YUV = {
  yr: YS * KR,
  yg: YS * KG,
  yb: YS * KB,
  ur: (-CS * 0.5 * KR) / (1 - KB),
  ug: (-CS * 0.5 * KG) / (1 - KB),
  ub: CS * 0.5,
  vr: CS * 0.5,
  vg: (-CS * 0.5 * KG) / (1 - KR),
  vb: (-CS * 0.5 * KB) / (1 - KR),
} as const;

/** Y'CbCr (limited range) -> RGB (0..255) coefficients, applied to (Y - 16), (U - 128), (V - 128). */
export const YUV_TO_RGB = {
  y: 1 / YS,
  rv: (2 * (1 - KR)) / CS,
  gu: (-2 * (1 - KB) * KB) / (CS * KG),
  gv: (-2 * (1 - KR) * KR) / (CS * KG),
  bu: (2 * (1 - KB)) / CS,
} as const;

/** Rounds and clamps to a byte. */
export function toByte(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0;
}

/**
 * Bilinear resize of `src` into `dst` (same channel count; any value types, converted between 0..255 and 0..1),
 * pixel centres aligned. No antialiasing: meant for factors within about 2x (e.g. a 128 render to a 256 crop).
 */
export function resizeImage(src: Image, dst: Image): Image {
  checkImage(src, 'resizeImage src');
  checkImage(dst, 'resizeImage dst', src.channels);
  const C = src.channels;
  const sw = src.width;
  const sh = src.height;
  const s = src.data;
  const d = dst.data;
  const toByteOut = !(d instanceof Float32Array);
  const scale = (s instanceof Float32Array ? 255 : 1) / (toByteOut ? 1 : 255);
  const kx = sw / dst.width;
  const ky = sh / dst.height;
  let o = 0;
  for (let y = 0; y < dst.height; y++) {
    let py = (y + 0.5) * ky - 0.5;
    py = py < 0 ? 0 : py > sh - 1 ? sh - 1 : py;
    const yi = Math.min(Math.floor(py), Math.max(0, sh - 2));
    const fy = py - yi;
    const r0 = yi * sw;
    const r1 = fy > 0 ? r0 + sw : r0;
    for (let x = 0; x < dst.width; x++) {
      let px = (x + 0.5) * kx - 0.5;
      px = px < 0 ? 0 : px > sw - 1 ? sw - 1 : px;
      const xi = Math.min(Math.floor(px), Math.max(0, sw - 2));
      const fx = px - xi;
      const x1 = fx > 0 ? xi + 1 : xi;
      for (let c = 0; c < C; c++) {
        const a = s[(r0 + xi) * C + c]!;
        const b = s[(r0 + x1) * C + c]!;
        const e = s[(r1 + xi) * C + c]!;
        const f = s[(r1 + x1) * C + c]!;
        const t = a + (b - a) * fx;
        const v = (t + (e + (f - e) * fx - t) * fy) * scale;
        d[o++] = toByteOut ? toByte(v) : v;
      }
    }
  }
  return dst;
}
