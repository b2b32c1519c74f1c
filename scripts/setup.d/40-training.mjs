// PyTorch (CPU) for the neural path's Python side: training/ (networks, training loop, ONNX export, IP_LAP
// checkpoint converter) and the tests in test/neural/ that export tiny models and compare PyTorch with onnxruntime.
// Debian bookworm's python3-torch 1.13.1 (CPU) for /usr/bin/python3 (3.11). Measured with apt-get -s on this image:
// 126 packages, about 116 MB to download, about 526 MB installed (mostly libtorch, OpenCV and GDAL libraries pulled
// in by libtorch). Under the 1.5 GB bar, so it installs by default and CI exercises the training loop;
// LIPSYNC_TRAINING=0 leaves it out (the torch-dependent tests then skip with a printed reason).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const name = 'training';

export const aptPackages = process.env.LIPSYNC_TRAINING === '0' ? [] : ['python3-torch', 'python3-numpy'];

function torchVersion() {
  const r = spawnSync('/usr/bin/python3', ['-c', 'import torch, numpy; print(torch.__version__)'], {
    encoding: 'utf8',
  });
  return r.status === 0 ? r.stdout.trim() : null;
}

// Cheap check for `npm test` / `npm start` (importing torch takes seconds): Debian's package files are in place.
export function isReady() {
  if (process.env.LIPSYNC_TRAINING === '0') return true;
  return ['torch/__init__.py', 'numpy/__init__.py'].every((f) => existsSync(`/usr/lib/python3/dist-packages/${f}`));
}

export async function run({ log }) {
  if (process.env.LIPSYNC_TRAINING === '0') {
    log('LIPSYNC_TRAINING=0: PyTorch not installed; tests that need it will skip and say why');
    return;
  }
  const v = torchVersion();
  if (!v) throw new Error('python3-torch is installed but `import torch` fails for /usr/bin/python3');
  log(`PyTorch ${v} (CPU) importable by /usr/bin/python3`);
}
