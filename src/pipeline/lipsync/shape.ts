/**
 * Mouth shapes in a pose-normalised frame. A similarity transform (scale, rotation, translation) fitted on stable
 * eye-corner and nose-bridge points maps a frame's mesh onto a fixed frontal template whose eye centres are 1 unit
 * apart (interocular distance, IOD) around the origin; content points (lips + jaw) are then compared, stored and
 * predicted in that frame, and mapped back with the inverse transform of the frame they are applied to.
 */
import { canonicalFace } from '../face/geometry/mediapipeTopology.ts';
import { CONTENT_POINTS, JAW_INDICES, LIP_INDICES } from './types.ts';

/** Eye corners and nose bridge: points that do not move when the mouth does. */
export const STABLE_INDICES: readonly number[] = [33, 133, 362, 263, 168, 6, 197, 195];
/** Inner-lip pairs (upper, lower) whose mean distance is the mouth opening. */
export const INNER_LIP_PAIRS: readonly (readonly [number, number])[] = [
  [13, 14],
  [82, 87],
  [312, 317],
];
/** Content indices into the mesh: lips (40) then jaw (17). */
export const CONTENT_INDICES: readonly number[] = [...LIP_INDICES, ...JAW_INDICES];

/**
 * Frontal template of the stable points, in IOD units, origin at the mid-eye point, x to image right, y down: MediaPipe's
 * canonical face (x, -y of the stable vertices, read by the geometry module), rescaled so the eye centres are 1 apart.
 */
export const STABLE_TEMPLATE: Float64Array = (() => {
  const pos = canonicalFace().positions;
  const xy = (i: number): [number, number] => [pos[i * 3]!, -pos[i * 3 + 1]!];
  const [r0, r1, l0, l1] = [xy(33), xy(133), xy(362), xy(263)];
  const eyeR = [(r0[0] + r1[0]) / 2, (r0[1] + r1[1]) / 2];
  const eyeL = [(l0[0] + l1[0]) / 2, (l0[1] + l1[1]) / 2];
  const iod = Math.hypot(eyeL[0]! - eyeR[0]!, eyeL[1]! - eyeR[1]!);
  const mx = (eyeR[0]! + eyeL[0]!) / 2;
  const my = (eyeR[1]! + eyeL[1]!) / 2;
  const out = new Float64Array(STABLE_INDICES.length * 2);
  STABLE_INDICES.forEach((idx, i) => {
    const [x, y] = xy(idx);
    out[2 * i] = (x - mx) / iod;
    out[2 * i + 1] = (y - my) / iod;
  });
  return out;
})();

/** x' = a x - b y + tx, y' = b x + a y + ty. */
export interface Similarity {
  a: number;
  b: number;
  tx: number;
  ty: number;
}

/** Mesh point `i`, (x, y), from an interleaved array with `stride` values per point (2 or 3). */
export function point(mesh: ArrayLike<number>, i: number, stride = 2): [number, number] {
  return [mesh[i * stride]!, mesh[i * stride + 1]!];
}

/** Least-squares similarity taking src[i] to dst[i] (both interleaved x, y). */
export function fitSimilarity(src: ArrayLike<number>, dst: ArrayLike<number>, n: number): Similarity {
  let sx = 0;
  let sy = 0;
  let dx = 0;
  let dy = 0;
  for (let i = 0; i < n; i++) {
    sx += src[2 * i]!;
    sy += src[2 * i + 1]!;
    dx += dst[2 * i]!;
    dy += dst[2 * i + 1]!;
  }
  sx /= n;
  sy /= n;
  dx /= n;
  dy /= n;
  let num1 = 0;
  let num2 = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    const px = src[2 * i]! - sx;
    const py = src[2 * i + 1]! - sy;
    const qx = dst[2 * i]! - dx;
    const qy = dst[2 * i + 1]! - dy;
    num1 += px * qx + py * qy;
    num2 += px * qy - py * qx;
    den += px * px + py * py;
  }
  const a = den > 0 ? num1 / den : 1;
  const b = den > 0 ? num2 / den : 0;
  return { a, b, tx: dx - (a * sx - b * sy), ty: dy - (b * sx + a * sy) };
}

export function invertSimilarity(t: Similarity): Similarity {
  const d = t.a * t.a + t.b * t.b;
  const a = t.a / d;
  const b = -t.b / d;
  return { a, b, tx: -(a * t.tx - b * t.ty), ty: -(b * t.tx + a * t.ty) };
}

