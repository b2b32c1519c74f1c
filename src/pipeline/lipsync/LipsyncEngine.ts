/**
 * The lip-sync engine as an AvStage: speaker video + speaker audio (memories learn) + drive audio (lips follow) in,
 * re-rendered video + the drive audio out, both on the input clock shifted by one constant delay.
 *
 * Per video frame: track the face (any tracker), let the generator and the renderer learn from it while learning is
 * on, queue it. The scheduler ({@link algorithmicLatency}) decides when a frame's landmark window and its render can
 * run: when the frames and the drive audio they need have arrived (or the input ended). Frames leave strictly in
 * order. Any failure (no face, a generator or renderer error, a renderer not ready, a queue too deep to keep real
 * time) gives the original frame, with a cross-fade of `fadeFrames` frames into and out of rendered frames (the
 * lookahead lets the fade-out start before the failing frame).
 */
import { EventEmitter } from 'node:events';
import type { AvStage, AvStageEvents } from '../avStage.ts';
import { MEL_CHUNK_FRAMES, MelStream } from '../audio/mel.ts';
import type { FaceResult } from '../face/types.ts';
import type { AudioFrame, PcmChunk, VideoFrame } from '../media.ts';
import { algorithmicLatency, windowFor, type LatencyBreakdown, type ScheduleConfig } from './scheduler.ts';
import { meshXY, withContent } from './shape.ts';
import type { FaceRenderer, LandmarkGenerator, PhoneAwareStage, TimedPhone } from './types.ts';

/** A face tracker as the engine needs it (sync or async); the eval passes a cached one. */
export type TrackFn = (frame: VideoFrame, frameIndex: number) => FaceResult | Promise<FaceResult>;

/** Converts decoded audio to 16 kHz mono float; default: direct for 16 kHz, else linear interpolation. */
export type ToPcm16k = (frame: AudioFrame) => PcmChunk | null;

export interface LipsyncEngineOptions {
  track: TrackFn;
  generator: LandmarkGenerator;
  renderer: FaceRenderer;
  /** True when drive audio will be pushed; false: the speaker's own audio drives the lips (and is output). */
  driveAudio: boolean;
  /** Frame rate of the engine's clock (default 25). */
  fps: number;
  /** 'sliding' (default) or 'block' windows. */
  hop: ScheduleConfig['hop'];
  /** Frames of cross-fade between rendered and original (default 4). */
  fadeFrames: number;
  /** Memories learn from incoming frames (default true; the evaluation turns it off for the scored half). */
  learning: boolean;
  /** Frames queued beyond the lookahead before frames are passed through unrendered to catch up (default 12). */
  maxBacklogFrames: number;
  /**
   * Landmark override for the evaluation's baselines: given a frame index and its real mesh, returns the target mesh
   * to render (e.g. the real mesh itself: the oracle). Default: the generator's output.
   */
  targetOverride?: (frameIndex: number, realMesh: Float32Array) => Float32Array | null;
  toPcm?: ToPcm16k;
  /** Called once on close (e.g. to close the tracker the engine was given). */
  onClose?: () => void;
}

interface QueuedFrame {
  index: number;
  frame: VideoFrame;
  /** (x, y) mesh, or null when no usable face. */
  mesh: Float32Array | null;
  /**
   * The tracker's unsmoothed landmarks of this frame (x, y, z), when it smooths: where the pixels' mouth really is.
   * Turned into a mesh only for frames the memories learn from.
   */
  rawLandmarks?: Float32Array | undefined;
  /** Generated target mesh (content replaced), once generated; null: generation failed or no face. */
  target?: Float32Array | null;
  observed: boolean;
  /** Whether the memories may learn from this frame (the learning switch when it was pushed). */
  learn: boolean;
}

