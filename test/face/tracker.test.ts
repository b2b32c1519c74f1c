/**
 * Face tracking on the shared clips. Close-ups: every 2nd frame, at most 100 frames per clip (at least 60 each:
 * the clips are 5-8 s); portraits (1080x1920, small faces): every 10th frame, 20 frames each.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultClipsDir } from '../../src/cli/paths.ts';
import {
  BlazeFaceDetector,
  createFaceTracker,
  defaultFaceModelDir,
  type FaceTracker,
  LIP_POINTS,
} from '../../src/pipeline/face/index.ts';
import type { VideoFrame } from '../../src/pipeline/media.ts';
import { readClipFrames } from './clipFrames.ts';

const clipsDir = defaultClipsDir();
const CLOSE_UPS = [
  'vrt_face_1.mp4',
  'vrt_face_2.mp4',
  'vrt_face_3.mp4',
  'vrt_face_4.mp4',
  'vrt_face_5.mp4',
  'sadtalker_WDA_AOC_000.mp4',
  'sadtalker_WDA_KatieHill_000.mp4',
];
const PORTRAITS = ['latentsync_demo1_video.mp4', 'latentsync_demo2_video.mp4', 'latentsync_demo3_video.mp4'];

const haveClips = existsSync(join(clipsDir, CLOSE_UPS[0] ?? ''));

async function firstFrame(clip: string, format: VideoFrame['format'] = 'rgb24'): Promise<VideoFrame> {
  for await (const f of readClipFrames(join(clipsDir, clip), { maxFrames: 1, format })) return f;
  throw new Error(`${clip}: no frame`);
}

function mean(lm: Float32Array, idx: readonly number[], k: number): number {
  let s = 0;
  for (const i of idx) s += lm[i * 3 + k] ?? 0;
  return s / idx.length;
}

describe.skipIf(!haveClips)('face tracker on the shared clips', () => {
  let tracker: FaceTracker;
  beforeAll(() => {
    tracker = createFaceTracker();
  });
  afterAll(() => tracker.close());

  it.each(CLOSE_UPS)('tracks a face on >= 99%% of sampled frames of %s', async (clip) => {
    tracker.reset();
    let n = 0;
    let ok = 0;
    for await (const f of readClipFrames(join(clipsDir, clip), { step: 2, maxFrames: 100 })) {
      n++;
      const r = tracker.trackSync(f);
      if (!r.ok) continue;
      ok++;
      const lm = r.face.landmarks;
      expect(lm.length).toBe(468 * 3);
      // Anatomy: eyes above the mouth, the mouth inside the face box's lower half, everything finite.
      const eyesY = (mean(lm, [33, 133], 1) + mean(lm, [263, 362], 1)) / 2;
      const lipsY = mean(lm, LIP_POINTS, 1);
      expect(eyesY).toBeLessThan(lipsY);
      const b = r.face.box;
      expect(lipsY).toBeGreaterThan(b.y + b.height / 2);
      expect(lipsY).toBeLessThan(b.y + b.height);
      expect(Number.isFinite(lm.reduce((a, v) => a + v, 0))).toBe(true);
    }
    expect(n).toBeGreaterThanOrEqual(60);
    expect(ok / n).toBeGreaterThanOrEqual(0.99);
    // Tracking, not detection, on almost every frame.
    expect(tracker.stats.detections).toBeLessThan(tracker.stats.frames / 10);
  });

  it.each(PORTRAITS)('tracks the small face of the portrait clip %s on most sampled frames', async (clip) => {
    tracker.reset();
    let n = 0;
    let ok = 0;
    for await (const f of readClipFrames(join(clipsDir, clip), { step: 10, maxFrames: 20 })) {
      n++;
      if (tracker.trackSync(f).ok) ok++;
    }
    expect(n).toBe(20);
    expect(ok / n).toBeGreaterThanOrEqual(0.8);
  });

  it('puts the landmarks where the detector found the face', async () => {
    const frame = await firstFrame('vrt_face_2.mp4');
    const det = new BlazeFaceDetector({ modelPath: join(defaultFaceModelDir, 'face_detection_short_range.onnx') });
    const d = det.detect(frame);
    det.close();
    expect(d.length).toBe(1);
    tracker.reset();
    const r = tracker.trackSync(frame);
    expect(r.ok).toBe(true);
    if (!r.ok || !d[0]) return;
    const a = r.face.box;
    const b = d[0];
    const ix = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
    const iy = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
    const inter = Math.max(0, ix) * Math.max(0, iy);
    expect(inter / (a.width * a.height + b.width * b.height - inter)).toBeGreaterThan(0.5);
    // BlazeFace key points (eyes, mouth centre) against the mesh's eye centres and lips, within 10% of the box.
    const lm = r.face.landmarks;
    const tol = 0.1 * b.width;
    const kp = b.keypoints;
    expect(Math.abs(mean(lm, [33, 133], 0) - (kp[0] ?? 0))).toBeLessThan(tol);
    expect(Math.abs(mean(lm, [263, 362], 0) - (kp[2] ?? 0))).toBeLessThan(tol);
    expect(Math.abs(mean(lm, LIP_POINTS, 1) - (kp[7] ?? 0))).toBeLessThan(tol);
  });

  it('gives the same landmarks from rgb24, rgba and i420 frames', async () => {
    const rgb = await firstFrame('sadtalker_WDA_AOC_000.mp4', 'rgb24');
    const yuv = await firstFrame('sadtalker_WDA_AOC_000.mp4', 'i420');
    const rgba: VideoFrame = { ...rgb, format: 'rgba', data: new Uint8Array(rgb.width * rgb.height * 4) };
    for (let i = 0; i < rgb.width * rgb.height; i++) {
      rgba.data.set(rgb.data.subarray(i * 3, i * 3 + 3), i * 4);
      rgba.data[i * 4 + 3] = 255;
    }
    const run = (f: VideoFrame): Float32Array => {
      tracker.reset();
      const r = tracker.trackSync(f);
      if (!r.ok) throw new Error(`no face (${r.reason})`);
      return r.face.landmarks;
    };
    const a = run(rgb);
    const b = run(rgba);
    const c = run(yuv);
    const meanDist = (p: Float32Array, q: Float32Array): number => {
      let s = 0;
      for (let i = 0; i < 468; i++)
        s += Math.hypot((p[i * 3] ?? 0) - (q[i * 3] ?? 0), (p[i * 3 + 1] ?? 0) - (q[i * 3 + 1] ?? 0));
      return s / 468;
    };
    expect(meanDist(a, b)).toBeLessThan(1e-3);
    // i420 differs by chroma subsampling and the YUV round trip: within a pixel on a 512x512 face.
    expect(meanDist(a, c)).toBeLessThan(1.0);
  });

  it('mirrors the head pose when the frame is mirrored', async () => {
    const f = await firstFrame('vrt_face_1.mp4');
    const m = new Uint8Array(f.data.length);
    for (let y = 0; y < f.height; y++)
      for (let x = 0; x < f.width; x++) {
        const s = (y * f.width + x) * 3;
        m.set(f.data.subarray(s, s + 3), (y * f.width + (f.width - 1 - x)) * 3);
      }
    tracker.reset();
    const a = tracker.trackSync(f);
    tracker.reset();
    const b = tracker.trackSync({ ...f, data: m });
    expect(a.ok && b.ok).toBe(true);
    if (!a.ok || !b.ok) return;
    // vrt_face_1 is turned about 15 degrees: the mirror image must read the opposite way.
    expect(Math.abs(a.face.pose.yawDeg)).toBeGreaterThan(5);
    expect(a.face.pose.yawDeg + b.face.pose.yawDeg).toBeCloseTo(0, -1);
    expect(a.face.pose.rollDeg + b.face.pose.rollDeg).toBeCloseTo(0, -1);
    expect(Math.abs(a.face.pose.pitchDeg - b.face.pose.pitchDeg)).toBeLessThan(5);
  });

  it('reports too-small and turned-away faces instead of landmarks', async () => {
    const f = await firstFrame('sadtalker_WDA_AOC_000.mp4');
    for (const [opts, reason] of [
      [{ minInterocularPx: 10_000 }, 'too-small'],
      [{ maxYawDeg: 0 }, 'turned-away'],
    ] as const) {
      const t = createFaceTracker(opts);
      try {
        expect(t.trackSync(f)).toEqual({ ok: false, reason });
      } finally {
        t.close();
      }
    }
  });

  it('reports no-face on a crop of the background, without throwing', async () => {
    const full = await firstFrame('vrt_face_2.mp4');
    // The top-left 200x200 corner of vrt_face_2 is wall map only.
    const w = 200;
    const data = new Uint8Array(w * w * 3);
    for (let y = 0; y < w; y++) data.set(full.data.subarray(y * full.width * 3, (y * full.width + w) * 3), y * w * 3);
    tracker.reset();
    expect(tracker.trackSync({ data, format: 'rgb24', width: w, height: w, timestampUs: 0 })).toEqual({
      ok: false,
      reason: 'no-face',
    });
  });
});

describe('face tracker edge cases', () => {
  it('reports no-face on blank frames of every format and recovers state', async () => {
    const t = createFaceTracker();
    try {
      for (const format of ['i420', 'rgb24', 'rgba'] as const) {
        const size = format === 'i420' ? 640 * 480 * 1.5 : 640 * 480 * (format === 'rgb24' ? 3 : 4);
        for (const fill of [0, 128, 255]) {
          const r = await t.track({
            data: new Uint8Array(size).fill(fill),
            format,
            width: 640,
            height: 480,
            timestampUs: 0,
          });
          expect(r).toEqual({ ok: false, reason: 'no-face' });
        }
      }
      // A 1x1 frame is legal too.
      expect(t.trackSync({ data: new Uint8Array(3), format: 'rgb24', width: 1, height: 1, timestampUs: 0 }).ok).toBe(
        false,
      );
    } finally {
      t.close();
    }
  });

  it('rejects malformed frames with a clear error and is closed once', async () => {
    const t = createFaceTracker();
    await expect(
      t.track({ data: new Uint8Array(10), format: 'rgb24', width: 640, height: 480, timestampUs: 0 }),
    ).rejects.toThrow(/needs 921600 bytes/);
    expect(() =>
      t.trackSync({ data: new Uint8Array(12), format: 'bgr' as 'rgb24', width: 2, height: 2, timestampUs: 0 }),
    ).toThrow(/unsupported pixel format/);
    t.close();
    t.close();
    expect(t.closed).toBe(true);
    expect(() =>
      t.trackSync({ data: new Uint8Array(3), format: 'rgb24', width: 1, height: 1, timestampUs: 0 }),
    ).toThrow(/after close/);
  });

  it('says how to get the models when they are missing', () => {
    expect(() => createFaceTracker({ modelDir: '/nonexistent' })).toThrow(/setup\.mjs face-models/);
  });
});
