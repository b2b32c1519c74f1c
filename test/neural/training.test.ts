/**
 * The training loop end to end, in CI time: `lipsync prep` code on two real clips (tracker, crops, sketches, mel),
 * a few steps of the tiny networks, export of the checkpoint under the contracts, and the exported models run by
 * onnxruntime in the inference worker. Plus: the generator learns on synthetic data where lips follow the mel, and
 * the IP_LAP checkpoint converter maps a state dict synthesised with the public release's names.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InferenceHost } from '../../src/pipeline/inference/index.ts';
import {
  LANDMARK_GENERATOR_CONTRACT,
  RENDERER_FRAME_CONTRACT,
  RENDERER_REFENC_CONTRACT,
} from '../../src/pipeline/lipsync/neural/contracts.ts';
import { readNpy } from '../../src/pipeline/lipsync/neural/npy.ts';
import { prepareClip } from '../../src/pipeline/lipsync/neural/prep.ts';
import { python, repoRoot, torchMissingReason } from './fixtures.ts';

const noTorch = torchMissingReason();
const clipsDir = process.env.LIPSYNC_CLIPS_DIR ?? join(repoRoot, '..', 'shared', 'clips');
const faceModels = join(repoRoot, 'models', 'face', 'face_landmark.onnx');
const work = mkdtempSync(join(tmpdir(), 'lipsync-neural-train-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const haveClips = existsSync(join(clipsDir, 'vrt_face_2.mp4')) && existsSync(faceModels);
if (!haveClips) {
  console.warn(`\n*** SKIPPING the real-clip training smoke run: clips in ${clipsDir} or ${faceModels} missing\n`);
}

describe.skipIf(noTorch !== null || !haveClips)('smoke training run on real clips', () => {
  it('prep -> train (tiny, few steps) -> export -> onnxruntime under the contracts', async () => {
    const data = join(work, 'prep');
    for (const clip of ['vrt_face_2.mp4', 'vrt_face_3.mp4']) {
      const r = await prepareClip(join(clipsDir, clip), data, { maxFrames: 40 });
      expect(r.frames).toBe(40);
      expect(r.validFrames).toBeGreaterThan(35);
    }
    const lm = readNpy(join(data, 'vrt_face_2', 'landmarks.npy'));
    expect(lm.shape).toEqual([40, 131, 2]);
    expect(readNpy(join(data, 'vrt_face_2', 'faces.npy')).shape).toEqual([40, 128, 128, 3]);
    expect(readNpy(join(data, 'vrt_face_2', 'mel.npy')).shape).toEqual([40, 80, 16]);

    const run = join(work, 'run');
    const log = python([
      'training/train.py',
      '--data',
      data,
      '--out',
      run,
      '--tiny',
      '--gen-steps',
      '15',
      '--gen-batch',
      '8',
      '--ren-steps',
      '2',
      '--ren-batch',
      '2',
    ]);
    expect(log).toContain('wrote');
    const metrics = JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8')) as {
      metrics: Record<string, number>;
      data: { clips: string[] };
    };
    expect(metrics.data.clips).toEqual(['vrt_face_2.mp4', 'vrt_face_3.mp4']);
    expect(Number.isFinite(metrics.metrics['generator.heldout.lipLmd.after'])).toBe(true);

    const models = join(work, 'models');
    mkdirSync(join(work, 'm'));
    const manifest = join(work, 'm', 'manifest.json'); // paths in it are relative to its parent folder (work)
    writeFileSync(manifest, JSON.stringify({ models: { face_other: { file: 'models/face/x.onnx' } } }));
    python([
      'training/export.py',
      '--checkpoint',
      join(run, 'checkpoint.pt'),
      '--out',
      models,
      '--models',
      'generator,refenc,frame',
      '--manifest',
      manifest,
      '--id-prefix',
      'neural.smoke',
    ]);
    const m = JSON.parse(readFileSync(manifest, 'utf8')) as {
      models: Record<string, { file: string; contract?: string; data?: { clips: string[] } }>;
    };
    expect(Object.keys(m.models)).toEqual([
      'face_other',
      'neural.smoke.tiny.generator',
      'neural.smoke.tiny.refenc',
      'neural.smoke.tiny.frame',
    ]);
    const gen = m.models['neural.smoke.tiny.generator']!;
    expect(gen.contract).toBe(LANDMARK_GENERATOR_CONTRACT.id);
    expect(gen.file).toBe('models/landmark_generator.onnx'); // relative to the manifest's parent folder
    expect(gen.data?.clips).toEqual(['vrt_face_2.mp4', 'vrt_face_3.mp4']);

    // The trained generator on a real window of the prepared data.
    const host = await InferenceHost.start({ provider: 'cpu', log: () => {} });
    try {
      await host.load('gen', join(models, LANDMARK_GENERATOR_CONTRACT.file), LANDMARK_GENERATOR_CONTRACT.id);
      await host.load('refenc', join(models, RENDERER_REFENC_CONTRACT.file), RENDERER_REFENC_CONTRACT.id);
      await host.load('frame', join(models, RENDERER_FRAME_CONTRACT.file), RENDERER_FRAME_CONTRACT.id);
      const mel = readNpy(join(data, 'vrt_face_2', 'mel.npy')).data as Float32Array;
      const pts = lm.data as Float32Array;
      const pose = new Float32Array(5 * 2 * 74);
      const refs = new Float32Array(15 * 2 * 131);
      for (let t = 0; t < 5; t++) {
        for (let i = 0; i < 74; i++) {
          pose[t * 148 + i] = pts[((10 + t) * 131 + i) * 2]!;
          pose[t * 148 + 74 + i] = pts[((10 + t) * 131 + i) * 2 + 1]!;
        }
      }
      for (let r = 0; r < 15; r++) {
        for (let i = 0; i < 131; i++) {
          refs[r * 262 + i] = pts[(r * 2 * 131 + i) * 2]!;
          refs[r * 262 + 131 + i] = pts[(r * 2 * 131 + i) * 2 + 1]!;
        }
      }
      const out = await host.run('gen', {
        mel: { data: mel.slice(10 * 1280, 15 * 1280), dims: [1, 5, 1, 80, 16] },
        pose: { data: pose, dims: [1, 5, 2, 74] },
        ref_landmarks: { data: refs, dims: [1, 15, 2, 131] },
      });
      expect(out.outputs.lip!.dims).toEqual([1, 5, 2, 40]);
      expect(out.outputs.jaw!.dims).toEqual([1, 5, 2, 17]);
      expect(Array.from(out.outputs.lip!.data).every(Number.isFinite)).toBe(true);
    } finally {
      await host.close();
    }
  });
});

describe.skipIf(noTorch !== null)('training on synthetic data and the IP_LAP converter', () => {
  it('the generator learns: held-out lip LMD drops (synthetic clips whose lips follow the mel)', () => {
    const data = join(work, 'syn');
    python(['training/synthetic.py', '--out', data, '--clips', '2', '--frames', '80']);
    const run = join(work, 'syn-run');
    python(['training/train.py', '--data', data, '--out', run, '--tiny', '--gen-steps', '40', '--ren-steps', '0']);
    const m = (JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8')) as { metrics: Record<string, number> })
      .metrics;
    expect(m['generator.heldout.lipLmd.after']).toBeLessThan(m['generator.heldout.lipLmd.before']!);
  });

  it('convert_iplap maps every public IP_LAP parameter name and rejects wrong names and shapes', () => {
    const out = JSON.parse(python(['test/neural/iplap_state_dict.py']).trim().split('\n').pop()!) as Record<
      string,
      { mapped: number; zeroFilled: string[]; dropped: number; valueCopied: boolean; publicNames: number }
    > & { badRejected: boolean; badMessage: string };
    expect(out.generator!.valueCopied).toBe(true);
    expect(out.generator!.mapped).toBe(out.generator!.publicNames - 2); // two positional-encoding buffers dropped
    expect(out.renderer!.valueCopied).toBe(true);
    expect(out.renderer!.zeroFilled).toEqual(['translation.enc1.conv.bias', 'translation.enc2.conv.bias']);
    expect(out.renderer!.dropped).toBe(1); // perceptual (VGG) weights
    expect(out.badRejected).toBe(true);
    expect(out.badMessage).toContain("no mapping for public parameter 'fusion_transformer.extra.weight'");
    expect(out.badMessage).toContain('shape (81, 512) vs ours (80, 512)');
  });
});
