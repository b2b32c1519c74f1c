/**
 * Implicit memory (MemFace / SyncTalkFace style, training-free): keys are normalised audio features of the
 * participant's own speech, values are the mouth shapes observed at the same moments (57 content points in the
 * pose-normalised template frame, plus the opening). A query is answered by attention: cosine similarity with every
 * key, softmax over the top-k with a temperature, weighted mean of their values.
 */
import { CONTENT_POINTS } from './types.ts';

export interface ImplicitMemoryOptions {
  /** Audio feature length. */
  keyDim: number;
  /** Entries kept; the oldest is replaced when full (default 4000 = 160 s of speech at 25 fps). */
  capacity: number;
  /** Entries attended to per query (default 8). */
  topK: number;
  /** Softmax temperature on cosine similarity (default 0.05). */
  temperature: number;
}

export interface MemoryReadout {
  /** Weighted template-frame content points (114 values). */
  shape: Float32Array;
  /** Weighted mouth opening, IOD. */
  opening: number;
  /** Best cosine similarity found (confidence of the read). */
  bestSimilarity: number;
}

export class ImplicitMemory {
  readonly options: ImplicitMemoryOptions;
  private readonly keys: Float32Array;
  private readonly keyNorms: Float32Array;
  private readonly shapes: Float32Array;
  private readonly openings: Float32Array;
  private count = 0;
  private next = 0;
  private readonly sims: Float32Array;

  constructor(options: Partial<ImplicitMemoryOptions> & { keyDim: number }) {
    this.options = { capacity: 4000, topK: 8, temperature: 0.05, ...options };
    const { capacity, keyDim } = this.options;
    this.keys = new Float32Array(capacity * keyDim);
    this.keyNorms = new Float32Array(capacity);
    this.shapes = new Float32Array(capacity * CONTENT_POINTS * 2);
    this.openings = new Float32Array(capacity);
    this.sims = new Float32Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Stores (audio key -> mouth shape). The key is centred (its mean removed) so cosine compares spectral shape. */
  write(key: ArrayLike<number>, shape: ArrayLike<number>, opening: number): void {
    const { keyDim, capacity } = this.options;
    const i = this.next;
    let mean = 0;
    for (let d = 0; d < keyDim; d++) mean += key[d]!;
    mean /= keyDim;
    let nn = 0;
    for (let d = 0; d < keyDim; d++) {
      const v = key[d]! - mean;
      this.keys[i * keyDim + d] = v;
      nn += v * v;
    }
    this.keyNorms[i] = Math.sqrt(nn) || 1;
    this.shapes.set(
      Array.from({ length: CONTENT_POINTS * 2 }, (_, j) => shape[j]!),
      i * CONTENT_POINTS * 2,
    );
    this.openings[i] = opening;
    this.next = (i + 1) % capacity;
    this.count = Math.min(capacity, this.count + 1);
  }

  /** Attention read; null when empty. */
  read(key: ArrayLike<number>, out?: MemoryReadout): MemoryReadout | null {
    if (this.count === 0) return null;
    const { keyDim, temperature } = this.options;
    const topK = Math.min(this.options.topK, this.count);
    let mean = 0;
    for (let d = 0; d < keyDim; d++) mean += key[d]!;
    mean /= keyDim;
    let qn = 0;
    for (let d = 0; d < keyDim; d++) qn += (key[d]! - mean) ** 2;
    qn = Math.sqrt(qn) || 1;
    for (let i = 0; i < this.count; i++) {
      let dot = 0;
      const off = i * keyDim;
      for (let d = 0; d < keyDim; d++) dot += (key[d]! - mean) * this.keys[off + d]!;
      this.sims[i] = dot / (qn * this.keyNorms[i]!);
    }
    // Top-k by partial selection (k is small).
    const idx: number[] = [];
    for (let i = 0; i < this.count; i++) {
      const s = this.sims[i]!;
      if (idx.length < topK) {
        idx.push(i);
        idx.sort((a, b) => this.sims[b]! - this.sims[a]!);
      } else if (s > this.sims[idx[topK - 1]!]!) {
        idx[topK - 1] = i;
        idx.sort((a, b) => this.sims[b]! - this.sims[a]!);
      }
    }
    const best = this.sims[idx[0]!]!;
    const res: MemoryReadout = out ?? {
      shape: new Float32Array(CONTENT_POINTS * 2),
      opening: 0,
      bestSimilarity: 0,
    };
    res.shape.fill(0);
    let wSum = 0;
    let open = 0;
    for (const i of idx) {
      const w = Math.exp((this.sims[i]! - best) / temperature);
      wSum += w;
      open += w * this.openings[i]!;
      const off = i * CONTENT_POINTS * 2;
      for (let j = 0; j < CONTENT_POINTS * 2; j++) res.shape[j]! += w * this.shapes[off + j]!;
    }
    for (let j = 0; j < CONTENT_POINTS * 2; j++) res.shape[j]! /= wSum;
    res.opening = open / wSum;
    res.bestSimilarity = best;
    return res;
  }
}
