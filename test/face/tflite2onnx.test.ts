/**
 * The TFLite -> ONNX converter: structure, determinism, the sha256 the manifest records, and numerical agreement
 * with an independent NHWC interpreter of the TFLite graph on the same input.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/cli/paths.ts';
import { blazeFaceAnchors } from '../../src/pipeline/face/BlazeFaceDetector.ts';
import { defaultFaceModelDir } from '../../src/pipeline/face/index.ts';
import { OrtSession } from '../../src/pipeline/face/OrtSession.ts';
import { convertTflite } from '../../scripts/tflite2onnx/convert.ts';
import { openFaceMeshPack } from '../../scripts/tflite2onnx/mediapipePack.ts';
import { runReference } from '../../scripts/tflite2onnx/reference.ts';
import { readTflite } from '../../scripts/tflite2onnx/tflite.ts';

const MODELS = [
  {
    id: 'face_landmark',
    packed: 'face_landmark/face_landmark.tflite',
    input: [1, 192, 192, 3],
    outputs: [
      [1, 1, 1, 1404],
      [1, 1, 1, 1],
    ],
  },
  {
    id: 'face_detection_short_range',
    packed: 'face_detection/face_detection_short_range.tflite',
    input: [1, 128, 128, 3],
    outputs: [
      [1, 896, 16],
      [1, 896, 1],
    ],
  },
] as const;

const manifest = JSON.parse(readFileSync(join(repoRoot, 'models', 'manifest.json'), 'utf8')) as {
  models: Record<string, { sha256: string; provenance: { sourceSha256: string; byteRange: [number, number] } }>;
};
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const pack = openFaceMeshPack(repoRoot);

describe.each(MODELS)('tflite2onnx: $id', (m) => {
  const tflite = pack.file(m.packed);
  const entry = manifest.models[m.id];

  it('reads the source file the manifest describes', () => {
    expect(entry).toBeDefined();
    expect([tflite.start, tflite.end]).toEqual(entry?.provenance.byteRange);
    expect(sha256(tflite.data)).toBe(entry?.provenance.sourceSha256);
    const model = readTflite(tflite.data);
    expect(model.tensors[model.inputs[0] ?? -1]?.shape).toEqual(m.input);
    expect(model.outputs.map((i) => model.tensors[i]?.shape)).toEqual(m.outputs);
  });

  it('converts deterministically to the bytes the manifest and the set-up step recorded', () => {
    const a = convertTflite(tflite.data, m.id);
    const b = convertTflite(tflite.data, m.id);
    expect(Buffer.compare(a.onnx, b.onnx)).toBe(0);
    expect(sha256(a.onnx)).toBe(entry?.sha256);
    expect(sha256(readFileSync(join(defaultFaceModelDir, `${m.id}.onnx`)))).toBe(entry?.sha256);
    expect(a.inputs[0]?.shape).toEqual(m.input);
    expect(a.outputs.map((o) => o.shape)).toEqual(m.outputs);
  });

  it('runs in onnxruntime and matches the NHWC reference interpreter', () => {
    const s = new OrtSession(join(defaultFaceModelDir, `${m.id}.onnx`));
    try {
      const x = s.inputs[0];
      expect(x?.length).toBe(m.input.reduce((p: number, d: number) => p * d, 1));
      if (!x) return;
      let seed = 7;
      for (let i = 0; i < x.length; i++) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        x[i] = seed / 4294967296;
      }
      s.run();
      const ref = runReference(tflite.data, [x.slice()]);
      expect(ref.length).toBe(s.outputs.length);
      ref.forEach((r, k) => {
        const o = s.outputs[k];
        expect(o?.length).toBe(r.length);
        let maxDiff = 0;
        let maxAbs = 0;
        for (let i = 0; i < r.length; i++) {
          maxDiff = Math.max(maxDiff, Math.abs((r[i] ?? 0) - (o?.[i] ?? NaN)));
          maxAbs = Math.max(maxAbs, Math.abs(r[i] ?? 0));
        }
        expect(maxAbs).toBeGreaterThan(1); // not a degenerate all-zero output
        expect(maxDiff).toBeLessThan(1e-3);
      });
    } finally {
      s.close();
      s.close();
    }
  });
});

describe('blazeface anchors', () => {
  it('has 896 anchors: 16x16x2 at stride 8 then 8x8x6 at stride 16', () => {
    const a = blazeFaceAnchors();
    expect(a.length).toBe(896 * 2);
    expect([a[0], a[1]]).toEqual([0.5 / 16, 0.5 / 16]);
    expect([a[2], a[3]]).toEqual([0.5 / 16, 0.5 / 16]);
    expect([a[511 * 2], a[511 * 2 + 1]]).toEqual([15.5 / 16, 15.5 / 16]);
    expect([a[512 * 2], a[517 * 2]]).toEqual([0.5 / 8, 0.5 / 8]);
    expect([a[895 * 2], a[895 * 2 + 1]]).toEqual([7.5 / 8, 7.5 / 8]);
  });
});
