/**
 * A minimal reader for the TFLite flatbuffer schema (tensorflow/lite/schema/schema.fbs): only the tables and fields
 * the MediaPipe face models use. Field numbers below are the schema's declaration order (vtable slot = 4 + 2 * id).
 */

/** TensorType enum of schema.fbs. */
export const TensorType = { FLOAT32: 0, FLOAT16: 1, INT32: 2, UINT8: 3, INT64: 4, INT8: 9 } as const;

/** The BuiltinOperator codes this converter knows by name (schema.fbs enum values). */
export const BuiltinOp: Record<number, string> = {
  0: 'ADD',
  1: 'AVERAGE_POOL_2D',
  2: 'CONCATENATION',
  3: 'CONV_2D',
  4: 'DEPTHWISE_CONV_2D',
  6: 'DEQUANTIZE',
  9: 'FULLY_CONNECTED',
  14: 'LOGISTIC',
  17: 'MAX_POOL_2D',
  18: 'MUL',
  19: 'RELU',
  21: 'RELU6',
  22: 'RESHAPE',
  23: 'RESIZE_BILINEAR',
  28: 'TANH',
  32: 'CUSTOM',
  34: 'PAD',
  39: 'TRANSPOSE',
  41: 'SUB',
  54: 'PRELU',
};

export interface TfliteTensor {
  index: number;
  name: string;
  shape: number[];
  type: number;
  /** Constant data (weights), or null for activations. */
  data: Uint8Array | null;
}

export interface TfliteOperator {
  /** BuiltinOperator code. */
  code: number;
  /** Name from BuiltinOp, or `BUILTIN_<code>` / the custom code. */
  opName: string;
  inputs: number[];
  outputs: number[];
  /** Accessor for the builtin options table (null when absent). */
  options: FbTable | null;
}

export interface TfliteModel {
  version: number;
  description: string;
  tensors: TfliteTensor[];
  inputs: number[];
  outputs: number[];
  operators: TfliteOperator[];
}

/** One flatbuffer table: reads scalars, vectors, strings and sub-tables by field id. */
export class FbTable {
  private readonly vtable: number;
  private readonly vtableSize: number;

  constructor(
    private readonly view: DataView,
    readonly pos: number,
  ) {
    this.vtable = pos - view.getInt32(pos, true);
    this.vtableSize = view.getUint16(this.vtable, true);
  }

  /** Absolute position of a field, or 0 when the field is absent (default value). */
  private field(id: number): number {
    const slot = 4 + 2 * id;
    if (slot >= this.vtableSize) return 0;
    const off = this.view.getUint16(this.vtable + slot, true);
    return off === 0 ? 0 : this.pos + off;
  }

  private deref(p: number): number {
    return p + this.view.getUint32(p, true);
  }

  int32(id: number, dflt = 0): number {
    const p = this.field(id);
    return p ? this.view.getInt32(p, true) : dflt;
  }
  uint32(id: number, dflt = 0): number {
    const p = this.field(id);
    return p ? this.view.getUint32(p, true) : dflt;
  }
  int8(id: number, dflt = 0): number {
    const p = this.field(id);
    return p ? this.view.getInt8(p) : dflt;
  }
  uint8(id: number, dflt = 0): number {
    const p = this.field(id);
    return p ? this.view.getUint8(p) : dflt;
  }
  bigUint64(id: number, dflt = 0n): bigint {
    const p = this.field(id);
    return p ? this.view.getBigUint64(p, true) : dflt;
  }

  string(id: number): string {
    const p = this.field(id);
    if (!p) return '';
    const s = this.deref(p);
    const len = this.view.getUint32(s, true);
    return new TextDecoder().decode(new Uint8Array(this.view.buffer, this.view.byteOffset + s + 4, len));
  }

  table(id: number): FbTable | null {
    const p = this.field(id);
    return p ? new FbTable(this.view, this.deref(p)) : null;
  }

