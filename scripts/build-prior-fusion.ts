/**
 * Chooses the memory generator's fusion settings (weights of prior / phones / memory, and the gain on the fused
 * z-score) on the landmark level, with an honest leave-one-clip-out estimate, and writes them into the prior file
 * (`fusion`). Works on the dumps of `lipsync eval --dump-tracks DIR` (real tracking + audio of each close-up clip):
 * per clip, the first half is observed (memory, speaker shape model), the second half generated from the clip's own
 * audio, and the predicted landmarks (before rendering) compared with the tracked ones.
 *
 * For each clip, the weights with the best mean mouth-opening correlation on the OTHER clips are chosen, then the
 * gain on the fused z-score with the lowest mean lip error on the OTHER clips (correlation does not depend on the gain;
 * the L2-optimal gain shrinks the predicted deviation toward the speaker's mean), and scored on the held-out clip:
 * `fusionMetrics.loo*` (with `looStdRatio*`: std of the predicted opening / std of the real one, how much the mouth
 * moves). The shipped configuration is the one chosen on all clips; `gain<g>.*` are the all-clip figures per gain.
 *
 *   node --import tsx scripts/build-prior-fusion.ts .cache/lipsync/tracks [--prior FILE]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { MEL_CHUNK_FRAMES, MelStream } from '../src/pipeline/audio/mel.ts';
import { MemoryGenerator } from '../src/pipeline/lipsync/MemoryGenerator.ts';
import { defaultPriorPath, OpeningPrior, type OpeningPriorFile } from '../src/pipeline/lipsync/OpeningPrior.ts';
import { allphoneAvailable, PhoneTrack, recognizePhones, type PhoneSegment } from '../src/pipeline/lipsync/phones.ts';
import { interocular, mouthOpening } from '../src/pipeline/lipsync/shape.ts';
import { LIP_INDICES } from '../src/pipeline/lipsync/types.ts';
import { readTrackDumps } from '../src/pipeline/lipsync/eval/index.ts';
import { pearson } from '../src/pipeline/lipsync/eval/metrics.ts';

interface Clip {
  clip: string;
  fps: number;
  audioOffsetMs: number;
  meshes: (Float32Array | null)[];
  mel: MelStream;
  phones: PhoneSegment[] | null;
}
interface Config {
  prior: number;
  phones: number;
  memory: number;
  gain: number;
}

const args = process.argv.slice(2);
const dir = resolve(args[0] ?? '.cache/lipsync/tracks');
const pa = args.indexOf('--prior');
const priorPath = pa >= 0 ? resolve(args[pa + 1]!) : defaultPriorPath;
const priorFile = JSON.parse(readFileSync(priorPath, 'utf8')) as OpeningPriorFile & {
  fusion?: Config;
  fusionMetrics?: Record<string, number>;
};

const clips: Clip[] = [];
for (const t of readTrackDumps(dir, ['latentsync'])) {
  const mel = new MelStream({}, 120);
  mel.push(t.audio);
  const phones = allphoneAvailable() ? await recognizePhones(t.audio) : null;
  clips.push({
    clip: t.clip,
    fps: t.fps,
    audioOffsetMs: t.audioOffsetMs,
    meshes: t.meshes,
    mel,
    phones,
  });
  console.error(`[fusion] ${t.clip}: ${t.meshes.length} frames, ${phones?.length ?? 0} phones`);
}

interface Score {
  corr: number;
  lip: number;
  lipMean: number;
  /** std of the predicted opening / std of the real opening over the scored frames (how much the mouth moves). */
  stdRatio: number;
}

const std = (a: number[]) => {
  const m = a.reduce((s, v) => s + v, 0) / a.length;
  return Math.sqrt(a.reduce((s, v) => s + (v - m) ** 2, 0) / a.length);
};

async function scoreClip(c: Clip, cfg: Config): Promise<Score> {
  const prior = OpeningPrior.from(priorFile, c.clip);
  const mk = (meanOnly: boolean) => {
    const g = new MemoryGenerator({
      prior: cfg.prior > 0 ? prior : null,
      weights: { prior: cfg.prior, phones: cfg.phones, memory: cfg.memory },
      gain: cfg.gain,
    });
    g.meanOnly = meanOnly;
    if (c.phones && cfg.phones > 0) {
      g.setPhones(
        new PhoneTrack(
          c.phones.map((s) => ({ ...s, startMs: s.startMs + c.audioOffsetMs, endMs: s.endMs + c.audioOffsetMs })),
        ),
      );
    }
    return g;
  };
  const gen = mk(false);
  const base = mk(true);
  const off = gen.melOffsetFrames;
  const chunk = (i: number) =>
    c.mel.chunk(
      Math.floor(((i * 1000) / c.fps - c.audioOffsetMs) / 12.5 + 1e-6) + off,
      new Float32Array(80 * MEL_CHUNK_FRAMES),
    );
  const n = c.meshes.length;
  const half = Math.floor(n / 2);
  for (let i = 0; i < half; i++) {
    const m = c.meshes[i];
    if (!m) continue;
    gen.observe({ frameIndex: i, mel: chunk(i), mesh: m });
    base.observe({ frameIndex: i, mel: chunk(i), mesh: m });
  }
  const real: number[] = [];
  const pred: number[] = [];
  const lip: number[] = [];
  const lipMean: number[] = [];
  const lipErr = (realMesh: Float32Array, content: Float32Array) => {
    let s = 0;
    LIP_INDICES.forEach((idx, j) => {
      s += Math.hypot(content[2 * j]! - realMesh[2 * idx]!, content[2 * j + 1]! - realMesh[2 * idx + 1]!);
    });
    return s / LIP_INDICES.length / interocular(realMesh);
  };
  for (let i = half; i < n; i++) {
    const m = c.meshes[i];
    if (!m) continue;
    const idx = [i - 2, i - 1, i, i + 1, i + 2].filter((k) => k >= 0 && k < n);
    const frames = idx.map((k) => ({ frameIndex: k, mesh: c.meshes[k] ?? m }));
    const mel = idx.map(chunk);
    const pos = idx.indexOf(i);
    const r = await gen.generate({ frames, mel });
    const b = await base.generate({ frames, mel });
    real.push(mouthOpening(m));
    pred.push(r.openingIod![pos]!);
    lip.push(lipErr(m, r.content[pos]!));
    lipMean.push(lipErr(m, b.content[pos]!));
  }
  const avg = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  return { corr: pearson(real, pred), lip: avg(lip), lipMean: avg(lipMean), stdRatio: std(pred) / std(real) };
}

