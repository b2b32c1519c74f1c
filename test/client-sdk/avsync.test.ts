/**
 * A/V sync of a dub as a listener's receiver computes it, without a browser. mediasoup sends listeners its own RTCP
 * sender reports: each stream's newest RTP timestamp stamped with the wall time mediasoup forwarded it. A receiver
 * (Chromium, werift) lip-syncs audio and video through those, so the dubbed streams are in sync at a listener only if
 * audio and video leave the pipeline with the same lag behind their media time. The truth is the pipeline's own
 * mapping (its SRs, sent to listeners in `dubStats`). For each SR the listener receives from mediasoup:
 *   lag = SR wall time - pipeline wall time of the SR's RTP timestamp;
 * the A/V error a receiver plays out is lag(video) - lag(audio) (positive: audio ahead of the picture).
 *
 * The face stage here is a stand-in that renders with a real-time latency and stalls now and then, as the lip-sync
 * engine does on a loaded machine (the case where the dubbed audio used to arrive in bursts, ~1-1.7 s late).
 */
import { MediaStreamTrack } from 'werift';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LipsyncClient } from '../../src/client-sdk/node/index.ts';
import {
  registerAvStage,
  TypedEmitter,
  type AudioFrame,
  type AvStage,
  type AvStageEvents,
} from '../../src/pipeline/index.ts';
import type { VideoFrame } from '../../src/pipeline/index.ts';
import type { DubStats } from '../../src/protocol/index.ts';
import { dubManagerFactory } from '../../src/sfu/dub/index.ts';
import type { LipsyncServer } from '../../src/sfu/index.ts';
import { clipPath, feedClip, sleep, startTestServer, waitFor } from '../sfu/helpers.ts';

