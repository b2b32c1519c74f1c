/**
 * node-av (FFmpeg) decoders, encoders, scaler and resampler behind the pipeline's own frame types.
 *
 * Codec work goes through node-av's async API (`sendPacket`/`receiveFrame`/`encodeAll`), which runs FFmpeg on the
 * libuv thread pool: the JS event loop that serves the SFU keeps turning while a frame is decoded or encoded
 * (measured: timers keep firing during decode, see test/io/codecs.test.ts).
 *
 * Decoders are the low-level CodecContext so the same class serves RTP (no container, codec id only) and files
 * (codec parameters from the demuxer). Encoders wrap node-av's high-level Encoder, which opens lazily on the first
 * frame and re-frames audio to the codec's frame size (AAC 1024, Opus 960).
 */
import {
  AV_CHANNEL_LAYOUT_MONO,
  AV_CHANNEL_LAYOUT_STEREO,
  AV_CODEC_ID_AAC,
  AV_CODEC_ID_H264,
  AV_CODEC_ID_OPUS,
  AV_CODEC_ID_VP8,
  AV_LOG_FATAL,
  AV_PICTURE_TYPE_I,
  AV_PICTURE_TYPE_NONE,
  AV_PIX_FMT_YUV420P,
  AV_SAMPLE_FMT_S16,
  AVERROR_EAGAIN,
  AVERROR_EOF,
  Codec,
  CodecContext,
  Encoder,
  FF_ENCODER_AAC,
  FF_ENCODER_LIBOPUS,
  FF_ENCODER_LIBVPX_VP8,
  FF_ENCODER_LIBX264,
  FFmpegError,
  Frame,
  Log,
  Packet,
  Rational,
  SoftwareResampleContext,
  SoftwareScaleContext,
  SWS_BILINEAR,
  type AVCodecID,
  type AVPixelFormat,
  type AVSampleFormat,
  type ChannelLayout,
  type CodecParameters,
  type IRational,
} from 'node-av';
import type { AudioFrame, PcmChunk, VideoFrame } from '../media.ts';
import { frameByteLength } from '../media.ts';

// libvpx prints its version banner and FFmpeg logs every concealed slice error: the pipeline reports errors itself.
if (!process.env.LIPSYNC_AV_LOG) Log.setLevel(AV_LOG_FATAL);

/** Codecs the live path speaks. */
export type VideoCodecName = 'vp8' | 'h264';
export type AudioCodecName = 'opus' | 'aac';

/** A codec operation failed (corrupt data, unsupported stream). The media path catches it and falls back. */
export class CodecError extends Error {
  override name = 'CodecError';
}

const US: IRational = { num: 1, den: 1_000_000 };

export function videoCodecId(name: VideoCodecName): AVCodecID {
  return name === 'vp8' ? AV_CODEC_ID_VP8 : AV_CODEC_ID_H264;
}

export function audioCodecId(name: AudioCodecName): AVCodecID {
  return name === 'opus' ? AV_CODEC_ID_OPUS : AV_CODEC_ID_AAC;
}

/** `video/VP8` -> `vp8`; undefined for codecs the pipeline does not transcode. */
export function codecFromMimeType(mimeType: string): VideoCodecName | AudioCodecName | undefined {
  switch (mimeType.toLowerCase()) {
    case 'video/vp8':
      return 'vp8';
    case 'video/h264':
      return 'h264';
    case 'audio/opus':
      return 'opus';
    default:
      return undefined;
  }
}

function toUs(pts: bigint, tb: IRational): number {
  return (Number(pts) * tb.num * 1e6) / tb.den;
}

function fromUs(us: number, tb: IRational): bigint {
  return BigInt(Math.round((us * tb.den) / (tb.num * 1e6)));
}

/** Converts any decoded video frame to tightly packed I420 (swscale only when the format or size differs). */
export class I420Converter {
  private sws: SoftwareScaleContext | null = null;
  private key = '';
  private dst: Frame | null = null;

