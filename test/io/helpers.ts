import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { defaultClipsDir } from '../../src/cli/paths.ts';

/** A shared evaluation clip (read in place, never copied into the repo). */
export function clip(name: string): string {
  const p = resolve(defaultClipsDir(), name);
  if (!existsSync(p)) throw new Error(`test clip ${p} is missing (set LIPSYNC_CLIPS_DIR)`);
  return p;
}

export function scratchDir(prefix = 'lipsync-io-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
