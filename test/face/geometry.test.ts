import { describe, expect, it } from 'vitest';
import {
  computeCropBox,
  cropToFrame,
  CropSampler,
  createImage,
  extractSubset131,
  FACEMESH,
  frameToCrop,
  LOWER_FACE_CONTOUR,
  RGB_TO_YUV,
  SUBSET131,
  SUBSET_EDGES,
  SUBSET_RANGES,
  subset131FromMesh,
  subsetPosition,
} from '../../src/pipeline/face/geometry/index.ts';
import type { VideoFrame } from '../../src/pipeline/media.ts';
import { JAW_INDICES, LIP_INDICES } from '../../src/pipeline/lipsync/types.ts';
import { syntheticFace } from './geometryFixtures.ts';

describe('subset131', () => {
  it('holds 131 distinct FaceMesh indices in range, 74 pose / 40 lips / 17 jaw', () => {
    expect(SUBSET131.length).toBe(131);
    expect(new Set(SUBSET131).size).toBe(131);
    for (const i of SUBSET131) expect(i).toBeLessThan(468);
    const { POSE, LIPS, JAW } = SUBSET_RANGES;
    expect([POSE.end - POSE.start, LIPS.end - LIPS.start, JAW.end - JAW.start]).toEqual([74, 40, 17]);
    expect([POSE.start, POSE.end, LIPS.end, JAW.end]).toEqual([0, LIPS.start, JAW.start, 131]);
  });

  it('places every FACEMESH_LIPS index in LIPS and the listed jaw points in JAW', () => {
    const lips = new Set(FACEMESH.lips.flat());
    const { LIPS, JAW, LEFT_EYE, RIGHT_EYE, LEFT_EYEBROW, RIGHT_EYEBROW, NOSE, OVAL_POSE } = SUBSET_RANGES;
    expect(new Set(SUBSET131.subarray(LIPS.start, LIPS.end))).toEqual(lips);
    expect(Array.from(SUBSET131.subarray(JAW.start, JAW.end))).toEqual([
      58, 132, 136, 148, 149, 150, 152, 172, 176, 288, 361, 365, 377, 378, 379, 397, 400,
    ]);
    const sizes = [LEFT_EYE, RIGHT_EYE, LEFT_EYEBROW, RIGHT_EYEBROW, NOSE, OVAL_POSE].map((r) => r.end - r.start);
    expect(sizes).toEqual([16, 16, 10, 10, 14, 8]);
    expect(subsetPosition(0)).toBeGreaterThanOrEqual(LIPS.start);
    expect(subsetPosition(10)).toBe(-1); // forehead top is not in the subset
  });

  it("matches the lip-sync engine's content order (LIP_INDICES then JAW_INDICES)", () => {
    const { CONTENT } = SUBSET_RANGES;
    expect(Array.from(SUBSET131.subarray(CONTENT.start, CONTENT.end))).toEqual([...LIP_INDICES, ...JAW_INDICES]);
  });

  it('lists sketch edges between subset positions only', () => {
    expect(SUBSET_EDGES.lips.length / 2).toBe(40);
    expect(SUBSET_EDGES.nose.length / 2).toBe(13);
    expect(SUBSET_EDGES.oval.length / 2).toBe(24);
    for (const p of SUBSET_EDGES.all) expect(p).toBeLessThan(131);
    expect(LOWER_FACE_CONTOUR.length).toBe(21);
  });

  it('extracts the 131 points from an observation', () => {
    const face = syntheticFace(320, 240, 200);
    const pts = extractSubset131(face);
    const k = subsetPosition(152);
    expect(pts[k * 2]).toBeCloseTo(face.landmarks[152 * 3]!, 5);
    expect(pts[k * 2 + 1]).toBeCloseTo(face.landmarks[152 * 3 + 1]!, 5);
    const xy = new Float32Array(468 * 2);
    for (let i = 0; i < 468; i++) xy.set(face.landmarks.subarray(i * 3, i * 3 + 2), i * 2);
    expect(subset131FromMesh(xy)).toEqual(pts);
    expect(() => subset131FromMesh(xy.subarray(0, 100))).toThrow(RangeError);
  });
});

