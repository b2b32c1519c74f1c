/**
 * The demo page's Interpret box, end to end in Debian Chromium, driven through its controls only (selects and
 * buttons; page state is only read): a speaker publishes a real clip (fake camera + microphone), interpreter `ivan`
 * (token granting French) picks the speaker and French and clicks Start; the listener's page lists French from ivan,
 * the listener chooses it and gets the dubbed view (badge, dubbed audio with energy, dub stats naming ivan). A second
 * interpreter, `maria`, is refused Start (message on her page), clicks "Take over from ivan": the listener's dub goes on
 * (same consumers, same badge, no `dubended`), its stats name maria, the pipeline swapped its source once. Maria clicks
 * Stop: no interpreter is left for French (offered through interpreters only), so the listener's dub ends, the page
 * is back on the original and its tile says why.
 *
 * Kept cheap for a 2-core machine: the face stage is `identity` (no lip-sync engine), no speaker taps, small videos;
 * two Chromium processes (fake capture files are per process): speaker + listener, and the two interpreters, who
 * share one microphone clip (another voice than the speaker's).
 */
import { writeFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dubManagerFactory, type DubManager } from '../../src/sfu/dub/index.ts';
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
import { inboundStats, tiles } from './inpage.ts';

const ROOM = 'e2e-interpret';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const text = async (page: Page, selector: string) => (await page.locator(selector).textContent()) ?? '';

/** What the demo page holds about one speaker's tile: its dub stats and the consumers of its view. */
function tileState(page: Page, peerId: string) {
  return page.evaluate((peerId) => {
    type Demo = {
      log: string[];
      tiles: Map<string, { stats?: { interpreterPeerId?: string; language: string } }>;
      client?: { viewOf(p: string): { audio?: { consumerId: string }; video?: { consumerId: string } } };
    };
    const demo = (window as unknown as { demo: Demo }).demo;
    const view = demo.client?.viewOf(peerId);
    return {
      stats: demo.tiles.get(peerId)?.stats ?? null,
      consumers: `${view?.audio?.consumerId ?? '-'} ${view?.video?.consumerId ?? '-'}`,
      log: demo.log,
    };
  }, peerId);
}

const demoLog = (page: Page) => page.evaluate(() => (window as unknown as { demo: { log: string[] } }).demo.log);

/** The tile's language select: [value, label] of each option. */
const dubOptions = (page: Page) =>
  page
    .locator('.tile[data-peer="speaker"] select option')
    .evaluateAll((os) => os.map((o) => [(o as HTMLOptionElement).value, o.textContent ?? '']));

/** Audio energy the listener received from the speaker's visible (dubbed) audio over `ms`. */
async function energyOver(page: Page, ms: number): Promise<number> {
  const a = await inboundStats(page, 'speaker');
  await sleep(ms);
  const b = await inboundStats(page, 'speaker');
  return (b?.audioEnergy ?? 0) - (a?.audioEnergy ?? 0);
}

