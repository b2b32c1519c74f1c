/**
 * Reconstruction evaluation. For each clip: decode at the engine's 25 fps clock, track every frame (the project's own
 * tracker), run three lip-sync engines side by side on the same input (the default generator; the speaker's mean
 * warm-up mouth; the real landmarks = oracle). First half: warm-up (memories learn; not scored). Second half:
 * learning off, the mouth re-rendered from the clip's own audio, and each OUTPUT frame tracked again with a fresh
 * tracker, so both sides of every landmark figure are measured by the same tracker on real pixels.
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { isNarrowBand } from '../../audio/bandwidth.ts';
import { BlazeFaceDetector, createFaceTracker, defaultFaceModelDir, type FaceTracker } from '../../face/index.ts';
import type { Detection } from '../../face/models.ts';
import type { FaceResult } from '../../face/types.ts';
import { MediaFileReader, probeMediaFile, readAudioPcm, type MediaFileInfo } from '../../io/mediaFile.ts';
import type { AudioFrame, VideoFrame } from '../../media.ts';
import { LipsyncEngine } from '../LipsyncEngine.ts';
import type { NeuralPath } from '../neural/index.ts';
import { NeuralLandmarkGenerator } from '../neural/NeuralLandmarkGenerator.ts';
import type { FaceRenderer, LandmarkGenerator } from '../types.ts';
import { defaultMemoryGeneratorOptions, MemoryGenerator, type MemoryGeneratorOptions } from '../MemoryGenerator.ts';
import { MemoryRenderer, type MemoryRendererOptions } from '../MemoryRenderer.ts';
import { defaultPriorPath, OpeningPrior } from '../OpeningPrior.ts';
import { allphoneAvailable, PhoneTrack, recognizePhones } from '../phones.ts';
import { meshXY, mouthOpening, withContent } from '../shape.ts';
import { bestLagMs, cropQuality, lipDistanceIod, lipJitter, lowerFaceBox, pearson } from './metrics.ts';

export interface EvalOptions {
  /**
   * The clip's name in the figures, logs, dumps and the prior's fold lookup (default: the file name). evaluateFolder
   * passes the path relative to its folder, '/'-separated (`speaker/clip.mp4`).
   */
  clipName?: string;
  /** Only this many seconds of each clip (default: all). */
  maxSeconds?: number;
  /** Use pocketsphinx allphone phones of the drive audio (default: when installed). */
  phones?: boolean;
  /** Prior model file (default models/lipsync/opening-prior.json); leave-one-clip-out folds are used. */
  priorPath?: string;
  /** Generator settings (fusion weights, lead...). */
  generator?: Partial<MemoryGeneratorOptions>;
  /** Memory renderer settings (every engine that uses the memory renderer, baselines included). */
  renderer?: Partial<MemoryRendererOptions>;
  log?: (m: string) => void;
  /** Receives per-frame real meshes + audio for the prior builder. */
  onTrack?: (clip: string, data: TrackedClip) => void;
  /**
   * Neural path (models loaded in its host): extra engines run beside the default on the same input. `neuralGen`:
   * neural generator + memory renderer; `neuralRen`: memory generator + neural renderer; `neural`: both neural.
   */
  neural?: { path: NeuralPath; variants: NeuralVariant[]; referenceCount?: number };
  /** Receives the scored frames' meshes (real, re-tracked per engine) and the generator's targets (diagnostics). */
  onScored?: (clip: string, data: ScoredFrames) => void;
  /** Receives each scored output frame of each engine with the real frame (diagnostics). */
  onFrame?: (engine: string, scoredIndex: number, out: VideoFrame, real: VideoFrame) => void;
}

/** Per scored frame (index 0 = the first scored frame): meshes (x, y pixels) or null where tracking failed. */
export interface ScoredFrames {
  real: (Float32Array | null)[];
  /** Per engine: the re-tracked output meshes and the generator's target content points (57, frame pixels). */
  engines: Record<string, { meshes: (Float32Array | null)[]; targets: (Float32Array | null)[] }>;
}

export type NeuralVariant = 'neuralGen' | 'neuralRen' | 'neural';
export const NEURAL_VARIANTS: NeuralVariant[] = ['neuralGen', 'neuralRen', 'neural'];

