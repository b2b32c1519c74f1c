/**
 * Reading media files (mp4, mov, webm, wav...) through node-av into the pipeline's frames: the offline path
 * (`lipsync dub`, eval) and the lip-sync engine read clips through here.
 *
 * Timestamps are the container's presentation times in microseconds (stream start offsets kept), so a clip whose
 * video starts 33 ms after its audio keeps that offset.
 */
import {
  AV_NOPTS_VALUE,
  AVMEDIA_TYPE_AUDIO,
  AVMEDIA_TYPE_VIDEO,
  Codec,
  Demuxer,
  type IRational,
  type Stream,
} from 'node-av';
import type { AudioFrame, PcmChunk, VideoFrame } from '../media.ts';
import { AudioDecoder, CodecError, PcmResampler, VideoDecoder } from './codecs.ts';

/** The input file is missing, unreadable, truncated or corrupt. The message says which and where. */
export class MediaFileError extends Error {
  override name = 'MediaFileError';
}

export interface MediaFileInfo {
  path: string;
  formatName: string;
  /** Container duration; 0 when unknown. */
  durationUs: number;
  /** `durationUs`: the stream's own duration, when the container gives one. */
  video?: { width: number; height: number; codec: string; frameRate: number; streamIndex: number; durationUs?: number };
  audio?: { sampleRate: number; channels: number; codec: string; streamIndex: number };
}

export type MediaFrame = { kind: 'video'; frame: VideoFrame } | { kind: 'audio'; frame: AudioFrame };

export interface OpenMediaOptions {
  /** Decode video (default true when the file has it). */
  video?: boolean;
  /** Decode audio (default true when the file has it). */
  audio?: boolean;
  /** Resample decoded audio to this rate (default: the file's). */
  audioSampleRate?: number;
  /** Audio channels out, 1 or 2 (default: the file's, at most 2). */
  audioChannels?: 1 | 2;
  /**
   * Fraction of packets that may fail to decode before the file is declared corrupt (default 0.05). A few bad
   * packets are concealed and counted; more means the output would not be the input.
   */
  maxErrorRatio?: number;
}

function codecName(stream: Stream): string {
  return Codec.findDecoder(stream.codecpar.codecId)?.name ?? `codec#${stream.codecpar.codecId}`;
}

/** A demuxed, decoding media file. Iterate `frames()` once; `close()` is idempotent. */
export class MediaFileReader {
  private demuxer: Demuxer | null;
  private vdec: VideoDecoder | null = null;
  private adec: AudioDecoder | null = null;
  /** Packets that failed to decode, per kind. */
  readonly errors = { video: 0, audio: 0 };
  readonly counts = { videoPackets: 0, audioPackets: 0, videoFrames: 0, audioFrames: 0 };
  /** Time bases of the video and audio streams, to read how far the packets of a stream not decoded go. */
  private readonly timeBases = new Map<number, IRational>();

  private constructor(
    demuxer: Demuxer,
    readonly info: MediaFileInfo,
    private readonly opts: OpenMediaOptions,
  ) {
    this.demuxer = demuxer;
  }

