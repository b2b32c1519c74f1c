/**
 * The lip-sync engine (default models: tracker + memory generator + memory renderer, one core):
 * - fpsPerStream: frames per second of one 512x512 25 fps stream, decoded frame in -> composited frame out, the engine
 *   in-process (wall time; the host is shared, so also fpsPerStreamCpu = frames / CPU seconds of this process);
 * - stagesMs.*: mean per frame of tracking, audio features, generator, renderer (warp + blend) and composite (colour
 *   match + feathered paste);
 * - algorithmicLatencyMs: the lookahead the schedule needs (T, k, mel chunk);
 * - addedLatencyMs.p50/.p95: RTP in -> RTP out through the io TranscodingProcessor hosting stage `lipsync` (worker
 *   thread), input paced in real time; per video frame: arrival of the output frame's last packet minus the push of the
 *   input frame's last packet. This is the tap's transcoding processor, not the whole SFU (no mediasoup, no network).
 * - addedLatencySfuMs.p50/.p95: the same stage through the SFU tap, on loopback: an in-process LipsyncServer whose
 *   processorFactory is the io TranscodingProcessor hosting `lipsync` (worker thread), a werift speaker publishing the
 *   clip (ffmpeg -re, VP8 512x512 400 kbit/s + Opus), one werift listener consuming the original and the processed
 *   video. Per processed video frame: arrival at the listener of its last packet minus arrival of the last packet of
 *   the original frame with the same media time. The processed stream is re-encoded, so frames are matched by media
 *   time: as each input frame's last packet enters the processor, the bench derives the output RTP timestamp the
 *   processor will give that frame, exactly as TranscodingProcessor does (its SenderClock mapping of the input RTP
 *   timestamp at that moment + stage.delayMs, through its video RtpStreamSender; read through private fields, as a
 *   bench-only probe). mediasoup keeps RTP timestamps on simple consumers, so the listener sees those values.
 */
import { join } from 'node:path';
import type { BenchSection, BenchValue } from '../types.ts';
import { createFaceTracker } from '../../src/pipeline/face/index.ts';
import { AudioEncoder, AudioResampler, VideoEncoder, type EncodedChunk } from '../../src/pipeline/io/codecs.ts';
import { MediaFileReader } from '../../src/pipeline/io/mediaFile.ts';
import { OpusPayloadFormat } from '../../src/pipeline/io/opus.ts';
import { parseRtpPacket } from '../../src/pipeline/io/rtpPacket.ts';
import { RtpStreamSender } from '../../src/pipeline/io/rtpSender.ts';
import { TranscodingProcessor } from '../../src/pipeline/io/TranscodingProcessor.ts';
import { Vp8PayloadFormat } from '../../src/pipeline/io/vp8.ts';
import { LipsyncEngine } from '../../src/pipeline/lipsync/LipsyncEngine.ts';
import { MemoryGenerator } from '../../src/pipeline/lipsync/MemoryGenerator.ts';
import { MemoryRenderer } from '../../src/pipeline/lipsync/MemoryRenderer.ts';
import { defaultPriorPath, OpeningPrior } from '../../src/pipeline/lipsync/OpeningPrior.ts';
import type { AudioFrame, VideoFrame } from '../../src/pipeline/media.ts';
import type { RtpStreamInfo } from '../../src/pipeline/stage.ts';
import { existsSync } from 'node:fs';
import type { RtpProcessor } from '../../src/pipeline/stage.ts';

const CLIP = 'sadtalker_WDA_AOC_000.mp4'; // 512x512, 25 fps

