/**
 * The media pipeline's RtpProcessor: one speaker's RTP in, re-encoded RTP out, an AvStage in between.
 *
 *   pushRtp -> parse -> jitter buffer -> depacketize -> [decode queue] -> decode (node-av, thread pool)
 *     -> frames on the sender's clock (SenderClock: SRs) -> AvStage (identity by default)
 *     -> [video queue: drop oldest | audio queue: never drops silently] -> encode -> packetize -> 'rtp'
 *   every srIntervalMs: 'senderReport' per output stream (both on one wall clock, so listeners lip-sync)
 *
 * Nothing here blocks the SFU's event loop: parsing and (de)packetizing are cheap JS per packet, codec work runs in
 * node-av's async calls on the libuv thread pool. Output timestamps = input timestamps on the sender clock +
 * `stage.delayMs`: a constant, known delay in media time.
 *
 * Failures never cut the speaker off: a corrupt packet or frame is dropped and counted, a decoder error asks the
 * sender for a keyframe, an encoder error is counted and the next frame tried again.
 */
import type { AvStage } from '../avStage.ts';
import type { AudioFrame, VideoFrame } from '../media.ts';
import type { MediaKind, RtpProcessor, RtpProcessorEvents, RtpProcessorFactory, RtpStreamInfo } from '../stage.ts';
import { createAvStage, type AvStageOptions } from '../stages.ts';
import { SenderClock } from './clock.ts';
import {
  AudioDecoder,
  AudioEncoder,
  AudioResampler,
  codecFromMimeType,
  VideoDecoder,
  VideoEncoder,
  videoCodecId,
  audioCodecId,
  type VideoCodecName,
} from './codecs.ts';
import { Depacketizer, type EncodedFrame } from './depacketizer.ts';
import { TypedEmitter } from './emitter.ts';
import { H264PayloadFormat } from './h264.ts';
import { JitterBuffer } from './jitterBuffer.ts';
import { OpusPayloadFormat } from './opus.ts';
import type { PayloadFormat } from './payload.ts';
import { parseRtpPacket, RtpParseError } from './rtpPacket.ts';
import { RtpStreamSender } from './rtpSender.ts';
import { Vp8PayloadFormat } from './vp8.ts';
import { WorkQueue } from './queue.ts';
import { randomInt } from 'node:crypto';

export interface TranscodingProcessorOptions {
  /** Registered stage name (default `identity`) or a ready stage. */
  stage?: string | AvStage;
  /** Options for a named stage (`driveAudio` defaults to false: the speaker's own audio drives). */
  stageOptions?: Partial<AvStageOptions>;
  /** Decoded video frames that may wait for the encoder; more drops the oldest. Default 3. */
  videoQueueFrames?: number;
  /** Audio frames waiting before overload is reported (never dropped below 20x this). Default 50 (1 s of 20 ms). */
  audioQueueFrames?: number;
  /** Encoded frames waiting for the decoder before the backlog is discarded and a keyframe requested. Default 30. */
  decodeBacklogFrames?: number;
  /** Video bitrate before the input's own has been measured. Default: 0.1 bit/pixel at 30 fps, 0.3-2.5 Mbit/s. */
  videoBitrateBps?: number;
  /** Longest gap between output keyframes. Default 3000 ms. */
  keyframeIntervalMs?: number;
  /** Sender report period per output stream. Default 1000 ms. */
  senderReportIntervalMs?: number;
  /** How long the jitter buffer waits for a missing packet. Default video 100 ms, audio 60 ms. */
  videoJitterMs?: number;
  audioJitterMs?: number;
  /** Shortest time between two keyframe requests to the sender. Default 500 ms. */
  keyframeRequestIntervalMs?: number;
  /** Largest RTP payload. Default 1200 B. */
  maxPayloadBytes?: number;
  /**
   * Pace the output: each packet leaves at (local arrival time of its input + stage.delayMs + paceOutputMs), never
   * earlier; a later one leaves at once. Default undefined: packets leave as soon as they are encoded.
   *
   * Needed whenever listeners must lip-sync the outputs: mediasoup's consumers send listeners their own sender
   * reports, stamping each stream's newest RTP timestamp with the wall time mediasoup forwarded it (the processor's
   * SRs never reach listeners), so audio and video are in sync at a listener only if both leave here with the same
   * lag behind their media time, and smoothly (a burst of audio makes the listener's jitter buffer grow and keep the
   * audio late). `paceOutputMs` is the slack for stage/encoder jitter; a packet later than that leaves at once.
   */
  paceOutputMs?: number;
  /** Monotonic clock in ms (tests). Default performance.now. */
  nowMs?: () => number;
  /** Wall clock in Unix ms (tests). Default Date.now. */
  wallClockMs?: () => number;
  /** Warnings (stage warnings, overload, codec errors). Default: console.warn with a prefix. */
  onWarning?: (message: string) => void;
}

