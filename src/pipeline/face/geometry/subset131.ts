/**
 * The 131-point FaceMesh subset of IP_LAP (see shared/notes/iplap.md): pose (74) = eyes, eyebrows, nose, 8 face-oval
 * points; content (57) = lips (40) + jaw (17).
 *
 * Fixed order (positions 0..130), each part's FaceMesh indices sorted ascending:
 *   0..15  left eye (FACEMESH_LEFT_EYE)      16..31 right eye (FACEMESH_RIGHT_EYE)
 *   32..41 left eyebrow                      42..51 right eyebrow
 *   52..65 nose (14)                         66..73 face-oval pose points (8)
 *   74..113 lips (FACEMESH_LIPS)             114..130 jaw (17)
 * "Left"/"right" follow MediaPipe's names (the subject's left eye, drawn on the image's right).
 */
import type { FaceObservation } from '../types.ts';
import { FACEMESH, type MeshEdge } from './mediapipeTopology.ts';

/** Half-open range of positions within the 131-point subset. */
export interface SubsetRange {
  start: number;
  end: number;
}

/** Nose edges listed in iplap.md (bridge 168-6-197-195-5-4, then both alae from the tip). */
const NOSE_PATHS: readonly (readonly number[])[] = [
  [168, 6, 197, 195, 5, 4],
  [4, 45, 220, 115, 48],
  [4, 275, 440, 344, 278],
];
/** Face-oval points that belong to the pose set (iplap.md). */
const OVAL_POSE = [93, 127, 162, 234, 323, 356, 389, 454];
/** Jaw points (iplap.md). */
const JAW = [58, 132, 136, 148, 149, 150, 152, 172, 176, 288, 361, 365, 377, 378, 379, 397, 400];

const sortedPoints = (edges: readonly MeshEdge[]): number[] =>
  [...new Set(edges.flatMap(([a, b]) => [a, b]))].sort((a, b) => a - b);
const pathEdges = (paths: readonly (readonly number[])[]): MeshEdge[] =>
  paths.flatMap((p) => p.slice(1).map((b, i) => [p[i]!, b] as const));

const noseEdges = pathEdges(NOSE_PATHS);
const parts: [string, number[]][] = [
  ['leftEye', sortedPoints(FACEMESH.leftEye)],
  ['rightEye', sortedPoints(FACEMESH.rightEye)],
  ['leftEyebrow', sortedPoints(FACEMESH.leftEyebrow)],
  ['rightEyebrow', sortedPoints(FACEMESH.rightEyebrow)],
  ['nose', sortedPoints(noseEdges)],
  ['ovalPose', [...OVAL_POSE].sort((a, b) => a - b)],
  ['lips', sortedPoints(FACEMESH.lips)],
  ['jaw', [...JAW].sort((a, b) => a - b)],
];

/** FaceMesh landmark index of each of the 131 subset positions, in the fixed order above. */
export const SUBSET131: Uint16Array = Uint16Array.from(parts.flatMap(([, p]) => p));
/** Number of points in the subset. */
export const SUBSET131_COUNT = 131;

const ranges: Record<string, SubsetRange> = {};
{
  let at = 0;
  for (const [name, p] of parts) {
    ranges[name] = { start: at, end: at + p.length };
    at += p.length;
  }
  if (at !== SUBSET131_COUNT) throw new Error(`131-point subset has ${at} points: MediaPipe topology changed?`);
}
const r = (name: string): SubsetRange => ranges[name]!;

/** Named ranges of subset positions. POSE + LIPS + JAW = 0..131; the pose parts subdivide POSE. */
export const SUBSET_RANGES = {
  POSE: { start: 0, end: 74 },
  LIPS: { start: 74, end: 114 },
  JAW: { start: 114, end: 131 },
  /** LIPS + JAW: what the landmark generator predicts. */
  CONTENT: { start: 74, end: 131 },
  LEFT_EYE: r('leftEye'),
  RIGHT_EYE: r('rightEye'),
  LEFT_EYEBROW: r('leftEyebrow'),
  RIGHT_EYEBROW: r('rightEyebrow'),
  NOSE: r('nose'),
  OVAL_POSE: r('ovalPose'),
} as const satisfies Record<string, SubsetRange>;

