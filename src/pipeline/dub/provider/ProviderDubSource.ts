/**
 * A dub source backed by an external provider speaking the `lipsync-dub/1` WebSocket protocol
 * (docs/provider-protocol.md): the speaker's audio goes out as 16-bit PCM in the declared format, dubbed segments
 * come back with their text and phoneme timings. `lipsync translate-server` is one such provider.
 */
import WebSocket from 'ws';
import { Resampler } from '../../audio/resample.ts';
import { floatToInt16Array, int16ToFloatArray } from '../../audio/wav.ts';
import type { AudioFrame } from '../../media.ts';
import { TypedEmitter } from '../events.ts';
import { checkAudioFrame, frameToMono } from '../SpeechInput.ts';
import { DubError, type DubSource, type DubSourceEvents } from '../types.ts';
import {
  PROTOCOL,
  parseServerMessage,
  SUPPORTED_SAMPLE_RATES,
  type ErrorMessage,
  type SegmentMessage,
  type StartMessage,
} from './protocol.ts';

export interface ProviderDubSourceOptions {
  /** `ws://host:port` of the provider. */
  url: string;
  /** Default `en`. */
  sourceLanguage?: string;
  targetLanguage: string;
  /** Rate the audio is sent at (frames are resampled and mixed to mono). Default 16000. */
  sendSampleRate?: number;
  /** Rate of the segment audio asked for. Default 24000. */
  outputSampleRate?: number;
  /** Default 10000 ms (the provider may load models before answering `started`). */
  connectTimeoutMs?: number;
  /** Audio per binary message. Default 20 ms. */
  frameMs?: number;
}

export const defaultProviderDubSourceOptions = {
  sourceLanguage: 'en',
  sendSampleRate: 16000,
  outputSampleRate: 24000,
  connectTimeoutMs: 10_000,
  frameMs: 20,
} as const;

function toDubError(msg: ErrorMessage): DubError {
  const code =
    msg.code === 'missing-tool' ? 'missing-tool' : msg.code === 'unsupported' ? 'unsupported-language' : 'protocol';
  return new DubError(code, `provider: ${msg.code}: ${msg.message}`, { retryable: msg.retryable });
}

export class ProviderDubSource extends TypedEmitter<DubSourceEvents> implements DubSource {
  readonly kind = 'provider' as const;
  readonly sourceLanguage: string;
  readonly targetLanguage: string;
  private readonly opts: ProviderDubSourceOptions & Required<Omit<ProviderDubSourceOptions, 'url' | 'targetLanguage'>>;
  private ws: WebSocket | undefined;
  private started = false;
  private _closed = false;
  private resampler: Resampler | undefined;
  private outBuf: number[] = [];
  private originMs: number | undefined;
  private sentSamples = 0;
  /** Wall time of each sent chunk, by its end on the session clock (for latency). */
  private sendTimes: { endMs: number; wallMs: number }[] = [];
  private pendingSegment: SegmentMessage | undefined;
  private dropping = 0;
  private waiters: { kind: 'flushed' | 'cleared'; resolve: () => void; reject: (e: Error) => void }[] = [];

  constructor(options: ProviderDubSourceOptions) {
    super();
    this.opts = { ...defaultProviderDubSourceOptions, ...options };
    if (!(SUPPORTED_SAMPLE_RATES as readonly number[]).includes(this.opts.sendSampleRate)) {
      throw new DubError('bad-input', `sendSampleRate must be one of ${SUPPORTED_SAMPLE_RATES.join(', ')}`);
    }
    this.sourceLanguage = this.opts.sourceLanguage;
    this.targetLanguage = this.opts.targetLanguage;
  }

  get closed(): boolean {
    return this._closed;
  }

