/**
 * The default renderer: an explicit memory of the participant's own lower-face crops keyed by mouth shape (MemFace's
 * explicit memory, IP_LAP's reference choice by opening), filled live with diverse mouth openings. For each output
 * frame the N references whose mouth is closest to the target (opening first, then lip shape) are warped onto the
 * target landmarks with a piecewise-affine map over the lower-face mesh ({@link mouthMesh}) and blended with
 * weights; the inner mouth (teeth, tongue) is taken only from references within an opening tolerance, never
 * smeared across openings. The result is pasted into the real frame with the mesh's feathered weights after a
 * colour correction measured on the feather band. One pass from each reference straight into the frame's pixels:
 * no intermediate crop resampling. Runs on one CPU core in a few milliseconds per frame.
 */
import type { VideoFrame } from '../media.ts';
import { lipStructure, meshVertices, mouthMesh, type LipStructure, type MouthMesh } from './mouthMesh.ts';
import { cropPlane, planesOf, type PlaneCrop } from './planes.ts';
import {
  CONTENT_INDICES,
  contentOpening,
  contentToTemplate,
  applySimilarity,
  interocular,
  invertSimilarity,
  meshToTemplate,
  mouthOpening,
  type Similarity,
} from './shape.ts';
import type { FaceRenderer, RenderRequest, RendererObservation } from './types.ts';

export interface MemoryRendererOptions {
  /**
   * k (default 0): the memory renderer warps to the centre target only, so it asks for no future targets (the
   * scheduler supports k = 2 for renderers that take 2k+1 sketches, e.g. the neural IP_LAP renderer).
   */
  contextFrames: number;
  /** References blended per frame (default 3). */
  blendRefs: number;
  /** Opening bins of the memory (IOD units, default 0.015) and references kept per bin (default 2). */
  binIod: number;
  perBin: number;
  /** Maximum bins (openings beyond binIod * maxBins share the last). Default 24. */
  maxBins: number;
  /** Inner-mouth pixels only come from references within this opening difference (IOD). Default 0.025. */
  innerToleranceIod: number;
  /** References needed before rendering (default 3). */
  minRefs: number;
  /** Reference weight: exp(-distance / sigma), distance in IOD (default 0.01). */
  sigmaIod: number;
  /** Minimum frames between two references taken (keeps them diverse in time). Default 3. */
  minGapFrames: number;
  /** Apply the colour correction (default true). */
  colorMatch: boolean;
  /**
   * Reach of the content displacement onto the other lower-face vertices (Gaussian sigma, IOD of the real face).
   * Default 0.12.
   */
  displaceSigmaIod: number;
  /**
   * Sigma (IOD) of the weights that average the nearby content displacements for a non-content vertex (the lip
   * interior between the contours, the skin around). 0: the reach sigma (the former behaviour). Default 0.
   */
  displaceLocalSigmaIod: number;
  /**
   * Displace the non-content vertices along the lips' structure instead of by distance alone (default true): the
   * semi rings inside each lip move with their own lip's inner and outer contour points of the same column, and the
   * skin above (below) the mouth line never takes a share of the lower (upper) lip's displacement. The distances of
   * the real frame cannot tell the two lips apart when its mouth is closed, so the distance rule mixes their
   * displacements and folds the lips toward each other when the target is more open than the real mouth.
   */
  lipStructure: boolean;
  /** With `lipStructure`: the skin rule (no share of the other lip's displacement). Default false (measured worse). */
  lipSides: boolean;
  /**
   * Inside the pasted region, place the non-content vertices around the best reference's own mesh (brought into the
   * frame by the stable-point similarity) instead of the real frame's (default false); the border and the feather
   * band blend back to the real frame's by the paste weight.
   */
  refGeometry: boolean;
}