  /** `width`/`height` default to the source size. */
  convert(src: Frame, width = src.width, height = src.height): Uint8Array {
    if (src.format === AV_PIX_FMT_YUV420P && width === src.width && height === src.height) {
      return src.toBuffer();
    }
    const key = `${src.width}x${src.height}:${src.format}->${width}x${height}`;
    if (key !== this.key || !this.sws || !this.dst) {
      this.release();
      this.sws = new SoftwareScaleContext();
      this.sws.getContext(
        src.width,
        src.height,
        src.format as AVPixelFormat,
        width,
        height,
        AV_PIX_FMT_YUV420P,
        SWS_BILINEAR,
      );
      this.dst = new Frame();
      this.dst.alloc();
      this.dst.width = width;
      this.dst.height = height;
      this.dst.format = AV_PIX_FMT_YUV420P;
      FFmpegError.throwIfError(this.dst.getBuffer(0), 'frame buffer');
      this.key = key;
    }
    FFmpegError.throwIfError(this.sws.scaleFrameSync(this.dst, src), 'swscale');
    return this.dst.toBuffer();
  }

  release(): void {
    this.sws?.freeContext();
    this.dst?.free();
    this.sws = null;
    this.dst = null;
    this.key = '';
  }
}

/** Scales an I420 frame to another size (bilinear). Returns the frame itself when the size already matches. */
export function scaleI420(frame: VideoFrame, width: number, height: number): VideoFrame {
  if (frame.width === width && frame.height === height && frame.format === 'i420') return frame;
  if (frame.format !== 'i420') throw new CodecError(`scaleI420: expected an i420 frame, got ${frame.format}`);
  const src = videoFrameToAv(frame, US);
  const conv = new I420Converter();
  try {
    return { data: conv.convert(src, width, height), format: 'i420', width, height, timestampUs: frame.timestampUs };
  } finally {
    conv.release();
    src.free();
  }
}

/** Wraps a pipeline frame in an FFmpeg frame (one copy). */
export function videoFrameToAv(frame: VideoFrame, timeBase: IRational): Frame {
  if (frame.format !== 'i420') throw new CodecError(`encoder input must be i420, got ${frame.format}`);
  const expected = frameByteLength('i420', frame.width, frame.height);
  if (frame.data.byteLength < expected) {
    throw new CodecError(
      `i420 frame ${frame.width}x${frame.height} needs ${expected} bytes, got ${frame.data.byteLength}`,
    );
  }
  const buf = Buffer.from(frame.data.buffer, frame.data.byteOffset, expected);
  return Frame.fromVideoBuffer(buf, {
    width: frame.width,
    height: frame.height,
    format: AV_PIX_FMT_YUV420P,
    timeBase,
    pts: fromUs(frame.timestampUs, timeBase),
  });
}

function layoutFor(channels: number): ChannelLayout {
  return channels === 1 ? AV_CHANNEL_LAYOUT_MONO : AV_CHANNEL_LAYOUT_STEREO;
}

/** Wraps interleaved s16 PCM in an FFmpeg frame. */
export function audioFrameToAv(frame: AudioFrame, timeBase: IRational): Frame {
  if (frame.channels !== 1 && frame.channels !== 2) {
    throw new CodecError(`audio frames must be mono or stereo, got ${frame.channels} channels`);
  }
  const bytes = frame.samplesPerChannel * frame.channels * 2;
  const buf = Buffer.from(frame.data.buffer, frame.data.byteOffset, bytes);
  return Frame.fromAudioBuffer(buf, {
    nbSamples: frame.samplesPerChannel,
    format: AV_SAMPLE_FMT_S16,
    sampleRate: frame.sampleRate,
    channelLayout: layoutFor(frame.channels),
    timeBase,
    pts: fromUs(frame.timestampUs, timeBase),
  });
}

export interface DecoderOptions {
  codecId: AVCodecID;
  /** Codec parameters from a demuxer (extradata, size); absent for RTP. */
  codecpar?: CodecParameters;
  /** Time base of packet timestamps; default microseconds. */
  timeBase?: IRational;
  /** Decoder threads (default 1: one core per stream, no frame-threading latency). */
  threadCount?: number;
}

