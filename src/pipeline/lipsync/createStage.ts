/**
 * Builds the default lip-sync engine (tracker + memory generator with the shipped prior + memory renderer) as an
 * AvStage: registered as stage `lipsync` (`lipsync dub --stage lipsync`, the SFU's transcoding processor).
 * `mode: 'live'` (or params.worker = true) hosts the engine in a worker thread, off the event loop that serves the SFU.
 *
 * params (all optional): `worker` (boolean), `phones` (PhoneSegment[] of the drive audio, ms on the frame clock, e.g.
 * the dub source's espeak-ng timings), `prior` (path of the prior JSON, or false), `hop` ('sliding' | 'block'),
 * `gain` (gain on the fused opening z-score; default: the prior file's fusion gain, 1; see docs/engine.md for the
 * trade-off between lip error and how much the mouth moves), `lagCorrection` (per-speaker lag of the generator,
 * learned live and gated; default: on when the speaker's own audio drives the lips, off with a drive audio).
 */
import { existsSync } from 'node:fs';
import type { AvStage } from '../avStage.ts';
import { createFaceTracker } from '../face/index.ts';
import type { AvStageOptions } from '../stages.ts';
import { LipsyncEngine } from './LipsyncEngine.ts';
import { MemoryGenerator } from './MemoryGenerator.ts';
import { MemoryRenderer } from './MemoryRenderer.ts';
import { defaultPriorPath, OpeningPrior } from './OpeningPrior.ts';
import { PhoneTrack, type PhoneSegment } from './phones.ts';

export interface LipsyncStageParams {
  worker?: boolean;
  phones?: PhoneSegment[];
  prior?: string | false;
  hop?: 'sliding' | 'block';
  gain?: number;
  lagCorrection?: boolean;
}

/** The engine in this thread (tracker included; closing the engine closes the tracker). */
export function createLipsyncEngine(opts: AvStageOptions): LipsyncEngine {
  const p = (opts.params ?? {}) as LipsyncStageParams;
  const priorPath = p.prior === false ? null : (p.prior ?? defaultPriorPath);
  const prior = priorPath && existsSync(priorPath) ? OpeningPrior.load(priorPath) : null;
  if (p.gain !== undefined && !(Number.isFinite(p.gain) && p.gain >= 0)) {
    throw new RangeError(`lipsync: params.gain must be a number >= 0, got ${String(p.gain)}`);
  }
  if (p.lagCorrection !== undefined && typeof p.lagCorrection !== 'boolean') {
    throw new TypeError(`lipsync: params.lagCorrection must be a boolean, got ${String(p.lagCorrection)}`);
  }
  const generator = new MemoryGenerator({
    prior,
    // The per-speaker lag is learned from the speaker's own speech, so it applies when that speech drives the lips.
    lagCorrection: p.lagCorrection ?? !opts.driveAudio,
    ...(opts.frameRate ? { fps: opts.frameRate } : {}),
    ...(p.gain !== undefined ? { gain: p.gain } : {}),
  });
  if (p.phones?.length) generator.setPhones(new PhoneTrack(p.phones));
  const tracker = createFaceTracker();
  const engine = new LipsyncEngine({
    track: (frame) => tracker.trackSync(frame),
    generator,
    renderer: new MemoryRenderer(),
    driveAudio: opts.driveAudio,
    ...(opts.frameRate ? { fps: opts.frameRate } : {}),
    ...(p.hop ? { hop: p.hop } : {}),
    onClose: () => tracker.close(),
  });
  return engine;
}

export async function createLipsyncStage(opts: AvStageOptions): Promise<AvStage> {
  const p = (opts.params ?? {}) as LipsyncStageParams;
  if (p.worker ?? opts.mode === 'live') {
    const { WorkerStage } = await import('./worker/WorkerStage.ts');
    return WorkerStage.start(opts);
  }
  return createLipsyncEngine(opts);
}