export function applySimilarity(t: Similarity, x: number, y: number): [number, number] {
  return [t.a * x - t.b * y + t.tx, t.b * x + t.a * y + t.ty];
}

/** Similarity from a mesh (interleaved, `stride` values per point) to the frontal template. */
export function meshToTemplate(mesh: ArrayLike<number>, stride = 2): Similarity {
  const src = new Float64Array(STABLE_INDICES.length * 2);
  STABLE_INDICES.forEach((idx, i) => {
    src[2 * i] = mesh[idx * stride]!;
    src[2 * i + 1] = mesh[idx * stride + 1]!;
  });
  return fitSimilarity(src, STABLE_TEMPLATE, STABLE_INDICES.length);
}

/** Interocular distance (between eye centres) of a mesh, in its own units. */
export function interocular(mesh: ArrayLike<number>, stride = 2): number {
  const ex = (mesh[33 * stride]! + mesh[133 * stride]! - mesh[362 * stride]! - mesh[263 * stride]!) / 2;
  const ey = (mesh[33 * stride + 1]! + mesh[133 * stride + 1]! - mesh[362 * stride + 1]! - mesh[263 * stride + 1]!) / 2;
  return Math.hypot(ex, ey);
}

/** Mouth opening: mean inner-lip distance over {@link INNER_LIP_PAIRS} divided by the interocular distance. */
export function mouthOpening(mesh: ArrayLike<number>, stride = 2): number {
  let s = 0;
  for (const [u, l] of INNER_LIP_PAIRS) {
    s += Math.hypot(mesh[u * stride]! - mesh[l * stride]!, mesh[u * stride + 1]! - mesh[l * stride + 1]!);
  }
  const iod = interocular(mesh, stride);
  return iod > 0 ? s / INNER_LIP_PAIRS.length / iod : 0;
}

/** Mouth opening of 57 content points in the template frame (IOD units): lips are content points 0..39. */
export function contentOpening(content: ArrayLike<number>): number {
  let s = 0;
  for (const [u, l] of INNER_LIP_PAIRS) {
    const iu = LIP_INDICES.indexOf(u);
    const il = LIP_INDICES.indexOf(l);
    s += Math.hypot(content[2 * iu]! - content[2 * il]!, content[2 * iu + 1]! - content[2 * il + 1]!);
  }
  return s / INNER_LIP_PAIRS.length;
}

/** The 57 content points of a mesh mapped to the template frame (114 values). */
export function contentToTemplate(
  mesh: ArrayLike<number>,
  t: Similarity,
  stride = 2,
  out = new Float32Array(CONTENT_POINTS * 2),
): Float32Array {
  CONTENT_INDICES.forEach((idx, i) => {
    const [x, y] = applySimilarity(t, mesh[idx * stride]!, mesh[idx * stride + 1]!);
    out[2 * i] = x;
    out[2 * i + 1] = y;
  });
  return out;
}

/** Maps 57 template-frame content points back into a frame with the inverse of `toTemplate` (pixels). */
export function contentFromTemplate(
  content: ArrayLike<number>,
  toTemplate: Similarity,
  out = new Float32Array(CONTENT_POINTS * 2),
): Float32Array {
  const inv = invertSimilarity(toTemplate);
  for (let i = 0; i < CONTENT_POINTS; i++) {
    const [x, y] = applySimilarity(inv, content[2 * i]!, content[2 * i + 1]!);
    out[2 * i] = x;
    out[2 * i + 1] = y;
  }
  return out;
}

/** A copy of a (x, y) mesh with its content points replaced by `content` (57 points, same pixel frame). */
export function withContent(mesh: Float32Array, content: ArrayLike<number>): Float32Array {
  const out = mesh.slice();
  CONTENT_INDICES.forEach((idx, i) => {
    out[2 * idx] = content[2 * i]!;
    out[2 * idx + 1] = content[2 * i + 1]!;
  });
  return out;
}

/** (x, y) of a FaceObservation-style (x, y, z) interleaved mesh. */
export function meshXY(landmarks: Float32Array, stride = 3): Float32Array {
  const n = Math.floor(landmarks.length / stride);
  const out = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    out[2 * i] = landmarks[i * stride]!;
    out[2 * i + 1] = landmarks[i * stride + 1]!;
  }
  return out;
}
