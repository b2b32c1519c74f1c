/**
 * Interpreting over signalling, without media: who may start and stop interpreting (token grants), the error of each
 * bad request (nobody else hears of it: no `languages` notification, no assignment), hostile frames on a raw socket,
 * and the room's language list (`languages` notification, join response) following start, stop and leave. Then real
 * dub pipelines (producers, no media): the `dubEnded` reason when no interpreter is left for a language served by
 * interpreters only, an interpreter publishing audio again taking its dub back from the floor's, and an embedded
 * language's running dub handing over to an interpreter and back in place (no dubEnded), or stopping with the cause
 * when the source it goes back to cannot start.
 */
import { MediaStreamTrack } from 'werift';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LipsyncClient, RequestError } from '../../src/client-sdk/node/index.ts';
import { EmbeddedDubSource } from '../../src/pipeline/dub/index.ts';
import { PROTOCOL_VERSION, type LanguageOffer } from '../../src/protocol/index.ts';
import { dubManagerFactory, type DubManager } from '../../src/sfu/dub/index.ts';
import type { LipsyncServer } from '../../src/sfu/index.ts';
import { errorCode, RawPeer, sleep, startTestServer, waitFor } from './helpers.ts';

/** The RequestError code a promise rejects with ('ok' when it resolves). */
async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof RequestError) return err.code;
    throw err;
  }
}

/** Every `languages` event a client receives, in order. */
function recordOffers(client: LipsyncClient): LanguageOffer[][] {
  const seen: LanguageOffer[][] = [];
  client.on('languages', (_languages, offers) => seen.push(offers));
  return seen;
}

