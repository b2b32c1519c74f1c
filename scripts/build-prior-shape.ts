/**
 * Landmark-level experiments on the memory generator's mouth shape (before rendering), on the dumps of
 * `lipsync eval --dump-tracks DIR`: per close-up clip, the first half is observed, the second half predicted from the
 * clip's own audio with the shipped fusion (prior fold without the clip + phones), and the lip error of several shape
 * models / smoothings / lags is reported, with settings chosen leave-one-clip-out where a setting is tuned. Also:
 * the warm-up's best lag against the scored half's (can a per-speaker lag be learned live?), pose features (nose tip)
 * with a leak check, and a denoised (top-k PCA modes) memory residual. Phones are cached in .cache/lipsync/phones.
 * Env: WEIGHTS='{"prior":1,"phones":0,"memory":0}' (one source only), MINMEM=N (memory entries before it reads).
 *
 *   node --import tsx scripts/build-prior-shape.ts .cache/lipsync/tracks
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MEL_CHUNK_FRAMES, MelStream } from '../src/pipeline/audio/mel.ts';
import { MemoryGenerator } from '../src/pipeline/lipsync/MemoryGenerator.ts';
import { defaultPriorPath, OpeningPrior, type OpeningPriorFile } from '../src/pipeline/lipsync/OpeningPrior.ts';
import { allphoneAvailable, PhoneTrack, recognizePhones, type PhoneSegment } from '../src/pipeline/lipsync/phones.ts';
import {
  contentFromTemplate,
  contentToTemplate,
  interocular,
  meshToTemplate,
  mouthOpening,
  type Similarity,
} from '../src/pipeline/lipsync/shape.ts';
import { CONTENT_POINTS, LIP_INDICES } from '../src/pipeline/lipsync/types.ts';
import { readTrackDumps } from '../src/pipeline/lipsync/eval/index.ts';
import { corrAtLag, pearson } from '../src/pipeline/lipsync/eval/metrics.ts';

const SHAPE_LEN = CONTENT_POINTS * 2;
const args = process.argv.slice(2);
const dir = resolve(args[0] ?? '.cache/lipsync/tracks');
const priorFile = JSON.parse(readFileSync(defaultPriorPath, 'utf8')) as OpeningPriorFile;
const phoneCache = resolve('.cache/lipsync/phones');
mkdirSync(phoneCache, { recursive: true });

interface ClipRun {
  clip: string;
  /** Warm-up (observed) frames: template-frame shapes and openings. */
  warmShapes: Float32Array[];
  warmOpen: number[];
  /** Pose features (template-frame nose points) of warm-up and scored frames. */
  warmPose: number[][];
  pose: number[][];
  /** Warm-up frames' raw fused z and their real openings (same frames). */
  warmZ: number[];
  warmZOpen: number[];
  /** Scored frames: raw fused z, memory residual shape, real mesh, real template shape, real opening. */
  z: number[];
  mem: (Float32Array | null)[];
  memOpen: number[];
  real: Float32Array[];
  realShape: Float32Array[];
  realOpen: number[];
  sim: Similarity[];
}

/** Template-frame position of the nose tip (1) and pronasale (4): they follow head pitch/yaw, not the mouth. */
const POSE_POINTS = (process.env.POSE_POINTS ?? '1,4').split(',').map(Number);
function poseFeatures(m: Float32Array, s: Similarity): number[] {
  const out: number[] = [];
  for (const i of POSE_POINTS) {
    const x = s.a * m[2 * i]! - s.b * m[2 * i + 1]! + s.tx;
    const y = s.b * m[2 * i]! + s.a * m[2 * i + 1]! + s.ty;
    out.push(x, y);
  }
  return out;
}

