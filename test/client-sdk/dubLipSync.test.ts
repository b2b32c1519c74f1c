/**
 * DubLipSync (browser SDK) on stand-in receivers: it measures a dubbed view's heard A/V offset from the pipeline's
 * sender reports, the receivers' synchronization sources and the audio device's playout delay, trims a steady
 * residual through jitterBufferTarget, and leaves transients and originals alone. The real thing runs in Chromium in
 * test/e2e/dub.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { DubStats } from '../../src/protocol/index.ts';
import { DubLipSync } from '../../src/client-sdk/browser/DubLipSync.ts';
import type { LipsyncClient } from '../../src/client-sdk/browser/index.ts';

interface FakeReceiver {
  jitterBufferTarget: number | null;
  getSynchronizationSources(): { rtpTimestamp: number; timestamp: number }[];
}

/** A listener whose dubbed audio plays `offsetMs()` ahead of its video (as handed to playout), device delay 30 ms. */
function fakeClient(offsetMs: () => number, language: string | null = 'es') {
  const listeners: ((s: DubStats) => void)[] = [];
  const now = () => performance.timeOrigin + performance.now();
  const receiver = (kind: 'audio' | 'video'): FakeReceiver => ({
    jitterBufferTarget: null,
    getSynchronizationSources: () => [
      { rtpTimestamp: kind === 'audio' ? Math.round(offsetMs() * 48) : 0, timestamp: now() },
    ],
  });
  let emitted = 0;
  const consumer = (kind: 'audio' | 'video', baseTargetMs: number) => {
    const rtpReceiver = receiver(kind);
    return {
      rtpReceiver,
      getStats: () => {
        emitted += 100;
        const stats = [
          {
            type: 'inbound-rtp',
            jitterBufferEmittedCount: emitted,
            jitterBufferTargetDelay: (baseTargetMs / 1000) * emitted,
          },
          ...(kind === 'audio' ? [{ type: 'media-playout', totalSamplesCount: 1000, totalPlayoutDelay: 30 }] : []),
        ];
        return Promise.resolve({ forEach: (f: (s: Record<string, unknown>) => void) => stats.forEach(f) });
      },
    };
  };
  const consumers = { a1: consumer('audio', 137), v1: consumer('video', 120) };
  const client = {
    on: (_e: 'dubstats', f: (s: DubStats) => void) => listeners.push(f),
    off: () => {},
    viewOf: (peerId: string) => ({
      peerId,
      language,
      audio: { consumerId: 'a1' },
      video: { consumerId: 'v1' },
    }),
    consumerOf: (id: string) => consumers[id as keyof typeof consumers],
  };
  const stats = () =>
    listeners.forEach((f) =>
      f({
        speakerPeerId: 'speaker',
        language: 'es',
        fps: 25,
        delayMs: 2130,
        faceRendering: true,
        segments: 1,
        framesOut: 100,
        senderReports: { audio: { ntpMs: 1000, rtpTimestamp: 0 }, video: { ntpMs: 1000, rtpTimestamp: 0 } },
      }),
    );
  return { client: client as unknown as LipsyncClient, consumers, stats };
}

const until = async (f: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!f() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
};

describe('DubLipSync', () => {
  it('measures the heard offset (device playout delay taken off)', async () => {
    const { client, stats } = fakeClient(() => 80);
    const sync = new DubLipSync(client, { intervalMs: 10_000 });
    stats();
    const r = await sync.measure('speaker');
    sync.close();
    expect(r).not.toBeNull();
    expect(r!.offsetMs).toBeCloseTo(80, 0);
    expect(r!.devicePlayoutDelayMs).toBeCloseTo(30, 5);
    expect(r!.heardOffsetMs).toBeCloseTo(50, 0);
  });

  it('delays the audio by a steady residual when the voice is ahead, and the video when the lips are', async () => {
    for (const [offset, kind, other] of [
      [80, 'a1', 'v1'],
      [-20, 'v1', 'a1'],
    ] as const) {
      const { client, consumers, stats } = fakeClient(() => offset);
      const sync = new DubLipSync(client, { intervalMs: 5 });
      stats();
      await until(() => (sync.stateOf('speaker')?.adjustments ?? 0) > 0);
      const state = sync.stateOf('speaker');
      sync.close();
      const heard = offset - 30;
      expect(state?.adjustments).toBe(1);
      // Base: the receiver's recent target (137 ms audio, 120 ms video), plus the residual.
      const base = kind === 'a1' ? 137 : 120;
      expect(consumers[kind].rtpReceiver.jitterBufferTarget).toBeCloseTo(base + Math.abs(heard), 0);
      expect(consumers[other].rtpReceiver.jitterBufferTarget).toBeNull();
    }
  });

  it('leaves small offsets, transients and drifting offsets to the browser, and original views alone', async () => {
    let t = 0;
    const cases = [
      fakeClient(() => 40), // heard +10 ms: inside the dead band
      fakeClient(() => 400), // heard +370 ms: a transient, the browser's sync is still at work
      fakeClient(() => 40 + (t += 4)), // walking 4 ms per reading: not steady yet
      fakeClient(() => 80, null), // the original view
    ];
    const syncs = cases.map(({ client, stats }) => {
      const s = new DubLipSync(client, { intervalMs: 5 });
      stats();
      return s;
    });
    await new Promise((r) => setTimeout(r, 400));
    // What each concluded (the e2e waits for a conclusion before its readings).
    expect(syncs.map((s) => s.stateOf('speaker')?.status)).toEqual(['inSync', 'beyondReach', 'moving', undefined]);
    expect(syncs[0]!.stateOf('speaker')?.steadyMedianMs).toBeCloseTo(10, 0);
    for (const [i, { consumers }] of cases.entries()) {
      expect(syncs[i]!.stateOf('speaker')?.adjustments ?? 0).toBe(0);
      expect(consumers.a1.rtpReceiver.jitterBufferTarget).toBeNull();
      expect(consumers.v1.rtpReceiver.jitterBufferTarget).toBeNull();
      syncs[i]!.close();
    }
  });
});
