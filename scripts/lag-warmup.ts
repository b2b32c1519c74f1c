/**
 * Diagnostics for a per-speaker lag: per clip, the generator's fused z (before smoothing) against the observed mouth
 * opening on the warm-up (smoothed track and the tracker's raw landmarks), and on the scored half (landmark level,
 * and the rendered + re-tracked output against the real opening), and the generator's lag estimator (the lag it
 * applied on the scored half). The evaluation's defaults have lag correction on; `--gen '{"lagCorrection":false}'`
 * for without.
 *   npx tsx scripts/lag-warmup.ts [--only sadtalker,vrt] [--gen JSON]
 */
import '../src/polyfills.ts';
import { join, resolve } from 'node:path';
import { readdirSync } from 'node:fs';
import { evaluateClip } from '../src/pipeline/lipsync/eval/runEval.ts';
import { corrAtLag } from '../src/pipeline/lipsync/eval/metrics.ts';
import { mouthOpening } from '../src/pipeline/lipsync/shape.ts';
import { MemoryGenerator } from '../src/pipeline/lipsync/MemoryGenerator.ts';
import type { SpeakerObservation } from '../src/pipeline/lipsync/types.ts';

const onlyArg = process.argv.indexOf('--only');
const only = onlyArg > 0 ? process.argv[onlyArg + 1]!.split(',') : ['sadtalker', 'vrt'];
const genArg = process.argv.indexOf('--gen');
const gen = genArg > 0 ? (JSON.parse(process.argv[genArg + 1]!) as Record<string, unknown>) : {};
const dir = resolve('../shared/clips');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.mp4') && only.some((o) => f.includes(o)))
  .sort();

interface Rec {
  g: MemoryGenerator;
  z: (number | null)[];
  o: (number | null)[];
  raw: (number | null)[];
}
const recs: Rec[] = [];
const recOf = new WeakMap<object, Rec>();
const rec = (g: MemoryGenerator): Rec => {
  let r = recOf.get(g);
  if (!r) {
    r = { g, z: [], o: [], raw: [] };
    recOf.set(g, r);
    recs.push(r);
  }
  return r;
};
type Est = (i: number, mel: Float32Array) => { z: number };
const proto = MemoryGenerator.prototype as unknown as {
  estimate: Est;
  observe: (this: MemoryGenerator, o: SpeakerObservation) => void;
};
const origEst = proto.estimate;
proto.estimate = function (this: MemoryGenerator, i: number, mel: Float32Array) {
  const e = origEst.call(this, i, mel);
  if (!this.meanOnly) rec(this).z[i] ??= e.z;
  return e;
};
const origObs = proto.observe;
proto.observe = function (this: MemoryGenerator, obs: SpeakerObservation) {
  origObs.call(this, obs);
  const r = rec(this);
  r.o[obs.frameIndex] = mouthOpening(obs.mesh);
  r.raw[obs.frameIndex] = obs.rawMesh ? mouthOpening(obs.rawMesh) : null;
};

function curve(real: (number | null)[], g: (number | null)[], from: number, to: number): string {
  const c: string[] = [];
  let best = -9;
  let bl = 0;
  for (let l = -4; l <= 4; l++) {
    const v = corrAtLag(real, g, l, from, to);
    if (v > best) {
      best = v;
      bl = l;
    }
    c.push(v.toFixed(2));
  }
  return `best ${bl * 40} [${c.join(' ')}]`;
}

for (const f of files) {
  recs.length = 0;
  let real: (number | null)[] = [];
  let out: (number | null)[] = [];
  const fig = await evaluateClip(join(dir, f), {
    log: () => {},
    generator: gen,
    onScored: (_c, d) => {
      real = d.real.map((m) => (m ? mouthOpening(m) : null));
      const pred = d.engines['pred'] ?? Object.values(d.engines)[0]!;
      out = pred.meshes.map((m) => (m ? mouthOpening(m) : null));
    },
  });
  const r = recs.find((x) => x.z.length > 0)!;
  const half = fig.frames - fig.scoredFrames;
  const h2 = half >> 1;
  const realAll: (number | null)[] = [];
  real.forEach((v, i) => (realAll[half + i] = v));
  const outAll: (number | null)[] = [];
  out.forEach((v, i) => (outAll[half + i] = v));
  console.log(`${f} (warm-up ${half}, scored ${fig.scoredFrames}): avOffsetMs ${fig.avOffsetMs}`);
  console.log(`  warm-up z~smoothed: ${curve(r.o, r.z, 0, half)}`);
  console.log(`     halves: ${curve(r.o, r.z, 0, h2)} | ${curve(r.o, r.z, h2, half)}`);
  console.log(`  warm-up z~raw:      ${curve(r.raw, r.z, 0, half)}`);
  console.log(`     halves: ${curve(r.raw, r.z, 0, h2)} | ${curve(r.raw, r.z, h2, half)}`);
  console.log(`  scored z~real:      ${curve(realAll, r.z, half, fig.frames)}`);
  console.log(`  scored out~real:    ${curve(realAll, outAll, half, fig.frames)}`);
  const le = r.g.lag?.estimate();
  if (le) console.log(`  applied lag ${r.g.appliedLag.toFixed(2)}`);
  if (le)
    console.log(
      `  estimator: lag ${le.lagFrames.toFixed(2)} (${le.reason}; best ${le.best}, groups ${le.groupBest.join(',')}, pairs ${le.pairs}) [${le.corr.map((v) => v.toFixed(2)).join(' ')}]`,
    );
  console.log(
    `  figures: mouthCorr ${fig.mouthCorr.toFixed(3)} lipLmd ${fig.lipLmd.toFixed(4)} / mean ${fig.lipLmdMean.toFixed(4)} psnrOracle ${fig.psnrOracle.toFixed(2)}`,
  );
}
