/** Runs the reconstruction evaluation over a folder of clips and summarises it. */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateClip, type ClipFigures, type EvalOptions, type VariantFigures } from './runEval.ts';
export { readTrackDumps, writeTrackDump, type TrackDump } from './trackDump.ts';

export {
  evaluateClip,
  NEURAL_VARIANTS,
  type ClipFigures,
  type EvalOptions,
  type NeuralVariant,
  type ScoredFrames,
  type TrackedClip,
  type VariantFigures,
} from './runEval.ts';

export interface EvalReport {
  clips: ClipFigures[];
  /** Means over the close-up clips (scored). */
  mean: Record<string, number>;
  /** Means over the portrait clips (robustness only). */
  portraitMean: Record<string, number>;
  options: Record<string, unknown>;
}

const NUMERIC: (keyof ClipFigures)[] = [
  'mouthCorr',
  'mouthCorrPredicted',
  'mouthCorrMeanBaseline',
  'lipLmd',
  'lipLmdMean',
  'lipLmdOracle',
  'avOffsetMs',
  'psnr',
  'ssim',
  'psnrOracle',
  'ssimOracle',
  'psnrMean',
  'lipJitter',
  'lipJitterReal',
  'renderedFraction',
  'openingStdRatio',
  'openingStdRatioPredicted',
];
const VARIANT_NUMERIC: (keyof VariantFigures)[] = [
  'mouthCorr',
  'mouthCorrPredicted',
  'lipLmd',
  'avOffsetMs',
  'psnr',
  'ssim',
  'lipJitter',
  'openingStdRatio',
  'openingStdRatioPredicted',
  'renderedFraction',
];

function means(rows: ClipFigures[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of NUMERIC) {
    const v = rows.map((r) => r[k] as number).filter((x) => Number.isFinite(x));
    out[k] = v.length ? v.reduce((s, x) => s + x, 0) / v.length : NaN;
  }
  // Extra (neural) engines: `<variant>.<figure>`, over the clips that ran them.
  const names = new Set(rows.flatMap((r) => Object.keys(r.variants ?? {})));
  for (const n of names) {
    for (const k of VARIANT_NUMERIC) {
      const v = rows
        .map((r) => (r.variants as Record<string, VariantFigures> | undefined)?.[n]?.[k])
        .filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
      out[`${n}.${k}`] = v.length ? v.reduce((s, x) => s + x, 0) / v.length : NaN;
    }
  }
  out.clips = rows.length;
  return out;
}

export async function evaluateFolder(dir: string, opts: EvalOptions & { only?: string[] } = {}): Promise<EvalReport> {
  const files = readdirSync(dir)
    .filter((f) => /\.(mp4|mkv|webm|mov)$/i.test(f))
    .filter((f) => !opts.only || opts.only.some((o) => f.includes(o)))
    .sort();
  const clips: ClipFigures[] = [];
  for (const f of files) {
    opts.log?.(`evaluating ${f}`);
    clips.push(await evaluateClip(join(dir, f), opts));
  }
  return {
    clips,
    mean: means(clips.filter((c) => c.kind === 'closeup')),
    portraitMean: means(clips.filter((c) => c.kind === 'portrait')),
    options: {
      maxSeconds: opts.maxSeconds ?? null,
      phones: opts.phones ?? 'auto',
      generator: opts.generator ?? {},
      neural: opts.neural ? { variants: opts.neural.variants, referenceCount: opts.neural.referenceCount ?? 3 } : null,
    },
  };
}

export function formatReport(r: EvalReport): string {
  const cols: (keyof ClipFigures)[] = [
    'mouthCorr',
    'mouthCorrPredicted',
    'mouthCorrMeanBaseline',
    'lipLmd',
    'lipLmdMean',
    'lipLmdOracle',
    'avOffsetMs',
    'psnr',
    'psnrOracle',
    'ssim',
    'lipJitter',
    'openingStdRatio',
  ];
  const w = 32;
  const head = 'clip'.padEnd(w) + cols.map((c) => String(c).slice(0, 11).padStart(12)).join('');
  const fmt = (v: unknown) => (typeof v === 'number' ? (Number.isFinite(v) ? v.toFixed(4) : 'nan') : String(v));
  const lines = [head];
  for (const c of r.clips) {
    lines.push(c.clip.slice(0, w - 1).padEnd(w) + cols.map((k) => fmt(c[k]).padStart(12)).join(''));
  }
  lines.push('mean (close-ups)'.padEnd(w) + cols.map((k) => fmt(r.mean[k]).padStart(12)).join(''));
  if (r.portraitMean.clips) {
    lines.push('mean (portraits)'.padEnd(w) + cols.map((k) => fmt(r.portraitMean[k]).padStart(12)).join(''));
  }
  // Extra engines (neural), same figures, next to the default ('pred') row of each clip.
  const vcols: (keyof VariantFigures)[] = [
    'mouthCorr',
    'mouthCorrPredicted',
    'lipLmd',
    'avOffsetMs',
    'psnr',
    'ssim',
    'lipJitter',
    'openingStdRatio',
    'renderedFraction',
  ];
  const names = [...new Set(r.clips.flatMap((c) => Object.keys(c.variants ?? {})))];
  if (names.length) {
    lines.push('', 'engine / clip'.padEnd(w) + vcols.map((c) => String(c).slice(0, 11).padStart(12)).join(''));
    for (const c of r.clips) {
      const v = (c.variants ?? {}) as Record<string, VariantFigures>;
      lines.push(
        `default ${c.clip}`.slice(0, w - 1).padEnd(w) +
          vcols.map((k) => fmt(c[k as keyof ClipFigures]).padStart(12)).join(''),
      );
      for (const n of names) {
        if (v[n])
          lines.push(
            `${n} ${c.clip}`.slice(0, w - 1).padEnd(w) + vcols.map((k) => fmt(v[n]![k]).padStart(12)).join(''),
          );
      }
    }
    lines.push('mean default'.padEnd(w) + vcols.map((k) => fmt(r.mean[k]).padStart(12)).join(''));
    for (const n of names)
      lines.push(`mean ${n}`.padEnd(w) + vcols.map((k) => fmt(r.mean[`${n}.${k}`]).padStart(12)).join(''));
  }
  return lines.join('\n');
}
