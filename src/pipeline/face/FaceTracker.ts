/**
 * Face tracking in the manner of MediaPipe's face mesh graph: the detector runs only when there is no face being
 * tracked; otherwise each frame's crop comes from the previous frame's landmarks (rotated along the eye line). The
 * landmark model's face flag decides whether tracking holds. Landmarks are then smoothed (One Euro, scale-normalised,
 * lighter on the mouth). Everything is synchronous (`trackSync`) so the tracker can live inside a worker thread.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { VideoFrame } from '../media.ts';
import { BlazeFaceDetector } from './BlazeFaceDetector.ts';
import { FaceMeshLandmarks } from './FaceMeshLandmarks.ts';
import { checkFrame, type RotatedRect } from './image.ts';
import { interocularDistance, MOUTH_REGION_POINTS } from './landmarkIndices.ts';
import type { Detection, FaceDetector, LandmarkModel } from './models.ts';
import { defaultSmoothingOptions, OneEuroSmoother, type SmoothingOptions } from './OneEuroSmoother.ts';
import { estimatePose } from './pose.ts';
import { roiFromDetection, roiFromLandmarks } from './roi.ts';
import type { FaceObservation, FaceResult, NoFaceReason } from './types.ts';

/** Where the set-up step writes the converted models (`scripts/setup.d/20-face-models.mjs`). */
export const defaultFaceModelDir = fileURLToPath(new URL('../../../models/face/', import.meta.url));

export interface FaceTrackerOptions {
  /** Folder with face_landmark.onnx and face_detection_short_range.onnx. Default: models/face of the checkout. */
  modelDir?: string;
  /** A landmark model to use instead of the bundled FaceMesh (the tracker closes it on close()). */
  landmarkModel?: LandmarkModel;
  /** A detector to use instead of the bundled BlazeFace (the tracker closes it on close()). */
  detector?: FaceDetector;
  /** ORT threads per model. Default 1. */
  intraOpNumThreads?: number;
  /** Landmark face-flag probability below which tracking is lost. Default 0.5 (MediaPipe's min_tracking_confidence). */
  minPresence?: number;
  /** Detector score threshold. Default 0.5. */
  minDetectionScore?: number;
  /** Crop side relative to the face's extent. Default 1.5, as MediaPipe. */
  roiScale?: number;
  /** Faces whose interocular distance is below this many pixels are reported `too-small`. Default 12. */
  minInterocularPx?: number;
  /** Faces turned further than this (|yaw|, degrees) are reported `turned-away`. Default 55. */
  maxYawDeg?: number;
  /** One Euro parameters, or false for raw landmarks. Default `defaultSmoothingOptions`. */
  smoothing?: SmoothingOptions | false;
  /**
   * When the whole-frame detection finds nothing, also search overlapping tiles (faces under ~15% of the frame,
   * e.g. portrait video). Default true.
   */
  searchTiles?: boolean;
  /** While no face is found, the (costly) tiled search runs once every this many frames. Default 5. */
  tileSearchIntervalFrames?: number;
}

/** One face tracker per stream. Not safe to share between streams: it holds the previous frame's state. */
export interface FaceTracker {
  /** Tracks one frame. Resolves `{ ok: false, reason }` when there is no usable face; rejects on a malformed frame. */
  track(frame: VideoFrame): Promise<FaceResult>;
  /** The same, synchronously (blocks for the inference: use inside a worker thread). Throws on a malformed frame. */
  trackSync(frame: VideoFrame): FaceResult;
  /** Forgets the tracked face: the next frame runs the detector. */
  reset(): void;
  /** Releases the models once; later calls do nothing. */
  close(): void;
  readonly closed: boolean;
  /** Counters since creation. */
  readonly stats: { frames: number; detections: number; tracked: number; noFace: number };
}

/** Creates a tracker; loads both models (tens of ms). Throws if the model files are missing. */
export function createFaceTracker(options: FaceTrackerOptions = {}): FaceTracker {
  return new FaceTrackerImpl(options);
}

