/**
 * Training data for the neural path, made with the project's own parts so that training sees what inference sees:
 * node-av decoding (io), the FaceMesh tracker (face), the 131-point subset, crop box, crop sampler and sketches
 * (face/geometry), and the streaming log-mel's conventions (audio/mel).
 *
 * Per clip, a folder `<out>/<clip name>/` with (F = frames on the 25 fps clock):
 *   landmarks.npy  float32 [F, 131, 2]  subset points, normalised to that frame's crop box (0..1)
 *   faces.npy      uint8   [F, 128, 128, 3]  RGB crops (HWC)
 *   sketches.npy   uint8   [F, 128, 128]  sketches of the tracked points (255 lines on 0)
 *   mel.npy        float32 [F, 80, 16]  mel chunk of each frame (row-major by bin), Wav2Lip-normalised [-4, 4]
 *   valid.npy      uint8   [F]  1 where a face was tracked (0: landmarks/crops are zeros)
 *   meta.json      source, fps, counts, crop margin, the edges of the sketch, versions
 * training/lipsync_data.py reads these.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { logMelBatch, MEL_CHUNK_FRAMES, MEL_FLOOR, melChunkStart } from '../../audio/mel.ts';
import { createFaceTracker, type FaceTracker } from '../../face/FaceTracker.ts';
import {
  computeCropBox,
  createImage,
  CropSampler,
  DEFAULT_CROP_MARGIN_PX,
  drawSketch,
  extractSubset131,
  frameToCrop,
  SUBSET_EDGES,
} from '../../face/index.ts';
import { readAudioPcm, readVideoFrames } from '../../io/mediaFile.ts';
import type { VideoFrame } from '../../media.ts';
import { FACE_SIZE, MEL_BINS, SUBSET_POINTS } from './contracts.ts';
import { NpyStreamWriter, writeNpy } from './npy.ts';

export interface PrepOptions {
  /** Output frame rate (the engine's clock). Default 25. */
  fps?: number;
  /** Stop after this many output frames per clip (CI smoke runs). Default: whole clip. */
  maxFrames?: number;
  /** Crop margin in frame pixels; default the inference margin (25 px) so training and inference crops agree. */
  cropMarginPx?: number;
  /** A tracker to use (tests); default: the project's FaceMesh tracker, one per clip. */
  tracker?: () => FaceTracker;
  log?: (message: string) => void;
}

export interface PrepResult {
  clip: string;
  dir: string;
  frames: number;
  validFrames: number;
  ms: number;
}