abstract class BaseDecoder<T> {
  protected ctx: CodecContext | null;
  protected readonly timeBase: IRational;
  private readonly frame = new Frame();
  private readonly packet = new Packet();
  /** Packets the codec rejected (corrupt data). */
  errors = 0;

  protected constructor(ctx: CodecContext, timeBase: IRational) {
    this.ctx = ctx;
    this.timeBase = timeBase;
    this.frame.alloc();
    this.packet.alloc();
  }

  protected static async openContext(opts: DecoderOptions): Promise<CodecContext> {
    const codec = Codec.findDecoder(opts.codecId);
    if (!codec) throw new CodecError(`no decoder for codec id ${opts.codecId}`);
    const ctx = new CodecContext();
    ctx.allocContext3(codec);
    if (opts.codecpar) FFmpegError.throwIfError(ctx.parametersToContext(opts.codecpar), 'decoder parameters');
    ctx.threadCount = opts.threadCount ?? 1;
    const tb = opts.timeBase ?? US;
    ctx.pktTimebase = new Rational(tb.num, tb.den);
    const ret = await ctx.open2(codec, null);
    if (ret < 0) {
      ctx.freeContext();
      throw new CodecError(`cannot open decoder ${codec.name ?? opts.codecId}: ${FFmpegError.strerror(ret)}`);
    }
    return ctx;
  }

  protected abstract convert(frame: Frame, timestampUs: number): T;

  /** Decodes one access unit; `data` null drains the decoder at end of stream. Throws CodecError on corrupt data. */
  async decode(data: Buffer | null, timestampUs: number): Promise<T[]> {
    if (data === null) return this.decodePacket(null);
    this.packet.data = data;
    this.packet.pts = fromUs(timestampUs, this.timeBase);
    this.packet.dts = this.packet.pts;
    try {
      return await this.decodePacket(this.packet);
    } finally {
      this.packet.unref();
    }
  }

  /** Decodes a demuxed packet (its own pts/dts in the decoder's time base); null drains. */
  async decodePacket(packet: Packet | null): Promise<T[]> {
    const ctx = this.ctx;
    if (!ctx) throw new CodecError('decoder is closed');
    const out: T[] = [];
    const sent = await ctx.sendPacket(packet);
    if (sent < 0 && sent !== AVERROR_EOF && sent !== AVERROR_EAGAIN) {
      this.errors++;
      throw new CodecError(`decode failed: ${FFmpegError.strerror(sent)}`);
    }
    for (;;) {
      const ret = await ctx.receiveFrame(this.frame);
      if (ret === AVERROR_EAGAIN || ret === AVERROR_EOF) break;
      if (ret < 0) {
        this.errors++;
        throw new CodecError(`decode failed: ${FFmpegError.strerror(ret)}`);
      }
      const ts = this.frame.bestEffortTimestamp;
      // AV_NOPTS_VALUE is INT64_MIN: fall back to pts, then 0.
      const pts = ts > -(1n << 62n) ? ts : this.frame.pts > -(1n << 62n) ? this.frame.pts : 0n;
      try {
        out.push(this.convert(this.frame, toUs(pts, this.timeBase)));
      } finally {
        this.frame.unref();
      }
    }
    return out;
  }

  /** Forgets reference frames (after an SSRC change or a seek). */
  reset(): void {
    this.ctx?.flushBuffers();
  }

  close(): void {
    if (!this.ctx) return;
    this.ctx.freeContext();
    this.ctx = null;
    this.frame.free();
    this.packet.free();
    this.release();
  }

  protected release(): void {}
}

/** Decodes to I420 VideoFrames (any source pixel format is converted). */
export class VideoDecoder extends BaseDecoder<VideoFrame> {
  private readonly i420 = new I420Converter();

