/**
 * Face-geometry micro-benchmarks on one 640x480 i420 frame (frame 10 of a shared close-up clip scaled by ffmpeg, or a
 * synthetic frame when the clips or ffmpeg are missing) with MediaPipe's canonical face placed 260 px wide: the crop
 * box is ~300 px, sampled to 256x256. Figures are medians in milliseconds on one thread: `...Ms` wall time,
 * `...CpuMs` this process's CPU time (the honest figure when other jobs share the cores).
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

/** Median wall time and median CPU time (this process, ms) per call: CPU time stays meaningful on a busy machine. */
function median(fn: () => void, iterations: number): { wall: number; cpu: number } {
  for (let i = 0; i < 5; i++) fn(); // warm-up (JIT)
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const c0 = process.cpuUsage();
    const t = performance.now();
    fn();
    wall.push(performance.now() - t);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  const mid = (v: number[]): number => Math.round(v.sort((x, y) => x - y)[v.length >> 1]! * 1000) / 1000;
  return { wall: mid(wall), cpu: mid(cpu) };
}

const section: BenchSection = {
  name: 'geometry',
  description: `face geometry on a ${W}x${H} i420 frame, 256x256 crops (sketch at 128 and 256), median wall and CPU ms`,
  run(ctx) {
    const n = ctx.quick ? 10 : 60;
    const { frame, source } = loadFrame(ctx);
    ctx.log(`geometry: frame from ${source}`);
    const pts = facePoints();
    const box = computeCropBox(pts);
    const norm = frameToCrop(box, pts);
    const sampler = new CropSampler();
    const crop = createImage(S, S);
    const cropT = median(() => sampler.sample(frame, box, crop), n);

    const sketch128 = createImage(128, 128, 3);
    const sketch256 = createImage(S, S, 3);
    const sketchT = median(() => drawSketch(norm, sketch128), n);
    const sketch256T = median(() => drawSketch(norm, sketch256), n);

    // Warp: open the mouth (lower lip and jaw 8% of the crop down) over the fixed face triangulation.
    const tris = faceTriangulation();
    const srcMesh = faceMeshPoints(norm);
    const dstMesh = Float32Array.from(srcMesh);
    for (let i = SUBSET_RANGES.LIPS.start; i < SUBSET_RANGES.JAW.end; i++) {
      if (srcMesh[i * 2 + 1]! > srcMesh[2 * SUBSET_RANGES.LIPS.start + 1]!) dstMesh[i * 2 + 1]! += 0.02;
    }
    const warped = createImage(S, S);
    const warpT = median(() => warpPiecewiseAffine(crop, warped, srcMesh, dstMesh, tris, { normalised: true }), n);

    const mask = new Float32Array(S * S);
    const scratch = new Float32Array(S * S);
    const maskT = median(() => lowerFaceMask(norm, S, mask, {}, scratch), n);

    const paster = new PasteBack();
    const target: VideoFrame = { ...frame, data: Uint8Array.from(frame.data) };
    const pasteT = median(() => {
      target.data.set(frame.data);
      paster.paste(target, box, warped, mask, crop);
    }, n);
    const pasteReplaceT = median(() => {
      target.data.set(frame.data);
      paster.paste(target, box, warped, mask, crop, { mode: 'replace' });
    }, n);
    const timed = {
      crop: cropT,
      sketch: sketchT,
      sketch256: sketch256T,
      warp: warpT,
      mask: maskT,
      paste: pasteT,
      pasteReplace: pasteReplaceT,
    };
    const figures: Record<string, number> = {};
    for (const [name, t] of Object.entries(timed)) {
      figures[`geometry.${name}Ms`] = t.wall;
      figures[`geometry.${name}CpuMs`] = t.cpu;
    }
    return Promise.resolve({
      ...figures,
      'geometry.cropBoxPx': Math.round(box.size),
      'geometry.warpTriangles': tris.length / 3,
      'geometry.meshPoints': FACE_MESH_POINT_COUNT,
    });
  },
};

export default section;
