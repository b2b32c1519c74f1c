/**
 * Media I/O figures (src/pipeline/io):
 * - decodeEncodeMsPerFrame: 640x480 VP8 decode + realtime VP8 encode (1 Mbit/s), one thread each, mean wall time per
 *   frame over frames of a real clip (vrt_face_2 scaled to 640x480, pre-encoded to VP8 as the input stream).
 * - passthroughPsnrDb: a 512x512 clip (sadtalker_WDA_AOC_000, decoded) through the live encoder at 1.5 Mbit/s (VP8
 *   realtime, as the transcoding processor runs it) and decoded again; mean Y-PSNR vs the decoded original.
 *   The same with x264 ultrafast/zerolatency as passthroughPsnrDb.h264.
 * - avOffsetMs: `lipsync dub` (identity stage) on a clip; from the OUTPUT file: audio lag = cross-correlation of the
 *   output audio against the input audio on the files' own presentation times; video lag = mean over output frames
 *   of (output time - time of the best-matching input frame, by MSE on a 64x64 luma thumbnail). Offset = audio lag -
 *   video lag (positive: audio late). Also the streams' start times from the container.
 */
import { Demuxer } from 'node-av';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import {
  scaleI420,
  VideoDecoder,
  VideoEncoder,
  videoCodecId,
  type EncodedChunk,
} from '../../src/pipeline/io/codecs.ts';
import { runDub } from '../../src/pipeline/io/dub.ts';
import { readAudioPcm, readVideoFrames } from '../../src/pipeline/io/mediaFile.ts';
import type { VideoFrame } from '../../src/pipeline/media.ts';
import type { BenchSection, BenchValue } from '../types.ts';

const r2 = (x: number): number => Math.round(x * 100) / 100;

async function firstFrames(path: string, n: number): Promise<VideoFrame[]> {
  const out: VideoFrame[] = [];
  for await (const f of readVideoFrames(path)) {
    out.push(f);
    if (out.length >= n) break;
  }
  return out;
}

function psnrY(a: VideoFrame, b: VideoFrame): number {
  const n = a.width * a.height;
  let se = 0;
  for (let i = 0; i < n; i++) {
    const d = a.data[i]! - b.data[i]!;
    se += d * d;
  }
  const mse = se / n;
  return mse === 0 ? 99 : 10 * Math.log10((255 * 255) / mse);
}