export const defaultMemoryRendererOptions: MemoryRendererOptions = {
  contextFrames: 0,
  blendRefs: 3,
  binIod: 0.015,
  perBin: 2,
  maxBins: 24,
  innerToleranceIod: 0.025,
  minRefs: 3,
  sigmaIod: 0.01,
  minGapFrames: 3,
  colorMatch: true,
  displaceSigmaIod: 0.12,
  displaceLocalSigmaIod: 0,
  // On since session 2: the distance rule leaked the real mouth through the render (a constant target mouth still
  // re-tracked at 0.637 correlation with the real opening; 0.120 with the structure rule), which in a dub shows the
  // original speech's lips. Measured in docs/engine.md ("Against the targets").
  lipStructure: true,
  lipSides: false,
  refGeometry: false,
};

interface Reference {
  frameIndex: number;
  opening: number;
  /** Lip points (40) in the template frame. */
  lips: Float32Array;
  /** Mouth-mesh vertex positions in frame pixels (of the reference's frame). */
  verts: Float32Array;
  /** One crop per plane around the mesh. */
  crops: PlaneCrop[];
  format: VideoFrame['format'];
  /** Frontal-ness: smaller is better (|scale change| and rotation of the template fit). */
  quality: number;
  /** The reference frame's similarity to the template frame. */
  toTemplate: Similarity;
}

const LIP_VALUES = 80;

export class MemoryRenderer implements FaceRenderer {
  readonly name = 'memory';
  readonly options: MemoryRendererOptions;
  private readonly mesh: MouthMesh;
  private readonly lips: LipStructure;
  private readonly isContent: Set<number>;
  /** Positions (into the mesh's vertices) of the content vertices and the virtual ones (centre, anchors). */
  private readonly contentPos: number[];
  private readonly bins: Reference[][] = [];
  private lastTaken = -Infinity;
  /** Statistics of the last render (for tests and logs). */
  lastStats = { refs: 0, innerRefs: 0, pixels: 0, colorOffset: [0, 0, 0] as number[], warpMs: 0, compositeMs: 0 };

  constructor(options: Partial<MemoryRendererOptions> = {}) {
    this.options = { ...defaultMemoryRendererOptions, ...options };
    this.mesh = mouthMesh();
    this.lips = lipStructure(this.mesh);
    this.isContent = new Set(CONTENT_INDICES);
    this.contentPos = [];
    this.mesh.vertices.forEach((v, k) => {
      if (v < 0 || this.isContent.has(v)) this.contentPos.push(k);
    });
  }

  get contextFrames(): number {
    return this.options.contextFrames;
  }

  get size(): number {
    return this.bins.reduce((s, b) => s + b.length, 0);
  }

  ready(): boolean {
    return this.size >= this.options.minRefs;
  }

  observe(obs: RendererObservation): void {
    const o = this.options;
    if (obs.frameIndex - this.lastTaken < o.minGapFrames) return;
    const opening = mouthOpening(obs.mesh);
    const bin = Math.min(o.maxBins - 1, Math.max(0, Math.floor(opening / o.binIod)));
    const list = (this.bins[bin] ??= []);
    const t = meshToTemplate(obs.mesh);
    const quality = Math.abs(t.b / Math.hypot(t.a, t.b)); // |sin(roll)|: prefer upright refs
    if (list.length >= o.perBin) {
      // Replace the worst (least upright) or, all equal, the oldest; keeps the memory fresh during a call.
      let worst = 0;
      for (let i = 1; i < list.length; i++) {
        if (list[i]!.quality > list[worst]!.quality + 0.02 || list[i]!.frameIndex < list[worst]!.frameIndex) worst = i;
      }
      if (list[worst]!.quality + 0.05 < quality) return;
      list.splice(worst, 1);
    }
    list.push(this.makeRef(obs, opening, quality));
    this.lastTaken = obs.frameIndex;
  }