  static async create(opts: DecoderOptions): Promise<VideoDecoder> {
    return new VideoDecoder(await BaseDecoder.openContext(opts), opts.timeBase ?? US);
  }

  protected convert(frame: Frame, timestampUs: number): VideoFrame {
    // Odd sizes are rounded down to even so every downstream I420 consumer sees whole chroma samples.
    const width = frame.width & ~1;
    const height = frame.height & ~1;
    return { data: this.i420.convert(frame, width, height), format: 'i420', width, height, timestampUs };
  }

  protected override release(): void {
    this.i420.release();
  }
}

/**
 * Converts FFmpeg audio frames of any sample format/layout/rate to interleaved s16 at a target rate and channel
 * count. Output timestamps are anchored on the first input timestamp and advance by output samples, re-anchored when
 * the input jumps (a gap or an overlap of more than `maxDriftUs`), so long runs accumulate no rounding drift.
 */
export class AudioConverter {
  private swr: SoftwareResampleContext | null = null;
  private key = '';
  private anchorUs = 0;
  private emitted = 0;
  private expectedNextUs: number | null = null;
  private out: Buffer = Buffer.alloc(0);
  private curRate = 48_000;
  private curChannels = 1;

  constructor(
    readonly outSampleRate: number | null,
    readonly outChannels: number | null,
    private readonly maxDriftUs = 20_000,
  ) {}

  private setup(format: AVSampleFormat, rate: number, layout: ChannelLayout): void {
    const outRate = this.outSampleRate ?? rate;
    const outChannels = this.outChannels ?? Math.min(2, layout.nbChannels);
    const key = `${format}:${rate}:${layout.nbChannels}:${layout.mask}`;
    if (key === this.key && this.swr) return;
    this.swr?.free();
    this.curRate = outRate;
    this.curChannels = outChannels;
    const swr = new SoftwareResampleContext();
    FFmpegError.throwIfError(
      swr.allocSetOpts2(layoutFor(outChannels), AV_SAMPLE_FMT_S16, outRate, layout, format, rate),
      'swr_alloc_set_opts2',
    );
    FFmpegError.throwIfError(swr.init(), 'swr_init');
    this.swr = swr;
    this.key = key;
  }

  /** Converts one FFmpeg audio frame whose first sample is at `timestampUs`. */
  convertAv(frame: Frame, timestampUs: number): AudioFrame | null {
    const layout = frame.channelLayout;
    this.setup(frame.format as AVSampleFormat, frame.sampleRate, layout);
    const planes = frame.extendedData ?? frame.data;
    if (!planes) return null;
    return this.run(planes, frame.nbSamples, frame.sampleRate, timestampUs);
  }

  /** Converts interleaved s16 PCM. */
  convertFrame(frame: AudioFrame): AudioFrame | null {
    this.setup(AV_SAMPLE_FMT_S16, frame.sampleRate, layoutFor(frame.channels));
    const bytes = frame.samplesPerChannel * frame.channels * 2;
    const buf = Buffer.from(frame.data.buffer, frame.data.byteOffset, bytes);
    return this.run([buf], frame.samplesPerChannel, frame.sampleRate, frame.timestampUs);
  }

  /** Emits what the resampler still holds (end of stream). */
  drain(): AudioFrame | null {
    if (!this.swr) return null;
    return this.run(null, 0, this.curRate, null);
  }

