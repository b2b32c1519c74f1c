/**
 * End-to-end harness: Debian's Chromium driven by playwright-core, camera and microphone fed from a real clip
 * (converted at test time with ffmpeg to the fake-capture formats: .y4m and .wav), the demo page served by a real
 * LipsyncServer on loopback.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { defaultClipsDir, repoRoot } from '../../src/cli/paths.ts';
import { LipsyncServer, type LipsyncServerOptions } from '../../src/sfu/index.ts';

export const CHROMIUM = process.env.LIPSYNC_CHROMIUM ?? '/usr/bin/chromium';
export const artifactsDir = resolve(repoRoot, 'artifacts', 'e2e');

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM);
}

export function clip(name: string): string {
  return join(defaultClipsDir(), name);
}

export interface FakeMedia {
  dir: string;
  y4m: string;
  wav: string;
  width: number;
  height: number;
  fps: number;
}

/** Converts `seconds` of a clip to the files Chromium's fake capture devices read (it loops them). */
export function makeFakeMedia(
  clipFile: string,
  {
    seconds = 5,
    size = 320,
    fps = 25,
    startS = 0,
  }: { seconds?: number; size?: number; fps?: number; startS?: number } = {},
): FakeMedia {
  const dir = mkdtempSync(join(tmpdir(), 'lipsync-e2e-'));
  const y4m = join(dir, 'camera.y4m');
  const wav = join(dir, 'mic.wav');
  const common = [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-ss',
    String(startS),
    '-t',
    String(seconds),
    '-i',
    clipFile,
  ];
  execFileSync('ffmpeg', [
    ...common,
    '-an',
    '-vf',
    `fps=${fps},scale=${size}:${size}:force_original_aspect_ratio=increase,crop=${size}:${size},format=yuv420p`,
    '-f',
    'yuv4mpegpipe',
    y4m,
  ]);
  execFileSync('ffmpeg', [...common, '-vn', '-ac', '1', '-ar', '48000', '-c:a', 'pcm_s16le', wav]);
  return { dir, y4m, wav, width: size, height: size, fps };
}

export function removeFakeMedia(media: FakeMedia | undefined): void {
  if (media) rmSync(media.dir, { recursive: true, force: true });
}

/** One Chromium process (each participant its own: fake-capture files are per process). */
export async function launchBrowser(media?: FakeMedia): Promise<Browser> {
  const args = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--autoplay-policy=no-user-gesture-required',
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    // Background tabs of a headless browser must not be throttled: both peers render and decode all along.
    '--disable-background-timer-throttling',
    '--disable-renderer-backgrounding',
    '--disable-backgrounding-occluded-windows',
  ];
  if (media) {
    args.push(`--use-file-for-fake-video-capture=${media.y4m}`, `--use-file-for-fake-audio-capture=${media.wav}`);
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

/** Opens the demo page; `query` becomes URL parameters (room, peer, autojoin...). Page errors are collected. */
export async function openDemo(
  browser: Browser,
  baseUrl: string,
  query: Record<string, string>,
): Promise<{ page: Page; consoleErrors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  const consoleErrors: string[] = [];
  page.on('pageerror', (err) => consoleErrors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push(msg.text());
  });
  await page.goto(`${baseUrl}/?${new URLSearchParams(query).toString()}`);
  return { page, consoleErrors };
}

/** Polls `fn` every 200 ms until it returns something truthy, which it returns; throws after `timeoutMs`. */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The server the e2e tests run: one worker on loopback, serving the demo page (tokens minted by the page's server). */
export async function startDemoServer(options: LipsyncServerOptions = {}): Promise<LipsyncServer> {
  return LipsyncServer.start({
    port: 0,
    secret: 'e2e-secret-0123456789abcdef',
    numWorkers: 1,
    demo: true,
    staticDir: await demoStaticDir(),
    ...options,
  });
}

/** Builds the demo bundle (esbuild) as `npm start` does, and returns its folder. */
export async function demoStaticDir(): Promise<string> {
  const step = (await import(pathToFileURL(resolve(repoRoot, 'scripts/setup.d/50-demo.mjs')).href)) as {
    buildDemo(root: string): Promise<string>;
  };
  return step.buildDemo(repoRoot);
}

export function artifactPath(name: string): string {
  mkdirSync(artifactsDir, { recursive: true });
  return join(artifactsDir, name);
}
