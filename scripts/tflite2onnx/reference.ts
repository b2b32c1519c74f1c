/**
 * A slow, direct NHWC interpreter of the same TFLite subset, written from the TFLite op semantics and independent
 * of the ONNX conversion (no layout changes, TFLite weight layouts read as they are). Tests run both on the same
 * input to check the converter's transposes, weight permutations and padding.
 */
import { readTflite, TensorType, type TfliteModel, type TfliteTensor } from './tflite.ts';

type Arr = Float32Array;

function decode(t: TfliteTensor): Float32Array {
  const d = t.data;
  if (!d) throw new Error(`reference: ${t.name} has no data`);
  const n = t.shape.reduce((a, b) => a * b, 1);
  const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (t.type === TensorType.FLOAT32) out[i] = dv.getFloat32(i * 4, true);
    else if (t.type === TensorType.INT32) out[i] = dv.getInt32(i * 4, true);
    else if (t.type === TensorType.FLOAT16) {
      const h = dv.getUint16(i * 2, true);
      const e = (h >> 10) & 31;
      const f = h & 1023;
      const v = e === 0 ? f * 2 ** -24 : (1 + f / 1024) * 2 ** (e - 15);
      out[i] = h & 0x8000 ? -v : v;
    } else throw new Error(`reference: type ${t.type}`);
  }
  return out;
}

function act(v: number, fused: number): number {
  if (fused === 1) return v > 0 ? v : 0;
  if (fused === 3) return v < 0 ? 0 : v > 6 ? 6 : v;
  return v;
}

