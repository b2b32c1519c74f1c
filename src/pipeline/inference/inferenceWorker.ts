/**
 * Entry of the inference worker thread: owns the onnxruntime sessions, so that session.run (synchronous native code)
 * never blocks the thread that serves media and signalling.
 *
 * - Sessions are created once per model (`load`), on the requested provider or CPU (providers.ts), and checked
 *   against their contract before the first run.
 * - A `run` carries one or more items (one per stream); the worker concatenates them along dim 0 into preallocated
 *   input buffers (one set per batch shape, reused), runs once and splits the outputs per item.
 * - Tensors can be stored in the worker (`store`, or `run` with `storeAs`) and referenced by later runs: the
 *   renderer's reference encodings stay here and are computed once per reference set.
 */
import '../../polyfills.ts';
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { CONTRACTS, ContractError, checkContract, type DeclaredTensor } from '../lipsync/neural/contracts.ts';
import type { FeedMsg, LoadedModelInfo, ModelStats, Request, Response, RunResult, TensorMsg } from './protocol.ts';
import { createSession } from './providers.ts';

interface Loaded {
  info: LoadedModelInfo;
  session: InferenceSession;
  stats: ModelStats;
  /** Preallocated inputs per batch signature (dims of every input). */
  buffers: Map<string, Record<string, Tensor>>;
}

const models = new Map<string, Loaded>();
const stored = new Map<string, Record<string, TensorMsg>>();
const port = parentPort;
if (!port) throw new Error('inferenceWorker.ts must run in a worker thread');

function send(msg: Response, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(msg, transfer);
}

function log(message: string): void {
  send({ id: -1, log: message });
}

async function load(req: Extract<Request, { type: 'load' }>): Promise<LoadedModelInfo> {
  const contract = CONTRACTS[req.contract];
  if (!contract) throw new Error(`unknown contract '${req.contract}' (known: ${Object.keys(CONTRACTS).join(', ')})`);
  const prev = models.get(req.model);
  if (prev) await prev.session.release();
  const created = await createSession(ort, req.path, {
    provider: req.provider,
    intraOpNumThreads: req.threads,
    preferFp16: req.preferFp16,
    log,
  });
  const s = created.session;
  let dims: Record<string, number>;
  try {
    dims = checkContract(
      contract,
      {
        inputs: s.inputMetadata as readonly DeclaredTensor[],
        outputs: s.outputMetadata as readonly DeclaredTensor[],
      },
      req.path,
    );
  } catch (err) {
    await s.release();
    throw err;
  }
  const info: LoadedModelInfo = {
    model: req.model,
    path: created.modelPath,
    contract: contract.id,
    requested: created.requested,
    provider: created.provider,
    precision: created.precision,
    createMs: created.createMs,
    dims,
    inputs: [...s.inputNames],
    outputs: [...s.outputNames],
    ...(created.fallbackReason !== undefined ? { fallbackReason: created.fallbackReason } : {}),
  };
  models.set(req.model, { info, session: s, stats: emptyStats(), buffers: new Map() });
  return info;
}

function emptyStats(): ModelStats {
  return { runs: 0, items: 0, totalMs: 0, maxMs: 0, byBatch: {} };
}

function resolveFeed(name: string, feed: FeedMsg): TensorMsg {
  if ('stored' in feed) {
    const set = stored.get(feed.stored);
    const t = set?.[feed.name ?? name];
    if (!t) throw new Error(`input '${name}': no stored tensor '${feed.name ?? name}' under key '${feed.stored}'`);
    return t;
  }
  return feed;
}

