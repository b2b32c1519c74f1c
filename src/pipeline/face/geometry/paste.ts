/**
 * Paste-back: a generated crop goes back into the full frame through the crop's inverse map, blended by the feathered
 * lower-face mask, after colour matching at the seam.
 *
 * Two blend modes:
 * - 'residual' (default): frame += mask * (generated' - original), where `original` is the crop that was sampled from
 *   this frame. Detail finer than the crop's resolution survives, and an unchanged crop changes no pixel at all, so
 *   paste-back costs nothing where the renderer kept the face.
 * - 'replace': frame = (1 - mask) * frame + mask * generated', IP_LAP's blend; the masked region then carries the
 *   crop's resolution (an unchanged 256 crop of the shared close-ups comes back at 46-61 dB inside the crop box, see
 *   test/face/geometryPaste.test.ts).
 * Colour matching ('meanStd', default): per RGB channel, the generated crop's mean and standard deviation over the
 * mask's feather band (0.02 < mask < 0.98, the seam) are matched to the original crop's there (gain clamped to
 * 0.8..1.25). It needs `original`; without it no matching is done. Only pixels where the mask is > 0 are written.
 */
import type { VideoFrame } from '../../media.ts';
import type { CropBox } from './crop.ts';
import { checkImage, RGB_TO_YUV, toByte, type Image } from './image.ts';

export type PasteMode = 'residual' | 'replace';
export type ColorMatch = 'meanStd' | 'none';

export interface PasteOptions {
  /** Default 'residual' when `original` is given, else 'replace'. */
  mode?: PasteMode;
  /** Default 'meanStd' (needs `original`). */
  colorMatch?: ColorMatch;
  /** Gain limits of the colour match (default [0.8, 1.25]). */
  gainRange?: readonly [number, number];
}

/** Per-call result, for logs and tests. */
export interface PasteStats {
  /** Frame pixels (luma or RGB) written. */
  pixels: number;
  /** Colour-match gain and offset per RGB channel (0..255 scale); gain 1, offset 0 when not matched. */
  gain: [number, number, number];
  offset: [number, number, number];
}

/** Pastes S x S crops into frames; holds its scratch buffers (no allocation per frame once sized). */
export class PasteBack {
  private gen = new Float32Array(0);
  private orig = new Float32Array(0);
  private colIdx = new Int32Array(0);
  private colFrac = new Float32Array(0);
  private rowIdx = new Int32Array(0);
  private rowFrac = new Float32Array(0);
  readonly stats: PasteStats = { pixels: 0, gain: [1, 1, 1], offset: [0, 0, 0] };

  /**
   * Blends `generated` (square RGB crop of `box`, bytes 0..255 or floats 0..1) into `frame` in place (`i420` or
   * `rgb24`/`rgba`), weighted by `mask` (S*S floats 0..1, e.g. from lowerFaceMask). `original` is the crop sampled
   * from this frame at the same box and size (needed by 'residual' and by colour matching).
   */
  paste(
    frame: VideoFrame,
    box: CropBox,
    generated: Image,
    mask: Float32Array,
    original?: Image,
    options: PasteOptions = {},
  ): PasteStats {
    checkImage(generated, 'PasteBack.paste generated', 3);
    const S = generated.width;
    if (generated.height !== S) throw new RangeError('PasteBack.paste: crop must be square');
    if (mask.length < S * S) throw new RangeError(`PasteBack.paste: mask has ${mask.length} values, needs ${S * S}`);
    if (original) {
      checkImage(original, 'PasteBack.paste original', 3);
      if (original.width !== S || original.height !== S) throw new RangeError('PasteBack.paste: original size differs');
    }
    const mode = options.mode ?? (original ? 'residual' : 'replace');
    if (mode === 'residual' && !original) throw new RangeError("PasteBack.paste: mode 'residual' needs the original");
    if (this.gen.length < S * S * 3) {
      this.gen = new Float32Array(S * S * 3);
      this.orig = new Float32Array(S * S * 3);
    }
    toScale255(generated, this.gen, S * S * 3);
    if (original) toScale255(original, this.orig, S * S * 3);
    const st = this.stats;
    st.pixels = 0;
    st.gain = [1, 1, 1];
    st.offset = [0, 0, 0];
    if (original && (options.colorMatch ?? 'meanStd') === 'meanStd') {
      matchColours(this.gen, this.orig, mask, S, options.gainRange ?? [0.8, 1.25], st);
    }
    const residual = mode === 'residual';
    if (residual) {
      const gen = this.gen;
      const orig = this.orig;
      for (let i = 0; i < S * S * 3; i++) gen[i] = gen[i]! - orig[i]!;
    }
    if (frame.format === 'i420') {
      const W = frame.width;
      const H = frame.height;
      const cw = (W + 1) >> 1;
      const ch = (H + 1) >> 1;
      const y = frame.data.subarray(0, W * H);
      const u = frame.data.subarray(W * H, W * H + cw * ch);
      const v = frame.data.subarray(W * H + cw * ch, W * H + 2 * cw * ch);
      st.pixels = this.blendPlanes(box, S, W, H, 1, mask, residual, 'y', y, y, 1);
      this.blendPlanes(box, S, cw, ch, 2, mask, residual, 'uv', u, v, 1);
    } else {
      const C = frame.format === 'rgba' ? 4 : 3;
      const d = frame.data;
      st.pixels = this.blendPlanes(box, S, frame.width, frame.height, 1, mask, residual, 'rgb', d, d, C);
    }
    return st;
  }

