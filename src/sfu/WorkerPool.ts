/**
 * One mediasoup worker per core, rooms spread over them (the worker hosting the fewest rooms gets the next one).
 * A worker that dies is logged, reported through 'workerdied' (its routers close, so the rooms on it close and tell
 * their peers), and replaced so new rooms keep working.
 */
import { availableParallelism } from 'node:os';
import * as mediasoup from 'mediasoup';
import type { types as ms } from 'mediasoup';
import { createLogger } from './logger.ts';
import { SafeEmitter } from './SafeEmitter.ts';

const logger = createLogger('WorkerPool');

export interface WorkerPoolOptions {
  /** Number of workers. Default: one per core (`os.availableParallelism()`). */
  numWorkers?: number;
  /** mediasoup worker log level. Default 'warn'. */
  logLevel?: ms.WorkerLogLevel;
  /** Replace a dead worker. Default true. */
  respawn?: boolean;
}

export type WorkerPoolEvents = {
  /** A worker died; its rooms are closing. `pid` is the dead process. */
  workerdied: [pid: number, error: Error];
  /** A replacement worker started. */
  workerspawned: [pid: number];
};

interface Slot {
  worker: ms.Worker;
  rooms: number;
}

export class WorkerPool extends SafeEmitter<WorkerPoolEvents> {
  readonly #slots: Slot[] = [];
  readonly #logLevel: ms.WorkerLogLevel;
  readonly #respawn: boolean;
  #closed = false;

  static async create({
    numWorkers = availableParallelism(),
    logLevel = 'warn',
    respawn = true,
  }: WorkerPoolOptions = {}) {
    if (!Number.isInteger(numWorkers) || numWorkers < 1 || numWorkers > 256) {
      throw new TypeError(`numWorkers must be an integer in [1, 256], got ${numWorkers}`);
    }
    const pool = new WorkerPool(logLevel, respawn);
    try {
      await Promise.all(Array.from({ length: numWorkers }, () => pool.#spawn()));
    } catch (err) {
      pool.close();
      throw err;
    }
    return pool;
  }

  private constructor(logLevel: ms.WorkerLogLevel, respawn: boolean) {
    super();
    this.#logLevel = logLevel;
    this.#respawn = respawn;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get workers(): ms.Worker[] {
    return this.#slots.map((s) => s.worker);
  }

  async #spawn(): Promise<void> {
    const worker = await mediasoup.createWorker({ logLevel: this.#logLevel });
    if (this.#closed) {
      worker.close();
      return;
    }
    const slot: Slot = { worker, rooms: 0 };
    this.#slots.push(slot);
    worker.on('died', (error) => this.#onDied(slot, error));
    logger.debug(`worker ${worker.pid} started`);
  }

  #onDied(slot: Slot, error: Error): void {
    const i = this.#slots.indexOf(slot);
    if (i >= 0) this.#slots.splice(i, 1);
    logger.error(`worker ${slot.worker.pid} died (${error.message}); its rooms closed and their peers were told`);
    this.safeEmit('workerdied', slot.worker.pid, error);
    if (this.#closed || !this.#respawn) return;
    this.#spawn().then(
      () => this.safeEmit('workerspawned', this.#slots.at(-1)?.worker.pid ?? -1),
      (err: unknown) => logger.error(`could not replace dead worker: ${String(err)}`),
    );
  }

  /**
   * Creates a router on the least-loaded live worker. The returned `release` must be called when the room closes.
   */
  async createRouter(
    options: ms.RouterOptions,
  ): Promise<{ router: ms.Router; worker: ms.Worker; release: () => void }> {
    if (this.#closed) throw new Error('worker pool closed');
    let best: Slot | undefined;
    for (const s of this.#slots) {
      if (!s.worker.closed && (!best || s.rooms < best.rooms)) best = s;
    }
    if (!best) throw new Error('no live mediasoup worker');
    const slot = best;
    slot.rooms++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      slot.rooms--;
    };
    try {
      const router = await slot.worker.createRouter(options);
      return { router, worker: slot.worker, release };
    } catch (err) {
      release();
      throw err;
    }
  }

  /** CPU time of all workers (user + system), in milliseconds. */
  async cpuTimeMs(): Promise<number> {
    const usages = await Promise.all(this.#slots.map((s) => s.worker.getResourceUsage()));
    return usages.reduce((sum, u) => sum + u.ru_utime + u.ru_stime, 0);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#slots) s.worker.close();
    this.#slots.length = 0;
    this.removeAllListeners();
  }
}
