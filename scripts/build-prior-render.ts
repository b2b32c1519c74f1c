/**
 * Render-level diagnostics of the memory generator + renderer: runs the reconstruction evaluation
 * (`evaluateClip`, the same engines and figures as `lipsync eval`) with given generator settings and writes, per clip,
 * the figures plus the scored frames' points (stable + lip + jaw points of the real mesh, of each engine's re-tracked
 * output, and the generator's targets), for offline analysis of what the render + re-track round trip does.
 *
 * `--swap N` (diagnostic): the default engine's targets become the REAL mouth shape of frame i + N (from the
 * `--dump-tracks` data in `--tracks DIR`, through the template frame), i.e. real shapes that do not belong to the frame.
 *
 *   node --import tsx scripts/build-prior-render.ts --only sadtalker,vrt [--gen '{"shapeResidual":0}'] \
 *     [--ren '{"displaceLocalSigmaIod":0.03}'] [--swap 10 --tracks .cache/lipsync/tracks] --out FILE
 */
import '../src/polyfills.ts';
import { readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { evaluateClip, type ClipFigures } from '../src/pipeline/lipsync/eval/index.ts';
import { MemoryGenerator } from '../src/pipeline/lipsync/MemoryGenerator.ts';
import {
  CONTENT_INDICES,
  contentFromTemplate,
  contentOpening,
  contentToTemplate,
  meshToTemplate,
  STABLE_INDICES,
} from '../src/pipeline/lipsync/shape.ts';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const clipsDir = resolve(opt('clips') ?? '../shared/clips');
const only = (opt('only') ?? 'sadtalker,vrt').split(',');
const generator = JSON.parse(opt('gen') ?? '{}') as Record<string, unknown>;
const renderer = JSON.parse(opt('ren') ?? '{}') as Record<string, unknown>;
const out = resolve(opt('out') ?? '.cache/lipsync/render-dump.json');
const swap = opt('swap') !== undefined ? Number(opt('swap')) : null;
const tracksDir = resolve(opt('tracks') ?? '.cache/lipsync/tracks');

/** Replaces the default generator's output by the real shape of frame i + swap (the mean engine is left alone). */
function swapTargets(clip: string): () => void {
  const file = join(tracksDir, `${clip}.track.json`);
  if (swap === null || !existsSync(file)) {
    if (swap !== null) throw new Error(`--swap needs ${file}`);
    return () => {};
  }
  const meshes = (JSON.parse(readFileSync(file, 'utf8')) as { meshes: (number[] | null)[] }).meshes;
  // Always called with the generator as `this` (orig.call below): patched on the prototype for this one clip.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const orig = MemoryGenerator.prototype.generate;
  MemoryGenerator.prototype.generate = function (this: MemoryGenerator, w) {
    if (this.meanOnly || this.speaker.n < this.options.minObserved) return orig.call(this, w);
    const shapes = w.frames.map((f) => {
      const src = meshes[f.frameIndex + swap] ?? meshes[f.frameIndex] ?? f.mesh;
      return contentToTemplate(src, meshToTemplate(src));
    });
    return Promise.resolve({
      content: shapes.map((sh, i) => contentFromTemplate(sh, meshToTemplate(w.frames[i]!.mesh))),
      openingIod: shapes.map((sh) => contentOpening(sh)),
    });
  };
  return () => {
    MemoryGenerator.prototype.generate = orig;
  };
}

/** Points kept per mesh: stable (8) then content (57). */
const KEEP = [...STABLE_INDICES, ...CONTENT_INDICES];
const pick = (m: Float32Array | null) =>
  m ? KEEP.flatMap((i) => [Math.round(m[2 * i]! * 100) / 100, Math.round(m[2 * i + 1]! * 100) / 100]) : null;
const round = (m: Float32Array | null) => (m ? Array.from(m, (v) => Math.round(v * 100) / 100) : null);

const files = readdirSync(clipsDir)
  .filter((f) => /\.mp4$/i.test(f) && only.some((o) => f.includes(o)))
  .sort();
const result: {
  generator: Record<string, unknown>;
  renderer: Record<string, unknown>;
  clips: (ClipFigures & { frames_: unknown })[];
} = {
  generator,
  renderer,
  clips: [],
};
for (const f of files) {
  let frames_: unknown = null;
  const restore = swapTargets(f);
  const fig = await evaluateClip(join(clipsDir, f), {
    generator,
    renderer,
    log: (m) => console.error(m),
    onScored: (_clip, d) => {
      frames_ = {
        real: d.real.map(pick),
        engines: Object.fromEntries(
          Object.entries(d.engines).map(([n, e]) => [n, { meshes: e.meshes.map(pick), targets: e.targets.map(round) }]),
        ),
      };
    },
  });
  restore();
  result.clips.push({ ...fig, frames_ });
  console.error(
    `[render] ${f}: lipLmd ${fig.lipLmd.toFixed(4)} mean ${fig.lipLmdMean.toFixed(4)} oracle ${fig.lipLmdOracle.toFixed(4)} ` +
      `corr ${fig.mouthCorr.toFixed(3)} pred ${fig.mouthCorrPredicted.toFixed(3)} off ${fig.avOffsetMs}`,
  );
  writeFileSync(out, JSON.stringify(result));
}
const m = (k: keyof ClipFigures) => result.clips.reduce((s, c) => s + (c[k] as number), 0) / result.clips.length;
console.error(
  `[render] mean lipLmd ${m('lipLmd').toFixed(4)} lipLmdMean ${m('lipLmdMean').toFixed(4)} corr ${m('mouthCorr').toFixed(3)} ` +
    `pred ${m('mouthCorrPredicted').toFixed(3)} off ${m('avOffsetMs').toFixed(1)} psnrOracle ${m('psnrOracle').toFixed(2)}`,
);