  /**
   * Blends into planes of `w` x `h` samples, each covering `sub` x `sub` frame pixels: packed RGB(A) with `C` values
   * per pixel ('rgb', p0), a luma plane ('y', p0) or both chroma planes ('uv', p0 = U, p1 = V). One specialised loop
   * per kind: a generic per-plane loop was 4x slower.
   */
  private blendPlanes(
    box: CropBox,
    S: number,
    w: number,
    h: number,
    sub: number,
    mask: Float32Array,
    residual: boolean,
    kind: 'rgb' | 'y' | 'uv',
    p0: Uint8Array,
    p1: Uint8Array,
    C: number,
  ): number {
    const { yr, yg, yb, ur, ug, ub, vr, vg, vb } = RGB_TO_YUV;
    const k = S / box.size; // crop pixels per frame pixel
    // Sample range whose centres fall inside the box.
    const x0 = Math.max(0, Math.ceil(box.x / sub - 0.5));
    const x1 = Math.min(w - 1, Math.floor((box.x + box.size) / sub - 0.5));
    const y0 = Math.max(0, Math.ceil(box.y / sub - 0.5));
    const y1 = Math.min(h - 1, Math.floor((box.y + box.size) / sub - 0.5));
    if (x0 > x1 || y0 > y1) return 0;
    this.axis(x0, x1, box.x, k, sub, S, 'col');
    this.axis(y0, y1, box.y, k, sub, S, 'row');
    // `gen` holds generated' (replace) or generated' - original (residual), see paste().
    const gen = this.gen;
    let written = 0;
    const rowIdx = this.rowIdx;
    const rowFrac = this.rowFrac;
    const colIdx = this.colIdx;
    const colFrac = this.colFrac;
    for (let yy = y0; yy <= y1; yy++) {
      const ri = rowIdx[yy - y0]!;
      const fy = rowFrac[yy - y0]!;
      const r0 = ri * S;
      const r1 = fy > 0 ? r0 + S : r0;
      for (let xx = x0; xx <= x1; xx++) {
        const ci = colIdx[xx - x0]!;
        const fx = colFrac[xx - x0]!;
        const i00 = r0 + ci;
        const i01 = fx > 0 ? i00 + 1 : i00;
        const i10 = r1 + ci;
        const i11 = fx > 0 ? i10 + 1 : i10;
        const mt = mask[i00]! + (mask[i01]! - mask[i00]!) * fx;
        const mb = mask[i10]! + (mask[i11]! - mask[i10]!) * fx;
        const m = mt + (mb - mt) * fy;
        if (!(m > 0)) continue;
        written++;
        const a = i00 * 3;
        const b = i01 * 3;
        const c = i10 * 3;
        const d = i11 * 3;
        const rt = gen[a]! + (gen[b]! - gen[a]!) * fx;
        const gt = gen[a + 1]! + (gen[b + 1]! - gen[a + 1]!) * fx;
        const bt = gen[a + 2]! + (gen[b + 2]! - gen[a + 2]!) * fx;
        const r = rt + (gen[c]! + (gen[d]! - gen[c]!) * fx - rt) * fy;
        const g = gt + (gen[c + 1]! + (gen[d + 1]! - gen[c + 1]!) * fx - gt) * fy;
        const b2 = bt + (gen[c + 2]! + (gen[d + 2]! - gen[c + 2]!) * fx - bt) * fy;
        if (kind === 'y') {
          const old = p0[yy * w + xx]!;
          const lin = yr * r + yg * g + yb * b2;
          p0[yy * w + xx] = toByte(residual ? old + m * lin : old + m * (lin + 16 - old));
        } else if (kind === 'uv') {
          const at = yy * w + xx;
          const ou = p0[at]!;
          const ov = p1[at]!;
          const lu = ur * r + ug * g + ub * b2;
          const lv = vr * r + vg * g + vb * b2;
          p0[at] = toByte(residual ? ou + m * lu : ou + m * (lu + 128 - ou));
          p1[at] = toByte(residual ? ov + m * lv : ov + m * (lv + 128 - ov));
        } else {
          const at = (yy * w + xx) * C;
          const o0 = p0[at]!;
          const o1 = p0[at + 1]!;
          const o2 = p0[at + 2]!;
          p0[at] = toByte(residual ? o0 + m * r : o0 + m * (r - o0));
          p0[at + 1] = toByte(residual ? o1 + m * g : o1 + m * (g - o1));
          p0[at + 2] = toByte(residual ? o2 + m * b2 : o2 + m * (b2 - o2));
        }
      }
    }
    return written;
  }