const runs: ClipRun[] = [];
for (const t of readTrackDumps(dir, ['latentsync'])) {
  const { audio, meshes } = t;
  const mel = new MelStream({}, 120);
  mel.push(audio);
  const pc = join(phoneCache, `${t.clip}.json`);
  let phones: PhoneSegment[] | null = null;
  if (existsSync(pc)) phones = JSON.parse(readFileSync(pc, 'utf8')) as PhoneSegment[];
  else if (allphoneAvailable()) {
    phones = await recognizePhones(audio);
    writeFileSync(pc, JSON.stringify(phones));
  }
  const gen = new MemoryGenerator({
    prior: OpeningPrior.from(priorFile, t.clip),
    smoothingFrames: 0,
    gain: 1,
    ...(process.env.MINMEM ? { minMemory: Number(process.env.MINMEM) } : {}),
    ...(process.env.WEIGHTS
      ? { weights: JSON.parse(process.env.WEIGHTS) as { prior: number; phones: number; memory: number } }
      : {}),
  });
  if (phones) {
    gen.setPhones(
      new PhoneTrack(
        phones.map((s) => ({ ...s, startMs: s.startMs + t.audioOffsetMs, endMs: s.endMs + t.audioOffsetMs })),
      ),
    );
  }
  const chunk = (i: number) =>
    mel.chunk(
      Math.floor(((i * 1000) / t.fps - t.audioOffsetMs) / 12.5 + 1e-6) + gen.melOffsetFrames,
      new Float32Array(80 * MEL_CHUNK_FRAMES),
    );
  const n = meshes.length;
  const half = Math.floor(n / 2);
  const run: ClipRun = {
    clip: t.clip,
    warmShapes: [],
    warmOpen: [],
    warmPose: [],
    pose: [],
    warmZ: [],
    warmZOpen: [],
    z: [],
    mem: [],
    memOpen: [],
    real: [],
    realShape: [],
    realOpen: [],
    sim: [],
  };
  for (let i = 0; i < half; i++) {
    const m = meshes[i];
    if (!m) continue;
    gen.observe({ frameIndex: i, mel: chunk(i), mesh: m });
    const s = meshToTemplate(m);
    run.warmShapes.push(contentToTemplate(m, s));
    run.warmOpen.push(mouthOpening(m));
    run.warmPose.push(poseFeatures(m, s));
  }
  const est = (
    gen as unknown as {
      estimate(i: number, mel: Float32Array): { z: number; memShape: Float32Array | null; memOpening: number };
    }
  ).estimate.bind(gen);
  // Warm-up frames too (the engine generates them as well): their z against the observed openings.
  for (let i = 0; i < half; i++) {
    const e = est(i, chunk(i));
    const mi = meshes[i];
    if (mi) {
      run.warmZ.push(e.z);
      run.warmZOpen.push(mouthOpening(mi));
    }
  }
  let last = meshes[half - 1]!;
  for (let i = half; i < n; i++) {
    const m = meshes[i] ?? last;
    last = m;
    const e = est(i, chunk(i));
    const s = meshToTemplate(m);
    run.z.push(e.z);
    run.mem.push(e.memShape);
    run.memOpen.push(e.memOpening);
    run.real.push(m);
    run.realShape.push(contentToTemplate(m, s));
    run.realOpen.push(mouthOpening(m));
    run.sim.push(s);
    run.pose.push(poseFeatures(m, s));
  }
  runs.push(run);
  console.error(`[shape] ${t.clip}: warm ${run.warmShapes.length} scored ${run.z.length}`);
}

const avg = (a: readonly number[]) => a.reduce((s, v) => s + v, 0) / a.length;
const sd = (a: readonly number[]) => {
  const m = avg(a);
  return Math.sqrt(a.reduce((s, v) => s + (v - m) ** 2, 0) / a.length);
};

function lipErr(realMesh: Float32Array, shape: Float32Array, t: Similarity): number {
  const c = contentFromTemplate(shape, t);
  let s = 0;
  LIP_INDICES.forEach((idx, j) => {
    s += Math.hypot(c[2 * j]! - realMesh[2 * idx]!, c[2 * j + 1]! - realMesh[2 * idx + 1]!);
  });
  return s / LIP_INDICES.length / interocular(realMesh);
}

/** Linear shape model over the warm-up: mean + slope * (opening - meanO); slopes optionally shrunk. */
function linearModel(r: ClipRun) {
  const m = avg(r.warmOpen);
  const v = r.warmOpen.reduce((s, o) => s + (o - m) ** 2, 0) / r.warmOpen.length;
  const mean = new Float64Array(SHAPE_LEN);
  const slope = new Float64Array(SHAPE_LEN);
  for (const s of r.warmShapes) for (let j = 0; j < SHAPE_LEN; j++) mean[j]! += s[j]! / r.warmShapes.length;
  r.warmShapes.forEach((s, k) => {
    for (let j = 0; j < SHAPE_LEN; j++)
      slope[j]! += ((r.warmOpen[k]! - m) * (s[j]! - mean[j]!)) / r.warmShapes.length / v;
  });
  return { meanO: m, stdO: Math.sqrt(v), mean, slope, minO: Math.min(...r.warmOpen), maxO: Math.max(...r.warmOpen) };
}

