/**
 * The dub, end to end in Debian Chromium: a browser participant speaks (camera and microphone are a real clip of
 * English speech, through Chromium's fake capture), a second browser participant chooses Spanish for them on the demo
 * page. The SFU starts the (speaker, es) pipeline: tap -> TranscodingProcessor -> lip-sync engine driven by the
 * embedded translator's speech through the DubTimeline. Checked on what the listener's browser decodes and plays:
 * - the view switches to the dubbed tracks (demo badge, swap of the visible <video>) with no blank frame;
 * - upper face of dubbed frames matches the original (best match in a library of original frames grabbed first),
 *   while the mouth region differs, compared with the same measure on original frames (the control);
 * - the dubbed audio plays (audio energy grows; the translator produced speech segments);
 * - the audio-video offset of the listener's playout stays within +/-40 ms;
 * - turning dubbing off brings the original back (mouth matches again).
 * Screenshots and frames go to artifacts/e2e/.
 */
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dubManagerFactory, type DubManager } from '../../src/sfu/dub/index.ts';
import type { DubLipSyncState } from '../../src/client-sdk/browser/DubLipSync.ts';
import type { LipsyncServer } from '../../src/sfu/index.ts';
import {
  artifactPath,
  chromiumAvailable,
  clip,
  launchBrowser,
  makeFakeMedia,
  openDemo,
  removeFakeMedia,
  startDemoServer,
  until,
  type FakeMedia,
} from './browser.ts';
import { avOffsets, grabFrames, type AvOffsets, inboundStats, playoutStats, tiles } from './inpage.ts';

const SIZE = 96;
/** Regions of the sadtalker_WDA_AOC_000 framing (square crop), as fractions: [x0, y0, x1, y1]. */
const UPPER: Region = [0.32, 0.26, 0.78, 0.5];
const MOUTH: Region = [0.42, 0.62, 0.7, 0.8];
type Region = [number, number, number, number];

function mse(a: number[], b: number[], [x0, y0, x1, y1]: Region): number {
  let sum = 0;
  let n = 0;
  for (let y = Math.floor(y0 * SIZE); y < Math.ceil(y1 * SIZE); y++) {
    for (let x = Math.floor(x0 * SIZE); x < Math.ceil(x1 * SIZE); x++) {
      const d = a[y * SIZE + x]! - b[y * SIZE + x]!;
      sum += d * d;
      n++;
    }
  }
  return sum / n;
}

const psnr = (m: number) => 10 * Math.log10((255 * 255) / Math.max(m, 1e-6));
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

/** A frame moved right by dx pixels (edge pixels repeated). */
function shifted(f: number[], dx: number): number[] {
  const out = new Array<number>(f.length);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) out[y * SIZE + x] = f[y * SIZE + Math.max(0, Math.min(SIZE - 1, x - dx))]!;
  }
  return out;
}

/**
 * For each probe frame: PSNR of the upper face and of the mouth against the library frame whose upper face is
 * closest. With `dx`, the library frames are moved sideways first: the same face, misregistered (a negative control).
 */
function compare(probes: number[][], library: number[][], dx = 0): { upper: number; mouth: number }[] {
  const lib = dx ? library.map((l) => shifted(l, dx)) : library;
  return probes.map((p) => {
    let best = lib[0]!;
    let bestMse = Infinity;
    for (const l of lib) {
      const m = mse(p, l, UPPER);
      if (m < bestMse) {
        bestMse = m;
        best = l;
      }
    }
    return { upper: psnr(bestMse), mouth: psnr(mse(p, best, MOUTH)) };
  });
}

function savePng(name: string, dataUrl: string): void {
  writeFileSync(artifactPath(name), Buffer.from(dataUrl.replace(/^data:image\/png;base64,/, ''), 'base64'));
}

async function dubStats(page: Page): Promise<{ segments: number; fps: number; delayMs: number } | undefined> {
  return page.evaluate(() => {
    type T = { stats?: { segments: number; fps: number; delayMs: number } };
    return (window as unknown as { demo: { tiles: Map<string, T> } }).demo.tiles.get('speaker')?.stats;
  });
}