/** Counters for logs, tests and the bench. */
export interface TranscodingStats {
  rtpIn: Record<MediaKind, number>;
  rtpOut: Record<MediaKind, number>;
  /** Packets that were not valid RTP or had an unexpected payload type. */
  badPackets: number;
  framesDecoded: Record<MediaKind, number>;
  framesEncoded: Record<MediaKind, number>;
  decodeErrors: Record<MediaKind, number>;
  encodeErrors: Record<MediaKind, number>;
  /** Decoded video frames dropped because the encoder fell behind (oldest first). */
  videoFramesDropped: number;
  /** Encoded video frames discarded because the decoder fell behind (then a keyframe is requested). */
  videoDecodeBacklogDropped: number;
  /** Audio frames dropped past the hard limit (each one reported). */
  audioFramesDropped: number;
  keyframeRequestsSent: number;
  keyframesForced: number;
  senderReportsSent: number;
  ssrcChanges: Record<MediaKind, number>;
  resolutionChanges: number;
}

interface InputLane {
  info: RtpStreamInfo;
  jb: JitterBuffer;
  dp: Depacketizer;
  ssrc: number | null;
}

const OUTPUT_AUDIO_RATE = 48_000;

function payloadFormat(codec: string): PayloadFormat {
  if (codec === 'vp8') return new Vp8PayloadFormat();
  if (codec === 'h264') return new H264PayloadFormat();
  return new OpusPayloadFormat();
}

export class TranscodingProcessor extends TypedEmitter<RtpProcessorEvents> implements RtpProcessor {
  readonly outputs: readonly RtpStreamInfo[];
  readonly stats: TranscodingStats;
  private readonly opts: TranscodingProcessorOptions;
  private readonly now: () => number;
  private readonly wall: () => number;
  private readonly clock = new SenderClock();
  private readonly lanes = new Map<MediaKind, InputLane>();
  private readonly senders = new Map<MediaKind, RtpStreamSender>();
  private stage: AvStage;
  private closed = false;
  private closing: Promise<void> | null = null;
  private timers: NodeJS.Timeout[] = [];
  private readonly warn: (m: string) => void;

  private vdec: VideoDecoder | null = null;
  private adec: AudioDecoder | null = null;
  private venc: VideoEncoder | null = null;
  private aenc: AudioEncoder | null = null;
  private aresampler: AudioResampler | null = null;
  private readonly videoCodec: VideoCodecName | null;
  private readonly decodeVideo: WorkQueue<EncodedFrame & { timestampUs: number }>;
  private readonly decodeAudio: WorkQueue<EncodedFrame & { timestampUs: number }>;
  private readonly encodeVideo: WorkQueue<VideoFrame>;
  private readonly encodeAudio: WorkQueue<AudioFrame>;
  private discardUntilKeyframe = false;
  private forceKeyframe = false;
  private lastKeyframeOutMs = -Infinity;
  private lastKeyframeRequestMs = -Infinity;
  private lastOutSize = '';
  private lastOutTimestampUs: Record<MediaKind, number | null> = { audio: null, video: null };
  /** Paced packets waiting for their time (local ms), per kind, in order. */
  private readonly paced: Record<MediaKind, { mediaMs: number; packet: Buffer }[]> = { audio: [], video: [] };
  private readonly slackMs: number;
  /** Bytes of video payload in, for the bitrate the encoder aims at. */
  private videoBytesIn = 0;
  private videoBytesSinceMs: number | null = null;
  private measuredVideoBps: number | null = null;

