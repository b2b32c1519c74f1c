/**
 * The two model contracts the tracker needs, so either can be swapped (another landmark model, a full-range
 * detector, a GPU session) without touching the tracking logic. Implementations here run ONNX models converted
 * from MediaPipe's TFLite files at set-up (scripts/tflite2onnx, scripts/setup.d/20-face-models.mjs).
 */
import type { VideoFrame } from '../media.ts';
import type { RotatedRect } from './image.ts';

/** A face found by the detector, in frame pixels. */
export interface Detection {
  /** Axis-aligned box. */
  x: number;
  y: number;
  width: number;
  height: number;
  /** Confidence in [0, 1]. */
  score: number;
  /**
   * Six key points, x/y interleaved: subject's right eye, left eye, nose tip, mouth centre, right ear tragion,
   * left ear tragion (BlazeFace order; "right" is on the image's left for a frontal face).
   */
  keypoints: Float32Array;
}

export interface FaceDetector {
  /** Faces in a region of the frame (the whole frame when `region` is absent), best first. */
  detect(frame: VideoFrame, region?: { x: number; y: number; size: number }): Detection[];
  close(): void;
}

/** Landmarks of one face from a crop. */
export interface LandmarkOutput {
  /** Face presence probability in [0, 1]. */
  score: number;
}

export interface LandmarkModel {
  /** Number of landmarks written per face. */
  readonly pointCount: 468 | 478;
  /**
   * Runs on the crop `roi` of `frame` and writes pointCount x (x, y, z) into `out` in frame pixels
   * (z in the same pixel scale, relative depth, smaller = nearer the camera).
   */
  run(frame: VideoFrame, roi: RotatedRect, out: Float32Array): LandmarkOutput;
  close(): void;
}
