/**
 * `lipsync bot`: a meeting participant without a browser, on the Node LipsyncClient (werift). It can publish a media
 * file in real time (decode -> VP8 + Opus -> RTP -> werift tracks), choose a dub language for a speaker, record
 * what it receives of one speaker (RTP -> jitter buffer -> depacketize -> decode, through a TranscodingProcessor
 * whose stage only collects frames) to an H.264 + AAC MP4, and act as a human interpreter (`--interpret-for`: the
 * file's audio is the dub of that speaker in `--language`; `--take-over` relays the interpreter holding it).
 */
import { MediaStreamTrack } from 'werift';
import { LipsyncClient, RequestError, type RemoteTrack, type SpeakerView } from '../../client-sdk/node/index.ts';
import {
  AudioEncoder,
  FrameCollectorStage,
  FrameRateConverter,
  MediaFileReader,
  Mp4FileSink,
  OpusPayloadFormat,
  RtpStreamSender,
  TranscodingProcessor,
  VideoEncoder,
  Vp8PayloadFormat,
  type AudioFrame,
  type RtpStreamInfo,
  type VideoFrame,
} from '../../pipeline/index.ts';
import { mintToken } from '../../sfu/tokens.ts';
import { numberOption, parseOptions, UsageError } from '../args.ts';

export const summary = 'join a room as a bot: publish a file, choose a dub, record what arrives to an MP4';

