import { readdirSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { prepareClip } from '../../pipeline/lipsync/neural/prep.ts';
import { numberOption, parseOptions, UsageError } from '../args.ts';

export const summary = 'training data for the neural models: decode, track, crop, sketch and mel every clip';

const usage = `usage: lipsync prep --clips DIR --out DIR [--max-frames N] [--only a,b] [--margin PX]
  --clips DIR       folder of talking-head videos (.mp4 .mov .mkv .webm)
  --out DIR         output folder: one sub-folder per clip (landmarks.npy, faces.npy, sketches.npy, mel.npy,
                    valid.npy, meta.json) that training/train.py reads
  --max-frames N    at most N frames per clip on the 25 fps clock (smoke runs)
  --only LIST       only clips whose file name contains one of these comma-separated words
  --margin PX       crop margin in frame pixels (default 25, the inference margin)`;

const VIDEO_EXT = new Set(['.mp4', '.mov', '.mkv', '.webm', '.avi']);

export async function run(argv: string[]): Promise<number> {
  const opts = parseOptions(
    argv,
    {
      clips: { type: 'string' },
      out: { type: 'string' },
      'max-frames': { type: 'string' },
      only: { type: 'string' },
      margin: { type: 'string' },
    },
    usage,
  );
  if (!opts) return 0;
  if (!opts.clips || !opts.out) throw new UsageError(`--clips and --out are required\n${usage}`);
  const clipsDir = resolve(opts.clips);
  let files: string[];
  try {
    files = readdirSync(clipsDir)
      .filter((f) => VIDEO_EXT.has(extname(f).toLowerCase()))
      .sort();
  } catch (err) {
    throw new UsageError(`--clips ${clipsDir}: ${(err as Error).message}`);
  }
  const only = opts.only?.split(',').map((s) => s.trim());
  if (only) files = files.filter((f) => only.some((w) => f.includes(w)));
  if (!files.length) throw new UsageError(`no video files in ${clipsDir}${only ? ` matching ${only.join(',')}` : ''}`);
  const maxFrames = opts['max-frames'] ? numberOption('max-frames', opts['max-frames'], 0, 1) : undefined;
  const margin = numberOption('margin', opts.margin, 25, 0, 500);
  let failed = 0;
  for (const f of files) {
    const p = join(clipsDir, f);
    if (!statSync(p).isFile()) continue;
    try {
      await prepareClip(p, resolve(opts.out), {
        cropMarginPx: margin,
        ...(maxFrames !== undefined ? { maxFrames } : {}),
        log: (m) => console.error(`[prep] ${m}`),
      });
    } catch (err) {
      failed++;
      console.error(`[prep] ${f}: ${(err as Error).message}`);
    }
  }
  return failed ? 1 : 0;
}
