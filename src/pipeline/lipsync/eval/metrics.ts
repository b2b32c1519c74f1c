/** Figures of the reconstruction evaluation, from tracked meshes and frames. */
import type { VideoFrame } from '../../media.ts';
import { LIP_INDICES } from '../types.ts';
import { fitSimilarity, interocular, STABLE_INDICES } from '../shape.ts';

export function pearson(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  if (n < 3) return NaN;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i]! - ma;
    const y = b[i]! - mb;
    sab += x * y;
    saa += x * x;
    sbb += y * y;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : NaN;
}

/**
 * Lag (ms) at which gen best correlates with real, searched within +-maxMs: gen[i + lag] vs real[i]. Positive: the
 * generated mouth lags the real one.
 */
/**
 * Correlation of real[i] with gen[i + lag] over real's indices from..to where both are known (gen lagging by `lag`
 * frames when positive).
 */
export function corrAtLag(
  real: readonly (number | null | undefined)[],
  gen: readonly (number | null | undefined)[],
  lag: number,
  from = 0,
  to = real.length,
): number {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = from; i < to; i++) {
    const r = real[i];
    const g = gen[i + lag];
    if (r == null || g == null) continue;
    a.push(r);
    b.push(g);
  }
  return pearson(a, b);
}

export function bestLagMs(real: readonly (number | null)[], gen: readonly (number | null)[], fps: number, maxMs = 200) {
  const maxLag = Math.floor((maxMs * fps) / 1000);
  let best = { lagMs: NaN, corr: -Infinity };
  for (let lag = -maxLag; lag <= maxLag; lag++) {
    const c = corrAtLag(real, gen, lag);
    if (Number.isFinite(c) && c > best.corr) best = { lagMs: (lag * 1000) / fps, corr: c };
  }
  return best;
}

/** Lip points of `gen` aligned onto `real` by a similarity fit on stable points; mean distance in real's IOD. */
export function lipDistanceIod(real: Float32Array, gen: Float32Array): number {
  const src = new Float64Array(STABLE_INDICES.length * 2);
  const dst = new Float64Array(STABLE_INDICES.length * 2);
  STABLE_INDICES.forEach((idx, i) => {
    src[2 * i] = gen[2 * idx]!;
    src[2 * i + 1] = gen[2 * idx + 1]!;
    dst[2 * i] = real[2 * idx]!;
    dst[2 * i + 1] = real[2 * idx + 1]!;
  });
  const t = fitSimilarity(src, dst, STABLE_INDICES.length);
  let s = 0;
  for (const idx of LIP_INDICES) {
    const x = gen[2 * idx]!;
    const y = gen[2 * idx + 1]!;
    const gx = t.a * x - t.b * y + t.tx;
    const gy = t.b * x + t.a * y + t.ty;
    s += Math.hypot(gx - real[2 * idx]!, gy - real[2 * idx + 1]!);
  }
  return s / LIP_INDICES.length / (interocular(real) || 1);
}

/** Box around the lower face (lips + jaw of the mesh, 10% margin), clipped to the frame. */
export function lowerFaceBox(mesh: Float32Array, width: number, height: number) {
  const idx = [...LIP_INDICES, 58, 132, 136, 148, 149, 150, 152, 172, 176, 288, 361, 365, 377, 378, 379, 397, 400];
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const i of idx) {
    x0 = Math.min(x0, mesh[2 * i]!);
    x1 = Math.max(x1, mesh[2 * i]!);
    y0 = Math.min(y0, mesh[2 * i + 1]!);
    y1 = Math.max(y1, mesh[2 * i + 1]!);
  }
  const mx = (x1 - x0) * 0.1;
  const my = (y1 - y0) * 0.1;
  return {
    x0: Math.max(0, Math.floor(x0 - mx)),
    y0: Math.max(0, Math.floor(y0 - my)),
    x1: Math.min(width, Math.ceil(x1 + mx)),
    y1: Math.min(height, Math.ceil(y1 + my)),
  };
}

/** Luma of pixel (x, y) of an i420 / rgb24 / rgba frame (BT.601 for RGB). */
function lumaAt(f: VideoFrame, x: number, y: number): number {
  if (f.format === 'i420') return f.data[y * f.width + x]!;
  const bpp = f.format === 'rgb24' ? 3 : 4;
  const i = (y * f.width + x) * bpp;
  return 0.299 * f.data[i]! + 0.587 * f.data[i + 1]! + 0.114 * f.data[i + 2]!;
}

/** PSNR (dB) and SSIM (7x7 box windows, stride 2, on luma) of a box of two frames of the same size. */
export function cropQuality(a: VideoFrame, b: VideoFrame, box: { x0: number; y0: number; x1: number; y1: number }) {
  const w = box.x1 - box.x0;
  const h = box.y1 - box.y0;
  if (w < 8 || h < 8) return { psnr: NaN, ssim: NaN };
  const A = new Float64Array(w * h);
  const B = new Float64Array(w * h);
  let se = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const va = lumaAt(a, box.x0 + x, box.y0 + y);
      const vb = lumaAt(b, box.x0 + x, box.y0 + y);
      A[y * w + x] = va;
      B[y * w + x] = vb;
      se += (va - vb) ** 2;
    }
  }
  const mse = se / (w * h);
  const psnr = mse > 0 ? 10 * Math.log10((255 * 255) / mse) : 99;
  const c1 = (0.01 * 255) ** 2;
  const c2 = (0.03 * 255) ** 2;
  let ssim = 0;
  let n = 0;
  for (let y = 0; y + 7 <= h; y += 2) {
    for (let x = 0; x + 7 <= w; x += 2) {
      let ma = 0;
      let mb = 0;
      for (let j = 0; j < 7; j++) {
        for (let i = 0; i < 7; i++) {
          ma += A[(y + j) * w + x + i]!;
          mb += B[(y + j) * w + x + i]!;
        }
      }
      ma /= 49;
      mb /= 49;
      let va = 0;
      let vb = 0;
      let cov = 0;
      for (let j = 0; j < 7; j++) {
        for (let i = 0; i < 7; i++) {
          const da = A[(y + j) * w + x + i]! - ma;
          const db = B[(y + j) * w + x + i]! - mb;
          va += da * da;
          vb += db * db;
          cov += da * db;
        }
      }
      va /= 48;
      vb /= 48;
      cov /= 48;
      ssim += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
      n++;
    }
  }
  return { psnr, ssim: n ? ssim / n : NaN };
}

/** Mean frame-to-frame motion of the lip points after removing head motion (IOD units). */
export function lipJitter(meshes: readonly (Float32Array | null)[]): number {
  let s = 0;
  let n = 0;
  for (let i = 1; i < meshes.length; i++) {
    const a = meshes[i - 1];
    const b = meshes[i];
    if (!a || !b) continue;
    s += lipDistanceIod(a, b);
    n++;
  }
  return n ? s / n : NaN;
}