async function loadClip(path: string, seconds: number) {
  const r = await MediaFileReader.open(path);
  const video: VideoFrame[] = [];
  const audio: AudioFrame[] = [];
  try {
    for await (const m of r.frames()) {
      if (m.kind === 'video') {
        if (video.length < seconds * 25) video.push(m.frame);
      } else audio.push(m.frame);
      if (video.length >= seconds * 25 && audio.at(-1) && audio.at(-1)!.timestampUs > video.at(-1)!.timestampUs + 5e5)
        break;
    }
  } finally {
    r.close();
  }
  return { video, audio };
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function throughput(video: VideoFrame[], audio: AudioFrame[]): Promise<Record<string, BenchValue>> {
  const tracker = createFaceTracker({ intraOpNumThreads: 1 });
  let trackMs = 0;
  const prior = existsSync(defaultPriorPath) ? OpeningPrior.load(defaultPriorPath) : null;
  const renderer = new MemoryRenderer();
  let warpMs = 0;
  let compositeMs = 0;
  const engine = new LipsyncEngine({
    track: (f) => {
      const t = performance.now();
      const r = tracker.trackSync(f);
      trackMs += performance.now() - t;
      return r;
    },
    generator: new MemoryGenerator({ prior }),
    renderer,
    driveAudio: false,
  });
  let out = 0;
  engine.on('video', () => {
    out++;
    warpMs += renderer.lastStats.warpMs;
    compositeMs += renderer.lastStats.compositeMs;
    renderer.lastStats.warpMs = 0;
    renderer.lastStats.compositeMs = 0;
  });
  let ai = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const f of video) {
    while (ai < audio.length && audio[ai]!.timestampUs <= f.timestampUs + 400_000)
      engine.pushSpeakerAudio(audio[ai++]!);
    engine.pushVideo(f);
    await engine.settled();
  }
  while (ai < audio.length) engine.pushSpeakerAudio(audio[ai++]!);
  await engine.flush();
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const n = video.length;
  const res: Record<string, BenchValue> = {
    'engine.frames': n,
    'engine.framesRendered': engine.counters.rendered,
    'engine.fpsPerStream': out / wallS,
    'engine.fpsPerStreamCpu': out / cpuS,
    'engine.stagesMs.tracking': trackMs / n,
    'engine.stagesMs.features': engine.timings.featuresMs / Math.max(1, engine.timings.windows),
    'engine.stagesMs.generator': engine.timings.generatorMs / Math.max(1, engine.timings.windows),
    'engine.stagesMs.renderer': warpMs / Math.max(1, engine.timings.renders),
    'engine.stagesMs.composite': compositeMs / Math.max(1, engine.timings.renders),
    'engine.algorithmicLatencyMs': engine.latency.totalMs,
  };
  engine.close();
  return res;
}