/** Renders each frame 120 ms after it came in, stalls 600 ms every 40th frame; drive audio out at once. */
class StallingFaceStage extends TypedEmitter<AvStageEvents> implements AvStage {
  readonly name = 'stalling-face';
  readonly delayMs = 230;
  #busyUntil = 0;
  #n = 0;
  #timers = new Set<NodeJS.Timeout>();
  pushVideo(frame: VideoFrame): void {
    const now = performance.now();
    const cost = ++this.#n % 40 === 0 ? 600 : 120;
    this.#busyUntil = Math.max(this.#busyUntil, now) + (cost === 600 ? 600 : 0);
    const at = Math.max(this.#busyUntil, now + cost);
    const t = setTimeout(() => {
      this.#timers.delete(t);
      this.safeEmit('video', { ...frame, timestampUs: frame.timestampUs + this.delayMs * 1000 });
    }, at - now);
    this.#timers.add(t);
  }
  pushSpeakerAudio(): void {}
  pushDriveAudio(frame: AudioFrame): void {
    this.safeEmit('audio', { ...frame, timestampUs: frame.timestampUs + this.delayMs * 1000 });
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  close(): void {
    for (const t of this.#timers) clearTimeout(t);
  }
}

const NTP_UNIX_S = 2_208_988_800;
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

describe('dubbed A/V sync at a listener (mediasoup sender reports)', () => {
  let server: LipsyncServer;

  beforeAll(async () => {
    registerAvStage('test-stalling-face', () => new StallingFaceStage(), 'test: face stage with render stalls');
    server = await startTestServer({
      dubs: dubManagerFactory({
        offers: [{ language: 'es', source: 'embedded' }],
        stage: 'test-stalling-face',
        timelineDelayMs: 500,
        statsIntervalMs: 250,
      }),
    });
  });

  afterAll(() => server?.close());

  it('dubbed audio and video leave with one lag: A/V error within +/-40 ms', { timeout: 70_000 }, async () => {
    const speaker = await LipsyncClient.join({ url: server.wsUrl, token: server.mintToken('av', 'speaker') });
    const listener = await LipsyncClient.join({
      url: server.wsUrl,
      token: server.mintToken('av', 'listener'),
      subscribe: 'original',
    });
    try {
      const video = new MediaStreamTrack({ kind: 'video' });
      const audio = new MediaStreamTrack({ kind: 'audio' });
      (await speaker.publish(video)).onKeyframeRequest(() => {});
      await speaker.publish(audio);
      // Looped: the clip lasts 8 s, and the readings below must describe packets sent during the window. After the
      // last packet mediasoup's SRs only extrapolate it, so they would all repeat the lag of the final packets (that
      // made this test read a run-constant 35-58 ms about one run in six).
      const feeding = feedClip({
        clip: clipPath('sadtalker_WDA_AOC_000.mp4'),
        video,
        audio,
        durationS: 24,
        loop: true,
      });
      await waitFor(() => listener.tracks.size === 2, 15_000, 'original tracks');

      let truth: DubStats['senderReports'] = {};
      listener.on('dubstats', (s) => {
        if (s.senderReports?.audio && s.senderReports.video) truth = s.senderReports;
      });
      const lags: Record<'audio' | 'video', { atMs: number; lag: number }[]> = { audio: [], video: [] };
      await listener.setDubLanguage('speaker', 'es');
      const view = listener.viewOf('speaker');
      expect(view.language).toBe('es');
      const received: Record<'audio' | 'video', number[]> = { audio: [], video: [] };
      for (const t of [view.audio!, view.video!]) {
        const receiver = listener.consumerOf(t.consumerId)?.rtpReceiver as unknown as {
          onRtcp: { subscribe(f: (p: unknown) => void): void };
          tracks: { onReceiveRtp: { subscribe(f: () => void): void } }[];
        };
        for (const track of receiver.tracks) track.onReceiveRtp.subscribe(() => received[t.kind].push(Date.now()));
        const clock = t.kind === 'audio' ? 48_000 : 90_000;
        receiver.onRtcp.subscribe((p) => {
          const sr = p as { type?: number; senderInfo?: { ntpTimestamp: bigint; rtpTimestamp: number } };
          const ref = truth?.[t.kind];
          if (sr.type !== 200 || !sr.senderInfo || !ref) return;
          const ntp = sr.senderInfo.ntpTimestamp;
          const wallMs = (Number(ntp >> 32n) - NTP_UNIX_S) * 1000 + (Number(ntp & 0xffffffffn) / 2 ** 32) * 1000;
          const diff = (sr.senderInfo.rtpTimestamp - ref.rtpTimestamp) | 0;
          lags[t.kind].push({ atMs: Date.now(), lag: wallMs - (ref.ntpMs + (diff / clock) * 1000) });
        });
      }
      await sleep(17_000);
      // Past the start (first SRs, first stall): the last 14 s. mediasoup sends an audio SR every 4.3-6 s (its 5 s
      // interval, checked on the transport's RTCP timer), so 11 s sometimes held only one.
      const since = Date.now() - 14_000;
      const a = lags.audio.filter((l) => l.atMs >= since).map((l) => l.lag);
      const v = lags.video.filter((l) => l.atMs >= since).map((l) => l.lag);
      const fresh = { audio: received.audio.filter((at) => at >= since).length, video: 0 };
      fresh.video = received.video.filter((at) => at >= since).length;
      await feeding;
      // mediasoup's SR clock is its own monotonic one: lags are shown relative to the first audio lag.
      const base = a[0] ?? 0;
      console.log(
        `avsync: audio lag ${a.map((x) => Math.round(x - base)).join(',')} ms; ` +
          `video lag ${v.map((x) => Math.round(x - base)).join(',')} ms; ` +
          `A/V error (video - audio median lag) ${Math.round(median(v) - median(a))} ms; ` +
          `packets received in the window: ${fresh.audio} audio, ${fresh.video} video`,
      );
      // The SRs describe live packets: dubbed media flowed through the whole window (14 s: 700 audio packets,
      // 350 frames).
      expect(fresh.audio).toBeGreaterThan(550);
      expect(fresh.video).toBeGreaterThan(280);
      expect(a.length).toBeGreaterThanOrEqual(2);
      expect(v.length).toBeGreaterThanOrEqual(5);
      expect(Math.abs(median(v) - median(a))).toBeLessThanOrEqual(40);
      // Each report: a stall must not show up as a jump in the audio's lag (the burst that kept Chromium's audio late).
      expect(Math.max(...a) - Math.min(...a)).toBeLessThanOrEqual(60);
    } finally {
      listener.close();
      speaker.close();
    }
  });
});
