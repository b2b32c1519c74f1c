/**
 * Where processed media goes. The live path's sink is RTP to the SFU (TranscodingProcessor); the offline path's is an
 * MP4 file (H.264 + AAC). A sink takes frames on the pipeline clock and is finished (complete output) or aborted
 * (nothing left behind).
 */
import { randomBytes } from 'node:crypto';
import { renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Muxer, type Packet } from 'node-av';
import type { AudioFrame, VideoFrame } from '../media.ts';
import { AudioEncoder, AudioResampler, scaleI420, VideoEncoder } from './codecs.ts';

export interface MediaSink {
  writeVideo(frame: VideoFrame): Promise<void>;
  writeAudio(frame: AudioFrame): Promise<void>;
  /** Flushes encoders and completes the output. */
  finish(): Promise<void>;
  /** Stops and removes any partial output. Idempotent; safe after finish (no-op then). */
  abort(): Promise<void>;
}

export interface Mp4SinkOptions {
  width: number;
  height: number;
  /** Output frame rate; frames must arrive on its ticks (timestampUs = k / fps). Default 25. */
  fps?: number;
  /** x264 constant quality (offline). Default 20. */
  crf?: number;
  /** Audio channels out (1 or 2); null: no audio track. Default 1. */
  audioChannels?: 1 | 2 | null;
  /** AAC sample rate. Default 48000. */
  audioSampleRate?: number;
  audioBitrateBps?: number;
}

/**
 * Writes H.264 + AAC to `outPath` through a temporary file in the same folder, renamed into place only by
 * `finish()`: a reader never sees a partial file under the final name, and `abort()` (or a failed finish) removes it.
 */
export class Mp4FileSink implements MediaSink {
  private state: 'open' | 'finished' | 'aborted' = 'open';
  private readonly audioResampler: AudioResampler | null;
  videoFrames = 0;
  audioSamples = 0;

  private constructor(
    readonly outPath: string,
    readonly tmpPath: string,
    private readonly mux: Muxer,
    private readonly venc: VideoEncoder,
    private readonly aenc: AudioEncoder | null,
    private readonly vIndex: number,
    private readonly aIndex: number,
    private readonly opts: Required<Pick<Mp4SinkOptions, 'width' | 'height' | 'fps'>>,
  ) {
    this.audioResampler = aenc ? new AudioResampler(aenc.sampleRate, aenc.channels) : null;
  }

  static async open(outPath: string, o: Mp4SinkOptions): Promise<Mp4FileSink> {
    const fps = o.fps ?? 25;
    const tmpPath = join(dirname(outPath), `.${basename(outPath)}.${randomBytes(4).toString('hex')}.partial`);
    const venc = VideoEncoder.create({
      codec: 'h264',
      bitrateBps: 0,
      crf: o.crf ?? 20,
      realtime: false,
      timeBase: { num: 1, den: fps },
      frameRate: fps,
      keyframeIntervalFrames: fps * 2,
      threadCount: 0,
    });
    let aenc: AudioEncoder | null = null;
    let mux: Muxer | null = null;
    try {
      const channels = o.audioChannels === undefined ? 1 : o.audioChannels;
      if (channels) {
        aenc = await AudioEncoder.create({
          codec: 'aac',
          sampleRate: o.audioSampleRate ?? 48_000,
          channels,
          bitrateBps: o.audioBitrateBps ?? 64_000 * channels,
        });
      }
      mux = await Muxer.open(tmpPath, { format: 'mp4', options: { movflags: '+faststart' } as never });
      const vIndex = mux.addStream(await venc.native(o.width, o.height));
      const aIndex = aenc ? mux.addStream(aenc.native) : -1;
      return new Mp4FileSink(outPath, tmpPath, mux, venc, aenc, vIndex, aIndex, {
        width: o.width,
        height: o.height,
        fps,
      });
    } catch (err) {
      venc.close();
      aenc?.close();
      await mux?.close().catch(() => {});
      rmSync(tmpPath, { force: true });
      throw err;
    }
  }

  private async write(packets: Packet[], index: number, durationTicks: bigint): Promise<void> {
    for (const p of packets) {
      try {
        if (durationTicks > 0n && p.duration <= 0n) p.duration = durationTicks;
        await this.mux.writePacket(p, index);
      } finally {
        p.free();
      }
    }
  }

  /** One output frame; a frame of another size is scaled to the file's size (a file cannot change size). */
  async writeVideo(frame: VideoFrame): Promise<void> {
    if (this.state !== 'open') throw new Error('sink is not open');
    const f = scaleI420(frame, this.opts.width, this.opts.height);
    this.videoFrames++;
    await this.write(await this.venc.encodeNative(f), this.vIndex, 1n);
  }

  async writeAudio(frame: AudioFrame): Promise<void> {
    if (this.state !== 'open') throw new Error('sink is not open');
    if (!this.aenc || !this.audioResampler) return;
    const pcm = this.audioResampler.process(frame);
    if (!pcm) return;
    this.audioSamples += pcm.samplesPerChannel;
    await this.write(await this.aenc.encodeNative(pcm), this.aIndex, 0n);
  }

  async finish(): Promise<void> {
    if (this.state !== 'open') return;
    try {
      await this.write(await this.venc.flushNative(), this.vIndex, 1n);
      if (this.aenc && this.audioResampler) {
        const tail = this.audioResampler.flush();
        if (tail) await this.write(await this.aenc.encodeNative(tail), this.aIndex, 0n);
        await this.write(await this.aenc.flushNative(), this.aIndex, 0n);
      }
      await this.mux.close();
      this.release();
      renameSync(this.tmpPath, this.outPath);
      this.state = 'finished';
    } catch (err) {
      await this.abort();
      throw err;
    }
  }

  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    await this.mux.close().catch(() => {});
    this.release();
    rmSync(this.tmpPath, { force: true });
  }

  private release(): void {
    this.venc.close();
    this.aenc?.close();
    this.audioResampler?.close();
  }
}