async function addedLatency(video: VideoFrame[], audio: AudioFrame[], log: (m: string) => void) {
  const vInfo: RtpStreamInfo = { kind: 'video', mimeType: 'video/VP8', payloadType: 101, clockRate: 90000, ssrc: 1111 };
  const aInfo: RtpStreamInfo = {
    kind: 'audio',
    mimeType: 'audio/opus',
    payloadType: 100,
    clockRate: 48000,
    channels: 2,
    ssrc: 2222,
  };
  // Encode the input once (not timed).
  const venc = VideoEncoder.create({ codec: 'vp8', bitrateBps: 1_000_000, keyframeIntervalFrames: 50, frameRate: 25 });
  const vchunks: EncodedChunk[] = [];
  for (const [i, f] of video.entries()) vchunks.push(...(await venc.encode({ ...f, timestampUs: i * 40_000 })));
  vchunks.push(...(await venc.flush()));
  venc.close();
  const res48 = new AudioResampler(48_000, 1);
  const aenc = await AudioEncoder.create({ codec: 'opus', sampleRate: 48_000, channels: 1 });
  const achunks: EncodedChunk[] = [];
  const a0 = audio[0]?.timestampUs ?? 0;
  const v0 = video[0]?.timestampUs ?? 0;
  for (const a of audio) {
    const r = res48.process({ ...a, timestampUs: a.timestampUs - a0 + (a0 - v0) });
    if (r) achunks.push(...(await aenc.encode(r)));
  }
  aenc.close();
  res48.close();
  const vs = new RtpStreamSender({ format: new Vp8PayloadFormat(), payloadType: 101, clockRate: 90000, ssrc: 1111 });
  const as = new RtpStreamSender({ format: new OpusPayloadFormat(), payloadType: 100, clockRate: 48000, ssrc: 2222 });
  const proc = await TranscodingProcessor.create([vInfo, aInfo], {
    stage: 'lipsync',
    stageOptions: { mode: 'live' },
    onWarning: () => {},
  });
  const pushedAt = new Map<number, number>(); // input frame index -> wall ms of its last packet
  const outAt: number[] = [];
  let outBase: number | null = null;
  proc.on('rtp', (kind, buf) => {
    if (kind !== 'video') return;
    const p = parseRtpPacket(buf);
    if (!p.marker) return;
    outBase ??= p.timestamp;
    const idx = Math.round(((p.timestamp - outBase + 2 ** 32) % 2 ** 32) / 3600);
    outAt[idx] ??= performance.now();
  });
  const t0 = performance.now();
  let ai = 0;
  for (const [i, c] of vchunks.entries()) {
    const due = t0 + c.timestampUs / 1000;
    while (performance.now() < due) await new Promise((r) => setTimeout(r, 2));
    while (ai < achunks.length && achunks[ai]!.timestampUs <= c.timestampUs + 40_000) {
      const a = achunks[ai++]!;
      for (const b of as.packetize(a.data, a.keyframe, a.timestampUs)) proc.pushRtp('audio', b);
    }
    for (const b of vs.packetize(c.data, c.keyframe, c.timestampUs)) proc.pushRtp('video', b);
    pushedAt.set(i, performance.now());
  }
  // Let the tail drain (the engine holds its lookahead until more media or the end).
  await new Promise((r) => setTimeout(r, 3000));
  proc.close();
  const deltas: number[] = [];
  for (const [i, t] of pushedAt) if (outAt[i] !== undefined) deltas.push(outAt[i] - t);
  deltas.sort((a, b) => a - b);
  log(`tap latency: ${deltas.length}/${pushedAt.size} frames matched`);
  return {
    'engine.addedLatencyMs.p50': percentile(deltas, 50),
    'engine.addedLatencyMs.p95': percentile(deltas, 95),
    'engine.addedLatencyMs.samples': deltas.length,
    'engine.addedLatencyMs.path': 'TranscodingProcessor(lipsync, worker) RTP in -> RTP out, no SFU',
  };
}

/** The TranscodingProcessor fields its output RTP timestamps come from (bench probe; private in the class). */
interface ProcessorTimestampInternals {
  clock: { peekTimestampUs(kind: string, rtpTimestamp: number): number };
  senders: Map<string, { rtpTimestampOf(timestampUs: number): number }>;
  stage: { delayMs: number };
}

