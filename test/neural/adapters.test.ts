/**
 * The neural adapters behind the engine's interfaces, on frames of a real clip tracked by the project's tracker,
 * with the tiny random-weight models (the numbers are meaningless; the plumbing is what is checked: contracts,
 * coordinates, reference encoding once, batching across streams, paste-back).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createFaceTracker } from '../../src/pipeline/face/index.ts';
import { readVideoFrames } from '../../src/pipeline/io/mediaFile.ts';
import { createNeuralPath } from '../../src/pipeline/lipsync/neural/index.ts';
import type { VideoFrame } from '../../src/pipeline/media.ts';
import { repoRoot, tinyModels, torchMissingReason } from './fixtures.ts';

const noTorch = torchMissingReason();
const clip = join(process.env.LIPSYNC_CLIPS_DIR ?? join(repoRoot, '..', 'shared', 'clips'), 'vrt_face_3.mp4');
const ready =
  noTorch === null && existsSync(clip) && existsSync(join(repoRoot, 'models', 'face', 'face_landmark.onnx'));
if (!ready && noTorch === null) console.warn(`\n*** SKIPPING neural adapter tests: ${clip} or face models missing\n`);

async function trackedFrames(count: number): Promise<{ frame: VideoFrame; mesh: Float32Array }[]> {
  const tracker = createFaceTracker();
  const out: { frame: VideoFrame; mesh: Float32Array }[] = [];
  try {
    for await (const frame of readVideoFrames(clip)) {
      const r = tracker.trackSync(frame);
      if (r.ok) {
        const lm = r.face.landmarks;
        const mesh = new Float32Array(r.face.pointCount * 2);
        for (let i = 0; i < r.face.pointCount; i++) {
          mesh[i * 2] = lm[i * 3]!;
          mesh[i * 2 + 1] = lm[i * 3 + 1]!;
        }
        out.push({ frame, mesh });
      }
      if (out.length >= count) break;
    }
  } finally {
    tracker.close();
  }
  return out;
}

describe.skipIf(!ready)('neural generator and renderer adapters', () => {
  it('generate a window in frame pixels and render frames for two streams in batched runs', async () => {
    const frames = await trackedFrames(20);
    expect(frames.length).toBe(20);
    const path = await createNeuralPath(tinyModels(), { provider: 'cpu', log: () => {}, maxWaitMs: 20 });
    try {
      frames.forEach((f, i) => path.generator.observe({ frameIndex: i, mel: new Float32Array(1280), mesh: f.mesh }));
      const win = frames.slice(5, 10);
      const res = await path.generator.generate({
        frames: win.map((f, i) => ({ frameIndex: 5 + i, mesh: f.mesh })),
        mel: win.map(() => new Float32Array(1280).fill(-1)),
      });
      expect(res.content.length).toBe(5);
      for (const c of res.content) {
        expect(c.length).toBe(114); // 57 points (40 lips, 17 jaw), x and y in frame pixels
        expect(Array.from(c).every(Number.isFinite)).toBe(true);
      }

      const renderers = [path.createRenderer({ referenceCount: 3 }), path.createRenderer({ referenceCount: 3 })];
      for (const r of renderers) {
        expect(r.ready()).toBe(false);
        frames.forEach((f, i) => r.observe({ frameIndex: i, frame: f.frame, mesh: f.mesh }));
        expect(await r.whenReady()).toBe(true);
      }
      const t = 10;
      const targets = frames.slice(t - 2, t + 3).map((f) => f.mesh);
      const outs = await Promise.all(
        renderers.map((r) => r.render({ frame: frames[t]!.frame, mesh: frames[t]!.mesh, targets })),
      );
      for (const o of outs) {
        expect(o).not.toBeNull();
        expect(o!.width).toBe(frames[t]!.frame.width);
        expect(o!.format).toBe(frames[t]!.frame.format);
        expect(o!.data).not.toBe(frames[t]!.frame.data); // a new frame; the input is untouched
      }
      // Random weights change the lower face: some bytes differ, the top rows do not.
      const changed = outs[0]!.data.some((v, i) => v !== frames[t]!.frame.data[i]);
      expect(changed).toBe(true);
      const stats = await path.host.stats();
      expect(stats.models['renderer-refenc']!.stats.runs).toBe(2); // once per renderer, not per frame
      expect(stats.models['renderer-frame']!.stats.runs).toBe(1); // both streams' frames in one run
      expect(stats.models['renderer-frame']!.stats.items).toBe(2);
      renderers.forEach((r) => r.close());
    } finally {
      await path.close();
    }
  });
});