  private run(
    planes: Buffer[] | null,
    inSamples: number,
    inRate: number,
    timestampUs: number | null,
  ): AudioFrame | null {
    const swr = this.swr!;
    const outRate = this.curRate;
    const channels = this.curChannels;
    if (timestampUs !== null) {
      if (this.expectedNextUs === null || Math.abs(timestampUs - this.expectedNextUs) > this.maxDriftUs) {
        // Start or discontinuity: anchor output time on the input, minus what swr still holds back.
        const heldUs = Number(swr.getDelay(BigInt(1_000_000)));
        this.anchorUs = timestampUs - heldUs;
        this.emitted = 0;
      }
      this.expectedNextUs = timestampUs + (inSamples * 1e6) / inRate;
    }
    const maxOut = swr.getOutSamples(inSamples) + 32;
    const need = maxOut * channels * 2;
    if (this.out.length < need) this.out = Buffer.alloc(need);
    const n = swr.convertSync([this.out], maxOut, planes, inSamples);
    if (n < 0) throw new CodecError(`resample failed: ${FFmpegError.strerror(n)}`);
    if (n === 0) return null;
    // Copy out: the scratch buffer is reused and frames may be kept by stages.
    const data = new Int16Array(n * channels);
    data.set(new Int16Array(this.out.buffer, this.out.byteOffset, n * channels));
    const ts = this.anchorUs + (this.emitted * 1e6) / outRate;
    this.emitted += n;
    return { data, sampleRate: outRate, channels, samplesPerChannel: n, timestampUs: ts };
  }

  close(): void {
    this.swr?.free();
    this.swr = null;
    this.key = '';
  }
}

/** Decodes to interleaved s16 AudioFrames at the stream's own rate (mono or stereo; more channels are downmixed). */
export class AudioDecoder extends BaseDecoder<AudioFrame | null> {
  private readonly conv: AudioConverter;

  private constructor(ctx: CodecContext, timeBase: IRational, outRate: number | null, outChannels: number | null) {
    super(ctx, timeBase);
    this.conv = new AudioConverter(outRate, outChannels);
  }

  static async create(opts: DecoderOptions & { outSampleRate?: number; outChannels?: number }): Promise<AudioDecoder> {
    const ctx = await BaseDecoder.openContext(opts);
    return new AudioDecoder(ctx, opts.timeBase ?? US, opts.outSampleRate ?? null, opts.outChannels ?? null);
  }

  protected convert(frame: Frame, timestampUs: number): AudioFrame | null {
    return this.conv.convertAv(frame, timestampUs);
  }

  /** Decodes and removes the nulls (resampler still filling). */
  async decodeFrames(data: Buffer | null, timestampUs: number): Promise<AudioFrame[]> {
    const frames = await this.decode(data, timestampUs);
    const out = frames.filter((f): f is AudioFrame => f !== null);
    if (data === null) {
      const tail = this.conv.drain();
      if (tail) out.push(tail);
    }
    return out;
  }

  protected override release(): void {
    this.conv.close();
  }
}

/** Resamples s16 AudioFrames to another rate/channel count (swresample). */
export class AudioResampler {
  private readonly conv: AudioConverter;

  constructor(
    readonly sampleRate: number,
    readonly channels: 1 | 2,
  ) {
    this.conv = new AudioConverter(sampleRate, channels);
  }

  process(frame: AudioFrame): AudioFrame | null {
    return this.conv.convertFrame(frame);
  }

  flush(): AudioFrame | null {
    return this.conv.drain();
  }

  close(): void {
    this.conv.close();
  }
}

/** The form the audio models take: 16 kHz mono float. */
export class PcmResampler {
  private readonly resampler: AudioResampler;

  constructor(readonly sampleRate = 16_000) {
    this.resampler = new AudioResampler(sampleRate, 1);
  }

  process(frame: AudioFrame): PcmChunk | null {
    return toPcm(this.resampler.process(frame));
  }

  flush(): PcmChunk | null {
    return toPcm(this.resampler.flush());
  }

  close(): void {
    this.resampler.close();
  }
}

function toPcm(frame: AudioFrame | null): PcmChunk | null {
  if (!frame) return null;
  const samples = new Float32Array(frame.samplesPerChannel);
  for (let i = 0; i < samples.length; i++) samples[i] = (frame.data[i] ?? 0) / 32768;
  return { samples, sampleRate: frame.sampleRate, timestampUs: frame.timestampUs };
}

/** One encoded access unit. */
export interface EncodedChunk {
  data: Buffer;
  timestampUs: number;
  durationUs: number;
  keyframe: boolean;
}