export class LipsyncEngine extends EventEmitter implements AvStage, PhoneAwareStage {
  readonly name = 'lipsync';
  readonly delayMs: number;
  readonly latency: LatencyBreakdown;
  readonly schedule: ScheduleConfig;
  private readonly o: LipsyncEngineOptions;
  private readonly ownMel = new MelStream();
  private readonly driveMel = new MelStream();
  private ownT0Us: number | null = null;
  private driveT0Us: number | null = null;
  private videoT0Us: number | null = null;
  private readonly frames: QueuedFrame[] = [];
  /** Index of the next frame to generate landmarks for, and to render. */
  private nextGen = 0;
  private nextOut = 0;
  private lastIndex = -1;
  private ended = false;
  private closed = false;
  private alpha = 0;
  private pumping: Promise<void> | null = null;
  private pumpAgain = false;
  private readonly chunk = new Float32Array(80 * MEL_CHUNK_FRAMES);
  readonly counters = { rendered: 0, passedThrough: 0, noFace: 0, errors: 0, late: 0, droppedInput: 0 };
  readonly timings = { generatorMs: 0, rendererMs: 0, featuresMs: 0, windows: 0, renders: 0 };

  constructor(options: Partial<LipsyncEngineOptions> & Pick<LipsyncEngineOptions, 'track' | 'generator' | 'renderer'>) {
    super();
    this.o = {
      driveAudio: false,
      fps: 25,
      hop: 'sliding',
      fadeFrames: 4,
      learning: true,
      maxBacklogFrames: 12,
      ...options,
    };
    this.schedule = {
      windowFrames: this.o.generator.windowFrames,
      contextFrames: this.o.renderer.contextFrames,
      hop: this.o.hop,
      melOffsetFrames: this.o.generator.melOffsetFrames ?? 0,
      fps: this.o.fps,
    };
    this.latency = algorithmicLatency(this.schedule);
    this.delayMs = this.latency.totalMs;
  }

  override on<E extends keyof AvStageEvents>(event: E, listener: AvStageEvents[E]): this {
    return super.on(event, listener);
  }

  override off<E extends keyof AvStageEvents>(event: E, listener: AvStageEvents[E]): this {
    return super.off(event, listener);
  }

  private safeEmit<E extends keyof AvStageEvents>(event: E, ...args: Parameters<AvStageEvents[E]>): void {
    try {
      this.emit(event, ...args);
    } catch (err) {
      if (event !== 'warning') this.safeEmit('warning', `listener of ${event} threw: ${String(err)}`);
    }
  }

  get generator(): LandmarkGenerator {
    return this.o.generator;
  }

  get renderer(): FaceRenderer {
    return this.o.renderer;
  }

  setLearning(on: boolean): void {
    this.o.learning = on;
  }

  get frameUs(): number {
    return 1e6 / this.o.fps;
  }

  pushVideo(frame: VideoFrame): void {
    if (this.closed || this.ended) return;
    if (this.videoT0Us === null) {
      this.videoT0Us = frame.timestampUs;
      this.deliverPhones();
    }
    const index = Math.round((frame.timestampUs - this.videoT0Us) / this.frameUs);
    if (index <= this.lastIndex) {
      // Faster than the engine's clock (set `fps` to the input's rate): the first frame of a tick stands.
      this.counters.droppedInput++;
      return;
    }
    this.lastIndex = index;
    const q: QueuedFrame = { index, frame, mesh: null, observed: false, learn: this.o.learning };
    this.frames.push(q);
    this.kick(q);
  }

  private pendingTracks: Promise<void>[] = [];

  private kick(q: QueuedFrame): void {
    let res: FaceResult | Promise<FaceResult>;
    try {
      res = this.o.track(q.frame, q.index);
    } catch (err) {
      this.safeEmit('warning', `tracker error: ${String(err)}`);
      res = { ok: false, reason: 'no-face' };
    }
    const apply = (r: FaceResult) => {
      q.mesh = r.ok ? meshXY(r.face.landmarks) : null;
      q.rawLandmarks = r.ok ? r.face.rawLandmarks : undefined;
      if (!r.ok) this.counters.noFace++;
      (q as QueuedFrame & { tracked?: boolean }).tracked = true;
      this.schedulePump();
    };
    if (res instanceof Promise) {
      const p = res.then(apply, (err: unknown) => {
        this.safeEmit('warning', `tracker error: ${String(err)}`);
        apply({ ok: false, reason: 'no-face' });
      });
      this.pendingTracks.push(p);
    } else {
      apply(res);
    }
  }

