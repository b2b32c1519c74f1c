/**
 * The warp mesh of the lower face: MediaPipe's own tesselation restricted to the vertices below the nose tip, plus a
 * fan over the inner-lip polygon around one extra vertex (the mouth's centre), because FaceMesh leaves the inner
 * mouth as a hole. Each vertex carries a paste weight: 0 on the region's border, rising to 1 over `featherIod`
 * (distance in the canonical face) so the pasted region blends into the real frame without a seam. Inner-mouth
 * triangles are flagged: teeth and tongue are only taken from references with a similar opening.
 */
import { canonicalFace, tesselationTriangles } from '../face/geometry/mediapipeTopology.ts';

/** Inner-lip contour in order around the mouth (upper from the right corner, then lower back). */
export const INNER_LIP_LOOP: readonly number[] = [
  78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95,
];

/** FaceMesh face oval, in order around the face. */
const FACE_OVAL: readonly number[] = [
  10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136,
  172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
];

export interface MouthMesh {
  /**
   * Mesh indices of the vertices; -1: the inner-mouth centre (virtual); -2: a jaw anchor (virtual, see `anchorOf`).
   */
  vertices: Int32Array;
  /** For anchor vertices, the mesh index of the oval vertex they extend; -1 otherwise. */
  anchorOf: Int32Array;
  /** Anchor distance from the mouth centre, relative to the oval vertex's. */
  anchorScale: number;
  /** Triangles as triples of positions into `vertices`. */
  triangles: Uint16Array;
  /** Per triangle: 1 when it lies inside the inner mouth. */
  innerMouth: Uint8Array;
  /** Paste weight per vertex in [0, 1]. */
  weights: Float32Array;
  /** Per vertex, 1 when it is on the border (never displaced). */
  border: Uint8Array;
}

let cached: MouthMesh | undefined;

/**
 * @param belowNoseIod vertices whose canonical y is at least this far below the nose tip are included (IOD units;
 *   negative includes a band above it)
 */
