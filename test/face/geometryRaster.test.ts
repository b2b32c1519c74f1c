import { describe, expect, it } from 'vitest';
import {
  computeCropBox,
  createImage,
  delaunay,
  drawSketch,
  extractSubset131,
  FACE_MESH_POINT_COUNT,
  faceMeshPoints,
  faceTriangulation,
  frameToCrop,
  lowerFaceMask,
  maskLowerHalf,
  SUBSET_EDGES,
  subsetPosition,
  warpPiecewiseAffine,
  type Image,
} from '../../src/pipeline/face/geometry/index.ts';
import { syntheticFace } from './geometryFixtures.ts';

const face = syntheticFace(320, 240, 220);
const frame131 = extractSubset131(face);
const box = computeCropBox(frame131);
const norm = frameToCrop(box, frame131);

/** Distance from (px, py) to the segment (ax, ay)-(bx, by). */
function segDist(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const l2 = dx * dx + dy * dy;
  const t = l2 === 0 ? 0 : Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / l2));
  return Math.hypot(px - ax - t * dx, py - ay - t * dy);
}

describe('lower-half mask', () => {
  it('blanks exactly rows S/2..S-1', () => {
    const img = createImage(128, 128);
    img.data.fill(200);
    maskLowerHalf(img);
    for (let y = 0; y < 128; y++) {
      for (let x = 0; x < 128; x += 17) {
        expect(img.data[(y * 128 + x) * 3 + 1]).toBe(y < 64 ? 200 : 0);
      }
    }
    const odd = createImage(5, 5, 1, 'f32');
    odd.data.fill(1);
    maskLowerHalf(odd, 0.5);
    expect(Array.from(odd.data.subarray(0, 10))).toEqual(new Array<number>(10).fill(1));
    expect(Array.from(odd.data.subarray(10))).toEqual(new Array<number>(15).fill(0.5));
  });

  it('builds a feathered lower-face mask: 1 on the mouth, 0 on the eyes and far corners', () => {
    const S = 256;
    const mask = lowerFaceMask(norm, S, new Float32Array(S * S));
    const at = (mesh: number): number => {
      const p = subsetPosition(mesh);
      return mask[Math.floor(norm[p * 2 + 1]! * S) * S + Math.floor(norm[p * 2]! * S)]!;
    };
    expect(at(13)).toBeGreaterThan(0.99); // upper inner lip
    expect(at(17)).toBeGreaterThan(0.99); // lower lip
    expect(at(33)).toBe(0); // eye corner
    expect(at(263)).toBe(0);
    expect(mask[0]).toBe(0);
    expect(mask[S * S - 1]).toBe(0);
    // Feathered: values strictly between 0 and 1 exist, and the hard mask differs.
    expect(mask.some((v) => v > 0.1 && v < 0.9)).toBe(true);
    const hard = lowerFaceMask(norm, S, new Float32Array(S * S), { featherSigma: 0 });
    expect(hard.every((v) => v === 0 || v === 1)).toBe(true);
    expect(hard.slice(0, (S / 2) * S).every((v) => v === 0)).toBe(true);
    // The default coarse build (S/4, upsampled) matches the full-resolution feathered mask closely.
    const full = lowerFaceMask(norm, S, new Float32Array(S * S), { resolutionDivisor: 1 });
    let worst = 0;
    for (let i = 0; i < S * S; i++) worst = Math.max(worst, Math.abs(full[i]! - mask[i]!));
    expect(worst).toBeLessThan(0.06);
  });
});

describe('sketch', () => {
  for (const antialias of [false, true]) {
    it(`draws on the edges and nowhere far from them (antialias ${antialias})`, () => {
      const S = 128;
      const img = drawSketch(norm, createImage(S, S, 1), { antialias });
      const edges = SUBSET_EDGES.all;
      const px = (p: number): [number, number] => [norm[p * 2]! * S - 0.5, norm[p * 2 + 1]! * S - 0.5];
      // Every edge endpoint's pixel is lit.
      for (let e = 0; e < edges.length; e++) {
        const [x, y] = px(edges[e]!);
        const v = img.data[Math.round(y) * S + Math.round(x)]!;
        expect(v).toBeGreaterThan(antialias ? 60 : 254);
      }
      // Every lit pixel is within ~1 px of some edge.
      let lit = 0;
      for (let y = 0; y < S; y++) {
        for (let x = 0; x < S; x++) {
          if (img.data[y * S + x] === 0) continue;
          lit++;
          let best = Infinity;
          for (let e = 0; e < edges.length; e += 2) {
            const [ax, ay] = px(edges[e]!);
            const [bx, by] = px(edges[e + 1]!);
            best = Math.min(best, segDist(x, y, ax, ay, bx, by));
          }
          expect(best).toBeLessThan(antialias ? 1.5 : 1.0);
        }
      }
      expect(lit).toBeGreaterThan(300);
      if (!antialias) expect(img.data.every((v) => v === 0 || v === 255)).toBe(true);
    });
  }

  it('fills 3 channels alike and clips edges leaving the crop', () => {
    const shifted = Float32Array.from(norm, (v, i) => (i % 2 === 0 ? v + 0.6 : v));
    const img = drawSketch(shifted, createImage(128, 128, 3, 'f32'));
    for (let i = 0; i < 128 * 128; i++) {
      expect(img.data[i * 3]).toBe(img.data[i * 3 + 2]);
    }
    expect(img.data.some((v) => v === 1)).toBe(true);
  });
});

