/**
 * The neural stage 2 behind the engine's {@link FaceRenderer} interface: the IP_LAP-shaped renderer split in two
 * (contracts `lipsync.renderer-refenc.v1` + `lipsync.renderer-frame.v1`) and run by an {@link InferenceHost}.
 *
 * - References: observed frames are candidates (128 x 128 crop + sketch + lip opening). Once `referenceCount` are
 *   held (spaced at least `minReferenceGapFrames` apart), N are chosen evenly along the lip-opening order and
 *   encoded ONCE by the reference encoder; the encodings stay in the inference worker under this renderer's key.
 * - Per frame: the frame's crop (lower half zeroed), the 5 target sketches (each target normalised to its own crop
 *   box), the mel chunk, and the stored references go through the per-frame model, batched with other streams that
 *   hold the same N. The face crop is pasted back with the project's feathered lower-face mask (face/geometry).
 */
import {
  computeCropBox,
  createImage,
  CropSampler,
  drawSketch,
  frameToCrop,
  lowerFaceMask,
  PasteBack,
  type Image,
} from '../../face/index.ts';
import type { InferenceHost } from '../../inference/InferenceHost.ts';
import { frameByteLength, type VideoFrame } from '../../media.ts';
import type { FaceRenderer, RendererObservation, RenderRequest } from '../types.ts';
import {
  FACE_SIZE,
  MEL_BINS,
  MEL_CHUNK_FRAMES,
  RENDERER_FRAME_CONTRACT,
  RENDERER_REFENC_CONTRACT,
  SKETCH_CHANNELS,
  SUBSET_POINTS,
  TARGET_SKETCHES,
} from './contracts.ts';
import { meshToSubset } from './NeuralLandmarkGenerator.ts';

export interface NeuralFaceRendererOptions {
  host: InferenceHost;
  /** Model names in the host. */
  refencModel?: string;
  frameModel?: string;
  /** N: references encoded once and used for every frame. Default 3 (IP_LAP training); more = slower per frame. */
  referenceCount?: number;
  /** Candidate frames at least this far apart. Default 5. */
  minReferenceGapFrames?: number;
  /** Crop margin in frame pixels (default 25). */
  cropMarginPx?: number;
}

let nextId = 1;
const S = FACE_SIZE;
const PLANE = S * S;

/** HWC float (0..1) or byte crop -> CHW floats 0..1 at `out[offset..]`. */
function toChw(img: Image, out: Float32Array, offset: number, zeroFromRow = S): void {
  const d = img.data;
  const k = d instanceof Float32Array ? 1 : 1 / 255;
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const p = (y * S + x) * 3;
      const keep = y < zeroFromRow ? k : 0;
      out[offset + y * S + x] = d[p]! * keep;
      out[offset + PLANE + y * S + x] = d[p + 1]! * keep;
      out[offset + 2 * PLANE + y * S + x] = d[p + 2]! * keep;
    }
  }
}

/** A 1-channel sketch -> `channels` identical planes at `out[offset..]`. */
function sketchPlanes(sk: Image, out: Float32Array, offset: number, channels: number): void {
  const d = sk.data as Float32Array;
  for (let c = 0; c < channels; c++) out.set(d.subarray(0, PLANE), offset + c * PLANE);
}

export class NeuralFaceRenderer implements FaceRenderer {
  readonly name = 'neural-iplap';
  readonly contextFrames = (TARGET_SKETCHES - 1) / 2;
  private readonly host: InferenceHost;
  private readonly refencModel: string;
  private readonly frameModel: string;
  private readonly n: number;
  private readonly gap: number;
  private readonly margin: number;
  private readonly key = `neural-renderer-${nextId++}`;
  private readonly candidates: { frameIndex: number; crop: Float32Array; sketch: Float32Array; opening: number }[] = [];
  private encoding: Promise<void> | null = null;
  private encoded = false;
  private closed = false;
  private readonly sampler = new CropSampler();
  private readonly crop = createImage(S, S, 3, 'f32');
  private readonly sketch = createImage(S, S, 1, 'f32');
  private readonly faceOut = createImage(S, S, 3, 'f32');
  private readonly mask = new Float32Array(PLANE);
  private readonly maskScratch = new Float32Array(PLANE);
  private readonly paste = new PasteBack();
  private readonly pts = new Float32Array(SUBSET_POINTS * 2);
  /** Last reference-encoding failure (the renderer then stays not ready). */
  lastError: Error | null = null;

  constructor(opts: NeuralFaceRendererOptions) {
    this.host = opts.host;
    this.refencModel = opts.refencModel ?? 'renderer-refenc';
    this.frameModel = opts.frameModel ?? 'renderer-frame';
    this.n = opts.referenceCount ?? 3;
    this.gap = opts.minReferenceGapFrames ?? 5;
    this.margin = opts.cropMarginPx ?? 25;
  }

  /** Loads both renderer models into the host (checked against their contracts). */
  static async load(
    host: InferenceHost,
    refencPath: string,
    framePath: string,
    opts: Omit<NeuralFaceRendererOptions, 'host'> = {},
  ): Promise<NeuralFaceRenderer> {
    await host.load(opts.refencModel ?? 'renderer-refenc', refencPath, RENDERER_REFENC_CONTRACT.id);
    await host.load(opts.frameModel ?? 'renderer-frame', framePath, RENDERER_FRAME_CONTRACT.id);
    return new NeuralFaceRenderer({ host, ...opts });
  }

