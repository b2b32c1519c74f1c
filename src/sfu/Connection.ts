/**
 * One client's WebSocket: validates every frame against the protocol, answers each request (errors included), and
 * serves a client's requests one at a time in arrival order. Nothing a client sends can throw out of here: bad input
 * gets an error response, and the server keeps serving everyone else.
 */
import type { WebSocket } from 'ws';
import {
  MAX_MESSAGE_BYTES,
  parseRequest,
  PROTOCOL_VERSION,
  ProtocolError,
  type NotificationData,
  type NotificationMethod,
  type RequestMessage,
  type ResponseMap,
} from '../protocol/index.ts';
import { SignalError, toSignalError } from './errors.ts';
import { createLogger } from './logger.ts';
import { Peer, type PeerLink } from './Peer.ts';
import type { Room } from './Room.ts';
import { verifyToken } from './tokens.ts';

const logger = createLogger('Connection');

/** Requests waiting behind the one being served; more is a misbehaving client. */
const MAX_PENDING_REQUESTS = 64;

/** What a connection needs from the server. */
export interface ConnectionHost {
  readonly secret: string;
  /** The room of a token, created on demand or looked up; throws SignalError('notFound') for an unknown room. */
  roomFor(roomId: string): Promise<Room>;
}

/** WebSocket close codes the server uses (4000-4999 are application codes). */
export const closeCodes = {
  roomClosed: 4000,
  replaced: 4001,
  serverShutdown: 4002,
} as const;

export class Connection implements PeerLink {
  readonly #ws: WebSocket;
  readonly #host: ConnectionHost;
  #state: 'new' | 'joining' | 'joined' | 'closed' = 'new';
  #peer: Peer | undefined;
  #queue: Promise<void> = Promise.resolve();
  #pending = 0;

  constructor(ws: WebSocket, host: ConnectionHost) {
    this.#ws = ws;
    this.#host = host;
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    ws.on('close', () => this.#onClose());
    ws.on('error', (err) => logger.debug(`socket error: ${err.message}`));
  }

  get peer(): Peer | undefined {
    return this.#peer;
  }

  #onMessage(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    if (this.#state === 'closed') return;
    if (isBinary) {
      this.#replyError(null, new SignalError('badRequest', 'binary frames are not part of the protocol'));
      return;
    }
    const bytes = Array.isArray(data) ? data.reduce((n, b) => n + b.byteLength, 0) : data.byteLength;
    if (bytes > MAX_MESSAGE_BYTES) {
      this.#replyError(null, new SignalError('tooLarge', `message of ${bytes} bytes; limit ${MAX_MESSAGE_BYTES}`));
      return;
    }
    const text = Array.isArray(data)
      ? Buffer.concat(data).toString('utf8')
      : Buffer.from(data as Uint8Array).toString('utf8');
    let msg: RequestMessage;
    try {
      msg = parseRequest(text);
    } catch (err) {
      const id = err instanceof ProtocolError ? err.id : null;
      this.#replyError(id, toSignalError(err));
      return;
    }
    if (this.#pending >= MAX_PENDING_REQUESTS) {
      this.#replyError(msg.id, new SignalError('badState', `more than ${MAX_PENDING_REQUESTS} requests pending`));
      return;
    }
    this.#pending++;
    this.#queue = this.#queue.then(async () => {
      try {
        const data = await this.#serve(msg);
        this.#send({ type: 'response', id: msg.id, ok: true, data });
      } catch (err) {
        const e = toSignalError(err);
        if (e.code === 'internal') logger.error(`${msg.method} failed: ${e.message}`);
        this.#replyError(msg.id, e);
      } finally {
        this.#pending--;
      }
    });
  }

  async #serve(msg: RequestMessage): Promise<unknown> {
    if (this.#state === 'closed') throw new SignalError('badState', 'connection closed');
    if (msg.method === 'join') return this.#join(msg as RequestMessage<'join'>);
    if (this.#state !== 'joined' || !this.#peer) {
      throw new SignalError('badState', `'${msg.method}' before 'join'`);
    }
    return this.#peer.handle(msg.method, msg.data as never);
  }

  async #join({ data }: RequestMessage<'join'>): Promise<ResponseMap['join']> {
    if (this.#state !== 'new') throw new SignalError('badState', 'already joined');
    if (data.protocolVersion !== PROTOCOL_VERSION) {
      throw new SignalError(
        'versionMismatch',
        `server speaks protocol ${PROTOCOL_VERSION}, client ${data.protocolVersion}`,
      );
    }
    const claims = verifyToken(this.#host.secret, data.token);
    this.#state = 'joining';
    let room: Room;
    try {
      room = await this.#host.roomFor(claims.room);
    } catch (err) {
      if (this.#state === 'joining') this.#state = 'new';
      throw err;
    }
    if (this.#state !== 'joining') throw new SignalError('badState', 'connection closed during join');
    if (room.closed) {
      this.#state = 'new';
      throw new SignalError('badState', 'room closed during join');
    }
    if (room.peers.size >= room.maxPeers && !room.peers.has(claims.peer)) {
      this.#state = 'new';
      throw new SignalError('badState', `room is full (${room.maxPeers} peers)`);
    }
    // A second join with the same peer id (a reconnecting client) replaces the first.
    room.peers.get(claims.peer)?.close('replaced');
    const displayName = data.displayName ?? claims.name;
    const grants = {
      ...(claims.interpret?.length ? { interpret: claims.interpret } : {}),
      ...(claims.host ? { host: true } : {}),
    };
    const peer = new Peer({ id: claims.peer, room, link: this, grants, ...(displayName ? { displayName } : {}) });
    this.#peer = peer;
    this.#state = 'joined';
    room.addPeer(peer);
    return {
      peerId: peer.id,
      roomId: room.id,
      routerRtpCapabilities: room.router.rtpCapabilities as ResponseMap['join']['routerRtpCapabilities'],
      peers: room.peerInfos(peer.id),
      languages: [...room.languages],
      ...(room.dubs ? { languageOffers: room.dubs.offers } : {}),
      ...(Object.keys(grants).length ? { grants } : {}),
    };
  }

  notify<M extends NotificationMethod>(method: M, data: NotificationData<M>): void {
    this.#send({ type: 'notification', method, data });
  }

  disconnect(reason: string): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    const code =
      reason === 'replaced'
        ? closeCodes.replaced
        : reason === 'serverShutdown'
          ? closeCodes.serverShutdown
          : closeCodes.roomClosed;
    // Close after queued frames (roomClosed) are flushed.
    setImmediate(() => this.#ws.close(code, reason.slice(0, 100)));
  }

  #onClose(): void {
    if (this.#state === 'closed' && !this.#peer) return;
    this.#state = 'closed';
    const peer = this.#peer;
    this.#peer = undefined;
    peer?.close('disconnected');
  }

  #replyError(id: number | null, err: SignalError): void {
    this.#send({ type: 'response', id, ok: false, error: { code: err.code, message: err.message } });
  }

  #send(msg: object): void {
    if (this.#ws.readyState !== this.#ws.OPEN) return;
    this.#ws.send(JSON.stringify(msg), (err) => {
      if (err) logger.debug(`send failed: ${err.message}`);
    });
  }
}
