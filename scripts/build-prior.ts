/**
 * Builds the generic prior of the memory generator (models/lipsync/opening-prior.json): ridge regression from the
 * speaker-normalised audio feature of each frame (audioFeatures.ts, chunk offset -5 mel frames) to the
 * speaker-normalised (z-scored) mouth opening measured by the project's tracker.
 *
 * Data: the real tracking + audio of each clip written by `lipsync eval --dump-tracks DIR` (the shared close-up
 * clips; portrait clips are excluded: their lip landmarks are unreliable). Every clip's own speech and face (the
 * own-speaker data of the reconstruction setting). The file also holds, per clip, a model fitted WITHOUT that clip
 * (leave-one-clip-out, lambda chosen by an inner leave-one-clip-out on the remaining clips), so the evaluation of a
 * clip never uses a model that saw it; `metrics` gives the held-out correlation per clip.
 *
 *   node --import tsx scripts/build-prior.ts .cache/lipsync/tracks [--exclude latentsync] [--out FILE]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { logMelBatch } from '../src/pipeline/audio/mel.ts';
import { chunkFeatures, FEATURE_DIM, MEL_BINS, MelNormalizer } from '../src/pipeline/lipsync/audioFeatures.ts';
import { defaultMemoryGeneratorOptions } from '../src/pipeline/lipsync/MemoryGenerator.ts';
import { defaultPriorPath, fitRidge, type OpeningPriorFile } from '../src/pipeline/lipsync/OpeningPrior.ts';
import { mouthOpening } from '../src/pipeline/lipsync/shape.ts';
import { readTrackDumps } from '../src/pipeline/lipsync/eval/index.ts';
import { pearson } from '../src/pipeline/lipsync/eval/metrics.ts';

interface ClipData {
  clip: string;
  x: Float32Array[];
  y: number[];
}

const args = process.argv.slice(2);
const dir = resolve(args[0] ?? '.cache/lipsync/tracks');
const excludeArg = args.indexOf('--exclude');
const exclude = excludeArg >= 0 ? (args[excludeArg + 1] ?? '').split(',') : ['latentsync'];
const outArg = args.indexOf('--out');
const out = outArg >= 0 ? resolve(args[outArg + 1]!) : defaultPriorPath;
const melOffset = defaultMemoryGeneratorOptions.melOffsetFrames;
const LAMBDAS = [1, 3, 10, 30, 100, 300, 1000, 3000, 10000];

const dumps = readTrackDumps(dir, exclude);
if (!dumps.length) throw new Error(`no *.track.json in ${dir}: run lipsync eval --dump-tracks ${dir}`);

const globalSum = new Float64Array(MEL_BINS);
const globalSq = new Float64Array(MEL_BINS);
let globalN = 0;
const clips: ClipData[] = [];
for (const t of dumps) {
  const { mel, frames } = logMelBatch(t.audio);
  // Per-clip CMVN (the runtime's running statistics converge to these).
  const norm = new MelNormalizer(0, 1, 0, Infinity);
  for (let m = 0; m < frames; m++) {
    norm.addFrame(mel, m * MEL_BINS);
    for (let b = 0; b < MEL_BINS; b++) {
      const v = mel[m * MEL_BINS + b]!;
      globalSum[b]! += v;
      globalSq[b]! += v * v;
    }
    globalN++;
  }
  norm.addFrame(mel, 0); // forces a statistics refresh with all frames
  const chunk = new Float32Array(MEL_BINS * 16);
  const x: Float32Array[] = [];
  const open: number[] = [];
  t.meshes.forEach((m, i) => {
    if (!m) return;
    const start = Math.floor(((i * 1000) / t.fps - t.audioOffsetMs) / 12.5 + 1e-6) + melOffset;
    if (start < 0 || start + 16 > frames) return;
    for (let b = 0; b < MEL_BINS; b++)
      for (let k = 0; k < 16; k++) chunk[b * 16 + k] = mel[(start + k) * MEL_BINS + b]!;
    x.push(chunkFeatures(chunk, norm, new Float32Array(FEATURE_DIM)));
    open.push(mouthOpening(m));
  });
  const mu = open.reduce((s, v) => s + v, 0) / open.length;
  const sd = Math.sqrt(open.reduce((s, v) => s + (v - mu) ** 2, 0) / open.length) || 1;
  clips.push({ clip: t.clip, x, y: open.map((v) => (v - mu) / sd) });
  console.error(`[prior] ${t.clip}: ${x.length} frames`);
}

const predictCorr = (w: number[], c: ClipData) =>
  pearson(
    c.y,
    c.x.map((r) => {
      let s = w[FEATURE_DIM]!;
      for (let i = 0; i < FEATURE_DIM; i++) s += w[i]! * r[i]!;
      return s;
    }),
  );

const fit = (set: ClipData[], lambda: number) =>
  fitRidge(
    set.flatMap((c) => c.x),
    set.flatMap((c) => c.y),
    lambda,
  );

/** Lambda by leave-one-clip-out over `set`: mean held-out correlation. */
function chooseLambda(set: ClipData[]): { lambda: number; corr: number } {
  let best = { lambda: LAMBDAS[0]!, corr: -Infinity };
  for (const lambda of LAMBDAS) {
    const corrs = set.map((c) =>
      predictCorr(
        fit(
          set.filter((o) => o !== c),
          lambda,
        ),
        c,
      ),
    );
    const m = corrs.reduce((s, v) => s + v, 0) / corrs.length;
    if (m > best.corr) best = { lambda, corr: m };
  }
  return best;
}

const folds: OpeningPriorFile['folds'] = {};
const metrics: Record<string, number> = {};
for (const c of clips) {
  const rest = clips.filter((o) => o !== c);
  const { lambda } = chooseLambda(rest);
  const w = fit(rest, lambda);
  folds[c.clip] = { w };
  metrics[`heldOutCorr.${c.clip}`] = predictCorr(w, c);
  metrics[`lambda.${c.clip}`] = lambda;
  console.error(`[prior] held out ${c.clip}: lambda ${lambda}, corr ${predictCorr(w, c).toFixed(3)}`);
}
const all = chooseLambda(clips);
const heldOut = clips.map((c) => metrics[`heldOutCorr.${c.clip}`]!);
metrics.heldOutCorrMean = heldOut.reduce((s, v) => s + v, 0) / heldOut.length;
const file: OpeningPriorFile = {
  kind: 'lipsync-opening-ridge',
  version: 1,
  featureDim: FEATURE_DIM,
  melMean: Array.from(globalSum, (s) => s / globalN),
  melStd: Array.from(globalSum, (s, b) => Math.sqrt(Math.max(1e-4, globalSq[b]! / globalN - (s / globalN) ** 2))),
  lambda: all.lambda,
  melOffsetFrames: melOffset,
  model: { w: fit(clips, all.lambda) },
  folds,
  trainedOn: clips.map((c) => c.clip),
  metrics,
};
const round = (v: number) => Math.round(v * 1e6) / 1e6;
file.melMean = file.melMean.map(round);
file.melStd = file.melStd.map(round);
file.model.w = file.model.w.map(round);
for (const k of Object.keys(folds)) folds[k]!.w = folds[k]!.w.map(round);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(file) + '\n');
console.error(`[prior] wrote ${out}: lambda ${all.lambda}, held-out corr mean ${metrics.heldOutCorrMean.toFixed(3)}`);