  observe(obs: RendererObservation): void {
    if (this.closed || this.encoded || this.encoding) return;
    const last = this.candidates[this.candidates.length - 1];
    if (last && obs.frameIndex - last.frameIndex < this.gap) return;
    const pts = meshToSubset(obs.mesh, this.pts);
    const box = computeCropBox(pts, { margin: this.margin });
    frameToCrop(box, pts, pts);
    this.sampler.sample(obs.frame, box, this.crop);
    drawSketch(pts, this.sketch);
    const crop = new Float32Array(3 * PLANE);
    toChw(this.crop, crop, 0);
    const sketch = new Float32Array(PLANE);
    sketch.set((this.sketch.data as Float32Array).subarray(0, PLANE));
    // Lip opening in crop units: subset positions of mesh points 0 and 17 are found through the mesh directly.
    const opening = Math.hypot(obs.mesh[0]! - obs.mesh[34]!, obs.mesh[1]! - obs.mesh[35]!) / box.size;
    this.candidates.push({ frameIndex: obs.frameIndex, crop, sketch, opening });
    if (this.candidates.length >= this.n) this.encoding = this.encodeReferences();
  }

  private async encodeReferences(): Promise<void> {
    const sorted = [...this.candidates].sort((a, b) => a.opening - b.opening);
    const chosen = Array.from({ length: this.n }, (_, i) => sorted[Math.floor(((i + 0.5) * sorted.length) / this.n)]!);
    const images = new Float32Array(this.n * 3 * PLANE);
    const sketches = new Float32Array(this.n * SKETCH_CHANNELS * PLANE);
    chosen.forEach((c, i) => {
      images.set(c.crop, i * 3 * PLANE);
      for (let ch = 0; ch < SKETCH_CHANNELS; ch++) sketches.set(c.sketch, (i * SKETCH_CHANNELS + ch) * PLANE);
    });
    const dims = [1, this.n, 3, S, S];
    try {
      await this.host.runBatch(
        this.refencModel,
        [{ ref_images: { data: images, dims }, ref_sketches: { data: sketches, dims } }],
        [this.key],
      );
      await this.host.store(this.key, { ref_images: { data: images, dims } });
      this.encoded = !this.closed;
      this.candidates.length = 0;
    } catch (err) {
      this.lastError = err instanceof Error ? err : new Error(String(err));
      this.encoding = null;
      this.candidates.length = 0;
    }
  }

  ready(): boolean {
    return this.encoded && !this.closed;
  }

  /** Resolves once the references are encoded (tests, warm-up). */
  async whenReady(): Promise<boolean> {
    await this.encoding;
    return this.ready();
  }

  async render(req: RenderRequest): Promise<VideoFrame | null> {
    if (!this.ready()) return null;
    if (req.targets.length !== TARGET_SKETCHES) {
      throw new RangeError(`NeuralFaceRenderer: ${TARGET_SKETCHES} targets needed, got ${req.targets.length}`);
    }
    // Crop of the real frame t; the lower half is what the model regenerates.
    const real = meshToSubset(req.mesh, this.pts);
    const box = computeCropBox(real, { margin: this.margin });
    const realNorm = frameToCrop(box, real, new Float32Array(SUBSET_POINTS * 2));
    this.sampler.sample(req.frame, box, this.crop);
    const masked = new Float32Array(3 * PLANE);
    toChw(this.crop, masked, 0, S / 2);
    const sketches = new Float32Array(TARGET_SKETCHES * SKETCH_CHANNELS * PLANE);
    req.targets.forEach((target, j) => {
      const p = meshToSubset(target);
      const b = computeCropBox(p, { margin: this.margin });
      frameToCrop(b, p, p);
      drawSketch(p, this.sketch);
      sketchPlanes(this.sketch, sketches, j * SKETCH_CHANNELS * PLANE, SKETCH_CHANNELS);
    });
    const mel = req.mel ? Float32Array.from(req.mel) : new Float32Array(MEL_BINS * MEL_CHUNK_FRAMES).fill(-4);
    const r = await this.host.run(
      this.frameModel,
      {
        masked_face: { data: masked, dims: [1, 3, S, S] },
        target_sketches: { data: sketches, dims: [1, TARGET_SKETCHES * SKETCH_CHANNELS, S, S] },
        mel: { data: mel, dims: [1, 1, MEL_BINS, MEL_CHUNK_FRAMES] },
        ref_images: { stored: this.key },
        ref_feat1: { stored: this.key },
        ref_feat2: { stored: this.key },
      },
      { groupKey: `N=${this.n}` },
    );
    const face = r.outputs.face!.data;
    const out = this.faceOut.data as Float32Array;
    for (let i = 0; i < PLANE; i++) {
      out[i * 3] = face[i]!;
      out[i * 3 + 1] = face[PLANE + i]!;
      out[i * 3 + 2] = face[2 * PLANE + i]!;
    }
    // The target frame's own content points decide the mask (the mouth may open beyond the real one).
    const targetT = meshToSubset(req.targets[this.contextFrames]!);
    frameToCrop(box, targetT, targetT);
    for (let i = 74 * 2; i < SUBSET_POINTS * 2; i++) realNorm[i] = targetT[i]!;
    lowerFaceMask(realNorm, S, this.mask, {}, this.maskScratch);
    const data = new Uint8Array(frameByteLength(req.frame.format, req.frame.width, req.frame.height));
    data.set(req.frame.data.subarray(0, data.length));
    const result: VideoFrame = { ...req.frame, data };
    this.paste.paste(result, box, this.faceOut, this.mask, this.crop);
    return result;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.candidates.length = 0;
    void this.host.drop(this.key).catch(() => {});
  }
}
