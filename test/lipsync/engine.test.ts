import { describe, expect, it } from 'vitest';
import { LipsyncEngine } from '../../src/pipeline/lipsync/LipsyncEngine.ts';
import { ImplicitMemory } from '../../src/pipeline/lipsync/ImplicitMemory.ts';
import { MemoryGenerator } from '../../src/pipeline/lipsync/MemoryGenerator.ts';
import { MemoryRenderer, type MemoryRendererOptions } from '../../src/pipeline/lipsync/MemoryRenderer.ts';
import { algorithmicLatency, windowFor } from '../../src/pipeline/lipsync/scheduler.ts';
import { mouthOpening } from '../../src/pipeline/lipsync/shape.ts';
import type { FaceRenderer, LandmarkGenerator } from '../../src/pipeline/lipsync/types.ts';
import type { AudioFrame, VideoFrame } from '../../src/pipeline/media.ts';
import { faceResult, patternFrame, syntheticMesh } from './fixtures.ts';

function audio(tsUs: number, n = 640, f = 220): AudioFrame {
  const data = new Int16Array(n);
  for (let i = 0; i < n; i++)
    data[i] = Math.round(8000 * Math.sin((2 * Math.PI * f * (tsUs / 1e6 + i / 16000)) % (2 * Math.PI)));
  return { data, sampleRate: 16000, channels: 1, samplesPerChannel: n, timestampUs: tsUs };
}

/** A generator that returns the real content points (identity) and records its windows. */
class EchoGenerator implements LandmarkGenerator {
  readonly name = 'echo';
  readonly windowFrames = 5;
  readonly melOffsetFrames = 0;
  windows: number[][] = [];
  failAt = new Set<number>();
  generate(w: Parameters<LandmarkGenerator['generate']>[0]) {
    this.windows.push(w.frames.map((f) => f.frameIndex));
    if (w.frames.some((f) => this.failAt.has(f.frameIndex))) return Promise.reject(new Error('model error'));
    expect(w.mel).toHaveLength(w.frames.length);
    expect(w.mel[0]!.length).toBe(80 * 16);
    return Promise.resolve({
      content: w.frames.map(() => new Float32Array(114)),
    });
  }
  close() {}
}

/** A renderer that paints the frame white (so rendered frames are recognisable). */
class WhiteRenderer implements FaceRenderer {
  readonly name = 'white';
  readonly contextFrames = 2;
  targetsSeen = 0;
  ready() {
    return true;
  }
  render(req: Parameters<FaceRenderer['render']>[0]) {
    expect(req.targets).toHaveLength(5);
    this.targetsSeen++;
    return Promise.resolve({ ...req.frame, data: new Uint8Array(req.frame.data.length).fill(255) });
  }
  close() {}
}

async function runEngine(engine: LipsyncEngine, frames: number, noFaceAt = new Set<number>()) {
  const out: VideoFrame[] = [];
  const outAudio: AudioFrame[] = [];
  engine.on('video', (f) => out.push(f));
  engine.on('audio', (f) => outAudio.push(f));
  const t0 = 1_000_000;
  for (let i = 0; i < frames; i++) {
    engine.pushSpeakerAudio(audio(t0 + i * 40_000));
    engine.pushVideo({ ...patternFrame(64, 64, i, 0), timestampUs: t0 + i * 40_000 });
    if (i % 3 === 0) await engine.settled();
  }
  await engine.flush();
  void noFaceAt;
  return { out, outAudio, t0 };
}