  static async open(path: string, opts: OpenMediaOptions = {}): Promise<MediaFileReader> {
    let demuxer: Demuxer;
    try {
      demuxer = await Demuxer.open(path);
    } catch (err) {
      throw new MediaFileError(`cannot open ${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const v = demuxer.video();
    const a = demuxer.audio();
    const info: MediaFileInfo = {
      path,
      formatName: demuxer.formatName,
      durationUs: Math.max(0, Math.round((demuxer.duration || 0) * 1e6)),
    };
    if (v && v.codecpar.codecType === AVMEDIA_TYPE_VIDEO) {
      const fr = v.avgFrameRate.num > 0 ? v.avgFrameRate : v.rFrameRate;
      info.video = {
        width: v.codecpar.width,
        height: v.codecpar.height,
        codec: codecName(v),
        frameRate: fr.den ? fr.num / fr.den : 0,
        streamIndex: v.index,
      };
      if (v.duration > 0n && v.duration !== AV_NOPTS_VALUE) {
        info.video.durationUs = Math.round((Number(v.duration) * v.timeBase.num * 1e6) / v.timeBase.den);
      }
    }
    if (a && a.codecpar.codecType === AVMEDIA_TYPE_AUDIO) {
      info.audio = {
        sampleRate: a.codecpar.sampleRate,
        channels: a.codecpar.channels,
        codec: codecName(a),
        streamIndex: a.index,
      };
    }
    const reader = new MediaFileReader(demuxer, info, opts);
    if (info.video && v) reader.timeBases.set(v.index, v.timeBase);
    if (info.audio && a) reader.timeBases.set(a.index, a.timeBase);
    try {
      if (info.video && opts.video !== false && v) {
        reader.vdec = await VideoDecoder.create({
          codecId: v.codecpar.codecId,
          codecpar: v.codecpar,
          timeBase: v.timeBase,
        });
      }
      if (info.audio && opts.audio !== false && a) {
        reader.adec = await AudioDecoder.create({
          codecId: a.codecpar.codecId,
          codecpar: a.codecpar,
          timeBase: a.timeBase,
          ...(opts.audioSampleRate ? { outSampleRate: opts.audioSampleRate } : {}),
          ...(opts.audioChannels ? { outChannels: opts.audioChannels } : {}),
        });
      }
    } catch (err) {
      reader.close();
      throw new MediaFileError(`cannot decode ${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!reader.vdec && !reader.adec) {
      reader.close();
      throw new MediaFileError(
        `${path} has no ${opts.video === false ? 'audio' : opts.audio === false ? 'video' : 'audio or video'} stream`,
      );
    }
    return reader;
  }

  /**
   * Decoded frames in demux order (video and audio interleaved as stored). Throws MediaFileError when the file
   * turns out truncated (media ends well before the duration its header declares) or too corrupt to decode.
   */
  async *frames(): AsyncGenerator<MediaFrame> {
    const demuxer = this.demuxer;
    if (!demuxer) throw new MediaFileError('reader is closed');
    const vIdx = this.vdec ? this.info.video?.streamIndex : undefined;
    const aIdx = this.adec ? this.info.audio?.streamIndex : undefined;
    const last = { videoUs: -Infinity, audioUs: -Infinity, otherUs: -Infinity };
    try {
      for await (const pkt of demuxer.packets()) {
        if (!pkt) break;
        try {
          if (pkt.streamIndex === vIdx && this.vdec) {
            this.counts.videoPackets++;
            yield* this.emitVideo(last, await this.decodeGuarded(() => this.vdec!.decodePacket(pkt), 'video'));
          } else if (pkt.streamIndex === aIdx && this.adec) {
            this.counts.audioPackets++;
            const frames = await this.decodeGuarded(() => this.adec!.decodePacket(pkt), 'audio');
            yield* this.emitAudio(
              last,
              frames.filter((f): f is AudioFrame => f !== null),
            );
          } else {
            // A stream not decoded still shows how far the file's media goes: reading only the audio of a clip whose
            // audio ends before its video (or the reverse) is not a truncated file.
            const tb = this.timeBases.get(pkt.streamIndex);
            if (tb && pkt.pts !== AV_NOPTS_VALUE) {
              const endUs = (Number(pkt.pts + (pkt.duration > 0n ? pkt.duration : 0n)) * tb.num * 1e6) / tb.den;
              last.otherUs = Math.max(last.otherUs, endUs);
            }
          }
        } finally {
          pkt.free();
        }
      }
    } catch (err) {
      if (err instanceof MediaFileError) throw err;
      throw new MediaFileError(`${this.info.path}: read failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (this.vdec) yield* this.emitVideo(last, await this.decodeGuarded(() => this.vdec!.decode(null, 0), 'video'));
    if (this.adec)
      yield* this.emitAudio(last, await this.decodeGuarded(() => this.adec!.decodeFrames(null, 0), 'audio'));
    this.checkComplete(last.videoUs, last.audioUs, last.otherUs);
  }

  private *emitVideo(last: { videoUs: number }, frames: VideoFrame[]): Generator<MediaFrame> {
    for (const frame of frames) {
      this.counts.videoFrames++;
      last.videoUs = Math.max(last.videoUs, frame.timestampUs);
      yield { kind: 'video', frame };
    }
  }

  private *emitAudio(last: { audioUs: number }, frames: AudioFrame[]): Generator<MediaFrame> {
    for (const frame of frames) {
      this.counts.audioFrames++;
      last.audioUs = Math.max(last.audioUs, frame.timestampUs + (frame.samplesPerChannel * 1e6) / frame.sampleRate);
      yield { kind: 'audio', frame };
    }
  }

  private async decodeGuarded<T>(fn: () => Promise<T[]>, kind: 'video' | 'audio'): Promise<T[]> {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof CodecError)) throw err;
      this.errors[kind]++;
      const packets = kind === 'video' ? this.counts.videoPackets : this.counts.audioPackets;
      const ratio = this.opts.maxErrorRatio ?? 0.05;
      // Judge the ratio once there is enough to judge (a corrupt first packet alone is already an error below).
      if (this.errors[kind] > Math.max(2, ratio * packets)) {
        throw new MediaFileError(
          `${this.info.path} is corrupt: ${this.errors[kind]} of ${packets} ${kind} packets failed to decode (${err.message})`,
        );
      }
      return [];
    }
  }

  private checkComplete(lastVideoUs: number, lastAudioUs: number, lastOtherUs: number): void {
    const { path, durationUs } = this.info;
    if (this.vdec && this.counts.videoFrames === 0) {
      throw new MediaFileError(`${path}: no video frame could be decoded (corrupt or truncated file)`);
    }
    if (this.adec && this.counts.audioFrames === 0) {
      throw new MediaFileError(`${path}: no audio could be decoded (corrupt or truncated file)`);
    }
    if (durationUs <= 0) return;
    // A truncated mp4 keeps its header's duration; the media stops early. Allow 0.5 s for frame durations/padding.
    const end = Math.max(this.vdec ? lastVideoUs : -Infinity, this.adec ? lastAudioUs : -Infinity, lastOtherUs);
    if (end < durationUs - 500_000) {
      throw new MediaFileError(
        `${path} is truncated: media ends at ${(end / 1e6).toFixed(2)} s, the header says ${(durationUs / 1e6).toFixed(2)} s`,
      );
    }
  }

  close(): void {
    this.vdec?.close();
    this.adec?.close();
    this.vdec = null;
    this.adec = null;
    const d = this.demuxer;
    this.demuxer = null;
    d?.closeSync();
  }
}

/** Reads a file's whole audio as mono float PCM at `sampleRate` (16 kHz default: the models' input). */
export async function readAudioPcm(path: string, sampleRate = 16_000): Promise<PcmChunk> {
  const reader = await MediaFileReader.open(path, { video: false });
  const pcm = new PcmResampler(sampleRate);
  const parts: Float32Array[] = [];
  let startUs: number | null = null;
  let total = 0;
  const take = (c: PcmChunk | null) => {
    if (!c) return;
    startUs ??= c.timestampUs;
    parts.push(c.samples);
    total += c.samples.length;
  };
  try {
    for await (const m of reader.frames()) if (m.kind === 'audio') take(pcm.process(m.frame));
    take(pcm.flush());
  } finally {
    pcm.close();
    reader.close();
  }
  const samples = new Float32Array(total);
  let off = 0;
  for (const p of parts) {
    samples.set(p, off);
    off += p.length;
  }
  return { samples, sampleRate, timestampUs: startUs ?? 0 };
}

/** Iterates a file's decoded video frames (I420, container timestamps). */
export async function* readVideoFrames(path: string): AsyncGenerator<VideoFrame> {
  const reader = await MediaFileReader.open(path, { audio: false });
  try {
    for await (const m of reader.frames()) if (m.kind === 'video') yield m.frame;
  } finally {
    reader.close();
  }
}

/** Probes a file without decoding it. */
export async function probeMediaFile(path: string): Promise<MediaFileInfo> {
  const reader = await MediaFileReader.open(path);
  try {
    return reader.info;
  } finally {
    reader.close();
  }
}
