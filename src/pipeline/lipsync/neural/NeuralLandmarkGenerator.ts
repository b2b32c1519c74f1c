/**
 * The neural stage 1 behind the engine's {@link LandmarkGenerator} interface: the IP_LAP-shaped transformer
 * (contract `lipsync.landmark-generator.v1`) run by an {@link InferenceHost} (worker thread, batched with the other
 * streams' windows that are due together).
 *
 * Per window: each frame's 131 subset points (from its tracked mesh) are normalised to that frame's crop box; the
 * pose part (subset 0..73) feeds `pose`; Nl = 15 reference sets of the same speaker feed `ref_landmarks`; the
 * predicted lips and jaw come back crop-normalised and are mapped to frame pixels through the same boxes.
 * References: every observed frame is a candidate; like the public code, the 15 are spread evenly along the lip
 * opening order (distance between mesh points 0 and 17), recomputed when the pool grew by a quarter.
 */
import { computeCropBox, cropToFrame, frameToCrop, SUBSET131, type CropBox } from '../../face/index.ts';
import type { InferenceHost } from '../../inference/InferenceHost.ts';
import type { LandmarkGenerator, LandmarkWindow, LandmarkWindowResult, SpeakerObservation } from '../types.ts';
import {
  JAW_POINTS,
  LANDMARK_GENERATOR_CONTRACT,
  LIP_POINTS,
  MEL_BINS,
  MEL_CHUNK_FRAMES,
  POSE_POINTS,
  REFERENCE_LANDMARK_SETS,
  SUBSET_POINTS,
  WINDOW_FRAMES,
} from './contracts.ts';

export interface NeuralLandmarkGeneratorOptions {
  /** The host and the name under which the generator model is (or will be) loaded. */
  host: InferenceHost;
  model?: string;
  /** Crop margin in frame pixels (the one the model was trained with; default 25). */
  cropMarginPx?: number;
  /** Most reference candidates kept (oldest dropped). Default 500. */
  maxCandidates?: number;
}

/** 131 subset points of a mesh (interleaved x, y, frame pixels), written into `out` (262 floats). */
export function meshToSubset(
  mesh: Float32Array,
  out: Float32Array = new Float32Array(SUBSET_POINTS * 2),
): Float32Array {
  for (let i = 0; i < SUBSET_POINTS; i++) {
    const m = SUBSET131[i]!;
    out[i * 2] = mesh[m * 2]!;
    out[i * 2 + 1] = mesh[m * 2 + 1]!;
  }
  return out;
}

/** Lip opening of a mesh in pixels (points 0 and 17, the public code's reference-sorting key). */
function opening(mesh: Float32Array): number {
  return Math.hypot(mesh[0]! - mesh[34]!, mesh[1]! - mesh[35]!);
}

export class NeuralLandmarkGenerator implements LandmarkGenerator {
  readonly name = 'neural-iplap';
  readonly windowFrames = WINDOW_FRAMES;
  private readonly host: InferenceHost;
  private readonly model: string;
  private readonly margin: number;
  private readonly maxCandidates: number;
  /** Candidates: crop-normalised 131 points (x, y interleaved) and their lip opening. */
  private readonly candidates: { norm: Float32Array; opening: number }[] = [];
  private refs: Float32Array | null = null;
  private refsBuiltAt = 0;
  private closed = false;
  private readonly scratch = new Float32Array(SUBSET_POINTS * 2);

  constructor(opts: NeuralLandmarkGeneratorOptions) {
    this.host = opts.host;
    this.model = opts.model ?? 'landmark-generator';
    this.margin = opts.cropMarginPx ?? 25;
    this.maxCandidates = opts.maxCandidates ?? 500;
  }

  /** Loads the model into the host (checked against its contract). */
  static async load(host: InferenceHost, path: string, model = 'landmark-generator'): Promise<NeuralLandmarkGenerator> {
    await host.load(model, path, LANDMARK_GENERATOR_CONTRACT.id);
    return new NeuralLandmarkGenerator({ host, model });
  }

  observe(obs: SpeakerObservation): void {
    if (this.closed) return;
    const pts = meshToSubset(obs.mesh, this.scratch);
    const box = computeCropBox(pts, { margin: this.margin });
    const norm = frameToCrop(box, pts, new Float32Array(SUBSET_POINTS * 2)) as Float32Array;
    this.candidates.push({ norm, opening: opening(obs.mesh) / box.size });
    if (this.candidates.length > this.maxCandidates) this.candidates.shift();
  }