interface Variant {
  gain: number;
  sigma: number;
  lag: number;
  residual: number;
  /** Multiplier on the shape slopes (1: regression, 0: only the mean shape). */
  slopeScale: number;
}

function smooth(z: number[], sigma: number): number[] {
  if (sigma <= 0) return z.slice();
  const reach = Math.ceil(2 * sigma);
  return z.map((_, i) => {
    let s = 0;
    let w = 0;
    for (let d = -reach; d <= reach; d++) {
      const v = z[i + d];
      if (v === undefined) continue;
      const ww = Math.exp((-0.5 * d * d) / (sigma * sigma));
      s += ww * v;
      w += ww;
    }
    return s / w;
  });
}

function score(r: ClipRun, v: Variant) {
  const lm = linearModel(r);
  const zs = smooth(r.z, v.sigma);
  const lip: number[] = [];
  const pred: number[] = [];
  const shape = new Float32Array(SHAPE_LEN);
  for (let k = 0; k < r.z.length; k++) {
    const zi = zs[Math.min(zs.length - 1, Math.max(0, k + v.lag))]! * v.gain;
    const o = Math.min(lm.maxO * 1.1, Math.max(lm.minO, lm.meanO + zi * lm.stdO));
    for (let j = 0; j < SHAPE_LEN; j++) shape[j] = lm.mean[j]! + v.slopeScale * lm.slope[j]! * (o - lm.meanO);
    const ms = r.mem[k];
    if (ms && v.residual > 0) {
      for (let j = 0; j < SHAPE_LEN; j++)
        shape[j]! += v.residual * (ms[j]! - (lm.mean[j]! + lm.slope[j]! * (r.memOpen[k]! - lm.meanO)));
    }
    lip.push(lipErr(r.real[k]!, shape, r.sim[k]!));
    pred.push(o);
  }
  return { lip: avg(lip), corr: pearson(r.realOpen, pred), stdRatio: sd(pred) / sd(r.realOpen) };
}

const base: Variant = { gain: 1, sigma: 1, lag: 0, residual: 0.5, slopeScale: 1 };
const show = (name: string, v: Variant) => {
  const s = runs.map((r) => score(r, v));
  console.log(
    `${name.padEnd(34)} lip ${avg(s.map((x) => x.lip)).toFixed(5)} corr ${avg(s.map((x) => x.corr)).toFixed(3)} ` +
      `std ${avg(s.map((x) => x.stdRatio)).toFixed(2)} | ` +
      s.map((x) => x.lip.toFixed(4)).join(' '),
  );
  return s;
};
console.log('# variants (mean over the 7 clips; per clip: lip error)');
show('shipped (residual 0.5, sigma 1)', base);
show('speaker mean mouth', { ...base, gain: 0, residual: 0 });
show('residual 0 (opening mode only)', { ...base, residual: 0 });
for (const g of [0.75, 1.25, 1.5]) show(`gain ${g}`, { ...base, gain: g });
for (const s of [0, 1.5, 2, 3]) show(`smoothing sigma ${s}`, { ...base, sigma: s });
for (const l of [-2, -1, 1, 2]) show(`lag ${l} (z of frame k+lag)`, { ...base, lag: l });
for (const sc of [0.5, 0.75, 1.25]) show(`shape slopes x${sc}`, { ...base, slopeScale: sc });

/** Leave-one-clip-out choice of one setting: per held-out clip, the value with the lowest lip error on the others. */
function loo(name: string, values: number[], make: (v: number) => Variant) {
  const table = values.map((v) => runs.map((r) => score(r, make(v)).lip));
  const held = runs.map((_, c) => {
    let best = 0;
    let bestLip = Infinity;
    values.forEach((_v, i) => {
      const lip = avg(table[i]!.filter((_x, k) => k !== c));
      if (lip < bestLip) [best, bestLip] = [i, lip];
    });
    return { value: values[best]!, lip: table[best]![c]! };
  });
  console.log(
    `loo ${name.padEnd(30)} lip ${avg(held.map((h) => h.lip)).toFixed(5)} | chosen ${held.map((h) => h.value).join(' ')} | ` +
      held.map((h) => h.lip.toFixed(4)).join(' '),
  );
}
console.log('# leave-one-clip-out choices');
loo('smoothing sigma', [0, 1, 1.5, 2, 3], (v) => ({ ...base, sigma: v }));
loo('lag', [-2, -1, 0, 1, 2], (v) => ({ ...base, lag: v }));
loo('residual', [0, 0.25, 0.5, 0.75, 1], (v) => ({ ...base, residual: v }));