async function decodeEncodeMs(frames: VideoFrame[]): Promise<{ mean: number; p90: number; cpuMs: number }> {
  // The input stream: the clip at 640x480 encoded to VP8 (as a browser would send it).
  const pre = VideoEncoder.create({ codec: 'vp8', bitrateBps: 1_000_000, frameRate: 25 });
  const input: EncodedChunk[] = [];
  for (const [i, f] of frames.entries()) {
    input.push(...(await pre.encode({ ...scaleI420(f, 640, 480), timestampUs: i * 40_000 })));
  }
  pre.close();
  const dec = await VideoDecoder.create({ codecId: videoCodecId('vp8'), threadCount: 1 });
  const enc = VideoEncoder.create({ codec: 'vp8', bitrateBps: 1_000_000, frameRate: 25, threadCount: 1 });
  const times: number[] = [];
  // CPU time of the process (all threads: codec work runs on the libuv pool): less sensitive to other load.
  const cpu0 = process.cpuUsage();
  for (const c of input) {
    const t0 = performance.now();
    for (const f of await dec.decode(c.data, c.timestampUs)) await enc.encode(f);
    times.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  dec.close();
  enc.close();
  const steady = times.slice(3); // the first frames include encoder start-up
  steady.sort((a, b) => a - b);
  return {
    mean: steady.reduce((s, x) => s + x, 0) / steady.length,
    p90: steady[Math.floor(steady.length * 0.9)] ?? NaN,
    cpuMs: (cpu.user + cpu.system) / 1000 / input.length,
  };
}

async function passthroughPsnr(frames: VideoFrame[], codec: 'vp8' | 'h264'): Promise<{ psnr: number; kbps: number }> {
  const enc = VideoEncoder.create({ codec, bitrateBps: 1_500_000, frameRate: 25, threadCount: 1 });
  const dec = await VideoDecoder.create({ codecId: videoCodecId(codec) });
  const decoded: VideoFrame[] = [];
  let bytes = 0;
  for (const [i, f] of frames.entries()) {
    for (const c of await enc.encode({ ...f, timestampUs: i * 40_000 })) {
      bytes += c.data.length;
      decoded.push(...(await dec.decode(c.data, c.timestampUs)));
    }
  }
  for (const c of await enc.flush()) decoded.push(...(await dec.decode(c.data, c.timestampUs)));
  decoded.push(...(await dec.decode(null, 0)));
  enc.close();
  dec.close();
  const n = Math.min(decoded.length, frames.length);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += psnrY(frames[i]!, decoded[i]!);
  return { psnr: sum / n, kbps: (bytes * 8) / (frames.length / 25) / 1000 };
}

/** 64x64 luma thumbnail (point-sampled) for frame matching. */
function thumb(f: VideoFrame): Float32Array {
  const t = new Float32Array(64 * 64);
  for (let y = 0; y < 64; y++) {
    const sy = Math.floor(((y + 0.5) * f.height) / 64);
    for (let x = 0; x < 64; x++) t[y * 64 + x] = f.data[sy * f.width + Math.floor(((x + 0.5) * f.width) / 64)]!;
  }
  return t;
}

/** Lag (ms) of `b` against `a`, both mono PCM with absolute start times, by cross-correlation within +-maxMs. */
export function audioLagMs(
  a: { samples: Float32Array; sampleRate: number; timestampUs: number },
  b: { samples: Float32Array; sampleRate: number; timestampUs: number },
  maxMs = 200,
): number {
  const rate = a.sampleRate;
  const startOffset = Math.round(((b.timestampUs - a.timestampUs) * rate) / 1e6); // b[0] is at a[startOffset]
  const len = Math.min(a.samples.length, b.samples.length, rate * 4) - rate / 2;
  const corr = (lag: number, step: number) => {
    // b sample j (absolute a-index j + startOffset) compared with a at j + startOffset - lag
    let s = 0;
    for (let j = rate / 4; j < len; j += step) {
      const ai = j + startOffset - lag;
      if (ai < 0 || ai >= a.samples.length) continue;
      s += a.samples[ai]! * b.samples[j]!;
    }
    return s;
  };
  const max = Math.round((maxMs * rate) / 1000);
  let best = 0;
  let bestV = -Infinity;
  for (let lag = -max; lag <= max; lag += 4) {
    const v = corr(lag, 4);
    if (v > bestV) [bestV, best] = [v, lag];
  }
  const coarse = best;
  for (let lag = coarse - 4; lag <= coarse + 4; lag++) {
    const v = corr(lag, 1);
    if (v > bestV || lag === coarse - 4) [bestV, best] = [v, lag];
  }
  return (best * 1000) / rate;
}

async function streamStartsMs(path: string): Promise<{ video: number; audio: number }> {
  const d = await Demuxer.open(path);
  try {
    const s = (st: ReturnType<Demuxer['video']>) =>
      st ? (Number(st.startTime) * st.timeBase.num * 1000) / st.timeBase.den : NaN;
    return { video: s(d.video()), audio: s(d.audio()) };
  } finally {
    await d.close();
  }
}

interface AvOffset {
  offsetMs: number;
  audioLagMs: number;
  videoLagMs: number;
  videoLagMaxAbsMs: number;
  startDeltaMs: number;
}

/** Dubs `input` to `out` with the identity stage, then measures the A/V offset of `out` against `input`. */
export async function avOffset(input: string, out: string, dub = true): Promise<AvOffset> {
  if (dub) await runDub({ videoPath: input, outPath: out });
  const [inPcm, outPcm] = await Promise.all([readAudioPcm(input), readAudioPcm(out)]);
  const audioLag = audioLagMs(inPcm, outPcm);
  const inFrames: { t: number; th: Float32Array }[] = [];
  for await (const f of readVideoFrames(input)) inFrames.push({ t: f.timestampUs, th: thumb(f) });
  const lags: number[] = [];
  for await (const f of readVideoFrames(out)) {
    const th = thumb(f);
    let best = Infinity;
    let bestT = NaN;
    for (const c of inFrames) {
      if (Math.abs(c.t - f.timestampUs) > 200_000) continue;
      let se = 0;
      for (let i = 0; i < th.length; i++) se += (th[i]! - c.th[i]!) ** 2;
      if (se < best) [best, bestT] = [se, c.t];
    }
    if (Number.isFinite(bestT)) lags.push((f.timestampUs - bestT) / 1000);
  }
  const videoLag = lags.reduce((s, x) => s + x, 0) / lags.length;
  const starts = await streamStartsMs(out);
  return {
    offsetMs: audioLag - videoLag,
    audioLagMs: audioLag,
    videoLagMs: videoLag,
    videoLagMaxAbsMs: Math.max(...lags.map(Math.abs)),
    startDeltaMs: starts.audio - starts.video,
  };
}

const section: BenchSection = {
  name: 'media',
  description: 'VP8 640x480 decode+encode per frame (1 thread), 512x512 passthrough PSNR at 1.5 Mbit/s, dub A/V offset',
  async run(ctx) {
    const res: Record<string, BenchValue> = {};
    const n = ctx.quick ? 40 : 125;
    const face2 = await firstFrames(join(ctx.clipsDir, 'vrt_face_2.mp4'), n);
    const de = await decodeEncodeMs(face2);
    res['media.decodeEncodeMsPerFrame'] = r2(de.mean);
    res['media.decodeEncodeMsPerFrame.p90'] = r2(de.p90);
    res['media.decodeEncodeCpuMsPerFrame'] = r2(de.cpuMs);
    res['media.loadAverage1m'] = r2(loadavg()[0] ?? NaN);
    ctx.log(
      `VP8 640x480 decode+encode: ${de.mean.toFixed(2)} ms/frame wall (p90 ${de.p90.toFixed(2)}), ` +
        `${de.cpuMs.toFixed(2)} ms CPU, ${n} frames, load average ${loadavg()[0]?.toFixed(1)}`,
    );

    const aoc = await firstFrames(join(ctx.clipsDir, 'sadtalker_WDA_AOC_000.mp4'), ctx.quick ? 75 : 200);
    const vp8 = await passthroughPsnr(aoc, 'vp8');
    res['media.passthroughPsnrDb'] = r2(vp8.psnr);
    res['media.passthroughKbps'] = Math.round(vp8.kbps);
    const h264 = await passthroughPsnr(aoc, 'h264');
    res['media.passthroughPsnrDb.h264'] = r2(h264.psnr);
    res['media.passthroughKbps.h264'] = Math.round(h264.kbps);
    ctx.log(
      `passthrough 512x512: VP8 ${vp8.psnr.toFixed(2)} dB at ${vp8.kbps.toFixed(0)} kbit/s; H.264 ${h264.psnr.toFixed(2)} dB at ${h264.kbps.toFixed(0)} kbit/s`,
    );

    const clips = ctx.quick ? ['vrt_face_1.mp4'] : ['vrt_face_1.mp4', 'sadtalker_WDA_AOC_000.mp4', 'vrt_face_2.mp4'];
    for (const [i, c] of clips.entries()) {
      const o = await avOffset(join(ctx.clipsDir, c), join(ctx.workDir, `media-dub-${i}.mp4`));
      const key = c.replace(/\.mp4$/, '');
      if (i === 0) res['media.avOffsetMs'] = r2(o.offsetMs);
      res[`media.avOffsetMs.${key}`] = r2(o.offsetMs);
      res[`media.audioLagMs.${key}`] = r2(o.audioLagMs);
      res[`media.videoLagMs.${key}`] = r2(o.videoLagMs);
      res[`media.videoLagMaxAbsMs.${key}`] = r2(o.videoLagMaxAbsMs);
      res[`media.streamStartDeltaMs.${key}`] = r2(o.startDeltaMs);
      ctx.log(
        `${c}: A/V offset ${o.offsetMs.toFixed(2)} ms (audio lag ${o.audioLagMs.toFixed(2)}, video lag ${o.videoLagMs.toFixed(2)}, max |video| ${o.videoLagMaxAbsMs.toFixed(1)}, start delta ${o.startDeltaMs.toFixed(1)})`,
      );
    }
    return res;
  },
};

export default section;
