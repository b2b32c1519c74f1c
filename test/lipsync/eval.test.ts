import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultClipsDir } from '../../src/cli/paths.ts';
import { evaluateClip } from '../../src/pipeline/lipsync/eval/index.ts';

const clip = join(defaultClipsDir(), 'vrt_face_5.mp4');

describe('reconstruction eval', () => {
  it.skipIf(!existsSync(clip))('gives finite figures on a short piece of a real clip', async () => {
    const r = await evaluateClip(clip, { maxSeconds: 3, phones: false });
    expect(r.frames).toBe(75);
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
    ] as const) {
      expect(Number.isFinite(r[k]), k).toBe(true);
    }
    expect(Math.abs(r.avOffsetMs)).toBeLessThanOrEqual(200);
    // The renderer given the real landmarks must stay close to the real frames.
    expect(r.psnrOracle).toBeGreaterThan(24);
    expect(r.lipLmdOracle).toBeLessThan(r.lipLmdMean + 0.02);
    expect(r.renderedFraction).toBeGreaterThan(0.5);
  });
});