  private constructor(inputs: readonly RtpStreamInfo[], stage: AvStage, opts: TranscodingProcessorOptions) {
    super();
    this.opts = opts;
    this.slackMs = opts.paceOutputMs ?? 0;
    this.now = opts.nowMs ?? (() => performance.now());
    this.wall = opts.wallClockMs ?? (() => Date.now());
    this.warn = opts.onWarning ?? ((m) => console.warn(`[io:transcode] ${m}`));
    this.stage = stage;
    this.stats = {
      rtpIn: { audio: 0, video: 0 },
      rtpOut: { audio: 0, video: 0 },
      badPackets: 0,
      framesDecoded: { audio: 0, video: 0 },
      framesEncoded: { audio: 0, video: 0 },
      decodeErrors: { audio: 0, video: 0 },
      encodeErrors: { audio: 0, video: 0 },
      videoFramesDropped: 0,
      videoDecodeBacklogDropped: 0,
      audioFramesDropped: 0,
      keyframeRequestsSent: 0,
      keyframesForced: 0,
      senderReportsSent: 0,
      ssrcChanges: { audio: 0, video: 0 },
      resolutionChanges: 0,
    };
    const outputs: RtpStreamInfo[] = [];
    let videoCodec: VideoCodecName | null = null;
    for (const info of inputs) {
      const codec = codecFromMimeType(info.mimeType);
      if (!codec || (info.kind === 'video') !== (codec === 'vp8' || codec === 'h264')) {
        throw new TypeError(`cannot transcode ${info.kind} ${info.mimeType}: VP8, H.264 and Opus only`);
      }
      if (this.lanes.has(info.kind)) throw new TypeError(`two ${info.kind} inputs; one per kind`);
      if (codec === 'h264' && Number(info.parameters?.['packetization-mode'] ?? 1) !== 1) {
        throw new TypeError('H.264 input must use packetization-mode 1');
      }
      if (info.kind === 'video') videoCodec = codec as VideoCodecName;
      this.clock.addStream(info.kind, info.clockRate);
      this.lanes.set(info.kind, {
        info,
        jb: new JitterBuffer({
          maxDelayMs: info.kind === 'video' ? (opts.videoJitterMs ?? 100) : (opts.audioJitterMs ?? 60),
        }),
        dp: new Depacketizer(payloadFormat(codec)),
        ssrc: null,
      });
      const out: RtpStreamInfo = { ...info, ssrc: randomInt(1, 0xffffffff) };
      outputs.push(out);
      this.senders.set(
        info.kind,
        new RtpStreamSender({
          format: payloadFormat(codec),
          payloadType: out.payloadType,
          clockRate: out.clockRate,
          ssrc: out.ssrc,
          maxPayloadBytes: opts.maxPayloadBytes ?? 1200,
        }),
      );
    }
    this.outputs = outputs;
    this.videoCodec = videoCodec;

    const onError = (kind: MediaKind, what: 'decode' | 'encode') => (err: unknown) => {
      if (what === 'decode') this.stats.decodeErrors[kind]++;
      else this.stats.encodeErrors[kind]++;
      this.warn(`${kind} ${what} error: ${err instanceof Error ? err.message : String(err)}`);
      if (what === 'decode' && kind === 'video') {
        this.discardUntilKeyframe = true;
        this.requestKeyframeUpstream();
      }
    };
    // Its backlog is bounded in route(): dropping one encoded frame breaks the next ones, so all go at once.
    this.decodeVideo = new WorkQueue({
      limit: Number.MAX_SAFE_INTEGER,
      policy: 'keep',
      handler: (f) => this.decodeVideoFrame(f),
      onError: onError('video', 'decode'),
    });
    this.decodeAudio = new WorkQueue({
      limit: opts.audioQueueFrames ?? 50,
      policy: 'keep',
      handler: (f) => this.decodeAudioFrame(f),
      onError: onError('audio', 'decode'),
      onOverload: (waiting, dropped) => this.audioOverload('decode', waiting, dropped),
    });
    this.encodeVideo = new WorkQueue({
      limit: opts.videoQueueFrames ?? 3,
      policy: 'drop-oldest',
      handler: (f) => this.encodeVideoFrame(f),
      onError: onError('video', 'encode'),
      onOverload: (_w, dropped) => {
        this.stats.videoFramesDropped = dropped;
      },
    });
    this.encodeAudio = new WorkQueue({
      limit: opts.audioQueueFrames ?? 50,
      policy: 'keep',
      handler: (f) => this.encodeAudioFrame(f),
      onError: onError('audio', 'encode'),
      onOverload: (waiting, dropped) => this.audioOverload('encode', waiting, dropped),
    });
    this.attachStage(stage);
  }

