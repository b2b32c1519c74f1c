// Tools of the dub sources (src/pipeline/dub): speech recognition (pocketsphinx), translation (Apertium), synthesis
// (Festival, espeak-ng), and the project's own `espeak-phonemes` program (tools/espeak-phonemes/), compiled here
// with gcc against libespeak-ng-dev into .cache/bin/. The binary is rebuilt only when its source changes (a hash
// stamp next to it), so a second run is instant. pocketsphinx-testdata holds the real read speech the tests use.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const name = 'dub-tools';

export const aptPackages = [
  'pocketsphinx',
  'pocketsphinx-en-us',
  'pocketsphinx-testdata',
  'apertium',
  'apertium-eng-spa',
  'apertium-eng-cat',
  'apertium-fr-es',
  'festival',
  'festvox-us-slt-hts',
  'espeak-ng',
  'libespeak-ng-dev',
  'gcc',
  'libc6-dev',
];

const source = (root) => join(root, 'tools', 'espeak-phonemes', 'espeak-phonemes.c');
const binary = (root) => join(root, '.cache', 'bin', 'espeak-phonemes');
const stamp = (root) => `${binary(root)}.sha256`;
const hash = (root) =>
  createHash('sha256')
    .update(readFileSync(source(root)))
    .digest('hex');

export function isReady({ root }) {
  try {
    return existsSync(binary(root)) && readFileSync(stamp(root), 'utf8').trim() === hash(root);
  } catch {
    return false;
  }
}

export function run({ root, log }) {
  if (isReady({ root })) {
    log('espeak-phonemes up to date');
    return;
  }
  mkdirSync(join(root, '.cache', 'bin'), { recursive: true });
  // Build to a temporary name, then rename: a concurrent reader never sees a half-written binary.
  const tmp = `${binary(root)}.${process.pid}.tmp`;
  execFileSync('gcc', ['-O2', '-Wall', '-o', tmp, source(root), '-lespeak-ng'], { stdio: 'inherit' });
  renameSync(tmp, binary(root));
  writeFileSync(stamp(root), `${hash(root)}\n`);
  log(`built ${binary(root)}`);
}