  private makeRef(obs: RendererObservation, opening: number, quality: number): Reference {
    const verts = meshVertices(this.mesh, obs.mesh);
    let x0 = Infinity;
    let y0 = Infinity;
    let x1 = -Infinity;
    let y1 = -Infinity;
    for (let i = 0; i < verts.length; i += 2) {
      x0 = Math.min(x0, verts[i]!);
      x1 = Math.max(x1, verts[i]!);
      y0 = Math.min(y0, verts[i + 1]!);
      y1 = Math.max(y1, verts[i + 1]!);
    }
    const crops = planesOf(obs.frame).map((p) =>
      cropPlane(p, x0 * p.scale - 2, y0 * p.scale - 2, x1 * p.scale + 3, y1 * p.scale + 3),
    );
    const toTemplate = meshToTemplate(obs.mesh);
    const lips = contentToTemplate(obs.mesh, toTemplate).slice(0, LIP_VALUES);
    return { frameIndex: obs.frameIndex, opening, lips, verts, crops, format: obs.frame.format, quality, toTemplate };
  }

  /** Picks references for a target (template-frame content points): opening distance + lip-shape distance. */
  private choose(lips: ArrayLike<number>, opening: number, format: VideoFrame['format']) {
    const scored: { ref: Reference; d: number }[] = [];
    for (const list of this.bins) {
      for (const ref of list ?? []) {
        if (ref.format !== format) continue;
        let s = 0;
        for (let j = 0; j < LIP_VALUES; j += 2)
          s += Math.hypot(ref.lips[j]! - lips[j]!, ref.lips[j + 1]! - lips[j + 1]!);
        const d = s / (LIP_VALUES / 2) + Math.abs(ref.opening - opening);
        scored.push({ ref, d });
      }
    }
    scored.sort((a, b) => a.d - b.d);
    return scored.slice(0, this.options.blendRefs);
  }

  render(req: RenderRequest): Promise<VideoFrame | null> {
    return Promise.resolve(this.renderSync(req));
  }

