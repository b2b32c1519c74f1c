/**
 * The Node SDK (and the meeting bot's base): joins a room, publishes werift tracks, and receives the others' tracks,
 * through mediasoup-client with the werift handler, so its API and behaviour match the browser SDK.
 *
 *   const client = await LipsyncClient.join({ url, token });
 *   client.on('track', (t) => t.track.onReceiveRtp.subscribe((rtp) => ...));
 *   const track = new MediaStreamTrack({ kind: 'video' });
 *   await client.publish(track);  // then track.writeRtp(packet) for each RTP packet
 */
import { Device } from 'mediasoup-client';
import type { Consumer, Producer, Transport } from 'mediasoup-client/types';
import type { RTCRtpSender, MediaStreamTrack as WeriftTrack } from 'werift';
import {
  PROTOCOL_VERSION,
  type ConsumerInfo,
  type NotificationMessage,
  type PeerInfo,
  type ProducerInfo,
  type TrackSource,
} from '../../protocol/index.ts';
import { SignalChannel, type SignalChannelOptions } from './SignalChannel.ts';
import { WeriftHandler, type WeriftHandlerOptions } from './WeriftHandler.ts';

export { RequestError } from './SignalChannel.ts';

/** Which producers a client consumes on its own. */
export type SubscribePolicy = 'processed' | 'original' | 'all' | 'none';

export interface JoinOptions extends SignalChannelOptions {
  /** WebSocket URL of the SFU, e.g. `ws://127.0.0.1:8080/ws`. */
  url: string;
  /** Join token minted by the application server. */
  token: string;
  displayName?: string;
  /** Consume other peers' producers automatically. Default 'processed' (the tapped tracks). */
  subscribe?: SubscribePolicy;
  handler?: WeriftHandlerOptions;
}

/** A remote track this client receives. */
export interface RemoteTrack {
  /** werift track: `track.onReceiveRtp.subscribe((rtp) => ...)`. */
  track: WeriftTrack;
  consumerId: string;
  producerId: string;
  peerId: string;
  kind: 'audio' | 'video';
  source: TrackSource;
}

/** A track this client publishes. */
export interface Publication {
  producerId: string;
  kind: 'audio' | 'video';
  /**
   * Calls `listener` whenever the SFU asks this sender for a keyframe (a listener joined, lost packets, or the tap's
   * processor needs one): an encoder feeding the track should emit one soon. Returns an unsubscribe function.
   */
  onKeyframeRequest(listener: () => void): () => void;
  close(): void;
}

type ClientEvents = {
  /** A peer is in the room (those present at join, then each newcomer). */
  peer: [PeerInfo];
  peerleft: [peerId: string];
  /** A producer became available (whether or not it is subscribed). */
  producer: [ProducerInfo];
  producerclose: [producerId: string];
  /** A subscribed track is ready. */
  track: [RemoteTrack];
  trackended: [RemoteTrack];
  /** The available dub languages changed. */
  languages: [string[]];
  /** The client left: 'left', 'roomClosed:<reason>', 'replaced' (same peer joined elsewhere), 'disconnected'. */
  close: [reason: string];
  /** A background operation (auto-subscribe) failed. */
  error: [Error];
};

type Listener<A extends unknown[]> = (...args: A) => void;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyListener = (...args: any[]) => void;

export class LipsyncClient {
  readonly peerId: string;
  readonly roomId: string;
  readonly peers = new Map<string, PeerInfo>();
  readonly producers = new Map<string, ProducerInfo>();
  readonly tracks = new Map<string, RemoteTrack>();
  languages: string[];
  readonly #channel: SignalChannel;
  readonly #device: Device;
  readonly #subscribe: SubscribePolicy;
  readonly #consumers = new Map<string, Consumer>();
  readonly #producersLocal = new Map<string, Producer>();
  readonly #listeners = new Map<keyof ClientEvents, AnyListener[]>();
  #sendTransport: Transport | undefined;
  #recvTransport: Promise<Transport> | undefined;
  #closed = false;
  #closing = false;

