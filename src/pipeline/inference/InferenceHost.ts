/**
 * Inference as a service: one worker thread holds the onnxruntime sessions; callers on the media thread submit
 * per-stream inputs, which a {@link BatchQueue} groups into one run when several streams are due together.
 *
 *   const host = await InferenceHost.start({ provider: 'cpu' });
 *   await host.load('gen', 'models/neural/landmark_generator.onnx', LANDMARK_GENERATOR_CONTRACT.id);
 *   const { lip, jaw } = await host.run('gen', { mel, pose, ref_landmarks });   // each input has batch dim 1
 *   host.close();
 */
import type { Worker } from 'node:worker_threads';
import { ContractError } from '../lipsync/neural/contracts.ts';
import { BatchQueue, type BatchQueueOptions, type BatchQueueStats } from './BatchQueue.ts';
import type { FeedMsg, LoadedModelInfo, ModelStats, Request, Response, RunResult, TensorMsg } from './protocol.ts';
import { endWorker, startTsWorker } from '../workerThread.ts';
import { requestedProvider, type ProviderName } from './providers.ts';

export interface InferenceHostOptions extends BatchQueueOptions {
  /** Provider for every model (`cpu` | `cuda` | `webgpu`); default `LIPSYNC_EP`, then `cpu`. */
  provider?: string;
  /** Intra-op threads per session (cpu). Default 1. */
  threads?: number;
  /** Use `.fp16.onnx` variants on providers that support fp16 when they exist. Default true. */
  preferFp16?: boolean;
  /** Where the worker's messages go (provider choice, fallbacks). Default console.error with a prefix. */
  log?: (message: string) => void;
}

type Distributive<T> = T extends unknown ? Omit<T, 'id'> : never;
type RequestBody = Distributive<Request>;

interface QueuedItem {
  model: string;
  feeds: Record<string, FeedMsg>;
  storeAs?: string;
}

/** Per-item outcome of a batched run. */
export interface ItemResult {
  outputs: Record<string, TensorMsg>;
  /** session.run time of the whole batch this item ran in, ms. */
  runMs: number;
  batch: number;
}

/** Code run by the worker: register tsx (the sources are TypeScript) and import the worker entry. */

export class InferenceHost {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private readonly queue: BatchQueue<QueuedItem, ItemResult>;
  private closed = false;
  readonly provider: ProviderName;
  private readonly threads: number;
  private readonly preferFp16: boolean;
  private readonly log: (message: string) => void;
  /** Models loaded, with the provider that actually runs each. */
  readonly models = new Map<string, LoadedModelInfo>();

  private constructor(opts: InferenceHostOptions) {
    this.provider = requestedProvider(opts.provider);
    this.threads = opts.threads ?? 1;
    this.preferFp16 = opts.preferFp16 ?? true;
    this.log = opts.log ?? ((m) => console.error(`[inference] ${m}`));
    this.worker = startTsWorker(new URL('./inferenceWorker.ts', import.meta.url), 'lipsync-inference');
    this.worker.on('message', (msg: Response) => this.onMessage(msg));
    this.worker.on('error', (err) => this.failAll(err));
    this.worker.on('exit', (code) => {
      if (!this.closed) this.failAll(new Error(`inference worker exited with code ${code}`));
    });
    this.queue = new BatchQueue((_key, items) => this.runItems(items), opts);
  }

  /** Starts the worker thread. Throws a ProviderConfigError for an unknown provider name. */
  static start(opts: InferenceHostOptions = {}): Promise<InferenceHost> {
    return Promise.resolve(new InferenceHost(opts));
  }

  private onMessage(msg: Response): void {
    if ('log' in msg) {
      this.log(msg.log);
      return;
    }
    const w = this.waiting.get(msg.id);
    if (!w) return;
    this.waiting.delete(msg.id);
    if (msg.ok) w.resolve(msg.result);
    else if (msg.error.problems && msg.error.contract) {
      w.reject(new ContractError(msg.error.contract, '', msg.error.problems));
    } else {
      const e = new Error(msg.error.message);
      e.name = msg.error.name;
      w.reject(e);
    }
  }

