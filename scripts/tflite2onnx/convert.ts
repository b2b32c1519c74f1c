/**
 * TFLite -> ONNX conversion for the float (fp16-weight) MediaPipe face models: BlazeFace short range and
 * FaceMesh (468). The ONNX graph keeps the TFLite I/O contract (NHWC input, outputs in their TFLite shapes) and runs
 * NCHW inside: one Transpose after the input, Transposes back only where a tensor leaves the 4-D convolutional
 * part (RESHAPE, graph outputs). fp16 weights are dequantized to fp32 at conversion time (DEQUANTIZE folded).
 */
import { DataType, encodeModel, type OnnxGraph, type OnnxNode, type OnnxInitializer } from './onnx.ts';
import { readTflite, TensorType, type TfliteModel, type TfliteOperator, type TfliteTensor } from './tflite.ts';

export const CONVERTER_VERSION = '1.0.0';

/** IEEE half -> float. */
function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

interface Const {
  shape: number[];
  data: Float32Array | Int32Array;
}

/** NHWC axis -> NCHW axis. */
const NHWC_TO_NCHW_AXIS = [0, 2, 3, 1];

/** TF 'SAME' padding (extra pixel at the end), the rule TFLite uses. */
function samePads(inSize: number, k: number, stride: number, dilation: number): [number, number] {
  const eff = (k - 1) * dilation + 1;
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + eff - inSize, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

export interface ConvertResult {
  onnx: Uint8Array;
  /** Op counts of the source model, for the manifest. */
  tfliteOps: Record<string, number>;
  inputs: { name: string; shape: number[] }[];
  outputs: { name: string; shape: number[] }[];
}

export function convertTflite(file: Uint8Array, graphName: string): ConvertResult {
  const model = readTflite(file);
  return new Converter(model, graphName).run();
}

class Converter {
  private readonly nodes: OnnxNode[] = [];
  private readonly inits: OnnxInitializer[] = [];
  private readonly consts = new Map<number, Const>();
  /** Tensors that exist in the ONNX graph in NCHW order (4-D activations). */
  private readonly nchw = new Set<number>();
  /** ONNX value name per TFLite tensor. */
  private readonly names = new Map<number, string>();
  private uid = 0;

  constructor(
    private readonly m: TfliteModel,
    private readonly graphName: string,
  ) {}

  private t(i: number): TfliteTensor {
    const t = this.m.tensors[i];
    if (!t) throw new Error(`tflite2onnx: tensor ${i} out of range`);
    return t;
  }

  private fresh(base: string): string {
    return `${base}__${this.uid++}`;
  }

  private node(opType: string, inputs: string[], outputs: string[], attrs?: OnnxNode['attrs']): void {
    this.nodes.push({ opType, inputs, outputs, name: this.fresh(opType), attrs });
  }

  private initFloat(name: string, dims: number[], data: Float32Array): string {
    const raw = new Uint8Array(data.length * 4);
    const dv = new DataView(raw.buffer);
    for (let i = 0; i < data.length; i++) dv.setFloat32(i * 4, data[i] ?? 0, true);
    this.inits.push({ name, dims, dataType: DataType.FLOAT, raw });
    return name;
  }

  private initInt64(name: string, values: number[]): string {
    const raw = new Uint8Array(values.length * 8);
    const dv = new DataView(raw.buffer);
    values.forEach((v, i) => dv.setBigInt64(i * 8, BigInt(v), true));
    this.inits.push({ name, dims: [values.length], dataType: DataType.INT64, raw });
    return name;
  }

  /** Constant value of a tensor (weights, folded DEQUANTIZE results). */
  private constOf(i: number): Const {
    const c = this.consts.get(i);
    if (c) return c;
    const t = this.t(i);
    if (!t.data) throw new Error(`tflite2onnx: tensor ${t.name} is not constant`);
    const n = t.shape.reduce((a, b) => a * b, 1);
    const dv = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    let data: Float32Array | Int32Array;
    if (t.type === TensorType.FLOAT32) {
      data = new Float32Array(n);
      for (let k = 0; k < n; k++) data[k] = dv.getFloat32(k * 4, true);
    } else if (t.type === TensorType.FLOAT16) {
      data = new Float32Array(n);
      for (let k = 0; k < n; k++) data[k] = halfToFloat(dv.getUint16(k * 2, true));
    } else if (t.type === TensorType.INT32) {
      data = new Int32Array(n);
      for (let k = 0; k < n; k++) data[k] = dv.getInt32(k * 4, true);
    } else {
      throw new Error(`tflite2onnx: constant ${t.name} has unsupported type ${t.type}`);
    }
    const made = { shape: t.shape, data };
    this.consts.set(i, made);
    return made;
  }

  private isConst(i: number): boolean {
    return this.consts.has(i) || this.t(i).data !== null;
  }

  private nameOf(i: number): string {
    const n = this.names.get(i);
    if (!n) throw new Error(`tflite2onnx: tensor ${this.t(i).name} used before it is produced`);
    return n;
  }

  private outName(i: number): string {
    const n = this.t(i).name;
    this.names.set(i, n);
    return n;
  }

  /** The tensor in NHWC (TFLite) layout, inserting a Transpose when it lives as NCHW. */
  private asNhwc(i: number): string {
    if (!this.nchw.has(i)) return this.nameOf(i);
    const out = this.fresh(`${this.t(i).name}_nhwc`);
    this.node('Transpose', [this.nameOf(i)], [out], { perm: [0, 2, 3, 1] });
    return out;
  }

  /** Appends the fused activation after `pre`, writing `out`. */
  private activation(fused: number, pre: string, out: string): void {
    // ActivationFunctionType: NONE 0, RELU 1, RELU_N1_TO_1 2, RELU6 3, TANH 4.
    if (fused === 0) this.node('Identity', [pre], [out]);
    else if (fused === 1) this.node('Relu', [pre], [out]);
    else if (fused === 3) this.node('Clip', [pre, this.scalar(0), this.scalar(6)], [out]);
    else if (fused === 4) this.node('Tanh', [pre], [out]);
    else throw new Error(`tflite2onnx: fused activation ${fused} not supported`);
  }

  private scalars = new Map<number, string>();
  private scalar(v: number): string {
    let n = this.scalars.get(v);
    if (!n) {
      n = `const_${v}`;
      this.initFloat(n, [], new Float32Array([v]));
      this.scalars.set(v, n);
    }
    return n;
  }

  /** Output name for an op whose result may need a fused activation afterwards. */
  private preAct(fused: number, outIdx: number): string {
    return fused === 0 ? this.outName(outIdx) : this.fresh(`${this.t(outIdx).name}_preact`);
  }

  private finishAct(fused: number, pre: string, outIdx: number): void {
    if (fused !== 0) this.activation(fused, pre, this.outName(outIdx));
  }

  run(): ConvertResult {
    const m = this.m;
    const inputs: OnnxGraph['inputs'] = [];
    for (const i of m.inputs) {
      const t = this.t(i);
      inputs.push({ name: t.name, elemType: DataType.FLOAT, dims: t.shape });
      if (t.shape.length === 4) {
        const n = `${t.name}_nchw`;
        this.node('Transpose', [t.name], [n], { perm: [0, 3, 1, 2] });
        this.names.set(i, n);
        this.nchw.add(i);
      } else {
        this.names.set(i, t.name);
      }
    }
    const tfliteOps: Record<string, number> = {};
    for (const op of m.operators) {
      tfliteOps[op.opName] = (tfliteOps[op.opName] ?? 0) + 1;
      this.convertOp(op);
    }
    const outputs: OnnxGraph['outputs'] = [];
    for (const i of m.outputs) {
      const t = this.t(i);
      const nhwc = this.asNhwc(i);
      // Graph outputs keep the TFLite names and shapes.
      const outNameFinal = `${t.name}_out`;
      this.node('Identity', [nhwc], [outNameFinal]);
      outputs.push({ name: outNameFinal, elemType: DataType.FLOAT, dims: t.shape });
    }
    const graph: OnnxGraph = {
      name: this.graphName,
      nodes: this.nodes,
      initializers: this.inits,
      inputs,
      outputs,
      docString: `converted from TFLite (${m.description}) by lipsync-sfu tflite2onnx ${CONVERTER_VERSION}`,
    };
    return {
      onnx: encodeModel(graph, { name: 'lipsync-sfu-tflite2onnx', version: CONVERTER_VERSION }),
      tfliteOps,
      inputs: m.inputs.map((i) => ({ name: this.t(i).name, shape: this.t(i).shape })),
      outputs: outputs.map((o) => ({ name: o.name, shape: o.dims })),
    };
  }

  private in(op: TfliteOperator, k: number): number {
    const i = op.inputs[k];
    if (i === undefined || i < 0) throw new Error(`tflite2onnx: ${op.opName} lacks input ${k}`);
    return i;
  }

  private out(op: TfliteOperator): number {
    const o = op.outputs[0];
    if (o === undefined) throw new Error(`tflite2onnx: ${op.opName} has no output`);
    return o;
  }

  private convertOp(op: TfliteOperator): void {
    const o = op.options;
    const out = this.out(op);
    switch (op.opName) {
      case 'DEQUANTIZE': {
        // fp16 weights: fold to an fp32 constant.
        const c = this.constOf(this.in(op, 0));
        this.consts.set(out, { shape: c.shape, data: Float32Array.from(c.data) });
        return;
      }
      case 'CONV_2D':
      case 'DEPTHWISE_CONV_2D': {
        const dw = op.opName === 'DEPTHWISE_CONV_2D';
        const x = this.in(op, 0);
        const xs = this.t(x).shape; // NHWC
        const w = this.constOf(this.in(op, 1));
        const [o0 = 0, kh = 0, kw = 0, i0 = 0] = w.shape;
        // Conv2DOptions: padding 0, stride_w 1, stride_h 2, fused 3, dil_w 4, dil_h 5.
        // DepthwiseConv2DOptions: padding 0, stride_w 1, stride_h 2, depth_multiplier 3, fused 4, dil_w 5, dil_h 6.
        const padding = o?.int8(0) ?? 0;
        const sw = o?.int32(1, 1) ?? 1;
        const sh = o?.int32(2, 1) ?? 1;
        const fused = (dw ? o?.int8(4) : o?.int8(3)) ?? 0;
        const dilW = (dw ? o?.int32(5, 1) : o?.int32(4, 1)) ?? 1;
        const dilH = (dw ? o?.int32(6, 1) : o?.int32(5, 1)) ?? 1;
        const inC = xs[3] ?? 0;
        // ONNX weight layout: [out, in/group, kh, kw].
        let onnxW: Float32Array;
        let wDims: number[];
        let group = 1;
        if (!dw) {
          wDims = [o0, i0, kh, kw];
          onnxW = new Float32Array(o0 * i0 * kh * kw);
          for (let a = 0; a < o0; a++)
            for (let y = 0; y < kh; y++)
              for (let xx = 0; xx < kw; xx++)
                for (let c = 0; c < i0; c++)
                  onnxW[((a * i0 + c) * kh + y) * kw + xx] = w.data[((a * kh + y) * kw + xx) * i0 + c] ?? 0;
        } else {
          const outC = i0; // TFLite depthwise weights: [1, kh, kw, in*multiplier]
          group = inC;
          wDims = [outC, 1, kh, kw];
          onnxW = new Float32Array(outC * kh * kw);
          for (let c = 0; c < outC; c++)
            for (let y = 0; y < kh; y++)
              for (let xx = 0; xx < kw; xx++) onnxW[(c * kh + y) * kw + xx] = w.data[(y * kw + xx) * outC + c] ?? 0;
        }
        const wName = this.initFloat(`${this.t(this.in(op, 1)).name}_oihw`, wDims, onnxW);
        const inputs = [this.nameOf(x), wName];
        if (op.inputs.length > 2 && (op.inputs[2] ?? -1) >= 0) {
          const b = this.constOf(this.in(op, 2));
          inputs.push(this.initFloat(`${this.t(this.in(op, 2)).name}_f32`, [b.data.length], Float32Array.from(b.data)));
        }
        let pads = [0, 0, 0, 0];
        if (padding === 0) {
          const [pt, pb] = samePads(xs[1] ?? 0, kh, sh, dilH);
          const [pl, pr] = samePads(xs[2] ?? 0, kw, sw, dilW);
          pads = [pt, pl, pb, pr];
        }
        const pre = this.preAct(fused, out);
        this.node('Conv', inputs, [pre], {
          dilations: [dilH, dilW],
          group,
          kernel_shape: [kh, kw],
          pads,
          strides: [sh, sw],
        });
        this.finishAct(fused, pre, out);
        this.nchw.add(out);
        return;
      }
      case 'MAX_POOL_2D':
      case 'AVERAGE_POOL_2D': {
        const x = this.in(op, 0);
        const xs = this.t(x).shape;
        // Pool2DOptions: padding 0, stride_w 1, stride_h 2, filter_width 3, filter_height 4, fused 5.
        const padding = o?.int8(0) ?? 0;
        const sw = o?.int32(1, 1) ?? 1;
        const sh = o?.int32(2, 1) ?? 1;
        const fw = o?.int32(3, 1) ?? 1;
        const fh = o?.int32(4, 1) ?? 1;
        const fused = o?.int8(5) ?? 0;
        let pads = [0, 0, 0, 0];
        if (padding === 0) {
          const [pt, pb] = samePads(xs[1] ?? 0, fh, sh, 1);
          const [pl, pr] = samePads(xs[2] ?? 0, fw, sw, 1);
          pads = [pt, pl, pb, pr];
        }
        if (op.opName === 'AVERAGE_POOL_2D' && pads.some((p) => p !== 0)) {
          throw new Error('tflite2onnx: padded AVERAGE_POOL_2D not supported');
        }
        const pre = this.preAct(fused, out);
        this.node(op.opName === 'MAX_POOL_2D' ? 'MaxPool' : 'AveragePool', [this.nameOf(x)], [pre], {
          kernel_shape: [fh, fw],
          pads,
          strides: [sh, sw],
        });
        this.finishAct(fused, pre, out);
        this.nchw.add(out);
        return;
      }
      case 'PRELU': {
        const x = this.in(op, 0);
        const a = this.constOf(this.in(op, 1));
        if (!this.nchw.has(x)) throw new Error('tflite2onnx: PRELU on a non-4-D tensor not supported');
        // Alpha [1,1,C] (NHWC broadcast) -> [C,1,1] (NCHW broadcast).
        const c = a.shape[a.shape.length - 1] ?? 1;
        if (a.data.length !== c) throw new Error('tflite2onnx: PRELU alpha must be per-channel');
        const alpha = this.initFloat(`${this.t(this.in(op, 1)).name}_c11`, [c, 1, 1], Float32Array.from(a.data));
        this.node('PRelu', [this.nameOf(x), alpha], [this.outName(out)]);
        this.nchw.add(out);
        return;
      }
      case 'RELU':
      case 'RELU6':
      case 'LOGISTIC':
      case 'TANH': {
        const x = this.in(op, 0);
        const onnxOp = { RELU: 'Relu', RELU6: 'Clip', LOGISTIC: 'Sigmoid', TANH: 'Tanh' }[op.opName] ?? 'Relu';
        const ins = [this.nameOf(x)];
        if (op.opName === 'RELU6') ins.push(this.scalar(0), this.scalar(6));
        this.node(onnxOp, ins, [this.outName(out)]);
        if (this.nchw.has(x)) this.nchw.add(out);
        return;
      }
      case 'ADD':
      case 'MUL':
      case 'SUB': {
        const a = this.in(op, 0);
        const b = this.in(op, 1);
        if (this.isConst(a) || this.isConst(b)) throw new Error(`tflite2onnx: ${op.opName} with a constant operand`);
        // AddOptions / MulOptions / SubOptions: fused_activation_function 0.
        const fused = o?.int8(0) ?? 0;
        let an = this.nameOf(a);
        let bn = this.nameOf(b);
        if (this.nchw.has(a) !== this.nchw.has(b)) {
          an = this.asNhwc(a);
          bn = this.asNhwc(b);
        } else if (this.nchw.has(a)) {
          this.nchw.add(out);
        }
        const pre = this.preAct(fused, out);
        this.node({ ADD: 'Add', MUL: 'Mul', SUB: 'Sub' }[op.opName] ?? 'Add', [an, bn], [pre]);
        this.finishAct(fused, pre, out);
        return;
      }
      case 'PAD': {
        const x = this.in(op, 0);
        const p = this.constOf(this.in(op, 1)); // [rank, 2] (before, after) in NHWC order
        const rank = p.shape[0] ?? 0;
        const begin: number[] = [];
        const end: number[] = [];
        const isNchw = this.nchw.has(x);
        for (let k = 0; k < rank; k++) {
          const src = isNchw ? ([0, 3, 1, 2][k] ?? k) : k;
          begin.push(p.data[src * 2] ?? 0);
          end.push(p.data[src * 2 + 1] ?? 0);
        }
        const pads = this.initInt64(this.fresh(`${this.t(x).name}_pads`), [...begin, ...end]);
        this.node('Pad', [this.nameOf(x), pads, this.scalar(0)], [this.outName(out)], { mode: 'constant' });
        if (isNchw) this.nchw.add(out);
        return;
      }
      case 'RESHAPE': {
        const x = this.in(op, 0);
        const target = this.t(out).shape;
        const shape = this.initInt64(this.fresh(`${this.t(out).name}_shape`), target);
        this.node('Reshape', [this.asNhwc(x), shape], [this.outName(out)]);
        return;
      }
      case 'CONCATENATION': {
        // ConcatenationOptions: axis 0, fused 1.
        let axis = o?.int32(0) ?? 0;
        const fused = o?.int8(1) ?? 0;
        const ins = op.inputs.map((i) => i);
        const allNchw = ins.every((i) => this.nchw.has(i));
        const rank = this.t(out).shape.length;
        if (axis < 0) axis += rank;
        let names: string[];
        if (allNchw && rank === 4) {
          axis = NHWC_TO_NCHW_AXIS[axis] ?? axis;
          names = ins.map((i) => this.nameOf(i));
          this.nchw.add(out);
        } else {
          names = ins.map((i) => this.asNhwc(i));
        }
        const pre = this.preAct(fused, out);
        this.node('Concat', names, [pre], { axis });
        this.finishAct(fused, pre, out);
        return;
      }
      default:
        throw new Error(`tflite2onnx: operator ${op.opName} (code ${op.code}) not supported`);
    }
  }
}