/** Runs the model on NHWC float input(s); returns every graph output (flat, TFLite layout). */
export function runReference(file: Uint8Array, inputs: Float32Array[]): Float32Array[] {
  const m: TfliteModel = readTflite(file);
  const val = new Map<number, Arr>();
  m.inputs.forEach((i, k) => {
    const x = inputs[k];
    if (!x) throw new Error('reference: missing input');
    val.set(i, x);
  });
  const get = (i: number | undefined): Arr => {
    if (i === undefined || i < 0) throw new Error('reference: bad tensor index');
    let v = val.get(i);
    if (!v) {
      const t = m.tensors[i];
      if (!t) throw new Error('reference: bad tensor');
      v = decode(t);
      val.set(i, v);
    }
    return v;
  };
  const shape = (i: number | undefined): number[] => m.tensors[i ?? -1]?.shape ?? [];
  for (const op of m.operators) {
    const o = op.options;
    const outIdx = op.outputs[0] ?? -1;
    const os = shape(outIdx);
    const size = os.reduce((a, b) => a * b, 1);
    const out = new Float32Array(size);
    switch (op.opName) {
      case 'DEQUANTIZE':
        out.set(get(op.inputs[0]));
        break;
      case 'CONV_2D':
      case 'DEPTHWISE_CONV_2D': {
        const dw = op.opName === 'DEPTHWISE_CONV_2D';
        const x = get(op.inputs[0]);
        const [, H = 0, W = 0, C = 0] = shape(op.inputs[0]);
        const w = get(op.inputs[1]);
        const [, KH = 0, KW = 0, WI = 0] = shape(op.inputs[1]);
        const b = (op.inputs[2] ?? -1) >= 0 ? get(op.inputs[2]) : null;
        const [, OH = 0, OW = 0, OC = 0] = os;
        const sw = o?.int32(1, 1) ?? 1;
        const sh = o?.int32(2, 1) ?? 1;
        const fused = (dw ? o?.int8(4) : o?.int8(3)) ?? 0;
        const same = (o?.int8(0) ?? 0) === 0;
        const padT = same ? Math.floor(Math.max((OH - 1) * sh + KH - H, 0) / 2) : 0;
        const padL = same ? Math.floor(Math.max((OW - 1) * sw + KW - W, 0) / 2) : 0;
        const mult = dw ? OC / C : 1;
        for (let y = 0; y < OH; y++)
          for (let xo = 0; xo < OW; xo++)
            for (let oc = 0; oc < OC; oc++) {
              let s = b ? (b[oc] ?? 0) : 0;
              for (let ky = 0; ky < KH; ky++) {
                const iy = y * sh + ky - padT;
                if (iy < 0 || iy >= H) continue;
                for (let kx = 0; kx < KW; kx++) {
                  const ix = xo * sw + kx - padL;
                  if (ix < 0 || ix >= W) continue;
                  const base = (iy * W + ix) * C;
                  if (dw) {
                    s += (x[base + Math.floor(oc / mult)] ?? 0) * (w[(ky * KW + kx) * OC + oc] ?? 0);
                  } else {
                    const wb = ((oc * KH + ky) * KW + kx) * WI;
                    for (let c = 0; c < C; c++) s += (x[base + c] ?? 0) * (w[wb + c] ?? 0);
                  }
                }
              }
              out[(y * OW + xo) * OC + oc] = act(s, fused);
            }
        break;
      }
      case 'MAX_POOL_2D': {
        const x = get(op.inputs[0]);
        const [, H = 0, W = 0, C = 0] = shape(op.inputs[0]);
        const [, OH = 0, OW = 0] = os;
        const sw = o?.int32(1, 1) ?? 1;
        const sh = o?.int32(2, 1) ?? 1;
        const fw = o?.int32(3, 1) ?? 1;
        const fh = o?.int32(4, 1) ?? 1;
        const same = (o?.int8(0) ?? 0) === 0;
        const padT = same ? Math.floor(Math.max((OH - 1) * sh + fh - H, 0) / 2) : 0;
        const padL = same ? Math.floor(Math.max((OW - 1) * sw + fw - W, 0) / 2) : 0;
        for (let y = 0; y < OH; y++)
          for (let xo = 0; xo < OW; xo++)
            for (let c = 0; c < C; c++) {
              let mx = -Infinity;
              for (let ky = 0; ky < fh; ky++)
                for (let kx = 0; kx < fw; kx++) {
                  const iy = y * sh + ky - padT;
                  const ix = xo * sw + kx - padL;
                  if (iy >= 0 && iy < H && ix >= 0 && ix < W) mx = Math.max(mx, x[(iy * W + ix) * C + c] ?? 0);
                }
              out[(y * OW + xo) * C + c] = mx;
            }
        break;
      }
      case 'PRELU': {
        const x = get(op.inputs[0]);
        const a = get(op.inputs[1]);
        const C = os[os.length - 1] ?? 1;
        for (let i = 0; i < size; i++) {
          const v = x[i] ?? 0;
          out[i] = v >= 0 ? v : v * (a[i % C] ?? 0);
        }
        break;
      }
      case 'RELU': {
        const x = get(op.inputs[0]);
        for (let i = 0; i < size; i++) out[i] = Math.max(0, x[i] ?? 0);
        break;
      }
      case 'ADD': {
        const a = get(op.inputs[0]);
        const b = get(op.inputs[1]);
        const fused = o?.int8(0) ?? 0;
        for (let i = 0; i < size; i++) out[i] = act((a[i] ?? 0) + (b[i] ?? 0), fused);
        break;
      }
      case 'PAD': {
        const x = get(op.inputs[0]);
        const xs = shape(op.inputs[0]);
        const p = get(op.inputs[1]);
        const [N = 1, H = 1, W = 1, C = 1] = xs;
        const [, OH = 1, OW = 1, OC = 1] = os;
        for (let n = 0; n < N; n++)
          for (let y = 0; y < H; y++)
            for (let xx = 0; xx < W; xx++)
              for (let c = 0; c < C; c++) {
                const oy = y + (p[2] ?? 0);
                const ox = xx + (p[4] ?? 0);
                const oc = c + (p[6] ?? 0);
                out[((n * OH + oy) * OW + ox) * OC + oc] = x[((n * H + y) * W + xx) * C + c] ?? 0;
              }
        break;
      }
      case 'RESHAPE':
        out.set(get(op.inputs[0]));
        break;
      case 'CONCATENATION': {
        let axis = o?.int32(0) ?? 0;
        if (axis < 0) axis += os.length;
        const outer = os.slice(0, axis).reduce((a, b) => a * b, 1);
        let off = 0;
        const outInner = os.slice(axis).reduce((a, b) => a * b, 1);
        for (const i of op.inputs) {
          const x = get(i);
          const inner = shape(i)
            .slice(axis)
            .reduce((a, b) => a * b, 1);
          for (let k = 0; k < outer; k++) out.set(x.subarray(k * inner, (k + 1) * inner), k * outInner + off);
          off += inner;
        }
        break;
      }
      default:
        throw new Error(`reference: ${op.opName} not implemented`);
    }
    val.set(outIdx, out);
  }
  return m.outputs.map((i) => get(i));
}
