/**
 * A room: one mediasoup router (on a worker chosen by the pool), its peers, every producer that can be consumed in it
 * (originals and processed), and one SpeakerTap per publishing peer. Closing the room (worker died, server shutdown)
 * tells every peer and closes everything under it.
 */
import type { types as ms } from 'mediasoup';
import type { RtpProcessorFactory } from '../pipeline/stage.ts';
import type {
  LanguageOffer,
  NotificationData,
  NotificationMethod,
  PeerInfo,
  ProducerInfo,
  RequestData,
  ResponseMap,
} from '../protocol/index.ts';
import { defaultMediaCodecs } from './config.ts';
import { createLogger } from './logger.ts';
import type { Peer } from './Peer.ts';
import { SafeEmitter } from './SafeEmitter.ts';
import { SpeakerTap } from './SpeakerTap.ts';
import type { WorkerPool } from './WorkerPool.ts';

const logger = createLogger('Room');

export type RoomCloseReason = NotificationData<'roomClosed'>['reason'];

export interface RoomOptions {
  roomId: string;
  pool: WorkerPool;
  /** Builds the processor of each speaker's tap. */
  processorFactory: RtpProcessorFactory;
  /** Tap every publishing peer. Default true. */
  tap?: boolean;
  /** See SpeakerTapOptions.settleMs. */
  tapSettleMs?: number;
  mediaCodecs?: ms.RouterRtpCodecCapability[];
  webRtcTransportOptions: ms.WebRtcTransportOptions;
  /** Dub languages the room advertises. */
  languages?: string[];
  /** Largest number of peers. Default 50. */
  maxPeers?: number;
}

/**
 * What a room tells its dub manager (src/sfu/dub/), when the server has one: speakers' original producers coming and
 * going, peers leaving, the room closing. The manager answers `setDubLanguage` / `setDubConsent` /
 * `startInterpreting` / `stopInterpreting` for the peers.
 */
export interface RoomDubHooks {
  /** Languages offered, with their sources and live interpreters (also sent in the join response). */
  readonly offers: LanguageOffer[];
  addOriginalProducer(peerId: string, producer: ms.Producer): void;
  removeOriginalProducer(peerId: string, producerId: string): void;
  removePeer(peerId: string): void;
  setDubLanguage(
    listener: Peer,
    speakerPeerId: string,
    language: string | null,
  ): Promise<ResponseMap['setDubLanguage']>;
  setDubConsent(speaker: Peer, consent: { dub: boolean; faceRendering: boolean }): Promise<void>;
  startInterpreting(peer: Peer, data: RequestData<'startInterpreting'>): Promise<ResponseMap['startInterpreting']>;
  stopInterpreting(peer: Peer, data: RequestData<'stopInterpreting'>): Promise<ResponseMap['stopInterpreting']>;
  close(): void;
}

export type RoomEvents = {
  close: [reason: RoomCloseReason];
};

/** A producer consumable in the room, with what peers are told about it. */
export interface RoomProducer {
  producer: ms.Producer;
  info: ProducerInfo;
}

export class Room extends SafeEmitter<RoomEvents> {
  readonly id: string;
  readonly router: ms.Router;
  readonly worker: ms.Worker;
  readonly webRtcTransportOptions: ms.WebRtcTransportOptions;
  readonly maxPeers: number;
  readonly peers = new Map<string, Peer>();
  readonly producers = new Map<string, RoomProducer>();
  readonly taps = new Map<string, SpeakerTap>();
  /** The dub manager, when the server runs one (set once, right after creation). */
  dubs: RoomDubHooks | undefined;
  readonly #release: () => void;
  readonly #processorFactory: RtpProcessorFactory;
  readonly #tap: boolean;
  readonly #tapSettleMs: number | undefined;
  #languages: string[];
  #closed = false;

  static async create(options: RoomOptions): Promise<Room> {
    const { router, worker, release } = await options.pool.createRouter({
      mediaCodecs: options.mediaCodecs ?? defaultMediaCodecs,
      appData: { roomId: options.roomId },
    });
    return new Room(options, router, worker, release);
  }