async function run(req: Extract<Request, { type: 'run' }>): Promise<{ result: RunResult; transfer: ArrayBuffer[] }> {
  const m = models.get(req.model);
  if (!m) throw new Error(`model '${req.model}' is not loaded`);
  if (!req.items.length) throw new Error('run with no items');
  const t0 = performance.now();
  const perItem = req.items.map((item) => {
    const out: Record<string, TensorMsg> = {};
    for (const name of m.info.inputs) {
      const feed = item[name];
      if (!feed) throw new Error(`${req.model}: item has no input '${name}'`);
      out[name] = resolveFeed(name, feed);
    }
    return out;
  });
  // Batch dims: every item's dims must agree except dim 0, which adds up.
  const counts = perItem.map((it) => it[m.info.inputs[0]!]!.dims[0]!);
  const total = counts.reduce((a, b) => a + b, 0);
  const batchDims: Record<string, number[]> = {};
  for (const name of m.info.inputs) {
    const first = perItem[0]![name]!.dims;
    perItem.forEach((it, i) => {
      const d = it[name]!.dims;
      if (d.length !== first.length || d.some((v, j) => j > 0 && v !== first[j]) || d[0] !== counts[i]) {
        throw new Error(
          `${req.model}: input '${name}' of item ${i} is [${d.join(', ')}], not batchable with [${first.join(', ')}]`,
        );
      }
      const want = d.reduce((a, b) => a * b, 1);
      if (it[name]!.data.length !== want) {
        throw new Error(
          `${req.model}: input '${name}' of item ${i} has ${it[name]!.data.length} values, dims say ${want}`,
        );
      }
    });
    batchDims[name] = [total, ...first.slice(1)];
  }
  const signature = m.info.inputs.map((n) => batchDims[n]!.join('x')).join('|');
  let feeds = m.buffers.get(signature);
  if (!feeds) {
    feeds = {};
    for (const name of m.info.inputs) {
      const dims = batchDims[name]!;
      feeds[name] = new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
    }
    // A handful of shapes at most (batch sizes x reference counts); drop the oldest beyond that.
    if (m.buffers.size >= 16) m.buffers.delete(m.buffers.keys().next().value!);
    m.buffers.set(signature, feeds);
  }
  for (const name of m.info.inputs) {
    const dst = feeds[name]!.data as Float32Array;
    let at = 0;
    for (const it of perItem) {
      dst.set(it[name]!.data, at);
      at += it[name]!.data.length;
    }
  }
  const t1 = performance.now();
  const results = await m.session.run(feeds);
  const t2 = performance.now();
  const runMs = t2 - t1;
  m.stats.runs++;
  m.stats.items += req.items.length;
  m.stats.totalMs += runMs;
  m.stats.maxMs = Math.max(m.stats.maxMs, runMs);
  const bb = (m.stats.byBatch[total] ??= { runs: 0, totalMs: 0 });
  bb.runs++;
  bb.totalMs += runMs;

  const outputs: Record<string, TensorMsg>[] = perItem.map(() => ({}));
  const transfer: ArrayBuffer[] = [];
  for (const name of m.info.outputs) {
    const t = results[name]!;
    const data = t.data as Float32Array;
    const dims = t.dims.map(Number);
    const per = data.length / total;
    let at = 0;
    counts.forEach((c, i) => {
      const slice = data.slice(at * per, (at + c) * per);
      at += c;
      const msg = { data: slice, dims: [c, ...dims.slice(1)] };
      const key = req.storeAs?.[i];
      if (key !== undefined) {
        const set = stored.get(key) ?? {};
        set[name] = msg;
        stored.set(key, set);
      } else {
        outputs[i]![name] = msg;
        transfer.push(slice.buffer);
      }
    });
  }
  // onnxruntime's output tensors are freed with the result object.
  for (const t of Object.values(results)) t.dispose();
  return { result: { outputs, runMs, assembleMs: t1 - t0, batch: total }, transfer };
}

async function handle(req: Request): Promise<void> {
  try {
    switch (req.type) {
      case 'load':
        send({ id: req.id, ok: true, result: await load(req) });
        return;
      case 'run': {
        const { result, transfer } = await run(req);
        send({ id: req.id, ok: true, result }, transfer);
        return;
      }
      case 'store':
        stored.set(req.key, { ...(stored.get(req.key) ?? {}), ...req.tensors });
        send({ id: req.id, ok: true, result: null });
        return;
      case 'drop':
        stored.delete(req.key);
        send({ id: req.id, ok: true, result: null });
        return;
      case 'stats': {
        const out: Record<string, { info: LoadedModelInfo; stats: ModelStats }> = {};
        for (const [k, m] of models) out[k] = { info: m.info, stats: m.stats };
        send({ id: req.id, ok: true, result: { models: out, storedKeys: [...stored.keys()] } });
        return;
      }
      case 'close': {
        // After the run in flight (requests are chained): release the sessions, then let the thread end by itself.
        for (const m of models.values()) await m.session.release().catch(() => {});
        models.clear();
        stored.clear();
        port!.close();
        return;
      }
      case 'unload': {
        const m = models.get(req.model);
        models.delete(req.model);
        if (m) await m.session.release();
        send({ id: req.id, ok: true, result: null });
        return;
      }
    }
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    send({
      id: req.id,
      ok: false,
      error: {
        name: e.name,
        message: e.message,
        ...(err instanceof ContractError ? { problems: [...err.problems], contract: err.contractId } : {}),
      },
    });
  }
}

// Requests are handled one at a time, in order: one session.run at a time on this thread anyway.
let chain: Promise<void> = Promise.resolve();
port.on('message', (req: Request) => {
  chain = chain.then(() => handle(req));
});
