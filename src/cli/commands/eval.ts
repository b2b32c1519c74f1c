import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  DEFAULT_MAX_DEPTH,
  evaluateFolder,
  formatReport,
  NEURAL_VARIANTS,
  NoClipsError,
  writeTrackDump,
  type NeuralVariant,
} from '../../pipeline/lipsync/eval/index.ts';
import { createNeuralPath, type NeuralPath } from '../../pipeline/lipsync/neural/index.ts';
import { numberOption, parseOptions, UsageError } from '../args.ts';
import { defaultClipsDir } from '../paths.ts';

export const summary = 'lip-sync reconstruction evaluation on a folder of clips: table + JSON';

const usage = `usage: lipsync eval [--clips DIR] [--json FILE] [--only a,b] [--max-seconds S] [--no-phones]
  --clips DIR        clips to evaluate, in DIR and its sub-folders (default: ../shared/clips)
  --max-depth N      sub-folder levels of DIR searched (default ${DEFAULT_MAX_DEPTH}; 0: DIR's own files only)
  --json FILE        write per-clip figures and means as JSON
  --only LIST        only clips whose path relative to DIR (e.g. spk1/clip.mp4, '/'-separated) contains one of
                     these (comma-separated): a file name, part of one, or a folder (spk1/)
  --max-seconds S    only the first S seconds of each clip (quicker runs)
  --no-phones        do not use pocketsphinx allphone phones of the drive audio
  --prior FILE       prior model (default models/lipsync/opening-prior.json; missing: no prior)
  --weights P,H,M    fusion weights of prior, phones, memory (default: the prior file's fusion, else 1,1,0.7)
  --gain G           gain on the fused opening z-score (default: the prior file's fusion gain, else 1)
  --no-lag-correction  no per-speaker lag (default: learned on the warm-up, gated; MemoryGenerator lagCorrection)
  --neural DIR       also run the neural path (ONNX models in DIR; 'default': models/neural/smoke-tiny) beside the
                     default engine, same clips and figures (provider: LIPSYNC_EP, default cpu)
  --neural-variants LIST  neuralGen (neural generator + memory renderer), neuralRen (memory generator + neural
                     renderer), neural (both); default all three
  --neural-refs N    references of the neural renderer (default 3)
  --dump-tracks DIR  write each clip's real tracking + audio there (input of scripts/build-prior.ts)
Every video file of DIR and of its sub-folders is evaluated, named by its path relative to DIR (spk1/clip.mp4 and
spk2/clip.mp4 are two clips); hidden files and folders are left out, links are followed but no folder is searched
twice (a link loop is listed as not evaluated). A clip that cannot be scored (unreadable, no audio, no face, two faces,
too short) is listed with the reason and left out of the means. Exit code: 0 when at least one clip was scored, 1 when
none could be, 2 on a usage error (also: DIR missing or without video files).`;

export async function run(argv: string[]): Promise<number> {
  const opts = parseOptions(
    argv,
    {
      clips: { type: 'string' },
      'max-depth': { type: 'string' },
      json: { type: 'string' },
      only: { type: 'string' },
      'max-seconds': { type: 'string' },
      'no-phones': { type: 'boolean' },
      prior: { type: 'string' },
      weights: { type: 'string' },
      'dump-tracks': { type: 'string' },
      gain: { type: 'string' },
      'no-lag-correction': { type: 'boolean' },
      neural: { type: 'string' },
      'neural-variants': { type: 'string' },
      'neural-refs': { type: 'string' },
    },
    usage,
  );
  if (!opts) return 0;
  const dir = resolve(opts.clips ?? defaultClipsDir());
  const maxSeconds = numberOption('max-seconds', opts['max-seconds'], 0, 0);
  const maxDepth = Math.floor(numberOption('max-depth', opts['max-depth'], DEFAULT_MAX_DEPTH, 0, 64));
  let weights: { prior: number; phones: number; memory: number } | undefined;
  if (opts.weights) {
    const [p, h, m] = opts.weights.split(',').map(Number);
    weights = { prior: p ?? 1, phones: h ?? 1, memory: m ?? 0.7 };
  }
  const gain = opts.gain !== undefined ? numberOption('gain', opts.gain, 1, 0) : undefined;
  const noLag = opts['no-lag-correction'] === true;
  const generator =
    weights || gain !== undefined || noLag
      ? {
          ...(weights ? { weights } : {}),
          ...(gain !== undefined ? { gain } : {}),
          ...(noLag ? { lagCorrection: false } : {}),
        }
      : undefined;
  let neuralPath: NeuralPath | undefined;
  let variants: NeuralVariant[] = [];
  if (opts.neural !== undefined) {
    const modelDir = resolve(!opts.neural || opts.neural === 'default' ? 'models/neural/smoke-tiny' : opts.neural);
    variants = (opts['neural-variants']?.split(',') ?? NEURAL_VARIANTS) as NeuralVariant[];
    const bad = variants.filter((v) => !NEURAL_VARIANTS.includes(v));
    if (bad.length)
      throw new Error(`--neural-variants: unknown ${bad.join(',')} (known: ${NEURAL_VARIANTS.join(',')})`);
    neuralPath = await createNeuralPath(modelDir);
    console.error(`[eval] neural path: ${modelDir} (${variants.join(', ')})`);
  }
  const referenceCount = opts['neural-refs'] ? numberOption('neural-refs', opts['neural-refs'], 3, 1) : undefined;
  const dumpDir = opts['dump-tracks'] ? resolve(opts['dump-tracks']) : undefined;
  let report;
  try {
    report = await evaluateFolder(dir, {
      only: opts.only?.split(','),
      maxDepth,
      maxSeconds: maxSeconds || undefined,
      phones: opts['no-phones'] ? false : undefined,
      priorPath: opts.prior ? resolve(opts.prior) : undefined,
      generator,
      log: (m) => console.error(`[eval] ${m}`),
      onTrack: dumpDir ? (clip, data) => writeTrackDump(dumpDir, clip, data) : undefined,
      neural: neuralPath ? { path: neuralPath, variants, referenceCount } : undefined,
    });
  } catch (err) {
    // A folder with nothing to evaluate is a wrong --clips: one line, no stack.
    if (err instanceof NoClipsError) throw new UsageError(`--clips: ${err.message}`);
    throw err;
  } finally {
    await neuralPath?.close();
  }
  console.log(formatReport(report));
  if (opts.json) {
    writeFileSync(opts.json, JSON.stringify(report, null, 2) + '\n');
    console.error(`[eval] wrote ${opts.json}`);
  }
  if (!report.clips.length) {
    console.error(`[eval] no clip could be scored (${report.skipped.length} skipped)`);
    return 1;
  }
  return 0;
}
