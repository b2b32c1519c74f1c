import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (two levels above src/cli). */
export const repoRoot = resolve(fileURLToPath(new URL('../../', import.meta.url)));

/** The shared evaluation clips live beside the checkout; LIPSYNC_CLIPS_DIR overrides. */
export function defaultClipsDir(): string {
  const fromEnv = process.env.LIPSYNC_CLIPS_DIR;
  if (fromEnv) return fromEnv;
  const beside = resolve(repoRoot, '../shared/clips');
  return existsSync(beside) ? beside : resolve(repoRoot, 'clips');
}
