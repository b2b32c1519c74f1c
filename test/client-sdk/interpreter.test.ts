/**
 * A human interpreter as the dub (Node SDK): a speaker publishes a real clip (audio + video), an interpreter publishes
 * a different real clip (audio), the room assigns the interpreter to the speaker for French, and a listener who
 * chooses French receives dubbed audio + video whose audio is the INTERPRETER's speech: silent while only the speaker
 * talks, and its energy envelope follows the interpreter's clip (not the speaker's). When the interpreter leaves, the
 * pipeline stops and the listener is back on the original.
 */
import { MediaStreamTrack } from 'werift';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LipsyncClient, type RemoteTrack } from '../../src/client-sdk/node/index.ts';
import { dubManagerFactory, type DubManager } from '../../src/sfu/dub/index.ts';
import type { LipsyncServer } from '../../src/sfu/index.ts';
import { clipPath, feedClip, sleep, startTestServer, waitFor } from '../sfu/helpers.ts';
import { AudioMeter, bestCorrelation, BIN_MS, clipEnvelope } from './dubAudio.ts';

describe('interpreter as the dub source (Node SDK)', () => {
  let server: LipsyncServer;

  beforeAll(async () => {
    server = await startTestServer({
      dubs: dubManagerFactory({
        offers: [{ language: 'fr', source: 'interpreter' }],
        stage: 'identity',
        timelineDelayMs: 500,
      }),
    });
  });

  afterAll(() => server?.close());

  it("dubs the speaker with the interpreter's audio and stops when the interpreter leaves", async () => {
    const room = 'interp';
    const speaker = await LipsyncClient.join({ url: server.wsUrl, token: server.mintToken(room, 'speaker') });
    const interpreter = await LipsyncClient.join({ url: server.wsUrl, token: server.mintToken(room, 'ivan') });
    const listener = await LipsyncClient.join({
      url: server.wsUrl,
      token: server.mintToken(room, 'listener'),
      subscribe: 'original',
    });
    let meter: AudioMeter | undefined;
    try {
      expect(listener.languageOffers).toEqual([{ language: 'fr', source: 'interpreter' }]);
      const manager = server.rooms.get(room)!.dubs as DubManager;
      manager.assignInterpreter('speaker', 'fr', 'ivan');

      const video = new MediaStreamTrack({ kind: 'video' });
      const audio = new MediaStreamTrack({ kind: 'audio' });
      const pub = await speaker.publish(video);
      await speaker.publish(audio);
      pub.onKeyframeRequest(() => {});
      const interpAudio = new MediaStreamTrack({ kind: 'audio' });
      await interpreter.publish(interpAudio);
      const speakerClip = clipPath('latentsync_demo2_video.mp4');
      const interpClip = clipPath('sadtalker_WDA_KatieHill_000.mp4');
      const speakerStartMs = performance.now();
      const speakerFeeding = feedClip({ clip: speakerClip, video, audio, durationS: 20 });
      await waitFor(
        () => [...listener.tracks.values()].filter((t) => t.peerId === 'speaker').length === 2,
        15_000,
        'original tracks',
      );

      const received = { audio: 0, video: 0 };
      const dubbed: RemoteTrack[] = [];
      listener.on('track', (t) => {
        if (t.language !== 'fr') return;
        dubbed.push(t);
        t.track.onReceiveRtp.subscribe(() => received[t.kind]++);
      });
      const ended: string[] = [];
      listener.on('dubended', (d) => ended.push(d.reason));

      const choice = await listener.setDubLanguage('speaker', 'fr');
      expect(choice).toMatchObject({ language: 'fr', source: 'interpreter' });
      expect(dubbed.map((t) => t.kind).sort()).toEqual(['audio', 'video']);
      expect(manager.pipelines).toHaveLength(1);
      expect(manager.pipelines[0]!.sourceKind).toBe('interpreter');

      const dubAudio = dubbed.find((t) => t.kind === 'audio')!;
      // Decode the dubbed audio the listener receives; bins of RMS by wall time (from the media timestamps).
      meter = await AudioMeter.attach(listener, dubAudio);

      // Only the speaker talks: the dub (the interpreter's silent track) is silence.
      await waitFor(() => received.audio > 50 && received.video > 10, 15_000, 'dubbed media');
      await sleep(1500);
      const interpStartMs = performance.now();
      const before = meter.rms(interpStartMs - 1500, interpStartMs);

      // The interpreter talks (8 s clip).
      await feedClip({ clip: interpClip, audio: interpAudio, durationS: 8 });
      await sleep(2500);
      const during = meter.rms(interpStartMs + 1500, interpStartMs + 8000);

      const envelope = meter.envelope();
      const interpEnv = clipEnvelope(interpClip, 8);
      // The speaker's clip over the same wall-time window (it started at speakerStartMs).
      const speakerOffsetS = (interpStartMs - speakerStartMs) / 1000;
      const speakerEnv = clipEnvelope(speakerClip, speakerOffsetS + 12).slice(
        Math.round((speakerOffsetS * 1000) / BIN_MS),
      );
      const withInterp = bestCorrelation(envelope, interpEnv, interpStartMs, 4000);
      const withSpeaker = bestCorrelation(envelope, speakerEnv, interpStartMs, 4000);
      const counters = manager.pipelines[0]!.stageCounters!;
      console.log(
        `interpreter dub: rms before ${before.rms.toFixed(4)} (${before.n} samples), while interpreting ` +
          `${during.rms.toFixed(4)} (${during.n}); envelope r interpreter ${withInterp.r.toFixed(3)} @${withInterp.lagMs} ms, ` +
          `speaker ${withSpeaker.r.toFixed(3)} @${withSpeaker.lagMs} ms; listener got audio ${received.audio} video ` +
          `${received.video} packets; stage ${JSON.stringify(counters)}`,
      );
      expect(before.n).toBeGreaterThan(0);
      expect(before.rms).toBeLessThan(0.003);
      expect(during.rms).toBeGreaterThan(0.01);
      expect(withInterp.r).toBeGreaterThan(0.5);
      expect(withInterp.r).toBeGreaterThan(withSpeaker.r + 0.2);

      // The interpreter leaves: the pipeline stops, the listener is told and is back on the original.
      interpreter.close();
      await waitFor(() => manager.pipelines.length === 0, 5000, 'pipeline stopped');
      await waitFor(() => ended.length === 1, 5000, 'dubEnded');
      // French has no other source: the reason says there is nothing to choose again (not that its audio stopped,
      // though its producer closes before the peer leaves).
      expect(ended[0]).toBe('no interpreter for fr any more (interpreter ivan left)');
      await waitFor(() => listener.viewOf('speaker').language === null, 5000, 'original view');
      expect(manager.interpreters.size).toBe(0);
      speaker.close();
      await speakerFeeding.catch(() => {});
    } finally {
      meter?.close();
      speaker.close();
      interpreter.close();
      listener.close();
      await sleep(200);
    }
  }, 60_000);
});
