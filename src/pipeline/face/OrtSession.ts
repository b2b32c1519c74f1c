/**
 * A synchronous onnxruntime-node session with preallocated inputs and outputs.
 *
 * onnxruntime-node's public `InferenceSession.run()` returns a promise, but the native call blocks the thread
 * anyway (onnxruntime issues #19611, #26968). The tracker is meant to run inside a worker thread, where a plain
 * synchronous call is what we want, so this goes to the native binding the public API wraps (`dist/binding.js` of
 * onnxruntime-node 1.29). Outputs are written into preallocated tensors: the hot path allocates nothing.
 */
import { createRequire } from 'node:module';
import type * as Ort from 'onnxruntime-node';

type OrtTensor = Ort.Tensor;

const require = createRequire(import.meta.url);

interface NativeSession {
  loadModel(path: string, options: object): void;
  run(feeds: Record<string, OrtTensor>, fetches: Record<string, OrtTensor | null>, options: object): unknown;
  dispose(): void;
  inputMetadata: { name: string; shape: number[] }[];
  outputMetadata: { name: string; shape: number[] }[];
}

interface NativeBinding {
  binding: { InferenceSession: new () => NativeSession };
  initOrt(): void;
}

const ort = require('onnxruntime-node') as typeof Ort;

function loadBinding(): NativeBinding {
  try {
    return require('onnxruntime-node/dist/binding.js') as NativeBinding;
  } catch (err) {
    throw new Error(
      `onnxruntime-node's native binding was not found (expected onnxruntime-node 1.29.x): ${(err as Error).message}`,
      { cause: err },
    );
  }
}

export interface OrtSessionOptions {
  /** Threads inside one operator. Default 1: one tracker per core scales better than one tracker on all cores. */
  intraOpNumThreads?: number;
}

export class OrtSession {
  private native: NativeSession | null;
  private readonly feeds: Record<string, OrtTensor> = {};
  private readonly fetches: Record<string, OrtTensor> = {};
  /** Input buffers, in the model's input order; fill them, then call run(). */
  readonly inputs: Float32Array[] = [];
  /** Output buffers, in the model's output order; valid after run(). */
  readonly outputs: Float32Array[] = [];

  constructor(modelPath: string, { intraOpNumThreads = 1 }: OrtSessionOptions = {}) {
    const b = loadBinding();
    b.initOrt();
    const s = new b.binding.InferenceSession();
    s.loadModel(modelPath, {
      intraOpNumThreads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      executionProviders: ['cpu'],
    });
    for (const m of s.inputMetadata) {
      const data = new Float32Array(m.shape.reduce((a, d) => a * d, 1));
      this.inputs.push(data);
      this.feeds[m.name] = new ort.Tensor('float32', data, m.shape);
    }
    for (const m of s.outputMetadata) {
      const data = new Float32Array(m.shape.reduce((a, d) => a * d, 1));
      this.outputs.push(data);
      this.fetches[m.name] = new ort.Tensor('float32', data, m.shape);
    }
    this.native = s;
  }

  get closed(): boolean {
    return this.native === null;
  }

  /** Runs the model on the current input buffers; results land in `outputs`. */
  run(): void {
    if (!this.native) throw new Error('OrtSession: run() after close()');
    this.native.run(this.feeds, this.fetches, {});
  }

  /** Releases the native session once; later calls do nothing. */
  close(): void {
    if (!this.native) return;
    const s = this.native;
    this.native = null;
    s.dispose();
  }
}
