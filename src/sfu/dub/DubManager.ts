/**
 * A room's dubbing: which languages it offers and from which source, each speaker's consent, and one DubPipeline per
 * (speaker, language) that some listener chose, started on the first listener and stopped when the last one leaves
 * (changes language, returns to the original, leaves the room). Bad requests get a clear SignalError and touch
 * nothing else: an unsupported language, a speaker who refused, a speaker with nothing to dub, a pipeline that failed.
 *
 *   new LipsyncServer({ dubs: dubManagerFactory({ offers: [{ language: 'es', source: 'embedded' }] }) })
 */
import type { types as ms } from 'mediasoup';
import {
  EmbeddedDubSource,
  InterpreterRegistry,
  ProviderDubSource,
  type DubSource,
  type InterpreterAssignment,
} from '../../pipeline/dub/index.ts';
import {
  ANY_SPEAKER,
  type InterpreterInfo,
  type LanguageOffer,
  type RequestData,
  type ResponseMap,
} from '../../protocol/index.ts';
import { SignalError } from '../errors.ts';
import { createLogger } from '../logger.ts';
import type { Peer } from '../Peer.ts';
import type { Room, RoomDubHooks } from '../Room.ts';
import { DubPipeline } from './DubPipeline.ts';
import { InterpreterFeedSource } from './InterpreterFeed.ts';

const logger = createLogger('DubManager');

export interface DubManagerOptions {
  /** Languages offered and their sources. */
  offers: LanguageOffer[];
  /** Language the speakers speak (the embedded translator recognises English only). Default `en`. */
  sourceLanguage?: string;
  /**
   * Builds the (not yet started) dub source of a pipeline. Default: EmbeddedDubSource for `embedded` offers,
   * ProviderDubSource to `providerUrl` for `provider` offers; anything else must be supplied here.
   */
  createDubSource?: (ctx: { room: Room; speakerPeerId: string; offer: LanguageOffer }) => DubSource;
  /** `ws://host:port` of a dub provider (docs/provider-protocol.md, e.g. `lipsync translate-server`) for `provider` offers. */
  providerUrl?: string;
  /** Face stage for re-rendering (default `lipsync`) and its params. */
  stage?: string;
  stageParams?: Record<string, unknown>;
  /** DubTimeline delay in ms (the dubbed video is delayed as much). Default 1500. */
  timelineDelayMs?: number;
  /** Longest wait for a new pipeline's producers, in ms. Default 45000. */
  startTimeoutMs?: number;
  /** Period of the `dubStats` notification, in ms (0: never). Default 1000. */
  statsIntervalMs?: number;
  /**
   * Interpreter assignments every room starts with (speaker `*`: the whole floor). More at run time with
   * DubManager.assignInterpreter. An assigned interpreter's audio is the dub of (speaker, language), whatever the
   * offer's source; the language must still be offered.
   */
  interpreters?: InterpreterAssignment[];
  /** InterpreterDubSource mode for interpreter pipelines. Default `continuous`. */
  interpreterMode?: 'vad' | 'continuous';
}

interface Consent {
  dub: boolean;
  faceRendering: boolean;
}

export class DubManager implements RoomDubHooks {
  /** The configured offers (language + fallback source), without the live interpreters. */
  readonly #offers: LanguageOffer[];
  readonly #room: Room;
  readonly #options: DubManagerOptions;
  /** Speaker peer id -> their original producers. */
  readonly #originals = new Map<string, Map<string, ms.Producer>>();
  readonly #consent = new Map<string, Consent>();
  /** `${speaker}\n${language}` -> pipeline. */
  readonly #pipelines = new Map<string, DubPipeline>();
  /** Listener peer id -> speaker peer id -> language. */
  readonly #choices = new Map<string, Map<string, string>>();
  /** Who interprets whom in this room. */
  readonly interpreters = new InterpreterRegistry();
  /** Pipeline -> the interpreter peer whose audio drives it (none: the offer's own source drives it). */
  readonly #interpreterOf = new Map<DubPipeline, string>();
  /** Pipeline -> its number of swaps asked for, so a failed swap that a later one superseded stops nothing. */
  readonly #swapSeq = new Map<DubPipeline, number>();
  readonly #statsTimer: ReturnType<typeof setInterval> | undefined;
  /** The offers last announced (JSON), so an unrelated change announces nothing. */
  #announced = '';
  #closed = false;

