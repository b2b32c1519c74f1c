/** Runs the reconstruction evaluation over a folder of clips and summarises it. */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MediaFileError } from '../../io/mediaFile.ts';
import { ClipSkipped, evaluateClip, type ClipFigures, type EvalOptions, type VariantFigures } from './runEval.ts';
export { readTrackDumps, writeTrackDump, type TrackDump } from './trackDump.ts';

export {
  ClipSkipped,
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
  /** The clips scored. */
  clips: ClipFigures[];
  /** Clips that could not be scored, with the reason; they are in no mean. */
  skipped: { clip: string; reason: string }[];
  /** Other entries of the folder, not evaluated (sub-folders are not searched). */
  ignored: { name: string; reason: string }[];
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

/** The folder has nothing to evaluate (missing, empty, or nothing passes `only`). */
export class NoClipsError extends Error {
  override name = 'NoClipsError';
}

/** Containers node-av (ffmpeg) reads; other files are listed as ignored rather than guessed at. */
const VIDEO_FILE = /\.(mp4|m4v|mov|mkv|webm|avi|mpg|mpeg|ts|mts|m2ts|flv|3gp|ogv|wmv)$/i;

function means(rows: ClipFigures[]): Record<string, number> {
  // No rows: no figures (a mean of nothing is not NaN figures).
  if (!rows.length) return { clips: 0 };
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

/**
 * Evaluates every video file of `dir` (not its sub-folders). A clip that cannot be scored (unreadable, no audio, no
 * face, two faces, too short...) is reported in `skipped` with the reason and the run goes on. Throws NoClipsError
 * when there is no video file to evaluate.
 */
export async function evaluateFolder(dir: string, opts: EvalOptions & { only?: string[] } = {}): Promise<EvalReport> {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    throw new NoClipsError(`cannot read the clips folder ${dir}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const files: string[] = [];
  const ignored: EvalReport['ignored'] = [];
  for (const e of entries.filter((x) => !x.name.startsWith('.')).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (opts.only && !opts.only.some((o) => e.name.includes(o))) continue;
    // statSync follows links: a linked clip is a clip.
    const st = statSync(join(dir, e.name), { throwIfNoEntry: false });
    if (st?.isDirectory()) ignored.push({ name: e.name, reason: 'sub-folder, not searched' });
    else if (!st?.isFile()) ignored.push({ name: e.name, reason: 'not a regular file' });
    else if (!VIDEO_FILE.test(e.name)) ignored.push({ name: e.name, reason: 'not a video file name' });
    else files.push(e.name);
  }
  if (!files.length) {
    const why = opts.only ? ` whose name contains ${opts.only.join(' or ')}` : '';
    const seen = ignored.length ? ` (ignored: ${ignored.map((i) => i.name).join(', ')})` : '';
    throw new NoClipsError(`no video files${why} in ${dir}${seen}`);
  }
  const clips: ClipFigures[] = [];
  const skipped: EvalReport['skipped'] = [];
  for (const f of files) {
    opts.log?.(`evaluating ${f}`);
    try {
      clips.push(await evaluateClip(join(dir, f), opts));
    } catch (err) {
      // One bad clip must not cost the others' figures; anything unexpected is reported as a failure, with its message.
      const msg = (err instanceof Error ? err.message : String(err)).replaceAll(join(dir, f), f);
      const reason =
        err instanceof ClipSkipped ? msg : err instanceof MediaFileError ? `unreadable: ${msg}` : `failed: ${msg}`;
      if (!(err instanceof ClipSkipped || err instanceof MediaFileError) && err instanceof Error)
        opts.log?.(`${f}: ${err.stack}`);
      opts.log?.(`${f}: skipped: ${reason}`);
      skipped.push({ clip: f, reason });
    }
  }
  return {
    clips,
    skipped,
    ignored,
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
  // Whole names and reasons: these rows carry no figures, so nothing to align.
  for (const s of r.skipped) lines.push(`${s.clip}  skipped: ${s.reason}`);
  if (r.mean.clips) lines.push('mean (close-ups)'.padEnd(w) + cols.map((k) => fmt(r.mean[k]).padStart(12)).join(''));
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
    if (r.mean.clips) {
      lines.push('mean default'.padEnd(w) + vcols.map((k) => fmt(r.mean[k]).padStart(12)).join(''));
      for (const n of names)
        lines.push(`mean ${n}`.padEnd(w) + vcols.map((k) => fmt(r.mean[`${n}.${k}`]).padStart(12)).join(''));
    }
  }
  if (r.ignored.length) lines.push('', `not evaluated: ${r.ignored.map((i) => `${i.name} (${i.reason})`).join(', ')}`);
  return lines.join('\n');
}
