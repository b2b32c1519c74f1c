/**
 * Sketch rasterisation: the 131 points' edges (lips, eyes, brows, nose, oval) as 1-pixel light lines on black,
 * IP_LAP's landmark sketch (128 x 128 for the renderer). Bresenham lines, or Wu's anti-aliased lines on request.
 */
import { checkImage, type Image } from './image.ts';
import { SUBSET_EDGES } from './subset131.ts';

export interface SketchOptions {
  /** Edges as subset-position pairs (default: all sketch edges, SUBSET_EDGES.all). */
  edges?: Uint8Array;
  /** Line intensity in the image's scale (default 255 for bytes, 1 for floats). */
  value?: number;
  /** Anti-aliased (Wu) lines instead of Bresenham (default false: IP_LAP's sketches are aliased). */
  antialias?: boolean;
  /** Clear the image first (default true). */
  clear?: boolean;
}

/**
 * Draws the sketch of `points` (131 x 2, normalised crop coordinates 0..1) into `out` (square, 1 or 3 channels, bytes
 * or floats). Point (u, v) lands on pixel (floor(u * S), floor(v * S)); lines leaving the image are clipped per pixel.
 */
export function drawSketch(points: ArrayLike<number>, out: Image, options: SketchOptions = {}): Image {
  checkImage(out, 'drawSketch out');
  if (out.channels !== 1 && out.channels !== 3) throw new RangeError('drawSketch: 1 or 3 channels');
  const edges = options.edges ?? SUBSET_EDGES.all;
  const value = options.value ?? (out.data instanceof Float32Array ? 1 : 255);
  if (options.clear ?? true) out.data.fill(0);
  const W = out.width;
  const H = out.height;
  for (let e = 0; e + 1 < edges.length; e += 2) {
    const a = edges[e]!;
    const b = edges[e + 1]!;
    const x0 = points[a * 2]! * W - 0.5;
    const y0 = points[a * 2 + 1]! * H - 0.5;
    const x1 = points[b * 2]! * W - 0.5;
    const y1 = points[b * 2 + 1]! * H - 0.5;
    if (options.antialias) wuLine(out, x0, y0, x1, y1, value);
    else bresenham(out, Math.round(x0), Math.round(y0), Math.round(x1), Math.round(y1), value);
  }
  return out;
}

function plot(img: Image, x: number, y: number, v: number): void {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  const c = img.channels;
  const o = (y * img.width + x) * c;
  const d = img.data;
  // Max-blend so crossing lines and anti-aliased fringes never darken each other.
  for (let k = 0; k < c; k++) if (d[o + k]! < v) d[o + k] = v;
}

function bresenham(img: Image, x0: number, y0: number, x1: number, y1: number, v: number): void {
  const dx = Math.abs(x1 - x0);
  const dy = -Math.abs(y1 - y0);
  const sx = x0 < x1 ? 1 : -1;
  const sy = y0 < y1 ? 1 : -1;
  let err = dx + dy;
  // Bounded loop: a line from a wild point never costs more than its pixel length.
  for (let n = dx - dy + 1; n > 0; n--) {
    plot(img, x0, y0, v);
    if (x0 === x1 && y0 === y1) return;
    const e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x0 += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y0 += sy;
    }
  }
}

function wuLine(img: Image, x0: number, y0: number, x1: number, y1: number, v: number): void {
  const isByte = !(img.data instanceof Float32Array);
  const put = (x: number, y: number, w: number): void => {
    const a = v * w;
    plot(img, x, y, isByte ? Math.round(a) : a);
  };
  const steep = Math.abs(y1 - y0) > Math.abs(x1 - x0);
  if (steep) [x0, y0, x1, y1] = [y0, x0, y1, x1];
  if (x0 > x1) [x0, y0, x1, y1] = [x1, y1, x0, y0];
  const dx = x1 - x0;
  const grad = dx === 0 ? 0 : (y1 - y0) / dx;
  const xs = Math.round(x0);
  const xe = Math.round(x1);
  if (xe - xs > 4 * (img.width + img.height)) return; // wildly out of the crop: nothing sensible to draw
  for (let x = xs; x <= xe; x++) {
    const y = y0 + grad * (x - x0);
    const yi = Math.floor(y);
    const f = y - yi;
    if (steep) {
      put(yi, x, 1 - f);
      put(yi + 1, x, f);
    } else {
      put(x, yi, 1 - f);
      put(x, yi + 1, f);
    }
  }
}
