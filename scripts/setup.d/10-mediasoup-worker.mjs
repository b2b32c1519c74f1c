// Builds mediasoup-worker from the sources in node_modules/mediasoup/worker against Debian's libraries (the npm
// package's own postinstall would download a prebuilt binary from GitHub or pip-install a build tool; neither is
// reachable here, so .npmrc makes it skip). See docs/install.md.
//
// - The sources are copied to .cache/mediasoup-worker/<version>/src (node_modules is never patched in place), the
//   small patches of scripts/mediasoup-worker/recipe.mjs are applied, and each meson wrap subproject is replaced by
//   a stand-in from scripts/mediasoup-worker/subprojects/ that calls dependency() on the Debian library.
// - The binary is cached as .cache/mediasoup-worker/<version>/mediasoup-worker, keyed by the mediasoup version and a
//   hash of scripts/mediasoup-worker/** (shims, patches, meson arguments), then copied to node_modules/mediasoup/worker/out/Release/,
//   the path mediasoup uses by default (no MEDIASOUP_WORKER_BIN needed at run time).
// - A lock directory serialises concurrent runs (several `npm test` in one checkout): the second waits, then finds
//   the binary ready.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const name = 'mediasoup-worker';

export const aptPackages = [
  'build-essential',
  'meson',
  'ninja-build',
  'pkg-config',
  'libuv1-dev',
  'libssl-dev',
  'libsrtp2-dev',
  'libusrsctp-dev',
  'libabsl-dev',
  'libflatbuffers-dev',
  'flatbuffers-compiler',
];

const here = dirname(fileURLToPath(import.meta.url));
const shimRoot = join(here, '..', 'mediasoup-worker');

function listFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(p));
    else out.push(p);
  }
  return out.sort();
}

