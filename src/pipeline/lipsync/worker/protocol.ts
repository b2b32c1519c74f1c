/** Messages between {@link WorkerStage} (main thread) and the engine worker. Frame buffers are transferred. */
import type { AudioFrame, VideoFrame } from '../../media.ts';
import type { AvStageOptions } from '../../stages.ts';
import type { TimedPhone } from '../types.ts';

export type ToWorker =
  | { type: 'init'; options: AvStageOptions }
  | { type: 'video'; frame: VideoFrame }
  | { type: 'speakerAudio'; frame: AudioFrame }
  | { type: 'driveAudio'; frame: AudioFrame }
  | { type: 'phones'; phones: TimedPhone[] }
  | { type: 'flush'; id: number }
  | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; delayMs: number }
  | { type: 'video'; frame: VideoFrame }
  /** A video frame the engine took in without an output (two frames in one tick of its clock): frees its slot. */
  | { type: 'videoDropped' }
  | { type: 'audio'; frame: AudioFrame }
  | { type: 'warning'; message: string }
  | { type: 'flushed'; id: number }
  | { type: 'error'; message: string };