  constructor(room: Room, options: DubManagerOptions) {
    this.#room = room;
    this.#options = options;
    this.#offers = options.offers.map((o) => ({ language: o.language, source: o.source }));
    for (const a of options.interpreters ?? []) this.interpreters.assign(a.speakerId, a.language, a.interpreterId);
    this.#announce();
    const period = options.statsIntervalMs ?? 1000;
    if (period > 0) {
      this.#statsTimer = setInterval(() => this.#sendStats(), period);
      this.#statsTimer.unref();
    }
  }

  /**
   * The languages offered, each with its fallback source and its live interpreters (sent in the join response and in
   * `languages` notifications whenever they change).
   */
  get offers(): LanguageOffer[] {
    const assignments = this.interpreters.entries();
    return this.#offers.map((o) => {
      const interpreters: InterpreterInfo[] = assignments
        .filter((a) => a.language === o.language)
        .map((a) => ({ speakerPeerId: a.speakerId, interpreterPeerId: a.interpreterId }))
        .sort((a, b) => (a.speakerPeerId < b.speakerPeerId ? -1 : a.speakerPeerId > b.speakerPeerId ? 1 : 0));
      return { ...o, ...(interpreters.length ? { interpreters } : {}) };
    });
  }

  /** Tells every peer the room's languages and their sources, when they changed since the last time. */
  #announce(): void {
    if (this.#closed) return;
    const offers = this.offers;
    const json = JSON.stringify(offers);
    if (json === this.#announced) return;
    this.#announced = json;
    this.#room.setLanguages(
      offers.map((o) => o.language),
      offers,
    );
  }

  /** Running pipelines (tests, health). */
  get pipelines(): readonly DubPipeline[] {
    return [...this.#pipelines.values()];
  }

  /**
   * `interpreterPeerId` interprets `speakerId` (or `*`, every speaker without an own interpreter) into `language`
   * (replacing the assignment's previous interpreter, if any). Running pipelines of that language whose interpreter
   * changes hand over to the new one without a gap (listeners keep their consumers), embedded or provider pipelines
   * included, once the interpreter publishes audio.
   */
  assignInterpreter(speakerId: string, language: string, interpreterPeerId: string): void {
    this.interpreters.assign(speakerId, language, interpreterPeerId);
    this.#updateDrives(language, 'the interpreter assignment changed');
    this.#announce();
  }

  /**
   * Removes an assignment. Pipelines it drove hand over to the interpreter that now applies (the floor's, `*`), else
   * back to the offer's own source (embedded, provider), else stop (see #redrive).
   */
  unassignInterpreter(speakerId: string, language: string): void {
    const removed = this.#assigned(speakerId, language);
    if (this.interpreters.unassign(speakerId, language)) {
      const whom = speakerId === ANY_SPEAKER ? 'the floor' : speakerId;
      this.#updateDrives(language, `interpreter ${removed} stopped interpreting ${whom}`);
      this.#announce();
    }
  }

  /** The interpreter assigned to exactly this (speaker or `*`, language), without the floor fallback. */
  #assigned(speakerPeerId: string, language: string): string | undefined {
    return this.interpreters.entries().find((a) => a.speakerId === speakerPeerId && a.language === language)
      ?.interpreterId;
  }

  /**
   * `startInterpreting` from a peer: itself (its token grants `language` in `interpret`) or, for a host, any peer.
   * Errors: `unauthorized` (no grant), `unsupported` (language not offered), `notFound` (unknown speaker or
   * interpreter), `badRequest` (a peer interpreting itself), `badState` (another interpreter holds the assignment and
   * `takeOver` is not set). With `takeOver`, the new interpreter replaces the one holding the assignment (a booth
   * relay): the running dubs hand over without a gap. Asking again for the assignment one already holds succeeds
   * without changing anything.
   */
  startInterpreting(
    peer: Peer,
    { speakerPeerId, language, interpreterPeerId, takeOver }: RequestData<'startInterpreting'>,
  ): Promise<ResponseMap['startInterpreting']> {
    if (this.#closed) throw new SignalError('badState', 'room closed');
    const interpreterId = interpreterPeerId ?? peer.id;
    const host = peer.grants.host === true;
    if (interpreterId !== peer.id && !host) {
      throw new SignalError('unauthorized', `only a host may assign another peer (${interpreterId}) as interpreter`);
    }
    if (!host && !(peer.grants.interpret ?? []).includes(language)) {
      const granted = peer.grants.interpret?.join(', ') || 'none';
      throw new SignalError(
        'unauthorized',
        `peer ${peer.id} may not interpret into ${language} (its token grants: ${granted})`,
      );
    }
    if (!this.#offers.some((o) => o.language === language)) {
      const offered = this.#offers.map((o) => o.language).join(', ') || 'none';
      throw new SignalError('unsupported', `language ${language} not offered in this room (offered: ${offered})`);
    }
    if (!this.#room.peers.has(interpreterId)) throw new SignalError('notFound', `peer ${interpreterId} not found`);
    if (speakerPeerId !== ANY_SPEAKER && !this.#room.peers.has(speakerPeerId)) {
      throw new SignalError('notFound', `speaker ${speakerPeerId} not found`);
    }
    if (speakerPeerId === interpreterId) throw new SignalError('badRequest', 'a peer cannot interpret itself');
    const current = this.#assigned(speakerPeerId, language);
    if (current !== undefined && current !== interpreterId && takeOver !== true) {
      const who = speakerPeerId === ANY_SPEAKER ? 'the floor' : `speaker ${speakerPeerId}`;
      throw new SignalError(
        'badState',
        `${who} already has an interpreter into ${language} (${current}); stop that assignment first, or take over`,
      );
    }
    if (current !== interpreterId) {
      this.assignInterpreter(speakerPeerId, language, interpreterId);
      logger.debug(
        `${interpreterId} interprets ${speakerPeerId} into ${language} (asked by ${peer.id}` +
          `${current !== undefined ? `, taking over from ${current}` : ''})`,
      );
    }
    return Promise.resolve({ speakerPeerId, language, interpreterPeerId: interpreterId });
  }

  /** `stopInterpreting` from a peer: the assignment's interpreter or a host. Errors: `notFound`, `unauthorized`. */
  stopInterpreting(
    peer: Peer,
    { speakerPeerId, language }: RequestData<'stopInterpreting'>,
  ): Promise<ResponseMap['stopInterpreting']> {
    if (this.#closed) throw new SignalError('badState', 'room closed');
    const current = this.#assigned(speakerPeerId, language);
    if (current === undefined) {
      throw new SignalError('notFound', `no interpreter for ${speakerPeerId} into ${language} in this room`);
    }
    if (current !== peer.id && peer.grants.host !== true) {
      throw new SignalError(
        'unauthorized',
        `only the interpreter (${current}) or a host may stop interpreting ${speakerPeerId} into ${language}`,
      );
    }
    this.unassignInterpreter(speakerPeerId, language);
    logger.debug(`${current} stopped interpreting ${speakerPeerId} into ${language} (asked by ${peer.id})`);
    return Promise.resolve({ speakerPeerId, language, interpreterPeerId: current });
  }

  /**
   * Brings the running pipelines of `language` to the drive they should have now (after an assignment changed;
   * `cause` says which change, for a dub left without any interpreter): see #redrive.
   */
  #updateDrives(language: string, cause: string): void {
    for (const p of [...this.#pipelines.values()]) if (p.language === language) this.#redrive(p, cause);
  }

  /**
   * Whether a listener of `language` can still be served without an interpreter (an embedded or provider offer, or
   * the server's own createDubSource), as #pipelineFor decides.
   */
  #servedWithoutInterpreter(language: string): boolean {
    const offer = this.#offers.find((o) => o.language === language);
    return !!offer && (offer.source !== 'interpreter' || this.#options.createDubSource !== undefined);
  }

  /**
   * The interpreter whose audio should drive the dub of (speaker, language) now: the assigned one (own, else the
   * floor's) when it publishes audio, else the floor interpreter when it does (it relays an own interpreter who
   * stopped publishing); never the speaker itself. Undefined: no interpreter can drive it.
   */
  #driveFor(speakerPeerId: string, language: string): string | undefined {
    const candidates = [
      this.interpreters.interpreterFor(speakerPeerId, language),
      this.interpreters.interpreterFor(ANY_SPEAKER, language),
    ];
    return candidates.find((id) => id !== undefined && id !== speakerPeerId && this.#audioOf(id) !== undefined);
  }

  /**
   * Moves a running pipeline to the drive it should have now: the interpreter that applies and publishes audio (see
   * #driveFor), else the offer's own source (embedded, provider, createDubSource), else none. A change of drive is a
   * swap inside the running pipeline (#swap: same producers, listeners keep hearing the dub, no dubEnded), whichever
   * way: interpreter to interpreter, own source to interpreter, interpreter back to the own source. With no drive
   * (a language served by interpreters only) the pipeline stops, its listeners told why (dubEnded): "no interpreter
   * for L any more (`reason`)" when none is assigned any more; "interpreter X publishes no audio" when the one
   * assigned instead of the current one is silent; else `reason`. `refeed`: the current interpreter's audio producer
   * went away, so even when it stays the drive (it publishes another one) its feed is rebuilt.
   */
  #redrive(p: DubPipeline, reason: string, refeed = false): void {
    if (p.closed) return;
    const current = this.#interpreterOf.get(p);
    const next = this.#driveFor(p.speakerPeerId, p.language);
    if (next !== undefined) {
      if (next !== current || refeed) this.#swap(p, next, reason);
      return;
    }
    if (this.#servedWithoutInterpreter(p.language)) {
      // An assigned interpreter who publishes no audio yet leaves the own source on: never a silent dub.
      if (current !== undefined) this.#swap(p, undefined, reason);
      return;
    }
    const assigned = this.#interpreterFor(p.speakerPeerId, p.language);
    if (assigned === undefined) {
      this.#stop(p, `no interpreter for ${p.language} any more (${reason})`);
    } else if (assigned !== current && current !== undefined && this.#audioOf(current) !== undefined) {
      // Replaced by an interpreter who publishes no audio (the current one could go on): say so.
      this.#stop(p, `interpreter ${assigned} publishes no audio`);
    } else {
      this.#stop(p, reason);
    }
  }

  /**
   * Swaps the source of a running pipeline (DubPipeline.replaceSource) to interpreter `next` (who publishes audio),
   * or, `next` undefined, back to the offer's own source; listeners hear no gap and are not re-negotiated, dubStats
   * name the new interpreter (none for the own source). If the new source cannot start, the pipeline stops with the
   * cause (the old source is no longer the one meant to be heard). `cause`: why, for the logs and that stop.
   */
  #swap(p: DubPipeline, next: string | undefined, cause: string): void {
    const previous = this.#interpreterOf.get(p);
    const offer = this.#offers.find((o) => o.language === p.language)!;
    const seq = (this.#swapSeq.get(p) ?? 0) + 1;
    this.#swapSeq.set(p, seq);
    if (next !== undefined) this.#interpreterOf.set(p, next);
    else this.#interpreterOf.delete(p);
    const from = previous !== undefined ? `interpreter ${previous}` : `the ${p.sourceKind} source`;
    const to = next !== undefined ? `interpreter ${next}` : `the ${offer.source} source`;
    logger.debug(`dub ${p.speakerPeerId}/${p.language}: ${from} hands over to ${to} (${cause})`);
    const swapped =
      next !== undefined
        ? p.replaceSource(this.#interpreterSource(next, p.language), 'interpreter')
        : p.replaceSource(async () => startSource(this.#createSource(p.speakerPeerId, offer)), offer.source);
    swapped.then(
      (done) => {
        if (done) logger.debug(`dub ${p.speakerPeerId}/${p.language}: ${to} drives it now`);
      },
      (err: unknown) => {
        // Stopped or handed on meanwhile: nothing to undo.
        if (p.closed || this.#swapSeq.get(p) !== seq) return;
        const message = err instanceof Error ? err.message : String(err);
        this.#stop(
          p,
          next !== undefined
            ? `the dub could not be handed over to interpreter ${next}: ${message}`
            : `the dub could not go back to the ${offer.source} source (${cause}): ${message}`,
        );
      },
    );
  }

  addOriginalProducer(peerId: string, producer: ms.Producer): void {
    let set = this.#originals.get(peerId);
    if (!set) this.#originals.set(peerId, (set = new Map<string, ms.Producer>()));
    set.set(producer.id, producer);
    for (const p of this.#pipelines.values()) if (p.speakerPeerId === peerId) p.addProducer(producer);
    // An assigned interpreter publishing audio (again) takes over the pipelines the floor interpreter relayed, or the
    // offer's own source drove meanwhile.
    if (producer.kind === 'audio') {
      for (const p of [...this.#pipelines.values()]) {
        if (this.#interpreterOf.get(p) !== peerId) this.#redrive(p, `interpreter ${peerId} publishes audio`);
      }
    }
  }

  removeOriginalProducer(peerId: string, producerId: string): void {
    const removed = this.#originals.get(peerId)?.get(producerId);
    this.#originals.get(peerId)?.delete(producerId);
    for (const p of this.#pipelines.values()) if (p.speakerPeerId === peerId) p.removeProducer(producerId);
    // An interpreter stopped publishing audio: the pipelines it drove hand over to the floor interpreter (when there
    // is one, publishing), else to the offer's own source, or end (listeners get the original back). This runs first when an interpreter leaves (its
    // transports, and so its producers, close before the room removes the peer): then removePeer, called right after
    // in the same Peer.close, does it, its assignments gone, so its listeners hear that it left (and, where nobody
    // else interprets the language, that there is no interpreter any more) rather than that its audio stopped.
    const leaving = this.#room.peers.get(peerId)?.closed === true;
    if (removed?.kind === 'audio' && !leaving) {
      for (const [p, interpreterId] of [...this.#interpreterOf]) {
        if (interpreterId === peerId) this.#redrive(p, `interpreter ${peerId} stopped publishing audio`, true);
      }
    }
  }

  removePeer(peerId: string): void {
    // As a listener: release every dub it held.
    const choices = this.#choices.get(peerId);
    this.#choices.delete(peerId);
    for (const [speaker, language] of choices ?? []) this.#release(peerId, speaker, language);
    // As an interpreter: its assignments (as interpreter or speaker) are dropped; the pipelines it still drove hand
    // over to the interpreter that applies now (the floor's, `*`), else to the offer's own source, or end.
    this.interpreters.removePeer(peerId);
    for (const [p, interpreterId] of [...this.#interpreterOf]) {
      if (interpreterId === peerId) this.#redrive(p, `interpreter ${peerId} left`);
    }
    this.#announce();
    // As a speaker: its pipelines end (the room tells listeners the producers closed).
    this.#originals.delete(peerId);
    this.#consent.delete(peerId);
    for (const p of [...this.#pipelines.values()]) {
      if (p.speakerPeerId === peerId) this.#stop(p, null);
    }
    for (const map of this.#choices.values()) map.delete(peerId);
  }

  async setDubLanguage(
    listener: Peer,
    speakerPeerId: string,
    language: string | null,
  ): Promise<ResponseMap['setDubLanguage']> {
    if (this.#closed) throw new SignalError('badState', 'room closed');
    const previous = this.#choices.get(listener.id)?.get(speakerPeerId);
    if (language === null) {
      if (previous) this.#forget(listener.id, speakerPeerId, previous);
      return { speakerPeerId, language: null, producers: [] };
    }
    if (speakerPeerId === listener.id) throw new SignalError('badRequest', 'a peer cannot choose a dub of itself');
    const offer = this.#offers.find((o) => o.language === language);
    if (!offer) {
      const offered = this.#offers.map((o) => o.language).join(', ') || 'none';
      throw new SignalError('unsupported', `language ${language} not offered in this room (offered: ${offered})`);
    }
    const consent = this.#consent.get(speakerPeerId) ?? { dub: true, faceRendering: true };
    if (!consent.dub) throw new SignalError('unsupported', `speaker ${speakerPeerId} does not allow dubbing`);
    const originals = [...(this.#originals.get(speakerPeerId)?.values() ?? [])].filter((p) => !p.closed);
    if (!originals.some((p) => p.kind === 'audio')) {
      throw new SignalError('badState', `speaker ${speakerPeerId} publishes no audio to dub`);
    }
    const pipeline = this.#pipelineFor(speakerPeerId, offer, consent, originals);
    // Count the listener in before waiting, so a second listener arriving meanwhile shares the same start.
    pipeline.listeners.add(listener.id);
    let choices = this.#choices.get(listener.id);
    if (!choices) this.#choices.set(listener.id, (choices = new Map<string, string>()));
    choices.set(speakerPeerId, language);
    if (previous && previous !== language) this.#release(listener.id, speakerPeerId, previous);
    try {
      await pipeline.ready(this.#options.startTimeoutMs ?? 45_000);
    } catch (err) {
      this.#forget(listener.id, speakerPeerId, language);
      throw new SignalError(
        'internal',
        `dub ${language} of ${speakerPeerId} could not start: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    if (listener.closed) throw new SignalError('badState', 'peer left during the request');
    return {
      speakerPeerId,
      language,
      producers: pipeline.producers,
      faceRendering: pipeline.faceRendering,
      source: pipeline.sourceKind,
    };
  }

  setDubConsent(speaker: Peer, consent: Consent): Promise<void> {
    const before = this.#consent.get(speaker.id) ?? { dub: true, faceRendering: true };
    this.#consent.set(speaker.id, { ...consent });
    // Running pipelines that no longer match the consent stop; listeners fall back to the original (dubEnded).
    for (const p of [...this.#pipelines.values()]) {
      if (p.speakerPeerId !== speaker.id) continue;
      if (!consent.dub) this.#stop(p, 'the speaker withdrew consent to dubbing');
      else if (before.faceRendering && !consent.faceRendering && p.faceRendering) {
        this.#stop(p, 'the speaker refused face re-rendering; choose the language again for a voice-only dub');
      }
    }
    return Promise.resolve();
  }

  #pipelineFor(speakerPeerId: string, offer: LanguageOffer, consent: Consent, originals: ms.Producer[]): DubPipeline {
    const key = `${speakerPeerId}\n${offer.language}`;
    const existing = this.#pipelines.get(key);
    if (existing && !existing.closed) return existing;
    // The drive #redrive would give it: the interpreter publishing audio (the assigned one, else the floor's); else
    // the offer's own source; else (interpreters only) the assigned interpreter, refused below when it is silent.
    const assigned = this.#interpreterFor(speakerPeerId, offer.language);
    const interpreterId =
      this.#driveFor(speakerPeerId, offer.language) ??
      (this.#servedWithoutInterpreter(offer.language) ? undefined : assigned);
    if (!interpreterId && offer.source === 'interpreter' && !this.#options.createDubSource) {
      throw new SignalError('unsupported', `no interpreter for ${speakerPeerId} into ${offer.language} in this room`);
    }
    if (interpreterId) this.#interpreterAudio(interpreterId); // fail now, before the pipeline exists
    const pipeline = new DubPipeline({
      room: this.#room,
      speakerPeerId,
      language: offer.language,
      sourceKind: interpreterId ? 'interpreter' : offer.source,
      faceRendering: consent.faceRendering,
      createSource: interpreterId
        ? this.#interpreterSource(interpreterId, offer.language)
        : async () => startSource(this.#createSource(speakerPeerId, offer)),
      ...(this.#options.stage ? { stage: this.#options.stage } : {}),
      ...(this.#options.stageParams ? { stageParams: this.#options.stageParams } : {}),
      ...(this.#options.timelineDelayMs !== undefined ? { timelineDelayMs: this.#options.timelineDelayMs } : {}),
    });
    pipeline.on('failed', (err) => this.#stop(pipeline, `the dub pipeline failed: ${err.message}`));
    this.#pipelines.set(key, pipeline);
    if (interpreterId) this.#interpreterOf.set(pipeline, interpreterId);
    for (const p of originals) pipeline.addProducer(p);
    logger.debug(
      `dub ${speakerPeerId}/${offer.language} starting (face ${consent.faceRendering}` +
        `${interpreterId ? `, interpreter ${interpreterId}` : ''})`,
    );
    return pipeline;
  }

  /** The interpreter whose audio dubs this speaker (a floor interpreter, `*`, is not the dub of its own speech). */
  #interpreterFor(speakerPeerId: string, language: string): string | undefined {
    const assigned = this.interpreters.interpreterFor(speakerPeerId, language);
    return assigned !== speakerPeerId ? assigned : undefined;
  }

  /** The peer's live (original) audio producer, if any. */
  #audioOf(peerId: string): ms.Producer | undefined {
    return [...(this.#originals.get(peerId)?.values() ?? [])].find((p) => p.kind === 'audio' && !p.closed);
  }

  /** The interpreter's live audio producer, or a clear SignalError. */
  #interpreterAudio(interpreterId: string): ms.Producer {
    const audio = this.#audioOf(interpreterId);
    if (!audio) throw new SignalError('badState', `interpreter ${interpreterId} publishes no audio`);
    return audio;
  }

  /**
   * The source factory of a pipeline driven by `interpreterId`: a started InterpreterFeedSource on the interpreter's
   * audio producer of the moment (each processor rebuild calls it again).
   */
  #interpreterSource(interpreterId: string, language: string): () => Promise<DubSource> {
    return async () =>
      startSource(
        new InterpreterFeedSource({
          router: this.#room.router,
          producer: this.#interpreterAudio(interpreterId),
          interpreterPeerId: interpreterId,
          language,
          sourceLanguage: this.#options.sourceLanguage ?? 'en',
          ...(this.#options.interpreterMode ? { mode: this.#options.interpreterMode } : {}),
        }),
      );
  }

  #createSource(speakerPeerId: string, offer: LanguageOffer): DubSource {
    if (this.#options.createDubSource) {
      return this.#options.createDubSource({ room: this.#room, speakerPeerId, offer });
    }
    if (offer.source === 'provider' && this.#options.providerUrl) {
      return new ProviderDubSource({
        url: this.#options.providerUrl,
        sourceLanguage: this.#options.sourceLanguage ?? 'en',
        targetLanguage: offer.language,
      });
    }
    if (offer.source !== 'embedded') {
      throw new Error(`no ${offer.source} dub source configured for ${offer.language}`);
    }
    return new EmbeddedDubSource({
      sourceLanguage: this.#options.sourceLanguage ?? 'en',
      targetLanguage: offer.language,
    });
  }

  /** The listener no longer wants this dub: forget the choice and release the pipeline. */
  #forget(listenerId: string, speakerPeerId: string, language: string): void {
    const choices = this.#choices.get(listenerId);
    if (choices?.get(speakerPeerId) === language) choices.delete(speakerPeerId);
    this.#release(listenerId, speakerPeerId, language);
  }

  #release(listenerId: string, speakerPeerId: string, language: string): void {
    const p = this.#pipelines.get(`${speakerPeerId}\n${language}`);
    if (!p) return;
    p.listeners.delete(listenerId);
    if (p.listeners.size === 0) this.#stop(p, null);
  }

  /** Stops a pipeline; with a reason, its remaining listeners are told (dubEnded). */
  #stop(p: DubPipeline, reason: string | null): void {
    const key = `${p.speakerPeerId}\n${p.language}`;
    if (this.#pipelines.get(key) === p) this.#pipelines.delete(key);
    this.#interpreterOf.delete(p);
    this.#swapSeq.delete(p);
    for (const listenerId of p.listeners) {
      const choices = this.#choices.get(listenerId);
      if (choices?.get(p.speakerPeerId) === p.language) choices.delete(p.speakerPeerId);
      if (reason) {
        this.#room.peers
          .get(listenerId)
          ?.notify('dubEnded', { speakerPeerId: p.speakerPeerId, language: p.language, reason: reason.slice(0, 256) });
      }
    }
    p.listeners.clear();
    logger.debug(`dub ${p.speakerPeerId}/${p.language} stopped${reason ? ` (${reason})` : ''}`);
    p.close();
  }

  #sendStats(): void {
    for (const p of this.#pipelines.values()) {
      if (p.producers.length === 0) continue;
      const interpreterPeerId = this.#interpreterOf.get(p);
      const stats = { ...p.stats(), ...(interpreterPeerId !== undefined ? { interpreterPeerId } : {}) };
      for (const listenerId of p.listeners) this.#room.peers.get(listenerId)?.notify('dubStats', stats);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#statsTimer) clearInterval(this.#statsTimer);
    for (const p of [...this.#pipelines.values()]) this.#stop(p, null);
    this.#choices.clear();
    this.#originals.clear();
  }
}

/** Starts a source, closing it when it cannot start. */
async function startSource(source: DubSource): Promise<DubSource> {
  try {
    await source.start();
  } catch (err) {
    source.close();
    throw err;
  }
  return source;
}

/** The `dubs` option of LipsyncServer: one DubManager per room. */
export function dubManagerFactory(options: DubManagerOptions): (room: Room) => DubManager {
  return (room) => new DubManager(room, options);
}
