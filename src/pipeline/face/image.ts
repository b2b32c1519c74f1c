/**
 * Crops a (possibly rotated) rectangle of a VideoFrame straight into a model's NHWC float input: no full-frame
 * colour conversion, no allocation. Reads i420, rgb24 and rgba. Big down-scales average several bilinear taps per
 * output pixel so a 1920-pixel frame shrunk to 128 does not alias.
 */
import { frameByteLength, type VideoFrame } from '../media.ts';

/** A rectangle in frame pixels, rotated by `rotation` radians (clockwise on screen, y down) about its centre. */
export interface RotatedRect {
  cx: number;
  cy: number;
  width: number;
  height: number;
  rotation: number;
}

/** Checks a frame's fields and buffer size; returns an error message or null. */
export function checkFrame(frame: VideoFrame): string | null {
  if (!frame || !(frame.data instanceof Uint8Array)) return 'frame.data must be a Uint8Array';
  const { width, height, format } = frame;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    return `bad frame size ${width}x${height}`;
  }
  if (format !== 'i420' && format !== 'rgb24' && format !== 'rgba') return `unsupported pixel format ${String(format)}`;
  const need = frameByteLength(format, width, height);
  if (frame.data.length < need) return `${format} ${width}x${height} needs ${need} bytes, got ${frame.data.length}`;
  return null;
}

/** Accumulated r, g, b of the taps of one output pixel. */
const acc = new Float64Array(3);

/** Adds the bilinear sample at (sx, sy) (array coordinates, clamped to the frame) of a packed RGB(A) frame. */
function tapPacked(data: Uint8Array, w: number, h: number, bpp: number, sx: number, sy: number): void {
  const wMax = w - 1;
  const hMax = h - 1;
  if (sx < 0) sx = 0;
  else if (sx > wMax) sx = wMax;
  if (sy < 0) sy = 0;
  else if (sy > hMax) sy = hMax;
  const xi = sx | 0;
  const yi = sy | 0;
  const ax = sx - xi;
  const ay = sy - yi;
  const p00 = (yi * w + xi) * bpp;
  const dx = xi < wMax ? bpp : 0;
  const dy = yi < hMax ? w * bpp : 0;
  const w00 = (1 - ax) * (1 - ay);
  const w10 = ax * (1 - ay);
  const w01 = (1 - ax) * ay;
  const w11 = ax * ay;
  for (let c = 0; c < 3; c++) {
    const p = p00 + c;
    acc[c] =
      (acc[c] as number) +
      (data[p] as number) * w00 +
      (data[p + dx] as number) * w10 +
      (data[p + dy] as number) * w01 +
      (data[p + dx + dy] as number) * w11;
  }
}

/** Adds the sample at (sx, sy) of an i420 frame: bilinear luma, nearest chroma, BT.601 limited range. */
function tapI420(data: Uint8Array, w: number, h: number, sx: number, sy: number): void {
  const wMax = w - 1;
  const hMax = h - 1;
  if (sx < 0) sx = 0;
  else if (sx > wMax) sx = wMax;
  if (sy < 0) sy = 0;
  else if (sy > hMax) sy = hMax;
  const xi = sx | 0;
  const yi = sy | 0;
  const ax = sx - xi;
  const ay = sy - yi;
  const p = yi * w + xi;
  const dx = xi < wMax ? 1 : 0;
  const dy = yi < hMax ? w : 0;
  const yy =
    (data[p] as number) * (1 - ax) * (1 - ay) +
    (data[p + dx] as number) * ax * (1 - ay) +
    (data[p + dy] as number) * (1 - ax) * ay +
    (data[p + dx + dy] as number) * ax * ay;
  const cw = (w + 1) >> 1;
  const ci = ((sy + 0.5) >> 1) * cw + ((sx + 0.5) >> 1);
  const uOff = w * h;
  const cu = (data[uOff + ci] as number) - 128;
  const cv = (data[uOff + cw * ((h + 1) >> 1) + ci] as number) - 128;
  const c = 1.164 * (yy - 16);
  acc[0] = (acc[0] as number) + c + 1.596 * cv;
  acc[1] = (acc[1] as number) + c - 0.392 * cu - 0.813 * cv;
  acc[2] = (acc[2] as number) + c + 2.017 * cu;
}

/**
 * Fills `out` ([size, size, 3] floats, NHWC) with the rect resampled to size x size, each channel mapped as
 * `value / 255 * scale + offset` (landmarks: scale 1, offset 0 -> 0..1; detector: scale 2, offset -1 -> -1..1).
 * Points outside the frame repeat the border. Plain bilinear (as MediaPipe) up to a 2.5x reduction; beyond that
 * 2x2 or 3x3 bilinear taps per output pixel.
 */
export function sampleRect(
  frame: VideoFrame,
  rect: RotatedRect,
  out: Float32Array,
  size: number,
  scale: number,
  offset: number,
): void {
  const { width: w, height: h, data, format } = frame;
  const cos = Math.cos(rect.rotation);
  const sin = Math.sin(rect.rotation);
  // Source step per output pixel along the crop's x and y axes.
  const ux = (rect.width / size) * cos;
  const uy = (rect.width / size) * sin;
  const vx = (-rect.height / size) * sin;
  const vy = (rect.height / size) * cos;
  const stepPx = Math.max(rect.width, rect.height) / size;
  const taps = Math.min(3, Math.max(1, Math.floor(stepPx / 1.25)));
  const k = scale / 255 / (taps * taps);
  // Source of output pixel (i, j) = centre + (i + 0.5 - size/2) * u + (j + 0.5 - size/2) * v, minus 0.5 to go
  // from continuous coordinates (pixel centres at +0.5) to array indices.
  const x0 = rect.cx - (size / 2) * (ux + vx) - 0.5;
  const y0 = rect.cy - (size / 2) * (uy + vy) - 0.5;
  const i420 = format === 'i420';
  const bpp = format === 'rgba' ? 4 : 3;
  let o = 0;
  for (let j = 0; j < size; j++) {
    for (let i = 0; i < size; i++) {
      acc[0] = 0;
      acc[1] = 0;
      acc[2] = 0;
      for (let tj = 0; tj < taps; tj++) {
        const fj = j + (tj + 0.5) / taps;
        for (let ti = 0; ti < taps; ti++) {
          const fi = i + (ti + 0.5) / taps;
          const sx = x0 + fi * ux + fj * vx;
          const sy = y0 + fi * uy + fj * vy;
          if (i420) tapI420(data, w, h, sx, sy);
          else tapPacked(data, w, h, bpp, sx, sy);
        }
      }
      out[o++] = clampTo(acc[0] * k, scale) + offset;
      out[o++] = clampTo(acc[1] * k, scale) + offset;
      out[o++] = clampTo(acc[2] * k, scale) + offset;
    }
  }
}

/** YUV->RGB can overshoot 0..255; clamp to the model's range before the offset. */
function clampTo(v: number, scale: number): number {
  return v < 0 ? 0 : v > scale ? scale : v;
}