  renderSync(req: RenderRequest): VideoFrame | null {
    const o = this.options;
    const target = req.targets[o.contextFrames] ?? req.targets[req.targets.length >> 1];
    if (!target || !this.ready()) return null;
    const tt = meshToTemplate(target);
    const content = contentToTemplate(target, tt);
    const opening = contentOpening(content);
    const chosen = this.choose(content, opening, req.frame.format);
    if (!chosen.length) return null;
    const best = chosen[0]!.d;
    const refW = chosen.map((c) => Math.exp(-(c.d - best) / o.sigmaIod));
    const innerOk = chosen.map((c, i) => i === 0 || Math.abs(c.ref.opening - opening) <= o.innerToleranceIod);
    // Nearest-opening ref always serves the inner mouth; others only within tolerance.
    const nearestOpen = chosen.reduce(
      (bi, c, i) => (Math.abs(c.ref.opening - opening) < Math.abs(chosen[bi]!.ref.opening - opening) ? i : bi),
      0,
    );
    innerOk[nearestOpen] = true;
    if (Math.abs(chosen[0]!.ref.opening - opening) > o.innerToleranceIod && nearestOpen !== 0) innerOk[0] = false;

    // Target vertices: the real mesh of this frame with its content points moved to the targets; other lower-face
    // vertices follow with a smooth (Gaussian-weighted) share of the nearby content displacement, border fixed.
    const real = req.mesh;
    const tv = this.targetVertices(real, target, chosen[0]!.ref);

    // A copy (Uint8Array.from: a Buffer's slice() would be a view of the input frame).
    const out: VideoFrame = { ...req.frame, data: Uint8Array.from(req.frame.data) };
    const planes = planesOf(out);
    const srcPlanes = planesOf(req.frame);
    const m = this.mesh;
    let pixels = 0;
    const colorOffset: number[] = [];
    let compositeMs = 0;
    const tStart = performance.now();
    planes.forEach((plane, pi) => {
      const src = srcPlanes[pi]!;
      const sc = plane.scale;
      // Bounding box of the target mesh in this plane.
      let bx0 = Infinity;
      let by0 = Infinity;
      let bx1 = -Infinity;
      let by1 = -Infinity;
      for (let i = 0; i < tv.length; i += 2) {
        bx0 = Math.min(bx0, tv[i]! * sc);
        bx1 = Math.max(bx1, tv[i]! * sc);
        by0 = Math.min(by0, tv[i + 1]! * sc);
        by1 = Math.max(by1, tv[i + 1]! * sc);
      }
      bx0 = Math.max(0, Math.floor(bx0));
      by0 = Math.max(0, Math.floor(by0));
      bx1 = Math.min(plane.width - 1, Math.ceil(bx1));
      by1 = Math.min(plane.height - 1, Math.ceil(by1));
      const bw = bx1 - bx0 + 1;
      const bh = by1 - by0 + 1;
      if (bw <= 0 || bh <= 0) return;
      const ch = plane.channels;
      const acc = new Float32Array(bw * bh * ch);
      const alpha = new Float32Array(bw * bh);
      const val = new Float32Array(ch);
      for (let t = 0; t < m.triangles.length; t += 3) {
        const ia = m.triangles[t]!;
        const ib = m.triangles[t + 1]!;
        const ic = m.triangles[t + 2]!;
        const inner = m.innerMouth[t / 3] === 1;
        const ax = tv[2 * ia]! * sc;
        const ay = tv[2 * ia + 1]! * sc;
        const bxx = tv[2 * ib]! * sc;
        const byy = tv[2 * ib + 1]! * sc;
        const cx = tv[2 * ic]! * sc;
        const cy = tv[2 * ic + 1]! * sc;
        const det = (byy - cy) * (ax - cx) + (cx - bxx) * (ay - cy);
        if (Math.abs(det) < 1e-6) continue;
        const wa = m.weights[ia]!;
        const wb = m.weights[ib]!;
        const wc = m.weights[ic]!;
        const tx0 = Math.max(bx0, Math.floor(Math.min(ax, bxx, cx)));
        const tx1 = Math.min(bx1, Math.ceil(Math.max(ax, bxx, cx)));
        const ty0 = Math.max(by0, Math.floor(Math.min(ay, byy, cy)));
        const ty1 = Math.min(by1, Math.ceil(Math.max(ay, byy, cy)));
        for (let py = ty0; py <= ty1; py++) {
          for (let px = tx0; px <= tx1; px++) {
            const la = ((byy - cy) * (px - cx) + (cx - bxx) * (py - cy)) / det;
            const lb = ((cy - ay) * (px - cx) + (ax - cx) * (py - cy)) / det;
            const lc = 1 - la - lb;
            if (la < -1e-4 || lb < -1e-4 || lc < -1e-4) continue;
            const k = (py - by0) * bw + (px - bx0);
            if (alpha[k]! > 0) continue; // shared edge: already drawn
            const w = la * wa + lb * wb + lc * wc;
            if (w <= 0) continue;
            val.fill(0);
            let wsum = 0;
            for (let r = 0; r < chosen.length; r++) {
              if (inner && !innerOk[r]) continue;
              const ref = chosen[r]!.ref;
              const rv = ref.verts;
              const u = (la * rv[2 * ia]! + lb * rv[2 * ib]! + lc * rv[2 * ic]!) * sc;
              const v = (la * rv[2 * ia + 1]! + lb * rv[2 * ib + 1]! + lc * rv[2 * ic + 1]!) * sc;
              const crop = ref.crops[pi]!;
              if (!sampleInto(crop, u - crop.x0, v - crop.y0, val, refW[r]!)) continue;
              wsum += refW[r]!;
            }
            if (wsum <= 0) continue;
            for (let c = 0; c < ch; c++) acc[k * ch + c] = val[c]! / wsum;
            alpha[k] = Math.min(1, w);
          }
        }
      }
      const tc = performance.now();
      // Colour correction: mean difference real - warped on the feather band (0 < alpha < 0.7).
      const off = new Float64Array(ch);
      let n = 0;
      if (o.colorMatch) {
        for (let y = 0; y < bh; y++) {
          for (let x = 0; x < bw; x++) {
            const k = y * bw + x;
            const a = alpha[k]!;
            if (a <= 0.05 || a >= 0.7) continue;
            const si = src.offset + (by0 + y) * src.stride + (bx0 + x) * src.step;
            for (let c = 0; c < ch; c++) off[c]! += src.data[si + c]! - acc[k * ch + c]!;
            n++;
          }
        }
        if (n > 20) for (let c = 0; c < ch; c++) off[c]! /= n;
        else off.fill(0);
      }
      for (let c = 0; c < ch; c++) colorOffset.push(off[c]!);
      for (let y = 0; y < bh; y++) {
        for (let x = 0; x < bw; x++) {
          const k = y * bw + x;
          const a = alpha[k]!;
          if (a <= 0) continue;
          const di = plane.offset + (by0 + y) * plane.stride + (bx0 + x) * plane.step;
          for (let c = 0; c < ch; c++) {
            const v = (1 - a) * plane.data[di + c]! + a * (acc[k * ch + c]! + off[c]!);
            plane.data[di + c] = v < 0 ? 0 : v > 255 ? 255 : v + 0.5;
          }
          pixels++;
        }
      }
      compositeMs += performance.now() - tc;
    });
    this.lastStats = {
      refs: chosen.length,
      innerRefs: innerOk.filter(Boolean).length,
      pixels,
      colorOffset,
      warpMs: performance.now() - tStart - compositeMs,
      compositeMs,
    };
    return out;
  }

