/**
 * The provider protocol against the real server (`ProviderServer`, the same code as `lipsync translate-server`):
 * a full session through `ProviderDubSource`, and bad input from raw clients: wrong sample rate, oversized frames,
 * garbage, out-of-order control messages. Each gets an error message; the server and other sessions go on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ProviderDubSource, ProviderServer, type DubSegment } from '../../src/pipeline/dub/index.ts';
import { dubRecording } from '../../src/pipeline/dub/offline.ts';
import type { ServerMessage } from '../../src/pipeline/dub/provider/protocol.ts';
import { contentWords, englishSpeech, referenceTranslation } from './helpers.ts';

let server: ProviderServer;
beforeAll(async () => {
  server = await ProviderServer.listen({ port: 0 });
});
afterAll(async () => {
  await server.close();
});

/** A raw protocol client that records every server message. */
class RawClient {
  readonly messages: (ServerMessage | { type: 'binary'; bytes: number })[] = [];
  closeCode: number | undefined;
  private waiters: (() => void)[] = [];
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const buf = data as Buffer;
      this.messages.push(
        isBinary ? { type: 'binary', bytes: buf.length } : (JSON.parse(buf.toString()) as ServerMessage),
      );
      for (const w of this.waiters.splice(0)) w();
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      for (const w of this.waiters.splice(0)) w();
    });
  }
  static async connect(url: string): Promise<RawClient> {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return new RawClient(ws);
  }
  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' || Buffer.isBuffer(msg) ? msg : JSON.stringify(msg));
  }
  /** Waits for the n-th (from 0) message of a type. */
  async next<T extends ServerMessage['type'] | 'binary'>(type: T, n = 0, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.filter((m) => m.type === type)[n];
      if (found) return found as Extract<RawClient['messages'][number], { type: T }>;
      if (this.closeCode !== undefined || Date.now() > deadline) throw new Error(`no '${type}' #${n}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }
  close(): void {
    this.ws.close();
  }
}

const start = (over: Record<string, unknown> = {}, audio: Record<string, unknown> = {}) => ({
  type: 'start',
  protocol: 'lipsync-dub/1',
  sourceLanguage: 'en',
  targetLanguage: 'en', // passthrough: no recogniser needed for the protocol checks
  audio: { encoding: 'pcm_s16le', sampleRate: 16000, channels: 1, ...audio },
  ...over,
});

describe('provider protocol: bad input', () => {
  it('refuses out-of-order messages, garbage and bad formats with errors, and keeps the session usable', async () => {
    const c = await RawClient.connect(server.url);
    c.send(Buffer.alloc(640)); // audio before start
    expect(await c.next('error', 0)).toMatchObject({ code: 'out-of-order', fatal: false });
    c.send({ type: 'flush' }); // control before start
    expect((await c.next('error', 1)).message).toMatch(/'flush' before 'start'/);
    c.send('{not json');
    expect(await c.next('error', 2)).toMatchObject({ code: 'bad-message' });
    c.send({ type: 'dance' });
    expect((await c.next('error', 3)).message).toMatch(/unknown message type 'dance'/);
    c.send(start({}, { sampleRate: 11025 })); // wrong sample rate
    const rateErr = await c.next('error', 4);
    expect(rateErr).toMatchObject({ code: 'unsupported', fatal: false });
    expect(rateErr.message).toMatch(/sampleRate 11025 is not supported; use one of 8000, 12000, 16000/);
    c.send(start({ targetLanguage: 'de' })); // unsupported language: refused, session still idle
    expect((await c.next('error', 5)).message).toMatch(/not supported; supported: es, ca, fr, en/);
    c.send(start({ outputSampleRate: 16000 }));
    const started = await c.next('started');
    expect(started.output).toEqual({ encoding: 'pcm_s16le', sampleRate: 16000, channels: 1 });
    c.send(start()); // twice
    expect((await c.next('error', 6)).message).toMatch(/'start' sent twice/);
    c.send(Buffer.alloc(641)); // not whole samples
    expect(await c.next('error', 7)).toMatchObject({ code: 'bad-frame' });
    c.send(Buffer.alloc(100_000)); // over the 64 KiB frame limit, under the hard message limit
    expect(await c.next('error', 8)).toMatchObject({ code: 'frame-too-large' });
    // Still alive: a flush is answered.
    c.send({ type: 'flush' });
    await c.next('flushed');
    expect(c.closeCode).toBeUndefined();
    c.close();
  });

  it('closes a connection that sends a message over the hard limit, and nothing else', async () => {
    const bad = await RawClient.connect(server.url);
    const good = await RawClient.connect(server.url);
    good.send(start());
    await good.next('started');
    bad.send(Buffer.alloc(2 * 1024 * 1024));
    await expect(bad.next('started', 0, 5000)).rejects.toThrow();
    expect(bad.closeCode).toBe(1009);
    good.send({ type: 'flush' });
    await good.next('flushed');
    good.close();
  });
});

describe('provider protocol: a real session through ProviderDubSource', () => {
  it('dubs English speech into Spanish while another client sends garbage', async () => {
    const text = 'I would like to translate this sentence into Spanish in real time.';
    const speech = await englishSpeech(text);
    const noisy = await RawClient.connect(server.url);
    const spam = setInterval(() => {
      noisy.send('garbage');
      noisy.send(Buffer.from([1, 2, 3]));
      noisy.send({ type: 'clear' });
    }, 20);
    const source = new ProviderDubSource({ url: server.url, targetLanguage: 'es', outputSampleRate: 24000 });
    try {
      const r = await dubRecording(source, speech, 16000, { trimPauses: false });
      expect(r.errors).toEqual([]);
      expect(r.segments.length).toBe(1);
      const seg: DubSegment = r.segments[0]!;
      expect(seg.sampleRate).toBe(24000);
      const expected = contentWords(await referenceTranslation(text, 'es'));
      const got = new Set(contentWords(seg.text ?? ''));
      expect(expected.filter((w) => got.has(w)).length / expected.length).toBeGreaterThanOrEqual(0.8);
      const audioMs = (seg.pcm.length / seg.sampleRate) * 1000;
      expect(Math.abs(seg.phonemes!.at(-1)!.endMs - audioMs)).toBeLessThan(50);
      expect(seg.latencyMs).toBeGreaterThan(0);
      expect(seg.sourceStartMs).toBeGreaterThan(300);
    } finally {
      clearInterval(spam);
      source.close();
    }
    expect(noisy.messages.filter((m) => m.type === 'error').length).toBeGreaterThan(3);
    expect(noisy.closeCode).toBeUndefined();
    noisy.close();
  });

  it('reports a provider that is not there as a retryable connection error', async () => {
    const source = new ProviderDubSource({ url: 'ws://127.0.0.1:1', targetLanguage: 'es' });
    await expect(source.start()).rejects.toMatchObject({ code: 'connection', retryable: true });
    expect(source.closed).toBe(true);
  });

  it('passes the server refusal of a language back as an error', async () => {
    const source = new ProviderDubSource({ url: server.url, targetLanguage: 'de' });
    await expect(source.start()).rejects.toThrow(/supported: es, ca, fr, en/);
  });
});
