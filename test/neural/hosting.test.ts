/**
 * The point of the worker thread: while a model runs (synchronous native code), the thread that serves media keeps
 * its timers on time.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InferenceHost } from '../../src/pipeline/inference/index.ts';
import { RENDERER_CONTRACT } from '../../src/pipeline/lipsync/neural/contracts.ts';
import { readGolden, tinyModels, torchMissingReason } from './fixtures.ts';

describe.skipIf(torchMissingReason() !== null)('inference off the main thread', () => {
  it('a 10 ms timer on the main thread stays on time while the renderer runs in the worker', async () => {
    const dir = tinyModels();
    const g = readGolden(dir).renderer!;
    const host = await InferenceHost.start({ provider: 'cpu', log: () => {} });
    try {
      await host.load('renderer', join(dir, RENDERER_CONTRACT.file), RENDERER_CONTRACT.id);
      let last = performance.now();
      let maxLag = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        maxLag = Math.max(maxLag, now - last - 10);
        last = now;
      }, 10);
      let busyMs = 0;
      try {
        for (let i = 0; i < 3; i++) busyMs += (await host.runBatch('renderer', [g.inputs])).runMs;
      } finally {
        clearInterval(timer);
      }
      // The worker was busy for busyMs (hundreds of ms); had it run here, one timer tick would have waited that long.
      expect(busyMs).toBeGreaterThan(200);
      expect(maxLag).toBeLessThan(Math.min(100, busyMs / 3));
    } finally {
      await host.close();
    }
  });
});
