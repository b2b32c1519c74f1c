/**
 * BlazeFace short-range detector (MediaPipe face_detection_short_range, 128x128 input, 896 anchors), with the
 * anchor generation, box decoding and weighted non-maximum suppression of MediaPipe's face_detection graph
 * (SsdAnchorsCalculator, TensorsToDetectionsCalculator, NonMaxSuppressionCalculator options of that graph).
 */
import type { VideoFrame } from '../media.ts';
import { sampleRect } from './image.ts';
import type { Detection, FaceDetector } from './models.ts';
import { OrtSession } from './OrtSession.ts';

const INPUT = 128;
const NUM_ANCHORS = 896;
const NUM_COORDS = 16;
/** Raw logits are clipped like MediaPipe's score_clipping_thresh before the sigmoid. */
const SCORE_CLIP = 100;

/**
 * Anchor centres (x, y in 0..1) for the short-range model: strides 8, 16, 16, 16; fixed anchor size (1x1), two
 * anchors per cell per layer (the second is the interpolated scale, same size when fixed); layers of equal stride
 * share one grid, hence 16x16x2 + 8x8x6 = 896.
 */
export function blazeFaceAnchors(): Float32Array {
  const strides = [8, 16, 16, 16];
  const out = new Float32Array(NUM_ANCHORS * 2);
  let n = 0;
  let layer = 0;
  while (layer < strides.length) {
    const stride = strides[layer] ?? 8;
    let perCell = 0;
    let last = layer;
    while (last < strides.length && strides[last] === stride) {
      perCell += 2;
      last++;
    }
    const fm = Math.ceil(INPUT / stride);
    for (let y = 0; y < fm; y++) {
      for (let x = 0; x < fm; x++) {
        for (let a = 0; a < perCell; a++) {
          out[n * 2] = (x + 0.5) / fm;
          out[n * 2 + 1] = (y + 0.5) / fm;
          n++;
        }
      }
    }
    layer = last;
  }
  if (n !== NUM_ANCHORS) throw new Error(`blazeface: generated ${n} anchors, expected ${NUM_ANCHORS}`);
  return out;
}

export interface BlazeFaceOptions {
  /** Path of face_detection_short_range.onnx. */
  modelPath: string;
  /** Minimum detection score (sigmoid). Default 0.5, as MediaPipe. */
  minScore?: number;
  /** IoU above which detections merge in weighted NMS. Default 0.3, as MediaPipe. */
  nmsIou?: number;
  intraOpNumThreads?: number;
}

interface Candidate {
  score: number;
  /** Normalised to the 128x128 input: xmin, ymin, xmax, ymax, then 6 keypoints x/y. */
  v: Float32Array;
}

export class BlazeFaceDetector implements FaceDetector {
  private readonly session: OrtSession;
  private readonly anchors = blazeFaceAnchors();
  private readonly minLogit: number;
  private readonly nmsIou: number;

  constructor({ modelPath, minScore = 0.5, nmsIou = 0.3, intraOpNumThreads = 1 }: BlazeFaceOptions) {
    this.session = new OrtSession(modelPath, { intraOpNumThreads });
    this.minLogit = Math.log(minScore / (1 - minScore));
    this.nmsIou = nmsIou;
  }

