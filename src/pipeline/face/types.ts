/**
 * What face tracking tells the rest of the pipeline. Landmarks are in the MediaPipe FaceMesh topology (468 points,
 * 478 with iris), in pixel coordinates of the frame they were found in (x, y) plus a relative depth (z).
 */

export interface FaceObservation {
  /** Interleaved x, y, z per point; length = pointCount * 3. Smoothed when the tracker smooths. */
  landmarks: Float32Array;
  /** The same points before temporal smoothing (absent when smoothing is off: then `landmarks` are raw). */
  rawLandmarks?: Float32Array;
  pointCount: 468 | 478;
  /** Face presence score in [0, 1] from the landmark model. */
  score: number;
  /** Axis-aligned box around the landmarks, pixels. */
  box: { x: number; y: number; width: number; height: number };
  /** Head pose estimate in degrees (yaw > 0: turned to the subject's left). */
  pose: { yawDeg: number; pitchDeg: number; rollDeg: number };
  /** True when this frame needed the detector (tracking was lost or just started). */
  detected: boolean;
}

/** Why a frame has no usable face; the pipeline then passes the original frame through. */
export type NoFaceReason = 'no-face' | 'too-small' | 'turned-away' | 'occluded' | 'low-confidence';

export type FaceResult = { ok: true; face: FaceObservation } | { ok: false; reason: NoFaceReason };
