/**
 * The track dump of `lipsync eval --dump-tracks DIR`: per clip, `<clip>.track.json` (the real tracking, meshes x, y
 * rounded to 0.01 px) and `<clip>.f32` (16 kHz mono audio). Written by the eval command, read by the prior and fusion
 * builders in scripts/. A clip from a sub-folder (`speaker/clip.mp4`) is dumped flat, its '/' written as `%2F` (and
 * '%' as `%25`); the JSON's `clip` keeps the relative path, so the prior's folds are keyed by it.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TrackedClip } from './runEval.ts';

export interface TrackDump extends TrackedClip {
  clip: string;
}

/** The dump's file name stem of a clip: its name, with '%' and '/' escaped (one flat folder, no collisions). */
export function trackDumpStem(clip: string): string {
  return clip.replaceAll('%', '%25').replaceAll('/', '%2F');
}

/** Writes one clip's dump into `dir` (created when missing). */
export function writeTrackDump(dir: string, clip: string, data: TrackedClip): void {
  mkdirSync(dir, { recursive: true });
  const meshes = data.meshes.map((m) => (m ? Array.from(m, (v) => Math.round(v * 100) / 100) : null));
  const stem = join(dir, trackDumpStem(clip));
  writeFileSync(
    `${stem}.track.json`,
    JSON.stringify({ clip, fps: data.fps, audioOffsetMs: data.audioOffsetMs, meshes }),
  );
  writeFileSync(`${stem}.f32`, Buffer.from(data.audio.buffer, data.audio.byteOffset, data.audio.byteLength));
}

/** Every clip dumped in `dir`, by name, except those whose file name contains one of `exclude`. */
export function readTrackDumps(dir: string, exclude: readonly string[] = []): TrackDump[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.track.json') && !exclude.some((e) => e && f.includes(e)))
    .sort()
    .map((f) => {
      const t = JSON.parse(readFileSync(join(dir, f), 'utf8')) as {
        clip: string;
        fps: number;
        audioOffsetMs: number;
        meshes: (number[] | null)[];
      };
      const buf = readFileSync(join(dir, f.slice(0, -'.track.json'.length) + '.f32'));
      return {
        clip: t.clip,
        fps: t.fps,
        audioOffsetMs: t.audioOffsetMs,
        meshes: t.meshes.map((m) => (m ? Float32Array.from(m) : null)),
        audio: new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)),
      };
    });
}
