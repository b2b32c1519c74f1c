// The native npm packages installed without their install scripts (see docs/install.md) load and work:
// onnxruntime-node runs a model on the bundled CPU provider, node-av decodes H.264 with its bundled FFmpeg.
import '../../src/polyfills.ts';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const clip = '/work/shared/clips/vrt_face_5.mp4';

// --- A minimal protobuf writer, enough for an ONNX ModelProto (onnx.proto3 field numbers in the comments). ---
type Field = [field: number, value: number | string | Uint8Array];

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function message(...fields: Field[]): Uint8Array {
  const bytes: number[] = [];
  for (const [field, value] of fields) {
    if (typeof value === 'number') {
      bytes.push(...varint(field * 8), ...varint(value)); // wire type 0
    } else {
      const data = typeof value === 'string' ? new TextEncoder().encode(value) : value;
      bytes.push(...varint(field * 8 + 2), ...varint(data.length), ...data); // wire type 2
    }
  }
  return Uint8Array.from(bytes);
}

/** ValueInfoProto of a float tensor of shape [n]. */
function floatVector(name: string, n: number): Uint8Array {
  const dim = message([1, n]); // Dimension.dim_value
  const shape = message([1, dim]); // TensorShapeProto.dim
  const tensorType = message([1, 1], [2, shape]); // TypeProto.Tensor: elem_type FLOAT = 1, shape
  return message([1, name], [2, message([1, tensorType])]); // ValueInfoProto: name, type.tensor_type
}

/** ModelProto computing c = a + b on float vectors of length n (opset 13). */
function addModel(n: number): Uint8Array {
  const node = message([1, 'a'], [1, 'b'], [2, 'c'], [4, 'Add']); // NodeProto: input, input, output, op_type
  const graph = message(
    [1, node], // GraphProto.node
    [2, 'add'], // name
    [11, floatVector('a', n)], // input
    [11, floatVector('b', n)],
    [12, floatVector('c', n)], // output
  );
  const opset = message([1, ''], [2, 13]); // OperatorSetIdProto: default domain, version 13
  return message([1, 8], [7, graph], [8, opset]); // ModelProto: ir_version 8, graph, opset_import
}

describe('onnxruntime-node', () => {
  it('runs a session on the CPU execution provider', async () => {
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(addModel(4), { executionProviders: ['cpu'] });
    try {
      expect(session.inputNames).toEqual(['a', 'b']);
      const a = new ort.Tensor('float32', Float32Array.from([1, 2, 3, 4]), [4]);
      const b = new ort.Tensor('float32', Float32Array.from([10, 20, 30, 40.5]), [4]);
      const out = await session.run({ a, b });
      const c = out['c'];
      expect(c?.dims).toEqual([4]);
      expect(Array.from(c?.data as Float32Array)).toEqual([11, 22, 33, 44.5]);
    } finally {
      await session.release();
    }
  });
});

describe('node-av', () => {
  it.skipIf(!existsSync(clip))('decodes the first video frame of an H.264 clip', async () => {
    const { Demuxer, Decoder } = await import('node-av/api');
    const input = await Demuxer.open(clip);
    try {
      const stream = input.video();
      expect(stream).toBeDefined();
      if (!stream) return;
      const decoder = await Decoder.create(stream);
      try {
        let frame = null;
        for await (const f of decoder.frames(input.packets(stream.index))) {
          if (f) {
            frame = f;
            break;
          }
        }
        expect(frame).not.toBeNull();
        expect(frame?.width).toBe(524);
        expect(frame?.height).toBe(524);
        frame?.free();
      } finally {
        decoder.close();
      }
    } finally {
      await input.close();
    }
  });
});
