/**
 * A minimal ONNX protobuf writer (onnx/onnx.proto, proto3 wire format): just the messages a converted graph needs.
 * Field numbers follow onnx.proto; every message is written in field order so the output is byte-for-byte
 * deterministic for the same graph.
 */

/** TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, INT32: 6, INT64: 7 } as const;

export type AttrValue = number | number[] | string | { ints: number[] } | { floats: number[] };

export interface OnnxNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  name: string;
  /** Integers go out as INT, arrays of integers as INTS; use { floats } / a float `f` key convention below. */
  attrs?: Record<string, AttrValue>;
}

export interface OnnxInitializer {
  name: string;
  dims: number[];
  dataType: number;
  /** Little-endian raw bytes of the tensor. */
  raw: Uint8Array;
}

export interface OnnxValueInfo {
  name: string;
  elemType: number;
  dims: number[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxInitializer[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  docString?: string;
}

/** Growable byte buffer with protobuf primitives. */
class PbWriter {
  private buf = new Uint8Array(1024);
  private len = 0;

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + extra) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }

  /** Unsigned or negative (two's complement, 10 bytes) varint, as protobuf encodes int64. */
  varint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) {
      this.byte(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.byte(Number(x));
  }

  private tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  int(field: number, v: number): void {
    this.tag(field, 0);
    this.varint(v);
  }

  float(field: number, v: number): void {
    this.tag(field, 5);
    this.ensure(4);
    new DataView(this.buf.buffer).setFloat32(this.len, v, true);
    this.len += 4;
  }

  bytes(field: number, data: Uint8Array): void {
    this.tag(field, 2);
    this.varint(data.length);
    this.ensure(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
  }

  string(field: number, s: string): void {
    this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, write: (w: PbWriter) => void): void {
    const w = new PbWriter();
    write(w);
    this.bytes(field, w.finish());
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

// AttributeProto.AttributeType
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_FLOATS = 6;
const ATTR_INTS = 7;

function writeAttr(w: PbWriter, name: string, v: AttrValue): void {
  // AttributeProto: name 1, f 2, i 3, s 4, floats 7, ints 8, type 20.
  w.string(1, name);
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`onnx: attribute ${name}: use { floats: [...] } for non-integers`);
    w.int(3, v);
    w.int(20, ATTR_INT);
  } else if (typeof v === 'string') {
    w.bytes(4, new TextEncoder().encode(v));
    w.int(20, ATTR_STRING);
  } else if (Array.isArray(v)) {
    for (const x of v) w.int(8, x);
    w.int(20, ATTR_INTS);
  } else if ('ints' in v) {
    for (const x of v.ints) w.int(8, x);
    w.int(20, ATTR_INTS);
  } else if (v.floats.length === 1) {
    w.float(2, v.floats[0] ?? 0);
    w.int(20, ATTR_FLOAT);
  } else {
    for (const x of v.floats) w.float(7, x);
    w.int(20, ATTR_FLOATS);
  }
}

function writeValueInfo(w: PbWriter, vi: OnnxValueInfo): void {
  // ValueInfoProto: name 1, type 2. TypeProto: tensor_type 1. TypeProto.Tensor: elem_type 1, shape 2.
  // TensorShapeProto: dim 1. Dimension: dim_value 1.
  w.string(1, vi.name);
  w.message(2, (t) =>
    t.message(1, (tt) => {
      tt.int(1, vi.elemType);
      tt.message(2, (s) => {
        for (const d of vi.dims) s.message(1, (dim) => dim.int(1, d));
      });
    }),
  );
}

/** Serialises a ModelProto (IR version 8, default-domain opset 13). */
export function encodeModel(graph: OnnxGraph, producer: { name: string; version: string }): Uint8Array {
  const w = new PbWriter();
  // ModelProto: ir_version 1, producer_name 2, producer_version 3, graph 7, opset_import 8.
  w.int(1, 8);
  w.string(2, producer.name);
  w.string(3, producer.version);
  w.message(7, (g) => {
    // GraphProto: node 1, name 2, initializer 5, doc_string 10, input 11, output 12.
    for (const n of graph.nodes) {
      g.message(1, (nw) => {
        // NodeProto: input 1, output 2, name 3, op_type 4, attribute 5.
        for (const i of n.inputs) nw.string(1, i);
        for (const o of n.outputs) nw.string(2, o);
        nw.string(3, n.name);
        nw.string(4, n.opType);
        for (const [k, v] of Object.entries(n.attrs ?? {})) nw.message(5, (a) => writeAttr(a, k, v));
      });
    }
    g.string(2, graph.name);
    for (const t of graph.initializers) {
      g.message(5, (tw) => {
        // TensorProto: dims 1, data_type 2, name 8, raw_data 9.
        for (const d of t.dims) tw.int(1, d);
        tw.int(2, t.dataType);
        tw.string(8, t.name);
        tw.bytes(9, t.raw);
      });
    }
    if (graph.docString) g.string(10, graph.docString);
    for (const i of graph.inputs) g.message(11, (vw) => writeValueInfo(vw, i));
    for (const o of graph.outputs) g.message(12, (vw) => writeValueInfo(vw, o));
  });
  // OperatorSetIdProto: domain 1 (empty = ai.onnx), version 2.
  w.message(8, (o) => o.int(2, 13));
  return w.finish();
}
