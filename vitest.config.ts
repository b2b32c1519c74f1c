import { defineConfig } from 'vitest/config';

// Tests talk to real parts (a mediasoup worker on loopback, real clips, real tools), so they get generous timeouts
// and run in forked processes: native addons (mediasoup, onnxruntime, node-av) are safest outside worker threads.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['./src/polyfills.ts'],
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});
