/**
 * A bench section measures one area and returns flat, dotted figures (`sfu.tapAddedLatencyMs.p50`: 12.3).
 * Each file in bench/sections/ default-exports one section; `npm run bench` runs them in file-name order.
 */
export type BenchValue = number | string | boolean | null;

export interface BenchSection {
  /** Prefix of every key this section writes, e.g. `sfu`. */
  name: string;
  /** One line on what is measured and on what input. */
  description: string;
  run(ctx: BenchContext): Promise<Record<string, BenchValue>>;
}

export interface BenchContext {
  /** Folder with the shared evaluation clips (`../shared/clips` by default). */
  clipsDir: string;
  /** Scratch folder for this run, removed afterwards unless --keep is given. */
  workDir: string;
  /** Shorter runs for CI smoke checks (`--quick`). */
  quick: boolean;
  log(message: string): void;
}
