/**
 * The identity AvStage: frames out as they came in (delay 0). The default stage of `lipsync dub` and of the
 * transcoding processor, and the reference the lip-sync engine's stage is measured against.
 */
import type { AvStage, AvStageEvents } from './avStage.ts';
import { TypedEmitter } from './io/emitter.ts';
import type { AudioFrame, VideoFrame } from './media.ts';

export interface IdentityStageOptions {
  /**
   * Which audio leaves with the video: the speaker's own (default) or the drive audio (a dub source). With drive
   * audio the identity stage plays the new speech over the unchanged face: the baseline a lip-sync stage improves on.
   */
  audio?: 'speaker' | 'drive';
}

export class IdentityStage extends TypedEmitter<AvStageEvents> implements AvStage {
  readonly name = 'identity';
  readonly delayMs = 0;
  private closed = false;
  private readonly audioSource: 'speaker' | 'drive';

  constructor(opts: IdentityStageOptions = {}) {
    super();
    this.audioSource = opts.audio ?? 'speaker';
  }

  pushVideo(frame: VideoFrame): void {
    if (!this.closed) this.safeEmit('video', frame);
  }

  pushSpeakerAudio(frame: AudioFrame): void {
    if (!this.closed && this.audioSource === 'speaker') this.safeEmit('audio', frame);
  }

  pushDriveAudio(frame: AudioFrame): void {
    if (!this.closed && this.audioSource === 'drive') this.safeEmit('audio', frame);
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.removeAllListeners();
  }
}
