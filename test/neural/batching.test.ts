import { describe, expect, it } from 'vitest';
import { BatchQueue, QueueClosedError } from '../../src/pipeline/inference/index.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A runner that records its batches and answers item * 10 after `delayMs`. */
function recorder(delayMs = 0): {
  batches: [string, number[]][];
  run: (k: string, items: number[]) => Promise<number[]>;
} {
  const batches: [string, number[]][] = [];
  return {
    batches,
    run: async (key, items) => {
      batches.push([key, [...items]]);
      if (delayMs) await sleep(delayMs);
      return items.map((i) => i * 10);
    },
  };
}

describe('BatchQueue', () => {
  it('flushes a full batch at once, without waiting for the timer', async () => {
    const r = recorder();
    const q = new BatchQueue(r.run, { maxBatch: 3, maxWaitMs: 10_000 });
    const t0 = performance.now();
    const out = await Promise.all([1, 2, 3].map((i) => q.submit('m', i)));
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(out).toEqual([10, 20, 30]);
    expect(r.batches).toEqual([['m', [1, 2, 3]]]);
    expect(q.stats).toMatchObject({ batches: 1, items: 3, flushedFull: 1, flushedTimeout: 0, maxSeen: 3 });
  });

  it('flushes a partial batch after maxWaitMs', async () => {
    const r = recorder();
    const q = new BatchQueue(r.run, { maxBatch: 8, maxWaitMs: 40 });
    const t0 = performance.now();
    const a = q.submit('m', 1);
    await sleep(10);
    const b = q.submit('m', 2);
    expect(await Promise.all([a, b])).toEqual([10, 20]);
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(38);
    expect(waited).toBeLessThan(1000);
    expect(r.batches).toEqual([['m', [1, 2]]]);
    expect(q.stats.flushedTimeout).toBe(1);
  });

  it('keeps keys apart and splits beyond maxBatch', async () => {
    const r = recorder();
    const q = new BatchQueue(r.run, { maxBatch: 2, maxWaitMs: 5 });
    const out = await Promise.all([q.submit('a', 1), q.submit('b', 2), q.submit('a', 3), q.submit('a', 4)]);
    expect(out).toEqual([10, 20, 30, 40]);
    expect(r.batches).toContainEqual(['a', [1, 3]]);
    expect(r.batches).toContainEqual(['a', [4]]);
    expect(r.batches).toContainEqual(['b', [2]]);
    expect(r.batches.length).toBe(3);
  });

  it('runs one batch at a time; items arriving meanwhile form the next batch', async () => {
    const r = recorder(50);
    let concurrent = 0;
    let maxConcurrent = 0;
    const q = new BatchQueue<number, number>(
      async (k, items) => {
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        const res = await r.run(k, items);
        concurrent--;
        return res;
      },
      { maxBatch: 4, maxWaitMs: 1 },
    );
    const first = q.submit('m', 1);
    await sleep(10); // batch [1] is running now
    const rest = [2, 3, 4].map((i) => q.submit('m', i));
    expect(await Promise.all([first, ...rest])).toEqual([10, 20, 30, 40]);
    expect(maxConcurrent).toBe(1);
    expect(r.batches.map(([, b]) => b)).toEqual([[1], [2, 3, 4]]);
  });

  it('a failing batch rejects its items only', async () => {
    const q = new BatchQueue<number, number>(
      (_k, items) => (items.includes(13) ? Promise.reject(new Error('model failed')) : Promise.resolve(items)),
      { maxBatch: 1, maxWaitMs: 0 },
    );
    const bad = q.submit('m', 13);
    const good = q.submit('m', 2);
    await expect(bad).rejects.toThrow('model failed');
    await expect(good).resolves.toBe(2);
  });

  it('close() rejects waiting items and refuses new ones', async () => {
    const q = new BatchQueue<number, number>((_k, items) => Promise.resolve(items), { maxBatch: 8, maxWaitMs: 10_000 });
    const waiting = q.submit('m', 1);
    q.close();
    q.close();
    await expect(waiting).rejects.toBeInstanceOf(QueueClosedError);
    await expect(q.submit('m', 2)).rejects.toBeInstanceOf(QueueClosedError);
  });

  it('validates its options', () => {
    expect(() => new BatchQueue(() => Promise.resolve([]), { maxBatch: 0 })).toThrow(/maxBatch/);
    expect(() => new BatchQueue(() => Promise.resolve([]), { maxWaitMs: -1 })).toThrow(/maxWaitMs/);
  });
});