  detect(frame: VideoFrame, region?: { x: number; y: number; size: number }): Detection[] {
    // Letterbox: the square region (default: the frame's long side, centred) maps to the 128x128 input.
    const size = region?.size ?? Math.max(frame.width, frame.height);
    const left = region ? region.x : (frame.width - size) / 2;
    const top = region ? region.y : (frame.height - size) / 2;
    const input = this.session.inputs[0];
    const [regressors, scores] = this.session.outputs;
    if (!input || !regressors || !scores) throw new Error('blazeface: unexpected model inputs/outputs');
    sampleRect(
      frame,
      { cx: left + size / 2, cy: top + size / 2, width: size, height: size, rotation: 0 },
      input,
      INPUT,
      2,
      -1,
    );
    this.session.run();
    const cands: Candidate[] = [];
    for (let i = 0; i < NUM_ANCHORS; i++) {
      let logit = scores[i] ?? -Infinity;
      if (logit < this.minLogit) continue;
      if (logit > SCORE_CLIP) logit = SCORE_CLIP;
      const ax = this.anchors[i * 2] ?? 0;
      const ay = this.anchors[i * 2 + 1] ?? 0;
      const r = i * NUM_COORDS;
      // reverse_output_order: x, y, w, h; scales 128; anchor size 1.
      const cx = (regressors[r] ?? 0) / INPUT + ax;
      const cy = (regressors[r + 1] ?? 0) / INPUT + ay;
      const w = (regressors[r + 2] ?? 0) / INPUT;
      const h = (regressors[r + 3] ?? 0) / INPUT;
      if (!(w > 0 && h > 0)) continue;
      const v = new Float32Array(16);
      v[0] = cx - w / 2;
      v[1] = cy - h / 2;
      v[2] = cx + w / 2;
      v[3] = cy + h / 2;
      for (let k = 0; k < 6; k++) {
        v[4 + k * 2] = (regressors[r + 4 + k * 2] ?? 0) / INPUT + ax;
        v[5 + k * 2] = (regressors[r + 5 + k * 2] ?? 0) / INPUT + ay;
      }
      cands.push({ score: 1 / (1 + Math.exp(-logit)), v });
    }
    return weightedNms(cands, this.nmsIou).map((c) => {
      const kp = new Float32Array(12);
      for (let k = 0; k < 12; k++) kp[k] = (k % 2 === 0 ? left : top) + (c.v[4 + k] ?? 0) * size;
      const x0 = left + (c.v[0] ?? 0) * size;
      const y0 = top + (c.v[1] ?? 0) * size;
      return {
        x: x0,
        y: y0,
        width: ((c.v[2] ?? 0) - (c.v[0] ?? 0)) * size,
        height: ((c.v[3] ?? 0) - (c.v[1] ?? 0)) * size,
        score: c.score,
        keypoints: kp,
      };
    });
  }

  close(): void {
    this.session.close();
  }
}

function iou(a: Float32Array, b: Float32Array): number {
  const ix = Math.min(a[2] ?? 0, b[2] ?? 0) - Math.max(a[0] ?? 0, b[0] ?? 0);
  const iy = Math.min(a[3] ?? 0, b[3] ?? 0) - Math.max(a[1] ?? 0, b[1] ?? 0);
  if (ix <= 0 || iy <= 0) return 0;
  const inter = ix * iy;
  const area = (r: Float32Array): number => ((r[2] ?? 0) - (r[0] ?? 0)) * ((r[3] ?? 0) - (r[1] ?? 0));
  return inter / (area(a) + area(b) - inter);
}

/**
 * MediaPipe's WEIGHTED non-maximum suppression: the best remaining candidate absorbs every candidate overlapping it
 * by more than `threshold`, and the merged box and key points are the score-weighted mean of the group.
 */
export function weightedNms(cands: Candidate[], threshold: number): Candidate[] {
  const rest = cands.slice().sort((a, b) => b.score - a.score);
  const out: Candidate[] = [];
  while (rest.length) {
    const top = rest[0];
    if (!top) break;
    const group: Candidate[] = [];
    const keep: Candidate[] = [];
    for (const c of rest) (iou(top.v, c.v) > threshold ? group : keep).push(c);
    const merged = new Float32Array(16);
    let total = 0;
    for (const c of group) {
      total += c.score;
      for (let k = 0; k < 16; k++) merged[k] = (merged[k] ?? 0) + (c.v[k] ?? 0) * c.score;
    }
    for (let k = 0; k < 16; k++) merged[k] = (merged[k] ?? 0) / total;
    out.push({ score: top.score, v: merged });
    rest.length = 0;
    rest.push(...keep);
  }
  return out;
}