describe.skipIf(!chromiumAvailable())("browser e2e: the demo page's Interpret box", () => {
  let server: LipsyncServer;
  let speakerMedia: FakeMedia;
  let interpMedia: FakeMedia;
  const browsers: Browser[] = [];

  beforeAll(async () => {
    speakerMedia = makeFakeMedia(clip('sadtalker_WDA_AOC_000.mp4'), { seconds: 6, size: 160 });
    interpMedia = makeFakeMedia(clip('sadtalker_WDA_KatieHill_000.mp4'), { seconds: 8, size: 96 });
    server = await startDemoServer({
      tap: false,
      dubs: dubManagerFactory({
        offers: [{ language: 'fr', source: 'interpreter' }],
        stage: 'identity',
        timelineDelayMs: 500,
        statsIntervalMs: 500,
      }),
    });
  });

  afterAll(async () => {
    for (const b of browsers) await b.close().catch(() => {});
    server?.close();
    removeFakeMedia(speakerMedia);
    removeFakeMedia(interpMedia);
  });

  it('start, refused start, take over, stop: what the listener sees', { timeout: 120_000 }, async () => {
    const t0 = Date.now();
    const phases: Record<string, number> = {};
    const mark = (name: string) => (phases[name] = Date.now() - t0);
    const [speakerBrowser, interpBrowser] = await Promise.all([
      launchBrowser(speakerMedia),
      launchBrowser(interpMedia),
    ]);
    browsers.push(speakerBrowser, interpBrowser);
    const base = { room: ROOM, autojoin: '1' };
    const [speaker, listener, ivan, maria] = await Promise.all([
      openDemo(speakerBrowser, server.httpUrl, { ...base, peer: 'speaker', subscribe: 'none' }),
      openDemo(speakerBrowser, server.httpUrl, { ...base, peer: 'listener', publish: '0', subscribe: 'original' }),
      openDemo(interpBrowser, server.httpUrl, { ...base, peer: 'ivan', interpret: 'fr', subscribe: 'none' }),
      openDemo(interpBrowser, server.httpUrl, { ...base, peer: 'maria', interpret: 'fr', subscribe: 'none' }),
    ]);
    const pages = { speaker, listener, ivan, maria };
    const L = listener.page;
    try {
      // Everyone in; the interpreters publish their microphones (an interpreter without audio cannot drive a dub).
      for (const p of [ivan.page, maria.page]) {
        await until('an interpreter publishing', async () =>
          (await demoLog(p)).some((l) => l.includes('publishing camera and microphone')),
        );
      }
      await until('the speaker tile with video', async () =>
        (await tiles(L)).find((t) => t.peerId === 'speaker' && t.hasAudio && t.videoWidth > 0),
      );
      mark('joined');
      // French is offered through interpreters only: nobody interprets yet, so the listener cannot choose it.
      expect(await text(L, '#languages')).toBe('fr (interpreter)');
      expect(await dubOptions(L)).toEqual([['', 'original']]);
      expect(await speaker.page.locator('#interpretForm').isHidden()).toBe(true); // no grant, no box

      // 1. Ivan starts interpreting the speaker into French.
      await ivan.page.selectOption('#interpretSpeaker', 'speaker');
      await ivan.page.selectOption('#interpretLanguage', 'fr');
      expect(await ivan.page.locator('#interpretTakeOver').isHidden()).toBe(true); // nobody holds it
      await ivan.page.click('#interpretStart');
      await until(
        'ivan interpreting',
        async () => (await text(ivan.page, '#interpreting')) === 'interpreting: speaker -> fr',
      );
      await until(
        'the listener seeing French from ivan',
        async () => (await text(L, '#languages')) === 'fr (interpreter; interpreters: ivan for speaker)',
      );
      expect(await dubOptions(L)).toEqual([
        ['', 'original'],
        ['fr', 'fr (interpreter ivan)'],
      ]);
      mark('ivanStarted');

      // 2. The listener chooses French for the speaker: the dubbed view, ivan's voice.
      await L.selectOption('.tile[data-peer="speaker"] select', 'fr');
      const dubbedTile = await until('the dubbed view', async () =>
        (await tiles(L)).find((t) => t.peerId === 'speaker' && t.language === 'fr' && t.swaps.length >= 2),
      );
      expect(dubbedTile.hasAudio && dubbedTile.hasVideo).toBe(true);
      expect(await text(L, '.tile[data-peer="speaker"] .badge')).toBe('dubbed: fr');
      await until(
        'dub stats naming ivan',
        async () => (await tileState(L, 'speaker')).stats?.interpreterPeerId === 'ivan',
      );
      mark('dubbed');
      const energyIvan = await energyOver(L, 1500);
      const before = await tileState(L, 'speaker');
      const swapsBefore = dubbedTile.swaps.length;

      // 3. Maria's Start is refused (ivan holds it); she takes over with the button the box offers.
      await maria.page.selectOption('#interpretSpeaker', 'speaker');
      await maria.page.selectOption('#interpretLanguage', 'fr');
      await maria.page.click('#interpretStart');
      const refusal = await until("the refusal on maria's page", async () => text(maria.page, '#status'));
      expect(refusal).toContain('already has an interpreter into fr (ivan)');
      const takeOver = maria.page.locator('#interpretTakeOver');
      expect(await takeOver.isVisible()).toBe(true);
      expect((await takeOver.textContent())?.trim()).toBe('Take over from ivan');
      expect(await text(maria.page, '#interpreting')).toBe('');
      await takeOver.click();
      mark('takeOverClicked');
      await until(
        'maria interpreting',
        async () => (await text(maria.page, '#interpreting')) === 'interpreting: speaker -> fr',
      );
      expect(await text(maria.page, '#status')).toBe(''); // the refusal no longer applies
      await until('the take-over button gone', async () => takeOver.isHidden());
      // Ivan's page: no longer interpreting; the box offers him the relay back.
      await until('ivan relieved', async () => (await text(ivan.page, '#interpreting')) === '');
      expect((await ivan.page.locator('#interpretTakeOver').textContent())?.trim()).toBe('Take over from maria');
      // The listener: the same dub goes on in maria's voice.
      await until(
        'dub stats naming maria',
        async () => (await tileState(L, 'speaker')).stats?.interpreterPeerId === 'maria',
      );
      mark('statsNameMaria');
      await until(
        'the listener seeing French from maria',
        async () => (await text(L, '#languages')) === 'fr (interpreter; interpreters: maria for speaker)',
      );
      const energyMaria = await energyOver(L, 1500);
      const after = await tileState(L, 'speaker');
      expect(after.consumers).toBe(before.consumers);
      expect(after.log.filter((l) => l.includes('ended'))).toEqual([]);
      expect(await text(L, '.tile[data-peer="speaker"] .badge')).toBe('dubbed: fr');
      const tileAfter = (await tiles(L)).find((t) => t.peerId === 'speaker')!;
      expect(tileAfter.language).toBe('fr');
      expect(tileAfter.swaps.length).toBe(swapsBefore);
      const manager = server.rooms.get(ROOM)!.dubs as DubManager;
      expect(manager.pipelines).toHaveLength(1);
      expect(manager.pipelines[0]!.stageCounters?.sourceSwaps).toBe(1);

      // 4. Maria stops: French has no interpreter left, the listener's dub ends and the page says why.
      await maria.page.click('#interpretStop');
      const reason = 'no interpreter for fr any more (interpreter maria stopped interpreting speaker)';
      await until('the original view again', async () =>
        (await tiles(L)).find((t) => t.peerId === 'speaker' && t.language === null && t.swaps.length > swapsBefore),
      );
      mark('backToOriginal');
      expect(await text(L, '.tile[data-peer="speaker"] .badge')).toBe('original');
      expect(await text(L, '.tile[data-peer="speaker"] .health')).toBe(`fr dub ended: ${reason}`);
      expect(await demoLog(L)).toContainEqual(expect.stringContaining(`dub fr of speaker ended: ${reason}`));
      await until('French without interpreters', async () => (await text(L, '#languages')) === 'fr (interpreter)');
      expect(await dubOptions(L)).toEqual([['', 'original']]);
      expect(await L.locator('.tile[data-peer="speaker"] select').inputValue()).toBe('');
      expect(await text(maria.page, '#interpreting')).toBe('');
      await until('the pipeline stopped', () => Promise.resolve(manager.pipelines.length === 0), 10_000);

      writeFileSync(artifactPath('interpret-listener.png'), await L.screenshot());
      const report = { phases, energyIvan, energyMaria, refusal, totalMs: Date.now() - t0 };
      console.log(`interpret e2e: ${JSON.stringify(report)}`);
      // Speech from the interpreters' microphone (the speaker's own voice is not in an interpreter's dub).
      expect(energyIvan).toBeGreaterThan(0.002);
      expect(energyMaria).toBeGreaterThan(0.002);
      for (const [name, p] of Object.entries(pages)) expect([name, p.consoleErrors]).toEqual([name, []]);
    } catch (err) {
      const logs = await Promise.all(
        Object.entries(pages).map(
          async ([name, p]) => `${name}:\n${(await demoLog(p.page).catch(() => [])).join('\n')}`,
        ),
      );
      (err as Error).message += `\npage logs:\n${logs.join('\n')}`;
      throw err;
    }
  });
});
