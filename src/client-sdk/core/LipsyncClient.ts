/**
 * The client SDK's one implementation, shared by the browser SDK and the Node SDK / meeting bot: signalling, the
 * mediasoup-client Device, one send and one receive transport, peers and tracks as typed events, and the listener's
 * dub choice. The flavours differ only in the mediasoup-client handler (the browser's own or the werift handler) and
 * the WebSocket implementation; both subclass this class and add a `join()`.
 *
 *   const client = await LipsyncClient.join({ url, token });
 *   client.on('speakerview', (v) => render(v.peerId, v.audio?.track, v.video?.track));
 *   await client.publish(cameraTrack);
 *   await client.setDubLanguage(speakerPeerId, 'es');   // null: back to the original
 *
 * Switching a speaker to a dub consumes the dubbed producers on the existing receive transport, waits until their
 * media arrives, then emits the new view and pauses the original consumers (kept, so switching back is instant): no
 * renegotiation of the session, and the old picture stays on screen until the new one can replace it.
 */
import { Device } from 'mediasoup-client';
import type { Consumer, Producer, ProducerOptions, Transport } from 'mediasoup-client/types';
import {
  ANY_SPEAKER,
  PROTOCOL_VERSION,
  type ConsumerInfo,
  type LanguageOffer,
  type NotificationMessage,
  type PeerGrants,
  type PeerInfo,
  type ProducerInfo,
  type ResponseMap,
} from '../../protocol/index.ts';
import { Emitter } from './Emitter.ts';
import { RequestError, SignalChannel } from './SignalChannel.ts';
import type {
  ClientEvents,
  DubChoice,
  InterpretingAssignment,
  JoinOptions,
  Publication,
  RemoteTrack,
  SpeakerLanguage,
  SpeakerView,
  SubscribePolicy,
} from './types.ts';

/** What `join` gathered before the client object exists. */
export interface JoinedSession {
  channel: SignalChannel;
  device: Device;
  joined: ResponseMap['join'];
  options: JoinOptions;
  /** The close reason if the socket closed between the join response and the client's construction. */
  early: { closeReason?: string };
}

/** Options of `publish`: mediasoup-client's ProducerOptions minus the track. */
export type PublishOptions = Omit<ProducerOptions, 'track'>;

/** Longest wait for a newly consumed track's first media before switching to it anyway, in ms. */
const MEDIA_WAIT_MS = 4000;

export class LipsyncClient<TTrack = MediaStreamTrack> extends Emitter<ClientEvents<TTrack>> {
  readonly peerId: string;
  readonly roomId: string;
  readonly peers = new Map<string, PeerInfo>();
  readonly producers = new Map<string, ProducerInfo>();
  /** Subscribed tracks by consumer id. */
  readonly tracks = new Map<string, RemoteTrack<TTrack>>();
  languages: string[];
  /** The room's languages, each with its fallback source and live interpreters (updated by `languages` events). */
  languageOffers: LanguageOffer[];
  /** What this peer's join token grants: languages it may interpret into, host. */
  readonly grants: PeerGrants;
  readonly #channel: SignalChannel;
  readonly #device: Device;
  readonly #subscribe: SubscribePolicy;
  readonly #dubTimeoutMs: number;
  readonly #consumers = new Map<string, Consumer>();
  readonly #localProducers = new Map<string, Producer>();
  /** Dub language chosen per speaker. */
  readonly #dubs = new Map<string, string>();
  /** Last view emitted per speaker (to emit only changes). */
  readonly #views = new Map<string, string>();
  /** Serialises dub switches per speaker. */
  readonly #switching = new Map<string, Promise<unknown>>();
  /**
   * How a dubbed audio and video track are grouped for the browser's A/V sync, read when each is subscribed: `shared`,
   * one msid stream, and the browser syncs them; `split`, a stream each, so the browser leaves them alone and
   * `DubLipSync` (which sets this) syncs them. The browser's own sync stops inside a 30 ms dead band and undoes finer
   * trims made on top of it.
   */
  dubSyncGroups: 'shared' | 'split' = 'shared';
  #sendTransport: Promise<Transport> | undefined;
  #recvTransport: Promise<Transport> | undefined;
  #closed = false;
  #closing = false;