/** The state of the demo page's DubLipSync for the speaker (see DubLipSyncState); null when the page runs none. */
function lipSyncState(page: Page): Promise<DubLipSyncState | null> {
  return page.evaluate(() => {
    type S = DubLipSyncState;
    const demo = (window as unknown as { demo: { lipSync?: { stateOf(p: string): S | undefined } } }).demo;
    return demo.lipSync?.stateOf('speaker') ?? null;
  });
}

/** The listener's A/V offsets measured by the first case (after Chromium's sync settled), for the A/V case. */
let av: { offsets: number[]; settled: boolean } | null = null;

describe.skipIf(!chromiumAvailable())('browser e2e: the listener chooses Spanish', () => {
  let server: LipsyncServer;
  let media: FakeMedia;
  const browsers: Browser[] = [];

  // Stalls of the server's event loop (where the SFU, the tap and the dub's audio run) show in the report.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  let dubChosenAt = performance.now();

  beforeAll(async () => {
    media = makeFakeMedia(clip('sadtalker_WDA_AOC_000.mp4'), { seconds: 8, size: 320 });
    server = await startDemoServer({
      tapSettleMs: 100,
      dubs: dubManagerFactory({
        offers: [{ language: 'es', source: 'embedded' }],
        stage: 'lipsync',
        timelineDelayMs: 1500,
        statsIntervalMs: 500,
      }),
    });
  });

  afterAll(async () => {
    for (const b of browsers) await b.close().catch(() => {});
    server?.close();
    removeFakeMedia(media);
  });

  it('switches to dubbed audio and lip-synced video and back', { timeout: 300_000 }, async () => {
    const room = 'e2e-dub';
    const speakerBrowser = await launchBrowser(media);
    const listenerBrowser = await launchBrowser();
    browsers.push(speakerBrowser, listenerBrowser);
    await openDemo(speakerBrowser, server.httpUrl, { room, peer: 'speaker', autojoin: '1' });
    const { page, consoleErrors } = await openDemo(listenerBrowser, server.httpUrl, {
      room,
      peer: 'listener',
      autojoin: '1',
      publish: '0',
      subscribe: 'original',
      // LIPSYNC_E2E_LIPSYNC=0: the browser's own A/V sync alone (diagnosis).
      ...(process.env.LIPSYNC_E2E_LIPSYNC === '0' ? { lipsync: '0' } : {}),
    });
    await until(
      'the original tile',
      async () => (await tiles(page)).find((t) => t.peerId === 'speaker' && t.videoWidth > 0),
      40_000,
    );
    expect(await page.locator('#languages').textContent()).toBe('es (embedded)');

    // A library of original frames covering one loop of the clip, every frame the page shows (25 fps), then control
    // probes. (Every other frame, 80 ms apart, was too sparse when the speaker's browser sends fewer frames under
    // load: the probes' mouths then sat between library frames, one CI run read the control's mouth at 26 dB against
    // its upper face's 37, and the dubbed-vs-control check failed on the control.)
    const library = await grabFrames(page, 'speaker', { count: 200, intervalMs: 40, size: SIZE });
    const control = await grabFrames(page, 'speaker', { count: 20, intervalMs: 150, size: SIZE });
    savePng('original-frame.png', control.png);
    writeFileSync(artifactPath('listener-original.png'), await page.screenshot());
    const controlCmp = compare(control.frames, library.frames);

    // Choose Spanish on the page (as a user would with the tile's select).
    const t0 = Date.now();
    dubChosenAt = performance.now();
    loopDelay.reset();
    await page.evaluate(() =>
      (window as unknown as { demo: { setDub(p: string, l: string): Promise<unknown> } }).demo.setDub('speaker', 'es'),
    );
    const dubbedTile = await until(
      'the dubbed view',
      async () => (await tiles(page)).find((t) => t.peerId === 'speaker' && t.language === 'es' && t.swaps.length >= 2),
      60_000,
    );
    const switchMs = Date.now() - t0;
    expect(dubbedTile.hasAudio && dubbedTile.hasVideo).toBe(true);
    expect(await page.locator('.tile[data-peer="speaker"] .badge').textContent()).toBe('dubbed: es');

    // Let the engine learn and the translator produce speech; measure once the face stage has rendered frames for
    // a while (warm-up of the engine's worker on a loaded machine).
    const stats = await until(
      'a dubbed speech segment and rendered frames',
      async () => {
        const s = (await dubStats(page)) as (Awaited<ReturnType<typeof dubStats>> & { framesOut?: number }) | undefined;
        return s && s.segments > 0 && (s.framesOut ?? 0) >= 100 && s.fps >= 10 ? s : null;
      },
      90_000,
    );
    await new Promise((r) => setTimeout(r, 2000));
    const phases: Record<string, number> = { switched: switchMs };
    const mark = (name: string) => (phases[name] = Math.round(performance.now() - dubChosenAt));
    const pipeline = (server.rooms.get(room)!.dubs as DubManager).pipelines[0]!;
    // Lip sync of the listener's playout. Right after the switch Chromium's A/V sync is still converging (it moves
    // the streams' playout delays by at most ~80 ms a second; measured -200 ms closing at ~15 ms/s), so wait until the
    // offset has stopped moving (last 14 readings, 0.5 s apart: slope under 5 ms/s, range under 40 ms; at most 40 s),
    // then take the readings that are asserted. Where it settles is not part of the wait.
    const offsets: number[] = [];
    const playout: Awaited<ReturnType<typeof playoutStats>>[] = [];
    const settleStart = Date.now();
    mark('avStart');
    const recent: number[] = [];
    const settled = (xs: number[]) => {
      const n = xs.length;
      const mx = (n - 1) / 2;
      const my = xs.reduce((a, b) => a + b, 0) / n;
      let num = 0;
      let den = 0;
      xs.forEach((y, i) => {
        num += (i - mx) * (y - my);
        den += (i - mx) ** 2;
      });
      const slopePerS = (num / den) * 2; // readings 0.5 s apart
      return Math.abs(slopePerS) < 5 && Math.max(...xs) - Math.min(...xs) <= 40;
    };
    // The demo page runs the SDK's DubLipSync, which keeps the dubbed audio and video in sync (its default `own`
    // mode): settled means steady over the last 14 readings with no adjustment of 5 ms or more among them.
    const trims: number[] = [];
    const lipSyncStatuses: string[] = [];
    await avOffsets(page, 'speaker'); // installs the frame callbacks
    const displayedWhileSettling: number[] = [];
    const playoutWhileSettling: Awaited<ReturnType<typeof playoutStats>>[] = [];
    while (Date.now() - settleStart < 40_000) {
      const { offsetMs: o, displayed: d } = await avOffsets(page, 'speaker');
      if (o !== null) {
        recent.push(o);
        const ls = await lipSyncState(page);
        trims.push(ls?.adjustments ?? 0);
        lipSyncStatuses.push(ls?.status ?? 'off');
        if (d) displayedWhileSettling.push(d.offsetMs);
        if (recent.length % 6 === 1) playoutWhileSettling.push(await playoutStats(page, 'speaker'));
      }
      // DubLipSync decides on its own window of readings: settled also needs its latest window to have concluded
      // that nothing is left to correct (in sync, or beyond what it trims), else a correction may land during the readings.
      const lipSyncDone = ['off', 'inSync', 'beyondReach'].includes(lipSyncStatuses.at(-1) ?? 'off');
      if (recent.length >= 14 && settled(recent.slice(-14)) && trims.at(-14) === trims.at(-1) && lipSyncDone) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const avSettleMs = Date.now() - settleStart;
    // Send lag of the first packets of each stream (every 50th, ms): a stream that starts late skews the SFU's first
    // sender reports, which the listener's sync then takes many seconds to unwind.
    const early = pipeline.sendLags();
    const sendLagsEarly = {
      audio: early.audio.filter((_, i) => i % 50 === 0).map(Math.round),
      video: early.video.filter((_, i) => i % 50 === 0).map(Math.round),
    };
    pipeline.resetSendLag();
    const displayed: NonNullable<AvOffsets['displayed']>[] = [];
    // What flowed through the pipeline and reached the listener during the readings (a frozen picture is not in sync).
    const snapshot = async () => ({
      stage: structuredClone(pipeline.stageCounters),
      faceStage: structuredClone(pipeline.faceStageCounters),
      processor: structuredClone(pipeline.processorStats),
      listener: await inboundStats(page, 'speaker'),
    });
    const atReadingsStart = await snapshot();
    for (let i = 0; i < 16; i++) {
      const { offsetMs: o, displayed: d } = await avOffsets(page, 'speaker');
      if (o !== null) offsets.push(o);
      if (d) displayed.push(d);
      if (i % 5 === 0) playout.push(await playoutStats(page, 'speaker'));
      await new Promise((r) => setTimeout(r, 300));
    }
    const atReadingsEnd = await snapshot();
    const health = await dubStats(page);
    const lipSync = await lipSyncState(page);
    mark('avEnd');

    // Images and audio energy of the dubbed view, after the A/V readings so that the test's own frame grabbing (in this
    // process, which hosts the SFU here) does not perturb them.
    mark('grabStart');
    const energy0 = (await inboundStats(page, 'speaker'))!;
    const dubbed = await grabFrames(page, 'speaker', { count: 20, intervalMs: 150, size: SIZE });
    const energy1 = (await inboundStats(page, 'speaker'))!;
    mark('grabEnd');
    savePng('dubbed-frame.png', dubbed.png);
    writeFileSync(artifactPath('listener-dubbed.png'), await page.screenshot());
    mark('screenshotEnd');
    expect(dubbed.language).toBe('es');
    const dubbedCmp = compare(dubbed.frames, library.frames);
    const dubbedShiftedCmp = compare(dubbed.frames, library.frames, 3);
    mark('compareEnd');

    // The synchronization sources give the audio handed to the output device; it is heard the device's playout delay
    // later (RTCAudioPlayoutStats, ~30 ms here), which Chromium's own A/V sync counts on the audio side too.
    const deviceDelayMs = Number(playout.at(-1)?.['audio.devicePlayoutDelay'] ?? 0);
    const heard = offsets.map((o) => o - deviceDelayMs);

    // Back to the original.
    await page.evaluate(() =>
      (window as unknown as { demo: { setDub(p: string, l: null): Promise<unknown> } }).demo.setDub('speaker', null),
    );
    await until(
      'the original view again',
      async () => (await tiles(page)).find((t) => t.peerId === 'speaker' && t.language === null && t.swaps.length >= 3),
      40_000,
    );
    await new Promise((r) => setTimeout(r, 3000));
    const back = await grabFrames(page, 'speaker', { count: 20, intervalMs: 150, size: SIZE });
    const backCmp = compare(back.frames, library.frames);
    writeFileSync(artifactPath('listener-back-to-original.png'), await page.screenshot());

    const m = (c: { upper: number; mouth: number }[], k: 'upper' | 'mouth') => median(c.map((x) => x[k]));
    const report = {
      switchMs,
      stats,
      health,
      energyDelta: energy1.audioEnergy - energy0.audioEnergy,
      control: { upper: m(controlCmp, 'upper'), mouth: m(controlCmp, 'mouth') },
      dubbed: { upper: m(dubbedCmp, 'upper'), mouth: m(dubbedCmp, 'mouth') },
      dubbedVsShiftedLibrary: { upper: m(dubbedShiftedCmp, 'upper') },
      back: { upper: m(backCmp, 'upper'), mouth: m(backCmp, 'mouth') },
      avSettleMs,
      avOffsetsWhileSettling: recent.map((o) => Math.round(o)),
      lipSyncStatusWhileSettling: lipSyncStatuses.join(','),
      lipSync,
      playoutWhileSettling,
      sendLagsEarly,
      eventLoopDelayMs: {
        p50: loopDelay.percentile(50) / 1e6,
        p99: loopDelay.percentile(99) / 1e6,
        max: loopDelay.max / 1e6,
      },
      phases,
      avOffsetMs: offsets.map((o) => Math.round(o)),
      audioDevicePlayoutDelayMs: deviceDelayMs,
      avOffsetHeardMs: heard.map((o) => Math.round(o)),
      // Heard against displayed (requestVideoFrameCallback's expected display time), and how much earlier the
      // synchronization source says the frame was shown.
      avOffsetHeardVsDisplayedMs: displayed.map((d) => Math.round(d.offsetMs - deviceDelayMs)),
      videoHandedBeforeDisplayMs: displayed.map((d) => Math.round(d.videoLeadMs)),
      avOffsetDisplayedWhileSettling: displayedWhileSettling.map((o) => Math.round(o - deviceDelayMs)),
      playout,
      sendLagMs: pipeline.sendLagMs(),
      atReadingsStart,
      atReadingsEnd,
    };
    console.log(`dub e2e: ${JSON.stringify(report)}`);
    writeFileSync(artifactPath('dub-report.json'), JSON.stringify(report, null, 2));
    av = { offsets: heard, settled: avSettleMs < 40_000 };

    // Upper face: the dubbed frame is the speaker's own (pixel-registered with an original frame), mouth: re-rendered.
    // No fixed bound against the control's upper face: the speaker's browser changes its encoding quality over the
    // run (bandwidth ramp, CPU adaptation), so the same original stream measured 33-44 dB at different moments of one
    // run, and the dubbed upper face 26.7-46.9 dB across runs (heavily loaded machine to idle). The negative control
    // is measured on the same dubbed frames: the original frames moved 3 px sideways (the same face, misregistered).
    expect(report.dubbed.upper).toBeGreaterThan(22);
    expect(report.dubbed.upper).toBeGreaterThan(report.dubbedVsShiftedLibrary.upper + 2);
    expect(report.dubbed.mouth).toBeLessThan(report.control.mouth - 3);
    expect(report.dubbed.upper - report.dubbed.mouth).toBeGreaterThan(report.control.upper - report.control.mouth + 3);
    // Dubbed audio plays, and the dubbed picture moved all through the A/V readings (~6 s: 150 frames at 25 fps).
    expect(report.energyDelta).toBeGreaterThan(0);
    expect((atReadingsEnd.listener?.videoFrames ?? 0) - (atReadingsStart.listener?.videoFrames ?? 0)).toBeGreaterThan(
      50,
    );
    // Original back: the mouth matches the original frames again.
    expect(report.back.mouth).toBeGreaterThan(report.dubbed.mouth + 3);
    expect(consoleErrors).toEqual([]);
    // The pipeline stopped with its last listener: no dubbed producer left in the room.
    const dubbedLeft = async () =>
      Promise.resolve([...(server.rooms.get(room)?.producers.values() ?? [])].every((p) => !p.info.language));
    expect(await until('the pipeline to stop', dubbedLeft, 10_000)).toBe(true);
  });

  // The listener's A/V offset: audio heard against the picture handed to the renderer, both mapped through the
  // pipeline's own sender reports (avOffsets), over the 16 readings taken once the view settled. The demo page runs
  // the SDK's DubLipSync in its default `own` mode (docs/client-sdk.md, "Lip sync at the listener").
  it('keeps the dubbed audio and video within +/-40 ms at the listener', () => {
    expect(av).not.toBeNull();
    const { offsets } = av!;
    expect(offsets.length).toBeGreaterThanOrEqual(10);
    // Audio heard vs picture shown (see avOffsetHeardMs in the report).
    expect(Math.abs(median(offsets))).toBeLessThanOrEqual(40);
    expect(Math.max(...offsets.map(Math.abs))).toBeLessThanOrEqual(40);
  });
});