  pushSpeakerAudio(frame: AudioFrame): void {
    if (this.closed) return;
    const pcm = this.o.toPcm ? this.o.toPcm(frame) : this.ownPcm.convert(frame);
    if (pcm) {
      this.ownT0Us ??= pcm.timestampUs;
      this.ownMel.push(pcm.samples);
      if (!this.o.driveAudio) this.driveT0Us ??= pcm.timestampUs;
    }
    if (!this.o.driveAudio) {
      if (pcm) this.driveMel.push(pcm.samples);
      this.safeEmit('audio', { ...frame, timestampUs: frame.timestampUs + this.delayMs * 1000 });
    }
    this.schedulePump();
  }

  pushDriveAudio(frame: AudioFrame): void {
    if (this.closed) return;
    const pcm = this.o.toPcm ? this.o.toPcm(frame) : this.drivePcm.convert(frame);
    if (pcm) {
      this.driveT0Us ??= pcm.timestampUs;
      this.driveMel.push(pcm.samples);
    }
    this.safeEmit('audio', { ...frame, timestampUs: frame.timestampUs + this.delayMs * 1000 });
    this.schedulePump();
  }

  private pendingPhones: TimedPhone[] = [];

  /**
   * Phone timings of the drive audio (pipeline clock). Passed to the generator when it takes phones
   * (`addPhones`, e.g. the MemoryGenerator); held until the first video frame fixes the frame clock.
   */
  pushDrivePhones(phones: readonly TimedPhone[]): void {
    if (this.closed) return;
    this.pendingPhones.push(...phones);
    this.deliverPhones();
  }

  private deliverPhones(): void {
    const gen = this.o.generator as LandmarkGenerator & {
      addPhones?: (s: { phone: string; startMs: number; endMs: number }[]) => void;
    };
    if (this.videoT0Us === null || !this.pendingPhones.length || !gen.addPhones) return;
    const t0 = this.videoT0Us;
    gen.addPhones(
      this.pendingPhones.map((p) => ({
        phone: p.phone,
        startMs: (p.startUs - t0) / 1000,
        endMs: (p.endUs - t0) / 1000,
      })),
    );
    this.pendingPhones = [];
  }

  private readonly ownPcm = new Pcm16kConverter();
  private readonly drivePcm = new Pcm16kConverter();

  /** Resolves when the engine has done all it can with the input so far. */
  async settled(): Promise<void> {
    await Promise.all(this.pendingTracks.splice(0));
    while (this.pumping) await this.pumping;
  }

  async flush(): Promise<void> {
    this.ended = true;
    await Promise.all(this.pendingTracks.splice(0));
    this.schedulePump();
    while (this.pumping) await this.pumping;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.frames.length = 0;
    const release = () => {
      this.o.generator.close();
      this.o.renderer.close();
      try {
        this.o.onClose?.();
      } catch {
        // closing is best effort
      }
    };
    // Models are released only once the inference in flight has returned: releasing an onnxruntime session under a
    // running call, or ending the thread that hosts it, can abort the whole process from native code.
    const inFlight = Promise.allSettled([...this.pendingTracks, this.pumping ?? Promise.resolve()]);
    this.released = inFlight.then(release);
    this.removeAllListeners();
  }

  /** Resolves once close() has released every model (after the tracking and inference in flight, if any). */
  released: Promise<void> | null = null;

  // ---- scheduling ----