class FaceTrackerImpl implements FaceTracker {
  private readonly landmarks: LandmarkModel;
  private readonly detector: FaceDetector;
  private readonly minPresence: number;
  private readonly roiScale: number;
  private readonly minIodPx: number;
  private readonly maxYawDeg: number;
  private readonly searchTiles: boolean;
  private readonly tileInterval: number;
  private readonly smoother: OneEuroSmoother | null;
  private readonly raw: Float32Array;
  private readonly candidate: Float32Array;
  private readonly smoothed: Float32Array;
  private readonly pointCount: number;
  /** Crop for the next frame, from this frame's landmarks; null when not tracking. */
  private roi: RotatedRect | null = null;
  /** Last accepted face box (for continuity when re-detecting) and when it was seen. */
  private lastBox: { cx: number; cy: number; size: number } | null = null;
  private framesSinceFace = Infinity;
  private framesSinceTileSearch = Infinity;
  private isClosed = false;
  readonly stats = { frames: 0, detections: 0, tracked: 0, noFace: 0 };

  constructor(o: FaceTrackerOptions) {
    const dir = o.modelDir ?? defaultFaceModelDir;
    const threads = o.intraOpNumThreads ?? 1;
    const need = (f: string): string => {
      const p = join(dir, f);
      if (!existsSync(p)) {
        throw new Error(`face model ${p} is missing: run \`node scripts/setup.mjs face-models\` (or npm ci)`);
      }
      return p;
    };
    this.landmarks =
      o.landmarkModel ?? new FaceMeshLandmarks({ modelPath: need('face_landmark.onnx'), intraOpNumThreads: threads });
    try {
      this.detector =
        o.detector ??
        new BlazeFaceDetector({
          modelPath: need('face_detection_short_range.onnx'),
          minScore: o.minDetectionScore ?? 0.5,
          intraOpNumThreads: threads,
        });
    } catch (err) {
      this.landmarks.close();
      throw err;
    }
    this.pointCount = this.landmarks.pointCount;
    this.raw = new Float32Array(this.pointCount * 3);
    this.candidate = new Float32Array(this.pointCount * 3);
    this.smoothed = new Float32Array(this.pointCount * 3);
    this.minPresence = o.minPresence ?? 0.5;
    this.roiScale = o.roiScale ?? 1.5;
    this.minIodPx = o.minInterocularPx ?? 12;
    this.maxYawDeg = o.maxYawDeg ?? 55;
    this.searchTiles = o.searchTiles ?? true;
    this.tileInterval = Math.max(1, o.tileSearchIntervalFrames ?? 5);
    this.smoother =
      o.smoothing === false
        ? null
        : new OneEuroSmoother(this.pointCount * 3, MOUTH_REGION_POINTS, o.smoothing ?? defaultSmoothingOptions);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  track(frame: VideoFrame): Promise<FaceResult> {
    try {
      return Promise.resolve(this.trackSync(frame));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  trackSync(frame: VideoFrame): FaceResult {
    if (this.isClosed) throw new Error('FaceTracker: track() after close()');
    const bad = checkFrame(frame);
    if (bad) throw new TypeError(`FaceTracker: ${bad}`);
    this.stats.frames++;
    let detected = false;
    let score = 0;
    let reason: NoFaceReason = 'no-face';
    if (this.roi) {
      score = this.landmarks.run(frame, this.roi, this.raw).score;
      if (score < this.minPresence) this.roi = null;
    }
    if (!this.roi) {
      const found = this.acquire(frame);
      if (found === 'low-confidence') reason = 'low-confidence';
      else if (found !== null) {
        score = found;
        detected = true;
        this.smoother?.reset();
      }
    }
    if (!this.roi) {
      this.framesSinceFace++;
      this.stats.noFace++;
      return { ok: false, reason };
    }
    if (!detected) this.stats.tracked++;
    this.framesSinceFace = 0;
    // The next crop follows the raw landmarks: smoothing is for consumers, not for the tracking loop.
    this.roi = roiFromLandmarks(this.raw, this.pointCount, this.roiScale);
    this.lastBox = { cx: this.roi.cx, cy: this.roi.cy, size: this.roi.width };
    const iod = interocularDistance(this.raw);
    const pose = estimatePose(this.raw);
    if (iod < this.minIodPx) return { ok: false, reason: 'too-small' };
    if (Math.abs(pose.yawDeg) > this.maxYawDeg) return { ok: false, reason: 'turned-away' };
    let out = this.raw;
    if (this.smoother) {
      this.smoother.apply(this.raw, this.smoothed, frame.timestampUs, iod);
      out = this.smoothed;
    }
    const face: FaceObservation = {
      landmarks: out.slice(),
      rawLandmarks: this.smoother ? this.raw.slice() : undefined,
      pointCount: this.pointCount as 468 | 478,
      score,
      box: boxOf(out, this.pointCount),
      pose,
      detected,
    };
    return { ok: true, face };
  }

  /**
   * Runs the detector and the landmark model on its best candidates. On success `raw` holds the landmarks, `roi`
   * is set and the presence score is returned; 'low-confidence' when faces were detected but none passed the
   * landmark model; null when nothing was detected.
   */
  private acquire(frame: VideoFrame): number | 'low-confidence' | null {
    let dets = this.detector.detect(frame);
    this.stats.detections++;
    if (dets.length === 0 && this.searchTiles && ++this.framesSinceTileSearch >= this.tileInterval) {
      this.framesSinceTileSearch = 0;
      dets = this.detectTiles(frame);
    }
    if (dets.length === 0) return null;
    this.framesSinceTileSearch = Infinity;
    const ranked = this.rank(dets, frame);
    for (const d of ranked.slice(0, 3)) {
      const roi = roiFromDetection(d, this.roiScale);
      const first = this.landmarks.run(frame, roi, this.candidate).score;
      if (first < this.minPresence) continue;
      // A second pass from the landmarks' own crop: the detector box is looser than the tracking crop.
      const refined = roiFromLandmarks(this.candidate, this.pointCount, this.roiScale);
      const second = this.landmarks.run(frame, refined, this.raw).score;
      if (second < this.minPresence) this.raw.set(this.candidate);
      this.roi = refined;
      return Math.max(first, second);
    }
    return 'low-confidence';
  }

  /** Overlapping square tiles at two scales (frame's short side, half of it), merged by IoU. */
  private detectTiles(frame: VideoFrame): Detection[] {
    const all: Detection[] = [];
    const short = Math.min(frame.width, frame.height);
    for (const side of [short, short / 2]) {
      const stride = side / 2;
      for (let y = 0; y + side <= frame.height + 1; y += stride) {
        for (let x = 0; x + side <= frame.width + 1; x += stride) {
          all.push(...this.detector.detect(frame, { x, y, size: side }));
        }
      }
      if (all.length) break;
    }
    all.sort((a, b) => b.score - a.score);
    const kept: Detection[] = [];
    for (const d of all) if (!kept.some((k) => boxIou(k, d) > 0.3)) kept.push(d);
    return kept;
  }

  /**
   * Which face to follow among several: the one nearest the face we had (if we lost it less than 2 s ago at 25
   * fps), otherwise the largest and most central, weighted by the detector score.
   */
  private rank(dets: Detection[], frame: VideoFrame): Detection[] {
    const diag = Math.hypot(frame.width, frame.height);
    const last = this.framesSinceFace < 50 ? this.lastBox : null;
    const value = (d: Detection): number => {
      const cx = d.x + d.width / 2;
      const cy = d.y + d.height / 2;
      if (last) return -Math.hypot(cx - last.cx, cy - last.cy) / last.size + d.score * 0.1;
      const central = 1 - Math.hypot(cx - frame.width / 2, cy - frame.height / 2) / diag;
      return Math.sqrt(d.width * d.height) * central * d.score;
    };
    return dets
      .map((d) => ({ d, v: value(d) }))
      .sort((a, b) => b.v - a.v)
      .map((e) => e.d);
  }

  reset(): void {
    this.roi = null;
    this.lastBox = null;
    this.framesSinceFace = Infinity;
    this.framesSinceTileSearch = Infinity;
    this.smoother?.reset();
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.landmarks.close();
    this.detector.close();
  }
}

function boxOf(lm: Float32Array, n: number): FaceObservation['box'] {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = lm[i * 3] ?? 0;
    const y = lm[i * 3 + 1] ?? 0;
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

function boxIou(a: Detection, b: Detection): number {
  const ix = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const iy = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (ix <= 0 || iy <= 0) return 0;
  const inter = ix * iy;
  return inter / (a.width * a.height + b.width * b.height - inter);
}