export interface VideoEncoderOptions {
  codec: VideoCodecName;
  /** Target bitrate in bits per second. */
  bitrateBps: number;
  /** Longest run of frames without a keyframe (bounded so a lost keyframe heals). Default 3 s at frameRate. */
  keyframeIntervalFrames?: number;
  /** Nominal frame rate for rate control. Default 25. */
  frameRate?: number;
  /** Encoder time base; default 1/90000 (RTP video clock). */
  timeBase?: IRational;
  /** Live settings (libvpx realtime, x264 ultrafast+zerolatency). Offline: slower, better presets. Default true. */
  realtime?: boolean;
  /** Encoder threads. Default 1 (the bench's one-core figure). */
  threadCount?: number;
  /** libvpx speed in realtime mode (4..16; higher is faster, lower quality). Default 8. */
  vp8CpuUsed?: number;
  /** x264 only: constant-quality mode instead of bitrate (offline). */
  crf?: number;
}

/**
 * A video encoder for one size. `encode` re-creates the codec when the frame size changes (a sender that switched
 * resolution): the first frame at the new size is a keyframe.
 */
export class VideoEncoder {
  private enc: Encoder | null = null;
  private width = 0;
  private height = 0;
  private readonly tb: IRational;
  private closed = false;
  /** Encoders re-created because the input size changed. */
  reinits = 0;

  private constructor(private readonly opts: VideoEncoderOptions) {
    this.tb = opts.timeBase ?? { num: 1, den: 90_000 };
  }

  static create(opts: VideoEncoderOptions): VideoEncoder {
    return new VideoEncoder(opts);
  }

  /** The node-av encoder of the current size (the file sink hands it to the muxer). Opens it if needed. */
  async native(width: number, height: number): Promise<Encoder> {
    if (this.enc && width === this.width && height === this.height) return this.enc;
    if (this.enc) {
      this.enc.close();
      this.reinits++;
    }
    this.enc = await this.open();
    this.width = width;
    this.height = height;
    return this.enc;
  }

  private async open(): Promise<Encoder> {
    const o = this.opts;
    const fps = o.frameRate ?? 25;
    const gop = o.keyframeIntervalFrames ?? Math.round(fps * 3);
    const realtime = o.realtime ?? true;
    const common = {
      gopSize: gop,
      maxBFrames: 0,
      threadCount: o.threadCount ?? 1,
      context: { framerate: { num: fps, den: 1 } } as never,
    };
    if (o.codec === 'vp8') {
      return Encoder.create(FF_ENCODER_LIBVPX_VP8, {
        ...common,
        bitrate: o.bitrateBps,
        // Realtime deadline at the fastest speed that still holds 35 dB at 1.5 Mbit/s 512x512 (bench).
        options: realtime
          ? {
              deadline: 'realtime',
              'cpu-used': o.vp8CpuUsed ?? 8,
              'lag-in-frames': 0,
              'error-resilient': 'default',
              'static-thresh': 0,
              'undershoot-pct': 95,
              'max-intra-rate': 300,
            }
          : { deadline: 'good', 'cpu-used': 2 },
      });
    }
    const x264opts: Record<string, string> = realtime
      ? { preset: 'ultrafast', tune: 'zerolatency', profile: 'baseline' }
      : { preset: 'veryfast', profile: 'high' };
    return Encoder.create(FF_ENCODER_LIBX264, {
      ...common,
      ...(o.crf !== undefined ? {} : { bitrate: o.bitrateBps }),
      options: { ...x264opts, ...(o.crf !== undefined ? { crf: o.crf } : {}), 'forced-idr': 1 } as never,
    });
  }

  /** Encodes one I420 frame; `keyframe` forces an intra frame (a listener's PLI). Returns node-av packets. */
  async encodeNative(frame: VideoFrame, keyframe = false): Promise<Packet[]> {
    if (this.closed) throw new CodecError('encoder is closed');
    const enc = await this.native(frame.width, frame.height);
    const av = videoFrameToAv(frame, this.tb);
    av.pictType = keyframe ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    try {
      return await enc.encodeAll(av);
    } finally {
      av.free();
    }
  }

