import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { InferenceHost } from '../../src/pipeline/inference/index.ts';
import {
  ContractError,
  LANDMARK_GENERATOR_CONTRACT,
  RENDERER_CONTRACT,
  RENDERER_FRAME_CONTRACT,
  RENDERER_REFENC_CONTRACT,
  checkContract,
  type DeclaredTensor,
} from '../../src/pipeline/lipsync/neural/contracts.ts';
import { verifyModelFile } from '../../src/pipeline/lipsync/neural/loader.ts';
import { itemOf, maxAbsDiff, readGolden, tinyModels, torchMissingReason } from './fixtures.ts';

const noTorch = torchMissingReason();

/** Declared metadata matching a contract exactly (what a correct export looks like). */
function declaredFor(c: typeof LANDMARK_GENERATOR_CONTRACT): { inputs: DeclaredTensor[]; outputs: DeclaredTensor[] } {
  const conv = (specs: typeof c.inputs): DeclaredTensor[] =>
    specs.map((s) => ({
      name: s.name,
      isTensor: true,
      type: 'float32',
      shape: s.shape.map((d) => (d === 'C1' ? 32 : d === 'C2' ? 256 : d)),
    }));
  return { inputs: conv(c.inputs), outputs: conv(c.outputs) };
}

describe('contract checker (metadata only)', () => {
  it('accepts metadata that matches and resolves named widths', () => {
    expect(checkContract(LANDMARK_GENERATOR_CONTRACT, declaredFor(LANDMARK_GENERATOR_CONTRACT))).toEqual({});
    expect(checkContract(RENDERER_REFENC_CONTRACT, declaredFor(RENDERER_REFENC_CONTRACT))).toEqual({ C1: 32, C2: 256 });
  });

  it('lists every problem: wrong name, fixed batch, wrong size, extra input, wrong dtype', () => {
    const d = declaredFor(LANDMARK_GENERATOR_CONTRACT);
    d.inputs[0] = { ...d.inputs[0]!, name: 'audio' };
    d.inputs[1] = { ...d.inputs[1]!, shape: [1, 5, 2, 74] };
    d.inputs[2] = { ...d.inputs[2]!, shape: ['B', 15, 2, 130], type: 'float16' };
    d.outputs[0] = { ...d.outputs[0]!, shape: ['B', 5, 2, 41] };
    let err: unknown;
    try {
      checkContract(LANDMARK_GENERATOR_CONTRACT, d, 'bad.onnx');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ContractError);
    const msg = (err as Error).message;
    expect(msg).toContain("missing input 'mel'");
    expect(msg).toContain("unexpected input 'audio'");
    expect(msg).toContain("input 'pose' dim 0 is fixed to 1, contract needs dynamic 'B'");
    expect(msg).toContain("input 'ref_landmarks' is float16");
    expect(msg).toContain("input 'ref_landmarks' dim 3 is 130, contract says 131");
    expect(msg).toContain("output 'lip' dim 3 is 41, contract says 40");
    expect((err as ContractError).problems.length).toBe(6);
  });

  it('rejects a renderer model offered as the generator', () => {
    expect(() => checkContract(LANDMARK_GENERATOR_CONTRACT, declaredFor(RENDERER_CONTRACT))).toThrow(
      /missing input 'pose'/,
    );
  });
});

