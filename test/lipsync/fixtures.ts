/** Synthetic faces for engine tests: MediaPipe's canonical face projected into a frame, with a controllable mouth. */
import { canonicalFace } from '../../src/pipeline/face/geometry/mediapipeTopology.ts';
import type { FaceResult } from '../../src/pipeline/face/types.ts';
import type { VideoFrame } from '../../src/pipeline/media.ts';
import { INNER_LIP_PAIRS } from '../../src/pipeline/lipsync/shape.ts';

/** (x, y) mesh of 468 points: canonical face, `pxPerCm` scale, centred at (cx, cy); `open` lowers the lower lip. */
export function syntheticMesh(open = 0, cx = 128, cy = 120, pxPerCm = 12): Float32Array {
  const pos = canonicalFace().positions;
  const out = new Float32Array(468 * 2);
  const lower = new Set(INNER_LIP_PAIRS.map(([, l]) => l));
  for (const l of [14, 87, 178, 88, 95, 317, 402, 318, 324, 17, 84, 181, 91, 146, 314, 405, 321, 375]) lower.add(l);
  for (let i = 0; i < 468; i++) {
    out[2 * i] = cx + pos[i * 3]! * pxPerCm;
    out[2 * i + 1] = cy - pos[i * 3 + 1]! * pxPerCm + (lower.has(i) ? open * pxPerCm : 0);
  }
  return out;
}

export function faceResult(mesh: Float32Array): FaceResult {
  const n = mesh.length / 2;
  const lm = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    lm[3 * i] = mesh[2 * i]!;
    lm[3 * i + 1] = mesh[2 * i + 1]!;
  }
  return {
    ok: true,
    face: {
      landmarks: lm,
      pointCount: 468,
      score: 1,
      box: { x: 0, y: 0, width: 10, height: 10 },
      pose: { yawDeg: 0, pitchDeg: 0, rollDeg: 0 },
      detected: false,
    },
  };
}

/** An i420 frame with a smooth pattern that depends on `seed` (so frames differ). */
export function patternFrame(w: number, h: number, seed: number, timestampUs: number): VideoFrame {
  const data = new Uint8Array(w * h * 1.5);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) data[y * w + x] = 60 + ((x * 3 + y * 2 + seed * 7) % 120);
  }
  data.fill(128, w * h);
  return { data, format: 'i420', width: w, height: h, timestampUs };
}
