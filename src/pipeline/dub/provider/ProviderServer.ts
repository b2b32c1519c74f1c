/**
 * Serves the provider protocol (docs/provider-protocol.md) over WebSocket: one dub session per connection, each
 * backed by its own DubSource (the embedded offline translator by default). A client's bad frames and bad messages
 * get an `error` message and are dropped; they never end another client's session or the server.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { floatToInt16Array } from '../../audio/wav.ts';
import { resample } from '../../audio/resample.ts';
import createDebug from '../debug.ts';
import { EmbeddedDubSource } from '../EmbeddedDubSource.ts';
import { TypedEmitter } from '../events.ts';
import { DubError, type DubSegment, type DubSource } from '../types.ts';
import {
  MAX_AUDIO_FRAME_BYTES,
  MAX_MESSAGE_BYTES,
  parseClientMessage,
  ProtocolError,
  type ErrorCode,
  type ServerMessage,
  type StartMessage,
} from './protocol.ts';

const debug = createDebug('provider-server');

export interface ProviderServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8765; 0 picks a free port. */
  port?: number;
  /** Builds the dub source of a session. Default: the embedded offline translator. May throw a DubError. */
  createSource?: (start: StartMessage) => DubSource;
  /** Concurrent sessions; more are refused with a fatal `overloaded` error. Default 8. */
  maxSessions?: number;
  /** Largest accepted binary audio message. Default 64 KiB. */
  maxAudioFrameBytes?: number;
}

export const defaultProviderServerOptions = {
  host: '127.0.0.1',
  port: 8765,
  maxSessions: 8,
  maxAudioFrameBytes: MAX_AUDIO_FRAME_BYTES,
} as const;

function defaultCreateSource(start: StartMessage): DubSource {
  return new EmbeddedDubSource({ sourceLanguage: start.sourceLanguage, targetLanguage: start.targetLanguage });
}

function errorCodeOf(err: unknown): ErrorCode {
  if (err instanceof ProtocolError) return err.code;
  if (err instanceof DubError) {
    if (err.code === 'missing-tool') return 'missing-tool';
    if (err.code === 'unsupported-language') return 'unsupported';
    if (err.code === 'bad-input') return 'bad-frame';
  }
  return 'internal';
}

interface ServerEvents {
  session: [{ sessionId: string }];
  sessionClose: [{ sessionId: string }];
}

export class ProviderServer extends TypedEmitter<ServerEvents> {
  private readonly wss: WebSocketServer;
  private readonly sessions = new Set<Session>();
  private readonly opts: Required<ProviderServerOptions>;
  private closed = false;

  private constructor(wss: WebSocketServer, opts: Required<ProviderServerOptions>) {
    super();
    this.wss = wss;
    this.opts = opts;
    wss.on('connection', (ws) => this.onConnection(ws));
  }

  static async listen(options: ProviderServerOptions = {}): Promise<ProviderServer> {
    const opts: Required<ProviderServerOptions> = {
      ...defaultProviderServerOptions,
      createSource: defaultCreateSource,
      ...options,
    };
    const wss = new WebSocketServer({ host: opts.host, port: opts.port, maxPayload: MAX_MESSAGE_BYTES });
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    return new ProviderServer(wss, opts);
  }

  get port(): number {
    return (this.wss.address() as AddressInfo).port;
  }