describe('interpreting over signalling', () => {
  let server: LipsyncServer;
  const clients: LipsyncClient[] = [];

  beforeAll(async () => {
    server = await startTestServer({
      dubs: dubManagerFactory({
        offers: [
          { language: 'fr', source: 'interpreter' },
          { language: 'es', source: 'embedded' },
        ],
        stage: 'identity',
        statsIntervalMs: 0,
      }),
    });
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await sleep(100);
    server?.close();
  });

  async function join(
    room: string,
    peer: string,
    grants: { interpret?: string[]; host?: boolean } = {},
  ): Promise<LipsyncClient> {
    const c = await LipsyncClient.join({
      url: server.wsUrl,
      token: server.mintToken(room, peer, undefined, undefined, grants),
      subscribe: 'none',
    });
    clients.push(c);
    return c;
  }

  it('a granted peer starts and stops interpreting; every peer sees the language list change', async () => {
    const room = 'interp-ok';
    const speaker = await join(room, 'speaker');
    const other = await join(room, 'other');
    const ivan = await join(room, 'ivan', { interpret: ['fr', 'es'] });
    const listener = await join(room, 'listener');
    const manager = server.rooms.get(room)!.dubs as DubManager;
    expect(ivan.grants).toEqual({ interpret: ['fr', 'es'] });
    expect(listener.grants).toEqual({});
    expect(listener.languageOffers).toEqual([
      { language: 'fr', source: 'interpreter' },
      { language: 'es', source: 'embedded' },
    ]);
    // Before any interpreter, a speaker is available only in the embedded language.
    expect(listener.languagesFor('speaker')).toEqual([{ language: 'es', source: 'embedded' }]);
    const seen = [speaker, other, ivan, listener].map(recordOffers);

    const started = await ivan.startInterpreting('speaker', 'fr');
    expect(started).toEqual({ speakerPeerId: 'speaker', language: 'fr', interpreterPeerId: 'ivan' });
    expect(manager.interpreters.interpreterFor('speaker', 'fr')).toBe('ivan');
    const withIvan = [
      {
        language: 'fr',
        source: 'interpreter',
        interpreters: [{ speakerPeerId: 'speaker', interpreterPeerId: 'ivan' }],
      },
      { language: 'es', source: 'embedded' },
    ];
    for (const s of seen) await waitFor(() => s.length === 1, 5000, 'languages after start');
    for (const s of seen) expect(s[0]).toEqual(withIvan);
    expect(listener.languagesFor('speaker')).toEqual([
      { language: 'fr', source: 'interpreter', interpreterPeerId: 'ivan' },
      { language: 'es', source: 'embedded' },
    ]);
    expect(listener.languagesFor('other')).toEqual([{ language: 'es', source: 'embedded' }]);
    expect(listener.interpreters).toEqual([{ speakerPeerId: 'speaker', language: 'fr', interpreterPeerId: 'ivan' }]);

    // Asking again for one's own assignment changes nothing and announces nothing.
    expect(await ivan.startInterpreting('speaker', 'fr')).toEqual(started);
    // A newcomer gets the live interpreters in its join response.
    const late = await join(room, 'late');
    expect(late.languageOffers).toEqual(withIvan);

    // The floor too: an interpreter for every speaker without an own one (never for its own speech).
    await ivan.startInterpreting('*', 'es');
    for (const s of seen) await waitFor(() => s.length === 2, 5000, 'languages after floor start');
    expect(listener.languagesFor('other')).toEqual([
      { language: 'es', source: 'interpreter', interpreterPeerId: 'ivan' },
    ]);
    expect(listener.languagesFor('ivan')).toEqual([{ language: 'es', source: 'embedded' }]);
    await ivan.stopInterpreting('*', 'es');
    for (const s of seen) await waitFor(() => s.length === 3, 5000, 'languages after floor stop');

    const stopped = await ivan.stopInterpreting('speaker', 'fr');
    expect(stopped).toEqual({ speakerPeerId: 'speaker', language: 'fr', interpreterPeerId: 'ivan' });
    for (const s of seen) await waitFor(() => s.length === 4, 5000, 'languages after stop');
    for (const s of seen) {
      expect(s[3]).toEqual([
        { language: 'fr', source: 'interpreter' },
        { language: 'es', source: 'embedded' },
      ]);
    }
    expect(manager.interpreters.size).toBe(0);
    expect(listener.languagesFor('speaker')).toEqual([{ language: 'es', source: 'embedded' }]);

    // Leaving ends the assignment, and the others see it go.
    await ivan.startInterpreting('speaker', 'fr');
    for (const s of seen.slice(0, 3)) await waitFor(() => s.length === 5, 5000, 'languages after restart');
    const listenerSeen = seen[3]!;
    await waitFor(() => listenerSeen.length === 5, 5000, 'listener languages after restart');
    ivan.close();
    await waitFor(() => listenerSeen.length === 6, 5000, 'languages after the interpreter left');
    expect(listenerSeen[5]![0]).toEqual({ language: 'fr', source: 'interpreter' });
    expect(manager.interpreters.size).toBe(0);

    // A speaker leaving drops the assignments of its speech too.
    const ivan2 = await join(room, 'ivan2', { interpret: ['fr'] });
    await ivan2.startInterpreting('other', 'fr');
    await waitFor(() => listenerSeen.length === 7, 5000, 'languages after ivan2 started');
    other.close();
    await waitFor(() => listenerSeen.length === 8, 5000, 'languages after the speaker left');
    expect(listenerSeen[7]![0]).toEqual({ language: 'fr', source: 'interpreter' });
    expect(manager.interpreters.size).toBe(0);
  });

  it('a host assigns and unassigns any peer; others may not', async () => {
    const room = 'interp-host';
    await join(room, 'speaker');
    const host = await join(room, 'host', { host: true });
    const anna = await join(room, 'anna'); // no grant of her own
    const bob = await join(room, 'bob', { interpret: ['fr'] });
    const manager = server.rooms.get(room)!.dubs as DubManager;
    const annaSeen = recordOffers(anna);

    expect(await codeOf(bob.startInterpreting('speaker', 'fr', { interpreterPeerId: 'anna' }))).toBe('unauthorized');
    expect(manager.interpreters.size).toBe(0);

    expect(await host.startInterpreting('speaker', 'fr', { interpreterPeerId: 'anna' })).toEqual({
      speakerPeerId: 'speaker',
      language: 'fr',
      interpreterPeerId: 'anna',
    });
    await waitFor(() => annaSeen.length === 1, 5000, 'languages after the host assigned anna');
    expect(anna.interpreters).toEqual([{ speakerPeerId: 'speaker', language: 'fr', interpreterPeerId: 'anna' }]);
    // Someone else holds it: bob cannot take it over by accident, nor stop it.
    expect(await codeOf(bob.startInterpreting('speaker', 'fr'))).toBe('badState');
    expect(await codeOf(bob.stopInterpreting('speaker', 'fr'))).toBe('unauthorized');
    // A booth relay: bob (granted fr) takes over on purpose; anna's assignment ends and everyone sees bob.
    expect(await bob.startInterpreting('speaker', 'fr', { takeOver: true })).toEqual({
      speakerPeerId: 'speaker',
      language: 'fr',
      interpreterPeerId: 'bob',
    });
    await waitFor(() => annaSeen.length === 2, 5000, 'languages after bob took over');
    expect(anna.interpreters).toEqual([{ speakerPeerId: 'speaker', language: 'fr', interpreterPeerId: 'bob' }]);
    expect(await codeOf(anna.startInterpreting('speaker', 'fr', { takeOver: true }))).toBe('unauthorized'); // no grant
    // A host may hand it back to anna the same way.
    expect(await codeOf(host.startInterpreting('speaker', 'fr', { interpreterPeerId: 'anna', takeOver: true }))).toBe(
      'ok',
    );
    await waitFor(() => annaSeen.length === 3, 5000, 'languages after the host gave it back');
    expect(manager.interpreters.entries()).toEqual([{ speakerId: 'speaker', language: 'fr', interpreterId: 'anna' }]);
    // A host may interpret itself into any offered language (no interpret grant needed), not into others.
    expect(await codeOf(host.startInterpreting('anna', 'es'))).toBe('ok');
    expect(await codeOf(host.startInterpreting('speaker', 'de'))).toBe('unsupported');
    expect(await codeOf(host.startInterpreting('nobody', 'fr', { interpreterPeerId: 'anna' }))).toBe('notFound');
    expect(await codeOf(host.startInterpreting('speaker', 'es', { interpreterPeerId: 'nobody' }))).toBe('notFound');
    expect(await codeOf(host.stopInterpreting('speaker', 'fr'))).toBe('ok');
    expect(await codeOf(host.stopInterpreting('speaker', 'fr'))).toBe('notFound');
    expect(manager.interpreters.entries()).toEqual([{ speakerId: 'anna', language: 'es', interpreterId: 'host' }]);
  });

  it('answers bad and hostile requests with errors and disturbs nobody', async () => {
    const room = 'interp-bad';
    const speaker = await join(room, 'speaker');
    const eve = await join(room, 'eve'); // no grant
    const dave = await join(room, 'dave', { interpret: ['de', 'fr'] }); // de is not offered here
    const ivan = await join(room, 'ivan', { interpret: ['fr'] });
    const manager = server.rooms.get(room)!.dubs as DubManager;
    await ivan.startInterpreting('speaker', 'fr');
    const seen = [speaker, eve, dave, ivan].map(recordOffers);

    expect(await codeOf(eve.startInterpreting('speaker', 'fr'))).toBe('unauthorized');
    expect(await codeOf(eve.startInterpreting('speaker', 'fr', { takeOver: true }))).toBe('unauthorized');
    expect(await codeOf(dave.startInterpreting('speaker', 'de', { takeOver: true }))).toBe('unsupported');
    expect(await codeOf(eve.startInterpreting('*', 'es'))).toBe('unauthorized');
    expect(await codeOf(ivan.startInterpreting('speaker', 'es'))).toBe('unauthorized'); // granted fr only
    expect(await codeOf(dave.startInterpreting('speaker', 'de'))).toBe('unsupported');
    expect(await codeOf(dave.startInterpreting('ghost', 'fr'))).toBe('notFound');
    expect(await codeOf(dave.startInterpreting('speaker', 'fr'))).toBe('badState'); // ivan has it
    expect(await codeOf(dave.startInterpreting('dave', 'fr'))).toBe('badRequest'); // itself
    expect(await codeOf(eve.stopInterpreting('speaker', 'fr'))).toBe('unauthorized');
    expect(await codeOf(eve.stopInterpreting('speaker', 'es'))).toBe('notFound');
    await expect(dave.startInterpreting('speaker', 'fr')).rejects.toThrow(
      /already has an interpreter into fr \(ivan\)/,
    );
    await expect(eve.startInterpreting('speaker', 'fr')).rejects.toThrow(/may not interpret into fr.*grants: none/);

    // Hostile frames from a raw socket that joined with a granted token.
    const raw = await RawPeer.open(server.wsUrl);
    const joined = await raw.request(1, 'join', {
      protocolVersion: PROTOCOL_VERSION,
      token: server.mintToken(room, 'mallory', undefined, undefined, { interpret: ['fr', 'es'] }),
    });
    expect(joined.ok).toBe(true);
    expect((joined.data as { grants?: unknown }).grants).toEqual({ interpret: ['fr', 'es'] });
    const bad: [string, unknown][] = [
      ['startInterpreting', { speakerPeerId: { $ne: 1 }, language: 'fr' }],
      ['startInterpreting', { speakerPeerId: 'speaker', language: 'fr; DROP TABLE' }],
      ['startInterpreting', { speakerPeerId: 'speaker', language: 'fr', host: true }],
      ['startInterpreting', { speakerPeerId: 'speaker', language: 'fr', takeOver: 'true' }],
      ['startInterpreting', { speakerPeerId: 'speaker', language: 'fr', interpreterPeerId: '*' }],
      ['startInterpreting', { speakerPeerId: '**', language: 'fr' }],
      ['startInterpreting', { speakerPeerId: 'x'.repeat(5000), language: 'fr' }],
      ['startInterpreting', { speakerPeerId: 'speaker', language: ['fr'] }],
      ['startInterpreting', { speakerPeerId: 'speaker' }],
      ['startInterpreting', null],
      ['stopInterpreting', { speakerPeerId: 'speaker', language: 7 }],
      ['stopInterpreting', { speakerPeerId: 'speaker', language: 'fr', interpreterPeerId: 'ivan' }],
    ];
    let id = 10;
    for (const [method, data] of bad) {
      expect(errorCode(await raw.request(id++, method, data)), JSON.stringify(data)?.slice(0, 80)).toBe('badRequest');
    }
    // Valid shape, no such peer: a prototype key is just an unknown id.
    expect(
      errorCode(await raw.request(id++, 'startInterpreting', { speakerPeerId: '__proto__', language: 'fr' })),
    ).toBe('notFound');
    expect(
      errorCode(await raw.request(id++, 'stopInterpreting', { speakerPeerId: 'constructor', language: 'es' })),
    ).toBe('notFound');
    // Not the holder: cannot stop ivan's assignment.
    expect(errorCode(await raw.request(id++, 'stopInterpreting', { speakerPeerId: 'speaker', language: 'fr' }))).toBe(
      'unauthorized',
    );
    // Before join, interpreting is refused like any request.
    const early = await RawPeer.open(server.wsUrl);
    expect(errorCode(await early.request(1, 'startInterpreting', { speakerPeerId: 'speaker', language: 'fr' }))).toBe(
      'badState',
    );
    early.close();

    // Nobody heard of any of it: the assignment is ivan's alone, no language notification went out.
    expect(manager.interpreters.entries()).toEqual([{ speakerId: 'speaker', language: 'fr', interpreterId: 'ivan' }]);
    await sleep(300);
    for (const s of seen) expect(s).toEqual([]);
    expect(raw.messages.some((m) => m.type === 'notification' && m.method === 'languages')).toBe(false);
    // ...and everyone is still served.
    expect(await codeOf(eve.signal.request('getRouterRtpCapabilities', {}))).toBe('ok');
    expect(await codeOf(ivan.stopInterpreting('speaker', 'fr'))).toBe('ok');
    for (const s of seen) await waitFor(() => s.length === 1, 5000, 'languages after the valid stop');
    raw.close();
  });

  it('refuses interpreting in a room without dubbing', async () => {
    const plain = await startTestServer();
    const local: LipsyncClient[] = [];
    try {
      const a = await LipsyncClient.join({
        url: plain.wsUrl,
        token: plain.mintToken('plain', 'a', undefined, undefined, { interpret: ['fr'] }),
      });
      local.push(a);
      local.push(await LipsyncClient.join({ url: plain.wsUrl, token: plain.mintToken('plain', 'b') }));
      expect(await codeOf(a.startInterpreting('b', 'fr'))).toBe('unsupported');
      expect(await codeOf(a.stopInterpreting('b', 'fr'))).toBe('unsupported');
    } finally {
      for (const c of local) c.close();
      await sleep(100);
      plain.close();
    }
  });
});

