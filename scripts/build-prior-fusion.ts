/**
 * Chooses the memory generator's fusion settings (weights of prior / phones / memory, and the gain on the fused
 * z-score) on the landmark level, with an honest leave-one-clip-out estimate, and writes them into the prior file
 * (`fusion`). Works on the dumps of `lipsync eval --dump-tracks DIR` (real tracking + audio of each close-up clip):
 * per clip, the first half is observed (memory, speaker shape model), the second half generated from the clip's own
 * audio, and the predicted landmarks (before rendering) compared with the tracked ones.
 *
 * For each clip, the configuration with the best mean mouth-opening correlation on the OTHER clips is chosen
 * (gain: the lowest lip error on the other clips) and scored on the held-out clip: `fusionMetrics.loo*`. The shipped
 * configuration is the one chosen on all clips.
 *
 *   node --import tsx scripts/build-prior-fusion.ts .cache/lipsync/tracks [--prior FILE]
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MEL_CHUNK_FRAMES, MelStream } from '../src/pipeline/audio/mel.ts';
import { MemoryGenerator } from '../src/pipeline/lipsync/MemoryGenerator.ts';
import { defaultPriorPath, OpeningPrior, type OpeningPriorFile } from '../src/pipeline/lipsync/OpeningPrior.ts';
import { allphoneAvailable, PhoneTrack, recognizePhones, type PhoneSegment } from '../src/pipeline/lipsync/phones.ts';
import { interocular, mouthOpening } from '../src/pipeline/lipsync/shape.ts';
import { LIP_INDICES } from '../src/pipeline/lipsync/types.ts';
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
for (const f of readdirSync(dir)
  .filter((x) => x.endsWith('.track.json') && !x.includes('latentsync'))
  .sort()) {
  const t = JSON.parse(readFileSync(join(dir, f), 'utf8')) as {
    clip: string;
    fps: number;
    audioOffsetMs: number;
    meshes: (number[] | null)[];
  };
  const buf = readFileSync(join(dir, `${t.clip}.f32`));
  const audio = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const mel = new MelStream({}, 120);
  mel.push(audio);
  const phones = allphoneAvailable() ? await recognizePhones(audio) : null;
  clips.push({
    clip: t.clip,
    fps: t.fps,
    audioOffsetMs: t.audioOffsetMs,
    meshes: t.meshes.map((m) => (m ? Float32Array.from(m) : null)),
    mel,
    phones,
  });
  console.error(`[fusion] ${t.clip}: ${t.meshes.length} frames, ${phones?.length ?? 0} phones`);
}

interface Score {
  corr: number;
  lip: number;
  lipMean: number;
}

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
  return { corr: pearson(real, pred), lip: avg(lip), lipMean: avg(lipMean) };
}

const configs: Config[] = [];
for (const prior of [0, 1])
  for (const phones of [0, 1])
    for (const memory of [0, 0.7])
      for (const gain of [0.5, 0.75, 1]) if (prior + phones + memory > 0) configs.push({ prior, phones, memory, gain });

const table = new Map<string, Map<string, Score>>();
for (const cfg of configs) {
  const key = JSON.stringify(cfg);
  const row = new Map<string, Score>();
  for (const c of clips) row.set(c.clip, await scoreClip(c, cfg));
  table.set(key, row);
  const corrs = [...row.values()].map((s) => s.corr);
  console.error(
    `[fusion] ${key}: corr ${(corrs.reduce((s, v) => s + v, 0) / corrs.length).toFixed(3)} lip ${(
      [...row.values()].reduce((s, v) => s + v.lip, 0) / row.size
    ).toFixed(4)} (mean mouth ${([...row.values()].reduce((s, v) => s + v.lipMean, 0) / row.size).toFixed(4)})`,
  );
}

/** Best config on a set of clips: highest mean corr over weight settings, then lowest lip error over gains. */
function choose(on: string[]): Config {
  let best: { cfg: Config; corr: number } | null = null;
  for (const cfg of configs) {
    if (cfg.gain !== 1) continue;
    const row = table.get(JSON.stringify(cfg))!;
    const corr = on.reduce((s, c) => s + row.get(c)!.corr, 0) / on.length;
    if (!best || corr > best.corr) best = { cfg, corr };
  }
  let bestGain = { gain: 1, lip: Infinity };
  for (const gain of [0.5, 0.75, 1]) {
    const row = table.get(JSON.stringify({ ...best!.cfg, gain }))!;
    const lip = on.reduce((s, c) => s + row.get(c)!.lip, 0) / on.length;
    if (lip < bestGain.lip) bestGain = { gain, lip };
  }
  return { ...best!.cfg, gain: bestGain.gain };
}

const metrics: Record<string, number> = {};
const loo: Score[] = [];
for (const c of clips) {
  const cfg = choose(clips.filter((o) => o !== c).map((o) => o.clip));
  const s = table.get(JSON.stringify(cfg))!.get(c.clip)!;
  loo.push(s);
  metrics[`looCorr.${c.clip}`] = s.corr;
  metrics[`looLip.${c.clip}`] = s.lip;
  console.error(
    `[fusion] held out ${c.clip}: ${JSON.stringify(cfg)} corr ${s.corr.toFixed(3)} lip ${s.lip.toFixed(4)}`,
  );
}
const avg = (f: (s: Score) => number) => loo.reduce((s, v) => s + f(v), 0) / loo.length;
metrics.looCorrMean = avg((s) => s.corr);
metrics.looLipMean = avg((s) => s.lip);
metrics.lipMeanMouth = avg((s) => s.lipMean);
const fusion = choose(clips.map((c) => c.clip));
priorFile.fusion = fusion;
priorFile.fusionMetrics = Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, Math.round(v * 1e4) / 1e4]));
writeFileSync(priorPath, JSON.stringify(priorFile) + '\n');
console.error(
  `[fusion] shipped ${JSON.stringify(fusion)}; leave-one-clip-out: corr ${metrics.looCorrMean.toFixed(3)}, ` +
    `lip ${metrics.looLipMean.toFixed(4)} vs mean mouth ${metrics.lipMeanMouth.toFixed(4)}`,
);
