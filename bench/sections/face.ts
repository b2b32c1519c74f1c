/**
 * Face tracking: speed of tracking and of detection on one 640x480 stream on one core (ORT intraOpNumThreads=1),
 * lip jitter on still closed mouths before/after smoothing, and the lag smoothing adds to the mouth opening.
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import {
  BlazeFaceDetector,
  createFaceTracker,
  defaultFaceModelDir,
  lagFrames,
  meanLipJitter,
  mouthOpening,
  stillMouthFrames,
} from '../../src/pipeline/face/index.ts';
import type { VideoFrame } from '../../src/pipeline/media.ts';
import { noisyStill, probeClip, readClipFrames } from '../../test/face/clipFrames.ts';
import type { BenchSection, BenchValue } from '../types.ts';

const CLOSE_UPS = [
  'vrt_face_1.mp4',
  'vrt_face_2.mp4',
  'vrt_face_3.mp4',
  'vrt_face_4.mp4',
  'vrt_face_5.mp4',
  'sadtalker_WDA_AOC_000.mp4',
  'sadtalker_WDA_KatieHill_000.mp4',
];

function percentile(xs: number[], p: number): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const r4 = (x: number): number => Math.round(x * 1e4) / 1e4;
const r2 = (x: number): number => Math.round(x * 100) / 100;

const section: BenchSection = {
  name: 'face',
  description:
    'face tracking on one 640x480 stream, 1 ORT thread (vrt_face_2 letterboxed); lip jitter and smoothing lag on the 7 close-up clips',
  async run(ctx) {
    const out: Record<string, BenchValue> = {};
    // --- speed: frames decoded up front so only tracking is timed.
    const frames: VideoFrame[] = [];
    const n640 = ctx.quick ? 60 : 150;
    for await (const f of readClipFrames(join(ctx.clipsDir, 'vrt_face_2.mp4'), {
      filter: 'scale=480:480,pad=640:480:80:0',
      size: { width: 640, height: 480 },
      maxFrames: n640,
    })) {
      frames.push(f);
    }
    const tracker = createFaceTracker({ intraOpNumThreads: 1 });
    const trackMs: number[] = [];
    let cpuUs = 0;
    try {
      for (let rep = 0; rep < 2; rep++) {
        tracker.reset();
        for (const f of frames) {
          const c0 = process.cpuUsage();
          const t0 = performance.now();
          const r = tracker.trackSync(f);
          const ms = performance.now() - t0;
          const c = process.cpuUsage(c0);
          // First pass warms up; detection frames are timed separately below.
          if (rep === 1 && r.ok && !r.face.detected) {
            trackMs.push(ms);
            cpuUs += c.user + c.system;
          }
        }
      }
    } finally {
      tracker.close();
    }
    // The machine may be shared: CPU time per frame says what one free core would take.
    out['face.trackCpuMsPerFrame'] = r2(cpuUs / 1000 / trackMs.length);
    out['face.loadAverage1m'] = r2(loadavg()[0] ?? NaN);
    out['face.trackMsPerFrame'] = r2(mean(trackMs));
    out['face.trackMsPerFrame.p50'] = r2(percentile(trackMs, 0.5));
    out['face.trackMsPerFrame.p95'] = r2(percentile(trackMs, 0.95));
    out['face.trackFrames'] = trackMs.length;
    const det = new BlazeFaceDetector({ modelPath: join(defaultFaceModelDir, 'face_detection_short_range.onnx') });
    const detMs: number[] = [];
    let detCpuUs = 0;
    try {
      for (let i = 0; i < frames.length; i++) {
        const f = frames[i];
        if (!f) continue;
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        det.detect(f);
        const c = process.cpuUsage(c0);
        if (i >= 5) {
          detMs.push(performance.now() - t0);
          detCpuUs += c.user + c.system;
        }
      }
    } finally {
      det.close();
    }
    out['face.detectCpuMsPerFrame'] = r2(detCpuUs / 1000 / detMs.length);
    out['face.detectMsPerFrame'] = r2(mean(detMs));
    out['face.detectMsPerFrame.p95'] = r2(percentile(detMs, 0.95));

    // --- jitter and lag: consecutive frames of each close-up, raw and smoothed from the same tracking run.
    const maxFrames = ctx.quick ? 60 : 200;
    let stillCount = 0;
    let jitterRawSum = 0;
    let jitterSmoothSum = 0;
    const lags: number[] = [];
    let lagWeight = 0;
    let lagMsSum = 0;
    const t = createFaceTracker({ intraOpNumThreads: 1 });
    try {
      for (const clip of CLOSE_UPS) {
        const path = join(ctx.clipsDir, clip);
        const fps = probeClip(path).fps;
        t.reset();
        const raw: (Float32Array | null)[] = [];
        const smooth: (Float32Array | null)[] = [];
        for await (const f of readClipFrames(path, { maxFrames })) {
          const r = t.trackSync(f);
          raw.push(r.ok ? (r.face.rawLandmarks ?? r.face.landmarks) : null);
          smooth.push(r.ok ? r.face.landmarks : null);
        }
        const still = stillMouthFrames(raw);
        const jr = meanLipJitter(raw, still);
        const js = meanLipJitter(smooth, still);
        if (still.length) {
          stillCount += still.length;
          jitterRawSum += jr * still.length;
          jitterSmoothSum += js * still.length;
        }
        const ok = raw.map((x, i) => (x && smooth[i] ? i : -1)).filter((i) => i >= 0);
        const lag = lagFrames(
          ok.map((i) => mouthOpening(raw[i] as Float32Array)),
          ok.map((i) => mouthOpening(smooth[i] as Float32Array)),
        );
        lags.push(lag);
        lagMsSum += (lag * 1000 * ok.length) / fps;
        lagWeight += ok.length;
        const name = clip.replace(/\.mp4$/, '');
        ctx.log(
          `${name}: ${raw.length} frames, ${still.length} still-mouth frames, jitter raw ${jr.toFixed(4)} smoothed ${js.toFixed(4)} IOD, lag ${lag.toFixed(2)} frames`,
        );
      }
    } finally {
      t.close();
    }
    out['face.lipJitter.raw'] = r4(jitterRawSum / stillCount);
    out['face.lipJitter.smoothed'] = r4(jitterSmoothSum / stillCount);
    out['face.lipJitter.unit'] = 'IOD per frame (interocular distance; lips relative to a similarity fit of the head)';
    out['face.lipJitter.frames'] = stillCount;
    out['face.lipLagMs'] = r2(lagMsSum / lagWeight);
    out['face.lipLagFrames.max'] = r2(Math.max(...lags));

    // --- synthetic still: the first frame of each close-up repeated with fresh pixel noise (sigma 2.5 levels).
    const synthN = ctx.quick ? 25 : 50;
    let sRaw = 0;
    let sSmooth = 0;
    let sN = 0;
    const ts = createFaceTracker({ intraOpNumThreads: 1 });
    try {
      for (const clip of CLOSE_UPS) {
        let first: VideoFrame | null = null;
        for await (const f of readClipFrames(join(ctx.clipsDir, clip), { maxFrames: 1 })) first = f;
        if (!first) continue;
        ts.reset();
        const raw: (Float32Array | null)[] = [];
        const smooth: (Float32Array | null)[] = [];
        for (const f of noisyStill(first, synthN)) {
          const r = ts.trackSync(f);
          raw.push(r.ok ? (r.face.rawLandmarks ?? r.face.landmarks) : null);
          smooth.push(r.ok ? r.face.landmarks : null);
        }
        // Skip the first 10 frames: the smoother starts from the first raw value.
        const idx = raw.map((_, i) => i).filter((i) => i >= 10);
        sRaw += meanLipJitter(raw, idx) * idx.length;
        sSmooth += meanLipJitter(smooth, idx) * idx.length;
        sN += idx.length;
      }
    } finally {
      ts.close();
    }
    out['face.lipJitter.syntheticStill.raw'] = r4(sRaw / sN);
    out['face.lipJitter.syntheticStill.smoothed'] = r4(sSmooth / sN);
    return out;
  },
};

export default section;
