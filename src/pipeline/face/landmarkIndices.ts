/** MediaPipe FaceMesh (468) indices the tracker itself needs. The 131-point subset lives in geometry/. */

/** Outer eye corners: subject's right (image left) and left. The eye line sets the crop rotation. */
export const RIGHT_EYE_OUTER = 33;
export const RIGHT_EYE_INNER = 133;
export const LEFT_EYE_OUTER = 263;
export const LEFT_EYE_INNER = 362;
/** Inner lip midpoints: their distance is the mouth opening. */
export const UPPER_LIP_INNER = 13;
export const LOWER_LIP_INNER = 14;
/** Cheek extremes and forehead/chin, for the head pose estimate. */
export const RIGHT_CHEEK = 234;
export const LEFT_CHEEK = 454;
export const FOREHEAD = 10;
export const CHIN = 152;

/** The 40 points of MediaPipe's FACEMESH_LIPS edge set (outer lower, outer upper, inner lower, inner upper). */
export const LIP_POINTS: readonly number[] = [
  61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270, 409, 78, 95, 88, 178, 87, 14,
  317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415,
];

/** Lips, jaw and chin: the points that move with speech and get the lighter smoothing. */
export const MOUTH_REGION_POINTS: readonly number[] = [
  ...LIP_POINTS,
  // jaw line and chin
  58,
  132,
  136,
  148,
  149,
  150,
  152,
  172,
  176,
  288,
  361,
  365,
  377,
  378,
  379,
  397,
  400,
  // skin around the mouth that follows the lips
  164,
  165,
  167,
  92,
  186,
  57,
  43,
  106,
  182,
  83,
  18,
  313,
  406,
  335,
  273,
  287,
  410,
  322,
  391,
  393,
  2,
  326,
  97,
  202,
  204,
  194,
  201,
  200,
  421,
  418,
  424,
  422,
  32,
  262,
  140,
  171,
  175,
  396,
  369,
  211,
  431,
  170,
  395,
];

/** Centre of each eye (mean of its two corners), for the interocular distance. */
export function eyeCentres(lm: Float32Array): { rx: number; ry: number; lx: number; ly: number } {
  const g = (i: number, k: number): number => lm[i * 3 + k] ?? 0;
  return {
    rx: (g(RIGHT_EYE_OUTER, 0) + g(RIGHT_EYE_INNER, 0)) / 2,
    ry: (g(RIGHT_EYE_OUTER, 1) + g(RIGHT_EYE_INNER, 1)) / 2,
    lx: (g(LEFT_EYE_OUTER, 0) + g(LEFT_EYE_INNER, 0)) / 2,
    ly: (g(LEFT_EYE_OUTER, 1) + g(LEFT_EYE_INNER, 1)) / 2,
  };
}

/** Distance between the eye centres, pixels: the face scale used for smoothing and the jitter figures. */
export function interocularDistance(lm: Float32Array): number {
  const e = eyeCentres(lm);
  return Math.hypot(e.lx - e.rx, e.ly - e.ry);
}

/** Inner-lip opening divided by the interocular distance. */
export function mouthOpening(lm: Float32Array): number {
  const dx = (lm[UPPER_LIP_INNER * 3] ?? 0) - (lm[LOWER_LIP_INNER * 3] ?? 0);
  const dy = (lm[UPPER_LIP_INNER * 3 + 1] ?? 0) - (lm[LOWER_LIP_INNER * 3 + 1] ?? 0);
  const iod = interocularDistance(lm);
  return iod > 0 ? Math.hypot(dx, dy) / iod : 0;
}
