import { beforeAll, describe, expect, it } from 'vitest';
import type { AvStage, AvStageEvents } from '../../src/pipeline/avStage.ts';
import {
  scaleI420,
  VideoDecoder,
  VideoEncoder,
  videoCodecId,
  type EncodedChunk,
} from '../../src/pipeline/io/codecs.ts';
import { Depacketizer } from '../../src/pipeline/io/depacketizer.ts';
import { TypedEmitter } from '../../src/pipeline/io/emitter.ts';
import { H264PayloadFormat } from '../../src/pipeline/io/h264.ts';
import { JitterBuffer } from '../../src/pipeline/io/jitterBuffer.ts';
import { OpusPayloadFormat } from '../../src/pipeline/io/opus.ts';
import { parseRtpPacket } from '../../src/pipeline/io/rtpPacket.ts';
import { RtpStreamSender } from '../../src/pipeline/io/rtpSender.ts';
import { TranscodingProcessor } from '../../src/pipeline/io/TranscodingProcessor.ts';
import { Vp8PayloadFormat } from '../../src/pipeline/io/vp8.ts';
import type { AudioFrame, VideoFrame } from '../../src/pipeline/media.ts';
import type { MediaKind, RtpStreamInfo } from '../../src/pipeline/stage.ts';
import { clipFrames, encodedOpus, encodedVideo } from './fixtures.ts';

const vp8Info: RtpStreamInfo = { kind: 'video', mimeType: 'video/VP8', payloadType: 101, clockRate: 90000, ssrc: 1111 };
const h264Info: RtpStreamInfo = {
  kind: 'video',
  mimeType: 'video/H264',
  payloadType: 102,
  clockRate: 90000,
  ssrc: 1112,
  parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f' },
};
const opusInfo: RtpStreamInfo = {
  kind: 'audio',
  mimeType: 'audio/opus',
  payloadType: 100,
  clockRate: 48000,
  channels: 2,
  ssrc: 2222,
};

function packetize(chunks: EncodedChunk[], info: RtpStreamInfo, ssrc = info.ssrc): Buffer[] {
  const format =
    info.mimeType === 'video/VP8'
      ? new Vp8PayloadFormat()
      : info.kind === 'video'
        ? new H264PayloadFormat()
        : new OpusPayloadFormat();
  const s = new RtpStreamSender({ format, payloadType: info.payloadType, clockRate: info.clockRate, ssrc });
  return chunks.flatMap((c) => s.packetize(c.data, c.keyframe, c.timestampUs));
}

/** Collects a processor's output and decodes its video. */
function collect(p: TranscodingProcessor) {
  const out: Record<MediaKind, Buffer[]> = { audio: [], video: [] };
  const srs: { kind: MediaKind; ntpTimeMs: number; rtpTimestamp: number }[] = [];
  let keyframeRequests = 0;
  p.on('rtp', (kind, b) => out[kind].push(b));
  p.on('senderReport', (kind, ntpTimeMs, rtpTimestamp) => srs.push({ kind, ntpTimeMs, rtpTimestamp }));
  p.on('keyframeRequest', () => keyframeRequests++);
  return { out, srs, requests: () => keyframeRequests };
}

async function decodeOutput(packets: Buffer[], codec: 'vp8' | 'h264') {
  const jb = new JitterBuffer();
  const dp = new Depacketizer(codec === 'vp8' ? new Vp8PayloadFormat() : new H264PayloadFormat());
  const dec = await VideoDecoder.create({ codecId: videoCodecId(codec) });
  const frames: VideoFrame[] = [];
  const feed = async (o: ReturnType<Depacketizer['processInput']>) => {
    for (const d of o) if (d.type === 'frame') frames.push(...(await dec.decode(d.frame.data, d.frame.rtpTimestamp)));
  };
  let t = 0;
  for (const b of packets) for (const j of jb.processInput(parseRtpPacket(b), t++)) await feed(dp.processInput(j));
  for (const j of jb.flush()) await feed(dp.processInput(j));
  await feed(dp.flush());
  frames.push(...(await dec.decode(null, 0)));
  dec.close();
  return { frames, ssrcs: new Set(packets.map((b) => parseRtpPacket(b).ssrc)) };
}

let vp8: EncodedChunk[] = [];
let h264: EncodedChunk[] = [];
let opus: EncodedChunk[] = [];
beforeAll(async () => {
  vp8 = await encodedVideo('vp8', 10);
  h264 = await encodedVideo('h264', 10);
  opus = await encodedOpus();
});

