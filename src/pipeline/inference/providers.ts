/**
 * Execution providers: which onnxruntime back-end runs a model, chosen by configuration, with a clean fallback to
 * CPU when the requested provider cannot be created.
 *
 * Choice, first match wins: the `provider` option, then `LIPSYNC_EP` (`cpu` | `cuda` | `webgpu`), then `cpu`.
 * - cpu: bundled with onnxruntime-node; always works. fp32 (onnxruntime's CPU kernels are fp32; fp16 would be slower).
 * - webgpu: bundled (Dawn, Vulkan back-end); needs a GPU adapter. Without one session creation throws
 *   ("Failed to get a WebGPU adapter") and we fall back.
 * - cuda: not bundled. `LIPSYNC_CUDA=1 node scripts/setup.mjs onnxruntime-cuda` copies the CUDA provider libraries
 *   (npm `com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9`, built for onnxruntime 1.29.0 and CUDA 13) into
 *   onnxruntime-node's bin folder; CUDA 13 + cuDNN 9 user-space libraries must be on the loader path. Without them
 *   session creation throws ("Failed to load shared library") and we fall back.
 * fp16: on cuda/webgpu a sibling `<model>.fp16.onnx` is used when present (same fp32 inputs and outputs); none is
 * exported yet, so every provider runs fp32 today, and the log says so.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as OrtModule from 'onnxruntime-node';
import type { InferenceSession } from 'onnxruntime-node';

export type ProviderName = 'cpu' | 'cuda' | 'webgpu';
export const PROVIDERS: readonly ProviderName[] = ['cpu', 'cuda', 'webgpu'];

/** Thrown for a provider name that is not one of {@link PROVIDERS}. */
export class ProviderConfigError extends Error {
  override name = 'ProviderConfigError';
}

/** The provider asked for: option, then `LIPSYNC_EP`, then cpu. Unknown names are an error, never a silent cpu. */
export function requestedProvider(option?: string, env: NodeJS.ProcessEnv = process.env): ProviderName {
  const raw = (option ?? env.LIPSYNC_EP ?? 'cpu').trim().toLowerCase();
  if ((PROVIDERS as readonly string[]).includes(raw)) return raw as ProviderName;
  const from = option !== undefined ? 'provider option' : 'LIPSYNC_EP';
  throw new ProviderConfigError(`${from} is '${raw}'; expected one of ${PROVIDERS.join(', ')}`);
}

export interface CreateSessionOptions {
  provider: ProviderName;
  /** Threads inside one operator (cpu). Default 1: the machine is shared; one worker per core scales better. */
  intraOpNumThreads?: number;
  /** Use `<model>.fp16.onnx` when it exists and the provider supports fp16 (default true). */
  preferFp16?: boolean;
  log?: (message: string) => void;
}

/** What was actually created: the provider that runs the model may differ from the one requested. */
export interface CreatedSession {
  session: InferenceSession;
  requested: ProviderName;
  provider: ProviderName;
  /** Why the requested provider was not used (absent when it was). */
  fallbackReason?: string;
  precision: 'fp32' | 'fp16';
  modelPath: string;
  createMs: number;
}

type Ort = typeof OrtModule;

function epConfig(provider: ProviderName): InferenceSession.ExecutionProviderConfig {
  switch (provider) {
    case 'cuda':
      return { name: 'cuda', deviceId: 0 };
    case 'webgpu':
      return { name: 'webgpu' };
    case 'cpu':
      return 'cpu';
  }
}

/** Shortens onnxruntime's multi-line native errors to the line that says what went wrong. */
export function shortReason(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const lines = msg
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const useful =
    lines.find((l) => /adapter|shared library|cannot open|not found|No such file|CUDA|cudnn/i.test(l)) ?? lines[0];
  return (useful ?? 'unknown error').slice(0, 300);
}

/** Where onnxruntime-node looks for provider libraries (next to its native binding). */
function ortBinDir(): string | null {
  try {
    const pkg = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
    return join(dirname(pkg), 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return null;
  }
}

/** What to do about a provider that failed, from what is on disk (onnxruntime's own message is generic). */
function providerHint(provider: ProviderName): string {
  if (provider === 'cuda') {
    const dir = ortBinDir();
    if (dir && !existsSync(join(dir, 'libonnxruntime_providers_cuda.so'))) {
      return '; the CUDA provider is not installed: LIPSYNC_CUDA=1 node scripts/setup.mjs onnxruntime-cuda';
    }
    return '; provider installed, so CUDA 13 / cuDNN 9 libraries are missing from LD_LIBRARY_PATH (onnxruntime printed which)';
  }
  if (provider === 'webgpu') return '; no WebGPU adapter (GPU + Vulkan driver) on this machine';
  return '';
}

function fp16Sibling(modelPath: string): string {
  return modelPath.replace(/\.onnx$/, '.fp16.onnx');
}

/**
 * Creates a session on the requested provider; when that fails, logs a warning and creates it on CPU. Throws only
 * when CPU fails too (a broken or missing model file).
 */
export async function createSession(ort: Ort, modelPath: string, opts: CreateSessionOptions): Promise<CreatedSession> {
  const { provider, intraOpNumThreads = 1, preferFp16 = true, log = () => {} } = opts;
  const base: InferenceSession.SessionOptions = {
    intraOpNumThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // 3 = error: keeps onnxruntime's own warnings (e.g. nodes placed on CPU) out of the media logs.
    logSeverityLevel: 3,
  };
  const started = performance.now();
  if (provider !== 'cpu') {
    const fp16 = preferFp16 && existsSync(fp16Sibling(modelPath));
    const path = fp16 ? fp16Sibling(modelPath) : modelPath;
    try {
      const session = await ort.InferenceSession.create(path, { ...base, executionProviders: [epConfig(provider)] });
      log(`${basename(path)}: running on ${provider} (${fp16 ? 'fp16' : 'fp32: no .fp16.onnx variant exported'})`);
      return {
        session,
        requested: provider,
        provider,
        precision: fp16 ? 'fp16' : 'fp32',
        modelPath: path,
        createMs: performance.now() - started,
      };
    } catch (err) {
      const reason = shortReason(err) + providerHint(provider);
      log(`WARNING ${basename(modelPath)}: provider ${provider} unavailable (${reason}); falling back to cpu`);
      const s = await createCpu(ort, modelPath, base);
      return {
        session: s,
        requested: provider,
        provider: 'cpu',
        fallbackReason: reason,
        precision: 'fp32',
        modelPath,
        createMs: performance.now() - started,
      };
    }
  }
  const session = await createCpu(ort, modelPath, base);
  log(`${basename(modelPath)}: running on cpu (fp32; ${intraOpNumThreads} intra-op thread(s))`);
  return {
    session,
    requested: 'cpu',
    provider: 'cpu',
    precision: 'fp32',
    modelPath,
    createMs: performance.now() - started,
  };
}

async function createCpu(
  ort: Ort,
  modelPath: string,
  base: InferenceSession.SessionOptions,
): Promise<InferenceSession> {
  if (!existsSync(modelPath)) throw new Error(`model file not found: ${modelPath}`);
  return ort.InferenceSession.create(modelPath, { ...base, executionProviders: ['cpu'] });
}

function basename(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

/** Providers compiled into the installed onnxruntime-node (`bundled: false` ones need extra libraries). */
export function listBackends(ort: Ort): { name: string; bundled: boolean }[] {
  return ort.listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled }));
}
