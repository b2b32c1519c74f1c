/** Runs the reconstruction evaluation over a folder of clips and summarises it. */
import { readdirSync, realpathSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import { MediaFileError } from '../../io/mediaFile.ts';
import { ClipSkipped, evaluateClip, type ClipFigures, type EvalOptions, type VariantFigures } from './runEval.ts';
export { readTrackDumps, trackDumpStem, writeTrackDump, type TrackDump } from './trackDump.ts';

export {
  ClipSkipped,
  evaluateClip,
  NEURAL_VARIANTS,
  priorFold,
  type ClipFigures,
  type EvalOptions,
  type NeuralVariant,
  type ScoredFrames,
  type TrackedClip,
  type VariantFigures,
} from './runEval.ts';

export interface EvalReport {
  /** The clips scored; `clip` is the path relative to the folder, '/'-separated (`speaker/clip.mp4`). */
  clips: ClipFigures[];
  /** Clips that could not be scored, with the reason; they are in no mean. */
  skipped: { clip: string; reason: string }[];
  /**
   * Other entries found, not evaluated (relative paths): files that are not video files, folders below the depth
   * limit, links back to a folder already searched, unreadable folders. Hidden entries are left out silently.
   */
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

/** Sub-folder levels searched below the clips folder by default (`id/session/clip.mp4` is 2). */
export const DEFAULT_MAX_DEPTH = 4;

export interface FolderOptions {
  /** Only clips whose path relative to the folder ('/'-separated, file name included) contains one of these. */
  only?: string[];
  /** Sub-folder levels searched (default DEFAULT_MAX_DEPTH; 0: the folder's own files only). */
  maxDepth?: number;
}

export interface FoundClips {
  /** Video files: relative path ('/'-separated) and full path, sorted by relative path. */
  files: { clip: string; path: string }[];
  ignored: EvalReport['ignored'];
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** `path` is `folder` or inside it (both real paths). */
const within = (path: string, folder: string) =>
  path === folder || path.startsWith(folder.endsWith(sep) ? folder : folder + sep);

/**
 * The video files of `dir` and its sub-folders, up to `maxDepth` levels down, each named by its path relative to
 * `dir`. Hidden files and folders (`.name`) are left out. Links are followed (a linked clip is a clip, a linked
 * speaker folder elsewhere is searched), but no folder is searched twice: a link to a folder inside `dir` (searched
 * under its own path), to one of the folders it sits in (a loop) or to a folder already searched is listed in
 * `ignored`, as are folders below the depth limit. `only` filters the files, not the folders searched. Throws
 * NoClipsError when `dir` itself cannot be read.
 */
export function findClips(dir: string, opts: FolderOptions = {}): FoundClips {
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  const files: FoundClips['files'] = [];
  const ignored: FoundClips['ignored'] = [];
  const searched = new Set<string>();
  const matches = (rel: string) => !opts.only || opts.only.some((o) => rel.includes(o));
  let root: string;
  try {
    root = realpathSync(dir);
  } catch (err) {
    throw new NoClipsError(`cannot read the clips folder ${dir}: ${message(err)}`);
  }
  const walk = (abs: string, real: string, rel: string, depth: number, ancestors: readonly string[]): void => {
    let entries;
    try {
      entries = readdirSync(abs, { withFileTypes: true });
    } catch (err) {
      if (depth === 0) throw new NoClipsError(`cannot read the clips folder ${dir}: ${message(err)}`);
      ignored.push({ name: rel, reason: `unreadable folder: ${message(err)}` });
      return;
    }
    searched.add(real);
    const inside = [...ancestors, real];
    for (const e of entries.filter((x) => !x.name.startsWith('.')).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const p = join(abs, e.name);
      // statSync follows links (a link to itself or in a cycle throws ELOOP).
      let st;
      let target = p;
      try {
        st = statSync(p, { throwIfNoEntry: false });
        if (st?.isDirectory()) target = realpathSync(p);
      } catch (err) {
        if (matches(r)) ignored.push({ name: r, reason: `unreadable: ${message(err)}` });
        continue;
      }
      if (st?.isDirectory()) {
        let why: string | undefined;
        if (inside.some((a) => within(a, target))) why = 'link to a folder it is in (a loop), not followed';
        else if (e.isSymbolicLink() && within(target, root)) why = 'link to a folder searched under its own path';
        else if (searched.has(target)) why = 'link to a folder already searched';
        else if (depth >= maxDepth) why = `sub-folder below the depth limit (${maxDepth}), not searched`;
        if (why) ignored.push({ name: r, reason: why });
        else walk(p, target, r, depth + 1, inside);
      } else if (!matches(r)) continue;
      else if (!st?.isFile()) ignored.push({ name: r, reason: 'not a regular file' });
      else if (!VIDEO_FILE.test(e.name)) ignored.push({ name: r, reason: 'not a video file name' });
      else files.push({ clip: r, path: p });
    }
  };
  walk(dir, root, '', 0, []);
  return { files, ignored };
}

/** At most `n` names, then how many more. */
function someNames(names: string[], n = 20): string {
  return names.length > n ? `${names.slice(0, n).join(', ')} and ${names.length - n} more` : names.join(', ');
}

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
 * Evaluates every video file of `dir` and of its sub-folders (findClips: up to `maxDepth` levels, hidden ones left
 * out), each named by its path relative to `dir`. A clip that cannot be scored (unreadable, no audio, no face, two
 * faces, too short...) is reported in `skipped` with the reason and the run goes on. Throws NoClipsError when there
 * is no video file to evaluate.
 */
export async function evaluateFolder(dir: string, opts: EvalOptions & FolderOptions = {}): Promise<EvalReport> {
  const { files, ignored } = findClips(dir, opts);
  if (!files.length) {
    const why = opts.only ? ` whose path contains ${opts.only.join(' or ')}` : '';
    const seen = ignored.length ? ` (ignored: ${someNames(ignored.map((i) => i.name))})` : '';
    throw new NoClipsError(`no video files${why} in ${dir} or its sub-folders${seen}`);
  }
  const clips: ClipFigures[] = [];
  const skipped: EvalReport['skipped'] = [];
  for (const { clip: f, path } of files) {
    opts.log?.(`evaluating ${f}`);
    try {
      clips.push(await evaluateClip(path, { ...opts, clipName: f }));
    } catch (err) {
      // One bad clip must not cost the others' figures; anything unexpected is reported as a failure, with its message.
      const msg = message(err).replaceAll(path, f);
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
      maxDepth: opts.maxDepth ?? DEFAULT_MAX_DEPTH,
      only: opts.only ?? null,
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
  // The clip column fits the longest name (relative paths), within 32-64 characters; a longer one keeps its start
  // and its end (the folder that tells it apart and the file name).
  const w = Math.min(64, Math.max(32, ...r.clips.map((c) => c.clip.length + 10)));
  const cell = (s: string) => {
    if (s.length < w) return s.padEnd(w);
    const tail = Math.floor((w - 2) * 0.6);
    return `${s.slice(0, w - 2 - tail)}…${s.slice(s.length - tail)} `;
  };
  const head = 'clip'.padEnd(w) + cols.map((c) => String(c).slice(0, 11).padStart(12)).join('');
  const fmt = (v: unknown) => (typeof v === 'number' ? (Number.isFinite(v) ? v.toFixed(4) : 'nan') : String(v));
  const lines = [head];
  for (const c of r.clips) {
    lines.push(cell(c.clip) + cols.map((k) => fmt(c[k]).padStart(12)).join(''));
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
      lines.push(cell(`default ${c.clip}`) + vcols.map((k) => fmt(c[k as keyof ClipFigures]).padStart(12)).join(''));
      for (const n of names) {
        if (v[n]) lines.push(cell(`${n} ${c.clip}`) + vcols.map((k) => fmt(v[n]![k]).padStart(12)).join(''));
      }
    }
    if (r.mean.clips) {
      lines.push('mean default'.padEnd(w) + vcols.map((k) => fmt(r.mean[k]).padStart(12)).join(''));
      for (const n of names)
        lines.push(`mean ${n}`.padEnd(w) + vcols.map((k) => fmt(r.mean[`${n}.${k}`]).padStart(12)).join(''));
    }
  }
  // A dataset's side files (transcripts, landmarks...) can be many: the first 20 here, all in the JSON.
  if (r.ignored.length) lines.push('', `not evaluated: ${someNames(r.ignored.map((i) => `${i.name} (${i.reason})`))}`);
  return lines.join('\n');
}
