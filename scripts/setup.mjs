#!/usr/bin/env node
// Project set-up, run by `npm ci` (postinstall) and, when something is missing, by `npm start` / `npm test`.
// Each file in scripts/setup.d/ is one step: it may name Debian packages it needs (`aptPackages`) and do work
// (`run`). Debian packages of all steps are installed first, in one apt-get call, when run as root; otherwise the
// script stops with the exact apt-get line to run. Steps must be idempotent and cached: a second run is quick.
// Nothing here downloads from outside the npm registry and Debian.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stepsDir = join(root, 'scripts', 'setup.d');
const only = process.argv.slice(2);

function log(msg) {
  console.log(`[setup] ${msg}`);
}

function isInstalled(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

async function main() {
  if (process.env.LIPSYNC_SKIP_SETUP === '1') {
    log('LIPSYNC_SKIP_SETUP=1: skipping');
    return;
  }
  const files = readdirSync(stepsDir)
    .filter((f) => f.endsWith('.mjs'))
    .sort();
  const steps = [];
  for (const f of files) {
    const mod = await import(pathToFileURL(join(stepsDir, f)).href);
    const name = mod.name ?? f;
    if (only.length && !only.includes(name)) continue;
    steps.push({ file: f, name, aptPackages: mod.aptPackages ?? [], run: mod.run });
  }

  const wanted = [...new Set(steps.flatMap((s) => s.aptPackages))].sort();
  const missing = wanted.filter((p) => !isInstalled(p));
  if (missing.length) {
    const line = `apt-get update && apt-get install -y --no-install-recommends ${missing.join(' ')}`;
    if (typeof process.getuid === 'function' && process.getuid() === 0) {
      log(`installing Debian packages: ${missing.join(' ')}`);
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
      execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
    } else {
      console.error(`[setup] missing Debian packages. Run as root:\n  ${line}\nthen run npm ci again.`);
      process.exit(1);
    }
  } else if (wanted.length) {
    log(`Debian packages present (${wanted.length})`);
  }

  for (const step of steps) {
    if (typeof step.run !== 'function') continue;
    const started = Date.now();
    log(`${step.name}...`);
    await step.run({ root, log: (m) => log(`${step.name}: ${m}`) });
    log(`${step.name} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}

main().catch((err) => {
  console.error(`[setup] failed: ${err?.stack ?? err}`);
  process.exit(1);
});