const usage = `usage: lipsync bot --url ws://HOST:PORT/ws --room R (--token T | --secret S) [options]
  --url URL          the SFU's WebSocket URL
  --room R           room to join (must match the token's room)
  --token T          join token minted by the application server
  --secret S         or: the server's token secret (the bot mints its own token)
  --peer NAME        peer id (default bot-<random>; with --token, the token's peer)
  --publish FILE     publish FILE's video (VP8) and audio (Opus) in real time
  --loop             publish FILE again and again until --duration-ms
  --record OUT.mp4   record one speaker's view (H.264 + AAC) to OUT.mp4
  --speaker PEER     speaker to record / dub (default: the first other peer that publishes)
  --dub LANG         listen to the speaker dubbed into LANG (the room must offer it)
  --interpret-for P  act as P's interpreter (P = '*': the floor) into --language: publishes only the audio of
                     --publish FILE, which listeners of that language then hear as P's dub (the token must grant
                     the language; with --secret the bot mints such a token)
  --language L       the language interpreted into (with --interpret-for)
  --take-over        with --interpret-for: replace the interpreter who holds P into L now (a booth relay:
                     listeners keep hearing the dub, now this bot's voice); without it the bot is refused
                     (badState) when someone else interprets P into L
  --duration-ms N    leave after N ms (default: when the published file ends, else 30000)`;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function run(argv: string[]): Promise<number> {
  const o = parseOptions(
    argv,
    {
      url: { type: 'string' },
      room: { type: 'string' },
      token: { type: 'string' },
      secret: { type: 'string' },
      peer: { type: 'string' },
      publish: { type: 'string' },
      loop: { type: 'boolean' },
      record: { type: 'string' },
      speaker: { type: 'string' },
      dub: { type: 'string' },
      'interpret-for': { type: 'string' },
      language: { type: 'string' },
      'take-over': { type: 'boolean' },
      'duration-ms': { type: 'string' },
    },
    usage,
  );
  if (!o) return 0;
  if (!o.url) throw new UsageError(`--url is required\n${usage}`);
  if (!o.room) throw new UsageError(`--room is required\n${usage}`);
  if (!o.token === !o.secret) throw new UsageError(`give exactly one of --token and --secret\n${usage}`);
  const interpretFor = o['interpret-for'];
  if ((interpretFor === undefined) !== (o.language === undefined)) {
    throw new UsageError(`--interpret-for and --language go together\n${usage}`);
  }
  if (o['take-over'] && interpretFor === undefined) {
    throw new UsageError(`--take-over needs --interpret-for PEER|'*' and --language L (whom to relay)\n${usage}`);
  }
  if (interpretFor !== undefined && !o.publish) {
    throw new UsageError(`--interpret-for needs --publish FILE (the interpreter's voice)\n${usage}`);
  }
  const durationMs = o['duration-ms'] !== undefined ? numberOption('duration-ms', o['duration-ms'], 0, 1) : null;
  const startedMs = Date.now();
  const peer = o.peer ?? `bot-${Math.random().toString(36).slice(2, 8)}`;
  let token = o.token!;
  if (o.secret) {
    try {
      token = mintToken(o.secret, { room: o.room, peer, ...(o.language ? { interpret: [o.language] } : {}) });
    } catch (err) {
      throw new UsageError(err instanceof Error ? err.message : String(err));
    }
  }

  let client: LipsyncClient;
  try {
    client = await LipsyncClient.join({ url: o.url, token, subscribe: 'original' });
  } catch (err) {
    const why = err instanceof RequestError ? `${err.code}: ${err.message}` : String(err);
    console.error(`lipsync bot: could not join room ${o.room} at ${o.url}: ${why}`);
    return 1;
  }
  // The peer id the server gave (a --token names its own peer; --peer only names the one --secret mints).
  const log = (m: string) => console.error(`[bot ${client.peerId}] ${m}`);
  log(`joined room ${o.room}`);
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let recorder: Recorder | null = null;
  let failed = false;
  let publishing: Promise<void> | null = null;
  try {
    let published!: () => void;
    const tracksPublished = new Promise<void>((r) => (published = r));
    publishing = o.publish
      ? publishFile(client, o.publish, {
          loop: !!o.loop,
          audioOnly: interpretFor !== undefined,
          signal: abort.signal,
          log,
          onPublished: published,
        })
      : null;
    if (interpretFor !== undefined && o.language !== undefined) {
      // Publish the voice first (listeners choosing the language need its audio), wait for the speaker to be here.
      await Promise.race([tracksPublished, publishing]);
      if (interpretFor !== '*') {
        await waitForPeer(client, interpretFor, abort.signal, durationMs !== null ? startedMs + durationMs : Infinity);
      }
      if (!abort.signal.aborted) {
        const takeOver = o['take-over'] === true;
        const language = o.language;
        // Who holds exactly this (speaker, language) now (the floor's interpreter does not count), for the log.
        const previous = client.interpreters.find(
          (i) => i.speakerPeerId === interpretFor && i.language === language,
        )?.interpreterPeerId;
        await client.startInterpreting(interpretFor, o.language, takeOver ? { takeOver } : {});
        log(
          `interpreting ${interpretFor === '*' ? 'the floor' : interpretFor} into ${o.language}` +
            (takeOver && previous !== undefined && previous !== client.peerId ? ` (took over from ${previous})` : ''),
        );
      }
    }
    if (o.record || o.dub) {
      const speaker = o.speaker ?? (await firstSpeaker(client, abort.signal));
      if (speaker) {
        if (o.dub) {
          const choice = await client.setDubLanguage(speaker, o.dub);
          log(`listening to ${speaker} in ${choice?.language ?? 'original'}`);
        }
        if (o.record) {
          recorder = new Recorder(client, speaker, o.record, log);
          await recorder.start();
        }
      }
    }
    // The duration counts from the start (joining and a dub's start-up included).
    const limit = durationMs ?? (publishing && !o.loop ? null : 30_000);
    const timer = limit !== null ? sleep(Math.max(0, startedMs + limit - Date.now())) : new Promise<void>(() => {});
    await Promise.race([timer, publishing ?? timer, new Promise((r) => abort.signal.addEventListener('abort', r))]);
    abort.abort();
    await publishing?.catch((err: unknown) => {
      failed = true;
      log(`publishing failed: ${err instanceof Error ? err.message : String(err)}`);
    });
  } catch (err) {
    failed = true;
    log(err instanceof RequestError ? `${err.code}: ${err.message}` : String(err));
  } finally {
    // Stop publishing too when something above failed (a refused startInterpreting, a failed dub choice).
    abort.abort();
    await publishing?.catch(() => {});
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (recorder) {
      try {
        const r = await recorder.finish();
        log(`recorded ${r.videoFrames} video frames, ${(r.audioSeconds ?? 0).toFixed(1)} s audio to ${o.record}`);
      } catch (err) {
        failed = true;
        log(`recording failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    client.close();
  }
  const code = failed ? 1 : 0;
  // werift's sockets and timers may outlive close(): make sure the bot process ends (unref: never delays a clean exit).
  setTimeout(() => process.exit(code), 2000).unref();
  return code;
}

/** Waits until the peer is in the room, the bot is stopped or the deadline (ms since the epoch) passed. */
async function waitForPeer(
  client: LipsyncClient,
  peerId: string,
  signal: AbortSignal,
  deadlineMs: number,
): Promise<void> {
  while (!signal.aborted && !client.peers.has(peerId) && Date.now() < deadlineMs) await sleep(100);
}

/** The first other peer with a producer (waits for one). */
async function firstSpeaker(client: LipsyncClient, signal: AbortSignal): Promise<string | null> {
  while (!signal.aborted) {
    for (const p of client.producers.values()) if (p.source === 'original') return p.peerId;
    await sleep(100);
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------------
// Publishing

const OPUS_FRAME = 960; // 20 ms at 48 kHz

interface PublishFileOptions {
  loop: boolean;
  /** Publish the file's audio only (an interpreter's voice). */
  audioOnly: boolean;
  signal: AbortSignal;
  log: (m: string) => void;
  /** Called once the tracks are published, before the media starts flowing. */
  onPublished?: () => void;
}

async function publishFile(
  client: LipsyncClient,
  path: string,
  { loop, audioOnly, signal, log, onPublished }: PublishFileOptions,
): Promise<void> {
  const probe = await MediaFileReader.open(path, { audioSampleRate: 48_000, audioChannels: 1 });
  const hasVideo = !!probe.info.video && !audioOnly;
  const hasAudio = !!probe.info.audio;
  probe.close();
  const videoTrack = hasVideo ? new MediaStreamTrack({ kind: 'video' }) : null;
  const audioTrack = hasAudio ? new MediaStreamTrack({ kind: 'audio' }) : null;
  let forceKeyframe = true;
  if (videoTrack) (await client.publish(videoTrack)).onKeyframeRequest(() => (forceKeyframe = true));
  if (audioTrack) await client.publish(audioTrack);
  log(`publishing ${path}${hasVideo ? ' video' : ''}${hasAudio ? ' audio' : ''}`);
  onPublished?.();
  const vsend = new RtpStreamSender({ format: new Vp8PayloadFormat(), payloadType: 96, clockRate: 90_000 });
  const asend = new RtpStreamSender({ format: new OpusPayloadFormat(), payloadType: 111, clockRate: 48_000 });
  const venc = hasVideo ? VideoEncoder.create({ codec: 'vp8', bitrateBps: 500_000, frameRate: 25 }) : null;
  const aenc = hasAudio ? await AudioEncoder.create({ codec: 'opus', sampleRate: 48_000, channels: 1 }) : null;
  const t0 = performance.now();
  let baseUs = 0; // media time of the current pass on the bot's timeline
  try {
    do {
      const reader = await MediaFileReader.open(path, {
        audioSampleRate: 48_000,
        audioChannels: 1,
        ...(audioOnly ? { video: false } : {}),
      });
      let pending = new Int16Array(0);
      let pendingUs = 0;
      let endUs = baseUs;
      try {
        for await (const m of reader.frames()) {
          if (signal.aborted) return;
          const tUs = baseUs + m.frame.timestampUs;
          // Real-time pacing: nothing leaves before its media time.
          const waitMs = t0 + tUs / 1000 - performance.now();
          if (waitMs > 1) await sleep(waitMs);
          if (m.kind === 'video' && venc && videoTrack) {
            const f = { ...m.frame, timestampUs: tUs };
            const key = forceKeyframe;
            forceKeyframe = false;
            for (const c of await venc.encode(f, key)) {
              for (const p of vsend.packetize(c.data, c.keyframe, tUs)) videoTrack.writeRtp(p);
            }
            endUs = Math.max(endUs, tUs + 40_000);
          } else if (m.kind === 'audio' && aenc && audioTrack) {
            const a = m.frame;
            if (pending.length === 0) pendingUs = tUs;
            const joined = new Int16Array(pending.length + a.samplesPerChannel);
            joined.set(pending);
            joined.set(a.data.subarray(0, a.samplesPerChannel), pending.length);
            let off = 0;
            while (joined.length - off >= OPUS_FRAME) {
              const frame: AudioFrame = {
                data: joined.slice(off, off + OPUS_FRAME),
                sampleRate: 48_000,
                channels: 1,
                samplesPerChannel: OPUS_FRAME,
                timestampUs: pendingUs,
              };
              for (const c of await aenc.encode(frame)) {
                for (const p of asend.packetize(c.data, true, pendingUs)) audioTrack.writeRtp(p);
              }
              off += OPUS_FRAME;
              pendingUs += 20_000;
            }
            pending = joined.slice(off);
            endUs = Math.max(endUs, pendingUs);
          }
        }
      } finally {
        reader.close();
      }
      baseUs = endUs + 20_000;
    } while (loop && !signal.aborted);
  } finally {
    venc?.close();
    aenc?.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Recording

interface Segment {
  processor: TranscodingProcessor;
  /** Recording time (us since the recording started) of this segment's media time 0. */
  offsetUs: number | null;
  unsubscribe: (() => void)[];
}

/**
 * Records the speaker's current view (original or dub). When the view changes (dub on/off) the recorder switches to
 * the new tracks and keeps one continuous file: each segment's media clock is placed at the wall time it started.
 */
class Recorder {
  #sink: Mp4FileSink | null = null;
  #opening: Promise<Mp4FileSink> | null = null;
  #fr = new FrameRateConverter(25, 0);
  #segment: Segment | null = null;
  #startWallUs: number | null = null;
  #audioNextUs = 0;
  #audioSamples = 0;
  #chain: Promise<void> = Promise.resolve();
  #error: unknown = null;
  #finishing = false;
  readonly #onView = (v: SpeakerView) => {
    if (v.peerId === this.speaker) this.#chain = this.#chain.then(() => this.#switchTo(v));
  };

  constructor(
    private readonly client: LipsyncClient,
    private readonly speaker: string,
    private readonly out: string,
    private readonly log: (m: string) => void,
  ) {}

  async start(): Promise<void> {
    this.client.on('speakerview', this.#onView);
    const deadline = Date.now() + 20_000;
    // The speaker's tracks may still be on their way.
    while (!this.client.viewOf(this.speaker).video && !this.client.viewOf(this.speaker).audio) {
      if (Date.now() > deadline) throw new Error(`no media from ${this.speaker} within 20 s`);
      await sleep(100);
    }
    this.#chain = this.#chain.then(() => this.#switchTo(this.client.viewOf(this.speaker)));
    await this.#chain;
  }

  #wallUs(): number {
    return performance.now() * 1000;
  }

  async #switchTo(view: SpeakerView): Promise<void> {
    const tracks = [view.audio, view.video].filter((t): t is RemoteTrack => !!t);
    if (this.#segment) {
      const old = this.#segment;
      this.#segment = null;
      for (const u of old.unsubscribe) u();
      await old.processor.drain().catch(() => {});
      old.processor.close();
    }
    if (tracks.length === 0) return;
    const infos: RtpStreamInfo[] = [];
    for (const t of tracks) {
      const params = this.client.consumerOf(t.consumerId)?.rtpParameters;
      const codec = params?.codecs[0];
      const ssrc = params?.encodings?.[0]?.ssrc;
      if (!codec || ssrc === undefined) continue;
      infos.push({
        kind: t.kind,
        mimeType: codec.mimeType,
        payloadType: codec.payloadType,
        clockRate: codec.clockRate,
        ...(codec.channels !== undefined ? { channels: codec.channels } : {}),
        ssrc,
      });
    }
    this.#startWallUs ??= this.#wallUs();
    const seg: Segment = { processor: undefined as unknown as TranscodingProcessor, offsetUs: null, unsubscribe: [] };
    const place = (tUs: number) => {
      seg.offsetUs ??= this.#wallUs() - this.#startWallUs! - tUs;
      return tUs + seg.offsetUs;
    };
    const stage = new FrameCollectorStage('record', {
      onVideo: (f) => this.#video({ ...f, timestampUs: place(f.timestampUs) }),
      onAudio: (f) => this.#audio({ ...f, timestampUs: place(f.timestampUs) }),
    });
    seg.processor = await TranscodingProcessor.create(infos, { stage, onWarning: () => {} });
    for (const t of tracks) {
      const kind = t.kind;
      const sub = t.track.onReceiveRtp.subscribe((rtp) => seg.processor.pushRtp(kind, rtp.serialize()));
      seg.unsubscribe.push(() => sub.unSubscribe());
    }
    this.#segment = seg;
    this.log(`recording ${this.speaker} (${view.language ?? 'original'})`);
  }

  #video(f: VideoFrame): void {
    if (f.timestampUs < 0) return;
    for (const out of this.#fr.processInput(f)) this.#write((s) => s.writeVideo(out), out);
  }

  #audio(f: AudioFrame): void {
    if (f.timestampUs < 0) return;
    // The file's audio is a sample count: fill gaps with silence, skip what overlaps what was written.
    const gapUs = f.timestampUs - this.#audioNextUs;
    const frames: AudioFrame[] = [];
    if (gapUs > 30_000) {
      const n = Math.round((gapUs * f.sampleRate) / 1e6);
      frames.push({ ...f, data: new Int16Array(n * f.channels), samplesPerChannel: n });
    } else if (gapUs < -30_000) {
      return;
    }
    frames.push(f);
    for (const a of frames) {
      this.#audioNextUs += (a.samplesPerChannel / a.sampleRate) * 1e6;
      this.#audioSamples += a.samplesPerChannel / a.sampleRate;
      this.#write((s) => s.writeAudio(a), null);
    }
  }

  /** Writes in order; the sink opens at the first video frame (its size). Audio before it waits in the chain. */
  #write(op: (s: Mp4FileSink) => Promise<void>, video: VideoFrame | null): void {
    if (!this.#opening && video) {
      this.#opening = Mp4FileSink.open(this.out, { width: video.width, height: video.height, fps: 25 });
    }
    this.#chain = this.#chain
      .then(async () => {
        if (!this.#opening) {
          // Audio before any video: wait for the first video frame's size (or finish without video).
          await this.#waitOpening();
        }
        const sink = (this.#sink ??= await this.#opening!);
        await op(sink);
      })
      .catch((err: unknown) => {
        this.#error ??= err;
      });
  }

  async #waitOpening(): Promise<void> {
    while (!this.#opening) {
      if (this.#finishing) throw new Error('no video arrived');
      await sleep(20);
    }
  }

  async finish(): Promise<{ videoFrames: number; audioSeconds: number }> {
    this.client.off('speakerview', this.#onView);
    this.#finishing = true;
    const seg = this.#segment;
    this.#segment = null;
    if (seg) {
      for (const u of seg.unsubscribe) u();
      await seg.processor.drain().catch(() => {});
      seg.processor.close();
    }
    for (const out of this.#fr.flush()) this.#write((s) => s.writeVideo(out), out);
    if (!this.#opening) throw new Error(`no video received from ${this.speaker}; nothing recorded`);
    await this.#chain;
    if (this.#error) throw this.#error instanceof Error ? this.#error : new Error('recording failed');
    const sink = this.#sink ?? (await this.#opening);
    await sink.finish();
    return { videoFrames: sink.videoFrames, audioSeconds: this.#audioSamples };
  }
}
