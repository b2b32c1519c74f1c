/** Real encoded frames for the RTP tests: frames of a shared clip encoded with node-av (cached per process). */
import {
  AudioEncoder,
  AudioResampler,
  VideoEncoder,
  type EncodedChunk,
  type VideoCodecName,
} from '../../src/pipeline/io/codecs.ts';
import { MediaFileReader } from '../../src/pipeline/io/mediaFile.ts';
import type { AudioFrame, VideoFrame } from '../../src/pipeline/media.ts';
import { clip } from './helpers.ts';

let frames: Promise<{ video: VideoFrame[]; audio: AudioFrame[] }> | null = null;

/** The first `n` video frames and ~2 s of audio (48 kHz mono) of vrt_face_5 (h264 524x524). */
export function clipFrames(n = 30): Promise<{ video: VideoFrame[]; audio: AudioFrame[] }> {
  frames ??= (async () => {
    const r = await MediaFileReader.open(clip('vrt_face_5.mp4'));
    const res = new AudioResampler(48_000, 1);
    const video: VideoFrame[] = [];
    const audio: AudioFrame[] = [];
    try {
      for await (const m of r.frames()) {
        if (m.kind === 'video' && video.length < n) video.push(m.frame);
        if (m.kind === 'audio') {
          const a = res.process(m.frame);
          if (a) audio.push(a);
        }
        if (video.length >= n && audio.reduce((s, a) => s + a.samplesPerChannel, 0) > 96_000) break;
      }
    } finally {
      r.close();
      res.close();
    }
    return { video, audio };
  })();
  return frames;
}

/** Encodes clip frames; a keyframe every `gop` frames. */
export async function encodedVideo(codec: VideoCodecName, gop = 10, n = 30): Promise<EncodedChunk[]> {
  const { video } = await clipFrames(n);
  const enc = VideoEncoder.create({ codec, bitrateBps: 800_000, keyframeIntervalFrames: gop, frameRate: 25 });
  const out: EncodedChunk[] = [];
  try {
    for (const [i, f] of video.entries()) out.push(...(await enc.encode({ ...f, timestampUs: i * 40_000 })));
    out.push(...(await enc.flush()));
  } finally {
    enc.close();
  }
  return out;
}

/** Opus packets (20 ms) of the clip's audio. */
export async function encodedOpus(): Promise<EncodedChunk[]> {
  const { audio } = await clipFrames();
  const enc = await AudioEncoder.create({ codec: 'opus', sampleRate: 48_000, channels: 1 });
  const out: EncodedChunk[] = [];
  try {
    for (const a of audio) out.push(...(await enc.encode(a)));
    out.push(...(await enc.flush()));
  } finally {
    enc.close();
  }
  return out;
}
