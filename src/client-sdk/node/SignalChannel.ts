/**
 * Client side of the signalling protocol over a `ws` WebSocket: numbered requests with timeouts, responses matched by
 * id, notifications handed to a callback. Every server frame is validated (src/protocol) before use.
 */
import WebSocket from 'ws';
import {
  checkRequestData,
  isKnownNotification,
  MAX_REQUEST_ID,
  parseServerMessage,
  type ErrorCode,
  type NotificationMessage,
  type RequestData,
  type RequestMethod,
  type ResponseMap,
} from '../../protocol/index.ts';

/** An error response from the server (or a local failure: timeout, closed socket). */
export class RequestError extends Error {
  override name = 'RequestError';
  constructor(
    readonly code: ErrorCode | 'timeout' | 'closed',
    message: string,
  ) {
    super(message);
  }
}

interface Pending {
  resolve(data: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export interface SignalChannelOptions {
  /** Time to wait for each response, in ms. Default 10000. */
  requestTimeoutMs?: number;
  /** Time to wait for the socket to open, in ms. Default 10000. */
  connectTimeoutMs?: number;
}

export class SignalChannel {
  readonly #ws: WebSocket;
  readonly #pending = new Map<number, Pending>();
  readonly #requestTimeoutMs: number;
  #nextId = 1;
  #closed = false;
  onNotification: (msg: NotificationMessage) => void = () => {};
  onClose: (code: number, reason: string) => void = () => {};

  static async connect(
    url: string,
    { requestTimeoutMs = 10_000, connectTimeoutMs = 10_000 }: SignalChannelOptions = {},
  ) {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new RequestError('timeout', `could not connect to ${url} in ${connectTimeoutMs} ms`));
      }, connectTimeoutMs);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve();
      });
      ws.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    return new SignalChannel(ws, requestTimeoutMs);
  }

  private constructor(ws: WebSocket, requestTimeoutMs: number) {
    this.#ws = ws;
    this.#requestTimeoutMs = requestTimeoutMs;
    ws.on('message', (data: Buffer) => this.#onMessage(data.toString('utf8')));
    ws.on('close', (code, reason) => this.#onClose(code, reason.toString('utf8')));
    ws.on('error', () => {});
  }

  get closed(): boolean {
    return this.#closed;
  }

  request<M extends RequestMethod>(method: M, data: RequestData<M>): Promise<ResponseMap[M]> {
    if (this.#closed) return Promise.reject(new RequestError('closed', 'signalling channel closed'));
    checkRequestData(method, data);
    const id = this.#nextId;
    this.#nextId = this.#nextId >= MAX_REQUEST_ID ? 1 : this.#nextId + 1;
    return new Promise<ResponseMap[M]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new RequestError('timeout', `${method} got no response in ${this.#requestTimeoutMs} ms`));
      }, this.#requestTimeoutMs);
      this.#pending.set(id, { resolve: resolve as (d: unknown) => void, reject, timer });
      this.#ws.send(JSON.stringify({ type: 'request', id, method, data }));
    });
  }

  /** Sends raw text (tests of the server's input validation). */
  sendRaw(text: string | Buffer): void {
    this.#ws.send(text);
  }

  #onMessage(text: string): void {
    let msg;
    try {
      msg = parseServerMessage(text);
    } catch {
      return; // A malformed server frame is dropped; the request it answered times out.
    }
    if (msg.type === 'notification') {
      if (isKnownNotification(msg)) this.onNotification(msg);
      return;
    }
    if (msg.id === null) {
      // An error the server could not tie to a request (unreadable frame): surface it as a notification-like event.
      if (!msg.ok) this.onUnmatchedError(msg.error.code, msg.error.message);
      return;
    }
    const pending = this.#pending.get(msg.id);
    if (!pending) return;
    this.#pending.delete(msg.id);
    clearTimeout(pending.timer);
    if (msg.ok) pending.resolve(msg.data);
    else pending.reject(new RequestError(msg.error.code, msg.error.message));
  }

  onUnmatchedError: (code: ErrorCode, message: string) => void = () => {};

  #onClose(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(new RequestError('closed', `signalling channel closed (${code} ${reason})`));
    }
    this.#pending.clear();
    this.onClose(code, reason);
  }

  close(): void {
    if (this.#closed) return;
    this.#ws.close(1000, 'bye');
    this.#onClose(1000, 'closed by client');
  }
}
