/**
 * A bounded, serial work queue between pipeline steps (decode -> stage -> encode): one item in work at a time, in
 * order, with an explicit overload policy.
 *
 * - `drop-oldest` (video): when `limit` items wait, the oldest waiting frame is dropped and counted. A late frame is
 *   worth less than the newest one.
 * - `keep` (audio): nothing is dropped below `hardLimit`; past `limit` the queue reports overload (`onOverload`, once
 *   per episode). Only past `hardLimit` (a stalled consumer) does it drop, and then it counts and reports every drop.
 */
export type OverloadPolicy = 'drop-oldest' | 'keep';

export interface WorkQueueOptions<T> {
  /** Items that may wait (not counting the one in work). */
  limit: number;
  policy: OverloadPolicy;
  /** `keep` only: items beyond this are dropped (counted, reported). Default 20 x limit. */
  hardLimit?: number;
  /** Called for each item, one at a time. */
  handler: (item: T) => Promise<void>;
  /** A handler threw; the queue goes on with the next item. */
  onError?: (err: unknown, item: T) => void;
  /** The queue went past `limit` (keep) or dropped a frame (drop-oldest); `dropped` is the running total. */
  onOverload?: (waiting: number, dropped: number) => void;
}

export class WorkQueue<T> {
  private items: T[] = [];
  private running: Promise<void> | null = null;
  private closed = false;
  private overloaded = false;
  /** Items dropped by the overload policy. */
  dropped = 0;
  /** Items handled. */
  handled = 0;
  /** Most items ever waiting. */
  highWater = 0;

  constructor(private readonly opts: WorkQueueOptions<T>) {}

  get waiting(): number {
    return this.items.length;
  }

  push(item: T): void {
    if (this.closed) return;
    const { limit, policy } = this.opts;
    const hard = policy === 'keep' ? (this.opts.hardLimit ?? limit * 20) : limit;
    if (this.items.length >= hard) {
      this.items.shift();
      this.dropped++;
      this.opts.onOverload?.(this.items.length, this.dropped);
    } else if (policy === 'keep' && this.items.length >= limit && !this.overloaded) {
      this.overloaded = true;
      this.opts.onOverload?.(this.items.length, this.dropped);
    }
    this.items.push(item);
    this.highWater = Math.max(this.highWater, this.items.length);
    this.running ??= this.run();
  }

  private async run(): Promise<void> {
    try {
      for (;;) {
        const item = this.items.shift();
        if (item === undefined || this.closed) break;
        if (this.items.length < this.opts.limit / 2) this.overloaded = false;
        try {
          await this.opts.handler(item);
          this.handled++;
        } catch (err) {
          this.opts.onError?.(err, item);
        }
      }
    } finally {
      this.running = null;
    }
  }

  /** Drops everything waiting (not counted as overload drops: the caller decided). Returns how many. */
  clear(): number {
    const n = this.items.length;
    this.items = [];
    return n;
  }

  /** Resolves when everything queued so far has been handled. */
  async drain(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Stops taking items, drops what waits, and resolves once the item in work is done. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    this.items = [];
    while (this.running) await this.running;
  }
}