describe('scheduler', () => {
  it('computes the algorithmic latency from T, k and the audio chunk', () => {
    const l = algorithmicLatency({ windowFrames: 5, contextFrames: 2, hop: 'sliding', melOffsetFrames: 0, fps: 25 });
    // chunk of 16 mel frames from the frame's start: 15 * 12.5 + 25 = 212.5 ms; k + T/2 = 4 frames = 160 ms.
    expect(l.audioLookaheadMs).toBeCloseTo(212.5);
    expect(l.totalMs).toBeCloseTo(372.5);
    const b = algorithmicLatency({ windowFrames: 5, contextFrames: 2, hop: 'block', melOffsetFrames: -5, fps: 25 });
    expect(b.lookaheadFrames).toBe(6);
    expect(b.totalMs).toBeCloseTo(240 + 150);
    expect(windowFor(7, { windowFrames: 5, hop: 'sliding' }, 100)).toEqual([5, 6, 7, 8, 9]);
    expect(windowFor(7, { windowFrames: 5, hop: 'block' }, 100)).toEqual([5, 6, 7, 8, 9]);
    expect(windowFor(1, { windowFrames: 5, hop: 'sliding' }, 100)).toEqual([0, 1, 2, 3]);
  });

  it('emits every frame once, in order, shifted by one constant delay (audio too)', async () => {
    const gen = new EchoGenerator();
    const mesh = syntheticMesh(0.2, 32, 30, 3);
    const engine = new LipsyncEngine({
      track: () => faceResult(mesh),
      generator: gen,
      renderer: new WhiteRenderer(),
    });
    const { out, outAudio, t0 } = await runEngine(engine, 40);
    expect(out).toHaveLength(40);
    out.forEach((f, i) => expect(f.timestampUs).toBe(t0 + i * 40_000 + engine.delayMs * 1000));
    expect(outAudio).toHaveLength(40);
    outAudio.forEach((f, i) => expect(f.timestampUs).toBe(t0 + i * 40_000 + engine.delayMs * 1000));
    // Fade-in from the original, then fully rendered frames.
    expect(out[0]!.data[0]).toBeLessThan(255);
    expect(out[10]!.data[0]).toBe(255);
    // Sliding windows centred on each frame.
    expect(gen.windows[10]).toEqual([8, 9, 10, 11, 12]);
  });

  it('falls back to the original frame (with a cross-fade) on no face and on a model error', async () => {
    const gen = new EchoGenerator();
    gen.failAt.add(30);
    const mesh = syntheticMesh(0.2, 32, 30, 3);
    const warnings: string[] = [];
    const engine = new LipsyncEngine({
      track: (_f, i) => (i >= 15 && i < 20 ? { ok: false, reason: 'no-face' } : faceResult(mesh)),
      generator: gen,
      renderer: new WhiteRenderer(),
    });
    engine.on('warning', (m) => warnings.push(m));
    const { out } = await runEngine(engine, 40);
    expect(out).toHaveLength(40);
    const orig = (i: number) => patternFrame(64, 64, i, 0).data;
    for (let i = 15; i < 20; i++)
      expect(Array.from(out[i]!.data.subarray(0, 64))).toEqual(Array.from(orig(i).subarray(0, 64)));
    // Fading out before the gap (lookahead) and in after it: partial values, never black.
    expect(out[14]!.data[0]).toBeLessThan(255);
    expect(out[14]!.data[0]).toBeGreaterThan(orig(14)[0]!);
    expect(out[21]!.data[0]).toBeLessThan(255);
    // Frames whose window contains frame 30 failed -> original frames; warnings say why.
    expect(Array.from(out[30]!.data.subarray(0, 8))).toEqual(Array.from(orig(30).subarray(0, 8)));
    expect(warnings.some((w) => w.includes('generator error'))).toBe(true);
    for (const f of out) expect(f.data.some((v) => v > 0)).toBe(true);
  });
});

describe('drive phones', () => {
  it('reach the generator on the frame clock, once the first frame fixes it', async () => {
    const gen = new EchoGenerator() as EchoGenerator & {
      got: { phone: string; startMs: number }[];
      addPhones: unknown;
    };
    gen.got = [];
    gen.addPhones = (s: { phone: string; startMs: number }[]) => gen.got.push(...s);
    const mesh = syntheticMesh(0.2, 32, 30, 3);
    const engine = new LipsyncEngine({ track: () => faceResult(mesh), generator: gen, renderer: new WhiteRenderer() });
    engine.pushDrivePhones([{ phone: 'AA', startUs: 1_200_000, endUs: 1_300_000 }]);
    expect(gen.got).toHaveLength(0);
    await runEngine(engine, 3); // first frame at 1_000_000 us
    expect(gen.got).toEqual([{ phone: 'AA', startMs: 200, endMs: 300 }]);
  });

  it('open the predicted mouth on open vowels and close it on bilabials', async () => {
    const g = new MemoryGenerator({ minObserved: 5, weights: { prior: 0, phones: 1, memory: 0 }, smoothingFrames: 0 });
    const mel = new Float32Array(80 * 16);
    for (let i = 0; i < 20; i++) g.observe({ frameIndex: i, mel, mesh: syntheticMesh((i % 5) * 0.08) });
    g.addPhones([
      { phone: 'AA', startMs: 4000, endMs: 4400 },
      { phone: 'M', startMs: 4400, endMs: 4800 },
    ]);
    // The mouth leads the sound (phoneLeadMs 65): frame 100 (4000 ms) reads 4065 ms.
    const at = async (f: number) => {
      const frames = [f - 2, f - 1, f, f + 1, f + 2].map((k) => ({ frameIndex: k, mesh: syntheticMesh(0) }));
      const r = await g.generate({ frames, mel: frames.map(() => mel) });
      return r.openingIod![2]!;
    };
    expect(await at(103)).toBeGreaterThan((await at(113)) + 0.05);
  });
});