/** Hash of everything that decides the binary besides the mediasoup version: scripts/mediasoup-worker/**. */
function recipeHash() {
  const h = createHash('sha256');
  for (const f of listFiles(shimRoot)) {
    h.update(relative(shimRoot, f));
    h.update('\0');
    h.update(readFileSync(f));
    h.update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

function paths(root) {
  const pkgDir = join(root, 'node_modules', 'mediasoup');
  const version = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).version;
  const cacheDir = join(root, '.cache', 'mediasoup-worker', version);
  return {
    version,
    upstream: join(pkgDir, 'worker'),
    installed: join(pkgDir, 'worker', 'out', 'Release', 'mediasoup-worker'),
    installedKeyFile: join(pkgDir, 'worker', 'out', 'Release', 'mediasoup-worker.lipsync-key'),
    cacheDir,
    cached: join(cacheDir, 'mediasoup-worker'),
    keyFile: join(cacheDir, 'key'),
    srcDir: join(cacheDir, 'src'),
    buildDir: join(cacheDir, 'build'),
    lockDir: join(cacheDir, 'lock'),
  };
}

function readText(file) {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

function cacheValid(p, key) {
  return existsSync(p.cached) && readText(p.keyFile) === key;
}

function installedValid(p, key) {
  return existsSync(p.installed) && readText(p.installedKeyFile) === key;
}

/** Quick: the cached binary and the installed copy both carry the key of the current version and recipe. */
export function isReady({ root }) {
  const p = paths(root);
  const key = `${p.version}-${recipeHash()}`;
  return cacheValid(p, key) && installedValid(p, key);
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

async function withLock(lockDir, log, fn) {
  mkdirSync(dirname(lockDir), { recursive: true });
  let announced = false;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      const pid = Number(readText(join(lockDir, 'pid')));
      if (pid && !pidAlive(pid)) {
        log(`removing stale lock of process ${pid}`);
        rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (!announced) log(`another set-up (pid ${pid || '?'}) is building the worker; waiting for it`);
      announced = true;
      await sleep(2000);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

/** Runs a command; output goes to onLine (line by line) and is kept so that a failure can show its tail. */
function runCommand(cmd, args, { cwd, onLine }) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail = [];
    let pending = '';
    const take = (chunk) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        tail.push(line);
        if (tail.length > 60) tail.shift();
        onLine?.(line);
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', reject);
    child.on('close', (code) => {
      if (pending) tail.push(pending);
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${args.join(' ')} failed (exit ${code}):\n${tail.join('\n')}`));
    });
  });
}

function applyPatches(srcDir, patches, log) {
  for (const { file, find, replace, why } of patches) {
    const f = join(srcDir, file);
    const text = readFileSync(f, 'utf8');
    const count = text.split(find).length - 1;
    if (count !== 1) {
      throw new Error(
        `mediasoup-worker patch does not apply: expected exactly one occurrence in ${file} of\n  ${find}\n` +
          `found ${count}. Review scripts/mediasoup-worker/recipe.mjs for this mediasoup version.`,
      );
    }
    writeFileSync(f, text.replace(find, replace));
    log(`patched ${file}: ${why.split(';')[0]}`);
  }
}

/** Replaces each meson wrap by the stand-in folder of the same name, placed under the wrap's `directory`. */
function installShims(srcDir, unusedWraps, log) {
  const subDir = join(srcDir, 'subprojects');
  const shims = [];
  for (const wrap of readdirSync(subDir).filter((f) => f.endsWith('.wrap'))) {
    const wrapName = wrap.slice(0, -'.wrap'.length);
    if (unusedWraps.includes(wrapName)) continue;
    const directory = /^directory\s*=\s*(\S+)\s*$/m.exec(readFileSync(join(subDir, wrap), 'utf8'))?.[1];
    const shim = join(shimRoot, 'subprojects', wrapName);
    if (!directory) throw new Error(`${wrap}: no "directory =" line`);
    if (!existsSync(shim)) {
      throw new Error(
        `mediasoup's worker needs subproject "${wrapName}" (${wrap}) and scripts/mediasoup-worker/subprojects/` +
          `${wrapName} has no stand-in for it`,
      );
    }
    cpSync(shim, join(subDir, directory), { recursive: true });
    shims.push(wrapName);
  }
  log(`subprojects from Debian libraries: ${shims.join(', ')}`);
}

async function build(p, key, log) {
  const { patches, mesonArgs, unusedWraps } = await import(pathToFileURL(join(shimRoot, 'recipe.mjs')).href);

  // Reuse a patched copy and build folder of the same key (an interrupted build resumes); otherwise start over.
  const srcKey = join(p.srcDir, '.lipsync-key');
  if (readText(srcKey) !== key) {
    rmSync(p.srcDir, { recursive: true, force: true });
    rmSync(p.buildDir, { recursive: true, force: true });
    log(`copying worker sources of mediasoup ${p.version} to ${relative(process.cwd(), p.srcDir) || p.srcDir}`);
    cpSync(p.upstream, p.srcDir, {
      recursive: true,
      filter: (src) => relative(p.upstream, src) !== 'out',
    });
    applyPatches(p.srcDir, patches, log);
    installShims(p.srcDir, unusedWraps, log);
    writeFileSync(srcKey, `${key}\n`);
  }

  if (!existsSync(join(p.buildDir, 'build.ninja'))) {
    rmSync(p.buildDir, { recursive: true, force: true });
    log(`meson setup ${mesonArgs.join(' ')}`);
    await runCommand('meson', ['setup', ...mesonArgs, p.buildDir, p.srcDir], { cwd: p.srcDir });
  }

  const started = Date.now();
  let lastShown = 0;
  const ninja = async (target) => {
    await runCommand('ninja', ['-C', p.buildDir, '-j2', target], {
      cwd: p.srcDir,
      onLine: (line) => {
        const m = /^\[(\d+)\/(\d+)\]/.exec(line);
        if (!m) return;
        const [done, total] = [Number(m[1]), Number(m[2])];
        if (Date.now() - lastShown > 15000 || done === total) {
          lastShown = Date.now();
          log(`ninja ${target}: ${done}/${total} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
        }
      },
    });
  };
  log('generating flatbuffers headers (ninja fbs/FBS)');
  await ninja('fbs/FBS');
  log('compiling (ninja -j2 mediasoup-worker; about 3 min on 2 idle cores)');
  await ninja('mediasoup-worker');

  const built = join(p.buildDir, 'mediasoup-worker');
  const tmp = `${p.cached}.tmp-${process.pid}`;
  copyFileSync(built, tmp);
  chmodSync(tmp, 0o755);
  renameSync(tmp, p.cached);
  writeFileSync(p.keyFile, `${key}\n`);
  log(`built in ${((Date.now() - started) / 1000).toFixed(0)} s: ${p.cached}`);
}

/** Copies through a temporary file and a rename, so that a worker running the old binary is not disturbed. */
function install(p, key, log) {
  mkdirSync(dirname(p.installed), { recursive: true });
  const tmp = `${p.installed}.tmp-${process.pid}`;
  copyFileSync(p.cached, tmp);
  chmodSync(tmp, 0o755);
  renameSync(tmp, p.installed);
  writeFileSync(p.installedKeyFile, `${key}\n`);
  log(`installed ${relative(process.cwd(), p.installed) || p.installed}`);
}

export async function run({ root, log }) {
  const p = paths(root);
  const key = `${p.version}-${recipeHash()}`;
  await withLock(p.lockDir, log, async () => {
    if (cacheValid(p, key)) {
      log(`cached worker for mediasoup ${p.version} (${key}) found`);
    } else {
      log(`building mediasoup-worker ${p.version} (${key}) from Debian libraries`);
      await build(p, key, log);
    }
    if (installedValid(p, key)) log('installed worker is up to date');
    else install(p, key, log);
  });
}
