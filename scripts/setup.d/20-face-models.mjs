// Face models: MediaPipe's face_landmark.tflite (468 points) and face_detection_short_range.tflite (BlazeFace) are
// cut out of @mediapipe/face_mesh's packed asset file and converted to ONNX by our own converter
// (scripts/tflite2onnx), so onnxruntime runs them. Deterministic and about a second, so the .onnx files are
// regenerated here rather than committed; models/manifest.json records the sha256 each should have.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const name = 'face-models';

/** Model id -> file name inside @mediapipe/face_mesh's pack, and our output file. */
const MODELS = [
  { id: 'face_landmark', packed: 'face_landmark/face_landmark.tflite', out: 'models/face/face_landmark.onnx' },
  {
    id: 'face_detection_short_range',
    packed: 'face_detection/face_detection_short_range.tflite',
    out: 'models/face/face_detection_short_range.onnx',
  },
];

const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

function manifest(root) {
  const p = join(root, 'models', 'manifest.json');
  return existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')) : { models: {} };
}

export async function isReady({ root }) {
  const m = manifest(root).models ?? {};
  return MODELS.every(({ id, out }) => {
    const p = join(root, out);
    return existsSync(p) && m[id]?.sha256 === sha256(readFileSync(p));
  });
}

export async function run({ root, log }) {
  const { register } = await import('tsx/esm/api');
  const unregister = register();
  let convertTflite;
  let openFaceMeshPack;
  try {
    ({ convertTflite } = await import('../tflite2onnx/convert.ts'));
    ({ openFaceMeshPack } = await import('../tflite2onnx/mediapipePack.ts'));
  } finally {
    await unregister();
  }
  const pack = openFaceMeshPack(root);
  const m = manifest(root).models ?? {};
  for (const { id, packed, out } of MODELS) {
    const tflite = pack.file(packed).data;
    const expected = m[id];
    if (expected?.provenance?.sourceSha256 && expected.provenance.sourceSha256 !== sha256(tflite)) {
      log(`warning: ${packed} differs from the one recorded in models/manifest.json (package ${pack.version})`);
    }
    const { onnx } = convertTflite(tflite, id);
    const dest = join(root, out);
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, onnx);
    const digest = sha256(onnx);
    if (expected?.sha256 && expected.sha256 !== digest) {
      log(`warning: ${out} sha256 ${digest} differs from models/manifest.json (${expected.sha256})`);
    }
    log(`${out}: ${onnx.byteLength} bytes, sha256 ${digest.slice(0, 16)}...`);
  }
}