  static async join(options: JoinOptions): Promise<LipsyncClient> {
    const channel = await SignalChannel.connect(options.url, options);
    try {
      const joined = await channel.request('join', {
        protocolVersion: PROTOCOL_VERSION,
        token: options.token,
        ...(options.displayName ? { displayName: options.displayName } : {}),
      });
      const device = new Device({ handlerFactory: WeriftHandler.createFactory(options.handler) });
      await device.load({ routerRtpCapabilities: joined.routerRtpCapabilities });
      const client = new LipsyncClient(channel, device, joined.peerId, joined.roomId, joined.languages, options);
      // Let the caller attach listeners before the initial peers and producers are announced.
      setImmediate(() => client.#announceInitial(joined.peers));
      return client;
    } catch (err) {
      channel.close();
      throw err;
    }
  }

  private constructor(
    channel: SignalChannel,
    device: Device,
    peerId: string,
    roomId: string,
    languages: string[],
    options: JoinOptions,
  ) {
    this.#channel = channel;
    this.#device = device;
    this.peerId = peerId;
    this.roomId = roomId;
    this.languages = languages;
    this.#subscribe = options.subscribe ?? 'processed';
    channel.onNotification = (msg) => this.#onNotification(msg);
    // The server's close reason ('roomClosed', 'replaced', 'serverShutdown') when it gave one.
    channel.onClose = (_code, reason) => this.#teardown(reason || 'disconnected');
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The signalling channel, for requests the SDK does not wrap yet. */
  get signal(): SignalChannel {
    return this.#channel;
  }

  on<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents[K]>): this {
    const list = this.#listeners.get(event) ?? [];
    list.push(listener as AnyListener);
    this.#listeners.set(event, list);
    return this;
  }

  off<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents[K]>): this {
    const list = this.#listeners.get(event);
    if (list)
      this.#listeners.set(
        event,
        list.filter((l) => l !== (listener as AnyListener)),
      );
    return this;
  }

  #emit<K extends keyof ClientEvents>(event: K, ...args: ClientEvents[K]): void {
    for (const l of this.#listeners.get(event) ?? []) {
      try {
        l(...args);
      } catch (err) {
        console.error(`LipsyncClient: listener of '${event}' threw:`, err);
      }
    }
  }

  /** Publishes a werift track; write RTP into it with `track.writeRtp()`. */
  async publish(track: WeriftTrack, { appData }: { appData?: Record<string, unknown> } = {}): Promise<Publication> {
    this.#assertOpen();
    const transport = await this.#getSendTransport();
    const producer = await transport.produce({
      track: track as unknown as MediaStreamTrack,
      stopTracks: false,
      ...(appData ? { appData } : {}),
    });
    this.#producersLocal.set(producer.id, producer);
    const sender = producer.rtpSender as unknown as RTCRtpSender | undefined;
    return {
      producerId: producer.id,
      kind: producer.kind,
      onKeyframeRequest: (listener) => {
        if (!sender) return () => {};
        const { unSubscribe } = sender.onPictureLossIndication.subscribe(() => {
          try {
            listener();
          } catch (err) {
            console.error('LipsyncClient: keyframe listener threw:', err);
          }
        });
        return unSubscribe;
      },
      close: () => {
        if (producer.closed) return;
        producer.close();
        this.#producersLocal.delete(producer.id);
        this.#channel.request('closeProducer', { producerId: producer.id }).catch(() => {});
      },
    };
  }

  /** Receives one producer of the room. Resolves once the track is ready and the server resumed it. */
  async subscribe(producerId: string): Promise<RemoteTrack> {
    this.#assertOpen();
    const transport = await this.#getRecvTransport();
    const info: ConsumerInfo = await this.#channel.request('consume', {
      transportId: transport.id,
      producerId,
      rtpCapabilities: this.#device.recvRtpCapabilities,
    });
    const consumer = await transport.consume({
      id: info.consumerId,
      producerId: info.producerId,
      kind: info.kind,
      rtpParameters: info.rtpParameters,
    });
    this.#consumers.set(consumer.id, consumer);
    const remote: RemoteTrack = {
      track: consumer.track as unknown as WeriftTrack,
      consumerId: consumer.id,
      producerId: info.producerId,
      peerId: info.peerId,
      kind: info.kind,
      source: info.source,
    };
    this.tracks.set(consumer.id, remote);
    await this.#channel.request('resume', { consumerId: consumer.id });
    this.#emit('track', remote);
    return remote;
  }

  /** Resolves when every transport opened so far has its ICE + DTLS connected (media can flow). */
  async transportsConnected(timeoutMs = 10_000): Promise<void> {
    const transports: Transport[] = [];
    if (this.#sendTransport) transports.push(this.#sendTransport);
    if (this.#recvTransport) transports.push(await this.#recvTransport);
    await Promise.all(
      transports.map(
        (t) =>
          new Promise<void>((resolve, reject) => {
            if (t.connectionState === 'connected') return resolve();
            const timer = setTimeout(
              () => reject(new Error(`transport ${t.direction} not connected after ${timeoutMs} ms`)),
              timeoutMs,
            );
            const onState = (state: string) => {
              if (state === 'connected') {
                clearTimeout(timer);
                t.off('connectionstatechange', onState);
                resolve();
              } else if (state === 'failed' || state === 'closed') {
                clearTimeout(timer);
                t.off('connectionstatechange', onState);
                reject(new Error(`transport ${t.direction} ${state}`));
              }
            };
            t.on('connectionstatechange', onState);
          }),
      ),
    );
  }

  async unsubscribe(consumerId: string): Promise<void> {
    this.#endTrack(consumerId);
    await this.#channel.request('closeConsumer', { consumerId });
  }

  /** Chooses the language whose dub this client hears for one speaker (null: original speech). */
  async setDubLanguage(speakerPeerId: string, language: string | null): Promise<void> {
    await this.#channel.request('setDubLanguage', { speakerPeerId, language });
  }

  async #getSendTransport(): Promise<Transport> {
    if (this.#sendTransport) return this.#sendTransport;
    const info = await this.#channel.request('createTransport', { direction: 'send' });
    const transport = this.#device.createSendTransport({
      id: info.transportId,
      iceParameters: info.iceParameters,
      iceCandidates: info.iceCandidates,
      dtlsParameters: info.dtlsParameters,
    });
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.#channel
        .request('connectTransport', { transportId: transport.id, dtlsParameters })
        .then(() => callback(), errback);
    });
    transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
      this.#channel
        .request('produce', {
          transportId: transport.id,
          kind,
          rtpParameters,
          ...(appData && Object.keys(appData).length ? { appData } : {}),
        })
        .then(({ producerId }) => callback({ id: producerId }), errback);
    });
    this.#sendTransport = transport;
    return transport;
  }

  #getRecvTransport(): Promise<Transport> {
    this.#recvTransport ??= (async () => {
      const info = await this.#channel.request('createTransport', { direction: 'recv' });
      const transport = this.#device.createRecvTransport({
        id: info.transportId,
        iceParameters: info.iceParameters,
        iceCandidates: info.iceCandidates,
        dtlsParameters: info.dtlsParameters,
      });
      transport.on('connect', ({ dtlsParameters }, callback, errback) => {
        this.#channel
          .request('connectTransport', { transportId: transport.id, dtlsParameters })
          .then(() => callback(), errback);
      });
      return transport;
    })();
    return this.#recvTransport;
  }

  #wants(p: ProducerInfo): boolean {
    if (p.peerId === this.peerId) return false;
    switch (this.#subscribe) {
      case 'none':
        return false;
      case 'all':
        return true;
      default:
        return p.source === this.#subscribe;
    }
  }

  #addProducer(p: ProducerInfo): void {
    this.producers.set(p.producerId, p);
    this.#emit('producer', p);
    if (this.#wants(p)) {
      this.subscribe(p.producerId).catch((err: unknown) => {
        if (!this.#closed) this.#emit('error', err instanceof Error ? err : new Error(String(err)));
      });
    }
  }

  #announceInitial(peers: PeerInfo[]): void {
    for (const peer of peers) {
      this.peers.set(peer.peerId, peer);
      this.#emit('peer', peer);
    }
    for (const peer of peers) for (const p of peer.producers) this.#addProducer(p);
  }

  #onNotification(msg: NotificationMessage): void {
    switch (msg.method) {
      case 'peerJoined': {
        const { peer } = msg.data as NotificationMessage<'peerJoined'>['data'];
        this.peers.set(peer.peerId, peer);
        this.#emit('peer', peer);
        break;
      }
      case 'peerLeft': {
        const { peerId } = msg.data as NotificationMessage<'peerLeft'>['data'];
        this.peers.delete(peerId);
        this.#emit('peerleft', peerId);
        break;
      }
      case 'newProducer':
        this.#addProducer((msg.data as NotificationMessage<'newProducer'>['data']).producer);
        break;
      case 'producerClosed': {
        const { producerId } = msg.data as NotificationMessage<'producerClosed'>['data'];
        this.producers.delete(producerId);
        this.#emit('producerclose', producerId);
        break;
      }
      case 'consumerClosed':
        this.#endTrack((msg.data as NotificationMessage<'consumerClosed'>['data']).consumerId);
        break;
      case 'languages':
        this.languages = (msg.data as NotificationMessage<'languages'>['data']).languages;
        this.#emit('languages', this.languages);
        break;
      case 'roomClosed':
        this.#teardown(`roomClosed:${(msg.data as NotificationMessage<'roomClosed'>['data']).reason}`);
        break;
    }
  }

  #endTrack(consumerId: string): void {
    const consumer = this.#consumers.get(consumerId);
    this.#consumers.delete(consumerId);
    consumer?.close();
    const remote = this.tracks.get(consumerId);
    if (!remote) return;
    this.tracks.delete(consumerId);
    this.#emit('trackended', remote);
  }

  #assertOpen(): void {
    if (this.#closed || this.#closing) throw new Error('client closed');
  }

  #teardown(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const id of [...this.#consumers.keys()]) this.#endTrack(id);
    for (const p of this.#producersLocal.values()) p.close();
    this.#producersLocal.clear();
    this.#sendTransport?.close();
    this.#recvTransport?.then((t) => t.close()).catch(() => {});
    this.#channel.close();
    this.#emit('close', reason);
    this.#listeners.clear();
  }

  /** Leaves the room and closes everything. Idempotent. */
  close(): void {
    if (this.#closed || this.#closing) return;
    this.#closing = true;
    // Tell the server first (it then closes our transports at once), but never wait long for it.
    const done = () => this.#teardown('left');
    const timer = setTimeout(done, 500);
    this.#channel
      .request('leave', {})
      .catch(() => {})
      .finally(() => {
        clearTimeout(timer);
        done();
      });
  }
}