/** Figures of one extra (neural) engine on a clip, same definitions as the default's. */
export interface VariantFigures {
  mouthCorr: number;
  mouthCorrPredicted: number;
  lipLmd: number;
  avOffsetMs: number;
  psnr: number;
  ssim: number;
  lipJitter: number;
  openingStdRatio: number;
  openingStdRatioPredicted: number;
  renderedFraction: number;
  algorithmicLatencyMs: number;
}

/** Per-frame real tracking of a clip (for the prior builder). */
export interface TrackedClip {
  fps: number;
  meshes: (Float32Array | null)[];
  audio: Float32Array;
  /** First audio sample's time relative to frame 0, ms. */
  audioOffsetMs: number;
}

export interface ClipFigures {
  clip: string;
  kind: 'closeup' | 'portrait';
  frames: number;
  scoredFrames: number;
  mouthCorr: number;
  lipLmd: number;
  lipLmdMean: number;
  lipLmdOracle: number;
  avOffsetMs: number;
  psnr: number;
  ssim: number;
  psnrOracle: number;
  ssimOracle: number;
  psnrMean: number;
  lipJitter: number;
  lipJitterReal: number;
  /**
   * mouthCorr of the `mean` baseline's rendered frames (a constant target mouth): how much of the real mouth motion
   * the tracker still reads through the renderer (the real jaw and cheeks stay in the frame). mouthCorr is only
   * informative above it.
   */
  mouthCorrMeanBaseline: number;
  /** mouthCorr of the generator's predicted landmarks themselves (before rendering and re-tracking). */
  mouthCorrPredicted: number;
  /**
   * How much the generated mouth moves: std of the re-tracked generated mouth opening / std of the real one (same
   * frames). Below 1: under-articulated (e.g. a gain < 1 pulls the opening toward the speaker's mean).
   */
  openingStdRatio: number;
  /** The same for the generator's predicted opening (before rendering). */
  openingStdRatioPredicted: number;
  /** The neural engines' figures, when run (`EvalOptions.neural`). */
  variants?: Partial<Record<NeuralVariant, VariantFigures>>;
  renderedFraction: number;
  algorithmicLatencyMs: number;
  phones: boolean;
  /** The clip's speech is narrow-band (nothing above ~4 kHz); phones, when on, use narrow-band settings. */
  narrowBand: boolean;
  prior: string;
}

type Variant = 'pred' | 'mean' | 'oracle' | NeuralVariant;

/** The clip cannot be scored; the message says why (no audio, no face, too short...). The folder run goes on. */
export class ClipSkipped extends Error {
  override name = 'ClipSkipped';
}

/**
 * Seconds to evaluate: the part with both picture and speech. A stream ending well before the container's duration
 * (audio shorter than the video, or the reverse) bounds it; differences under 0.5 s keep the container's duration.
 * Without a container duration (a browser-recorded webm) the audio's length is used.
 */
function clipSeconds(info: MediaFileInfo, audioSeconds: number): number {
  const container = info.durationUs / 1e6;
  if (!(container > 0)) return audioSeconds;
  const video = (info.video?.durationUs ?? 0) / 1e6;
  let s = container;
  if (video > 0 && video < container - 0.5) s = video;
  if (audioSeconds < s - 0.5) s = audioSeconds;
  return s;
}

/**
 * The prior's leave-one-clip-out fold for a clip named `clip` (a path relative to the evaluated folder): the fold
 * under that exact name (a prior built from a nested dump keys its folds by relative path), else the fold under its
 * file name (the shipped prior's folds are the seven clips' file names, so `speaker/vrt_face_1.mp4` gets
 * `vrt_face_1.mp4`'s fold), else none (the full prior). A fold only ever withholds a clip from the fit: a different
 * clip that shares a file name is scored with a prior fitted on fewer clips, never with one that has seen its audio,
 * whereas the full prior for a renamed-folder copy of a shipped clip would have.
 */
export function priorFold(folds: readonly string[], clip: string): string | undefined {
  if (folds.includes(clip)) return clip;
  const file = clip.slice(clip.lastIndexOf('/') + 1);
  return folds.includes(file) ? file : undefined;
}