  /** Connects, joins and loads the Device. Subclasses wrap it in their `join()`. */
  protected static async connect(options: JoinOptions): Promise<JoinedSession> {
    const channel = await SignalChannel.connect(options.url, options);
    // Notifications wait until the client has announced the join's state: a peer that joins or publishes while the
    // Device loads (tens of ms in a browser) must not be lost, nor handled before the peers the join listed. The
    // join's answer passes: it is the room as this peer entered it, older than any notification to this peer, even
    // one that arrives first (peers joining at once: the server notifies this peer before its answer is sent).
    channel.hold();
    const early: JoinedSession['early'] = {};
    channel.onClose = (_code, reason) => (early.closeReason = reason || 'disconnected');
    try {
      const joined = await channel.request(
        'join',
        {
          protocolVersion: PROTOCOL_VERSION,
          token: options.token,
          ...(options.displayName ? { displayName: options.displayName } : {}),
        },
        { passesHold: true },
      );
      const device = new Device(options.handlerFactory ? { handlerFactory: options.handlerFactory } : {});
      await device.load({ routerRtpCapabilities: joined.routerRtpCapabilities });
      return { channel, device, joined, options, early };
    } catch (err) {
      channel.close();
      throw err;
    }
  }

  protected constructor({ channel, device, joined, options, early }: JoinedSession) {
    super();
    this.#channel = channel;
    this.#device = device;
    this.peerId = joined.peerId;
    this.roomId = joined.roomId;
    this.languages = joined.languages;
    this.languageOffers =
      joined.languageOffers ?? joined.languages.map((language) => ({ language, source: 'embedded' }));
    this.grants = joined.grants ?? {};
    this.#subscribe = options.subscribe ?? 'processed';
    this.#dubTimeoutMs = options.dubTimeoutMs ?? 60_000;
    channel.onNotification = (msg) => this.#onNotification(msg);
    // The server's close reason ('roomClosed', 'replaced', 'serverShutdown') when it gave one.
    channel.onClose = (_code, reason) => this.#teardown(reason || 'disconnected');
    // Let the caller attach listeners before the initial peers and producers are announced; what the server said
    // since the join follows them, in order (the channel holds responses behind held notifications too).
    setTimeout(() => {
      this.#announceInitial(joined.peers);
      if (!this.#closed) channel.release();
      if (early.closeReason !== undefined) this.#teardown(early.closeReason);
    }, 0);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The signalling channel, for requests the SDK does not wrap. */
  get signal(): SignalChannel {
    return this.#channel;
  }

  get device(): Device {
    return this.#device;
  }

  /** The dub language chosen for a speaker (null: original). */
  dubLanguageOf(speakerPeerId: string): string | null {
    return this.#dubs.get(speakerPeerId) ?? null;
  }

  /** The mediasoup-client consumer of a subscribed track (stats, RTCRtpReceiver in browsers). */
  consumerOf(consumerId: string): Consumer | undefined {
    return this.#consumers.get(consumerId);
  }

  /** What to render for a speaker now. */
  viewOf(speakerPeerId: string): SpeakerView<TTrack> {
    const language = this.#dubs.get(speakerPeerId) ?? null;
    const view: SpeakerView<TTrack> = { peerId: speakerPeerId, language: null };
    const pick = (want: string | null) => {
      for (const t of this.tracks.values()) {
        if (t.peerId !== speakerPeerId || t.language !== want) continue;
        const current = view[t.kind];
        // Prefer the processed copy over the original when both are subscribed.
        if (!current || (current.source === 'original' && t.source === 'processed')) view[t.kind] = t;
      }
    };
    if (language !== null) {
      pick(language);
      if (view.audio || view.video) {
        view.language = language;
        return view;
      }
    }
    pick(null);
    return view;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Publishing

  /** Publishes a track (camera, microphone; in Node a werift track to write RTP into). */
  async publish(track: TTrack, options: PublishOptions = {}): Promise<Publication> {
    this.#assertOpen();
    const transport = await this.#getSendTransport();
    const producer = await transport.produce({
      stopTracks: false,
      ...options,
      track: track as unknown as MediaStreamTrack,
    });
    this.#localProducers.set(producer.id, producer);
    // werift's RTCRtpSender reports PLIs; a browser's RTCRtpSender has no such event (its encoder handles them).
    const sender = producer.rtpSender as unknown as
      | { onPictureLossIndication?: { subscribe(f: () => void): { unSubscribe(): void } } }
      | undefined;
    return {
      producerId: producer.id,
      kind: producer.kind,
      onKeyframeRequest: (listener) => {
        const pli = sender?.onPictureLossIndication;
        if (!pli) return () => {};
        const subscription = pli.subscribe(() => {
          try {
            listener();
          } catch (err) {
            console.error('lipsync client: keyframe listener threw:', err);
          }
        });
        return () => subscription.unSubscribe();
      },
      close: () => {
        if (producer.closed) return;
        producer.close();
        this.#localProducers.delete(producer.id);
        this.#channel.request('closeProducer', { producerId: producer.id }).catch(() => {});
      },
    };
  }

  /**
   * The speaker's consent to being dubbed: `dub: false` refuses any dub (listeners asking get an error);
   * `faceRendering: false` lets listeners hear the dubbed voice over the real, unaltered face.
   */
  async setDubConsent(consent: { dub: boolean; faceRendering: boolean }): Promise<void> {
    this.#assertOpen();
    await this.#channel.request('setDubConsent', consent);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Receiving

  /** Receives one producer of the room. Resolves once the track is ready and the server resumed it. */
  async subscribe(producerId: string): Promise<RemoteTrack<TTrack>> {
    this.#assertOpen();
    for (const t of this.tracks.values()) if (t.producerId === producerId) return t;
    const transport = await this.#getRecvTransport();
    const info: ConsumerInfo = await this.#channel.request('consume', {
      transportId: transport.id,
      producerId,
      rtpCapabilities: this.#device.recvRtpCapabilities,
    });
    const language = this.producers.get(producerId)?.language ?? null;
    const split = language !== null && this.dubSyncGroups === 'split';
    const syncGroup = syncGroupOf(info.peerId, info.source, language, split ? info.kind : undefined);
    const consumer = await transport.consume({
      id: info.consumerId,
      producerId: info.producerId,
      kind: info.kind,
      rtpParameters: info.rtpParameters,
      // Browsers synchronise audio and video of one msid stream, which mediasoup-client otherwise names after the
      // RTCP CNAME: the dubbed tracks carry the speaker's CNAME, and a sync group with two audio streams pairs the
      // dubbed video (or audio) with the original one (measured about -1 s A/V in Chromium). One group per dub.
      streamId: syncGroup,
    });
    if (this.#closed) {
      consumer.close();
      throw new RequestError('closed', 'client closed');
    }
    this.#consumers.set(consumer.id, consumer);
    const remote: RemoteTrack<TTrack> = {
      track: consumer.track as unknown as TTrack,
      consumerId: consumer.id,
      producerId: info.producerId,
      peerId: info.peerId,
      kind: info.kind,
      source: info.source,
      language,
      paused: false,
      syncGroup,
    };
    this.tracks.set(consumer.id, remote);
    await this.#channel.request('resume', { consumerId: consumer.id });
    this.safeEmit('track', remote);
    // A dubbed track shows only once setDubLanguage switches to it.
    if (remote.language === null) this.#emitView(remote.peerId);
    return remote;
  }

  async unsubscribe(consumerId: string): Promise<void> {
    this.#endTrack(consumerId);
    await this.#channel.request('closeConsumer', { consumerId });
  }

  /** Resolves when every transport opened so far has its ICE + DTLS connected (media can flow). */
  async transportsConnected(timeoutMs = 10_000): Promise<void> {
    const transports: Transport[] = [];
    if (this.#sendTransport) transports.push(await this.#sendTransport);
    if (this.#recvTransport) transports.push(await this.#recvTransport);
    await Promise.all(transports.map((t) => waitConnected(t, timeoutMs)));
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Dubbing

  /**
   * Chooses the language this client hears and sees a speaker in; null returns to the speaker's own speech. The
   * server starts the (speaker, language) pipeline on first demand and shares it with every listener of that language.
   * Rejects with a RequestError: `unsupported` (language not offered, speaker refused), `notFound` (no such speaker).
   */
  async setDubLanguage(speakerPeerId: string, language: string | null): Promise<DubChoice> {
    this.#assertOpen();
    const previous = this.#switching.get(speakerPeerId) ?? Promise.resolve();
    const run = previous.catch(() => {}).then(() => this.#switchDub(speakerPeerId, language));
    this.#switching.set(speakerPeerId, run);
    try {
      return await run;
    } finally {
      if (this.#switching.get(speakerPeerId) === run) this.#switching.delete(speakerPeerId);
    }
  }

  async #switchDub(speakerPeerId: string, language: string | null): Promise<DubChoice> {
    const before = this.#dubs.get(speakerPeerId) ?? null;
    if (language === null) {
      // Original first (resume, wait for media), then the switch, then let the dub go.
      await this.#resumeOriginals(speakerPeerId, true);
      this.#dubs.delete(speakerPeerId);
      this.#emitView(speakerPeerId);
      const dubbed = [...this.tracks.values()].filter((t) => t.peerId === speakerPeerId && t.language !== null);
      const res = await this.#channel.request('setDubLanguage', { speakerPeerId, language: null });
      for (const t of dubbed) await this.unsubscribe(t.consumerId).catch(() => {});
      return { speakerPeerId, language: res.language, faceRendering: true };
    }
    const res = await this.#channel.request(
      'setDubLanguage',
      { speakerPeerId, language },
      { timeoutMs: this.#dubTimeoutMs },
    );
    const producers = res.producers ?? [];
    for (const p of producers) this.producers.set(p.producerId, p);
    this.#dubs.set(speakerPeerId, language);
    const fresh: RemoteTrack<TTrack>[] = [];
    try {
      for (const p of producers) fresh.push(await this.subscribe(p.producerId));
      await Promise.all(fresh.map((t) => this.#waitForMedia(t)));
    } catch (err) {
      // Could not receive the dub: stay on (or return to) the original.
      this.#dubs.delete(speakerPeerId);
      await this.#channel.request('setDubLanguage', { speakerPeerId, language: null }).catch(() => {});
      for (const t of fresh) await this.unsubscribe(t.consumerId).catch(() => {});
      await this.#resumeOriginals(speakerPeerId, false);
      this.#emitView(speakerPeerId);
      throw err;
    }
    this.#emitView(speakerPeerId);
    // The dub is on screen: set the originals aside (paused, kept for a fast return) and drop another language's dub.
    for (const t of [...this.tracks.values()]) {
      if (t.peerId !== speakerPeerId) continue;
      if (t.language === null && !t.paused) await this.#pauseTrack(t);
      else if (t.language !== null && t.language !== language) await this.unsubscribe(t.consumerId).catch(() => {});
    }
    void before;
    return {
      speakerPeerId,
      language,
      faceRendering: res.faceRendering ?? true,
      ...(res.source ? { source: res.source } : {}),
    };
  }

  async #pauseTrack(t: RemoteTrack<TTrack>): Promise<void> {
    t.paused = true;
    this.#consumers.get(t.consumerId)?.pause();
    await this.#channel.request('pause', { consumerId: t.consumerId }).catch(() => {});
  }

  async #resumeOriginals(speakerPeerId: string, waitForMedia: boolean): Promise<void> {
    const resumed: RemoteTrack<TTrack>[] = [];
    for (const t of this.tracks.values()) {
      if (t.peerId !== speakerPeerId || t.language !== null || !t.paused) continue;
      t.paused = false;
      this.#consumers.get(t.consumerId)?.resume();
      await this.#channel.request('resume', { consumerId: t.consumerId }).catch(() => {});
      if (t.kind === 'video') {
        await this.#channel.request('requestKeyFrame', { consumerId: t.consumerId }).catch(() => {});
      }
      resumed.push(t);
    }
    if (waitForMedia) await Promise.all(resumed.map((t) => this.#waitForMedia(t)));
  }

  /**
   * Resolves when a track has media past what it had (a decoded video frame, received audio packets), or after
   * MEDIA_WAIT_MS; at once where the handler has no stats.
   */
  async #waitForMedia(t: RemoteTrack<TTrack>): Promise<void> {
    const consumer = this.#consumers.get(t.consumerId);
    if (!consumer) return;
    const count = async (): Promise<number | null> => {
      try {
        const report = await consumer.getStats();
        let n: number | null = null;
        report.forEach((s: { type?: string; framesDecoded?: number; packetsReceived?: number }) => {
          if (s.type !== 'inbound-rtp') return;
          n = (n ?? 0) + (t.kind === 'video' ? (s.framesDecoded ?? 0) : (s.packetsReceived ?? 0));
        });
        return n;
      } catch {
        return null;
      }
    };
    const start = await count();
    if (start === null) return;
    const deadline = Date.now() + MEDIA_WAIT_MS;
    while (Date.now() < deadline && !this.#closed) {
      await new Promise((r) => setTimeout(r, 50));
      const now = await count();
      if (now === null || now > start + (t.kind === 'video' ? 1 : 5)) return;
    }
  }

  #emitView(speakerPeerId: string): void {
    if (this.#closed) return;
    const view = this.viewOf(speakerPeerId);
    const key = `${view.language}|${view.audio?.consumerId ?? ''}|${view.video?.consumerId ?? ''}`;
    if (this.#views.get(speakerPeerId) === key) return;
    this.#views.set(speakerPeerId, key);
    this.safeEmit('speakerview', view);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Interpreting

  /**
   * Starts interpreting `speakerPeerId` (`'*'`: the floor, every speaker without an own interpreter) into `language`:
   * this client's published audio becomes the dub listeners of that language hear (and the speaker's lips follow).
   * Needs `language` in the token's `interpret` grant; a host may pass `interpreterPeerId` to assign another peer.
   * `takeOver: true` relays the interpreter holding that (speaker, language) (booth partners): listeners' running
   * dubs hand over to the new voice without a gap and without `dubended`. Every peer then gets a `languages` event
   * with the new interpreter. Asking again for one's own assignment is a no-op. Rejects with a RequestError:
   * `unauthorized` (no grant), `unsupported` (language not offered), `notFound` (unknown speaker or peer), `badState`
   * (someone else interprets that speaker into that language, without `takeOver`), `badRequest`.
   */
  async startInterpreting(
    speakerPeerId: string,
    language: string,
    options: { interpreterPeerId?: string; takeOver?: boolean } = {},
  ): Promise<InterpretingAssignment> {
    this.#assertOpen();
    return this.#channel.request('startInterpreting', {
      speakerPeerId,
      language,
      ...(options.interpreterPeerId !== undefined ? { interpreterPeerId: options.interpreterPeerId } : {}),
      ...(options.takeOver !== undefined ? { takeOver: options.takeOver } : {}),
    });
  }

  /**
   * Ends an interpreter assignment (one's own, or any as a host). Dubs it drove go on with the floor interpreter of
   * that language, when there is one; otherwise their listeners get `dubended` and are back on the original (or
   * choose the language again for the embedded / provider source, where there is one).
   */
  async stopInterpreting(speakerPeerId: string, language: string): Promise<InterpretingAssignment> {
    this.#assertOpen();
    return this.#channel.request('stopInterpreting', { speakerPeerId, language });
  }

  /** The room's live interpreter assignments (all languages), from the latest `languages` event. */
  get interpreters(): InterpretingAssignment[] {
    return this.languageOffers.flatMap((o) => (o.interpreters ?? []).map((i) => ({ ...i, language: o.language })));
  }

  /** The interpreter a listener of `language` hears for this speaker: its own, else the floor's (never itself). */
  interpreterFor(speakerPeerId: string, language: string): string | undefined {
    const list = this.languageOffers.find((o) => o.language === language)?.interpreters ?? [];
    const own = list.find((i) => i.speakerPeerId === speakerPeerId)?.interpreterPeerId;
    const found = own ?? list.find((i) => i.speakerPeerId === ANY_SPEAKER)?.interpreterPeerId;
    return found !== speakerPeerId ? found : undefined;
  }

  /**
   * The languages a speaker can be heard in now, with their source: an interpreter (own or the floor's) wins over
   * the room's embedded / provider source; an `interpreter` language without one is not available.
   */
  languagesFor(speakerPeerId: string): SpeakerLanguage[] {
    const out: SpeakerLanguage[] = [];
    for (const o of this.languageOffers) {
      const interpreterPeerId = this.interpreterFor(speakerPeerId, o.language);
      if (interpreterPeerId) out.push({ language: o.language, source: 'interpreter', interpreterPeerId });
      else if (o.source !== 'interpreter') out.push({ language: o.language, source: o.source });
    }
    return out;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Transports

  #getSendTransport(): Promise<Transport> {
    this.#sendTransport ??= (async () => {
      const transport = await this.#createTransport('send');
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
      return transport;
    })();
    return this.#sendTransport;
  }

  #getRecvTransport(): Promise<Transport> {
    this.#recvTransport ??= this.#createTransport('recv');
    return this.#recvTransport;
  }

  /** A server-side WebRtcTransport and its local twin, connected (DTLS) through signalling on first use. */
  async #createTransport(direction: 'send' | 'recv'): Promise<Transport> {
    const info = await this.#channel.request('createTransport', { direction });
    const options = {
      id: info.transportId,
      iceParameters: info.iceParameters,
      iceCandidates: info.iceCandidates,
      dtlsParameters: info.dtlsParameters,
    };
    const transport =
      direction === 'send' ? this.#device.createSendTransport(options) : this.#device.createRecvTransport(options);
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.#channel
        .request('connectTransport', { transportId: transport.id, dtlsParameters })
        .then(() => callback(), errback);
    });
    return transport;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Notifications

  #wants(p: ProducerInfo): boolean {
    if (p.peerId === this.peerId) return false;
    if (p.language) return this.#dubs.get(p.peerId) === p.language; // a rebuilt dub we listen to
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
    this.safeEmit('producer', p);
    if (!this.#wants(p)) return;
    this.subscribe(p.producerId)
      .then((t) => {
        if (t.language !== null) this.#emitView(t.peerId);
      })
      .catch((err: unknown) => {
        if (!this.#closed) this.safeEmit('error', err instanceof Error ? err : new Error(String(err)));
      });
  }

  #announceInitial(peers: PeerInfo[]): void {
    if (this.#closed) return;
    for (const peer of peers) {
      this.peers.set(peer.peerId, peer);
      this.safeEmit('peer', peer);
    }
    for (const peer of peers) for (const p of peer.producers) this.#addProducer(p);
  }

  #onNotification(msg: NotificationMessage): void {
    switch (msg.method) {
      case 'peerJoined': {
        const { peer } = msg.data as NotificationMessage<'peerJoined'>['data'];
        this.peers.set(peer.peerId, peer);
        this.safeEmit('peer', peer);
        break;
      }
      case 'peerLeft': {
        const { peerId } = msg.data as NotificationMessage<'peerLeft'>['data'];
        this.peers.delete(peerId);
        this.#dubs.delete(peerId);
        this.#views.delete(peerId);
        this.safeEmit('peerleft', peerId);
        break;
      }
      case 'newProducer':
        this.#addProducer((msg.data as NotificationMessage<'newProducer'>['data']).producer);
        break;
      case 'producerClosed': {
        const { producerId } = msg.data as NotificationMessage<'producerClosed'>['data'];
        this.producers.delete(producerId);
        this.safeEmit('producerclose', producerId);
        break;
      }
      case 'consumerClosed':
        this.#endTrack((msg.data as NotificationMessage<'consumerClosed'>['data']).consumerId);
        break;
      case 'languages': {
        const data = msg.data as NotificationMessage<'languages'>['data'];
        this.languages = data.languages;
        this.languageOffers = data.offers ?? data.languages.map((language) => ({ language, source: 'embedded' }));
        this.safeEmit('languages', this.languages, this.languageOffers);
        break;
      }
      case 'dubStats':
        this.safeEmit('dubstats', msg.data as NotificationMessage<'dubStats'>['data']);
        break;
      case 'dubEnded': {
        const data = msg.data as NotificationMessage<'dubEnded'>['data'];
        if (this.#dubs.get(data.speakerPeerId) !== data.language) break;
        this.#dubs.delete(data.speakerPeerId);
        this.#resumeOriginals(data.speakerPeerId, false)
          .then(() => this.#emitView(data.speakerPeerId))
          .catch(() => {});
        this.safeEmit('dubended', data);
        break;
      }
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
    this.safeEmit('trackended', remote);
    // A dub whose tracks are gone (pipeline rebuilt or stopped): show the originals again.
    if (remote.language !== null && this.#dubs.get(remote.peerId) === remote.language) {
      const stillDubbed = [...this.tracks.values()].some(
        (t) => t.peerId === remote.peerId && t.language === remote.language,
      );
      if (!stillDubbed) {
        this.#resumeOriginals(remote.peerId, false)
          .then(() => this.#emitView(remote.peerId))
          .catch(() => {});
        return;
      }
    }
    this.#emitView(remote.peerId);
  }

  #assertOpen(): void {
    if (this.#closed || this.#closing) throw new RequestError('closed', 'client closed');
  }

  #teardown(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const id of [...this.#consumers.keys()]) this.#endTrack(id);
    for (const p of this.#localProducers.values()) p.close();
    this.#localProducers.clear();
    this.#sendTransport?.then((t) => t.close()).catch(() => {});
    this.#recvTransport?.then((t) => t.close()).catch(() => {});
    this.#channel.close();
    this.safeEmit('close', reason);
    this.removeAllListeners();
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

function waitConnected(t: Transport, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (t.connectionState === 'connected') return resolve();
    const timer = setTimeout(() => {
      t.off('connectionstatechange', onState);
      reject(new Error(`transport ${t.direction} not connected after ${timeoutMs} ms`));
    }, timeoutMs);
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
  });
}

/**
 * The msid stream id of a received track: audio and video of one (speaker, source, language) sync together, unless
 * `kind` puts each in a group of its own (see `dubSyncGroups`).
 */
export function syncGroupOf(peerId: string, source: string, language: string | null, kind?: 'audio' | 'video'): string {
  return `${peerId}/${source}/${language ?? 'original'}${kind ? `/${kind}` : ''}`;
}
