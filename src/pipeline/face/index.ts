/** Public face of src/pipeline/face: tracking (landmarks per frame) and its contracts. */
export type { FaceObservation, FaceResult, NoFaceReason } from './types.ts';
export { createFaceTracker, defaultFaceModelDir, type FaceTracker, type FaceTrackerOptions } from './FaceTracker.ts';
export type { Detection, FaceDetector, LandmarkModel, LandmarkOutput } from './models.ts';
export { BlazeFaceDetector, type BlazeFaceOptions } from './BlazeFaceDetector.ts';
export { FaceMeshLandmarks, type FaceMeshOptions } from './FaceMeshLandmarks.ts';
export {
  defaultSmoothingOptions,
  OneEuroSmoother,
  type OneEuroParams,
  type SmoothingOptions,
} from './OneEuroSmoother.ts';
export type { RotatedRect } from './image.ts';
export { eyeCentres, interocularDistance, LIP_POINTS, MOUTH_REGION_POINTS, mouthOpening } from './landmarkIndices.ts';
export * from './geometry/index.ts';
export { lagFrames, lipMotionIod, meanLipJitter, stillMouthFrames, type StillMouthOptions } from './quality.ts';
