/**
 * Piecewise-affine warp over a triangle mesh: every destination triangle is scan-converted, and each of its pixels is
 * fetched from the source through that triangle's inverse affine map (bilinear sampling). The renderer uses it to
 * warp reference mouths onto target landmarks.
 */
import { checkImage, type Image } from './image.ts';

export interface WarpOptions {
  /** Point coordinates are normalised (0..1, scaled by each image's width/height) instead of pixels. Default false. */
  normalised?: boolean;
}

/**
 * Warps `src` into `dst` so that `srcPoints[i]` lands on `dstPoints[i]`, over `triangles` (3 point indices each).
 * Points are in continuous pixel coordinates (pixel (i, j) covers [i, i+1) x [j, j+1)) unless `normalised`.
 * Destination pixels outside every triangle are left as they were (fill or copy `dst` first). Pixel centres on an
 * edge shared by two triangles are drawn once (top-left rule from identical edge arithmetic).
 * `src` and `dst` must have the same channel count and value type; they must not alias.
 */
export function warpPiecewiseAffine(
  src: Image,
  dst: Image,
  srcPoints: ArrayLike<number>,
  dstPoints: ArrayLike<number>,
  triangles: ArrayLike<number>,
  options: WarpOptions = {},
): Image {
  checkImage(src, 'warpPiecewiseAffine src');
  checkImage(dst, 'warpPiecewiseAffine dst', src.channels);
  if (src.data === dst.data) throw new RangeError('warpPiecewiseAffine: src and dst must not alias');
  if (srcPoints.length !== dstPoints.length) throw new RangeError('warpPiecewiseAffine: point counts differ');
  const sxs = options.normalised ? src.width : 1;
  const sys = options.normalised ? src.height : 1;
  const dxs = options.normalised ? dst.width : 1;
  const dys = options.normalised ? dst.height : 1;
  const npts = srcPoints.length >> 1;
  for (let t = 0; t + 2 < triangles.length; t += 3) {
    const i0 = triangles[t]!;
    const i1 = triangles[t + 1]!;
    const i2 = triangles[t + 2]!;
    if (i0 >= npts || i1 >= npts || i2 >= npts) throw new RangeError(`warpPiecewiseAffine: triangle ${t / 3} index`);
    const tri = TRI;
    tri[0] = dstPoints[i0 * 2]! * dxs;
    tri[1] = dstPoints[i0 * 2 + 1]! * dys;
    tri[2] = dstPoints[i1 * 2]! * dxs;
    tri[3] = dstPoints[i1 * 2 + 1]! * dys;
    tri[4] = dstPoints[i2 * 2]! * dxs;
    tri[5] = dstPoints[i2 * 2 + 1]! * dys;
    tri[6] = srcPoints[i0 * 2]! * sxs;
    tri[7] = srcPoints[i0 * 2 + 1]! * sys;
    tri[8] = srcPoints[i1 * 2]! * sxs;
    tri[9] = srcPoints[i1 * 2 + 1]! * sys;
    tri[10] = srcPoints[i2 * 2]! * sxs;
    tri[11] = srcPoints[i2 * 2 + 1]! * sys;
    warpTriangle(src, dst, tri);
  }
  return dst;
}

const TRI = new Float64Array(12);

/** x of the edge (ax, ay)-(bx, by) at height y, evaluated in one canonical endpoint order so neighbours agree. */
function edgeX(ax: number, ay: number, bx: number, by: number, y: number): number {
  if (ay > by || (ay === by && ax > bx)) return bx + ((y - by) * (ax - bx)) / (ay - by);
  return ax + ((y - ay) * (bx - ax)) / (by - ay);
}