describe('piecewise-affine warp', () => {
  const S = 128;
  const tris = faceTriangulation();
  const mesh = faceMeshPoints(norm);
  const pixels = Float32Array.from(mesh, (v) => v * S);

  function texture(channels: number): Image {
    const img = createImage(S, S, channels);
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        for (let c = 0; c < channels; c++) img.data[(y * S + x) * channels + c] = (x * 7 + y * 13 + c * 50) ^ (x * y);
      }
    }
    return img;
  }

  it('triangulates the 131 points + border anchors into a mesh covering the crop', () => {
    expect(tris.length % 3).toBe(0);
    expect(tris.length / 3).toBeGreaterThan(200);
    for (const i of tris) expect(i).toBeLessThan(FACE_MESH_POINT_COUNT);
    // Euler: a triangulation of n points with h on the hull has 2n - h - 2 triangles (hull = 16 anchors).
    expect(tris.length / 3).toBe(2 * FACE_MESH_POINT_COUNT - 16 - 2);
    expect(delaunay([0, 0, 1, 0, 0, 1, 1, 1]).length).toBe(6);
  });

  it('reproduces the image exactly with identical source and destination points', () => {
    for (const channels of [1, 3]) {
      const src = texture(channels);
      const dst = createImage(S, S, channels);
      dst.data.fill(7);
      warpPiecewiseAffine(src, dst, pixels, pixels, tris);
      let diff = 0;
      for (let i = 0; i < src.data.length; i++) diff = Math.max(diff, Math.abs(src.data[i]! - dst.data[i]!));
      expect(diff).toBe(0);
    }
  });

  it('moves a known feature by the expected amount', () => {
    // A bright dot on the lower lip; the destination moves the lower lip and jaw 6 px down, the rest stays.
    const src = createImage(S, S, 1, 'f32');
    const p = subsetPosition(17);
    const fx = Math.floor(pixels[p * 2]!);
    const fy = Math.floor(pixels[p * 2 + 1]!);
    src.data[fy * S + fx] = 1;
    const dstPts = Float32Array.from(pixels);
    for (const mesh of [17, 84, 314, 181, 405, 91, 321, 146, 375, 16, 15, 85, 315]) {
      const k = subsetPosition(mesh);
      dstPts[k * 2 + 1]! += 6;
    }
    const dst = createImage(S, S, 1, 'f32');
    warpPiecewiseAffine(src, dst, pixels, dstPts, tris);
    // Centroid of the warped dot.
    let sx = 0;
    let sy = 0;
    let sw = 0;
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const v = dst.data[y * S + x]!;
        sx += v * x;
        sy += v * y;
        sw += v;
      }
    }
    expect(sw).toBeGreaterThan(0.5);
    expect(sx / sw).toBeCloseTo(fx, 0);
    expect(sy / sw - fy).toBeGreaterThan(5.3);
    expect(sy / sw - fy).toBeLessThan(6.7);
    // A whole-mesh translation (in normalised units) moves an eye corner feature by exactly that.
    const shifted = Float32Array.from(mesh, (v, i) => (i % 2 === 0 ? v + 3 / S : v - 2 / S));
    const img = texture(1);
    const out = createImage(S, S, 1);
    warpPiecewiseAffine(img, out, mesh, shifted, tris, { normalised: true });
    for (const [x, y] of [
      [40, 40],
      [70, 90],
      [100, 60],
    ] as const) {
      expect(out.data[(y - 2) * S + x + 3]).toBe(img.data[y * S + x]);
    }
  });
});
