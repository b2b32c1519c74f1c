/**
 * A participant in a room: its WebRtcTransports, producers and consumers, and the handlers of its requests after
 * `join`. Requests of one peer are served one at a time (the connection queues them), so a handler sees the state its
 * predecessors left. Every handler re-checks `closed` after each await: a peer that disconnects mid-negotiation
 * leaves nothing behind.
 */
import type { types as ms } from 'mediasoup';
import type {
  NotificationData,
  NotificationMethod,
  PeerGrants,
  RequestData,
  RequestMethod,
  ResponseMap,
} from '../protocol/index.ts';
import { SignalError } from './errors.ts';
import { createLogger } from './logger.ts';
import type { Room } from './Room.ts';

const logger = createLogger('Peer');

/** How the peer reaches its client: the connection implements it. */
export interface PeerLink {
  notify<M extends NotificationMethod>(method: M, data: NotificationData<M>): void;
  /** Ends the client's connection (room closed, peer replaced by a newer join). */
  disconnect(reason: string): void;
}

export interface PeerOptions {
  id: string;
  displayName?: string;
  room: Room;
  link: PeerLink;
  /** What the peer's join token grants (interpreting, host). Default: nothing. */
  grants?: PeerGrants;
  /** Most transports a peer may hold open. Default 4. */
  maxTransports?: number;
  /** Most consumers a peer may hold open. Default 200. */
  maxConsumers?: number;
}

type Handlers = {
  [M in Exclude<RequestMethod, 'join'>]: (data: RequestData<M>) => Promise<ResponseMap[M]>;
};

export class Peer {
  readonly id: string;
  readonly displayName: string | undefined;
  readonly room: Room;
  readonly transports = new Map<string, ms.WebRtcTransport>();
  readonly producers = new Map<string, ms.Producer>();
  readonly consumers = new Map<string, ms.Consumer>();
  /** Dub language chosen per speaker (peer id -> language; absent = original). */
  readonly dubLanguages = new Map<string, string>();
  /** What the peer's join token grants. */
  readonly grants: PeerGrants;
  readonly #link: PeerLink;
  readonly #maxTransports: number;
  readonly #maxConsumers: number;
  #closed = false;

  constructor({ id, displayName, room, link, grants = {}, maxTransports = 4, maxConsumers = 200 }: PeerOptions) {
    this.id = id;
    this.grants = grants;
    this.displayName = displayName;
    this.room = room;
    this.#link = link;
    this.#maxTransports = maxTransports;
    this.#maxConsumers = maxConsumers;
  }

  get closed(): boolean {
    return this.#closed;
  }

  notify<M extends NotificationMethod>(method: M, data: NotificationData<M>): void {
    if (!this.#closed) this.#link.notify(method, data);
  }

  async handle<M extends Exclude<RequestMethod, 'join'>>(method: M, data: RequestData<M>): Promise<ResponseMap[M]> {
    this.#assertOpen();
    const handler = this.#handlers[method] as (d: RequestData<M>) => Promise<ResponseMap[M]>;
    return handler(data);
  }

  #assertOpen(): void {
    if (this.#closed || this.room.closed) throw new SignalError('badState', 'peer has left the room');
  }

  /** After an await: if the peer left meanwhile, close what was just created and stop. */
  #keepOrClose(resource: { close(): void }): void {
    if (this.#closed || this.room.closed) {
      resource.close();
      throw new SignalError('badState', 'peer left during the request');
    }
  }

