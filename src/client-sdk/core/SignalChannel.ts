/**
 * Client side of the signalling protocol over any WebSocket with the WHATWG interface (the browser's own, or `ws` in
 * Node): numbered requests with timeouts, responses matched by id, notifications handed to a callback. Every server
 * frame is validated (src/protocol) before use, and every request is checked locally before it is sent.
 */
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
  type ServerMessage,
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

/** The part of the WHATWG WebSocket interface the channel uses (browser WebSocket and `ws` both have it). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'message', listener: (ev: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (ev: { code: number; reason: string }) => void): void;
  addEventListener(type: 'error', listener: (ev: unknown) => void): void;
}

export type WebSocketFactory = (url: string) => WebSocketLike;

export interface SignalChannelOptions {
  /** Time to wait for each response, in ms. Default 10000. */
  requestTimeoutMs?: number;
  /** Time to wait for the socket to open, in ms. Default 10000. */
  connectTimeoutMs?: number;
  /** Opens the socket. Default: the global `WebSocket` (browsers, Node >= 22). */
  createWebSocket?: WebSocketFactory;
}

interface Pending {
  resolve(data: unknown): void;
  reject(err: Error): void;
  timer: ReturnType<typeof setTimeout>;
  passesHold: boolean;
}

const OPEN = 1;

function defaultWebSocket(url: string): WebSocketLike {
  const Ctor = (globalThis as { WebSocket?: new (url: string) => WebSocketLike }).WebSocket;
  if (!Ctor) throw new TypeError('no global WebSocket: pass createWebSocket (the Node SDK does)');
  return new Ctor(url);
}

function textOf(data: unknown): string | null {
  if (typeof data === 'string') return data;
  // `ws` may hand text frames over as Buffers (a Uint8Array).
  if (data instanceof Uint8Array) return new TextDecoder().decode(data);
  return null;
}

export class SignalChannel {
  readonly #ws: WebSocketLike;
  readonly #pending = new Map<number, Pending>();
  readonly #requestTimeoutMs: number;
  #nextId = 1;
  #closed = false;
  onNotification: (msg: NotificationMessage) => void = () => {};
  /**
   * While held (`hold` .. `release`): notifications wait, and so does every frame after the first one that waited
   * (responses too), so a response never overtakes a notification the server sent before it.
   */
  #held: ServerMessage[] | null = null;
  onClose: (code: number, reason: string) => void = () => {};
  /** An error the server could not tie to a request (an unreadable frame). */
  onUnmatchedError: (code: ErrorCode, message: string) => void = () => {};

  static async connect(url: string, options: SignalChannelOptions = {}): Promise<SignalChannel> {
    const { requestTimeoutMs = 10_000, connectTimeoutMs = 10_000, createWebSocket = defaultWebSocket } = options;
    const ws = createWebSocket(url);
    await new Promise<void>((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        ws.close();
        reject(new RequestError('timeout', `could not connect to ${url} in ${connectTimeoutMs} ms`));
      }, connectTimeoutMs);
      ws.addEventListener('open', () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve();
      });
      ws.addEventListener('error', () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        reject(new RequestError('closed', `could not connect to ${url}`));
      });
      ws.addEventListener('close', (ev) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        reject(new RequestError('closed', `socket to ${url} closed (${ev.code}) before opening`));
      });
    });
    return new SignalChannel(ws, requestTimeoutMs);
  }

  private constructor(ws: WebSocketLike, requestTimeoutMs: number) {
    this.#ws = ws;
    this.#requestTimeoutMs = requestTimeoutMs;
    ws.addEventListener('message', (ev) => {
      const text = textOf(ev.data);
      if (text !== null) this.#onMessage(text);
    });
    ws.addEventListener('close', (ev) => this.#onClose(ev.code, ev.reason));
    ws.addEventListener('error', () => {});
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends one request; resolves with the response data or rejects with a RequestError. */
  request<M extends RequestMethod>(
    method: M,
    data: RequestData<M>,
    {
      timeoutMs = this.#requestTimeoutMs,
      passesHold = false,
    }: {
      timeoutMs?: number;
      /**
       * The response is handed over at once even while the channel holds notifications: for a response that is older
       * than anything held (`join`'s answer is the room as it was when this peer entered; every notification to it is
       * newer, even one that arrives first).
       */
      passesHold?: boolean;
    } = {},
  ): Promise<ResponseMap[M]> {
    if (this.#closed) return Promise.reject(new RequestError('closed', 'signalling channel closed'));
    checkRequestData(method, data);
    const id = this.#nextId;
    this.#nextId = this.#nextId >= MAX_REQUEST_ID ? 1 : this.#nextId + 1;
    return new Promise<ResponseMap[M]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new RequestError('timeout', `${method} got no response in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (d: unknown) => void, reject, timer, passesHold });
      this.#ws.send(JSON.stringify({ type: 'request', id, method, data }));
    });
  }

  /** Sends raw text (tests of the server's input validation). */
  sendRaw(text: string): void {
    if (this.#ws.readyState === OPEN) this.#ws.send(text);
  }

  /** Keeps notifications, and what follows them, until `release` (a client still being built loses nothing). */
  hold(): void {
    this.#held ??= [];
  }

  /** Hands what was held over in arrival order, then goes on as usual. */
  release(): void {
    const held = this.#held ?? [];
    this.#held = null;
    for (const msg of held) this.#dispatch(msg);
  }

  #onMessage(text: string): void {
    let msg: ServerMessage;
    try {
      msg = parseServerMessage(text);
    } catch {
      return; // A malformed server frame is dropped; the request it answered times out.
    }
    const waits =
      this.#held !== null &&
      (msg.type === 'notification'
        ? true
        : this.#held.length > 0 && !(msg.id !== null && this.#pending.get(msg.id)?.passesHold));
    if (waits) this.#held!.push(msg);
    else this.#dispatch(msg);
  }

  #dispatch(msg: ServerMessage): void {
    if (msg.type === 'notification') {
      if (isKnownNotification(msg)) this.onNotification(msg);
      return;
    }
    if (msg.id === null) {
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
    try {
      this.#ws.close(1000, 'bye');
    } catch {
      // already closing
    }
    this.#onClose(1000, 'closed by client');
  }
}
