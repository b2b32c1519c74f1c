import { createRequire } from 'node:module';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  InferenceHost,
  ProviderConfigError,
  createSession,
  listBackends,
  requestedProvider,
} from '../../src/pipeline/inference/index.ts';

const require = createRequire(import.meta.url);
/** A small ONNX model that ships with an npm dependency (Silero VAD), enough to create sessions on each provider. */
const MODEL = require.resolve('@ricky0123/vad-web/dist/silero_vad_v5.onnx');

describe('provider selection', () => {
  it('option beats LIPSYNC_EP beats cpu; unknown names are an error', () => {
    expect(requestedProvider(undefined, {})).toBe('cpu');
    expect(requestedProvider(undefined, { LIPSYNC_EP: 'WebGPU' })).toBe('webgpu');
    expect(requestedProvider('cuda', { LIPSYNC_EP: 'webgpu' })).toBe('cuda');
    expect(() => requestedProvider(undefined, { LIPSYNC_EP: 'tensorrt' })).toThrow(ProviderConfigError);
    expect(() => requestedProvider('gpu', {})).toThrow(/provider option is 'gpu'; expected one of cpu, cuda, webgpu/);
  });

  it('lists the bundled back-ends of the installed onnxruntime-node', () => {
    const names = listBackends(ort).map((b) => b.name);
    expect(names).toContain('cpu');
  });

  it('cpu creates a cpu session and says so', async () => {
    const logs: string[] = [];
    const s = await createSession(ort, MODEL, { provider: 'cpu', log: (m) => logs.push(m) });
    expect(s.provider).toBe('cpu');
    expect(s.fallbackReason).toBeUndefined();
    expect(logs.join('\n')).toMatch(/running on cpu \(fp32/);
    await s.session.release();
  });

  // On a machine with CUDA 13 + the provider libraries (or a WebGPU adapter) these run on the GPU instead; the test
  // then checks that the log says so. Here (no GPU) they must fall back to CPU with a warning and still run.
  for (const provider of ['cuda', 'webgpu'] as const) {
    it(`${provider}: runs there when it can, otherwise falls back to cpu with a warning`, async () => {
      const logs: string[] = [];
      const s = await createSession(ort, MODEL, { provider, log: (m) => logs.push(m) });
      if (s.provider === provider) {
        expect(logs.join('\n')).toContain(`running on ${provider}`);
      } else {
        expect(s.provider).toBe('cpu');
        expect(s.requested).toBe(provider);
        // The reason says what to do: install the provider, add the CUDA libraries, or that no adapter exists.
        expect(s.fallbackReason).toMatch(
          provider === 'cuda' ? /LIPSYNC_CUDA=1 node scripts\/setup\.mjs onnxruntime-cuda|LD_LIBRARY_PATH/ : /adapter/,
        );
        expect(logs.join('\n')).toMatch(new RegExp(`WARNING .*provider ${provider} unavailable .*falling back to cpu`));
      }
      const out = await s.session.run({
        input: new ort.Tensor('float32', new Float32Array(512), [1, 512]),
        state: new ort.Tensor('float32', new Float32Array(256), [2, 1, 128]),
        sr: new ort.Tensor('int64', BigInt64Array.from([16000n]), []),
      });
      expect(Object.keys(out).length).toBeGreaterThan(0);
      await s.session.release();
    });
  }

  it('a missing model file is an error, not a fallback', async () => {
    await expect(createSession(ort, '/nonexistent/model.onnx', { provider: 'cuda', log: () => {} })).rejects.toThrow(
      /model file not found/,
    );
  });

  it('the inference host reports the provider that actually runs (LIPSYNC_EP=cuda)', async () => {
    const saved = process.env.LIPSYNC_EP;
    process.env.LIPSYNC_EP = 'cuda';
    const logs: string[] = [];
    const host = await InferenceHost.start({ log: (m) => logs.push(m) });
    try {
      expect(host.provider).toBe('cuda');
      // The contract check fails for this model, but only after the session was created: the log shows the provider.
      await expect(host.load('vad', MODEL, 'lipsync.landmark-generator.v1')).rejects.toThrow(/missing input 'mel'/);
      expect(logs.join('\n')).toMatch(/silero_vad_v5\.onnx: (running on cuda|provider cuda unavailable)/);
    } finally {
      await host.close();
      if (saved === undefined) delete process.env.LIPSYNC_EP;
      else process.env.LIPSYNC_EP = saved;
    }
  });
});
