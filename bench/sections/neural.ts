/**
 * Speed of the neural (IP_LAP-shaped) path: full-size networks with random weights (speed is a property of the
 * architecture, not of the weights), run through the inference worker exactly as the engine runs them.
 *
 * Figures: gpu.provider (what ran), neural.generatorMsPerWindow (one T=5 window, B=1), neural.rendererMsPerFrame
 * (per-frame model, N references cached, B=1), batched variants, the one-off reference encoding, and
 * neural.streamsAt25fps: how many 25 fps streams one device sustains with batching
 * (1000 / (25 x renderer ms per frame + 5 x generator ms per window), at the best measured batch size).
 * Providers: cpu, plus LIPSYNC_EP when it names another one (each reported under neural.<provider>.*).
 */
import { join } from 'node:path';
import { InferenceHost, requestedProvider, type ProviderName } from '../../src/pipeline/inference/index.ts';
import {
  LANDMARK_GENERATOR_CONTRACT,
  RENDERER_FRAME_CONTRACT,
  RENDERER_REFENC_CONTRACT,
} from '../../src/pipeline/lipsync/neural/contracts.ts';
import { ensureExportedModels, torchUnavailable } from '../../src/pipeline/lipsync/neural/exportModels.ts';
import type { BenchSection, BenchValue } from '../types.ts';

const REFS = 3;

function rand(n: number, lo = 0, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + Math.random() * (hi - lo);
  return a;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/**
 * Median session.run wall time over `runs` runs after one warm-up, and the process CPU time per run (the main
 * thread only waits meanwhile, so it is the worker's): on a shared machine wall time includes waiting for a core,
 * CPU time does not.
 */
async function timeRuns(runs: number, fn: () => Promise<number>): Promise<{ wallMs: number; cpuMs: number }> {
  await fn(); // warm-up (first run allocates and plans)
  const ms: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < runs; i++) ms.push(await fn());
  const cpu = process.cpuUsage(cpu0);
  return { wallMs: median(ms), cpuMs: (cpu.user + cpu.system) / 1000 / runs };
}