console.log('# best lag of the fused z on the warm-up vs on the scored half (corr at lags -4..4)');
for (const r of runs) {
  const lags = [-4, -3, -2, -1, 0, 1, 2, 3, 4];
  const w = lags.map((l) => corrAtLag(r.warmZOpen, smooth(r.warmZ, 1), l));
  const s = lags.map((l) => corrAtLag(r.realOpen, smooth(r.z, 1), l));
  console.log(
    `${r.clip.slice(0, 14).padEnd(15)} warm ${w.map((x) => x.toFixed(2).padStart(5)).join(' ')} | scored ${s.map((x) => x.toFixed(2).padStart(5)).join(' ')}`,
  );
}

/** Solves the small symmetric system a x = b (Gaussian elimination). */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((r, i) => [...r, b[i]!]);
  for (let i = 0; i < n; i++) {
    let p = i;
    for (let k = i + 1; k < n; k++) if (Math.abs(m[k]![i]!) > Math.abs(m[p]![i]!)) p = k;
    [m[i], m[p]] = [m[p]!, m[i]!];
    for (let k = i + 1; k < n; k++) {
      const f = m[k]![i]! / m[i]![i]!;
      for (let j = i; j <= n; j++) m[k]![j]! -= f * m[i]![j]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = m[i]![n]!;
    for (let j = i + 1; j < n; j++) s -= m[i]![j]! * x[j]!;
    x[i] = s / m[i]![i]!;
  }
  return x;
}

/** Shape = mean + B [opening - m, pose - mean pose], B by ridge over the warm-up (lambda relative to the variance). */
function poseScore(r: ClipRun, lambda: number, gain = 1, residual = 0.5, usePose = true) {
  const feats = r.warmOpen.map((o, k) => [o, ...(usePose ? r.warmPose[k]! : [])]);
  const d = feats[0]!.length;
  const fm = Array.from({ length: d }, (_, j) => avg(feats.map((f) => f[j]!)));
  const sm = new Float64Array(SHAPE_LEN);
  for (const s of r.warmShapes) for (let j = 0; j < SHAPE_LEN; j++) sm[j]! += s[j]! / r.warmShapes.length;
  const xtx = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  const xty = Array.from({ length: SHAPE_LEN }, () => new Array<number>(d).fill(0));
  feats.forEach((f, k) => {
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) xtx[i]![j]! += (f[i]! - fm[i]!) * (f[j]! - fm[j]!);
      for (let q = 0; q < SHAPE_LEN; q++) xty[q]![i]! += (f[i]! - fm[i]!) * (r.warmShapes[k]![q]! - sm[q]!);
    }
  });
  for (let i = 0; i < d; i++) xtx[i]![i]! += lambda * xtx[i]![i]! + 1e-9;
  const B = xty.map((row) => solve(xtx, row));
  const lm = linearModel(r);
  const zs = smooth(r.z, 1);
  const lip: number[] = [];
  const shape = new Float32Array(SHAPE_LEN);
  for (let k = 0; k < r.z.length; k++) {
    const o = Math.min(lm.maxO * 1.1, Math.max(lm.minO, lm.meanO + zs[k]! * gain * lm.stdO));
    const f = [o, ...(usePose ? r.pose[k]! : [])];
    for (let q = 0; q < SHAPE_LEN; q++) {
      let v = sm[q]!;
      for (let i = 0; i < d; i++) v += B[q]![i]! * (f[i]! - fm[i]!);
      shape[q] = v;
    }
    const ms = r.mem[k];
    if (ms && residual > 0) {
      for (let j = 0; j < SHAPE_LEN; j++)
        shape[j]! += residual * (ms[j]! - (lm.mean[j]! + lm.slope[j]! * (r.memOpen[k]! - lm.meanO)));
    }
    lip.push(lipErr(r.real[k]!, shape, r.sim[k]!));
  }
  return avg(lip);
}
console.log(
  '# pose features (template-frame nose tip): leak check = corr of their y with the real opening, all frames',
);
for (const r of runs) {
  const ys = [...r.warmPose, ...r.pose].map((p) => p[1]!);
  const op = [...r.warmOpen, ...r.realOpen];
  console.log(`${r.clip.slice(0, 14).padEnd(15)} corr(nose tip y, opening) ${pearson(op, ys).toFixed(2)}`);
}
for (const lambda of [0, 0.1, 0.3, 1]) {
  for (const usePose of [false, true]) {
    const s = runs.map((r) => poseScore(r, lambda, 1, 0.5, usePose));
    const s0 = runs.map((r) => poseScore(r, lambda, 0, 0, usePose));
    console.log(
      `pose=${usePose} lambda ${lambda}: lip ${avg(s).toFixed(5)} (${s.map((x) => x.toFixed(4)).join(' ')}) | gain 0: ${avg(s0).toFixed(5)} (${s0.map((x) => x.toFixed(4)).join(' ')})`,
    );
  }
}

