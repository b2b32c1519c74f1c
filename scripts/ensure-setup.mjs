#!/usr/bin/env node
// Run before `npm start` and `npm test`: on a fresh clone it runs `npm ci` (which runs scripts/setup.mjs);
// on a set-up checkout it asks each setup step whether its output is present (`isReady`) and re-runs only
// the steps that are not. Quick when everything is in place.
import { execSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

if (!existsSync(join(root, 'node_modules', '.package-lock.json'))) {
  console.log('[setup] node_modules missing: running npm ci');
  execSync('npm ci', { cwd: root, stdio: 'inherit' });
} else {
  const stepsDir = join(root, 'scripts', 'setup.d');
  const pending = [];
  for (const f of readdirSync(stepsDir)
    .filter((f) => f.endsWith('.mjs'))
    .sort()) {
    const mod = await import(pathToFileURL(join(stepsDir, f)).href);
    if (typeof mod.isReady === 'function' && !(await mod.isReady({ root }))) pending.push(mod.name ?? f);
  }
  if (pending.length) {
    console.log(`[setup] not ready: ${pending.join(', ')}`);
    execSync(`node scripts/setup.mjs ${pending.join(' ')}`, { cwd: root, stdio: 'inherit' });
  }
}