async function measure(
  dir: string,
  provider: ProviderName,
  quick: boolean,
  log: (m: string) => void,
): Promise<{ ran: string; figures: Record<string, BenchValue> }> {
  const host = await InferenceHost.start({ provider, threads: 1, log });
  const f: Record<string, BenchValue> = {};
  try {
    const gen = await host.load('gen', join(dir, LANDMARK_GENERATOR_CONTRACT.file), LANDMARK_GENERATOR_CONTRACT.id);
    const refenc = await host.load('refenc', join(dir, RENDERER_REFENC_CONTRACT.file), RENDERER_REFENC_CONTRACT.id);
    const frame = await host.load('frame', join(dir, RENDERER_FRAME_CONTRACT.file), RENDERER_FRAME_CONTRACT.id);
    const used = [...new Set([gen, refenc, frame].map((m) => m.provider))].join('+');
    const why = [gen, refenc, frame].find((m) => m.fallbackReason)?.fallbackReason;
    const ran = used === provider ? provider : `${used} (requested ${provider}${why ? `: ${why}` : ''})`;
    const runs = quick ? 2 : 5;
    const window = () => ({
      mel: { data: rand(5 * 80 * 16, -4, 4), dims: [1, 5, 1, 80, 16] },
      pose: { data: rand(5 * 2 * 74), dims: [1, 5, 2, 74] },
      ref_landmarks: { data: rand(15 * 2 * 131), dims: [1, 15, 2, 131] },
    });
    const genBatches = quick ? [1, 4] : [1, 2, 4, 8];
    let bestGen = Infinity;
    for (const b of genBatches) {
      const items = Array.from({ length: b }, window);
      const { wallMs: ms, cpuMs } = await timeRuns(runs, async () => (await host.runBatch('gen', items)).runMs);
      f[`neural.${provider}.generatorMsPerWindow.b${b}`] = ms / b;
      f[`neural.${provider}.generatorCpuMsPerWindow.b${b}`] = cpuMs / b;
      bestGen = Math.min(bestGen, ms / b);
      if (b === 1) f[`neural.${provider}.generatorMsPerWindow`] = ms;
    }

    // Reference encoding: once per reference set (stored in the worker), then the per-frame model reads it.
    const refImages = { data: rand(REFS * 3 * 128 * 128), dims: [1, REFS, 3, 128, 128] };
    const refSketches = { data: rand(REFS * 3 * 128 * 128), dims: [1, REFS, 3, 128, 128] };
    const streams = 8;
    let refMs = 0;
    for (let s = 0; s < streams; s++) {
      const r = await host.runBatch('refenc', [{ ref_images: refImages, ref_sketches: refSketches }], [`s${s}`]);
      await host.store(`s${s}`, { ref_images: refImages });
      refMs = r.runMs;
    }
    f[`neural.${provider}.referenceEncodingMsPerSet.n${REFS}`] = refMs;
    const frameItem = (s: number) => ({
      masked_face: { data: rand(3 * 128 * 128), dims: [1, 3, 128, 128] },
      target_sketches: { data: rand(15 * 128 * 128), dims: [1, 15, 128, 128] },
      mel: { data: rand(80 * 16, -4, 4), dims: [1, 1, 80, 16] },
      ref_images: { stored: `s${s}` },
      ref_feat1: { stored: `s${s}` },
      ref_feat2: { stored: `s${s}` },
    });
    let bestFrame = Infinity;
    // Renderer runs take seconds on CPU: batches 1 and 2 only (4 measured 13 s a frame on this CPU, no gain).
    const frameBatches = provider === 'cpu' ? [1, 2] : [1, 2, 4, 8];
    for (const b of frameBatches) {
      const items = Array.from({ length: b }, (_, i) => frameItem(i % streams));
      const { wallMs: ms, cpuMs } = await timeRuns(
        quick ? 1 : 2,
        async () => (await host.runBatch('frame', items)).runMs,
      );
      f[`neural.${provider}.rendererMsPerFrame.b${b}`] = ms / b;
      f[`neural.${provider}.rendererCpuMsPerFrame.b${b}`] = cpuMs / b;
      bestFrame = Math.min(bestFrame, ms / b);
      if (b === 1) f[`neural.${provider}.rendererMsPerFrame`] = ms;
      log(`${provider}: renderer B=${b}: ${(ms / b).toFixed(0)} ms/frame`);
    }
    if (!quick) {
      // What one reference costs per frame: the same per-frame model with N = 1 (the slope to N = 3).
      const one = { data: rand(3 * 128 * 128), dims: [1, 1, 3, 128, 128] };
      await host.runBatch('refenc', [{ ref_images: one, ref_sketches: one }], ['n1']);
      await host.store('n1', { ref_images: one });
      const item = {
        ...frameItem(0),
        ref_images: { stored: 'n1' },
        ref_feat1: { stored: 'n1' },
        ref_feat2: { stored: 'n1' },
      };
      const { wallMs, cpuMs } = await timeRuns(2, async () => (await host.runBatch('frame', [item])).runMs);
      f[`neural.${provider}.rendererMsPerFrame.n1`] = wallMs;
      f[`neural.${provider}.rendererCpuMsPerFrame.n1`] = cpuMs;
    }
    const perStreamSecondMs = 25 * bestFrame + 5 * bestGen;
    f[`neural.${provider}.streamsAt25fps`] = 1000 / perStreamSecondMs;
    f[`neural.${provider}.precision`] = frame.precision;
    return { ran, figures: f };
  } finally {
    await host.close();
  }
}

const section: BenchSection = {
  name: 'neural',
  description:
    'full-size IP_LAP-shaped generator + renderer (random weights) in the inference worker: ms per window / frame, ' +
    'batching, streams at 25 fps per device',
  async run(ctx) {
    const out: Record<string, BenchValue> = {};
    const why = torchUnavailable();
    if (why) {
      ctx.log(`skipped: ${why}`);
      return { 'neural.skipped': why };
    }
    const dir = ensureExportedModels({
      config: 'full',
      models: ['generator', 'refenc', 'frame'],
      log: (m) => ctx.log(m),
    });
    const wanted = requestedProvider();
    const providers: ProviderName[] = wanted === 'cpu' ? ['cpu'] : [wanted, 'cpu'];
    const ran: string[] = [];
    for (const p of providers) {
      const r = await measure(dir, p, ctx.quick, (m) => ctx.log(m));
      ran.push(r.ran);
      Object.assign(out, r.figures);
    }
    const main = providers[0]!;
    out['gpu.provider'] = ran.join(', ');
    out['neural.generatorMsPerWindow'] = out[`neural.${main}.generatorMsPerWindow`] ?? null;
    out['neural.rendererMsPerFrame'] = out[`neural.${main}.rendererMsPerFrame`] ?? null;
    out['neural.streamsAt25fps'] = out[`neural.${main}.streamsAt25fps`] ?? null;
    out['neural.references'] = REFS;
    out['neural.cpuThreadsPerSession'] = 1;
    return out;
  },
};

export default section;