  /** Builds a processor for the tapped inputs (VP8/H.264 video, Opus audio). */
  static async create(
    inputs: readonly RtpStreamInfo[],
    opts: TranscodingProcessorOptions = {},
  ): Promise<TranscodingProcessor> {
    const stage =
      typeof opts.stage === 'object'
        ? opts.stage
        : await createAvStage(opts.stage ?? 'identity', { driveAudio: false, mode: 'live', ...opts.stageOptions });
    let p: TranscodingProcessor;
    try {
      p = new TranscodingProcessor(inputs, stage, opts);
      await p.openCodecs();
    } catch (err) {
      stage.close();
      throw err;
    }
    p.startTimers();
    return p;
  }

  private async openCodecs(): Promise<void> {
    if (this.videoCodec) this.vdec = await VideoDecoder.create({ codecId: videoCodecId(this.videoCodec) });
    if (this.lanes.has('audio')) {
      this.adec = await AudioDecoder.create({
        codecId: audioCodecId('opus'),
        outSampleRate: OUTPUT_AUDIO_RATE,
        outChannels: 1,
      });
      this.aenc = await AudioEncoder.create({ codec: 'opus', sampleRate: OUTPUT_AUDIO_RATE, channels: 1 });
      this.aresampler = new AudioResampler(OUTPUT_AUDIO_RATE, 1);
    }
  }

  private attachStage(stage: AvStage): void {
    stage.on('video', (f) => this.encodeVideo.push(f));
    stage.on('audio', (f) => this.encodeAudio.push(f));
    stage.on('warning', (m) => this.warn(`stage ${stage.name}: ${m}`));
  }

  private startTimers(): void {
    const poll = setInterval(() => {
      this.releasePaced();
      const now = this.now();
      for (const [kind, lane] of this.lanes) this.route(kind, lane, lane.jb.poll(now));
      // Still waiting for a keyframe: ask again (rate-limited), the first request may have been lost.
      const video = this.lanes.get('video');
      if (video && (video.dp.waitingForKeyframe || this.discardUntilKeyframe) && video.ssrc !== null) {
        this.requestKeyframeUpstream();
      }
    }, 10);
    const sr = setInterval(() => this.sendSenderReports(), this.opts.senderReportIntervalMs ?? 1000);
    poll.unref();
    sr.unref();
    this.timers.push(poll, sr);
  }

