/**
 * Messages between {@link InferenceHost} (the thread that serves media) and the inference worker thread.
 * Tensors travel as float32 data + dims; results come back transferred (no copy on the way back).
 */
import type { ProviderName } from './providers.ts';

export interface TensorMsg {
  data: Float32Array;
  dims: number[];
}

/** An input taken from tensors stored in the worker (e.g. a stream's cached reference encodings). */
export interface StoredRef {
  stored: string;
  /** Tensor name inside the stored set (default: the input's name). */
  name?: string;
}

export type FeedMsg = TensorMsg | StoredRef;

export interface ModelStats {
  runs: number;
  items: number;
  totalMs: number;
  maxMs: number;
  /** Per batch size: runs and total ms. */
  byBatch: Record<number, { runs: number; totalMs: number }>;
}

export interface LoadedModelInfo {
  model: string;
  path: string;
  contract: string;
  requested: ProviderName;
  provider: ProviderName;
  fallbackReason?: string;
  precision: 'fp32' | 'fp16';
  createMs: number;
  /** Named dimensions the model fixes (e.g. C1, C2 of the reference encoder). */
  dims: Record<string, number>;
  inputs: string[];
  outputs: string[];
}

export type Request =
  | {
      type: 'load';
      id: number;
      model: string;
      path: string;
      contract: string;
      provider: ProviderName;
      threads: number;
      preferFp16: boolean;
    }
  | { type: 'run'; id: number; model: string; items: Record<string, FeedMsg>[]; storeAs?: string[] }
  | { type: 'store'; id: number; key: string; tensors: Record<string, TensorMsg> }
  | { type: 'drop'; id: number; key: string }
  | { type: 'stats'; id: number }
  | { type: 'unload'; id: number; model: string }
  /** Release every session after the requests before it, then end the thread (no reply). */
  | { type: 'close'; id: number };

export interface RunResult {
  /** Outputs per item (empty objects when stored). */
  outputs: Record<string, TensorMsg>[];
  /** Time inside session.run for the whole batch, ms. */
  runMs: number;
  /** Time spent assembling the batch (copies into the preallocated inputs), ms. */
  assembleMs: number;
  batch: number;
}

export type Response =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { name: string; message: string; problems?: string[]; contract?: string } }
  | { id: -1; log: string };