  /** Connects and opens the session; rejects with the provider's error (unsupported language, missing tool...). */
  async start(): Promise<void> {
    if (this._closed) throw new DubError('closed', 'ProviderDubSource: closed');
    if (this.started) return;
    const ws = new WebSocket(this.opts.url, { maxPayload: 16 * 1024 * 1024 });
    this.ws = ws;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        fail(
          new DubError(
            'connection',
            `provider at ${this.opts.url} did not answer in ${this.opts.connectTimeoutMs} ms`,
            { retryable: true },
          ),
        );
      }, this.opts.connectTimeoutMs);
      const fail = (err: DubError) => {
        clearTimeout(timer);
        ws.removeAllListeners('message');
        this.close();
        reject(err);
      };
      ws.once('error', (err) =>
        fail(new DubError('connection', `provider at ${this.opts.url}: ${err.message}`, { retryable: true })),
      );
      ws.once('open', () => {
        const start: StartMessage = {
          type: 'start',
          protocol: PROTOCOL,
          sourceLanguage: this.sourceLanguage,
          targetLanguage: this.targetLanguage,
          audio: { encoding: 'pcm_s16le', sampleRate: this.opts.sendSampleRate, channels: 1 },
          outputSampleRate: this.opts.outputSampleRate,
        };
        ws.send(JSON.stringify(start));
      });
      ws.on('message', (data, isBinary) => {
        if (!this.started) {
          if (isBinary) return;
          const msg = parseServerMessage(String(data as Buffer));
          if (msg.type === 'started') {
            clearTimeout(timer);
            this.started = true;
            resolve();
          } else if (msg.type === 'error') {
            fail(toDubError(msg));
          }
          return;
        }
        this.onMessage(data as Buffer, isBinary);
      });
    });
    ws.on('error', (err) =>
      this.safeEmit('error', new DubError('connection', `provider: ${err.message}`, { retryable: true })),
    );
    ws.on('close', (code) => {
      if (this._closed) return;
      this.safeEmit(
        'error',
        new DubError('connection', `provider closed the connection (${code})`, { retryable: true }),
      );
      this.close();
    });
  }

  pushAudio(frame: AudioFrame): void {
    if (this._closed) return;
    if (!this.started || !this.ws) throw new DubError('bad-input', 'ProviderDubSource: pushAudio() before start()');
    checkAudioFrame(frame);
    if (this.originMs === undefined) this.originMs = frame.timestampUs / 1000;
    if (!this.resampler || this.resampler.fromRate !== frame.sampleRate) {
      this.resampler = new Resampler(frame.sampleRate, this.opts.sendSampleRate);
    }
    this.queueSend(this.resampler.process(frameToMono(frame)), false);
  }

  private queueSend(samples: Float32Array, final: boolean): void {
    for (const s of samples) this.outBuf.push(s);
    const per = Math.round((this.opts.sendSampleRate * this.opts.frameMs) / 1000);
    while (this.outBuf.length >= per || (final && this.outBuf.length > 0)) {
      const chunk = Float32Array.from(this.outBuf.splice(0, per));
      const pcm = floatToInt16Array(chunk);
      this.ws?.send(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
      this.sentSamples += pcm.length;
      this.sendTimes.push({ endMs: (this.sentSamples / this.opts.sendSampleRate) * 1000, wallMs: performance.now() });
      if (this.sendTimes.length > 4000) this.sendTimes.splice(0, 2000);
    }
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      const meta = this.pendingSegment;
      this.pendingSegment = undefined;
      if (!meta || this.dropping > 0) return;
      if (data.length !== meta.bytes) {
        this.safeEmit(
          'error',
          new DubError('protocol', `segment ${meta.segmentId}: ${data.length} bytes, announced ${meta.bytes}`),
        );
        return;
      }
      const pcm = new Int16Array(data.length / 2);
      for (let i = 0; i < pcm.length; i++) pcm[i] = data.readInt16LE(i * 2);
      const origin = this.originMs ?? 0;
      const speechEnd = meta.speechEndMs ?? meta.sourceEndMs;
      const sent = this.sendTimes.find((t) => t.endMs >= speechEnd);
      this.safeEmit('segment', {
        id: meta.segmentId,
        language: meta.language,
        sourceStartMs: meta.sourceStartMs + origin,
        sourceEndMs: meta.sourceEndMs + origin,
        ...(meta.speechEndMs === undefined ? {} : { speechEndMs: meta.speechEndMs + origin }),
        pcm: int16ToFloatArray(pcm),
        sampleRate: meta.sampleRate,
        ...(meta.sourceText === undefined ? {} : { sourceText: meta.sourceText }),
        ...(meta.text === undefined ? {} : { text: meta.text }),
        ...(meta.phonemes === undefined ? {} : { phonemes: meta.phonemes }),
        latencyMs: sent ? performance.now() - sent.wallMs : meta.latencyMs,
      });
      return;
    }
    let msg;
    try {
      msg = parseServerMessage(data.toString('utf8'));
    } catch (err) {
      this.safeEmit('error', new DubError('protocol', (err as Error).message));
      return;
    }
    switch (msg.type) {
      case 'segment':
        this.pendingSegment = msg;
        break;
      case 'speech_start':
        if (this.dropping === 0)
          this.safeEmit('speechStart', { sourceStartMs: msg.sourceStartMs + (this.originMs ?? 0) });
        break;
      case 'flushed':
      case 'cleared': {
        if (msg.type === 'cleared') this.dropping = Math.max(0, this.dropping - 1);
        const i = this.waiters.findIndex((w) => w.kind === msg.type);
        if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve();
        break;
      }
      case 'error': {
        const err = toDubError(msg);
        this.safeEmit('error', err);
        if (msg.fatal) this.close();
        break;
      }
      default:
        break;
    }
  }

  private request(kind: 'flush' | 'clear'): Promise<void> {
    if (this._closed || !this.ws || !this.started) return Promise.resolve();
    const p = new Promise<void>((resolve, reject) =>
      this.waiters.push({ kind: kind === 'flush' ? 'flushed' : 'cleared', resolve, reject }),
    );
    this.ws.send(JSON.stringify({ type: kind }));
    return p;
  }

  /** Sends what is buffered, asks the provider to finish, and resolves once every segment has arrived. */
  async flush(): Promise<void> {
    if (this._closed || !this.started) return;
    if (this.resampler) this.queueSend(this.resampler.flush(), true);
    this.resampler = undefined;
    this.queueSend(new Float32Array(0), true);
    await this.request('flush');
  }

  /** Barge-in: segments arriving until the provider confirms are dropped. */
  clear(): void {
    if (this._closed || !this.started) return;
    this.outBuf = [];
    this.pendingSegment = undefined;
    this.dropping++;
    this.request('clear').catch(() => undefined);
  }

  close(): void {
    if (this._closed) return;
    this._closed = true;
    for (const w of this.waiters.splice(0)) w.reject(new DubError('closed', 'ProviderDubSource: closed'));
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      ws.on('error', () => undefined); // a close during the handshake reports an error nobody needs
      if (ws.readyState === ws.OPEN) ws.close(1000, 'client closed');
      else if (ws.readyState === ws.CONNECTING) ws.terminate();
    }
    this.safeEmit('close');
    this.removeAllListeners();
  }
}