/** Decodes, tracks, crops and featurises one clip into `outRoot/<clip name>/`. */
export async function prepareClip(clipPath: string, outRoot: string, opts: PrepOptions = {}): Promise<PrepResult> {
  const started = performance.now();
  const fps = opts.fps ?? 25;
  const margin = opts.cropMarginPx ?? DEFAULT_CROP_MARGIN_PX;
  const name = basename(clipPath, extname(clipPath));
  const dir = join(outRoot, name);
  mkdirSync(dir, { recursive: true });

  // Audio first: it bounds the number of frames (a frame needs its mel chunk).
  const pcm = await readAudioPcm(clipPath, 16_000);
  const { mel, frames: melFrames } = logMelBatch(pcm.samples);
  const audioFrames = Math.floor((pcm.samples.length / 16_000) * fps);

  // Video: resample to the fps clock by taking, for output frame i, the last decoded frame at or before i / fps.
  const frames: VideoFrame[] = [];
  let t0: number | null = null;
  let prev: VideoFrame | null = null;
  const limit = Math.min(opts.maxFrames ?? Infinity, audioFrames);
  for await (const f of readVideoFrames(clipPath)) {
    t0 ??= f.timestampUs;
    const t = f.timestampUs - t0;
    while (frames.length < limit && prev && (frames.length * 1e6) / fps < t) frames.push(prev);
    if (frames.length >= limit) break;
    prev = f;
  }
  while (
    prev &&
    frames.length < limit &&
    frames.length < Math.floor(((prev.timestampUs - (t0 ?? 0)) * fps) / 1e6) + 1
  ) {
    frames.push(prev);
  }
  const F = frames.length;
  if (!F) throw new Error(`${clipPath}: no video frames`);

  const tracker = opts.tracker?.() ?? createFaceTracker({ intraOpNumThreads: 1 });
  const sampler = new CropSampler();
  const crop = createImage(FACE_SIZE, FACE_SIZE, 3, 'u8');
  const sketch = createImage(FACE_SIZE, FACE_SIZE, 1, 'u8');
  const pts = new Float32Array(SUBSET_POINTS * 2);
  const norm = new Float32Array(SUBSET_POINTS * 2);
  const landmarks = new Float32Array(F * SUBSET_POINTS * 2);
  const valid = new Uint8Array(F);
  const faces = new NpyStreamWriter(join(dir, 'faces.npy'), 'u1', [F, FACE_SIZE, FACE_SIZE, 3]);
  const sketches = new NpyStreamWriter(join(dir, 'sketches.npy'), 'u1', [F, FACE_SIZE, FACE_SIZE]);
  const zerosCrop = new Uint8Array(FACE_SIZE * FACE_SIZE * 3);
  const zerosSketch = new Uint8Array(FACE_SIZE * FACE_SIZE);
  try {
    for (let i = 0; i < F; i++) {
      const r = tracker.trackSync(frames[i]!);
      if (!r.ok) {
        faces.append(zerosCrop);
        sketches.append(zerosSketch);
        continue;
      }
      extractSubset131(r.face, pts);
      const box = computeCropBox(pts, { margin });
      frameToCrop(box, pts, norm);
      landmarks.set(norm, i * SUBSET_POINTS * 2);
      sampler.sample(frames[i]!, box, crop);
      drawSketch(norm, sketch);
      faces.append(crop.data as Uint8Array);
      sketches.append(sketch.data as Uint8Array);
      valid[i] = 1;
    }
  } finally {
    tracker.close();
    faces.close();
    sketches.close();
  }

  // Mel chunk per frame, padded with the floor value outside the audio. The container's start offsets are kept:
  // a video that starts 40 ms after its audio reads its chunks 40 ms (3.2 mel frames) later.
  const offsetMel = Math.round((((t0 ?? 0) - pcm.timestampUs) * 80) / 1e6);
  const chunks = new Float32Array(F * MEL_BINS * MEL_CHUNK_FRAMES).fill(MEL_FLOOR);
  for (let i = 0; i < F; i++) {
    const s = melChunkStart(i, fps) + offsetMel;
    for (let t = 0; t < MEL_CHUNK_FRAMES; t++) {
      const m = s + t;
      if (m < 0) continue;
      if (m >= melFrames) break;
      for (let b = 0; b < MEL_BINS; b++) {
        chunks[i * MEL_BINS * MEL_CHUNK_FRAMES + b * MEL_CHUNK_FRAMES + t] = mel[m * MEL_BINS + b]!;
      }
    }
  }
  writeNpy(join(dir, 'landmarks.npy'), landmarks, [F, SUBSET_POINTS, 2]);
  writeNpy(join(dir, 'mel.npy'), chunks, [F, MEL_BINS, MEL_CHUNK_FRAMES]);
  writeNpy(join(dir, 'valid.npy'), valid, [F]);
  const validFrames = valid.reduce((a, b) => a + b, 0);
  writeFileSync(
    join(dir, 'meta.json'),
    JSON.stringify(
      {
        source: basename(clipPath),
        fps,
        frames: F,
        validFrames,
        faceSize: FACE_SIZE,
        cropMarginPx: margin,
        pointOrder: 'subset131 (pose 0..73, lips 74..113, jaw 114..130)',
        sketchEdges: Array.from(SUBSET_EDGES.all),
        audio: { sampleRate: 16_000, melFrames, videoMinusAudioStartMel: offsetMel },
        tracker: 'FaceMesh (src/pipeline/face/FaceTracker.ts)',
        format: 1,
      },
      null,
      2,
    ) + '\n',
  );
  const ms = performance.now() - started;
  opts.log?.(`${name}: ${F} frames (${validFrames} with a face) in ${(ms / 1000).toFixed(1)} s -> ${dir}`);
  return { clip: clipPath, dir, frames: F, validFrames, ms };
}