  /** Hot path: called by the SFU for every packet; parses and queues, never waits. */
  pushRtp(kind: MediaKind, packet: Buffer): void {
    if (this.closed) return;
    const lane = this.lanes.get(kind);
    if (!lane) return;
    this.stats.rtpIn[kind]++;
    let pkt;
    try {
      pkt = parseRtpPacket(packet);
    } catch (err) {
      if (!(err instanceof RtpParseError)) throw err;
      this.stats.badPackets++;
      return;
    }
    if (pkt.payloadType !== lane.info.payloadType) {
      this.stats.badPackets++;
      return;
    }
    const now = this.now();
    if (lane.ssrc !== pkt.ssrc) {
      if (lane.ssrc !== null) {
        this.stats.ssrcChanges[kind]++;
        this.clock.resetStream(kind);
      }
      lane.ssrc = pkt.ssrc;
    }
    // Arrival feeds the clock's pre-SR mapping; frames are mapped later with the same state.
    this.clock.toTimestampUs(kind, pkt.timestamp, now);
    if (kind === 'video') this.countVideoBytes(pkt.payload.length, now);
    this.route(kind, lane, lane.jb.processInput(pkt, now));
  }

  private route(kind: MediaKind, lane: InputLane, outs: ReturnType<JitterBuffer['processInput']>): void {
    for (const o of outs) this.routeFrames(kind, lane.dp.processInput(o));
  }

  private routeFrames(kind: MediaKind, outs: ReturnType<Depacketizer['processInput']>): void {
    for (const d of outs) {
      if (d.type === 'keyframeRequest') {
        this.requestKeyframeUpstream();
        continue;
      }
      const timestampUs = this.clock.peekTimestampUs(kind, d.frame.rtpTimestamp);
      const item = Object.assign(d.frame, { timestampUs });
      if (kind === 'video') {
        if (this.decodeVideo.waiting >= (this.opts.decodeBacklogFrames ?? 30)) {
          // Decoding fell behind: restart from the next keyframe rather than decode stale frames.
          this.stats.videoDecodeBacklogDropped += this.decodeVideo.clear();
          this.discardUntilKeyframe = true;
          this.requestKeyframeUpstream();
        }
        if (this.discardUntilKeyframe) {
          if (!item.keyframe) continue;
          this.discardUntilKeyframe = false;
        }
        this.decodeVideo.push(item);
      } else {
        this.decodeAudio.push(item);
      }
    }
  }

  private countVideoBytes(bytes: number, now: number): void {
    if (this.measuredVideoBps !== null) return;
    this.videoBytesSinceMs ??= now;
    this.videoBytesIn += bytes;
    const elapsed = now - this.videoBytesSinceMs;
    if (elapsed >= 3000) {
      this.measuredVideoBps = (this.videoBytesIn * 8 * 1000) / elapsed;
      // Aim at the sender's own rate when it is well above the guess: re-open the encoder (next frame is a keyframe).
      // Never below the size-based guess: a browser's first seconds are sent at a low rate while its bandwidth
      // estimate ramps up, and a second-generation encode at that rate blurred the dubbed face (upper face 24 dB).
      const current = this.venc ? this.currentBitrate : null;
      if (current !== null && this.clampBitrate(this.measuredVideoBps) > current * 1.3) {
        this.reopenEncoder = true; // done between two encodes, never under a running native call
      }
    }
  }

  private currentBitrate = 0;
  private reopenEncoder = false;

  private clampBitrate(bps: number): number {
    return Math.round(Math.min(4_000_000, Math.max(150_000, bps)));
  }

  private bitrateFor(width: number, height: number): number {
    const guess = this.opts.videoBitrateBps ?? Math.min(2_500_000, Math.max(300_000, width * height * 30 * 0.1));
    if (this.measuredVideoBps !== null) return Math.max(guess, this.clampBitrate(this.measuredVideoBps));
    return guess;
  }

  private async decodeVideoFrame(f: EncodedFrame & { timestampUs: number }): Promise<void> {
    const dec = this.vdec;
    if (!dec || this.closed) return;
    const frames = await dec.decode(f.data, f.timestampUs);
    for (const frame of frames) {
      this.stats.framesDecoded.video++;
      if (this.closed) return;
      this.stage.pushVideo(frame);
    }
  }