  #transport(transportId: string): ms.WebRtcTransport {
    const t = this.transports.get(transportId);
    if (!t) throw new SignalError('notFound', `transport ${transportId} not found`);
    return t;
  }

  #consumer(consumerId: string): ms.Consumer {
    const c = this.consumers.get(consumerId);
    if (!c) throw new SignalError('notFound', `consumer ${consumerId} not found`);
    return c;
  }

  readonly #handlers: Handlers = {
    getRouterRtpCapabilities: () =>
      Promise.resolve({
        rtpCapabilities: this.room.router.rtpCapabilities as ResponseMap['join']['routerRtpCapabilities'],
      }),

    createTransport: async ({ direction }) => {
      if (this.transports.size >= this.#maxTransports) {
        throw new SignalError('badState', `at most ${this.#maxTransports} transports per peer`);
      }
      const transport = await this.room.router.createWebRtcTransport({
        ...this.room.webRtcTransportOptions,
        appData: { peerId: this.id, direction },
      });
      this.#keepOrClose(transport);
      this.transports.set(transport.id, transport);
      transport.observer.once('close', () => this.transports.delete(transport.id));
      // A client that vanishes without closing its socket: ICE/DTLS failure ends the transport.
      transport.on('dtlsstatechange', (state) => {
        if (state === 'failed' || state === 'closed') transport.close();
      });
      return {
        transportId: transport.id,
        iceParameters: transport.iceParameters,
        iceCandidates: transport.iceCandidates,
        dtlsParameters: transport.dtlsParameters,
      };
    },

    connectTransport: async ({ transportId, dtlsParameters }) => {
      const transport = this.#transport(transportId);
      if (transport.dtlsState !== 'new')
        throw new SignalError('badState', `transport ${transportId} already connected`);
      await transport.connect({ dtlsParameters: dtlsParameters as ms.DtlsParameters });
      return {};
    },

    produce: async ({ transportId, kind, rtpParameters, appData }) => {
      const transport = this.#transport(transportId);
      if ((transport.appData as { direction?: string }).direction !== 'send') {
        throw new SignalError('badState', `transport ${transportId} is not a send transport`);
      }
      const producer = await transport.produce({
        kind,
        rtpParameters: rtpParameters as ms.RtpParameters,
        appData: { ...appData, peerId: this.id },
      });
      this.#keepOrClose(producer);
      this.producers.set(producer.id, producer);
      producer.observer.once('close', () => this.producers.delete(producer.id));
      this.room.addOriginalProducer(this, producer);
      return { producerId: producer.id };
    },

    consume: async ({ transportId, producerId, rtpCapabilities }) => {
      const transport = this.#transport(transportId);
      if ((transport.appData as { direction?: string }).direction !== 'recv') {
        throw new SignalError('badState', `transport ${transportId} is not a receive transport`);
      }
      if (this.consumers.size >= this.#maxConsumers) {
        throw new SignalError('badState', `at most ${this.#maxConsumers} consumers per peer`);
      }
      const entry = this.room.producers.get(producerId);
      if (!entry) throw new SignalError('notFound', `producer ${producerId} not found in this room`);
      const caps = rtpCapabilities as ms.RtpCapabilities;
      if (!this.room.router.canConsume({ producerId, rtpCapabilities: caps })) {
        throw new SignalError('unsupported', `cannot consume producer ${producerId} with these RTP capabilities`);
      }
      const consumer = await transport.consume({
        producerId,
        rtpCapabilities: caps,
        paused: true,
        appData: { peerId: this.id },
      });
      this.#keepOrClose(consumer);
      this.consumers.set(consumer.id, consumer);
      consumer.observer.once('close', () => this.consumers.delete(consumer.id));
      consumer.on('producerclose', () => {
        this.consumers.delete(consumer.id);
        this.notify('consumerClosed', { consumerId: consumer.id, reason: 'producerClosed' });
      });
      return {
        consumerId: consumer.id,
        producerId,
        peerId: entry.info.peerId,
        kind: consumer.kind,
        rtpParameters: consumer.rtpParameters as ResponseMap['consume']['rtpParameters'],
        source: entry.info.source,
        paused: true,
      };
    },

    resume: async ({ consumerId }) => {
      await this.#consumer(consumerId).resume();
      return {};
    },

    pause: async ({ consumerId }) => {
      await this.#consumer(consumerId).pause();
      return {};
    },

    closeConsumer: ({ consumerId }) => {
      this.#consumer(consumerId).close();
      return Promise.resolve({});
    },

    closeProducer: ({ producerId }) => {
      const producer = this.producers.get(producerId);
      if (!producer) throw new SignalError('notFound', `producer ${producerId} not found`);
      producer.close();
      return Promise.resolve({});
    },

    requestKeyFrame: async ({ consumerId }) => {
      const consumer = this.#consumer(consumerId);
      if (consumer.kind !== 'video') throw new SignalError('badRequest', 'keyframes exist for video consumers only');
      await consumer.requestKeyFrame();
      return {};
    },

    setDubLanguage: ({ speakerPeerId, language }) => {
      if (!this.room.peers.has(speakerPeerId)) throw new SignalError('notFound', `peer ${speakerPeerId} not found`);
      if (this.room.dubs) return this.room.dubs.setDubLanguage(this, speakerPeerId, language);
      if (language !== null && !this.room.languages.includes(language)) {
        throw new SignalError('unsupported', `language ${language} not offered in this room`);
      }
      if (language === null) this.dubLanguages.delete(speakerPeerId);
      else this.dubLanguages.set(speakerPeerId, language);
      return Promise.resolve({ speakerPeerId, language });
    },

    setDubConsent: async (consent) => {
      if (this.room.dubs) await this.room.dubs.setDubConsent(this, consent);
      return consent;
    },

    startInterpreting: (data) => {
      if (!this.room.dubs) throw new SignalError('unsupported', 'this room has no dubbing, so no interpretation');
      return this.room.dubs.startInterpreting(this, data);
    },

    stopInterpreting: (data) => {
      if (!this.room.dubs) throw new SignalError('unsupported', 'this room has no dubbing, so no interpretation');
      return this.room.dubs.stopInterpreting(this, data);
    },

    leave: () => {
      this.close('left');
      return Promise.resolve({});
    },
  };

  /** Closes the peer's transports (and so its producers and consumers) and leaves the room. Idempotent. */
  close(reason = 'closed'): void {
    if (this.#closed) return;
    this.#closed = true;
    logger.debug(`peer ${this.id} closing (${reason})`);
    for (const t of [...this.transports.values()]) t.close();
    this.transports.clear();
    this.producers.clear();
    this.consumers.clear();
    this.room.removePeer(this);
    if (reason !== 'left') this.#link.disconnect(reason);
  }
}
