/**
 * Triangulations for the piecewise-affine warp: a Delaunay triangulation (Bowyer-Watson, O(n^2), meant for set-up on
 * a few hundred points), and a fixed face triangulation over the 131 subset points plus crop-border anchors computed
 * once on MediaPipe's canonical face, so that every frame warps with the same topology (no flips between frames).
 */
import { computeCropBox, frameToCrop } from './crop.ts';
import { canonicalFace } from './mediapipeTopology.ts';
import { SUBSET131, SUBSET131_COUNT } from './subset131.ts';

/**
 * Delaunay triangulation of `count` points (interleaved x, y). Returns triangle vertex indices (3 per triangle,
 * counter-clockwise in a y-down image, i.e. positive signed area in x-right/y-down coordinates).
 */
export function delaunay(points: ArrayLike<number>, count = points.length >> 1): Uint16Array {
  if (count < 3) return new Uint16Array(0);
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (let i = 0; i < count; i++) {
    minX = Math.min(minX, points[i * 2]!);
    maxX = Math.max(maxX, points[i * 2]!);
    minY = Math.min(minY, points[i * 2 + 1]!);
    maxY = Math.max(maxY, points[i * 2 + 1]!);
  }
  const d = Math.max(maxX - minX, maxY - minY) || 1;
  const mx = (minX + maxX) / 2;
  const my = (minY + maxY) / 2;
  // Vertices count..count+2 form a super-triangle far outside the points.
  const xs = new Float64Array(count + 3);
  const ys = new Float64Array(count + 3);
  for (let i = 0; i < count; i++) {
    xs[i] = points[i * 2]!;
    ys[i] = points[i * 2 + 1]!;
  }
  xs[count] = mx - 20 * d;
  ys[count] = my - d;
  xs[count + 1] = mx;
  ys[count + 1] = my + 20 * d;
  xs[count + 2] = mx + 20 * d;
  ys[count + 2] = my - d;
  type Tri = { a: number; b: number; c: number; cx: number; cy: number; r2: number };
  const make = (a: number, b: number, c: number): Tri => {
    const ax = xs[a]!;
    const ay = ys[a]!;
    const bx = xs[b]!;
    const by = ys[b]!;
    const cx = xs[c]!;
    const cy = ys[c]!;
    const D = 2 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by));
    const a2 = ax * ax + ay * ay;
    const b2 = bx * bx + by * by;
    const c2 = cx * cx + cy * cy;
    const ux = (a2 * (by - cy) + b2 * (cy - ay) + c2 * (ay - by)) / D;
    const uy = (a2 * (cx - bx) + b2 * (ax - cx) + c2 * (bx - ax)) / D;
    return { a, b, c, cx: ux, cy: uy, r2: (ax - ux) ** 2 + (ay - uy) ** 2 };
  };
  let tris: Tri[] = [make(count, count + 1, count + 2)];
  for (let p = 0; p < count; p++) {
    const px = xs[p]!;
    const py = ys[p]!;
    const bad: Tri[] = [];
    const keep: Tri[] = [];
    for (const t of tris) {
      if ((px - t.cx) ** 2 + (py - t.cy) ** 2 < t.r2 * (1 + 1e-12)) bad.push(t);
      else keep.push(t);
    }
    // Boundary of the cavity: edges that belong to exactly one bad triangle.
    const edgeCount = new Map<number, [number, number, number]>();
    for (const t of bad) {
      for (const [u, v] of [
        [t.a, t.b],
        [t.b, t.c],
        [t.c, t.a],
      ] as const) {
        const key = u < v ? u * 65536 + v : v * 65536 + u;
        const e = edgeCount.get(key);
        if (e) e[2]++;
        else edgeCount.set(key, [u, v, 1]);
      }
    }
    for (const [u, v, n] of edgeCount.values()) if (n === 1) keep.push(make(u, v, p));
    tris = keep;
  }
  const out: number[] = [];
  for (const t of tris) {
    if (t.a >= count || t.b >= count || t.c >= count) continue;
    const area = (xs[t.b]! - xs[t.a]!) * (ys[t.c]! - ys[t.a]!) - (xs[t.c]! - xs[t.a]!) * (ys[t.b]! - ys[t.a]!);
    if (Math.abs(area) < 1e-12 * d * d) continue;
    if (area > 0) out.push(t.a, t.b, t.c);
    else out.push(t.a, t.c, t.b);
  }
  return Uint16Array.from(out);
}

/** Crop-border anchors appended after the 131 points (normalised): 4 corners and 4 edge midpoints, then 8 more. */
export const BORDER_ANCHORS: Float32Array = Float32Array.from([
  0, 0, 0.5, 0, 1, 0, 1, 0.5, 1, 1, 0.5, 1, 0, 1, 0, 0.5, 0.25, 0, 0.75, 0, 1, 0.25, 1, 0.75, 0.75, 1, 0.25, 1, 0, 0.75,
  0, 0.25,
]);
/** Points of the face warp mesh: 131 subset points + 16 border anchors. */
export const FACE_MESH_POINT_COUNT = SUBSET131_COUNT + BORDER_ANCHORS.length / 2;

/**
 * Writes the warp-mesh points (131 subset points in normalised crop coordinates, then the fixed border anchors) into
 * `out` (2 * FACE_MESH_POINT_COUNT floats). Source and destination share the anchors, so the crop border stays put.
 */
export function faceMeshPoints(
  points131: ArrayLike<number>,
  out: Float32Array = new Float32Array(FACE_MESH_POINT_COUNT * 2),
): Float32Array {
  for (let i = 0; i < SUBSET131_COUNT * 2; i++) out[i] = points131[i]!;
  out.set(BORDER_ANCHORS, SUBSET131_COUNT * 2);
  return out;
}

let faceTriangles: Uint16Array | undefined;

/**
 * A fixed triangulation of the face warp mesh (indices into faceMeshPoints' layout): Delaunay over the canonical
 * MediaPipe face in its default crop. Computed once.
 */
export function faceTriangulation(): Uint16Array {
  if (faceTriangles) return faceTriangles;
  const { positions } = canonicalFace();
  const pts = new Float32Array(SUBSET131_COUNT * 2);
  for (let i = 0; i < SUBSET131_COUNT; i++) {
    const k = SUBSET131[i]!;
    pts[i * 2] = positions[k * 3]!;
    pts[i * 2 + 1] = -positions[k * 3 + 1]!; // y down, as in images
  }
  // A margin comparable to 25 px on a ~200 px face.
  const box = computeCropBox(pts, { margin: { fraction: 0.12 } });
  faceTriangles = delaunay(faceMeshPoints(frameToCrop(box, pts)));
  return faceTriangles;
}
