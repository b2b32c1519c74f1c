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

/**
 * Fills `out` ([size, size, 3] floats, NHWC) with the rect resampled to size x size, each channel mapped as
 * `value / 255 * scale + offset` (landmarks: scale 1, offset 0 -> 0..1; detector: scale 2, offset -1 -> -1..1).
 * Points outside the frame repeat the border.
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
  const taps = Math.min(4, Math.max(1, Math.round(stepPx)));
  const k = (scale / 255) * (1 / (taps * taps));
  // Pixel centres at +0.5: source coordinate of output pixel (i, j) = centre + ((i + 0.5) - size/2) * u + ...
  const x0 = rect.cx - (size / 2) * (ux + vx) - 0.5;
  const y0 = rect.cy - (size / 2) * (uy + vy) - 0.5;
  const chromaW = (w + 1) >> 1;
  const uPlane = w * h;
  const vPlane = uPlane + chromaW * ((h + 1) >> 1);
  const bpp = format === 'rgba' ? 4 : 3;
  const wMax = w - 1;
  const hMax = h - 1;
  let o = 0;
  for (let j = 0; j < size; j++) {
    for (let i = 0; i < size; i++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let tj = 0; tj < taps; tj++) {
        const fj = j + (tj + 0.5) / taps;
        for (let ti = 0; ti < taps; ti++) {
          const fi = i + (ti + 0.5) / taps;
          let sx = x0 + fi * ux + fj * vx;
          let sy = y0 + fi * uy + fj * vy;
          if (sx < 0) sx = 0;
          else if (sx > wMax) sx = wMax;
          if (sy < 0) sy = 0;
          else if (sy > hMax) sy = hMax;
          const xi = sx | 0;
          const yi = sy | 0;
          const ax = sx - xi;
          const ay = sy - yi;
          const xi1 = xi < wMax ? xi + 1 : xi;
          const yi1 = yi < hMax ? yi + 1 : yi;
          const w00 = (1 - ax) * (1 - ay);
          const w10 = ax * (1 - ay);
          const w01 = (1 - ax) * ay;
          const w11 = ax * ay;
          if (format === 'i420') {
            const yy =
              (data[yi * w + xi] ?? 0) * w00 +
              (data[yi * w + xi1] ?? 0) * w10 +
              (data[yi1 * w + xi] ?? 0) * w01 +
              (data[yi1 * w + xi1] ?? 0) * w11;
            // Chroma at the nearest 2x2 block: the luma carries the detail the models need.
            const ci = ((sy + 0.5) >> 1) * chromaW + ((sx + 0.5) >> 1);
            const cu = (data[uPlane + ci] ?? 128) - 128;
            const cv = (data[vPlane + ci] ?? 128) - 128;
            // BT.601 limited range, what camera and WebRTC decoders give.
            const c = 1.164 * (yy - 16);
            r += c + 1.596 * cv;
            g += c - 0.392 * cu - 0.813 * cv;
            b += c + 2.017 * cu;
          } else {
            const p00 = (yi * w + xi) * bpp;
            const p10 = (yi * w + xi1) * bpp;
            const p01 = (yi1 * w + xi) * bpp;
            const p11 = (yi1 * w + xi1) * bpp;
            r += (data[p00] ?? 0) * w00 + (data[p10] ?? 0) * w10 + (data[p01] ?? 0) * w01 + (data[p11] ?? 0) * w11;
            g +=
              (data[p00 + 1] ?? 0) * w00 +
              (data[p10 + 1] ?? 0) * w10 +
              (data[p01 + 1] ?? 0) * w01 +
              (data[p11 + 1] ?? 0) * w11;
            b +=
              (data[p00 + 2] ?? 0) * w00 +
              (data[p10 + 2] ?? 0) * w10 +
              (data[p01 + 2] ?? 0) * w01 +
              (data[p11 + 2] ?? 0) * w11;
          }
        }
      }
      out[o++] = clamp01(r * k, scale) + offset;
      out[o++] = clamp01(g * k, scale) + offset;
      out[o++] = clamp01(b * k, scale) + offset;
    }
  }
}

/** YUV->RGB can overshoot 0..255; clamp to the model's range before the offset. */
function clamp01(v: number, scale: number): number {
  return v < 0 ? 0 : v > scale ? scale : v;
}