describe('crop', () => {
  const face = syntheticFace(300, 260, 180);
  const pts = extractSubset131(face);

  it('builds a square box around the points with the margin', () => {
    const box = computeCropBox(pts);
    let minX = Infinity;
    let maxX = -Infinity;
    for (let i = 0; i < 131; i++) {
      minX = Math.min(minX, pts[i * 2]!);
      maxX = Math.max(maxX, pts[i * 2]!);
    }
    expect(box.x).toBeLessThanOrEqual(minX - 25 + 1e-3);
    expect(box.x + box.size).toBeGreaterThanOrEqual(maxX + 25 - 1e-3);
    const frac = computeCropBox(pts, { margin: { fraction: 0.1 } });
    expect(frac.size).toBeGreaterThan(box.size - 50);
  });

  it('round-trips points frame -> crop -> frame within 0.5 px', () => {
    const box = computeCropBox(pts);
    const norm = frameToCrop(box, pts);
    for (const v of norm) {
      expect(v).toBeGreaterThan(0);
      expect(v).toBeLessThan(1);
    }
    const back = cropToFrame(box, norm);
    let worst = 0;
    for (let i = 0; i < pts.length; i++) worst = Math.max(worst, Math.abs(back[i]! - pts[i]!));
    expect(worst).toBeLessThan(0.5);
    // Through 256-pixel crop indices and back: still well within half a frame pixel.
    let worstPx = 0;
    for (let i = 0; i < pts.length; i++) {
      const k = Math.round(norm[i]! * 256 * 16) / 16 / 256; // 1/16 crop pixel quantisation
      const f = i % 2 === 0 ? box.x + k * box.size : box.y + k * box.size;
      worstPx = Math.max(worstPx, Math.abs(f - pts[i]!));
    }
    expect(worstPx).toBeLessThan(0.5);
  });

  it('samples identical crops from rgb24, rgba and i420 frames of a flat colour', () => {
    const W = 64;
    const H = 48;
    const rgb = new Uint8Array(W * H * 3);
    const rgba = new Uint8Array(W * H * 4);
    for (let i = 0; i < W * H; i++) {
      rgb.set([200, 100, 50], i * 3);
      rgba.set([200, 100, 50, 255], i * 4);
    }
    // BT.601 limited range of (200, 100, 50): Y 122.7, U 91.2, V 175.5
    const k = RGB_TO_YUV;
    const i420 = new Uint8Array(W * H * 1.5);
    i420.fill(Math.round(16 + k.yr * 200 + k.yg * 100 + k.yb * 50), 0, W * H);
    i420.fill(Math.round(128 + k.ur * 200 + k.ug * 100 + k.ub * 50), W * H, W * H * 1.25);
    i420.fill(Math.round(128 + k.vr * 200 + k.vg * 100 + k.vb * 50), W * H * 1.25);
    expect(Array.from(i420.subarray(W * H - 1, W * H + 1))).toEqual([123, 91]);
    const box = { x: 10, y: 5, size: 30 };
    const sampler = new CropSampler();
    const frames: VideoFrame[] = [
      { data: rgb, format: 'rgb24', width: W, height: H, timestampUs: 0 },
      { data: rgba, format: 'rgba', width: W, height: H, timestampUs: 0 },
      { data: i420, format: 'i420', width: W, height: H, timestampUs: 0 },
    ];
    for (const frame of frames) {
      const out = createImage(16, 16);
      sampler.sample(frame, box, out);
      for (let i = 0; i < 16 * 16; i++) {
        expect(Math.abs(out.data[i * 3]! - 200)).toBeLessThanOrEqual(2);
        expect(Math.abs(out.data[i * 3 + 1]! - 100)).toBeLessThanOrEqual(2);
        expect(Math.abs(out.data[i * 3 + 2]! - 50)).toBeLessThanOrEqual(2);
      }
    }
  });

  it('samples a gradient at the mapped positions (bilinear, float output)', () => {
    const W = 100;
    const H = 80;
    const data = new Uint8Array(W * H * 3);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) data.set([x * 2, y * 3, 0], (y * W + x) * 3);
    const frame: VideoFrame = { data, format: 'rgb24', width: W, height: H, timestampUs: 0 };
    const box = { x: 20, y: 10, size: 32 };
    const out = createImage(32, 32, 3, 'f32');
    new CropSampler().sample(frame, box, out);
    // A box 3x the crop averages 3x3 taps per pixel (antialiasing): a linear ramp keeps its centre value.
    const wide = createImage(8, 8);
    new CropSampler().sample(frame, { x: 10, y: 10, size: 24 }, wide);
    expect(wide.data[(4 * 8 + 4) * 3]).toBe(Math.round(2 * (10 + 4 * 3 + 1.5 - 0.5)));
    // Crop pixel k centre -> frame x = 20 + k + 0.5 -> pixel-centre index 20 + k -> value 2 * (20 + k).
    for (const k of [0, 7, 31]) {
      expect(out.data[(5 * 32 + k) * 3]! * 255).toBeCloseTo(2 * (20 + k), 3);
      expect(out.data[(k * 32 + 5) * 3 + 1]! * 255).toBeCloseTo(3 * (10 + k), 3);
    }
  });
});
