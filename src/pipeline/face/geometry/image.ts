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
