/** Rough head pose from the landmarks' own depth (z), enough to tell a frontal face from a turned one. */
import type { FaceObservation } from './types.ts';
import { CHIN, FOREHEAD, LEFT_CHEEK, LEFT_EYE_OUTER, RIGHT_CHEEK, RIGHT_EYE_OUTER } from './landmarkIndices.ts';

const DEG = 180 / Math.PI;

/**
 * yaw > 0: turned to the subject's left (their left cheek moves away from the camera); pitch > 0: chin up;
 * roll > 0: the eye line goes down to the image's right (head tilted to the subject's left shoulder).
 */
export function estimatePose(lm: Float32Array): FaceObservation['pose'] {
  const g = (i: number, k: number): number => lm[i * 3 + k] ?? 0;
  const roll = Math.atan2(g(LEFT_EYE_OUTER, 1) - g(RIGHT_EYE_OUTER, 1), g(LEFT_EYE_OUTER, 0) - g(RIGHT_EYE_OUTER, 0));
  const c = Math.cos(roll);
  const s = Math.sin(roll);
  // Cheek-to-cheek and forehead-to-chin vectors with the roll taken out.
  const ax = g(LEFT_CHEEK, 0) - g(RIGHT_CHEEK, 0);
  const ay = g(LEFT_CHEEK, 1) - g(RIGHT_CHEEK, 1);
  const az = g(LEFT_CHEEK, 2) - g(RIGHT_CHEEK, 2);
  const bx = g(CHIN, 0) - g(FOREHEAD, 0);
  const by = g(CHIN, 1) - g(FOREHEAD, 1);
  const bz = g(CHIN, 2) - g(FOREHEAD, 2);
  const yaw = Math.atan2(az, ax * c + ay * s);
  const pitch = Math.atan2(-bz, -bx * s + by * c);
  return { yawDeg: yaw * DEG, pitchDeg: pitch * DEG, rollDeg: roll * DEG };
}
