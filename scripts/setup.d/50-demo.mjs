// The demo page served by `npm start`: src/client-sdk/demo/{index.html,main.ts} bundled with esbuild (the browser
// SDK, mediasoup-client and the protocol validators in one ES module) into .cache/demo/. Also Debian's Chromium, which
// the end-to-end tests drive with playwright-core (never a downloaded browser). `lipsync serve` rebuilds the bundle
// when a source is newer (buildDemo), so editing the page needs no manual step.
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const name = 'demo';
export const aptPackages = ['chromium', 'ffmpeg'];

const sourceDirs = ['src/client-sdk/demo', 'src/client-sdk/browser', 'src/client-sdk/core', 'src/protocol'];

function newestSourceMs(root) {
  let newest = 0;
  for (const d of sourceDirs) {
    const dir = join(root, d);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) newest = Math.max(newest, statSync(join(dir, f)).mtimeMs);
  }
  return newest;
}

export function demoDir(root) {
  return join(root, '.cache', 'demo');
}

export async function isReady({ root }) {
  const out = join(demoDir(root), 'main.js');
  const html = join(demoDir(root), 'index.html');
  return existsSync(out) && existsSync(html) && statSync(out).mtimeMs >= newestSourceMs(root);
}

/** Bundles the demo page into .cache/demo when a source is newer than the bundle; returns the folder. */
export async function buildDemo(root, { force = false, log = () => {} } = {}) {
  const dir = demoDir(root);
  if (!force && (await isReady({ root }))) return dir;
  const esbuild = await import('esbuild');
  mkdirSync(dir, { recursive: true });
  const started = Date.now();
  await esbuild.build({
    entryPoints: [join(root, 'src/client-sdk/demo/main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome110', 'firefox115', 'safari16'],
    sourcemap: true,
    outfile: join(dir, 'main.js'),
    logLevel: 'warning',
  });
  copyFileSync(join(root, 'src/client-sdk/demo/index.html'), join(dir, 'index.html'));
  log(`bundled the demo page into ${dir} in ${Date.now() - started} ms`);
  return dir;
}

export async function run({ root, log }) {
  await buildDemo(root, { log });
}
