/**
 * A small batching queue: items submitted by several streams are run together when due together.
 *
 * A batch is flushed when it holds `maxBatch` items, or `maxWaitMs` after its first item arrived, whichever comes
 * first. Items are grouped by `key` (e.g. the model and the shapes that must agree to be concatenated); each key has
 * its own pending batch. One batch runs at a time (the runner is a single worker thread): a batch that becomes due
 * while another runs waits for it, and keeps taking items up to `maxBatch` meanwhile.
 */

export interface BatchQueueOptions {
  /** Items per run at most. Default 8. */
  maxBatch?: number;
  /** How long the first item of a batch may wait for company, ms. Default 4. 0 = flush on the next tick. */
  maxWaitMs?: number;
}

export interface BatchQueueStats {
  batches: number;
  items: number;
  /** Batches flushed because they were full. */
  flushedFull: number;
  /** Batches flushed because their first item had waited maxWaitMs. */
  flushedTimeout: number;
  /** Largest batch run. */
  maxSeen: number;
}

interface Pending<TItem, TResult> {
  key: string;
  items: TItem[];
  resolvers: { resolve: (r: TResult) => void; reject: (e: unknown) => void }[];
  timer: ReturnType<typeof setTimeout> | null;
  due: boolean;
  reason: 'full' | 'timeout';
}

/** Thrown to the waiting items when the queue is closed before their batch ran. */
export class QueueClosedError extends Error {
  override name = 'QueueClosedError';
}

export class BatchQueue<TItem, TResult> {
  private readonly maxBatch: number;
  private readonly maxWaitMs: number;
  private readonly pending = new Map<string, Pending<TItem, TResult>>();
  /** Batches ready to run, oldest first. */
  private readonly due: Pending<TItem, TResult>[] = [];
  private running = false;
  private closed = false;
  readonly stats: BatchQueueStats = { batches: 0, items: 0, flushedFull: 0, flushedTimeout: 0, maxSeen: 0 };

  /**
   * @param runBatch runs one batch; must resolve with one result per item, in order.
   */
  constructor(
    private readonly runBatch: (key: string, items: TItem[]) => Promise<TResult[]>,
    { maxBatch = 8, maxWaitMs = 4 }: BatchQueueOptions = {},
  ) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1)
      throw new TypeError(`maxBatch must be an integer >= 1, got ${maxBatch}`);
    if (!(maxWaitMs >= 0)) throw new TypeError(`maxWaitMs must be >= 0, got ${maxWaitMs}`);
    this.maxBatch = maxBatch;
    this.maxWaitMs = maxWaitMs;
  }

  /** Queues one item; resolves with its result once its batch ran. */
  submit(key: string, item: TItem): Promise<TResult> {
    if (this.closed) return Promise.reject(new QueueClosedError('BatchQueue: submit() after close()'));
    // A batch leaves `pending` as soon as it is due (full or timed out): later items start the next one.
    let batch = this.pending.get(key);
    if (!batch) {
      batch = { key, items: [], resolvers: [], timer: null, due: false, reason: 'timeout' };
      this.pending.set(key, batch);
    }
    const result = new Promise<TResult>((resolve, reject) => batch.resolvers.push({ resolve, reject }));
    batch.items.push(item);
    if (batch.items.length >= this.maxBatch) {
      this.markDue(batch, 'full');
    } else if (batch.items.length === 1) {
      const b = batch;
      b.timer = setTimeout(() => this.markDue(b, 'timeout'), this.maxWaitMs);
    }
    return result;
  }

  /** Items waiting (not yet handed to the runner). */
  get waiting(): number {
    let n = 0;
    for (const p of this.pending.values()) n += p.items.length;
    for (const p of this.due) n += p.items.length;
    return n;
  }

  private markDue(p: Pending<TItem, TResult>, reason: 'full' | 'timeout'): void {
    if (p.due) return;
    p.due = true;
    p.reason = reason;
    if (p.timer) clearTimeout(p.timer);
    p.timer = null;
    if (this.pending.get(p.key) === p) this.pending.delete(p.key);
    this.due.push(p);
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let p = this.due.shift(); p; p = this.due.shift()) {
        this.stats.batches++;
        this.stats.items += p.items.length;
        this.stats.maxSeen = Math.max(this.stats.maxSeen, p.items.length);
        if (p.reason === 'full') this.stats.flushedFull++;
        else this.stats.flushedTimeout++;
        try {
          const results = await this.runBatch(p.key, p.items);
          if (results.length !== p.items.length) {
            throw new Error(`BatchQueue: runner returned ${results.length} results for ${p.items.length} items`);
          }
          p.resolvers.forEach((r, i) => r.resolve(results[i]!));
        } catch (err) {
          for (const r of p.resolvers) r.reject(err);
        }
      }
    } finally {
      this.running = false;
    }
  }

  /** Rejects every waiting item and refuses new ones. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const err = new QueueClosedError('BatchQueue closed');
    for (const p of [...this.pending.values(), ...this.due]) {
      if (p.timer) clearTimeout(p.timer);
      for (const r of p.resolvers) r.reject(err);
    }
    this.pending.clear();
    this.due.length = 0;
  }
}