describe.skipIf(noTorch !== null)('exported tiny models (PyTorch -> ONNX -> onnxruntime-node)', () => {
  it('every exported file follows its contract', async () => {
    const dir = tinyModels();
    for (const c of [
      LANDMARK_GENERATOR_CONTRACT,
      RENDERER_CONTRACT,
      RENDERER_REFENC_CONTRACT,
      RENDERER_FRAME_CONTRACT,
    ]) {
      const s = await ort.InferenceSession.create(join(dir, c.file));
      const dims = checkContract(
        c,
        { inputs: s.inputMetadata as DeclaredTensor[], outputs: s.outputMetadata as DeclaredTensor[] },
        c.file,
      );
      if (c === RENDERER_FRAME_CONTRACT) expect(dims).toEqual({ C1: 8, C2: 32 }); // tiny widths
      await s.release();
    }
    // The same through the stand-alone loader, plus its errors.
    // The reference encoder's output widths come out symbolic (ONNX shape inference stops at its reshape); the
    // per-frame model fixes them as inputs.
    await expect(
      verifyModelFile(join(dir, RENDERER_REFENC_CONTRACT.file), RENDERER_REFENC_CONTRACT.id),
    ).resolves.toEqual({});
    await expect(verifyModelFile(join(dir, RENDERER_FRAME_CONTRACT.file), RENDERER_FRAME_CONTRACT.id)).resolves.toEqual(
      { C1: 8, C2: 32 },
    );
    await expect(verifyModelFile(join(dir, RENDERER_CONTRACT.file), LANDMARK_GENERATOR_CONTRACT.id)).rejects.toThrow(
      /does not follow lipsync\.landmark-generator\.v1/,
    );
    await expect(verifyModelFile(join(dir, 'golden', 'golden.json'), RENDERER_CONTRACT.id)).rejects.toThrow(
      /not a loadable ONNX model/,
    );
    await expect(verifyModelFile(join(dir, 'missing.onnx'), RENDERER_CONTRACT.id)).rejects.toThrow(/not found/);
  });

  it('the checker rejects a model exported with a fixed batch size (through the worker, with a clear error)', async () => {
    const dir = tinyModels('static');
    const host = await InferenceHost.start({ provider: 'cpu', log: () => {} });
    try {
      const p = host.load('gen', join(dir, LANDMARK_GENERATOR_CONTRACT.file), LANDMARK_GENERATOR_CONTRACT.id);
      await expect(p).rejects.toBeInstanceOf(ContractError);
      await expect(p).rejects.toThrow(/input 'mel' dim 0 is fixed to 1, contract needs dynamic 'B'/);
      const wrong = host.load('ren', join(dir, LANDMARK_GENERATOR_CONTRACT.file), RENDERER_CONTRACT.id);
      await expect(wrong).rejects.toThrow(/missing input 'masked_face'/);
    } finally {
      await host.close();
    }
  });

  // Tolerance: 1e-4 absolute. Measured about 2e-6 on these models (float32 both sides, different kernels and
  // summation order); 1e-4 leaves room for other CPUs while still catching any wiring or layout mistake.
  const TOL = 1e-4;

  it('onnxruntime (in the worker thread) reproduces PyTorch outputs within 1e-4 for B=2, N=3', async () => {
    const dir = tinyModels();
    const golden = readGolden(dir);
    const host = await InferenceHost.start({ provider: 'cpu', log: () => {} });
    const files: Record<string, typeof LANDMARK_GENERATOR_CONTRACT> = {
      generator: LANDMARK_GENERATOR_CONTRACT,
      renderer: RENDERER_CONTRACT,
      refenc: RENDERER_REFENC_CONTRACT,
      frame: RENDERER_FRAME_CONTRACT,
    };
    try {
      for (const [kind, g] of Object.entries(golden)) {
        const c = files[kind]!;
        await host.load(kind, join(dir, c.file), c.id);
        const r = await host.runBatch(kind, [g.inputs]);
        for (const [name, want] of Object.entries(g.outputs)) {
          const got = r.outputs[0]![name]!;
          expect(got.dims, `${kind}.${name}`).toEqual(want.dims);
          expect(maxAbsDiff(got.data, want.data), `${kind}.${name}`).toBeLessThan(TOL);
        }
      }
      // The same batch given as two items of one (what the batching queue sends) gives the same numbers.
      const g = golden.generator!;
      const items = [0, 1].map((i) => Object.fromEntries(Object.entries(g.inputs).map(([n, t]) => [n, itemOf(t, i)])));
      const r = await host.runBatch('generator', items);
      expect(r.batch).toBe(2);
      for (const i of [0, 1]) {
        expect(maxAbsDiff(r.outputs[i]!.lip!.data, itemOf(g.outputs.lip!, i).data)).toBeLessThan(TOL);
      }
    } finally {
      await host.close();
    }
  });

  it('split renderer (reference encoder cached in the worker + per-frame model) equals the monolithic one', async () => {
    const dir = tinyModels();
    const g = readGolden(dir).renderer!;
    const host = await InferenceHost.start({ provider: 'cpu', log: () => {} });
    try {
      await host.load('refenc', join(dir, RENDERER_REFENC_CONTRACT.file), RENDERER_REFENC_CONTRACT.id);
      await host.load('frame', join(dir, RENDERER_FRAME_CONTRACT.file), RENDERER_FRAME_CONTRACT.id);
      for (const i of [0, 1]) {
        const key = `stream-${i}`;
        const refImages = itemOf(g.inputs.ref_images!, i);
        await host.runBatch(
          'refenc',
          [{ ref_images: refImages, ref_sketches: itemOf(g.inputs.ref_sketches!, i) }],
          [key],
        );
        await host.store(key, { ref_images: refImages });
      }
      // Both streams' frames in one batched run, the references taken from the worker's store.
      const results = await Promise.all(
        [0, 1].map((i) =>
          host.run(
            'frame',
            {
              masked_face: itemOf(g.inputs.masked_face!, i),
              target_sketches: itemOf(g.inputs.target_sketches!, i),
              mel: itemOf(g.inputs.mel!, i),
              ref_images: { stored: `stream-${i}` },
              ref_feat1: { stored: `stream-${i}` },
              ref_feat2: { stored: `stream-${i}` },
            },
            { groupKey: 'N=3' },
          ),
        ),
      );
      for (const i of [0, 1]) {
        expect(results[i]!.batch).toBe(2);
        expect(maxAbsDiff(results[i]!.outputs.face!.data, itemOf(g.outputs.face!, i).data)).toBeLessThan(TOL);
      }
      const stats = await host.stats();
      expect(stats.models.frame!.stats.runs).toBe(1);
      expect(stats.models.frame!.stats.items).toBe(2);
      expect(stats.storedKeys.sort()).toEqual(['stream-0', 'stream-1']);
    } finally {
      await host.close();
    }
  });
});