export function mouthMesh(featherIod = 0.18, belowNoseIod = -0.05, anchorScale = 1.25): MouthMesh {
  if (cached) return cached;
  const { positions } = canonicalFace();
  const iod = Math.hypot(
    (positions[33 * 3]! + positions[133 * 3]! - positions[362 * 3]! - positions[263 * 3]!) / 2,
    (positions[33 * 3 + 1]! + positions[133 * 3 + 1]! - positions[362 * 3 + 1]! - positions[263 * 3 + 1]!) / 2,
  );
  const noseY = -positions[1 * 3 + 1]!; // y down
  const y = (i: number) => -positions[i * 3 + 1]!;
  const x = (i: number) => positions[i * 3]!;
  const tris = tesselationTriangles();
  const inSet = new Uint8Array(468);
  for (let i = 0; i < 468; i++) if ((y(i) - noseY) / iod >= belowNoseIod) inSet[i] = 1;
  const kept: number[] = [];
  const touched = new Uint8Array(468);
  for (let t = 0; t + 2 < tris.length; t += 3) {
    const a = tris[t]!;
    const b = tris[t + 1]!;
    const c = tris[t + 2]!;
    if (inSet[a] && inSet[b] && inSet[c]) {
      kept.push(a, b, c);
      touched[a] = touched[b] = touched[c] = 1;
    }
  }
  // Border: edges used by exactly one kept triangle (the region's outline, or the mesh's own).
  const edgeCount = new Map<number, number>();
  const key = (a: number, b: number) => (a < b ? a * 1000 + b : b * 1000 + a);
  for (let t = 0; t < kept.length; t += 3) {
    for (const [a, b] of [
      [kept[t]!, kept[t + 1]!],
      [kept[t + 1]!, kept[t + 2]!],
      [kept[t + 2]!, kept[t]!],
    ] as const) {
      edgeCount.set(key(a, b), (edgeCount.get(key(a, b)) ?? 0) + 1);
    }
  }
  const innerSet = new Set(INNER_LIP_LOOP);
  const borderMesh = new Uint8Array(468);
  for (const [k, n] of edgeCount) {
    if (n !== 1) continue;
    const a = Math.floor(k / 1000);
    const b = k % 1000;
    if (innerSet.has(a) && innerSet.has(b)) continue; // the mouth hole is not a border
    borderMesh[a] = borderMesh[b] = 1;
  }
  // The oval run inside the region becomes interior (the chin moves); the top cut stays the border.
  const ovalRun = FACE_OVAL.filter((i) => touched[i] && borderMesh[i]);
  const ovalSet = new Set(ovalRun);
  // Keep the two ends of the run (where the oval meets the top cut) on the border.
  const ordered = orderRun(ovalRun);
  for (const i of ordered.slice(1, -1)) borderMesh[i] = 0;
  void ovalSet;
  const verts: number[] = [];
  const pos = new Int32Array(469).fill(-1);
  for (let i = 0; i < 468; i++) {
    if (touched[i]) {
      pos[i] = verts.length;
      verts.push(i);
    }
  }
  const centre = verts.length;
  verts.push(-1);
  const triangles: number[] = kept.map((i) => pos[i]!);
  const inner: number[] = new Array<number>(kept.length / 3).fill(0);
  for (let i = 0; i < INNER_LIP_LOOP.length; i++) {
    const a = INNER_LIP_LOOP[i]!;
    const b = INNER_LIP_LOOP[(i + 1) % INNER_LIP_LOOP.length]!;
    triangles.push(pos[a]!, pos[b]!, centre);
    inner.push(1);
  }
  // Anchor band below the oval: one anchor per oval vertex, two triangles per oval edge.
  const anchorOf: number[] = verts.map(() => -1);
  const anchorPos = new Map<number, number>();
  for (const i of ordered) {
    anchorPos.set(i, verts.length);
    verts.push(-2);
    anchorOf.push(i);
  }
  for (let j = 0; j + 1 < ordered.length; j++) {
    const a = ordered[j]!;
    const b = ordered[j + 1]!;
    triangles.push(pos[a]!, pos[b]!, anchorPos.get(a)!, pos[b]!, anchorPos.get(b)!, anchorPos.get(a)!);
    inner.push(0, 0);
  }
  const weights = new Float32Array(verts.length);
  const border = new Uint8Array(verts.length);
  const borderPts = verts.filter((v) => v >= 0 && borderMesh[v]);
  verts.forEach((v, i) => {
    if (v === -2) {
      border[i] = 1; // anchors stay where the real frame's are, and show the real frame
      weights[i] = 0;
      return;
    }
    if (v < 0) {
      weights[i] = 1;
      return;
    }
    if (borderMesh[v]) {
      border[i] = 1;
      weights[i] = 0;
      return;
    }
    let d = Infinity;
    for (const b of borderPts) d = Math.min(d, Math.hypot(x(v) - x(b), y(v) - y(b)) / iod);
    weights[i] = Math.min(1, d / featherIod);
  });
  cached = {
    vertices: Int32Array.from(verts),
    anchorOf: Int32Array.from(anchorOf),
    anchorScale,
    triangles: Uint16Array.from(triangles),
    innerMouth: Uint8Array.from(inner),
    weights,
    border,
  };
  return cached;
}

/** Vertex positions (x, y) of the mouth mesh for a (x, y) face mesh. */
export function meshVertices(m: MouthMesh, mesh: ArrayLike<number>, out = new Float32Array(m.vertices.length * 2)) {
  let cx = 0;
  let cy = 0;
  for (const i of INNER_LIP_LOOP) {
    cx += mesh[2 * i]!;
    cy += mesh[2 * i + 1]!;
  }
  cx /= INNER_LIP_LOOP.length;
  cy /= INNER_LIP_LOOP.length;
  for (let k = 0; k < m.vertices.length; k++) {
    const v = m.vertices[k]!;
    if (v === -2) {
      const o = m.anchorOf[k]!;
      out[2 * k] = cx + (mesh[2 * o]! - cx) * m.anchorScale;
      out[2 * k + 1] = cy + (mesh[2 * o + 1]! - cy) * m.anchorScale;
    } else {
      out[2 * k] = v < 0 ? cx : mesh[2 * v]!;
      out[2 * k + 1] = v < 0 ? cy : mesh[2 * v + 1]!;
    }
  }
  return out;
}