describe('implicit memory', () => {
  it('returns the stored shape for its own key', () => {
    const mem = new ImplicitMemory({ keyDim: 16, topK: 4, temperature: 0.02 });
    const shapes: Float32Array[] = [];
    for (let k = 0; k < 30; k++) {
      const key = Float32Array.from({ length: 16 }, (_, d) => Math.sin(k * 1.7 + d * (0.3 + k * 0.05)));
      const shape = Float32Array.from({ length: 114 }, (_, j) => k * 100 + j);
      shapes.push(shape);
      mem.write(key, shape, k / 100);
    }
    for (const k of [0, 7, 29]) {
      const key = Float32Array.from({ length: 16 }, (_, d) => Math.sin(k * 1.7 + d * (0.3 + k * 0.05)));
      const r = mem.read(key)!;
      expect(r.bestSimilarity).toBeCloseTo(1, 5);
      expect(r.opening).toBeCloseTo(k / 100, 2);
      for (let j = 0; j < 114; j += 13) expect(r.shape[j]).toBeCloseTo(shapes[k]![j]!, -1);
    }
  });
});

describe('memory generator', () => {
  it('keeps the real mouth until it has learned, then predicts within the speaker range', async () => {
    const gen = new MemoryGenerator({ minObserved: 10, minMemory: 5 });
    const mel = new Float32Array(80 * 16);
    for (let i = 0; i < 20; i++) {
      for (let j = 0; j < mel.length; j++) mel[j] = Math.sin(i + j * 0.01) * (i % 2 ? 2 : -2);
      gen.observe({ frameIndex: i, mel: mel.slice(), mesh: syntheticMesh((i % 4) * 0.1) });
    }
    const frames = [0, 1, 2, 3, 4].map((d) => ({ frameIndex: 100 + d, mesh: syntheticMesh(0) }));
    const res = await gen.generate({ frames, mel: frames.map(() => mel.slice()) });
    expect(res.content).toHaveLength(5);
    for (const o of res.openingIod!) {
      expect(o).toBeGreaterThanOrEqual(gen.speaker.minO - 1e-9);
      expect(o).toBeLessThanOrEqual(gen.speaker.maxO * 1.1 + 1e-9);
    }
    for (const c of res.content) for (const v of c) expect(Number.isFinite(v)).toBe(true);
  });
});