  private schedulePump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = this.pump()
      .catch((err: unknown) => this.safeEmit('warning', `engine error: ${String(err)}`))
      .finally(() => {
        this.pumping = null;
        if (this.pumpAgain) {
          this.pumpAgain = false;
          this.schedulePump();
        }
      });
  }

  private frameAt(index: number): QueuedFrame | undefined {
    const first = this.frames[0];
    if (!first) return undefined;
    // Indices are increasing but may skip; search from the expected position.
    let i = Math.min(this.frames.length - 1, Math.max(0, index - first.index));
    while (i > 0 && this.frames[i]!.index > index) i--;
    while (i < this.frames.length - 1 && this.frames[i]!.index < index) i++;
    const f = this.frames[i];
    return f && f.index === index ? f : undefined;
  }

  private tracked(q: QueuedFrame): boolean {
    return (q as QueuedFrame & { tracked?: boolean }).tracked === true;
  }

  /** Mel frame where frame `index`'s chunk starts, on the stream whose first sample was at t0. */
  private melStart(index: number, t0Us: number | null): number {
    if (this.videoT0Us === null || t0Us === null) return 0;
    const tUs = this.videoT0Us + index * this.frameUs - t0Us;
    return Math.floor(tUs / 12_500 + 1e-6) + this.schedule.melOffsetFrames;
  }

  private audioReady(mel: MelStream, index: number, t0Us: number | null): boolean {
    if (this.ended) return true;
    if (t0Us === null) return false;
    return mel.frameCount >= this.melStart(index, t0Us) + MEL_CHUNK_FRAMES;
  }

  private async pump(): Promise<void> {
    for (;;) {
      let progressed = false;
      // 1. Learning: observe tracked frames once their own audio is in.
      for (const q of this.frames) {
        if (q.observed || !this.tracked(q)) continue;
        if (!q.learn) {
          q.observed = true;
          continue;
        }
        if (!this.audioReady(this.ownMel, q.index, this.ownT0Us)) {
          // No own audio for too long (a muted speaker): skip learning rather than hold the pipeline.
          if ((this.frames.at(-1)?.index ?? 0) - q.index > this.o.maxBacklogFrames) {
            q.observed = true;
            continue;
          }
          break;
        }
        q.observed = true;
        if (!q.mesh) continue;
        const mel = this.ownMel.chunk(this.melStart(q.index, this.ownT0Us), new Float32Array(80 * MEL_CHUNK_FRAMES));
        try {
          // The explicit memory stores this frame's pixels as a reference: it is keyed by the mesh of those pixels
          // (unsmoothed), not by the smoothed track, which lags the mouth by about a frame.
          const refMesh = q.rawLandmarks ? meshXY(q.rawLandmarks) : q.mesh;
          this.o.generator.observe?.({
            frameIndex: q.index,
            mel,
            mesh: q.mesh,
            ...(q.rawLandmarks ? { rawMesh: refMesh } : {}),
          });
          this.o.renderer.observe?.({ frameIndex: q.index, frame: q.frame, mesh: refMesh });
        } catch (err) {
          this.safeEmit('warning', `learning failed: ${String(err)}`);
        }
      }
      // 2. Landmark windows.
      const last = this.frames.at(-1)?.index ?? -1;
      while (this.nextGen <= last) {
        const g = this.frameAt(this.nextGen);
        if (!g) {
          this.nextGen++;
          continue;
        }
        const win = windowFor(g.index, this.schedule, this.ended ? last : Number.MAX_SAFE_INTEGER);
        const winFrames = win.map((i) => this.frameAt(i));
        const lastNeeded = win.at(-1)!;
        if (!this.ended && (lastNeeded > last || winFrames.some((f) => f && !this.tracked(f)))) break;
        if (!this.audioReady(this.driveMel, lastNeeded, this.driveT0Us)) break;
        if (!this.ended && winFrames.some((f) => f && !f.observed)) break;
        await this.generateFor(g, winFrames);
        this.nextGen++;
        progressed = true;
      }
      // 3. Renders, in order.
      while (this.nextOut < this.nextGen) {
        const r = this.frames[0];
        if (!r) break;
        const k = this.schedule.contextFrames;
        if (!this.ended && r.index + k >= this.nextGen) break;
        await this.renderOut(r, k);
        this.frames.shift();
        this.nextOut = r.index + 1;
        progressed = true;
      }
      if (!progressed) return;
    }
  }

  private async generateFor(g: QueuedFrame, winFrames: (QueuedFrame | undefined)[]): Promise<void> {
    if (!g.mesh) {
      g.target = null;
      return;
    }
    if (this.o.targetOverride) {
      g.target = this.o.targetOverride(g.index, g.mesh);
      return;
    }
    // Window frames without a face borrow the centre frame's mesh (pose); only g's result is used.
    const frames = winFrames.map((f, i) => ({
      frameIndex: f?.index ?? g.index + i,
      mesh: f?.mesh ?? g.mesh!,
    }));
    const t0 = performance.now();
    const mel = frames.map((f) =>
      this.driveMel.chunk(this.melStart(f.frameIndex, this.driveT0Us), new Float32Array(this.chunk.length)),
    );
    const t1 = performance.now();
    try {
      const res = await this.o.generator.generate({ frames, mel });
      const pos = frames.findIndex((f) => f.frameIndex === g.index);
      const content = res.content[pos];
      g.target = content ? withContent(g.mesh, content) : null;
    } catch (err) {
      this.counters.errors++;
      this.safeEmit('warning', `generator error: ${String(err)}`);
      g.target = null;
    }
    this.timings.featuresMs += t1 - t0;
    this.timings.generatorMs += performance.now() - t1;
    this.timings.windows++;
  }

  private async renderOut(r: QueuedFrame, k: number): Promise<void> {
    let rendered: VideoFrame | null = null;
    const backlog = this.frames.length - (k + this.latency.lookaheadFrames + 1);
    if (backlog > this.o.maxBacklogFrames) this.counters.late++;
    else if (r.mesh && r.target && this.o.renderer.ready()) {
      const targets: Float32Array[] = [];
      for (let d = -k; d <= k; d++) {
        const f = d === 0 ? r : this.frameAt(r.index + d);
        targets.push(f?.target ?? r.target);
      }
      const t0 = performance.now();
      try {
        rendered = await this.o.renderer.render({ frame: r.frame, mesh: r.mesh, targets });
      } catch (err) {
        this.counters.errors++;
        this.safeEmit('warning', `renderer error: ${String(err)}`);
      }
      this.timings.rendererMs += performance.now() - t0;
      this.timings.renders++;
    }
    // Cross-fade: ramp toward 1 while rendering works; start fading out ahead of a known failure.
    let okAhead = 0;
    for (let d = 0; d < this.o.fadeFrames; d++) {
      const f = this.frameAt(r.index + d);
      if (f && this.tracked(f) && !f.mesh) break;
      okAhead++;
    }
    const cap = rendered ? okAhead / this.o.fadeFrames : 0;
    this.alpha = Math.min(cap, this.alpha + 1 / this.o.fadeFrames);
    let out: VideoFrame;
    if (!rendered || this.alpha <= 0) {
      out = r.frame;
      this.counters.passedThrough++;
    } else {
      if (this.alpha < 1) {
        const a = this.alpha;
        const src = r.frame.data;
        const dst = rendered.data;
        for (let i = 0; i < dst.length; i++) dst[i] = src[i]! + a * (dst[i]! - src[i]!) + 0.5;
      }
      out = rendered;
      this.counters.rendered++;
    }
    this.safeEmit('video', { ...out, timestampUs: r.frame.timestampUs + this.delayMs * 1000 });
  }
}

