/** Crop rectangles for the landmark model, as MediaPipe's face graphs derive them. */
import type { RotatedRect } from './image.ts';
import { LEFT_EYE_OUTER, RIGHT_EYE_OUTER } from './landmarkIndices.ts';
import type { Detection } from './models.ts';

/** Detection -> crop: box centre, rotation from the two eye key points, long side x `scale`, square. */
export function roiFromDetection(d: Detection, scale: number): RotatedRect {
  const k = d.keypoints;
  const rotation = Math.atan2((k[3] ?? 0) - (k[1] ?? 0), (k[2] ?? 0) - (k[0] ?? 0));
  const size = Math.max(d.width, d.height) * scale;
  return { cx: d.x + d.width / 2, cy: d.y + d.height / 2, width: size, height: size, rotation };
}

/**
 * Landmarks -> next frame's crop: rotation from the outer eye corners, the landmarks' bounding box measured in that
 * rotated frame (tighter than MediaPipe's axis-aligned box on tilted heads), long side x `scale`, square.
 */
export function roiFromLandmarks(lm: Float32Array, pointCount: number, scale: number): RotatedRect {
  const rx = lm[RIGHT_EYE_OUTER * 3] ?? 0;
  const ry = lm[RIGHT_EYE_OUTER * 3 + 1] ?? 0;
  const rotation = Math.atan2((lm[LEFT_EYE_OUTER * 3 + 1] ?? 0) - ry, (lm[LEFT_EYE_OUTER * 3] ?? 0) - rx);
  const c = Math.cos(rotation);
  const s = Math.sin(rotation);
  let u0 = Infinity;
  let u1 = -Infinity;
  let v0 = Infinity;
  let v1 = -Infinity;
  for (let i = 0; i < pointCount; i++) {
    const x = lm[i * 3] ?? 0;
    const y = lm[i * 3 + 1] ?? 0;
    const u = x * c + y * s;
    const v = -x * s + y * c;
    if (u < u0) u0 = u;
    if (u > u1) u1 = u;
    if (v < v0) v0 = v;
    if (v > v1) v1 = v;
  }
  const uc = (u0 + u1) / 2;
  const vc = (v0 + v1) / 2;
  const size = Math.max(u1 - u0, v1 - v0) * scale;
  return { cx: uc * c - vc * s, cy: uc * s + vc * c, width: size, height: size, rotation };
}
