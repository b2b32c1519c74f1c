import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchSection, BenchValue } from '../../../bench/types.ts';
import { parseOptions, UsageError } from '../args.ts';
import { defaultClipsDir } from '../paths.ts';

export const summary = 'run the benchmarks: prints a table, writes JSON with --json FILE';

const usage = `usage: lipsync bench [--json FILE] [--only a,b] [--clips DIR] [--quick] [--keep]
  --json FILE   also write every figure as JSON to FILE
  --only LIST   run only these sections (comma-separated names, e.g. sfu,media)
  --clips DIR   evaluation clips (default: ../shared/clips)
  --quick       shorter runs (smoke check)
  --keep        keep the scratch folder`;

const sectionsDir = fileURLToPath(new URL('../../../bench/sections/', import.meta.url));

export async function run(argv: string[]): Promise<number> {
  const opts = parseOptions(
    argv,
    {
      json: { type: 'string' },
      only: { type: 'string' },
      clips: { type: 'string' },
      quick: { type: 'boolean' },
      keep: { type: 'boolean' },
    },
    usage,
  );
  if (!opts) return 0;
  const files = readdirSync(sectionsDir)
    .filter((f) => f.endsWith('.ts'))
    .sort();
  const sections: BenchSection[] = [];
  for (const f of files) {
    const mod = (await import(join(sectionsDir, f))) as { default: BenchSection };
    sections.push(mod.default);
  }
  const only = opts.only?.split(',').map((s) => s.trim());
  if (only) {
    const unknown = only.filter((n) => !sections.some((s) => s.name === n));
    if (unknown.length) {
      throw new UsageError(
        `unknown section(s) ${unknown.join(', ')}; known: ${sections.map((s) => s.name).join(', ')}`,
      );
    }
  }
  const chosen = only ? sections.filter((s) => only.includes(s.name)) : sections;
  const workDir = mkdtempSync(join(tmpdir(), 'lipsync-bench-'));
  const results: Record<string, BenchValue> = {};
  let failed = 0;
  try {
    for (const section of chosen) {
      console.error(`[bench] ${section.name}: ${section.description}`);
      const started = performance.now();
      try {
        const figures = await section.run({
          clipsDir: resolve(opts.clips ?? defaultClipsDir()),
          workDir,
          quick: opts.quick ?? false,
          log: (m) => console.error(`[bench:${section.name}] ${m}`),
        });
        Object.assign(results, figures);
      } catch (err) {
        failed++;
        results[`${section.name}.error`] = err instanceof Error ? err.message : String(err);
        console.error(
          `[bench] ${section.name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
        );
      }
      console.error(`[bench] ${section.name} took ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
  } finally {
    if (!opts.keep) rmSync(workDir, { recursive: true, force: true });
  }
  printTable(results);
  if (opts.json) {
    writeFileSync(opts.json, JSON.stringify(results, null, 2) + '\n');
    console.error(`[bench] wrote ${opts.json}`);
  }
  return failed ? 1 : 0;
}

function printTable(results: Record<string, BenchValue>): void {
  const keys = Object.keys(results);
  const width = Math.max(6, ...keys.map((k) => k.length));
  console.log(`${'figure'.padEnd(width)}  value`);
  console.log(`${'-'.repeat(width)}  -----`);
  for (const k of keys) {
    const v = results[k];
    const shown = typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : String(v);
    console.log(`${k.padEnd(width)}  ${shown}`);
  }
}