  /**
   * Vertex positions of the warp mesh for a target: real border, content from the target, the rest in between
   * (displaced from the real frame's mesh, or with `refGeometry` from the best reference's mesh inside the region).
   */
  private targetVertices(real: Float32Array, target: Float32Array, ref?: Reference): Float32Array {
    const m = this.mesh;
    const rv = meshVertices(m, real);
    const tvFull = meshVertices(m, target);
    const out = this.displaced(rv, tvFull, interocular(real) || 1);
    if (this.options.refGeometry && ref) {
      // The reference's own mesh brought into this frame (similarity on the stable points), then displaced onto the
      // target: the skin and lip interior keep their layout around the reference's lips, which the pixels follow.
      const toFrame = invertSimilarity(meshToTemplate(real));
      const fit = ref.toTemplate;
      const av = new Float32Array(rv.length);
      for (let k = 0; k < m.vertices.length; k++) {
        const [tx, ty] = applySimilarity(fit, ref.verts[2 * k]!, ref.verts[2 * k + 1]!);
        const [x, y] = applySimilarity(toFrame, tx, ty);
        av[2 * k] = x;
        av[2 * k + 1] = y;
      }
      const fromRef = this.displaced(av, tvFull, interocular(real) || 1);
      for (let k = 0; k < m.vertices.length; k++) {
        if (m.border[k]) continue;
        const w = m.weights[k]!;
        out[2 * k] = w * fromRef[2 * k]! + (1 - w) * out[2 * k]!;
        out[2 * k + 1] = w * fromRef[2 * k + 1]! + (1 - w) * out[2 * k + 1]!;
      }
    }
    return out;
  }