/**
 * Stateful linear resampler to 16 kHz mono float (channel mean), continuous across frames so the audio clock never
 * drifts. Good enough for features (the mel bands stop at 7.6 kHz; mild aliasing from linear interpolation).
 */
export class Pcm16kConverter {
  private pos = 0;
  private prev = 0;
  private rate = 0;

  convert(frame: AudioFrame): PcmChunk | null {
    const { data, channels, samplesPerChannel, sampleRate } = frame;
    if (samplesPerChannel === 0) return null;
    const mono = new Float32Array(samplesPerChannel);
    for (let i = 0; i < samplesPerChannel; i++) {
      let s = 0;
      for (let c = 0; c < channels; c++) s += data[i * channels + c]!;
      mono[i] = s / channels / 32768;
    }
    if (sampleRate === 16000) return { samples: mono, sampleRate: 16000, timestampUs: frame.timestampUs };
    if (sampleRate !== this.rate) {
      this.rate = sampleRate;
      this.pos = 0;
    }
    const step = sampleRate / 16000;
    // Input positions are relative to this frame; index -1 is the previous frame's last sample.
    const out: number[] = [];
    const startUs = frame.timestampUs + (this.pos * 1e6) / sampleRate;
    while (this.pos <= samplesPerChannel - 1) {
      const a = Math.floor(this.pos);
      const f = this.pos - a;
      const x0 = a < 0 ? this.prev : mono[a]!;
      const x1 = mono[a + 1] ?? mono[a]!;
      out.push(x0 * (1 - f) + x1 * f);
      this.pos += step;
    }
    this.pos -= samplesPerChannel;
    this.prev = mono[samplesPerChannel - 1]!;
    return { samples: Float32Array.from(out), sampleRate: 16000, timestampUs: startUs };
  }
}