const positionOf = new Int16Array(478).fill(-1);
SUBSET131.forEach((mesh, pos) => (positionOf[mesh] = pos));

/** Subset position (0..130) of a FaceMesh landmark index, or -1 when the landmark is not in the subset. */
export function subsetPosition(meshIndex: number): number {
  return positionOf[meshIndex] ?? -1;
}

/** Edges as pairs of subset positions, flattened (a0, b0, a1, b1, ...), one list per drawn part. */
export interface SubsetEdges {
  lips: Uint8Array;
  leftEye: Uint8Array;
  rightEye: Uint8Array;
  leftEyebrow: Uint8Array;
  rightEyebrow: Uint8Array;
  nose: Uint8Array;
  /** FACEMESH_FACE_OVAL edges whose two ends are both in the subset: one chain 389 -> chin -> 162 (jaw + oval). */
  oval: Uint8Array;
  /** All of the above concatenated, the sketch's edge set. */
  all: Uint8Array;
}

function toPositions(edges: readonly MeshEdge[]): Uint8Array {
  const kept = edges.filter(([a, b]) => subsetPosition(a) >= 0 && subsetPosition(b) >= 0);
  return Uint8Array.from(kept.flatMap(([a, b]) => [subsetPosition(a), subsetPosition(b)]));
}

const edgeParts = {
  lips: toPositions(FACEMESH.lips),
  leftEye: toPositions(FACEMESH.leftEye),
  rightEye: toPositions(FACEMESH.rightEye),
  leftEyebrow: toPositions(FACEMESH.leftEyebrow),
  rightEyebrow: toPositions(FACEMESH.rightEyebrow),
  nose: toPositions(noseEdges),
  oval: toPositions(FACEMESH.faceOval),
};

/** Sketch edges within the subset (lips, eyes, brows, nose, oval), as subset positions. */
export const SUBSET_EDGES: SubsetEdges = {
  ...edgeParts,
  all: Uint8Array.from(Object.values(edgeParts).flatMap((e) => Array.from(e))),
};

/** Subset positions of the lower-face contour, image-left to image-right: 234 ... 152 (chin) ... 454. */
export const LOWER_FACE_CONTOUR: Uint8Array = Uint8Array.from(
  [234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454].map(
    subsetPosition,
  ),
);

/**
 * Copies the 131 subset points (x, y) out of `face`'s landmarks (x, y, z per point, frame pixels) into `out`
 * (262 floats, interleaved x, y), allocating only when `out` is not given.
 */
export function extractSubset131(face: FaceObservation, out: Float32Array = new Float32Array(262)): Float32Array {
  if (face.landmarks.length < face.pointCount * 3 || face.pointCount < 468) {
    throw new RangeError(`extractSubset131: landmarks hold ${face.landmarks.length / 3} points, expected 468 or 478`);
  }
  return subset131FromMesh(face.landmarks, 3, out);
}

/**
 * The same from a bare mesh: `stride` 2 for interleaved (x, y) meshes (the lip-sync engine's `mesh`), 3 for (x, y, z).
 * The mesh must hold at least 468 points.
 */
export function subset131FromMesh(
  mesh: ArrayLike<number>,
  stride: 2 | 3 = 2,
  out: Float32Array = new Float32Array(262),
): Float32Array {
  if (out.length < 262) throw new RangeError(`subset131FromMesh: out has ${out.length} floats, needs 262`);
  if (mesh.length < 468 * stride) throw new RangeError(`subset131FromMesh: mesh holds ${mesh.length / stride} points`);
  for (let i = 0; i < SUBSET131_COUNT; i++) {
    const k = SUBSET131[i]! * stride;
    out[i * 2] = mesh[k]!;
    out[i * 2 + 1] = mesh[k + 1]!;
  }
  return out;
}
