/**
 * How well each clip's avOffsetMs is determined: the eval's default run (`lipsync eval` defaults), then per clip the
 * correlation of generated and real mouth openings at every lag in +/-200 ms, and the best lag of each half of the
 * scored frames separately. A lag whose correlation is within a few hundredths of its neighbours', or that differs
 * between the halves, is the estimator's noise rather than the generator's timing.
 *   npx tsx scripts/lag-stability.ts [--only sadtalker,vrt]
 */
import '../src/polyfills.ts';
import { join, resolve } from 'node:path';
import { readdirSync } from 'node:fs';
import { evaluateClip } from '../src/pipeline/lipsync/eval/runEval.ts';
import { bestLagMs, corrAtLag } from '../src/pipeline/lipsync/eval/metrics.ts';
import { mouthOpening } from '../src/pipeline/lipsync/shape.ts';

const onlyArg = process.argv.indexOf('--only');
const only = onlyArg > 0 ? process.argv[onlyArg + 1]!.split(',') : ['sadtalker', 'vrt'];
const dir = resolve('../shared/clips');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.mp4') && only.some((o) => f.includes(o)))
  .sort();

function curve(real: (number | null)[], gen: (number | null)[], fps: number): string {
  const parts: string[] = [];
  for (let lag = -5; lag <= 5; lag++) {
    parts.push(`${Math.round((lag * 1000) / fps)}:${corrAtLag(real, gen, lag).toFixed(2)}`);
  }
  return parts.join(' ');
}

for (const f of files) {
  let real: (number | null)[] = [];
  let gen: (number | null)[] = [];
  const fig = await evaluateClip(join(dir, f), {
    log: () => {},
    onScored: (_c, d) => {
      real = d.real.map((m) => (m ? mouthOpening(m) : null));
      const pred = d.engines['pred'] ?? Object.values(d.engines)[0]!;
      gen = pred.meshes.map((m) => (m ? mouthOpening(m) : null));
    },
  });
  const fps = 25;
  const h = Math.floor(real.length / 2);
  const first = bestLagMs(real.slice(0, h), gen.slice(0, h), fps);
  const second = bestLagMs(real.slice(h), gen.slice(h), fps);
  console.log(
    `${f}: avOffsetMs ${fig.avOffsetMs}; halves ${first.lagMs} (r ${first.corr.toFixed(2)}), ${second.lagMs} (r ${second.corr.toFixed(2)}); corr by lag ms ${curve(real, gen, fps)}`,
  );
}