  private async decodeAudioFrame(f: EncodedFrame & { timestampUs: number }): Promise<void> {
    const dec = this.adec;
    if (!dec || this.closed) return;
    for (const frame of await dec.decodeFrames(f.data, f.timestampUs)) {
      this.stats.framesDecoded.audio++;
      if (this.closed) return;
      this.stage.pushSpeakerAudio(frame);
    }
  }

  private async encodeVideoFrame(frame: VideoFrame): Promise<void> {
    if (this.closed || !this.videoCodec) return;
    const size = `${frame.width}x${frame.height}`;
    if (this.lastOutSize && size !== this.lastOutSize) this.stats.resolutionChanges++;
    this.lastOutSize = size;
    if (this.reopenEncoder) {
      this.reopenEncoder = false;
      this.venc?.close();
      this.venc = null;
    }
    if (!this.venc) {
      this.currentBitrate = this.bitrateFor(frame.width, frame.height);
      this.venc = VideoEncoder.create({
        codec: this.videoCodec,
        bitrateBps: this.currentBitrate,
        frameRate: 30,
        keyframeIntervalFrames: Math.round(((this.opts.keyframeIntervalMs ?? 3000) / 1000) * 30),
      });
    }
    const now = this.now();
    // The encoder's GOP counts frames; a slow sender would stretch it, so the interval is also enforced in time.
    const force = this.forceKeyframe || now - this.lastKeyframeOutMs > (this.opts.keyframeIntervalMs ?? 3000);
    if (this.forceKeyframe) this.stats.keyframesForced++;
    this.forceKeyframe = false;
    const chunks = await this.venc.encode(frame, force);
    const sender = this.senders.get('video')!;
    for (const c of chunks) {
      if (this.closed) return;
      if (c.keyframe) this.lastKeyframeOutMs = now;
      this.stats.framesEncoded.video++;
      this.lastOutTimestampUs.video = c.timestampUs;
      this.send('video', sender.packetize(c.data, c.keyframe, c.timestampUs), c.timestampUs);
    }
  }

  private async encodeAudioFrame(frame: AudioFrame): Promise<void> {
    const enc = this.aenc;
    if (this.closed || !enc) return;
    const pcm =
      frame.sampleRate === OUTPUT_AUDIO_RATE && frame.channels === 1 ? frame : this.aresampler!.process(frame);
    if (!pcm) return;
    const sender = this.senders.get('audio')!;
    for (const c of await enc.encode(pcm)) {
      if (this.closed) return;
      this.stats.framesEncoded.audio++;
      this.lastOutTimestampUs.audio = c.timestampUs;
      this.send('audio', sender.packetize(c.data, true, c.timestampUs), c.timestampUs);
    }
  }

  /** Emits packets of one encoded frame now, or queues them for their time when pacing. */
  private send(kind: MediaKind, packets: Buffer[], timestampUs: number): void {
    const origin = this.clock.originLocalMs;
    if (this.opts.paceOutputMs === undefined || origin === null) {
      for (const p of packets) this.emitRtp(kind, p);
      return;
    }
    const mediaMs = origin + timestampUs / 1000;
    for (const packet of packets) this.paced[kind].push({ mediaMs, packet });
    this.releasePaced();
  }

  /** Output slack (paceOutputMs; 0 without pacing). */
  get outputSlackMs(): number {
    return this.slackMs;
  }

  private emitRtp(kind: MediaKind, packet: Buffer): void {
    this.stats.rtpOut[kind]++;
    this.safeEmit('rtp', kind, packet);
  }

  /** Sends the paced packets whose time has come (`all`: every one, at the end of input). */
  private releasePaced(all = false): void {
    const now = this.now();
    for (const kind of ['audio', 'video'] as const) {
      const q = this.paced[kind];
      let n = 0;
      while (n < q.length && (all || q[n]!.mediaMs + this.slackMs <= now)) n++;
      if (n === 0) continue;
      for (const { packet } of q.splice(0, n)) {
        if (this.closed) return;
        this.emitRtp(kind, packet);
      }
    }
  }