  /** The Nl reference sets, [Nl, 2, 131] (x row, y row), from the candidates or, when none, from `fallback`. */
  private references(fallback: Float32Array[]): Float32Array {
    const n = this.candidates.length;
    if (this.refs && n < this.refsBuiltAt * 1.25) return this.refs;
    const pool = n ? [...this.candidates].sort((a, b) => a.opening - b.opening).map((c) => c.norm) : fallback;
    const out = new Float32Array(REFERENCE_LANDMARK_SETS * 2 * SUBSET_POINTS);
    for (let r = 0; r < REFERENCE_LANDMARK_SETS; r++) {
      const src = pool[Math.min(pool.length - 1, Math.floor(((r + 0.5) * pool.length) / REFERENCE_LANDMARK_SETS))]!;
      for (let i = 0; i < SUBSET_POINTS; i++) {
        out[r * 2 * SUBSET_POINTS + i] = src[i * 2]!;
        out[r * 2 * SUBSET_POINTS + SUBSET_POINTS + i] = src[i * 2 + 1]!;
      }
    }
    if (n) {
      this.refs = out;
      this.refsBuiltAt = n;
    }
    return out;
  }

  async generate(input: LandmarkWindow): Promise<LandmarkWindowResult> {
    if (this.closed) throw new Error('NeuralLandmarkGenerator: generate() after close()');
    const T = WINDOW_FRAMES;
    const n = input.frames.length;
    if (n < 1 || n > T || input.mel.length !== n) {
      throw new RangeError(`NeuralLandmarkGenerator: a window has 1 to ${T} frames and as many mel chunks`);
    }
    // Shorter windows (the ends of a stream): the last frame and chunk repeated up to T; results for the n given.
    const window: LandmarkWindow =
      n === T
        ? input
        : {
            ...input,
            frames: Array.from({ length: T }, (_, t) => input.frames[Math.min(t, n - 1)]!),
            mel: Array.from({ length: T }, (_, t) => input.mel[Math.min(t, n - 1)]!),
          };
    const boxes: CropBox[] = [];
    const norms: Float32Array[] = [];
    const pose = new Float32Array(T * 2 * POSE_POINTS);
    const mel = new Float32Array(T * MEL_BINS * MEL_CHUNK_FRAMES);
    window.frames.forEach((f, t) => {
      const pts = meshToSubset(f.mesh);
      const box = computeCropBox(pts, { margin: this.margin });
      frameToCrop(box, pts, pts);
      const norm = pts;
      boxes.push(box);
      norms.push(norm);
      for (let i = 0; i < POSE_POINTS; i++) {
        pose[t * 2 * POSE_POINTS + i] = norm[i * 2]!;
        pose[t * 2 * POSE_POINTS + POSE_POINTS + i] = norm[i * 2 + 1]!;
      }
      const chunk = window.mel[t]!;
      if (chunk.length !== MEL_BINS * MEL_CHUNK_FRAMES) {
        throw new RangeError(`mel chunk ${t} has ${chunk.length} values, expected ${MEL_BINS * MEL_CHUNK_FRAMES}`);
      }
      mel.set(chunk, t * MEL_BINS * MEL_CHUNK_FRAMES);
    });
    const refs = this.references(norms);
    const r = await this.host.run(this.model, {
      mel: { data: mel, dims: [1, T, 1, MEL_BINS, MEL_CHUNK_FRAMES] },
      pose: { data: pose, dims: [1, T, 2, POSE_POINTS] },
      ref_landmarks: { data: refs, dims: [1, REFERENCE_LANDMARK_SETS, 2, SUBSET_POINTS] },
    });
    const lip = r.outputs.lip!.data;
    const jaw = r.outputs.jaw!.data;
    const content: Float32Array[] = [];
    for (let t = 0; t < n; t++) {
      // Content order of the engine: 40 lips then 17 jaw, interleaved (x, y).
      const c = new Float32Array((LIP_POINTS + JAW_POINTS) * 2);
      for (let i = 0; i < LIP_POINTS; i++) {
        c[i * 2] = lip[t * 2 * LIP_POINTS + i]!;
        c[i * 2 + 1] = lip[t * 2 * LIP_POINTS + LIP_POINTS + i]!;
      }
      for (let i = 0; i < JAW_POINTS; i++) {
        c[(LIP_POINTS + i) * 2] = jaw[t * 2 * JAW_POINTS + i]!;
        c[(LIP_POINTS + i) * 2 + 1] = jaw[t * 2 * JAW_POINTS + JAW_POINTS + i]!;
      }
      content.push(cropToFrame(boxes[t]!, c, c) as Float32Array);
    }
    return { content };
  }

  close(): void {
    this.closed = true;
    this.candidates.length = 0;
    this.refs = null;
  }
}
