import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { listAvStages } from '../../pipeline/index.ts';
import { runDub, type DubProgress } from '../../pipeline/io/dub.ts';
import { numberOption, parseOptions, UsageError } from '../args.ts';

export const summary = 'dub a video file: face re-driven by speech, written as 25 fps H.264 + AAC MP4';

const usage = `usage: lipsync dub --video IN [--audio SPEECH] --out OUT.mp4 [--stage NAME] [--fps 25] [--crf 20]
  --video IN      talking-head video (mp4/mov/webm...; any codec FFmpeg decodes)
  --audio SPEECH  speech the lips should follow (default: the clip's own audio)
  --out OUT.mp4   output; written to a temporary name and renamed when complete
  --stage NAME    frame stage (default identity; see the list below)
  --fps N         output frame rate (default 25)
  --crf N         x264 quality, lower is better (default 20)
  --quiet         no progress output`;

function fmtTime(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--:--';
  const m = Math.floor(s / 60);
  return `${String(m).padStart(2, '0')}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
}

/** A bar with ETA on a TTY (redrawn in place), plain lines otherwise (logs, CI). */
function progressPrinter(): (p: DubProgress) => void {
  const tty = process.stderr.isTTY === true;
  let lastLine = 0;
  return (p) => {
    const frac = p.totalUs > 0 ? Math.min(1, p.doneUs / p.totalUs) : 0;
    const elapsedS = p.elapsedMs / 1000;
    const etaS = frac > 0.01 ? (elapsedS * (1 - frac)) / frac : NaN;
    const speed = elapsedS > 0 ? p.doneUs / 1e6 / elapsedS : 0;
    if (tty) {
      const width = 30;
      const fill = Math.round(frac * width);
      process.stderr.write(
        `\r[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}% ` +
          `${p.framesOut} frames  ${speed.toFixed(2)}x  ETA ${fmtTime(etaS)} `,
      );
    } else if (p.elapsedMs - lastLine >= 2000 || frac >= 1) {
      lastLine = p.elapsedMs;
      process.stderr.write(
        `dub: ${(frac * 100).toFixed(0)}% (${(p.doneUs / 1e6).toFixed(1)}/${(p.totalUs / 1e6).toFixed(1)} s, ` +
          `${p.framesOut} frames, ${speed.toFixed(2)}x, ETA ${fmtTime(etaS)})\n`,
      );
    }
  };
}

export async function run(argv: string[]): Promise<number> {
  const stages = listAvStages()
    .map((s) => `    ${s.name.padEnd(12)} ${s.description}`)
    .join('\n');
  const help = `${usage}\n  stages:\n${stages}`;
  const opts = parseOptions(
    argv,
    {
      video: { type: 'string' },
      audio: { type: 'string' },
      out: { type: 'string' },
      stage: { type: 'string' },
      fps: { type: 'string' },
      crf: { type: 'string' },
      quiet: { type: 'boolean' },
    },
    help,
  );
  if (!opts) return 0;
  if (!opts.video) throw new UsageError(`--video is required\n${usage}`);
  if (!opts.out) throw new UsageError(`--out is required\n${usage}`);
  for (const [name, p] of [
    ['video', opts.video],
    ['audio', opts.audio],
  ] as const) {
    if (p && !existsSync(p)) throw new UsageError(`--${name} ${p}: no such file`);
  }
  const stage = opts.stage ?? 'identity';
  if (!listAvStages().some((s) => s.name === stage)) {
    throw new UsageError(
      `unknown stage '${stage}'; known: ${listAvStages()
        .map((s) => s.name)
        .join(', ')}`,
    );
  }
  const fps = numberOption('fps', opts.fps, 25, 1, 120);
  const crf = numberOption('crf', opts.crf, 20, 0, 51);
  const printer = opts.quiet ? undefined : progressPrinter();
  try {
    const res = await runDub({
      videoPath: resolve(opts.video),
      ...(opts.audio ? { audioPath: resolve(opts.audio) } : {}),
      outPath: resolve(opts.out),
      stage,
      fps,
      crf,
      ...(printer ? { onProgress: printer } : {}),
      onWarning: (m) => process.stderr.write(`\ndub: warning: ${m}\n`),
    });
    if (printer && process.stderr.isTTY) process.stderr.write('\n');
    console.log(
      `wrote ${res.outPath}: ${res.framesOut} frames at ${res.fps} fps (${(res.durationUs / 1e6).toFixed(2)} s) ` +
        `from ${res.inputFrames} input frames, stage ${res.stage}, in ${(res.elapsedMs / 1000).toFixed(1)} s`,
    );
    return 0;
  } catch (err) {
    if (printer && process.stderr.isTTY) process.stderr.write('\n');
    console.error(`lipsync dub: ${err instanceof Error ? err.message : String(err)} (no output written)`);
    return 1;
  }
}