describe('memory renderer', () => {
  it('reproduces a frame from its own reference (oracle) and moves the mouth to the target', () => {
    const r = new MemoryRenderer({ minRefs: 1, minGapFrames: 0 });
    const frames = [0, 0.15, 0.3].map((open, i) => {
      const mesh = syntheticMesh(open);
      const f = patternFrame(256, 256, i, 0);
      return { mesh, f };
    });
    frames.forEach(({ mesh, f }, i) => r.observe({ frameIndex: i * 10, frame: f, mesh }));
    expect(r.ready()).toBe(true);
    const { mesh, f } = frames[1]!;
    const out = r.renderSync({ frame: f, mesh, targets: [mesh, mesh, mesh, mesh, mesh] })!;
    let se = 0;
    for (let i = 0; i < 256 * 256; i++) se += (out.data[i]! - f.data[i]!) ** 2;
    const psnr = 10 * Math.log10((255 * 255) / Math.max(1e-9, se / (256 * 256)));
    expect(psnr).toBeGreaterThan(35);
    expect(r.lastStats.pixels).toBeGreaterThan(1000);
    // Rendering the open-mouth target onto the frame changes the mouth region.
    const open = syntheticMesh(0.3);
    expect(mouthOpening(open)).toBeGreaterThan(mouthOpening(mesh));
    const out2 = r.renderSync({ frame: f, mesh, targets: [open, open, open, open, open] })!;
    let diff = 0;
    for (let i = 0; i < 256 * 256; i++) diff += Math.abs(out2.data[i]! - f.data[i]!);
    expect(diff).toBeGreaterThan(1000);
  });

  it('moves the lip interior with its own lip when the local displacement sigma is small', () => {
    // Lower lip contour down by 0.3 cm; vertex 15 lies between the inner (14) and outer (17) lower-lip contours and
    // is not a content point: its displacement comes from the content vertices around it.
    const real = syntheticMesh(0);
    const target = syntheticMesh(0.3);
    const shift = 0.3 * 12;
    const dy = (options: Partial<MemoryRendererOptions>) => {
      const r = new MemoryRenderer(options) as unknown as {
        mesh: { vertices: Int32Array };
        targetVertices(real: Float32Array, target: Float32Array): Float32Array;
      };
      const k = r.mesh.vertices.indexOf(15);
      expect(k).toBeGreaterThanOrEqual(0);
      return r.targetVertices(real, target)[2 * k + 1]! - real[2 * 15 + 1]!;
    };
    // The distance rule (lipStructure off; the structure rule, the default, is the next test's).
    const wide = dy({ lipStructure: false });
    expect(dy({ lipStructure: false, displaceLocalSigmaIod: 0.12 })).toBeCloseTo(wide, 9); // 0 = the reach sigma
    const local = dy({ lipStructure: false, displaceLocalSigmaIod: 0.03 });
    expect(local).toBeGreaterThan(wide);
    expect(local).toBeGreaterThan(0.8 * shift);
    expect(local).toBeLessThanOrEqual(shift + 1e-6);
  });

  it('moves each lip ring with its own lip and keeps the upper lip still with lipStructure (the default)', () => {
    // The lower lip contours move down by 0.3 cm (the upper lip stays). 15 and 16 lie inside the lower lip, 12 and 11
    // inside the upper lip; none is a content point.
    const real = syntheticMesh(0);
    const target = syntheticMesh(0.3);
    const shift = 0.3 * 12;
    const dy = (options: Partial<MemoryRendererOptions>, i: number) => {
      const r = new MemoryRenderer(options) as unknown as {
        mesh: { vertices: Int32Array };
        targetVertices(real: Float32Array, target: Float32Array): Float32Array;
      };
      const k = r.mesh.vertices.indexOf(i);
      expect(k).toBeGreaterThanOrEqual(0);
      return r.targetVertices(real, target)[2 * k + 1]! - real[2 * i + 1]!;
    };
    const distance = { lipStructure: false };
    for (const i of [15, 16]) {
      expect(dy({}, i)).toBeCloseTo(shift, 4); // the default is the structure rule
      expect(dy(distance, i)).toBeLessThan(0.8 * shift); // the distance rule mixes in the upper lip (which stays)
    }
    for (const i of [11, 12]) {
      expect(Math.abs(dy({}, i))).toBeLessThan(1e-4);
      expect(dy(distance, i)).toBeGreaterThan(0.1 * shift);
    }
    // With lipSides, skin below the mouth takes no share of the (still) upper lip: it moves more than with the
    // distance rule.
    expect(dy({ lipStructure: true, lipSides: true }, 18)).toBeGreaterThan(dy(distance, 18));
  });

  it('places the warp mesh around the best reference with refGeometry (real border kept)', () => {
    const r = new MemoryRenderer({ minRefs: 1, minGapFrames: 0, lipStructure: true, refGeometry: true });
    const open = syntheticMesh(0.3);
    const closed = syntheticMesh(0);
    r.observe({ frameIndex: 0, frame: patternFrame(256, 256, 0, 0), mesh: open });
    const out = r.renderSync({ frame: patternFrame(256, 256, 1, 0), mesh: closed, targets: [open] });
    expect(out).not.toBeNull();
    const rr = r as unknown as {
      mesh: { vertices: Int32Array; border: Uint8Array; weights: Float32Array };
      targetVertices(real: Float32Array, target: Float32Array, ref?: unknown): Float32Array;
      bins: unknown[][];
    };
    const ref = rr.bins.flat()[0];
    const tv = rr.targetVertices(closed, open, ref);
    // The target is the reference's own shape: every vertex lands on the reference's (= the open mesh's) position,
    // except the border and the feather band, which stay on (or blend back to) the real frame's.
    const k15 = rr.mesh.vertices.indexOf(15);
    expect(tv[2 * k15 + 1]!).toBeCloseTo(open[2 * 15 + 1]!, 3);
    rr.mesh.vertices.forEach((v, k) => {
      if (v >= 0 && rr.mesh.border[k]) expect(tv[2 * k + 1]!).toBeCloseTo(closed[2 * v + 1]!, 4);
    });
  });

  it('returns null (engine falls back) before it holds references', () => {
    const r = new MemoryRenderer();
    const mesh = syntheticMesh(0);
    expect(r.renderSync({ frame: patternFrame(64, 64, 0, 0), mesh, targets: [mesh] })).toBeNull();
  });
});
