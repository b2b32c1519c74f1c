/**
 * Test fixtures for the geometry tests: a plausible face made from MediaPipe's canonical face mesh placed in a box,
 * and frames decoded from the shared clips with ffmpeg.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { VideoFrame } from '../../src/pipeline/media.ts';
import type { FaceObservation } from '../../src/pipeline/face/types.ts';
import { canonicalFace } from '../../src/pipeline/face/geometry/index.ts';

export const CLIPS_DIR = process.env.LIPSYNC_CLIPS_DIR ?? join(import.meta.dirname, '../../../shared/clips');

/**
 * A frontal 468-point face: the canonical mesh (x right, y up, cm) scaled so that its width spans `width` pixels and
 * centred at (cx, cy). Lips close a bit less than real; good enough for geometry, not for landmark accuracy.
 */
export function syntheticFace(cx: number, cy: number, width: number): FaceObservation {
  const { positions } = canonicalFace();
  let x0 = Infinity;
  let x1 = -Infinity;
  let y0 = Infinity;
  let y1 = -Infinity;
  for (let i = 0; i < 468; i++) {
    x0 = Math.min(x0, positions[i * 3]!);
    x1 = Math.max(x1, positions[i * 3]!);
    y0 = Math.min(y0, positions[i * 3 + 1]!);
    y1 = Math.max(y1, positions[i * 3 + 1]!);
  }
  const s = width / (x1 - x0);
  const mx = (x0 + x1) / 2;
  const my = (y0 + y1) / 2;
  const landmarks = new Float32Array(468 * 3);
  for (let i = 0; i < 468; i++) {
    landmarks[i * 3] = cx + (positions[i * 3]! - mx) * s;
    landmarks[i * 3 + 1] = cy - (positions[i * 3 + 1]! - my) * s;
    landmarks[i * 3 + 2] = positions[i * 3 + 2]! * s;
  }
  const h = (y1 - y0) * s;
  return {
    landmarks,
    pointCount: 468,
    score: 1,
    box: { x: cx - width / 2, y: cy - h / 2, width, height: h },
    pose: { yawDeg: 0, pitchDeg: 0, rollDeg: 0 },
    detected: true,
  };
}

/** Decodes frame `index` of a clip to a VideoFrame (`rgb24` or `i420`), optionally scaled, through ffmpeg. */
export function decodeClipFrame(
  clip: string,
  format: 'rgb24' | 'i420',
  index = 10,
  size?: { width: number; height: number },
): VideoFrame | undefined {
  const path = join(CLIPS_DIR, clip);
  if (!existsSync(path)) return undefined;
  const probe = execFileSync('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-show_entries',
    'stream=width,height',
    '-of',
    'csv=p=0',
    path,
  ])
    .toString()
    .trim()
    .split(',')
    .map(Number);
  const width = size?.width ?? probe[0]!;
  const height = size?.height ?? probe[1]!;
  const filters = [`select=eq(n\\,${index})`];
  if (size) filters.push(`scale=${width}:${height}`);
  const data = execFileSync(
    'ffmpeg',
    [
      '-v',
      'error',
      '-i',
      path,
      '-vf',
      filters.join(','),
      '-frames:v',
      '1',
      '-pix_fmt',
      format === 'i420' ? 'yuv420p' : 'rgb24',
      '-f',
      'rawvideo',
      '-',
    ],
    { maxBuffer: 64 << 20 },
  );
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), format, width, height, timestampUs: 0 };
}

/** PSNR in dB between two byte arrays (Infinity when equal). */
export function psnr(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error('psnr: length mismatch');
  let se = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    se += d * d;
  }
  return se === 0 ? Infinity : 10 * Math.log10((255 * 255 * a.length) / se);
}
