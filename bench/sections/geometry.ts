/**
 * Face-geometry micro-benchmarks on one 640x480 i420 frame (frame 10 of a shared close-up clip scaled by ffmpeg, or a
 * synthetic frame when the clips or ffmpeg are missing) with MediaPipe's canonical face placed 260 px wide: the crop
 * box is ~300 px, sampled to 256x256. Figures are medians in milliseconds on one thread.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  canonicalFace,
  computeCropBox,
  CropSampler,
  createImage,
  drawSketch,
  FACE_MESH_POINT_COUNT,
  faceMeshPoints,
  faceTriangulation,
  frameToCrop,
  lowerFaceMask,
  PasteBack,
  SUBSET131,
  SUBSET_RANGES,
  warpPiecewiseAffine,
} from '../../src/pipeline/face/geometry/index.ts';
import type { VideoFrame } from '../../src/pipeline/media.ts';
import type { BenchContext, BenchSection } from '../types.ts';

const W = 640;
const H = 480;
const S = 256;

function loadFrame(ctx: BenchContext): { frame: VideoFrame; source: string } {
  const clip = join(ctx.clipsDir, 'sadtalker_WDA_AOC_000.mp4');
  if (existsSync(clip)) {
    try {
      const raw = execFileSync('ffmpeg', [
        '-v',
        'error',
        '-i',
        clip,
        '-vf',
        `select=eq(n\\,10),scale=${W}:${H}`,
        '-frames:v',
        '1',
        '-pix_fmt',
        'yuv420p',
        '-f',
        'rawvideo',
        '-',
      ]);
      if (raw.length === W * H * 1.5) {
        return {
          frame: { data: new Uint8Array(raw), format: 'i420', width: W, height: H, timestampUs: 0 },
          source: clip,
        };
      }
    } catch {
      // fall through to the synthetic frame
    }
  }
  const data = new Uint8Array(W * H * 1.5);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
  return { frame: { data, format: 'i420', width: W, height: H, timestampUs: 0 }, source: 'synthetic noise' };
}

/** The 131 subset points of the canonical face, 260 px wide, centred in the frame. */
function facePoints(): Float32Array {
  const { positions } = canonicalFace();
  let x0 = Infinity;
  let x1 = -Infinity;
  for (let i = 0; i < 468; i++) {
    x0 = Math.min(x0, positions[i * 3]!);
    x1 = Math.max(x1, positions[i * 3]!);
  }
  const s = 260 / (x1 - x0);
  const out = new Float32Array(262);
  for (let i = 0; i < 131; i++) {
    const k = SUBSET131[i]!;
    out[i * 2] = W / 2 + positions[k * 3]! * s;
    out[i * 2 + 1] = H / 2 - positions[k * 3 + 1]! * s;
  }
  return out;
}

function median(fn: () => void, iterations: number): number {
  for (let i = 0; i < 3; i++) fn(); // warm-up (JIT)
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return Math.round(times[times.length >> 1]! * 1000) / 1000;
}

const section: BenchSection = {
  name: 'geometry',
  description: `face geometry on a ${W}x${H} i420 frame, 256x256 crops (sketch also at 128), median ms`,
  run(ctx) {
    const n = ctx.quick ? 10 : 60;
    const { frame, source } = loadFrame(ctx);
    ctx.log(`geometry: frame from ${source}`);
    const pts = facePoints();
    const box = computeCropBox(pts);
    const norm = frameToCrop(box, pts);
    const sampler = new CropSampler();
    const crop = createImage(S, S);
    const cropMs = median(() => sampler.sample(frame, box, crop), n);

    const sketch128 = createImage(128, 128, 3);
    const sketch256 = createImage(S, S, 3);
    const sketchMs = median(() => drawSketch(norm, sketch128), n);
    const sketch256Ms = median(() => drawSketch(norm, sketch256), n);

    // Warp: open the mouth (lower lip and jaw 8% of the crop down) over the fixed face triangulation.
    const tris = faceTriangulation();
    const srcMesh = faceMeshPoints(norm);
    const dstMesh = Float32Array.from(srcMesh);
    for (let i = SUBSET_RANGES.LIPS.start; i < SUBSET_RANGES.JAW.end; i++) {
      if (srcMesh[i * 2 + 1]! > srcMesh[2 * SUBSET_RANGES.LIPS.start + 1]!) dstMesh[i * 2 + 1]! += 0.02;
    }
    const warped = createImage(S, S);
    const warpMs = median(() => warpPiecewiseAffine(crop, warped, srcMesh, dstMesh, tris, { normalised: true }), n);

    const mask = new Float32Array(S * S);
    const scratch = new Float32Array(S * S);
    const maskMs = median(() => lowerFaceMask(norm, S, mask, {}, scratch), n);

    const paster = new PasteBack();
    const target: VideoFrame = { ...frame, data: Uint8Array.from(frame.data) };
    const pasteMs = median(() => {
      target.data.set(frame.data);
      paster.paste(target, box, warped, mask, crop);
    }, n);
    const pasteReplaceMs = median(() => {
      target.data.set(frame.data);
      paster.paste(target, box, warped, mask, crop, { mode: 'replace' });
    }, n);
    return Promise.resolve({
      'geometry.cropMs': cropMs,
      'geometry.sketchMs': sketchMs,
      'geometry.sketch256Ms': sketch256Ms,
      'geometry.warpMs': warpMs,
      'geometry.maskMs': maskMs,
      'geometry.pasteMs': pasteMs,
      'geometry.pasteReplaceMs': pasteReplaceMs,
      'geometry.cropBoxPx': Math.round(box.size),
      'geometry.warpTriangles': tris.length / 3,
      'geometry.meshPoints': FACE_MESH_POINT_COUNT,
    });
  },
};

export default section;
