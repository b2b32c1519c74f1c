/**
 * The SFU server: HTTP and WebSocket signalling on one port, a mediasoup worker pool, and the rooms.
 *
 * HTTP: `GET /` serves the demo page folder (a placeholder page when there is none), `GET /health`, and in demo mode
 * `GET /token?room=..&peer=..[&name=..][&interpret=fr,de][&host=1]` mints a join token (a real deployment mints
 * tokens in its own backend with the same secret: see `mintToken`). WebSocket signalling lives at `/ws`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import type { types as ms } from 'mediasoup';
import { WebSocketServer, type WebSocket } from 'ws';
import type { RtpProcessorFactory } from '../pipeline/stage.ts';
import { MAX_MESSAGE_BYTES } from '../protocol/index.ts';
import { webRtcTransportOptions, type TransportSettings } from './config.ts';
import { Connection, type ConnectionHost } from './Connection.ts';
import { SignalError } from './errors.ts';
import { identityProcessorFactory } from './IdentityProcessor.ts';
import { createLogger } from './logger.ts';
import { Room, type RoomDubHooks } from './Room.ts';
import { assertSecret, mintToken } from './tokens.ts';
import { WorkerPool } from './WorkerPool.ts';

const logger = createLogger('LipsyncServer');

export interface LipsyncServerOptions {
  /** TCP port for HTTP + WebSocket. 0 picks a free port. Default 8080. */
  port?: number;
  /** Interface to bind. Default '127.0.0.1' (loopback only). */
  host?: string;
  /** Token secret (at least 16 characters). Default: random per process (only the demo endpoint can mint then). */
  secret?: string;
  /** mediasoup workers. Default: one per core. */
  numWorkers?: number;
  /** An existing pool to use instead of creating one (tests share one). Not closed by the server. */
  pool?: WorkerPool;
  /** Serve `GET /token` so the demo page can mint its own tokens. Never in production. Default false. */
  demo?: boolean;
  /** Create a room when a valid token names one that does not exist. Default true. */
  autoCreateRooms?: boolean;
  /** Folder of static files served at `/`. Default: none (placeholder page). */
  staticDir?: string;
  /** WebRTC transport settings (listen IP, announced address, ports). */
  transport?: TransportSettings;
  /** Builds each speaker's tap processor. Default: identity. */
  processorFactory?: RtpProcessorFactory;
  /** Tap every publishing peer. Default true. */
  tap?: boolean;
  /** See SpeakerTapOptions.settleMs. */
  tapSettleMs?: number;
  /** Dub languages rooms advertise. Default none. */
  languages?: string[];
  /** Lifetime of demo tokens, in ms. Default 1 hour. */
  demoTokenTtlMs?: number;
  /**
   * Builds each room's dub manager (src/sfu/dub: `dubManagerFactory(...)`). Default none: `setDubLanguage` only
   * records the choice. The manager's languages replace `languages`.
   */
  dubs?: (room: Room) => RoomDubHooks;
  /**
   * WebSocket ping interval, in ms; a socket that has not answered the previous ping is dropped (its peer closes), so
   * a client that vanished without closing its TCP connection does not hold transports forever. Default 15000.
   */
  heartbeatMs?: number;
}

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.wav': 'audio/wav',
};

const placeholderPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>lipsync-sfu</title></head>
<body><h1>lipsync-sfu</h1><p>The SFU is running. Signalling: WebSocket at <code>/ws</code>.
The demo page is not built yet (src/client-sdk/demo/).</p></body></html>
`;

export class LipsyncServer implements ConnectionHost {
  readonly secret: string;
  readonly pool: WorkerPool;
  readonly rooms = new Map<string, Room>();
  readonly #http: Server;
  readonly #wss: WebSocketServer;
  readonly #ownsPool: boolean;
  readonly #options: LipsyncServerOptions;
  readonly #transportOptions: ms.WebRtcTransportOptions;
  readonly #creating = new Map<string, Promise<Room>>();
  readonly #connections = new Set<Connection>();
  readonly #heartbeat: NodeJS.Timeout;
  #closed = false;

  static async start(options: LipsyncServerOptions = {}): Promise<LipsyncServer> {
    const secret = options.secret ?? randomBytes(24).toString('base64url');
    assertSecret(secret);
    const pool =
      options.pool ??
      (await WorkerPool.create(options.numWorkers !== undefined ? { numWorkers: options.numWorkers } : {}));
    const server = new LipsyncServer(options, secret, pool, !options.pool);
    try {
      await server.#listen(options.port ?? 8080, options.host ?? '127.0.0.1');
    } catch (err) {
      server.close();
      throw err;
    }
    return server;
  }

  private constructor(options: LipsyncServerOptions, secret: string, pool: WorkerPool, ownsPool: boolean) {
    this.#options = options;
    this.secret = secret;
    this.pool = pool;
    this.#ownsPool = ownsPool;
    this.#transportOptions = webRtcTransportOptions(options.transport);
    this.#http = createServer((req, res) => {
      this.#onHttp(req, res).catch((err: unknown) => {
        logger.error(`http ${req.url ?? ''}: ${String(err)}`);
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
    // ws enforces a hard cap far above the protocol's limit, so a merely oversized message gets an error reply
    // (from Connection) while a huge one just closes that socket (1009) without buffering it.
    this.#wss = new WebSocketServer({ server: this.#http, path: '/ws', maxPayload: 16 * MAX_MESSAGE_BYTES });
    const alive = new WeakSet<WebSocket>();
    this.#wss.on('connection', (ws) => {
      const conn = new Connection(ws, this);
      this.#connections.add(conn);
      alive.add(ws);
      ws.on('pong', () => alive.add(ws));
      ws.once('close', () => this.#connections.delete(conn));
    });
    this.#heartbeat = setInterval(() => {
      for (const ws of this.#wss.clients) {
        if (!alive.has(ws)) {
          ws.terminate();
          continue;
        }
        alive.delete(ws);
        ws.ping();
      }
    }, options.heartbeatMs ?? 15_000);
    this.#heartbeat.unref();
    this.#wss.on('error', (err) => logger.error(`websocket server: ${err.message}`));
  }

  #listen(port: number, host: string): Promise<void> {
    return new Promise((resolvePromise, reject) => {
      this.#http.once('error', reject);
      this.#http.listen(port, host, () => {
        this.#http.off('error', reject);
        resolvePromise();
      });
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Bound port (useful with port 0). */
  get port(): number {
    return (this.#http.address() as AddressInfo).port;
  }

  get httpUrl(): string {
    const { address, port } = this.#http.address() as AddressInfo;
    const host = address.includes(':') ? `[${address}]` : address;
    return `http://${host}:${port}`;
  }

  get wsUrl(): string {
    return `${this.httpUrl.replace(/^http/, 'ws')}/ws`;
  }

  /**
   * Mints a join token with this server's secret (what an application backend does). `grants`: languages the peer
   * may interpret into, and whether it is a host (may assign any peer as an interpreter).
   */
  mintToken(
    room: string,
    peer: string,
    ttlMs?: number,
    name?: string,
    grants: { interpret?: string[]; host?: boolean } = {},
  ): string {
    return mintToken(this.secret, {
      room,
      peer,
      ...(ttlMs !== undefined ? { ttlMs } : {}),
      ...(name ? { name } : {}),
      ...(grants.interpret?.length ? { interpret: grants.interpret } : {}),
      ...(grants.host ? { host: true } : {}),
    });
  }

  /** Creates a room explicitly (with autoCreateRooms false, the only way a room comes to exist). */
  async createRoom(roomId: string): Promise<Room> {
    if (this.#closed) throw new Error('server closed');
    const existing = this.rooms.get(roomId);
    if (existing && !existing.closed) return existing;
    const pending = this.#creating.get(roomId);
    if (pending) return pending;
    const creating = Room.create({
      roomId,
      pool: this.pool,
      processorFactory: this.#options.processorFactory ?? identityProcessorFactory,
      webRtcTransportOptions: this.#transportOptions,
      ...(this.#options.tap !== undefined ? { tap: this.#options.tap } : {}),
      ...(this.#options.tapSettleMs !== undefined ? { tapSettleMs: this.#options.tapSettleMs } : {}),
      ...(this.#options.languages ? { languages: this.#options.languages } : {}),
    }).then((room) => {
      if (this.#options.dubs) room.dubs = this.#options.dubs(room);
      this.rooms.set(roomId, room);
      room.on('close', (reason) => {
        if (this.rooms.get(roomId) === room) this.rooms.delete(roomId);
        logger.debug(`room ${roomId} closed (${reason})`);
      });
      if (this.#closed) room.close('serverShutdown');
      return room;
    });
    this.#creating.set(roomId, creating);
    try {
      return await creating;
    } finally {
      this.#creating.delete(roomId);
    }
  }

  async roomFor(roomId: string): Promise<Room> {
    const room = this.rooms.get(roomId);
    if (room && !room.closed) return room;
    if (this.#options.autoCreateRooms === false) throw new SignalError('notFound', `room ${roomId} not found`);
    return this.createRoom(roomId);
  }

  async #onHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (url.pathname === '/health') {
      sendJson(res, 200, {
        ok: true,
        rooms: this.rooms.size,
        peers: [...this.rooms.values()].reduce((n, r) => n + r.peers.size, 0),
        workers: this.pool.workers.length,
      });
      return;
    }
    if (url.pathname === '/token') {
      if (!this.#options.demo) {
        sendJson(res, 404, { error: 'token endpoint only in demo mode' });
        return;
      }
      const room = url.searchParams.get('room') ?? 'demo';
      const peer = url.searchParams.get('peer') ?? `peer-${randomBytes(4).toString('hex')}`;
      const name = url.searchParams.get('name') ?? undefined;
      // Demo only: the page asks for the interpreter / host grants itself (`interpret=fr,de`, `host=1`).
      const interpret = (url.searchParams.get('interpret') ?? '')
        .split(',')
        .map((l) => l.trim())
        .filter(Boolean);
      const host = url.searchParams.get('host') === '1';
      try {
        const token = this.mintToken(room, peer, this.#options.demoTokenTtlMs, name, { interpret, host });
        sendJson(res, 200, { token, room, peer, url: '/ws', ...(interpret.length ? { interpret } : {}), host });
      } catch (err) {
        sendJson(res, 400, { error: err instanceof Error ? err.message : String(err) });
      }
      return;
    }
    await this.#serveStatic(url.pathname, res);
  }

  async #serveStatic(pathname: string, res: ServerResponse): Promise<void> {
    const dir = this.#options.staticDir;
    if (!dir || !existsSync(dir)) {
      if (pathname === '/' || pathname === '/index.html') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(placeholderPage);
      } else {
        res.writeHead(404).end('not found');
      }
      return;
    }
    const root = resolve(dir);
    let file: string;
    try {
      file = resolve(root, '.' + normalize(decodeURIComponent(pathname)));
    } catch {
      res.writeHead(400).end('bad path');
      return;
    }
    if (file !== root && !file.startsWith(root + sep)) {
      res.writeHead(403).end('forbidden');
      return;
    }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    const body = await readFile(file);
    res
      .writeHead(200, {
        'content-type': contentTypes[extname(file).toLowerCase()] ?? 'application/octet-stream',
        'cache-control': 'no-cache',
      })
      .end(body);
  }

  /** Closes rooms (peers told 'serverShutdown'), sockets, the HTTP server and, when owned, the worker pool. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    for (const room of [...this.rooms.values()]) room.close('serverShutdown');
    this.rooms.clear();
    for (const ws of this.#wss.clients) ws.close(4002, 'serverShutdown');
    this.#wss.close();
    this.#http.close();
    this.#http.closeAllConnections();
    if (this.#ownsPool) this.pool.close();
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}
