/**
 * Worker threads that run the project's TypeScript (through tsx), and their orderly end. Both threads that host
 * onnxruntime sessions (the lip-sync engine's and the inference service's) start and end this way.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

const require = createRequire(import.meta.url);

/** How long a closing worker may take to release its models and end before it is terminated. */
export const WORKER_CLOSE_TIMEOUT_MS = 5000;

/** Starts a worker thread on a TypeScript module (`entry`: its file URL). */
export function startTsWorker(entry: URL, name: string): Worker {
  const tsxApi = pathToFileURL(require.resolve('tsx/esm/api')).href;
  const code = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(code, { eval: true, name });
}

/**
 * Asks a worker to end (`closeMessage`, after which it releases what it holds and lets its event loop empty) and
 * resolves when it has exited. Terminating a thread under a running onnxruntime call can abort the whole process
 * from native code ('terminate called after throwing an instance of Napi::Error'), so terminate() is only the
 * fallback for a worker that has not ended after `timeoutMs`.
 */
export function endWorker(worker: Worker, closeMessage: unknown, timeoutMs = WORKER_CLOSE_TIMEOUT_MS): Promise<void> {
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.postMessage(closeMessage);
  const fallback = setTimeout(() => void worker.terminate(), timeoutMs);
  fallback.unref();
  return exited.then(() => clearTimeout(fallback));
}