describe('TranscodingProcessor', () => {
  it.each([
    ['vp8', vp8Info],
    ['h264', h264Info],
  ] as const)('re-encodes %s + Opus: every frame out, new SSRCs, SRs, event loop free', async (codec, info) => {
    // Queues sized for the burst (all packets arrive at once here; live they come at the frame rate).
    const p = await TranscodingProcessor.create([info, opusInfo], {
      senderReportIntervalMs: 20,
      videoQueueFrames: 30,
      audioQueueFrames: 200,
      onWarning: () => {},
    });
    const { out, srs } = collect(p);
    expect(p.outputs.map((o) => o.kind).sort()).toEqual(['audio', 'video']);
    // Event-loop lag while it works: a 5 ms timer must keep firing.
    let maxLagMs = 0;
    let last = performance.now();
    const tick = setInterval(() => {
      const now = performance.now();
      maxLagMs = Math.max(maxLagMs, now - last - 5);
      last = now;
    }, 5);
    const video = packetize(codec === 'vp8' ? vp8 : h264, info);
    const audio = packetize(opus, opusInfo);
    for (let i = 0; i < Math.max(video.length, audio.length); i++) {
      if (video[i]) p.pushRtp('video', video[i]!);
      if (audio[i]) p.pushRtp('audio', audio[i]!);
    }
    p.pushSenderReport('video', Date.now(), parseRtpPacket(video[0]!).timestamp);
    await p.drain();
    await new Promise((r) => setTimeout(r, 60));
    clearInterval(tick);
    expect(p.stats.framesDecoded.video).toBe(30);
    expect(p.stats.framesEncoded.video).toBe(30);
    expect(p.stats.videoFramesDropped).toBe(0);
    const dec = await decodeOutput(out.video, codec);
    expect(dec.frames.length).toBe(30);
    expect(dec.frames[0]).toMatchObject({ width: 524, height: 524 });
    expect([...dec.ssrcs]).toEqual([p.outputs.find((o) => o.kind === 'video')!.ssrc]);
    expect(out.audio.length).toBeGreaterThanOrEqual(opus.length - 2);
    expect(srs.some((s) => s.kind === 'audio') && srs.some((s) => s.kind === 'video')).toBe(true);
    expect(maxLagMs).toBeLessThan(200); // generous: 2 shared cores; a blocking codec would stall for whole seconds
    p.close();
    p.close();
    await p.closedPromise;
  });

  it('follows an SSRC change and a resolution change of the sender, and asks for keyframes', async () => {
    const { video } = await clipFrames();
    const enc = VideoEncoder.create({ codec: 'vp8', bitrateBps: 500_000 });
    const second: EncodedChunk[] = [];
    for (const [i, f] of video.slice(0, 15).entries()) {
      second.push(...(await enc.encode({ ...scaleI420(f, 320, 240), timestampUs: 2_000_000 + i * 40_000 })));
    }
    enc.close();
    const p = await TranscodingProcessor.create([vp8Info], { videoQueueFrames: 30, onWarning: () => {} });
    const { out, requests } = collect(p);
    // Starts mid-stream (frame 2, a delta): must ask for a keyframe and wait for frame 10.
    for (const b of packetize(vp8.slice(2, 20), vp8Info)) p.pushRtp('video', b);
    await p.drain();
    expect(requests()).toBeGreaterThanOrEqual(1);
    for (const b of packetize(second, vp8Info, 5555)) p.pushRtp('video', b);
    await p.drain();
    expect(p.stats.ssrcChanges.video).toBe(1);
    expect(p.stats.resolutionChanges).toBe(1);
    const dec = await decodeOutput(out.video, 'vp8');
    const sizes = new Set(dec.frames.map((f) => `${f.width}x${f.height}`));
    expect(sizes).toEqual(new Set(['524x524', '320x240']));
    expect(dec.frames.length).toBe(10 + 15);
    expect(dec.ssrcs.size).toBe(1); // listeners see one continuous output stream
    p.close();
    await p.closedPromise;
  });

  it('under overload drops the oldest video frames (counted) and never drops audio', async () => {
    const stage = new BurstStage();
    const p = await TranscodingProcessor.create([vp8Info, opusInfo], {
      stage,
      videoQueueFrames: 2,
      audioQueueFrames: 5,
      onWarning: () => {},
    });
    const { out } = collect(p);
    for (const b of packetize(vp8, vp8Info)) p.pushRtp('video', b);
    for (const b of packetize(opus, opusInfo)) p.pushRtp('audio', b);
    await p.drain(); // the stage releases everything at once on flush
    expect(stage.videoIn).toBe(30);
    expect(p.stats.videoFramesDropped).toBe(27); // 1 in work, 2 waiting, the rest dropped oldest-first
    expect(p.stats.framesEncoded.video).toBe(3);
    expect(p.stats.audioFramesDropped).toBe(0);
    const audioSamplesIn = stage.audioSamples;
    expect(p.stats.framesEncoded.audio).toBeGreaterThanOrEqual(Math.floor(audioSamplesIn / 960) - 1);
    expect(out.audio.length).toBe(p.stats.framesEncoded.audio);
    p.close();
    await p.closedPromise;
  });
});

/** A stage that holds everything and releases it in one burst on flush (an overloaded model catching up). */
class BurstStage extends TypedEmitter<AvStageEvents> implements AvStage {
  readonly name = 'burst';
  readonly delayMs = 0;
  private v: VideoFrame[] = [];
  private a: AudioFrame[] = [];
  videoIn = 0;
  audioSamples = 0;
  pushVideo(f: VideoFrame): void {
    this.videoIn++;
    this.v.push(f);
  }
  pushSpeakerAudio(f: AudioFrame): void {
    this.audioSamples += f.samplesPerChannel;
    this.a.push(f);
  }
  pushDriveAudio(): void {}
  flush(): Promise<void> {
    for (const f of this.v.splice(0)) this.safeEmit('video', f);
    for (const f of this.a.splice(0)) this.safeEmit('audio', f);
    return Promise.resolve();
  }
  close(): void {}
}