/** The oval vertices of the region in oval order, as one contiguous run (the oval list is circular). */
function orderRun(run: readonly number[]): number[] {
  const inRun = new Set(run);
  const n = FACE_OVAL.length;
  // Start just after a gap.
  let start = 0;
  for (let i = 0; i < n; i++) {
    if (inRun.has(FACE_OVAL[i]!) && !inRun.has(FACE_OVAL[(i - 1 + n) % n]!)) {
      start = i;
      break;
    }
  }
  const out: number[] = [];
  for (let j = 0; j < n; j++) {
    const v = FACE_OVAL[(start + j) % n]!;
    if (!inRun.has(v)) break;
    out.push(v);
  }
  return out;
}

/** MediaPipe's lip contours and semi rings, column-aligned from the right corner (61 / 78) to the left (291 / 308). */
const UPPER_OUTER = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291];
const UPPER_SEMI_OUTER = [76, 184, 74, 73, 72, 11, 302, 303, 304, 408, 306];
const UPPER_SEMI_INNER = [62, 183, 42, 41, 38, 12, 268, 271, 272, 407, 292];
const UPPER_INNER = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308];
const LOWER_OUTER = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291];
const LOWER_SEMI_OUTER = [76, 77, 90, 180, 85, 16, 315, 404, 320, 307, 306];
const LOWER_SEMI_INNER = [62, 96, 89, 179, 86, 15, 316, 403, 319, 325, 292];
const LOWER_INNER = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308];

/** Per mouth-mesh vertex: which lip it belongs to, and how the semi-ring vertices sit between their contours. */
export interface LipStructure {
  /** -1: upper lip (contour, corners excluded) or skin above the mouth line; +1: lower; 0: corners, jaw, centre. */
  side: Int8Array;
  /** For a semi-ring vertex: the positions (into `vertices`) of its column's inner and outer contour points; -1. */
  ringInner: Int32Array;
  ringOuter: Int32Array;
  /** Where it sits between them (0 = inner contour, 1 = outer), in the canonical face. */
  ringFraction: Float32Array;
}

export function lipStructure(m: MouthMesh): LipStructure {
  const { positions } = canonicalFace();
  const x = (i: number) => positions[i * 3]!;
  const y = (i: number) => -positions[i * 3 + 1]!;
  const n = m.vertices.length;
  const posOf = new Map<number, number>();
  m.vertices.forEach((v, k) => {
    if (v >= 0) posOf.set(v, k);
  });
  const side = new Int8Array(n);
  const ringInner = new Int32Array(n).fill(-1);
  const ringOuter = new Int32Array(n).fill(-1);
  const ringFraction = new Float32Array(n);
  const corners = new Set([61, 291, 78, 308]);
  const upperLip = new Set([...UPPER_OUTER, ...UPPER_INNER].filter((i) => !corners.has(i)));
  const lowerLip = new Set([...LOWER_OUTER, ...LOWER_INNER].filter((i) => !corners.has(i)));
  const ring = new Map<number, [number, number]>();
  for (const [semi, inner, outer] of [
    [UPPER_SEMI_OUTER, UPPER_INNER, UPPER_OUTER],
    [UPPER_SEMI_INNER, UPPER_INNER, UPPER_OUTER],
    [LOWER_SEMI_OUTER, LOWER_INNER, LOWER_OUTER],
    [LOWER_SEMI_INNER, LOWER_INNER, LOWER_OUTER],
  ] as const) {
    semi.forEach((v, j) => ring.set(v, [inner[j]!, outer[j]!]));
  }
  const mouthY = (y(13) + y(14)) / 2;
  m.vertices.forEach((v, k) => {
    if (v < 0) return;
    if (upperLip.has(v)) side[k] = -1;
    else if (lowerLip.has(v)) side[k] = 1;
    else if (corners.has(v) || m.anchorOf[k]! >= 0) side[k] = 0;
    else side[k] = y(v) < mouthY ? -1 : 1;
    const r = ring.get(v);
    const a = r && posOf.get(r[0]);
    const b = r && posOf.get(r[1]);
    if (r && a !== undefined && b !== undefined) {
      ringInner[k] = a;
      ringOuter[k] = b;
      const ex = x(r[1]) - x(r[0]);
      const ey = y(r[1]) - y(r[0]);
      const len2 = ex * ex + ey * ey;
      const f = len2 > 0 ? ((x(v) - x(r[0])) * ex + (y(v) - y(r[0])) * ey) / len2 : 0.5;
      ringFraction[k] = Math.min(1, Math.max(0, f));
    }
  });
  return { side, ringInner, ringOuter, ringFraction };
}