  private failAll(err: unknown): void {
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }

  private call<T>(body: RequestBody, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.closed) return Promise.reject(new Error('InferenceHost is closed'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...body, id } as Request, transfer);
    });
  }

  /**
   * Creates the session of one model (once) on the host's provider, falling back to CPU with a warning, and checks
   * it against its contract (a ContractError lists every mismatch). Logs what actually runs.
   */
  async load(model: string, path: string, contract: string): Promise<LoadedModelInfo> {
    const info = await this.call<LoadedModelInfo>({
      type: 'load',
      model,
      path,
      contract,
      provider: this.provider,
      threads: this.threads,
      preferFp16: this.preferFp16,
    });
    this.models.set(model, info);
    const via = info.provider === info.requested ? '' : ` (requested ${info.requested}: ${info.fallbackReason})`;
    this.log(`${model}: ${info.provider}${via}, ${info.precision}, created in ${info.createMs.toFixed(0)} ms`);
    return info;
  }

  /**
   * Queues one item (every input with its own batch dim, usually 1) for batched execution with the items of other
   * streams due together. `groupKey` must differ for items that cannot share a batch (e.g. a different number of
   * references held in the worker); shapes of the tensors given directly are added to it automatically.
   */
  async run(
    model: string,
    feeds: Record<string, FeedMsg>,
    opts: { groupKey?: string; storeAs?: string } = {},
  ): Promise<ItemResult> {
    // Stored inputs are per stream; their shapes are not known here, so the caller's groupKey must tell them apart.
    const shapes = Object.entries(feeds)
      .map(([n, f]) => ('dims' in f ? `${n}:${f.dims.slice(1).join('x')}` : `${n}:stored`))
      .join(',');
    return this.queue.submit(`${model}|${opts.groupKey ?? ''}|${shapes}`, {
      model,
      feeds,
      ...(opts.storeAs !== undefined ? { storeAs: opts.storeAs } : {}),
    });
  }

  /** Runs items now as one batch, bypassing the queue (all for the same model). */
  async runBatch(model: string, items: Record<string, FeedMsg>[], storeAs?: string[]): Promise<RunResult> {
    return this.call<RunResult>({ type: 'run', model, items, ...(storeAs ? { storeAs } : {}) });
  }

  private async runItems(items: QueuedItem[]): Promise<ItemResult[]> {
    const model = items[0]!.model;
    const storeAs = items.some((i) => i.storeAs !== undefined) ? items.map((i) => i.storeAs ?? '') : undefined;
    const r = await this.runBatch(
      model,
      items.map((i) => i.feeds),
      storeAs,
    );
    return r.outputs.map((outputs) => ({ outputs, runMs: r.runMs, batch: r.batch }));
  }

  /** Keeps tensors in the worker under `key` (inputs that stay the same across frames). */
  store(key: string, tensors: Record<string, TensorMsg>): Promise<void> {
    return this.call<void>({ type: 'store', key, tensors });
  }

  /** Forgets the tensors stored under `key`. */
  drop(key: string): Promise<void> {
    return this.call<void>({ type: 'drop', key });
  }

  /** Per-model timing (session.run only) and the batching queue's counters. */
  async stats(): Promise<{
    models: Record<string, { info: LoadedModelInfo; stats: ModelStats }>;
    storedKeys: string[];
    queue: BatchQueueStats;
  }> {
    const r = await this.call<{
      models: Record<string, { info: LoadedModelInfo; stats: ModelStats }>;
      storedKeys: string[];
    }>({ type: 'stats' });
    return { ...r, queue: { ...this.queue.stats } };
  }

  /** Rejects queued items, releases the sessions (by ending the worker). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.queue.close();
    this.closed = true;
    this.failAll(new Error('InferenceHost closed'));
    // The worker releases its sessions after the run in flight and ends by itself.
    await endWorker(this.worker, { type: 'close', id: this.nextId++ } satisfies Request);
  }
}
