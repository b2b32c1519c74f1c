// OPT-IN (LIPSYNC_CUDA=1): the CUDA execution provider for onnxruntime-node. Does nothing by default.
//
// onnxruntime-node 1.29.0 bundles only the CPU and WebGPU providers (its own installer would fetch CUDA binaries
// from nuget, which .npmrc disables). The npm package com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 (MIT) carries
// libonnxruntime_providers_cuda.so + libonnxruntime_providers_shared.so built for onnxruntime 1.29.0 and CUDA 13.
// With LIPSYNC_CUDA=1 this step fetches that one package with the ordinary npm client (`npm pack`, npm registry
// only), and copies the two provider libraries into onnxruntime-node's bin folder. Nothing else is fetched: CUDA 13
// (libcublasLt.so.13, libcublas.so.13, libcurand.so.10, libcudart.so.13) and cuDNN 9 must already be on the machine
// (LD_LIBRARY_PATH). Without them, LIPSYNC_EP=cuda logs a warning and runs on CPU (src/pipeline/inference).
// The provider is tied to the exact onnxruntime version: the step refuses any onnxruntime-node but 1.29.0.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export const name = 'onnxruntime-cuda';
export const aptPackages = [];

const PKG = 'com.github.asus4.onnxruntime.linux-x64-gpu';
const PKG_VERSION = '0.4.9';
const ORT_VERSION = '1.29.0';
const LIBS = ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so'];

function binDir(root) {
  return (
    process.env.LIPSYNC_ORT_BIN_DIR ?? join(root, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64')
  );
}

export function isReady({ root }) {
  if (process.env.LIPSYNC_CUDA !== '1') return true;
  return LIBS.every((l) => existsSync(join(binDir(root), l)));
}

function findFile(dir, file) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const f = findFile(p, file);
      if (f) return f;
    } else if (e.name === file) return p;
  }
  return null;
}

export async function run({ root, log }) {
  if (process.env.LIPSYNC_CUDA !== '1') {
    log('not requested (set LIPSYNC_CUDA=1 to install the CUDA provider libraries); CPU/WebGPU only');
    return;
  }
  const ortPkg = JSON.parse(readFileSync(join(root, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8'));
  if (ortPkg.version !== ORT_VERSION) {
    throw new Error(
      `${PKG}@${PKG_VERSION} is built for onnxruntime ${ORT_VERSION}; onnxruntime-node is ${ortPkg.version}`,
    );
  }
  const dest = binDir(root);
  if (LIBS.every((l) => existsSync(join(dest, l)))) {
    log(`CUDA provider libraries already in ${dest}`);
    return;
  }
  const cache = join(root, '.cache', 'onnxruntime-cuda', PKG_VERSION);
  const unpacked = join(cache, 'package');
  if (!existsSync(join(unpacked, 'package.json'))) {
    rmSync(cache, { recursive: true, force: true });
    mkdirSync(cache, { recursive: true });
    log(`npm pack ${PKG}@${PKG_VERSION} (npm registry)`);
    const tgz = execFileSync('npm', ['pack', `${PKG}@${PKG_VERSION}`, '--silent', '--pack-destination', cache], {
      cwd: cache,
      encoding: 'utf8',
    })
      .trim()
      .split('\n')
      .pop();
    execFileSync('tar', ['-xzf', join(cache, tgz), '-C', cache]);
    rmSync(join(cache, tgz), { force: true });
  }
  mkdirSync(dest, { recursive: true });
  for (const lib of LIBS) {
    const src = findFile(unpacked, lib);
    if (!src) throw new Error(`${PKG}@${PKG_VERSION} has no ${lib}`);
    copyFileSync(src, join(dest, lib));
    log(`copied ${lib} -> ${dest}`);
  }
  log('CUDA provider installed; it still needs CUDA 13 + cuDNN 9 libraries on LD_LIBRARY_PATH at run time');
}
