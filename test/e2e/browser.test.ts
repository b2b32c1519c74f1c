/**
 * Two participants in Debian Chromium (playwright-core) through the SFU: the speaker's camera and microphone are a
 * real clip (ffmpeg -> .y4m + .wav, Chromium's fake capture), the listener joins the same room on the demo page and
 * must receive decoded, non-black video and audio with energy from the speaker, first the original producers, then
 * the tapped ones (the SFU's identity processor in between).
 */
import { writeFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { grabFrames, inboundStats, tiles } from './inpage.ts';

function meanOf(a: number[]): number {
  return a.reduce((s, v) => s + v, 0) / a.length;
}

describe.skipIf(!chromiumAvailable())('browser e2e: two Chromium peers through the SFU', () => {
  let server: LipsyncServer;
  let media: FakeMedia;
  const browsers: Browser[] = [];

  beforeAll(async () => {
    media = makeFakeMedia(clip('sadtalker_WDA_AOC_000.mp4'), { seconds: 6, size: 320 });
    server = await startDemoServer({
      tapSettleMs: 100,
    });
  });

  afterAll(async () => {
    for (const b of browsers) await b.close().catch(() => {});
    server?.close();
    removeFakeMedia(media);
  });

  for (const subscribe of ['original', 'processed'] as const) {
    it(`listener receives the speaker's ${subscribe} audio and video`, async () => {
      const room = `e2e-${subscribe}`;
      const speakerBrowser = await launchBrowser(media);
      const listenerBrowser = await launchBrowser();
      browsers.push(speakerBrowser, listenerBrowser);
      const speaker = await openDemo(speakerBrowser, server.httpUrl, { room, peer: 'speaker', autojoin: '1' });
      const listener = await openDemo(listenerBrowser, server.httpUrl, {
        room,
        peer: 'listener',
        autojoin: '1',
        publish: '0',
        subscribe,
      });
      const tile = await until(
        'the speaker tile with audio and video',
        async () => {
          const t = (await tiles(listener.page)).find((x) => x.peerId === 'speaker');
          return t && t.hasVideo && t.hasAudio && t.videoWidth > 0 ? t : null;
        },
        40_000,
      ).catch(async (err: Error) => {
        const logs = await listener.page.evaluate(() => (window as unknown as { demo: { log: string[] } }).demo.log);
        const t = await tiles(listener.page);
        throw new Error(`${err.message}\nlistener log:\n${logs.join('\n')}\ntiles: ${JSON.stringify(t)}`);
      });
      expect(tile.videoWidth).toBe(media.width);
      const first = await inboundStats(listener.page, 'speaker');
      await new Promise((r) => setTimeout(r, 2000));
      const second = await inboundStats(listener.page, 'speaker');
      expect(first && second).toBeTruthy();
      const framesPerS = (second!.videoFrames - first!.videoFrames) / 2;
      const audioPacketsPerS = (second!.audioPackets - first!.audioPackets) / 2;
      // The clip is 25 fps and Opus sends 50 packets/s; loaded shared cores may slow decoding, not stop it.
      expect(framesPerS).toBeGreaterThan(8);
      expect(audioPacketsPerS).toBeGreaterThan(30);
      expect(second!.audioEnergy).toBeGreaterThan(first!.audioEnergy);
      const grab = await grabFrames(listener.page, 'speaker', { count: 2, intervalMs: 400 });
      // A face on a flag: neither black nor a flat fake-device pattern.
      const mean = meanOf(grab.frames[0]!);
      expect(mean).toBeGreaterThan(30);
      const sd = Math.sqrt(meanOf(grab.frames[0]!.map((v) => (v - mean) ** 2)));
      expect(sd).toBeGreaterThan(20);
      writeFileSync(artifactPath(`listener-${subscribe}.png`), await listener.page.screenshot());
      expect(speaker.consoleErrors.filter((e) => !e.includes('favicon'))).toEqual([]);
      expect(listener.consoleErrors.filter((e) => !e.includes('favicon'))).toEqual([]);
      await speakerBrowser.close();
      await listenerBrowser.close();
    });
  }
});