async function addedLatencySfu(clip: string, seconds: number, log: (m: string) => void) {
  const { MediaStreamTrack } = await import('werift');
  const { LipsyncServer } = await import('../../src/sfu/index.ts');
  const { LipsyncClient } = await import('../../src/client-sdk/node/index.ts');
  const { feedClip, waitFor } = await import('../../test/sfu/helpers.ts');

  // Output RTP timestamp of a processed frame -> RTP timestamp of the input (original) frame it was made from.
  const inputOf = new Map<number, number>();
  let processors = 0;
  let delayMs = NaN;
  const server = await LipsyncServer.start({
    port: 0,
    numWorkers: 1,
    tapSettleMs: 100,
    processorFactory: async (inputs): Promise<RtpProcessor> => {
      const proc = await TranscodingProcessor.create(inputs, {
        stage: 'lipsync',
        stageOptions: { mode: 'live' },
        onWarning: () => {},
      });
      processors++;
      const internals = proc as unknown as ProcessorTimestampInternals;
      delayMs = internals.stage.delayMs;
      const push = proc.pushRtp.bind(proc);
      proc.pushRtp = (kind, packet) => {
        push(kind, packet);
        if (kind !== 'video') return;
        const p = parseRtpPacket(packet);
        const sender = internals.senders.get('video');
        if (!p.marker || !sender) return;
        // Same state the processor just used to stamp this frame (it maps frames as their last packet arrives).
        const us = internals.clock.peekTimestampUs('video', p.timestamp);
        inputOf.set(sender.rtpTimestampOf(us + internals.stage.delayMs * 1000), p.timestamp);
      };
      return proc;
    },
  });
  const speaker = await LipsyncClient.join({
    url: server.wsUrl,
    token: server.mintToken('bench', 'speaker'),
    subscribe: 'none',
  });
  const listener = await LipsyncClient.join({
    url: server.wsUrl,
    token: server.mintToken('bench', 'listener'),
    subscribe: 'all',
  });
  try {
    // Per stream: RTP timestamp -> arrival (ms) of the frame's latest packet at the listener.
    const arrivals = { original: new Map<number, number>(), processed: new Map<number, number>() };
    let tracks = 0;
    listener.on('track', (t) => {
      tracks++;
      if (t.kind !== 'video') return;
      const map = arrivals[t.source];
      t.track.onReceiveRtp.subscribe((rtp) => map.set(rtp.header.timestamp, performance.now()));
    });
    const video = new MediaStreamTrack({ kind: 'video' });
    const audio = new MediaStreamTrack({ kind: 'audio' });
    await speaker.publish(video);
    await speaker.publish(audio);
    await waitFor(() => tracks === 4, 30_000, 'original + processed tracks at the listener');
    await speaker.transportsConnected();
    await listener.transportsConnected();
    log(`SFU path: feeding ${seconds} s of the clip, VP8 512x512 400 kbit/s + Opus 48 kbit/s`);
    const { sent } = await feedClip({ clip, video, audio, durationS: seconds, size: 512 });
    // The engine holds its lookahead until more media arrives or the stream ends; give the tail time to drain.
    await new Promise((r) => setTimeout(r, 1500));
    const deltas: number[] = [];
    let unmatched = 0;
    for (const [ts, tProcessed] of arrivals.processed) {
      const inTs = inputOf.get(ts);
      const tOriginal = inTs === undefined ? undefined : arrivals.original.get(inTs);
      if (tOriginal === undefined) unmatched++;
      else deltas.push(tProcessed - tOriginal);
    }
    deltas.sort((a, b) => a - b);
    log(
      `SFU path: sent ${sent.video} video packets; ${arrivals.original.size} original and ` +
        `${arrivals.processed.size} processed video frames at the listener; ${deltas.length} matched by media time, ` +
        `${unmatched} processed frames unmatched; ${processors} processor(s), stage delay ${delayMs} ms`,
    );
    return {
      'engine.addedLatencySfuMs.p50': percentile(deltas, 50),
      'engine.addedLatencySfuMs.p95': percentile(deltas, 95),
      'engine.addedLatencySfuMs.samples': deltas.length,
      'engine.addedLatencySfuMs.unmatched': unmatched,
      'engine.addedLatencySfuMs.path':
        'werift speaker -> mediasoup -> tap (TranscodingProcessor(lipsync, worker)) -> mediasoup -> werift listener; ' +
        'processed minus original arrival at the listener, loopback',
    };
  } finally {
    speaker.close();
    listener.close();
    server.close();
  }
}

const section: BenchSection = {
  name: 'engine',
  description: `lip-sync engine on ${CLIP} (512x512, 25 fps): fps per stream on one core, per-stage ms, latency`,
  async run(ctx) {
    const seconds = ctx.quick ? 4 : 8;
    const { video, audio } = await loadClip(join(ctx.clipsDir, CLIP), seconds);
    ctx.log(`${video.length} frames, ${audio.length} audio frames`);
    const out = await throughput(video, audio);
    try {
      Object.assign(out, await addedLatency(video, audio, (m) => ctx.log(m)));
    } catch (err) {
      ctx.log(`added latency through the transcoding processor failed: ${String(err)}`);
      out['engine.addedLatencyMs.error'] = String(err);
    }
    try {
      Object.assign(out, await addedLatencySfu(join(ctx.clipsDir, CLIP), seconds, (m) => ctx.log(m)));
    } catch (err) {
      ctx.log(`added latency through the SFU tap failed: ${String(err)}`);
      out['engine.addedLatencySfuMs.error'] = String(err);
    }
    return out;
  },
};

export default section;