/**
 * Running dubs when interpreters change, on real pipelines (the speaker's and interpreters' producers exist, no media
 * flows): the reason listeners get when a dub ends, an assigned interpreter taking its dub back from the floor
 * interpreter who relayed it while its audio was closed, and an embedded language's dub swapping between the
 * translator and interpreters in place.
 */
describe('interpreter dubs as interpreters come and go', () => {
  let server: LipsyncServer;
  const clients: LipsyncClient[] = [];
  const raws: RawPeer[] = [];
  /** createDubSource of the room 'interp-fails': the translator starts the first time only. */
  let translatorStarts = 0;

  beforeAll(async () => {
    server = await startTestServer({
      dubs: (room) =>
        dubManagerFactory({
          offers: [
            { language: 'fr', source: 'interpreter' },
            { language: 'es', source: 'embedded' },
          ],
          stage: 'identity',
          timelineDelayMs: 500,
          statsIntervalMs: 100,
          ...(room.id === 'interp-fails'
            ? {
                createDubSource: () => {
                  const source = new EmbeddedDubSource({ sourceLanguage: 'en', targetLanguage: 'es' });
                  if (translatorStarts++ > 0) {
                    source.start = () => Promise.reject(new Error('translator unavailable'));
                  }
                  return source;
                },
              }
            : {}),
        })(room),
    });
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    for (const r of raws) r.close();
    await sleep(100);
    server?.close();
  });

  /** Joins and publishes an audio track (no media is ever written into it). */
  async function joinWithAudio(room: string, peer: string, grants: { interpret?: string[] } = {}) {
    const c = await LipsyncClient.join({
      url: server.wsUrl,
      token: server.mintToken(room, peer, undefined, undefined, grants),
      subscribe: 'none',
    });
    clients.push(c);
    const audio = await c.publish(new MediaStreamTrack({ kind: 'audio' }));
    return { client: c, audio };
  }

  /** A listener on a raw socket: its dub choices, and the dubEnded / dubStats / languages notifications it got. */
  async function rawListener(room: string, peer = 'listener') {
    const raw = await RawPeer.open(server.wsUrl);
    raws.push(raw);
    const joined = await raw.request(1, 'join', {
      protocolVersion: PROTOCOL_VERSION,
      token: server.mintToken(room, peer),
    });
    expect(joined.ok).toBe(true);
    let id = 10;
    const notes = <T>(method: string) =>
      raw.messages.filter((m) => m.type === 'notification' && m.method === method).map((m) => m.data as T);
    return {
      choose: async (language: string, source = 'interpreter') => {
        const r = await raw.request(id++, 'setDubLanguage', { speakerPeerId: 'speaker', language });
        expect(r.ok, JSON.stringify(r)).toBe(true);
        expect((r.data as { source?: string }).source).toBe(source);
        return (r.data as { producers: { producerId: string }[] }).producers.map((p) => p.producerId);
      },
      ended: () => notes<{ reason: string }>('dubEnded').map((d) => d.reason),
      stats: () => notes<{ interpreterPeerId?: string }>('dubStats'),
      languages: () => notes<{ offers: LanguageOffer[] }>('languages').map((d) => d.offers),
    };
  }

  it('a dub of a language served by interpreters only ends, when none is left, with a reason that says so', async () => {
    const room = 'interp-ended';
    await joinWithAudio(room, 'speaker');
    const { client: ivan } = await joinWithAudio(room, 'ivan', { interpret: ['fr', 'es'] });
    const listener = await rawListener(room);
    const manager = server.rooms.get(room)!.dubs as DubManager;
    const endedWith = async (n: number) => {
      await waitFor(() => listener.ended().length === n, 5000, `dubEnded #${n}`);
      expect(manager.pipelines).toEqual([]);
      return listener.ended()[n - 1];
    };

    // French comes from interpreters only: once ivan stops, nothing can serve it.
    await ivan.startInterpreting('speaker', 'fr');
    await listener.choose('fr');
    expect(manager.pipelines).toHaveLength(1);
    await ivan.stopInterpreting('speaker', 'fr');
    expect(await endedWith(1)).toBe('no interpreter for fr any more (interpreter ivan stopped interpreting speaker)');
    // The same for the floor.
    await ivan.startInterpreting('*', 'fr');
    await listener.choose('fr');
    await ivan.stopInterpreting('*', 'fr');
    expect(await endedWith(2)).toBe('no interpreter for fr any more (interpreter ivan stopped interpreting the floor)');
    // The interpreter leaves (its audio producer closes first): the reason is that it left.
    await ivan.startInterpreting('speaker', 'fr');
    await listener.choose('fr');
    ivan.close();
    expect(await endedWith(3)).toBe('no interpreter for fr any more (interpreter ivan left)');
  });

  it('an interpreter whose audio closed and who publishes again takes its dub back from the floor interpreter', async () => {
    const room = 'interp-takeback';
    await joinWithAudio(room, 'speaker');
    const { client: ivan, audio: ivanAudio } = await joinWithAudio(room, 'ivan', { interpret: ['fr'] });
    const { client: flo } = await joinWithAudio(room, 'flo', { interpret: ['fr'] });
    const listener = await rawListener(room);
    const manager = server.rooms.get(room)!.dubs as DubManager;
    await ivan.startInterpreting('speaker', 'fr');
    await flo.startInterpreting('*', 'fr');
    await listener.choose('fr');
    const [pipeline] = manager.pipelines;
    const drivenBy = async (interpreter: string, swaps: number) => {
      await waitFor(() => pipeline!.stageCounters?.sourceSwaps === swaps, 5000, `swap #${swaps} to ${interpreter}`);
      const from = listener.stats().length;
      await waitFor(() => listener.stats().length > from, 5000, 'dubStats after the swap');
      expect(listener.stats().at(-1)?.interpreterPeerId).toBe(interpreter);
    };
    await drivenBy('ivan', 0);

    // Ivan closes his microphone: the floor interpreter relays him, same pipeline, his assignment stays.
    ivanAudio.close();
    await drivenBy('flo', 1);
    expect(manager.interpreters.interpreterFor('speaker', 'fr')).toBe('ivan');
    // He publishes again (a new microphone): his dub comes back to him, in place again.
    await ivan.publish(new MediaStreamTrack({ kind: 'audio' }));
    await drivenBy('ivan', 2);
    expect(manager.pipelines).toEqual([pipeline]);
    expect(pipeline!.closed).toBe(false);
    expect(listener.ended()).toEqual([]);
    // Someone else publishing audio does not move ivan's dub.
    await joinWithAudio(room, 'bob');
    await sleep(300);
    expect(pipeline!.stageCounters?.sourceSwaps).toBe(2);
    expect(listener.stats().at(-1)?.interpreterPeerId).toBe('ivan');
  });

  it("an embedded language's dub hands over to interpreters and back in place: same pipeline, no dubEnded", async () => {
    const room = 'interp-embedded';
    await joinWithAudio(room, 'speaker');
    const { client: ivan } = await joinWithAudio(room, 'ivan', { interpret: ['es'] });
    const sam = await LipsyncClient.join({
      url: server.wsUrl,
      token: server.mintToken(room, 'sam', undefined, undefined, { interpret: ['es'] }),
      subscribe: 'none',
    });
    clients.push(sam);
    const listener = await rawListener(room);
    const manager = server.rooms.get(room)!.dubs as DubManager;
    const producers = await listener.choose('es', 'embedded');
    const [pipeline] = manager.pipelines;
    const drivenBy = async (interpreter: string | undefined, swaps: number) => {
      await waitFor(() => pipeline!.stageCounters?.sourceSwaps === swaps, 5000, `swap #${swaps} to ${interpreter}`);
      const from = listener.stats().length;
      await waitFor(() => listener.stats().length > from, 5000, 'dubStats after the swap');
      expect(listener.stats().at(-1)?.interpreterPeerId).toBe(interpreter);
      expect(pipeline!.sourceKind).toBe(interpreter === undefined ? 'embedded' : 'interpreter');
      expect(manager.pipelines).toEqual([pipeline]);
      expect(listener.ended()).toEqual([]);
    };
    const announced = (n: number, interpreters: { speakerPeerId: string; interpreterPeerId: string }[]) =>
      waitFor(
        () =>
          listener.languages().length === n &&
          JSON.stringify(
            listener
              .languages()
              .at(-1)
              ?.find((o) => o.language === 'es')?.interpreters ?? [],
          ) === JSON.stringify(interpreters),
        5000,
        `languages #${n}`,
      );
    await drivenBy(undefined, 0);

    // Ivan interprets the speaker into Spanish: the translator's dub becomes his, in place.
    await ivan.startInterpreting('speaker', 'es');
    await announced(1, [{ speakerPeerId: 'speaker', interpreterPeerId: 'ivan' }]);
    await drivenBy('ivan', 1);
    // A listener choosing Spanish now shares that pipeline and is told its source.
    const second = await rawListener(room, 'second');
    expect(await second.choose('es', 'interpreter')).toEqual(producers);
    // He stops: back to the translator, in place.
    await ivan.stopInterpreting('speaker', 'es');
    await announced(2, []);
    await drivenBy(undefined, 2);
    // The floor, and the floor interpreter leaving (its audio closes first, then it leaves).
    await ivan.startInterpreting('*', 'es');
    await announced(3, [{ speakerPeerId: '*', interpreterPeerId: 'ivan' }]);
    await drivenBy('ivan', 3);
    ivan.close();
    await announced(4, []);
    await drivenBy(undefined, 4);

    // An interpreter who publishes no audio yet leaves the translator on (never a silent dub) until it does.
    await sam.startInterpreting('speaker', 'es');
    await announced(5, [{ speakerPeerId: 'speaker', interpreterPeerId: 'sam' }]);
    await sleep(300);
    expect(pipeline!.stageCounters?.sourceSwaps).toBe(4);
    expect(listener.stats().at(-1)?.interpreterPeerId).toBeUndefined();
    const samAudio = await sam.publish(new MediaStreamTrack({ kind: 'audio' }));
    await drivenBy('sam', 5);
    // Her microphone closes (she stays): back to the translator.
    samAudio.close();
    await drivenBy(undefined, 6);
    expect(pipeline!.producers.map((p) => p.producerId)).toEqual(producers);
    expect(second.ended()).toEqual([]);
  });

  it('a dub whose translator cannot start again stops with the cause when its interpreter stops', async () => {
    const room = 'interp-fails';
    await joinWithAudio(room, 'speaker');
    const { client: ivan } = await joinWithAudio(room, 'ivan', { interpret: ['es'] });
    const listener = await rawListener(room);
    const manager = server.rooms.get(room)!.dubs as DubManager;
    await listener.choose('es', 'embedded');
    const [pipeline] = manager.pipelines;
    await ivan.startInterpreting('speaker', 'es');
    await waitFor(() => pipeline!.stageCounters?.sourceSwaps === 1, 5000, 'swap to ivan');
    await ivan.stopInterpreting('speaker', 'es');
    await waitFor(() => listener.ended().length === 1, 5000, 'dubEnded');
    expect(listener.ended()).toEqual([
      'the dub could not go back to the embedded source (interpreter ivan stopped interpreting speaker): ' +
        'translator unavailable',
    ]);
    expect(pipeline!.closed).toBe(true);
    expect(manager.pipelines).toEqual([]);
  });
});
