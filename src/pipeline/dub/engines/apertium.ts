/** Machine translation with Apertium (rule-based, offline), chaining modes through a pivot when needed. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { translationRoute } from '../languages.ts';
import { findTool, type ProcessGroup } from '../tools.ts';

export interface TranslateResult {
  text: string;
  wallMs: number;
}

/**
 * Translates plain text from `from` to `to`. `-u` drops Apertium's unknown-word marks (`*Dashwood` -> `Dashwood`):
 * names pass through unchanged, which is what a listener should hear.
 */
export async function apertiumTranslate(
  procs: ProcessGroup,
  text: string,
  from: string,
  to: string,
): Promise<TranslateResult> {
  const route = translationRoute(from, to);
  const started = performance.now();
  // The apertium script opens its input by name (/dev/stdin by default), which fails on the socket Node gives a
  // child as stdin: the text goes through a file.
  const dir = mkdtempSync(join(tmpdir(), 'lipsync-mt-'));
  try {
    let current = text;
    for (const [i, mode] of route.entries()) {
      if (!current.trim()) break;
      const file = join(dir, `in${i}.txt`);
      writeFileSync(file, `${current}\n`);
      const r = await procs.run(findTool('apertium'), ['-u', mode, file], {
        timeoutMs: 20_000,
        what: `apertium ${mode}`,
        env: { LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' },
      });
      current = r.stdout.toString('utf8').trim();
    }
    return { text: current.replace(/\s+/g, ' ').trim(), wallMs: performance.now() - started };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