function warpTriangle(src: Image, dst: Image, t: Float64Array): void {
  // Sort the destination vertices by y (carrying their source vertices along).
  let a = 0;
  let b = 1;
  let c = 2;
  const y = (k: number): number => t[k * 2 + 1]!;
  if (y(a) > y(b)) [a, b] = [b, a];
  if (y(b) > y(c)) [b, c] = [c, b];
  if (y(a) > y(b)) [a, b] = [b, a];
  const ax = t[a * 2]!;
  const ay = t[a * 2 + 1]!;
  const bx = t[b * 2]!;
  const by = t[b * 2 + 1]!;
  const cx = t[c * 2]!;
  const cy = t[c * 2 + 1]!;
  const det = (bx - ax) * (cy - ay) - (cx - ax) * (by - ay);
  if (!(Math.abs(det) > 1e-9)) return; // degenerate destination triangle: nothing to draw
  // Inverse affine (dst -> src) from barycentric coordinates: src = sa + l1 (sb - sa) + l2 (sc - sa).
  const sax = t[6 + a * 2]!;
  const say = t[6 + a * 2 + 1]!;
  const e1x = t[6 + b * 2]! - sax;
  const e1y = t[6 + b * 2 + 1]! - say;
  const e2x = t[6 + c * 2]! - sax;
  const e2y = t[6 + c * 2 + 1]! - say;
  // l1 = ((x-ax)(cy-ay) - (y-ay)(cx-ax)) / det, l2 = ((y-ay)(bx-ax) - (x-ax)(by-ay)) / det
  const l1x = (cy - ay) / det;
  const l1y = -(cx - ax) / det;
  const l2x = -(by - ay) / det;
  const l2y = (bx - ax) / det;
  const mxx = e1x * l1x + e2x * l2x; // d src.x / d x
  const mxy = e1x * l1y + e2x * l2y; // d src.x / d y
  const myx = e1y * l1x + e2y * l2x;
  const myy = e1y * l1y + e2y * l2y;
  const W = dst.width;
  const H = dst.height;
  const rowFrom = Math.max(0, Math.ceil(ay - 0.5));
  const rowTo = Math.min(H - 1, Math.ceil(cy - 0.5) - 1);
  for (let row = rowFrom; row <= rowTo; row++) {
    const yc = row + 0.5;
    const xLong = edgeX(ax, ay, cx, cy, yc);
    const xShort = yc < by ? edgeX(ax, ay, bx, by, yc) : edgeX(bx, by, cx, cy, yc);
    const xl = Math.min(xLong, xShort);
    const xr = Math.max(xLong, xShort);
    const from = Math.max(0, Math.ceil(xl - 0.5));
    const to = Math.min(W - 1, Math.ceil(xr - 0.5) - 1);
    if (from > to) continue;
    const dx0 = from + 0.5 - ax;
    const dy0 = yc - ay;
    // Source position of the first pixel centre, in source sample-index space (centres at integers).
    const sx = sax + mxx * dx0 + mxy * dy0 - 0.5;
    const sy = say + myx * dx0 + myy * dy0 - 0.5;
    sampleRow(src, dst, row * W + from, to - from + 1, sx, sy, mxx, myx);
  }
}

/** Bilinear, edge-clamped samples of `n` pixels along a source line into dst starting at pixel `o`. */
function sampleRow(src: Image, dst: Image, o: number, n: number, sx: number, sy: number, dx: number, dy: number): void {
  const C = src.channels;
  const SW = src.width;
  const SH = src.height;
  const s = src.data;
  const d = dst.data;
  const round = d instanceof Uint8Array || d instanceof Uint8ClampedArray;
  let out = o * C;
  for (let k = 0; k < n; k++, sx += dx, sy += dy) {
    let x = sx < 0 ? 0 : sx > SW - 1 ? SW - 1 : sx;
    let y = sy < 0 ? 0 : sy > SH - 1 ? SH - 1 : sy;
    let xi = Math.floor(x);
    let yi = Math.floor(y);
    if (xi > SW - 2) xi = SW > 1 ? SW - 2 : 0;
    if (yi > SH - 2) yi = SH > 1 ? SH - 2 : 0;
    x -= xi;
    y -= yi;
    const p00 = (yi * SW + xi) * C;
    const p01 = x > 0 ? p00 + C : p00;
    const p10 = y > 0 ? p00 + SW * C : p00;
    const p11 = x > 0 ? p10 + C : p10;
    const w00 = (1 - x) * (1 - y);
    const w01 = x * (1 - y);
    const w10 = (1 - x) * y;
    const w11 = x * y;
    for (let c = 0; c < C; c++) {
      const v = s[p00 + c]! * w00 + s[p01 + c]! * w01 + s[p10 + c]! * w10 + s[p11 + c]! * w11;
      d[out++] = round ? (v + 0.5) | 0 : v;
    }
  }
}