/** Top-k principal directions (power iteration with deflation) of the warm-up residuals beyond the opening. */
function residualModes(r: ClipRun, k: number): Float64Array[] {
  const lm = linearModel(r);
  const res = r.warmShapes.map((s, n) =>
    Float64Array.from(
      { length: SHAPE_LEN },
      (_, j) => s[j]! - lm.mean[j]! - lm.slope[j]! * (r.warmOpen[n]! - lm.meanO),
    ),
  );
  const modes: Float64Array[] = [];
  for (let m = 0; m < k; m++) {
    let v = Float64Array.from({ length: SHAPE_LEN }, (_, j) => Math.sin(j + 1 + m));
    for (let it = 0; it < 100; it++) {
      const nv = new Float64Array(SHAPE_LEN);
      for (const x of res) {
        let dot = 0;
        for (let j = 0; j < SHAPE_LEN; j++) dot += x[j]! * v[j]!;
        for (let j = 0; j < SHAPE_LEN; j++) nv[j]! += dot * x[j]!;
      }
      for (const u of modes) {
        let dot = 0;
        for (let j = 0; j < SHAPE_LEN; j++) dot += nv[j]! * u[j]!;
        for (let j = 0; j < SHAPE_LEN; j++) nv[j]! -= dot * u[j]!;
      }
      const n = Math.hypot(...nv) || 1;
      v = nv.map((x) => x / n);
    }
    modes.push(v);
  }
  return modes;
}
function pcaScore(r: ClipRun, k: number, residual: number) {
  const lm = linearModel(r);
  const modes = residualModes(r, k);
  const zs = smooth(r.z, 1);
  const lip: number[] = [];
  const shape = new Float32Array(SHAPE_LEN);
  for (let n = 0; n < r.z.length; n++) {
    const o = Math.min(lm.maxO * 1.1, Math.max(lm.minO, lm.meanO + zs[n]! * lm.stdO));
    for (let j = 0; j < SHAPE_LEN; j++) shape[j] = lm.mean[j]! + lm.slope[j]! * (o - lm.meanO);
    const ms = r.mem[n];
    if (ms && residual > 0) {
      const d = Float64Array.from(
        { length: SHAPE_LEN },
        (_, j) => ms[j]! - (lm.mean[j]! + lm.slope[j]! * (r.memOpen[n]! - lm.meanO)),
      );
      for (const u of modes) {
        let dot = 0;
        for (let j = 0; j < SHAPE_LEN; j++) dot += d[j]! * u[j]!;
        for (let j = 0; j < SHAPE_LEN; j++) shape[j]! += residual * dot * u[j]!;
      }
    }
    lip.push(lipErr(r.real[n]!, shape, r.sim[n]!));
  }
  return avg(lip);
}
console.log('# memory residual projected on the top-k modes of the warm-up residuals');
for (const k of [1, 2, 3, 5]) {
  for (const res of [0.5, 1]) {
    const s = runs.map((r) => pcaScore(r, k, res));
    console.log(`pca k=${k} residual ${res}: lip ${avg(s).toFixed(5)} (${s.map((x) => x.toFixed(4)).join(' ')})`);
  }
}