/** Gains tried on the fused z-score (chosen by held-out lip error; correlation does not depend on it). */
const GAINS = [0.25, 0.5, 0.75, 1, 1.25, 1.5, 2];
const weightConfigs: Config[] = [];
for (const prior of [0, 1])
  for (const phones of [0, 1])
    for (const memory of [0, 0.7])
      if (prior + phones + memory > 0) weightConfigs.push({ prior, phones, memory, gain: 1 });

/** Scores per config (JSON key) and clip, computed on demand (weights at gain 1 first, then gains of chosen weights). */
const table = new Map<string, Map<string, Score>>();
async function row(cfg: Config): Promise<Map<string, Score>> {
  const key = JSON.stringify(cfg);
  let r = table.get(key);
  if (r) return r;
  r = new Map<string, Score>();
  for (const c of clips) r.set(c.clip, await scoreClip(c, cfg));
  table.set(key, r);
  const m = (f: (s: Score) => number) => [...r.values()].reduce((s, v) => s + f(v), 0) / r.size;
  console.error(
    `[fusion] ${key}: corr ${m((s) => s.corr).toFixed(3)} lip ${m((s) => s.lip).toFixed(4)} ` +
      `(mean mouth ${m((s) => s.lipMean).toFixed(4)}) opening std ratio ${m((s) => s.stdRatio).toFixed(3)}`,
  );
  return r;
}

/**
 * Best config on a set of clips: highest mean corr over weight settings (at gain 1), then, for those weights, the
 * gain with the lowest mean lip error on the same clips.
 */
async function choose(on: string[]): Promise<Config> {
  let best: { cfg: Config; corr: number } | null = null;
  for (const cfg of weightConfigs) {
    const r = await row(cfg);
    const corr = on.reduce((s, c) => s + r.get(c)!.corr, 0) / on.length;
    if (!best || corr > best.corr) best = { cfg, corr };
  }
  let bestGain = { gain: 1, lip: Infinity };
  for (const gain of GAINS) {
    const r = await row({ ...best!.cfg, gain });
    const lip = on.reduce((s, c) => s + r.get(c)!.lip, 0) / on.length;
    if (lip < bestGain.lip) bestGain = { gain, lip };
  }
  return { ...best!.cfg, gain: bestGain.gain };
}

const metrics: Record<string, number> = {};
const loo: Score[] = [];
for (const c of clips) {
  const cfg = await choose(clips.filter((o) => o !== c).map((o) => o.clip));
  const s = (await row(cfg)).get(c.clip)!;
  loo.push(s);
  metrics[`looCorr.${c.clip}`] = s.corr;
  metrics[`looLip.${c.clip}`] = s.lip;
  metrics[`looGain.${c.clip}`] = cfg.gain;
  metrics[`looStdRatio.${c.clip}`] = s.stdRatio;
  console.error(
    `[fusion] held out ${c.clip}: ${JSON.stringify(cfg)} corr ${s.corr.toFixed(3)} lip ${s.lip.toFixed(4)} ` +
      `(mean mouth ${s.lipMean.toFixed(4)}) std ratio ${s.stdRatio.toFixed(3)}`,
  );
}
const avg = (f: (s: Score) => number) => loo.reduce((s, v) => s + f(v), 0) / loo.length;
metrics.looCorrMean = avg((s) => s.corr);
metrics.looLipMean = avg((s) => s.lip);
metrics.lipMeanMouth = avg((s) => s.lipMean);
metrics.looStdRatioMean = avg((s) => s.stdRatio);
const fusion = await choose(clips.map((c) => c.clip));
// Per gain, for the shipped weights: the trade-off between lip error and how much the mouth moves.
for (const gain of GAINS) {
  const r = await row({ ...fusion, gain });
  const m = (f: (s: Score) => number) => [...r.values()].reduce((s, v) => s + f(v), 0) / r.size;
  metrics[`gain${gain}.corr`] = m((s) => s.corr);
  metrics[`gain${gain}.lip`] = m((s) => s.lip);
  metrics[`gain${gain}.stdRatio`] = m((s) => s.stdRatio);
  console.error(
    `[fusion] gain ${gain}: corr ${m((s) => s.corr).toFixed(3)} lip ${m((s) => s.lip).toFixed(4)} ` +
      `std ratio ${m((s) => s.stdRatio).toFixed(3)}`,
  );
}
priorFile.fusion = fusion;
priorFile.fusionMetrics = Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, Math.round(v * 1e4) / 1e4]));
writeFileSync(priorPath, JSON.stringify(priorFile) + '\n');
console.error(
  `[fusion] shipped ${JSON.stringify(fusion)}; leave-one-clip-out: corr ${metrics.looCorrMean.toFixed(3)}, ` +
    `lip ${metrics.looLipMean.toFixed(4)} vs mean mouth ${metrics.lipMeanMouth.toFixed(4)}, ` +
    `opening std ratio ${metrics.looStdRatioMean.toFixed(3)}`,
);
