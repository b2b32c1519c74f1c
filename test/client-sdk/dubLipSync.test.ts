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

/**
 * A listener whose dubbed audio plays `offsetMs()` ahead of its video (as handed to playout), device delay 30 ms.
 * `split`: the dubbed audio and video are in separate sync groups (the browser does not sync them).
 */
function fakeClient(offsetMs: () => number, language: string | null = 'es', split = false) {
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
    // The jitter buffer's own minimum delay, summed like the stats do (it may change during a test).
    const minimum = { ms: baseTargetMs, sum: 0, n: 0 };
    return {
      rtpReceiver,
      minimum,
      getStats: () => {
        emitted += 100;
        minimum.sum += (minimum.ms / 1000) * (emitted - minimum.n);
        minimum.n = emitted;
        const stats = [
          {
            type: 'inbound-rtp',
            jitterBufferEmittedCount: emitted,
            jitterBufferTargetDelay: (baseTargetMs / 1000) * emitted,
            jitterBufferMinimumDelay: minimum.sum,
          },
          ...(kind === 'audio' ? [{ type: 'media-playout', totalSamplesCount: 1000, totalPlayoutDelay: 30 }] : []),
        ];
        return Promise.resolve({ forEach: (f: (s: Record<string, unknown>) => void) => stats.forEach(f) });
      },
    };
  };
  const consumers = { a1: consumer('audio', 137), v1: consumer('video', 120) };
  const client = {
    dubSyncGroups: 'shared',
    on: (_e: 'dubstats', f: (s: DubStats) => void) => listeners.push(f),
    off: () => {},
    viewOf: (peerId: string) => ({
      peerId,
      language,
      audio: { consumerId: 'a1', syncGroup: split ? 'speaker/mic/es/audio' : 'speaker/mic/es' },
      video: { consumerId: 'v1', syncGroup: split ? 'speaker/mic/es/video' : 'speaker/mic/es' },
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
  return { client: client as unknown as LipsyncClient, raw: client, consumers, stats };
}

const until = async (f: () => boolean, ms = 8000) => {
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
      const sync = new DubLipSync(client, { intervalMs: 5, mode: 'trim' });
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
      const s = new DubLipSync(client, { intervalMs: 5, mode: 'trim' });
      stats();
      return s;
    });
    // 12 readings of ~120 ms each (5 samples 30 ms apart) and a window's conclusion.
    await until(() => syncs.slice(0, 3).every((s) => (s.stateOf('speaker')?.status ?? 'measuring') !== 'measuring'));
    await new Promise((r) => setTimeout(r, 300));
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

  it('own mode: syncs a view the browser does not sync, and follows its jitter buffers', async () => {
    // The stand-in playout: each stream is delayed by its jitter buffer's own minimum or the target set, whichever
    // is larger; the audio plays C ms ahead of the video before those delays.
    const C = -13; // heard offset with the browser's own delays (audio 137, video 120, device 30): -60 ms
    const delay = (c: { rtpReceiver: FakeReceiver; minimum: { ms: number } }) =>
      Math.max(c.rtpReceiver.jitterBufferTarget ?? 0, c.minimum.ms);
    const fc: ReturnType<typeof fakeClient> = fakeClient(
      () => C - delay(fc.consumers.a1) + delay(fc.consumers.v1),
      'es',
      true,
    );
    const { client, raw, consumers, stats } = fc;
    const sync = new DubLipSync(client, { intervalMs: 5 });
    expect(raw.dubSyncGroups).toBe('split'); // dubbed tracks subscribed from now on: out of the browser's sync
    stats();
    const heard = async () => (await sync.measure('speaker'))!.heardOffsetMs;
    expect(await heard()).toBeCloseTo(-60, 0);
    const settle = async () => {
      await until(() => sync.stateOf('speaker')?.status === 'measuring');
      await until(() => sync.stateOf('speaker')?.status === 'inSync');
    };
    await settle();
    expect(sync.stateOf('speaker')?.mode).toBe('own');
    // The audio's buffer is deepened to 200 ms (from its own 137) and the video plays ~43 ms after it: the lips had
    // led by 60 ms with the browser's own delays (video 120, audio 137).
    expect(Math.abs(await heard())).toBeLessThanOrEqual(10);
    expect(consumers.a1.rtpReceiver.jitterBufferTarget).toBe(200);
    expect(consumers.v1.rtpReceiver.jitterBufferTarget).toBeGreaterThan(233);
    expect(consumers.v1.rtpReceiver.jitterBufferTarget).toBeLessThan(253);

    // The audio jitter buffer wants 60 ms more than that on its own (late packets): it has its way, the video follows
    // at the next reading.
    consumers.a1.minimum.ms = 260;
    await new Promise((r) => setTimeout(r, 400));
    expect(Math.abs(await heard())).toBeLessThanOrEqual(10);
    expect(consumers.a1.rtpReceiver.jitterBufferTarget).toBeNull();
    expect(consumers.v1.rtpReceiver.jitterBufferTarget).toBeGreaterThan(293);

    // The video's wants 420 ms (a stall upstream): now the audio is the one held back, the video plays on its own.
    // The audio climbs there by at most 40 ms a reading (a jump would be heard as a gap).
    consumers.v1.minimum.ms = 420;
    const climb: number[] = [];
    await until(() => {
      const t = consumers.a1.rtpReceiver.jitterBufferTarget ?? 260;
      if (climb.at(-1) !== t) climb.push(t);
      return t > 367; // 420 - the ~43 ms it keeps between them
    });
    expect(climb.at(-1)).toBeGreaterThan(367);
    expect(Math.max(...climb.slice(1).map((t, i) => t - climb[i]!))).toBeLessThanOrEqual(40);
    expect(climb.length).toBeGreaterThan(3);
    await new Promise((r) => setTimeout(r, 400));
    expect(Math.abs(await heard())).toBeLessThanOrEqual(10);
    expect(consumers.v1.rtpReceiver.jitterBufferTarget).toBeNull();
    sync.close();
    expect(raw.dubSyncGroups).toBe('shared');
  });

  it('own mode: a single reading far off the others is a spike and moves nothing', async () => {
    let spike = false;
    const fc = fakeClient(() => (spike ? 300 : 30), 'es', true); // heard 0, or +270 during the spike
    const sync = new DubLipSync(fc.client, { intervalMs: 5 });
    fc.stats();
    await until(() => sync.stateOf('speaker')?.status === 'inSync');
    const before = sync.stateOf('speaker')!;
    const targets = () => [
      fc.consumers.a1.rtpReceiver.jitterBufferTarget,
      fc.consumers.v1.rtpReceiver.jitterBufferTarget,
    ];
    const targetsBefore = targets();
    spike = true;
    await new Promise((r) => setTimeout(r, 150)); // one reading (5 samples 30 ms apart)
    spike = false;
    await new Promise((r) => setTimeout(r, 300));
    const after = sync.stateOf('speaker')!;
    sync.close();
    expect(after.adjustments).toBe(before.adjustments);
    expect(targets()).toEqual(targetsBefore);
  });
});
