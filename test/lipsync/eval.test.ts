import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultClipsDir } from '../../src/cli/paths.ts';
import { evaluateClip, type ScoredFrames } from '../../src/pipeline/lipsync/eval/index.ts';
import { createNeuralPath } from '../../src/pipeline/lipsync/neural/index.ts';

const clip = join(defaultClipsDir(), 'vrt_face_5.mp4');
const neuralDir = 'models/neural/smoke-tiny';

describe('reconstruction eval', () => {
  it.skipIf(!existsSync(clip))('gives finite figures on a short piece of a real clip', async () => {
    let scored: ScoredFrames | null = null;
    let outputs = 0;
    const r = await evaluateClip(clip, {
      maxSeconds: 3,
      phones: false,
      onScored: (_c, d) => (scored = d),
      onFrame: (engine, k, out, real) => {
        if (engine === 'pred' && k >= 0 && out.width === real.width) outputs++;
      },
    });
    expect(r.frames).toBe(75);
    // Diagnostics hooks: one entry per scored frame, the generator's targets as 57 content points.
    const d = scored as ScoredFrames | null;
    expect(d!.real).toHaveLength(r.scoredFrames);
    expect(Object.keys(d!.engines).sort()).toEqual(['mean', 'oracle', 'pred']);
    expect(d!.engines.pred!.targets.filter((t) => t?.length === 114).length).toBeGreaterThan(r.scoredFrames / 2);
    expect(outputs).toBe(r.scoredFrames);
    expect(r.scoredFrames).toBeGreaterThan(30);
    for (const k of [
      'mouthCorr',
      'lipLmd',
      'lipLmdMean',
      'lipLmdOracle',
      'psnr',
      'ssim',
      'psnrOracle',
      'lipJitter',
      'openingStdRatio',
      'openingStdRatioPredicted',
    ] as const) {
      expect(Number.isFinite(r[k]), k).toBe(true);
    }
    expect(Math.abs(r.avOffsetMs)).toBeLessThanOrEqual(200);
    // The renderer given the real landmarks must stay close to the real frames.
    expect(r.psnrOracle).toBeGreaterThan(24);
    expect(r.lipLmdOracle).toBeLessThan(r.lipLmdMean + 0.02);
    expect(r.renderedFraction).toBeGreaterThan(0.5);
  });

  it.skipIf(!existsSync(clip) || !existsSync(join(neuralDir, 'landmark_generator.onnx')))(
    'runs the neural generator beside the default and reports the same figures for it',
    async () => {
      const path = await createNeuralPath(neuralDir);
      try {
        const r = await evaluateClip(clip, {
          maxSeconds: 2,
          phones: false,
          neural: { path, variants: ['neuralGen'] },
        });
        const v = r.variants?.neuralGen;
        expect(v).toBeDefined();
        for (const k of ['mouthCorr', 'mouthCorrPredicted', 'lipLmd', 'psnr', 'openingStdRatio'] as const) {
          expect(Number.isFinite(v![k]), k).toBe(true);
        }
        // Windows at the ends of the clip are shorter than T: the neural generator pads them instead of failing.
        expect(v!.renderedFraction).toBe(1);
      } finally {
        await path.close();
      }
    },
    120_000,
  );
});