/** Faces at least half the size of the largest one (a small face in the background does not count). */
function comparableFaces(dets: readonly Detection[]): number {
  const size = (d: Detection) => Math.sqrt(d.width * d.height);
  const largest = Math.max(0, ...dets.map(size));
  return dets.filter((d) => size(d) >= largest / 2).length;
}

interface VariantAcc {
  openings: (number | null)[];
  meshes: (Float32Array | null)[];
  lmd: number[];
  psnr: number[];
  ssim: number[];
  rendered: number;
  /** The generator's own predicted opening per scored frame (centre of its window). */
  predicted: (number | null)[];
  /** The generator's content points per scored frame (centre of its window), frame pixels. */
  targets: (Float32Array | null)[];
}

const std = (a: readonly number[]) => {
  if (a.length < 2) return NaN;
  const m = a.reduce((s, x) => s + x, 0) / a.length;
  return Math.sqrt(a.reduce((s, x) => s + (x - m) ** 2, 0) / a.length);
};

const mean = (a: readonly number[]) => {
  const v = a.filter((x) => Number.isFinite(x));
  return v.length ? v.reduce((s, x) => s + x, 0) / v.length : NaN;
};

export async function evaluateClip(path: string, opts: EvalOptions = {}): Promise<ClipFigures> {
  const log = opts.log ?? (() => {});
  const clip = opts.clipName ?? basename(path);
  const fps = 25;
  const frameUs = 1e6 / fps;
  const info = await probeMediaFile(path);
  const v = info.video;
  if (!v) throw new ClipSkipped('no video stream');
  if (!info.audio) throw new ClipSkipped("no audio stream (the clip's own speech drives the lips)");
  const kind: ClipFigures['kind'] = v.height > v.width * 1.3 ? 'portrait' : 'closeup';
  const pcm = await readAudioPcm(path, 16000);
  // Telephone-band speech (e.g. an 8 kHz AAC track) needs the recogniser's narrow-band settings (phones.ts).
  const narrowBand = isNarrowBand(pcm.samples, 16000);
  if (narrowBand) log(`${clip}: narrow-band speech (nothing above ~4 kHz)`);
  let seconds = clipSeconds(info, pcm.samples.length / 16000);
  if (opts.maxSeconds) seconds = Math.min(seconds, opts.maxSeconds);
  const total = Math.floor(seconds * fps);
  const half = Math.floor(total / 2);
  // Before this many observed frames the generator returns the real mouth, so a shorter warm-up scores the real
  // mouth against itself. The scored half is as long.
  const minObserved = opts.generator?.minObserved ?? defaultMemoryGeneratorOptions.minObserved;
  const minSeconds = (2 * minObserved) / fps;
  if (half < minObserved) {
    throw new ClipSkipped(
      `too short: ${seconds.toFixed(1)} s with picture and speech, needs ${minSeconds.toFixed(1)} s`,
    );
  }
  const reader = await MediaFileReader.open(path, { audio: false });

  let phones: PhoneTrack | null = null as PhoneTrack | null;
  const usePhones = opts.phones ?? allphoneAvailable();
  let priorName = 'none';
  let prior: OpeningPrior | null = null;
  const priorPath = opts.priorPath ?? defaultPriorPath;
  if (existsSync(priorPath)) {
    const full = OpeningPrior.load(priorPath);
    const fold = priorFold(Object.keys(full.file.folds), clip);
    prior = fold ? OpeningPrior.from(full.file, fold) : full;
    priorName = fold ? `leave-out(${fold})` : 'full';
  }

  const trackers = new Map<Variant | 'real', FaceTracker>();
  trackers.set('real', createFaceTracker());
  const VARIANTS: Variant[] = ['pred', 'mean', 'oracle', ...(opts.neural?.variants ?? [])];
  for (const vname of VARIANTS) trackers.set(vname, createFaceTracker());
  // Faces in view once a second: with two speakers' faces the tracker would score whichever it locked onto.
  const detector = new BlazeFaceDetector({ modelPath: join(defaultFaceModelDir, 'face_detection_short_range.onnx') });
  const facesPerSecond: number[] = [];
  const manyFaces = () => {
    const multi = facesPerSecond.filter((n) => n >= 2).length;
    return multi > 0 && multi * 2 >= facesPerSecond.length ? multi : 0;
  };
  const realResults = new Map<number, FaceResult>();
  const track = (frame: VideoFrame, index: number): FaceResult => {
    let r = realResults.get(index);
    if (!r) {
      r = trackers.get('real')!.trackSync(frame);
      realResults.set(index, r);
      for (const k of realResults.keys()) if (k < index - 40) realResults.delete(k);
    }
    return r;
  };
  const realFrames = new Map<number, { frame: VideoFrame; mesh: Float32Array | null; pending: number }>();
  const realOpenings: (number | null)[] = [];
  const realMeshes: (Float32Array | null)[] = [];
  const acc = new Map<Variant, VariantAcc>();
  // The first video timestamp, known before decoding from the probe is not reliable: peek the first frame.
  let t0Us = 0;
  const audioT0Us = pcm.timestampUs;
  let audioOffsetMs = 0;
  const allMeshes: (Float32Array | null)[] = [];
  const engines = new Map<Variant, LipsyncEngine>();

  const memoryGenerators: MemoryGenerator[] = [];
  const neuralParts: { close(): void }[] = [];
  for (const vname of VARIANTS) {
    let generator: LandmarkGenerator;
    if (opts.neural && (vname === 'neuralGen' || vname === 'neural')) {
      const g = new NeuralLandmarkGenerator({ host: opts.neural.path.host });
      neuralParts.push(g);
      generator = g;
    } else {
      // The clip's own audio drives the lips (driveAudio false), as in createLipsyncEngine: lag correction on.
      const g = new MemoryGenerator({ prior, lagCorrection: true, ...opts.generator });
      if (vname === 'mean') g.meanOnly = true;
      memoryGenerators.push(g);
      generator = g;
    }
    let renderer: FaceRenderer;
    if (opts.neural && (vname === 'neuralRen' || vname === 'neural')) {
      const r = opts.neural.path.createRenderer(
        opts.neural.referenceCount ? { referenceCount: opts.neural.referenceCount } : {},
      );
      neuralParts.push(r);
      renderer = r;
    } else renderer = new MemoryRenderer(opts.renderer);
    const engine = new LipsyncEngine({
      track,
      generator,
      renderer,
      driveAudio: false,
      targetOverride: vname === 'oracle' ? (_i, mesh) => mesh : undefined,
    });
    const a: VariantAcc = {
      openings: [],
      meshes: [],
      lmd: [],
      psnr: [],
      ssim: [],
      rendered: 0,
      predicted: [],
      targets: [],
    };
    if (vname !== 'oracle') {
      // The generator's own opening for each scored frame (the centre of its window), before rendering (for `mean`:
      // only its targets are reported, to onScored).
      const origGenerate = generator.generate.bind(generator);
      generator.generate = async (w) => {
        const res = await origGenerate(w);
        const c = w.frames.length >> 1;
        const f = w.frames[c];
        if (f && f.frameIndex >= half) {
          const o = res.openingIod?.[c] ?? (res.content[c] ? mouthOpening(withContent(f.mesh, res.content[c])) : null);
          a.predicted[f.frameIndex - half] = o ?? null;
          a.targets[f.frameIndex - half] = res.content[c] ?? null;
        }
        return res;
      };
    }
    acc.set(vname, a);
    engine.on('video', (out) => {
      const index = Math.round((out.timestampUs - engine.delayMs * 1000 - t0Us) / frameUs);
      const real = realFrames.get(index);
      if (!real) return;
      if (index >= half) {
        const r = trackers.get(vname)!.trackSync(out);
        const mesh = r.ok ? meshXY(r.face.landmarks) : null;
        const k = index - half;
        a.openings[k] = mesh ? mouthOpening(mesh) : null;
        a.meshes[k] = mesh;
        if (mesh && real.mesh) {
          a.lmd.push(lipDistanceIod(real.mesh, mesh));
          const q = cropQuality(real.frame, out, lowerFaceBox(real.mesh, out.width, out.height));
          a.psnr.push(q.psnr);
          a.ssim.push(q.ssim);
        }
        if (out.data !== real.frame.data) a.rendered++;
        opts.onFrame?.(vname, k, out, real.frame);
      }
      if (--real.pending <= 0) realFrames.delete(index);
    });
    engine.on('warning', (m) => log(`${clip} [${vname}] ${m}`));
    engines.set(vname, engine);
  }
  const predEngine = engines.get('pred')!;
  const release = () => {
    for (const e of engines.values()) e.close();
    for (const t of trackers.values()) t.close();
    for (const n of neuralParts) n.close();
    detector.close();
  };

  // Audio, pushed ahead of the video in 40 ms frames.
  const audioFrameLen = 640;
  let audioPos = 0;
  const pushAudioUntil = (untilUs: number) => {
    while (audioPos < pcm.samples.length && audioT0Us + (audioPos / 16000) * 1e6 < untilUs) {
      const n = Math.min(audioFrameLen, pcm.samples.length - audioPos);
      const data = new Int16Array(n);
      for (let i = 0; i < n; i++)
        data[i] = Math.max(-32768, Math.min(32767, Math.round(pcm.samples[audioPos + i]! * 32767)));
      const f: AudioFrame = {
        data,
        sampleRate: 16000,
        channels: 1,
        samplesPerChannel: n,
        timestampUs: audioT0Us + (audioPos / 16000) * 1e6,
      };
      for (const e of engines.values()) e.pushSpeakerAudio(f);
      audioPos += n;
    }
  };

  const started = performance.now();
  let tick = 0;
  let prev: VideoFrame | null = null;
  let first = true;
  const emit = async (frame: VideoFrame) => {
    if (tick >= total) return;
    const ts = t0Us + tick * frameUs;
    if (tick === half) for (const e of engines.values()) e.setLearning(false);
    pushAudioUntil(ts + 1e6);
    const res = track(frame, tick);
    if (tick % fps === 0) facesPerSecond.push(comparableFaces(detector.detect(frame)));
    const mesh = res.ok ? meshXY(res.face.landmarks) : null;
    allMeshes[tick] = mesh;
    realFrames.set(tick, { frame, mesh, pending: VARIANTS.length });
    if (tick >= half) {
      realOpenings[tick - half] = mesh ? mouthOpening(mesh) : null;
      realMeshes[tick - half] = mesh;
    }
    const f: VideoFrame = { ...frame, timestampUs: ts };
    for (const e of engines.values()) e.pushVideo(f);
    for (const e of engines.values()) await e.settled();
    tick++;
  };
  let done = false;
  try {
    const segs = usePhones && allphoneAvailable() ? await recognizePhones(pcm.samples, 16000, { narrowBand }) : null;
    for await (const m of reader.frames()) {
      if (m.kind !== 'video') continue;
      const fr = m.frame;
      if (first) {
        t0Us = fr.timestampUs;
        first = false;
        audioOffsetMs = (audioT0Us - t0Us) / 1000;
        if (segs) {
          // Phone times are relative to the first audio sample; the generator reads them on the frame clock.
          const shift = (s: { startMs: number; endMs: number }) => ({
            startMs: s.startMs + audioOffsetMs,
            endMs: s.endMs + audioOffsetMs,
          });
          phones = new PhoneTrack(segs.map((s) => ({ ...s, ...shift(s) })));
          for (const g of memoryGenerators) g.setPhones(phones);
        }
      }
      // Nearest-frame resampling to 25 fps.
      while (tick < total && t0Us + tick * frameUs <= fr.timestampUs) {
        const tt = t0Us + tick * frameUs;
        const use = prev && Math.abs(prev.timestampUs - tt) < Math.abs(fr.timestampUs - tt) ? prev : fr;
        await emit(use);
      }
      prev = fr;
      // Two faces through the warm-up: the scored half would be wasted.
      if (tick >= total || (tick >= half && manyFaces())) break;
    }
    while (prev && tick < total && t0Us + tick * frameUs <= prev.timestampUs + frameUs) await emit(prev);
    pushAudioUntil(Infinity);
    for (const e of engines.values()) await e.flush();
    done = true;
  } finally {
    reader.close();
    // A clip failing half-way must not keep its models loaded for the rest of the folder.
    if (!done) release();
  }
  const elapsed = (performance.now() - started) / 1000;

  // Figures from these would be garbage (NaN, or the real mouth scored against itself): say why instead.
  const scored = realOpenings.length;
  const warmFaces = allMeshes.slice(0, half).filter((m) => m).length;
  const scoredFaces = realOpenings.filter((o) => o != null).length;
  const multi = manyFaces();
  let skip: string | null = null;
  if (multi) {
    skip = `${Math.max(...facesPerSecond)} faces in view (${multi} of ${facesPerSecond.length} frames checked, one a second): needs one speaker's face`;
  } else if (scored < minObserved) {
    skip = `too short: ${(tick / fps).toFixed(1)} s of picture, needs ${minSeconds.toFixed(1)} s`;
  } else if (warmFaces + scoredFaces === 0) skip = 'no face found';
  else if (warmFaces < minObserved)
    skip = `face tracked in ${warmFaces} of ${half} warm-up frames, needs ${minObserved}`;
  else if (scoredFaces * 2 < scored) skip = `face tracked in only ${scoredFaces} of ${scored} scored frames`;
  else if (acc.get('pred')!.rendered === 0) skip = 'the engine rendered none of the scored frames';
  if (skip) {
    release();
    throw new ClipSkipped(skip);
  }

  const p = acc.get('pred')!;
  const pairs = (gen: (number | null)[]) => {
    const a: number[] = [];
    const b: number[] = [];
    realOpenings.forEach((r, i) => {
      const g = gen[i];
      if (r != null && g != null) {
        a.push(r);
        b.push(g);
      }
    });
    return pearson(a, b);
  };
  const stdRatio = (gen: (number | null)[]) => {
    const a: number[] = [];
    const b: number[] = [];
    realOpenings.forEach((r, i) => {
      const g = gen[i];
      if (r != null && g != null) {
        a.push(r);
        b.push(g);
      }
    });
    return std(b) / std(a);
  };
  const variantFigures = (name: Variant): VariantFigures => {
    const x = acc.get(name)!;
    return {
      mouthCorr: pairs(x.openings),
      mouthCorrPredicted: pairs(x.predicted),
      lipLmd: mean(x.lmd),
      avOffsetMs: bestLagMs(realOpenings, x.openings, fps).lagMs,
      psnr: mean(x.psnr),
      ssim: mean(x.ssim),
      lipJitter: lipJitter(x.meshes),
      openingStdRatio: stdRatio(x.openings),
      openingStdRatioPredicted: stdRatio(x.predicted),
      renderedFraction: realOpenings.length ? x.rendered / realOpenings.length : 0,
      algorithmicLatencyMs: engines.get(name)!.latency.totalMs,
    };
  };
  const figures: ClipFigures = {
    clip,
    kind,
    frames: tick,
    scoredFrames: scored,
    mouthCorr: pairs(p.openings),
    lipLmd: mean(p.lmd),
    lipLmdMean: mean(acc.get('mean')!.lmd),
    lipLmdOracle: mean(acc.get('oracle')!.lmd),
    avOffsetMs: bestLagMs(realOpenings, p.openings, fps).lagMs,
    psnr: mean(p.psnr),
    ssim: mean(p.ssim),
    psnrOracle: mean(acc.get('oracle')!.psnr),
    ssimOracle: mean(acc.get('oracle')!.ssim),
    psnrMean: mean(acc.get('mean')!.psnr),
    lipJitter: lipJitter(p.meshes),
    lipJitterReal: lipJitter(realMeshes),
    mouthCorrPredicted: pairs(p.predicted),
    openingStdRatio: stdRatio(p.openings),
    openingStdRatioPredicted: stdRatio(p.predicted),
    mouthCorrMeanBaseline: pairs(acc.get('mean')!.openings),
    renderedFraction: scored ? p.rendered / scored : 0,
    algorithmicLatencyMs: predEngine.latency.totalMs,
    phones: phones !== null,
    narrowBand,
    prior: priorName,
  };
  if (opts.neural) {
    figures.variants = Object.fromEntries(opts.neural.variants.map((n) => [n, variantFigures(n)]));
  }
  opts.onTrack?.(clip, { fps, meshes: allMeshes, audio: pcm.samples, audioOffsetMs });
  opts.onScored?.(clip, {
    real: realMeshes,
    engines: Object.fromEntries([...acc].map(([n, x]) => [n, { meshes: x.meshes, targets: x.targets }])),
  });
  for (const [n, e] of engines) log(`${clip} [${n}] ${JSON.stringify(e.counters)} ${JSON.stringify(e.timings)}`);
  release();
  log(`${clip}: ${tick} frames in ${elapsed.toFixed(1)} s`);
  return figures;
}
