/**
 * MediaPipe FaceMesh (face_landmark.tflite, 468 points) through onnxruntime: input 192x192 RGB in 0..1 from a
 * rotated crop, output 468 x (x, y, z) in crop pixels plus a face-presence logit.
 */
import type { VideoFrame } from '../media.ts';
import { sampleRect, type RotatedRect } from './image.ts';
import type { LandmarkModel, LandmarkOutput } from './models.ts';
import { OrtSession } from './OrtSession.ts';

const INPUT = 192;
const POINTS = 468;

export interface FaceMeshOptions {
  /** Path of face_landmark.onnx. */
  modelPath: string;
  intraOpNumThreads?: number;
}

export class FaceMeshLandmarks implements LandmarkModel {
  readonly pointCount = POINTS;
  private readonly session: OrtSession;
  private readonly result: LandmarkOutput = { score: 0 };

  constructor({ modelPath, intraOpNumThreads = 1 }: FaceMeshOptions) {
    this.session = new OrtSession(modelPath, { intraOpNumThreads });
  }

  run(frame: VideoFrame, roi: RotatedRect, out: Float32Array): LandmarkOutput {
    const input = this.session.inputs[0];
    const [points, flag] = this.session.outputs;
    if (!input || !points || !flag) throw new Error('facemesh: unexpected model inputs/outputs');
    sampleRect(frame, roi, input, INPUT, 1, 0);
    this.session.run();
    // Crop pixels -> frame pixels: centre, rotate, scale (z scales with the crop width, as MediaPipe does).
    const cos = Math.cos(roi.rotation);
    const sin = Math.sin(roi.rotation);
    const sx = roi.width / INPUT;
    const sy = roi.height / INPUT;
    for (let i = 0; i < POINTS; i++) {
      const u = ((points[i * 3] ?? 0) - INPUT / 2) * sx;
      const v = ((points[i * 3 + 1] ?? 0) - INPUT / 2) * sy;
      out[i * 3] = roi.cx + u * cos - v * sin;
      out[i * 3 + 1] = roi.cy + u * sin + v * cos;
      out[i * 3 + 2] = (points[i * 3 + 2] ?? 0) * sx;
    }
    this.result.score = 1 / (1 + Math.exp(-(flag[0] ?? -100)));
    return this.result;
  }

  close(): void {
    this.session.close();
  }
}
