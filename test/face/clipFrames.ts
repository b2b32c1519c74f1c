/**
 * Decodes a clip's video into raw frames through the Debian ffmpeg CLI (a child process), for tests and the bench.
 * Frames are sampled (every `step`-th) and stream out one at a time, so a 1080x1920 clip never sits in memory whole.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { PixelFormat, VideoFrame } from '../../src/pipeline/media.ts';
import { frameByteLength } from '../../src/pipeline/media.ts';

export interface ClipInfo {
  width: number;
  height: number;
  fps: number;
}

export function probeClip(path: string): ClipInfo {
  const out = execFileSync(
    'ffprobe',
    [
      '-v',
      'error',
      '-select_streams',
      'v:0',
      '-show_entries',
      'stream=width,height,avg_frame_rate',
      '-of',
      'json',
      path,
    ],
    { encoding: 'utf8' },
  );
  const s = (JSON.parse(out) as { streams: { width: number; height: number; avg_frame_rate: string }[] }).streams[0];
  if (!s) throw new Error(`${path}: no video stream`);
  const [n = 25, d = 1] = s.avg_frame_rate.split('/').map(Number);
  return { width: s.width, height: s.height, fps: d ? n / d : 25 };
}

export interface ReadOptions {
  /** Keep every step-th decoded frame. Default 1. */
  step?: number;
  /** Stop after this many kept frames. */
  maxFrames?: number;
  format?: PixelFormat;
  /** ffmpeg filter applied before sampling (e.g. scale/pad to a bench size); must keep the size you pass in `size`. */
  filter?: string;
  size?: { width: number; height: number };
}

/** Yields frames with `timestampUs` from the decoded frame index and the stream's average frame rate. */
export async function* readClipFrames(
  path: string,
  opts: ReadOptions = {},
): AsyncGenerator<VideoFrame & { index: number }> {
  const info = probeClip(path);
  const { step = 1, maxFrames = Infinity, format = 'rgb24' } = opts;
  const width = opts.size?.width ?? info.width;
  const height = opts.size?.height ?? info.height;
  const pixFmt = format === 'i420' ? 'yuv420p' : format;
  const filters = [opts.filter, step > 1 ? `select=not(mod(n\\,${step}))` : undefined].filter(Boolean).join(',');
  const args = ['-loglevel', 'error', '-i', path, ...(filters ? ['-vf', filters] : []), '-fps_mode', 'passthrough'];
  args.push('-f', 'rawvideo', '-pix_fmt', pixFmt, '-');
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'ignore'] });
  const size = frameByteLength(format, width, height);
  let buf = new Uint8Array(size);
  let fill = 0;
  let n = 0;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      let off = 0;
      while (off < chunk.length) {
        const take = Math.min(size - fill, chunk.length - off);
        buf.set(chunk.subarray(off, off + take), fill);
        fill += take;
        off += take;
        if (fill === size) {
          const index = n * step;
          yield { data: buf, format, width, height, timestampUs: Math.round((index * 1e6) / info.fps), index };
          buf = new Uint8Array(size);
          fill = 0;
          if (++n >= maxFrames) return;
        }
      }
    }
  } finally {
    child.kill();
  }
}

/**
 * Copies of one frame with fresh pixel noise each time (roughly Gaussian, `sigma` levels; deterministic seed): a
 * "synthetic still" whose true motion is zero, so every landmark motion on it is tracker noise.
 */
export function* noisyStill(frame: VideoFrame, count: number, sigma = 2.5, seed = 1): Generator<VideoFrame> {
  let s = seed >>> 0;
  const rnd = (): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 4294967296;
  };
  // A table of noise values (sum of three uniforms, std 0.5 * 2 * sigma) read from a new random offset per frame.
  const table = new Float32Array(1 << 16);
  for (let i = 0; i < table.length; i++) table[i] = (rnd() + rnd() + rnd() - 1.5) * 2 * sigma;
  const mask = table.length - 1;
  for (let n = 0; n < count; n++) {
    const data = new Uint8Array(frame.data.length);
    const off = (rnd() * table.length) | 0;
    const stride = 1 + 2 * ((rnd() * 1000) | 0);
    for (let i = 0; i < data.length; i++) {
      const v = (frame.data[i] ?? 0) + (table[(off + i * stride) & mask] ?? 0);
      data[i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    yield { ...frame, data, timestampUs: frame.timestampUs + n * 40_000 };
  }
}
