#!/usr/bin/env node
// Usage: node scripts/lock-add-platform-placeholders.mjs package-lock.json  (run after any `npm install`)
//
// Adds lock entries for rollup's platform packages that the registry reachable here does not serve, so that
// `npm ci` accepts the lock file (it checks every optional dependency is listed; it skips, never fetches, the ones
// whose os/cpu/libc do not match this machine).
import { readFileSync, writeFileSync } from 'node:fs';
const file = process.argv[2];
const lock = JSON.parse(readFileSync(file, 'utf8'));
const pk = lock.packages;
const rollup = pk['node_modules/rollup'];
const platform = (name) => {
  const parts = name.replace('@rollup/rollup-', '').split('-');
  const [os, cpu, abi] = parts;
  const e = { cpu: [cpu === 'arm' ? 'arm' : cpu], os: [os] };
  if (os === 'linux') e.libc = [abi?.startsWith('musl') ? 'musl' : 'glibc'];
  return e;
};
const added = [];
const entries = Object.entries(pk);
const firstRollup = entries.findIndex(([k]) => k.startsWith('node_modules/@rollup/'));
const others = entries.filter(([k]) => !k.startsWith('node_modules/@rollup/'));
const rollups = entries.filter(([k]) => k.startsWith('node_modules/@rollup/'));
for (const [name, version] of Object.entries(rollup.optionalDependencies ?? {})) {
  const key = `node_modules/${name}`;
  if (pk[key]) continue;
  const p = platform(name);
  const entry = { version, cpu: p.cpu, dev: rollup.dev ?? false };
  if (p.libc) entry.libc = p.libc;
  Object.assign(entry, { license: 'MIT', optional: true, os: p.os });
  if (!entry.dev) delete entry.dev;
  rollups.push([key, entry]);
  added.push(name);
}
rollups.sort(([a], [b]) => a.localeCompare(b, 'en'));
others.splice(firstRollup, 0, ...rollups);
lock.packages = Object.fromEntries(others);
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`added ${added.length}: ${added.join(' ')}`);