  /** Encodes one frame and copies the packets out. */
  async encode(frame: VideoFrame, keyframe = false): Promise<EncodedChunk[]> {
    return this.toChunks(await this.encodeNative(frame, keyframe));
  }

  /** Drains delayed packets (none in realtime mode). */
  async flushNative(): Promise<Packet[]> {
    if (!this.enc || this.closed) return [];
    return this.enc.encodeAll(null);
  }

  async flush(): Promise<EncodedChunk[]> {
    return this.toChunks(await this.flushNative());
  }

  private toChunks(packets: Packet[]): EncodedChunk[] {
    const out: EncodedChunk[] = [];
    for (const p of packets) {
      if (p.data) {
        out.push({
          data: Buffer.from(p.data),
          timestampUs: toUs(p.pts, p.timeBase),
          durationUs: toUs(p.duration, p.timeBase),
          keyframe: p.isKeyframe,
        });
      }
      p.free();
    }
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.enc?.close();
    this.enc = null;
  }
}

export interface AudioEncoderOptions {
  codec: AudioCodecName;
  sampleRate?: number;
  channels?: 1 | 2;
  bitrateBps?: number;
}

/** Opus (live, 20 ms frames) or AAC (files). Input: s16 frames at `sampleRate`/`channels`. */
export class AudioEncoder {
  private enc: Encoder | null;
  readonly sampleRate: number;
  readonly channels: 1 | 2;
  private readonly tb: IRational;

  private constructor(enc: Encoder, sampleRate: number, channels: 1 | 2) {
    this.enc = enc;
    this.sampleRate = sampleRate;
    this.channels = channels;
    this.tb = { num: 1, den: sampleRate };
  }

  static async create(opts: AudioEncoderOptions): Promise<AudioEncoder> {
    const sampleRate = opts.sampleRate ?? 48_000;
    const channels = opts.channels ?? 1;
    const bitrate = opts.bitrateBps ?? (opts.codec === 'opus' ? 32_000 * channels : 64_000 * channels);
    const enc =
      opts.codec === 'opus'
        ? await Encoder.create(FF_ENCODER_LIBOPUS, {
            bitrate,
            options: { application: 'audio', frame_duration: 20, vbr: 'on' } as never,
          })
        : await Encoder.create(FF_ENCODER_AAC, { bitrate, autoResample: true });
    return new AudioEncoder(enc, sampleRate, channels);
  }

  get native(): Encoder {
    if (!this.enc) throw new CodecError('encoder is closed');
    return this.enc;
  }

  async encodeNative(frame: AudioFrame): Promise<Packet[]> {
    if (frame.sampleRate !== this.sampleRate || frame.channels !== this.channels) {
      throw new CodecError(
        `audio encoder takes ${this.sampleRate} Hz x${this.channels}, got ${frame.sampleRate} Hz x${frame.channels}`,
      );
    }
    const av = audioFrameToAv(frame, this.tb);
    try {
      return await this.native.encodeAll(av);
    } finally {
      av.free();
    }
  }

  async encode(frame: AudioFrame): Promise<EncodedChunk[]> {
    return toAudioChunks(await this.encodeNative(frame));
  }

  async flushNative(): Promise<Packet[]> {
    if (!this.enc) return [];
    return this.enc.encodeAll(null);
  }

  async flush(): Promise<EncodedChunk[]> {
    return toAudioChunks(await this.flushNative());
  }

  close(): void {
    this.enc?.close();
    this.enc = null;
  }
}

function toAudioChunks(packets: Packet[]): EncodedChunk[] {
  const out: EncodedChunk[] = [];
  for (const p of packets) {
    if (p.data) {
      out.push({
        data: Buffer.from(p.data),
        timestampUs: toUs(p.pts, p.timeBase),
        durationUs: toUs(p.duration, p.timeBase),
        keyframe: true,
      });
    }
    p.free();
  }
  return out;
}
