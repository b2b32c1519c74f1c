/**
 * Smoothing and speaker choice: on a synthetic still (one frame repeated with pixel noise, so all motion is tracker
 * noise) smoothing must cut lip jitter at least in half; on real speech it must not delay the mouth opening by a
 * frame. With two faces in view the tracker follows the larger, central one and keeps it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultClipsDir } from '../../src/cli/paths.ts';
import {
  createFaceTracker,
  type FaceTracker,
  lagFrames,
  meanLipJitter,
  mouthOpening,
} from '../../src/pipeline/face/index.ts';
import type { VideoFrame } from '../../src/pipeline/media.ts';
import { noisyStill, readClipFrames } from './clipFrames.ts';

const clipsDir = defaultClipsDir();
const haveClips = existsSync(join(clipsDir, 'sadtalker_WDA_AOC_000.mp4'));

async function firstFrame(clip: string): Promise<VideoFrame> {
  for await (const f of readClipFrames(join(clipsDir, clip), { maxFrames: 1 })) return f;
  throw new Error(`${clip}: no frame`);
}

describe.skipIf(!haveClips)('face smoothing', () => {
  let t: FaceTracker;
  beforeAll(() => {
    t = createFaceTracker();
  });
  afterAll(() => t.close());

  it('halves lip jitter on a synthetic still', async () => {
    let raw = 0;
    let smooth = 0;
    for (const clip of ['sadtalker_WDA_AOC_000.mp4', 'vrt_face_3.mp4']) {
      t.reset();
      const r: (Float32Array | null)[] = [];
      const s: (Float32Array | null)[] = [];
      for (const f of noisyStill(await firstFrame(clip), 30)) {
        const res = t.trackSync(f);
        expect(res.ok).toBe(true);
        r.push(res.ok ? (res.face.rawLandmarks ?? null) : null);
        s.push(res.ok ? res.face.landmarks : null);
      }
      const idx = r.map((_, i) => i).filter((i) => i >= 10);
      raw += meanLipJitter(r, idx);
      smooth += meanLipJitter(s, idx);
    }
    expect(raw).toBeGreaterThan(0);
    expect(smooth).toBeLessThan(raw / 2);
  });

  it('delays the mouth opening of real speech by less than half a frame', async () => {
    t.reset();
    const r: number[] = [];
    const s: number[] = [];
    for await (const f of readClipFrames(join(clipsDir, 'sadtalker_WDA_AOC_000.mp4'), { maxFrames: 100 })) {
      const res = t.trackSync(f);
      if (!res.ok || !res.face.rawLandmarks) continue;
      r.push(mouthOpening(res.face.rawLandmarks));
      s.push(mouthOpening(res.face.landmarks));
    }
    expect(r.length).toBeGreaterThan(95);
    const lag = lagFrames(r, s);
    expect(lag).toBeGreaterThanOrEqual(0);
    expect(lag).toBeLessThan(0.5);
    // and the opening really moves (the clip is speech), so the lag is measurable
    expect(Math.max(...r) - Math.min(...r)).toBeGreaterThan(0.1);
  });

  it('follows the larger of two faces and keeps it', async () => {
    // 1024x512: AOC at full size on the left, KatieHill at half size on the right.
    const a = await firstFrame('sadtalker_WDA_AOC_000.mp4');
    const b = await firstFrame('sadtalker_WDA_KatieHill_000.mp4');
    const W = 1024;
    const H = 512;
    const data = new Uint8Array(W * H * 3);
    for (let y = 0; y < 512; y++) data.set(a.data.subarray(y * 512 * 3, (y + 1) * 512 * 3), y * W * 3);
    for (let y = 0; y < 256; y++)
      for (let x = 0; x < 256; x++) {
        const src = (y * 2 * 512 + x * 2) * 3;
        data.set(b.data.subarray(src, src + 3), ((y + 128) * W + 640 + x) * 3);
      }
    const frame: VideoFrame = { data, format: 'rgb24', width: W, height: H, timestampUs: 0 };
    t.reset();
    for (let k = 0; k < 5; k++) {
      const res = t.trackSync({ ...frame, timestampUs: k * 40_000 });
      expect(res.ok).toBe(true);
      if (!res.ok) return;
      expect(res.face.box.x + res.face.box.width / 2).toBeLessThan(512);
      expect(res.face.detected).toBe(k === 0);
    }
  });
});
