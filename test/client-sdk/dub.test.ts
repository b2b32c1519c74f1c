/**
 * Dubbing chosen by the listener, through the Node SDK (the same client class as in browsers): a speaker publishes a
 * real clip (English speech), a listener chooses Spanish and must receive the dubbed audio and video producers of a
 * running pipeline (with health notifications), a second listener of the same language shares that pipeline, and
 * bad requests (unsupported language, a speaker who refused, a wrong token) get clear errors while the others keep
 * their media.
 */
import { MediaStreamTrack } from 'werift';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LipsyncClient, RequestError, type RemoteTrack } from '../../src/client-sdk/node/index.ts';
import type { DubStats } from '../../src/protocol/index.ts';
import { dubManagerFactory, type DubManager } from '../../src/sfu/dub/index.ts';
import type { LipsyncServer } from '../../src/sfu/index.ts';
import { clipPath, feedClip, sleep, startTestServer, waitFor } from '../sfu/helpers.ts';

describe('dub chosen by the listener (Node SDK)', () => {
  let server: LipsyncServer;

  beforeAll(async () => {
    server = await startTestServer({
      // The identity face stage keeps this test cheap; the browser e2e runs the lip-sync engine.
      dubs: dubManagerFactory({
        offers: [{ language: 'es', source: 'embedded' }],
        stage: 'identity',
        timelineDelayMs: 500,
      }),
    });
  });

  afterAll(() => server?.close());

  it('starts one shared pipeline on demand, delivers dubbed audio and video, stops it when the last listener leaves', async () => {
    const speaker = await LipsyncClient.join({ url: server.wsUrl, token: server.mintToken('dub', 'speaker') });
    const listener = await LipsyncClient.join({
      url: server.wsUrl,
      token: server.mintToken('dub', 'listener'),
      subscribe: 'original',
    });
    const second = await LipsyncClient.join({
      url: server.wsUrl,
      token: server.mintToken('dub', 'second'),
      subscribe: 'original',
    });
    try {
      expect(listener.languageOffers).toEqual([{ language: 'es', source: 'embedded' }]);
      const video = new MediaStreamTrack({ kind: 'video' });
      const audio = new MediaStreamTrack({ kind: 'audio' });
      const pub = await speaker.publish(video);
      await speaker.publish(audio);
      pub.onKeyframeRequest(() => {});
      // The whole clip: 8 s (a longer durationS would not loop it).
      const feeding = feedClip({ clip: clipPath('sadtalker_WDA_AOC_000.mp4'), video, audio });
      await waitFor(() => [...listener.tracks.values()].length === 2, 15_000, 'original tracks');

      const received = { audio: 0, video: 0 };
      const dubbedTracks: RemoteTrack[] = [];
      listener.on('track', (t) => {
        if (t.language !== 'es') return;
        dubbedTracks.push(t);
        t.track.onReceiveRtp.subscribe(() => received[t.kind]++);
      });
      const stats: DubStats[] = [];
      listener.on('dubstats', (s) => stats.push(s));
      const views: (string | null)[] = [];
      listener.on('speakerview', (v) => views.push(v.language));

      const choice = await listener.setDubLanguage('speaker', 'es');
      expect(choice).toMatchObject({ language: 'es', faceRendering: true, source: 'embedded' });
      expect(dubbedTracks.map((t) => t.kind).sort()).toEqual(['audio', 'video']);
      expect(listener.viewOf('speaker').language).toBe('es');
      // The originals are set aside (paused), not closed: switching back is immediate.
      const originals = [...listener.tracks.values()].filter((t) => t.language === null);
      expect(originals.every((t) => t.paused)).toBe(true);

      const dubs = (server.rooms.get('dub')!.dubs as DubManager).pipelines;
      expect(dubs).toHaveLength(1);
      await second.setDubLanguage('speaker', 'es');
      expect((server.rooms.get('dub')!.dubs as DubManager).pipelines).toHaveLength(1);
      expect(dubs[0]!.listeners.size).toBe(2);

      await waitFor(() => received.video > 30 && received.audio > 50, 20_000, 'dubbed media');
      await waitFor(() => stats.length >= 2, 5000, 'dub stats');
      const last = stats.at(-1)!;
      expect(Math.max(...stats.map((s) => s.fps))).toBeGreaterThan(5);
      expect(last.delayMs).toBeGreaterThanOrEqual(500);
      const counters = dubs[0]!.stageCounters!;
      console.log(
        `dub pipeline: ${JSON.stringify(counters)}; listener got video ${received.video} audio ${received.audio} packets; stats ${JSON.stringify(last)}`,
      );

      // Back to the original: originals resume, dubbed consumers close; the pipeline lives while `second` listens.
      await listener.setDubLanguage('speaker', null);
      expect(listener.viewOf('speaker').language).toBeNull();
      expect([...listener.tracks.values()].every((t) => t.language === null && !t.paused)).toBe(true);
      expect((server.rooms.get('dub')!.dubs as DubManager).pipelines).toHaveLength(1);
      await second.setDubLanguage('speaker', null);
      expect((server.rooms.get('dub')!.dubs as DubManager).pipelines).toHaveLength(0);
      // The original view may already have been announced before this listener was attached (it is emitted when
      // the original tracks arrive, which races with the wait above); what matters is original -> es -> original.
      const firstDub = views.indexOf('es');
      expect(firstDub).toBeGreaterThanOrEqual(0);
      expect(views.slice(0, firstDub).every((v) => v === null)).toBe(true);
      expect(views.slice(firstDub)).toEqual(['es', null]);
      await feeding;
    } finally {
      speaker.close();
      listener.close();
      second.close();
      await sleep(200);
    }
  });

  it('answers bad dub requests with clear errors and disturbs nobody', async () => {
    const speaker = await LipsyncClient.join({ url: server.wsUrl, token: server.mintToken('bad', 'speaker') });
    const refuser = await LipsyncClient.join({ url: server.wsUrl, token: server.mintToken('bad', 'refuser') });
    const listener = await LipsyncClient.join({
      url: server.wsUrl,
      token: server.mintToken('bad', 'listener'),
      subscribe: 'original',
    });
    try {
      const audio = new MediaStreamTrack({ kind: 'audio' });
      await speaker.publish(audio);
      const refuserAudio = new MediaStreamTrack({ kind: 'audio' });
      await refuser.setDubConsent({ dub: false, faceRendering: false });
      await refuser.publish(refuserAudio);
      const feeding = Promise.all([
        feedClip({ clip: clipPath('sadtalker_WDA_AOC_000.mp4'), audio, durationS: 4 }),
        feedClip({ clip: clipPath('vrt_face_2.mp4'), audio: refuserAudio, durationS: 4 }),
      ]);
      let packets = 0;
      const count = (t: RemoteTrack) => {
        if (t.peerId === 'speaker') t.track.onReceiveRtp.subscribe(() => packets++);
      };
      // The speaker's track may already be there (a loaded machine): count it as well as later ones.
      for (const t of listener.tracks.values()) count(t);
      listener.on('track', count);
      await waitFor(() => packets > 10, 25_000, 'original audio');

      const unsupported = await listener.setDubLanguage('speaker', 'de').catch((e: unknown) => e);
      expect(unsupported).toBeInstanceOf(RequestError);
      expect(unsupported).toMatchObject({ code: 'unsupported' });
      expect((unsupported as Error).message).toMatch(/language de not offered in this room \(offered: es\)/);

      const refused = await listener.setDubLanguage('refuser', 'es').catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: 'unsupported', message: 'speaker refuser does not allow dubbing' });

      const ghost = await listener.setDubLanguage('nobody', 'es').catch((e: unknown) => e);
      expect(ghost).toMatchObject({ code: 'notFound' });

      const wrongToken = await LipsyncClient.join({
        url: server.wsUrl,
        token: `${server.mintToken('bad', 'bot').slice(0, -4)}AAAA`,
      }).catch((e: unknown) => e);
      expect(wrongToken).toMatchObject({ code: 'unauthorized' });

      // Nobody else noticed: the listener still receives, views unchanged, no pipeline was left running.
      const before = packets;
      await sleep(600);
      expect(packets).toBeGreaterThan(before + 10);
      expect(listener.viewOf('speaker').language).toBeNull();
      expect((server.rooms.get('bad')!.dubs as DubManager).pipelines).toHaveLength(0);
      expect(speaker.closed || refuser.closed || listener.closed).toBe(false);
      await feeding;
    } finally {
      speaker.close();
      refuser.close();
      listener.close();
      await sleep(200);
    }
  });
});