  int32Vector(id: number): number[] {
    const p = this.field(id);
    if (!p) return [];
    const v = this.deref(p);
    const n = this.view.getUint32(v, true);
    const out: number[] = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = this.view.getInt32(v + 4 + 4 * i, true);
    return out;
  }

  /** A [ubyte] vector as a view into the file (no copy). */
  bytes(id: number): Uint8Array | null {
    const p = this.field(id);
    if (!p) return null;
    const v = this.deref(p);
    const n = this.view.getUint32(v, true);
    return new Uint8Array(this.view.buffer, this.view.byteOffset + v + 4, n);
  }

  tableVector(id: number): FbTable[] {
    const p = this.field(id);
    if (!p) return [];
    const v = this.deref(p);
    const n = this.view.getUint32(v, true);
    const out: FbTable[] = [];
    for (let i = 0; i < n; i++) {
      const e = v + 4 + 4 * i;
      out.push(new FbTable(this.view, this.deref(e)));
    }
    return out;
  }
}

/** Parses a .tflite file (first subgraph only, which is all these models have). */
export function readTflite(file: Uint8Array): TfliteModel {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (file.byteLength < 8) throw new Error('tflite: file too short');
  const ident = String.fromCharCode(file[4] ?? 0, file[5] ?? 0, file[6] ?? 0, file[7] ?? 0);
  if (ident !== 'TFL3') throw new Error(`tflite: bad file identifier "${ident}" (expected TFL3)`);
  // Model: version 0, operator_codes 1, subgraphs 2, description 3, buffers 4.
  const model = new FbTable(view, view.getUint32(0, true));
  const opCodes = model.tableVector(1).map((oc) => {
    // OperatorCode: deprecated_builtin_code 0 (byte), custom_code 1, version 2, builtin_code 3 (int).
    const deprecated = oc.int8(0);
    const builtin = oc.int32(3);
    return { code: Math.max(deprecated, builtin), custom: oc.string(1) };
  });
  const buffers = model.tableVector(4).map((b) => {
    // Buffer: data 0; offset 1 / size 2 for models over 2 GB (data outside the flatbuffer).
    const data = b.bytes(0);
    if (data && data.byteLength > 0) return data;
    const offset = Number(b.bigUint64(1));
    const size = Number(b.bigUint64(2));
    return offset > 1 && size > 0 ? file.subarray(offset, offset + size) : null;
  });
  const subgraphs = model.tableVector(2);
  const sg = subgraphs[0];
  if (!sg) throw new Error('tflite: no subgraph');
  // SubGraph: tensors 0, inputs 1, outputs 2, operators 3, name 4.
  const tensors = sg.tableVector(0).map((t, index): TfliteTensor => {
    // Tensor: shape 0, type 1, buffer 2, name 3, quantization 4.
    const q = t.table(4);
    if (q && q.table(2) !== null) throw new Error(`tflite: quantized tensor ${t.string(3)} is not supported`);
    const data = buffers[t.uint32(2)] ?? null;
    return { index, name: t.string(3), shape: t.int32Vector(0), type: t.int8(1), data };
  });
  const operators = sg.tableVector(3).map((op): TfliteOperator => {
    // Operator: opcode_index 0, inputs 1, outputs 2, builtin_options_type 3, builtin_options 4.
    const oc = opCodes[op.uint32(0)];
    if (!oc) throw new Error('tflite: operator with an unknown opcode index');
    const opName = oc.code === 32 ? oc.custom : (BuiltinOp[oc.code] ?? `BUILTIN_${oc.code}`);
    return { code: oc.code, opName, inputs: op.int32Vector(1), outputs: op.int32Vector(2), options: op.table(4) };
  });
  return {
    version: model.uint32(0),
    description: model.string(3),
    tensors,
    inputs: sg.int32Vector(1),
    outputs: sg.int32Vector(2),
    operators,
  };
}