  private audioOverload(where: string, waiting: number, dropped: number): void {
    this.stats.audioFramesDropped = Math.max(this.stats.audioFramesDropped, dropped);
    this.warn(`audio ${where} queue overloaded: ${waiting} frames waiting, ${dropped} dropped so far`);
  }

  private requestKeyframeUpstream(): void {
    const now = this.now();
    if (now - this.lastKeyframeRequestMs < (this.opts.keyframeRequestIntervalMs ?? 500)) return;
    this.lastKeyframeRequestMs = now;
    this.stats.keyframeRequestsSent++;
    this.safeEmit('keyframeRequest');
  }

  /**
   * Output streams share one wall clock: pipeline time t (us) is wall time originWall + t/1000. Each SR pairs the
   * current wall time with the RTP timestamp of the pipeline time that maps to it.
   */
  private sendSenderReports(): void {
    const originLocal = this.clock.originLocalMs;
    if (originLocal === null || this.closed) return;
    const wall = this.wall();
    const originWall = wall - (this.now() - originLocal);
    const tUs = (wall - originWall) * 1000 + this.stage.delayMs * 1000;
    for (const [kind, sender] of this.senders) {
      if (this.lastOutTimestampUs[kind] === null) continue; // nothing sent yet: an SR would describe no packet
      this.stats.senderReportsSent++;
      this.safeEmit('senderReport', kind, wall, sender.rtpTimestampOf(tUs));
    }
  }

  /** Sender report of the original sender (via the SFU), for the input clock. */
  pushSenderReport(kind: MediaKind, ntpTimeMs: number, rtpTimestamp: number): void {
    if (this.closed || !this.lanes.has(kind)) return;
    this.clock.onSenderReport(kind, ntpTimeMs, rtpTimestamp);
  }

  /** A listener asked for a keyframe: the next encoded frame is one (no need to bother the sender). */
  requestKeyframe(): void {
    if (!this.closed) this.forceKeyframe = true;
  }

  /** Speech the lips should follow (a dub source), forwarded to the stage. */
  pushDriveAudio(frame: AudioFrame): void {
    if (!this.closed) this.stage.pushDriveAudio(frame);
  }

  /** Counters of the jitter buffers and depacketizers, per kind. */
  laneStats(kind: MediaKind) {
    const lane = this.lanes.get(kind);
    return lane ? { jitter: lane.jb.stats, depacketizer: lane.dp.stats } : undefined;
  }

  /** Resolves when everything received so far has been decoded, staged and encoded (tests, orderly shutdown). */
  async drain(): Promise<void> {
    for (const [kind, lane] of this.lanes) this.route(kind, lane, lane.jb.flush());
    for (const [kind, lane] of this.lanes) this.routeFrames(kind, lane.dp.flush());
    await this.decodeVideo.drain();
    await this.decodeAudio.drain();
    await this.stage.flush();
    await this.encodeVideo.drain();
    await this.encodeAudio.drain();
    this.releasePaced(true);
  }

  /** Idempotent. Codecs are freed once the work in flight has finished (never under a running native call). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.paced.audio.length = 0;
    this.paced.video.length = 0;
    this.removeAllListeners();
    this.closing = (async () => {
      await Promise.all([this.decodeVideo.close(), this.decodeAudio.close()]);
      try {
        this.stage.close();
      } catch (err) {
        this.warn(`stage close threw: ${String(err)}`);
      }
      await Promise.all([this.encodeVideo.close(), this.encodeAudio.close()]);
      this.vdec?.close();
      this.adec?.close();
      this.venc?.close();
      this.aenc?.close();
      this.aresampler?.close();
    })();
  }

  /** Resolves when close() has released every codec. */
  get closedPromise(): Promise<void> {
    return this.closing ?? Promise.resolve();
  }
}

/** The factory the SFU takes: `new LipsyncServer({ processorFactory: transcodingProcessorFactory() })`. */
export function transcodingProcessorFactory(opts: TranscodingProcessorOptions = {}): RtpProcessorFactory {
  return (inputs) => TranscodingProcessor.create(inputs, opts);
}