  get url(): string {
    return `ws://${this.opts.host}:${this.port}`;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  private onConnection(ws: WebSocket): void {
    if (this.closed || this.sessions.size >= this.opts.maxSessions) {
      send(ws, {
        type: 'error',
        code: 'overloaded',
        message: `server busy: ${this.sessions.size} sessions (max ${this.opts.maxSessions})`,
        retryable: true,
        fatal: true,
      });
      ws.close(1013, 'try again later');
      return;
    }
    const session = new Session(ws, this.opts);
    this.sessions.add(session);
    this.safeEmit('session', { sessionId: session.id });
    ws.on('close', () => {
      session.close();
      this.sessions.delete(session);
      this.safeEmit('sessionClose', { sessionId: session.id });
    });
  }

  /** Closes every session and stops listening. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.sessions) s.close(1001, 'server closing');
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    for (const c of this.wss.clients) c.terminate();
  }
}

function send(ws: WebSocket, msg: ServerMessage): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
}

class Session {
  readonly id = randomUUID();
  private state: 'idle' | 'starting' | 'active' | 'ending' | 'closed' = 'idle';
  private source: DubSource | undefined;
  private start: StartMessage | undefined;
  private samplesIn = 0;
  private outputRate = 24000;
  /** Control messages run one after another, so replies keep their order relative to segments. */
  private controls: Promise<void> = Promise.resolve();

  constructor(
    private readonly ws: WebSocket,
    private readonly opts: Required<ProviderServerOptions>,
  ) {
    ws.on('message', (data, isBinary) => {
      try {
        if (isBinary) this.onAudio(toBuffer(data));
        else this.onText(toBuffer(data).toString('utf8'));
      } catch (err) {
        this.sendError(err);
      }
    });
    ws.on('error', (err) => debug(`session ${this.id}: socket error ${err.message}`));
  }

  private sendError(err: unknown, fatal = false): void {
    const retryable = err instanceof DubError ? err.retryable : false;
    const message = err instanceof Error ? err.message : String(err);
    send(this.ws, { type: 'error', code: errorCodeOf(err), message, retryable, fatal });
  }

  private onAudio(buf: Buffer): void {
    if (this.state !== 'active' || !this.source || !this.start) {
      throw new ProtocolError(
        'out-of-order',
        this.state === 'starting' ? "audio before 'started': wait for it" : "audio before 'start'",
      );
    }
    if (buf.length > this.opts.maxAudioFrameBytes) {
      throw new ProtocolError(
        'frame-too-large',
        `audio message of ${buf.length} bytes; at most ${this.opts.maxAudioFrameBytes}`,
      );
    }
    const { channels, sampleRate } = this.start.audio;
    if (buf.length === 0 || buf.length % (2 * channels) !== 0) {
      throw new ProtocolError(
        'bad-frame',
        `audio message of ${buf.length} bytes is not whole ${channels}-channel 16-bit samples`,
      );
    }
    const data = new Int16Array(buf.length / 2);
    for (let i = 0; i < data.length; i++) data[i] = buf.readInt16LE(i * 2);
    const samplesPerChannel = data.length / channels;
    this.source.pushAudio({
      data,
      sampleRate,
      channels,
      samplesPerChannel,
      timestampUs: (this.samplesIn / sampleRate) * 1e6,
    });
    this.samplesIn += samplesPerChannel;
  }

  private onText(text: string): void {
    const msg = parseClientMessage(text);
    if (msg.type === 'start') {
      if (this.state !== 'idle')
        throw new ProtocolError('out-of-order', "'start' sent twice: one session per connection");
      this.state = 'starting';
      this.controls = this.controls.then(() => this.begin(msg));
      return;
    }
    if (this.state !== 'active' && !(this.state === 'starting')) {
      throw new ProtocolError('out-of-order', `'${msg.type}' before 'start'`);
    }
    this.controls = this.controls.then(async () => {
      if (this.state !== 'active' || !this.source) {
        if (this.state !== 'closed')
          this.sendError(new ProtocolError('out-of-order', `'${msg.type}' without a session`));
        return;
      }
      try {
        if (msg.type === 'clear') {
          this.source.clear();
          send(this.ws, { type: 'cleared' });
        } else if (msg.type === 'flush') {
          await this.source.flush();
          send(this.ws, { type: 'flushed' });
        } else {
          this.state = 'ending';
          await this.source.flush();
          send(this.ws, { type: 'ended' });
          this.close(1000, 'session ended');
        }
      } catch (err) {
        this.sendError(err);
      }
    });
  }

  private async begin(start: StartMessage): Promise<void> {
    let source: DubSource;
    try {
      source = this.opts.createSource(start);
      this.source = source;
      this.start = start;
      this.outputRate = start.outputSampleRate ?? 24000;
      source.on('segment', (seg) => this.sendSegment(seg));
      source.on('speechStart', ({ sourceStartMs }) => send(this.ws, { type: 'speech_start', sourceStartMs }));
      source.on('error', (err) => this.sendError(err));
      await source.start();
    } catch (err) {
      // A session that cannot start (unsupported language, missing tool) may be retried with another start.
      this.source?.close();
      this.source = undefined;
      this.start = undefined;
      if (this.state === 'starting') this.state = 'idle';
      this.sendError(err);
      return;
    }
    if (this.state !== 'starting') return; // closed meanwhile
    this.state = 'active';
    debug(
      `session ${this.id}: started ${start.sourceLanguage}->${start.targetLanguage} at ${start.audio.sampleRate} Hz`,
    );
    send(this.ws, {
      type: 'started',
      sessionId: this.id,
      output: { encoding: 'pcm_s16le', sampleRate: this.outputRate, channels: 1 },
    });
  }

  private sendSegment(seg: DubSegment): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    const pcm = floatToInt16Array(resample(seg.pcm, seg.sampleRate, this.outputRate));
    const bytes = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
    send(this.ws, {
      type: 'segment',
      segmentId: seg.id,
      sourceStartMs: seg.sourceStartMs,
      sourceEndMs: seg.sourceEndMs,
      ...(seg.speechEndMs === undefined ? {} : { speechEndMs: seg.speechEndMs }),
      language: seg.language,
      ...(seg.sourceText === undefined ? {} : { sourceText: seg.sourceText }),
      ...(seg.text === undefined ? {} : { text: seg.text }),
      ...(seg.phonemes === undefined ? {} : { phonemes: seg.phonemes }),
      latencyMs: seg.latencyMs,
      sampleRate: this.outputRate,
      samples: pcm.length,
      bytes: bytes.length,
    });
    this.ws.send(bytes);
  }

  close(code = 1000, reason = ''): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.source?.close();
    this.source = undefined;
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(code, reason);
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
