/**
 * A language dubbed by an external provider (the lipsync-dub/1 WebSocket protocol), configured the way
 * `lipsync serve --provider-url URL --provider-languages es` does it: the SFU's DubManager opens a ProviderDubSource
 * per pipeline. The provider here is a real ProviderServer (the embedded offline translator behind the protocol, as
 * `lipsync translate-server` runs it); the listener must hear the provider's Spanish speech as the dub.
 */
import { MediaStreamTrack } from 'werift';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LipsyncClient, type RemoteTrack } from '../../src/client-sdk/node/index.ts';
import { ProviderServer } from '../../src/pipeline/dub/index.ts';
import type { DubStats } from '../../src/protocol/index.ts';
import { dubManagerFactory } from '../../src/sfu/dub/index.ts';
import type { LipsyncServer } from '../../src/sfu/index.ts';
import { clipPath, feedClip, sleep, startTestServer, waitFor } from '../sfu/helpers.ts';

describe('dub from an external provider (Node SDK)', () => {
  let provider: ProviderServer;
  let sessions = 0;
  let server: LipsyncServer;

  beforeAll(async () => {
    provider = await ProviderServer.listen({ port: 0 });
    provider.on('session', () => sessions++);
    server = await startTestServer({
      dubs: dubManagerFactory({
        offers: [{ language: 'es', source: 'provider' }],
        providerUrl: provider.url,
        stage: 'identity',
        timelineDelayMs: 500,
      }),
    });
  });

  afterAll(async () => {
    server?.close();
    await provider?.close();
  });

  it("delivers the provider's speech as the dubbed audio", async () => {
    const speaker = await LipsyncClient.join({ url: server.wsUrl, token: server.mintToken('prov', 'speaker') });
    const listener = await LipsyncClient.join({
      url: server.wsUrl,
      token: server.mintToken('prov', 'listener'),
      subscribe: 'original',
    });
    try {
      expect(listener.languageOffers).toEqual([{ language: 'es', source: 'provider' }]);
      const video = new MediaStreamTrack({ kind: 'video' });
      const audio = new MediaStreamTrack({ kind: 'audio' });
      (await speaker.publish(video)).onKeyframeRequest(() => {});
      await speaker.publish(audio);
      // The whole clip: 8 s (a longer durationS would not loop it).
      const feeding = feedClip({ clip: clipPath('sadtalker_WDA_AOC_000.mp4'), video, audio });
      await waitFor(() => [...listener.tracks.values()].length === 2, 15_000, 'original tracks');

      const dubbed: RemoteTrack[] = [];
      const received = { audio: 0, video: 0 };
      listener.on('track', (t) => {
        if (t.language !== 'es') return;
        dubbed.push(t);
        t.track.onReceiveRtp.subscribe(() => received[t.kind]++);
      });
      const stats: DubStats[] = [];
      listener.on('dubstats', (s) => stats.push(s));
      const choice = await listener.setDubLanguage('speaker', 'es');
      expect(choice).toMatchObject({ language: 'es', source: 'provider' });
      expect(dubbed.map((t) => t.kind).sort()).toEqual(['audio', 'video']);
      // The pipeline opened a provider session and the provider's translated speech arrived as segments.
      await waitFor(() => sessions === 1, 10_000, 'a provider session');
      await waitFor(() => (stats.at(-1)?.segments ?? 0) >= 1, 30_000, 'a dubbed segment from the provider');
      await waitFor(() => received.audio > 50 && received.video > 30, 10_000, 'dubbed media');
      console.log(`provider dub: ${JSON.stringify(stats.at(-1))}; received ${JSON.stringify(received)}`);
      await listener.setDubLanguage('speaker', null);
      await feeding;
    } finally {
      speaker.close();
      listener.close();
      await sleep(200);
    }
  });
});