  /** `base` with its content vertices moved to `tvFull` and the others taking a share of the nearby displacement. */
  private displaced(base: Float32Array, tvFull: Float32Array, iod: number): Float32Array {
    const m = this.mesh;
    const rv = base;
    const out = new Float32Array(rv.length);
    const isContent = this.isContent;
    const cIdx = this.contentPos;
    const sigma = this.options.displaceSigmaIod * iod;
    const local = (this.options.displaceLocalSigmaIod || this.options.displaceSigmaIod) * iod;
    const structured = this.options.lipStructure;
    const ls = this.lips;
    for (let k = 0; k < m.vertices.length; k++) {
      const v = m.vertices[k]!;
      if (m.border[k]) {
        out[2 * k] = rv[2 * k]!;
        out[2 * k + 1] = rv[2 * k + 1]!;
      } else if (v < 0 || isContent.has(v)) {
        out[2 * k] = tvFull[2 * k]!;
        out[2 * k + 1] = tvFull[2 * k + 1]!;
      } else if (structured && ls.ringInner[k]! >= 0) {
        // A semi-ring vertex inside a lip: the displacement of its column's inner and outer contour points.
        const a = ls.ringInner[k]!;
        const b = ls.ringOuter[k]!;
        const f = ls.ringFraction[k]!;
        out[2 * k] = rv[2 * k]! + (1 - f) * (tvFull[2 * a]! - rv[2 * a]!) + f * (tvFull[2 * b]! - rv[2 * b]!);
        out[2 * k + 1] =
          rv[2 * k + 1]! + (1 - f) * (tvFull[2 * a + 1]! - rv[2 * a + 1]!) + f * (tvFull[2 * b + 1]! - rv[2 * b + 1]!);
      } else {
        // Direction and amount from the nearby content vertices (weights with the local sigma, relative to the
        // nearest one so that they never underflow), damped by the distance to the nearest (the reach sigma). With
        // `lipStructure`, never from the other lip (nor the mouth centre).
        const side = structured && this.options.lipSides ? ls.side[k]! : 0;
        let d2min = Infinity;
        for (const c of cIdx) {
          if (side !== 0 && (ls.side[c] === -side || m.vertices[c]! < 0)) continue;
          const d2 = (rv[2 * c]! - rv[2 * k]!) ** 2 + (rv[2 * c + 1]! - rv[2 * k + 1]!) ** 2;
          if (d2 < d2min) d2min = d2;
        }
        let dx = 0;
        let dy = 0;
        let ws = 0;
        for (const c of cIdx) {
          if (side !== 0 && (ls.side[c] === -side || m.vertices[c]! < 0)) continue;
          const d2 = (rv[2 * c]! - rv[2 * k]!) ** 2 + (rv[2 * c + 1]! - rv[2 * k + 1]!) ** 2;
          const w = Math.exp(-(d2 - d2min) / (2 * local * local));
          dx += w * (tvFull[2 * c]! - rv[2 * c]!);
          dy += w * (tvFull[2 * c + 1]! - rv[2 * c + 1]!);
          ws += w;
        }
        const share = Math.exp(-d2min / (2 * sigma * sigma)) / (ws || 1);
        out[2 * k] = rv[2 * k]! + dx * share;
        out[2 * k + 1] = rv[2 * k + 1]! + dy * share;
      }
    }
    return out;
  }

  close(): void {
    this.bins.length = 0;
  }
}

/** Bilinear sample of `crop` at (u, v) (crop coordinates), added into val with weight w; false when outside. */
function sampleInto(crop: PlaneCrop, u: number, v: number, val: Float32Array, w: number): boolean {
  if (u < 0 || v < 0 || u > crop.width - 1 || v > crop.height - 1) return false;
  const x0 = Math.min(crop.width - 2, Math.floor(u));
  const y0 = Math.min(crop.height - 2, Math.floor(v));
  if (x0 < 0 || y0 < 0) return false;
  const fx = u - x0;
  const fy = v - y0;
  const ch = crop.channels;
  const row = crop.width * ch;
  const i00 = y0 * row + x0 * ch;
  for (let c = 0; c < ch; c++) {
    const a = crop.data[i00 + c]!;
    const b = crop.data[i00 + ch + c]!;
    const d = crop.data[i00 + row + c]!;
    const e = crop.data[i00 + row + ch + c]!;
    val[c]! += w * ((a * (1 - fx) + b * fx) * (1 - fy) + (d * (1 - fx) + e * fx) * fy);
  }
  return true;
}