  private constructor(options: RoomOptions, router: ms.Router, worker: ms.Worker, release: () => void) {
    super();
    this.id = options.roomId;
    this.router = router;
    this.worker = worker;
    this.#release = release;
    this.#processorFactory = options.processorFactory;
    this.#tap = options.tap ?? true;
    this.#tapSettleMs = options.tapSettleMs;
    this.webRtcTransportOptions = options.webRtcTransportOptions;
    this.maxPeers = options.maxPeers ?? 50;
    this.#languages = [...(options.languages ?? [])];
    // The router closes with its worker: a dead worker closes the room and tells its peers.
    router.on('workerclose', () => this.close('workerDied'));
    logger.debug(`room ${this.id} on worker ${worker.pid}`);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get languages(): readonly string[] {
    return this.#languages;
  }

  /** Replaces the advertised dub languages (with their sources, when a dub manager knows them) and tells the peers. */
  setLanguages(languages: string[], offers?: LanguageOffer[]): void {
    this.#languages = [...languages];
    this.notifyAll('languages', { languages: this.#languages, ...(offers ? { offers } : {}) });
  }

  addPeer(peer: Peer): void {
    if (this.#closed) throw new Error('room closed');
    this.peers.set(peer.id, peer);
    this.notifyAll('peerJoined', { peer: this.peerInfo(peer) }, peer.id);
  }

  removePeer(peer: Peer): void {
    if (this.peers.get(peer.id) !== peer) return;
    this.peers.delete(peer.id);
    const tap = this.taps.get(peer.id);
    if (tap) {
      this.taps.delete(peer.id);
      tap.close();
    }
    this.dubs?.removePeer(peer.id);
    if (!this.#closed) this.notifyAll('peerLeft', { peerId: peer.id });
  }

  peerInfo(peer: Peer): PeerInfo {
    const producers: ProducerInfo[] = [];
    for (const p of this.producers.values()) if (p.info.peerId === peer.id) producers.push(p.info);
    return { peerId: peer.id, ...(peer.displayName ? { displayName: peer.displayName } : {}), producers };
  }

  /** Everyone but `exceptPeerId`, with their producers. */
  peerInfos(exceptPeerId?: string): PeerInfo[] {
    return [...this.peers.values()].filter((p) => p.id !== exceptPeerId).map((p) => this.peerInfo(p));
  }

  /** Registers a participant's own producer: announced to the others, and tapped. */
  addOriginalProducer(peer: Peer, producer: ms.Producer): void {
    const info: ProducerInfo = { producerId: producer.id, peerId: peer.id, kind: producer.kind, source: 'original' };
    this.#register(producer, info);
    this.dubs?.addOriginalProducer(peer.id, producer);
    if (!this.#tap) return;
    let tap = this.taps.get(peer.id);
    if (!tap) {
      tap = new SpeakerTap({
        router: this.router,
        peerId: peer.id,
        processorFactory: this.#processorFactory,
        ...(this.#tapSettleMs !== undefined ? { settleMs: this.#tapSettleMs } : {}),
      });
      tap.on('processed', (list) => {
        for (const p of list) {
          this.#register(p.producer, {
            producerId: p.producer.id,
            peerId: peer.id,
            kind: p.kind,
            source: 'processed',
            originalProducerId: p.originalProducerId,
            language: null,
          });
        }
      });
      tap.on('error', (err) => logger.warn(`tap of ${peer.id} in ${this.id}: ${err.message}`));
      this.taps.set(peer.id, tap);
    }
    tap.addProducer(producer);
  }

  /** Makes a producer made by the server (a dub pipeline's output) consumable in the room and announces it. */
  registerProducer(producer: ms.Producer, info: ProducerInfo): void {
    this.#register(producer, info);
  }

  #register(producer: ms.Producer, info: ProducerInfo): void {
    this.producers.set(producer.id, { producer, info });
    // Whatever closes it (client, transport, tap rebuild, worker), peers hear of it once.
    producer.observer.once('close', () => {
      if (!this.producers.delete(producer.id)) return;
      if (info.source === 'original') {
        this.taps.get(info.peerId)?.removeProducer(producer.id);
        this.dubs?.removeOriginalProducer(info.peerId, producer.id);
      }
      if (!this.#closed) this.notifyAll('producerClosed', { producerId: producer.id, peerId: info.peerId });
    });
    this.notifyAll('newProducer', { producer: info }, info.source === 'original' ? info.peerId : undefined);
  }

  notifyAll<M extends NotificationMethod>(method: M, data: NotificationData<M>, exceptPeerId?: string): void {
    for (const peer of this.peers.values()) {
      if (peer.id !== exceptPeerId) peer.notify(method, data);
    }
  }

  close(reason: RoomCloseReason = 'closed'): void {
    if (this.#closed) return;
    this.#closed = true;
    logger.debug(`room ${this.id} closing (${reason})`);
    for (const tap of this.taps.values()) tap.close();
    this.taps.clear();
    this.dubs?.close();
    for (const peer of [...this.peers.values()]) {
      peer.notify('roomClosed', { reason });
      peer.close('roomClosed');
    }
    this.peers.clear();
    this.producers.clear();
    this.router.close();
    this.#release();
    this.safeEmit('close', reason);
    this.removeAllListeners();
  }
}