  /** Crop sample index and fraction for samples from..to of a plane axis (centres at (s + 0.5) * sub frame px). */
  private axis(
    from: number,
    to: number,
    origin: number,
    k: number,
    sub: number,
    S: number,
    which: 'col' | 'row',
  ): void {
    const n = to - from + 1;
    if (which === 'col' && this.colIdx.length < n) {
      this.colIdx = new Int32Array(n);
      this.colFrac = new Float32Array(n);
    }
    if (which === 'row' && this.rowIdx.length < n) {
      this.rowIdx = new Int32Array(n);
      this.rowFrac = new Float32Array(n);
    }
    const idx = which === 'col' ? this.colIdx : this.rowIdx;
    const frac = which === 'col' ? this.colFrac : this.rowFrac;
    for (let s = 0; s < n; s++) {
      let p = ((from + s + 0.5) * sub - origin) * k - 0.5;
      if (p < 0) p = 0;
      if (p > S - 1) p = S - 1;
      let i = Math.floor(p);
      if (i > S - 2) i = Math.max(0, S - 2);
      idx[s] = i;
      frac[s] = p - i;
    }
  }
}

function toScale255(img: Image, out: Float32Array, n: number): void {
  const d = img.data;
  if (d instanceof Float32Array) for (let i = 0; i < n; i++) out[i] = d[i]! * 255;
  else out.set(d.subarray(0, n));
}

/** Mean/std match of `gen` to `orig` over the mask's feather band, in place on `gen`. */
function matchColours(
  gen: Float32Array,
  orig: Float32Array,
  mask: Float32Array,
  S: number,
  [gmin, gmax]: readonly [number, number],
  st: PasteStats,
): void {
  const sg = [0, 0, 0];
  const sg2 = [0, 0, 0];
  const so = [0, 0, 0];
  const so2 = [0, 0, 0];
  let n = 0;
  for (let i = 0; i < S * S; i++) {
    const m = mask[i]!;
    if (m <= 0.02 || m >= 0.98) continue;
    n++;
    for (let c = 0; c < 3; c++) {
      const g = gen[i * 3 + c]!;
      const o = orig[i * 3 + c]!;
      sg[c]! += g;
      sg2[c]! += g * g;
      so[c]! += o;
      so2[c]! += o * o;
    }
  }
  if (n < 16) return; // no seam to measure
  for (let c = 0; c < 3; c++) {
    const mg = sg[c]! / n;
    const mo = so[c]! / n;
    const dg = Math.sqrt(Math.max(0, sg2[c]! / n - mg * mg));
    const dO = Math.sqrt(Math.max(0, so2[c]! / n - mo * mo));
    let gain = dg > 1e-3 ? dO / dg : 1;
    gain = Math.min(gmax, Math.max(gmin, gain));
    const offset = mo - mg * gain;
    st.gain[c] = gain;
    st.offset[c] = offset;
    if (gain === 1 && offset === 0) continue;
    for (let i = c; i < S * S * 3; i += 3) gen[i] = gen[i]! * gain + offset;
  }
}
