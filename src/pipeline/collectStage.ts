/**
 * An AvStage that hands the decoded frames it is given to callbacks and emits nothing. Hosted in a
 * TranscodingProcessor it turns an RTP stream into decoded frames (jitter buffer, depacketizing, decoding and the
 * sender clock all reused) without encoding anything back: the bot's recorder and the interpreter feed use it.
 */
import type { AvStage, AvStageEvents } from './avStage.ts';
import { TypedEmitter } from './io/emitter.ts';
import type { AudioFrame, VideoFrame } from './media.ts';

export interface FrameCollectorCallbacks {
  onVideo?: (frame: VideoFrame) => void;
  /** The decoded audio of the tapped stream (it arrives as the stage's speaker audio). */
  onAudio?: (frame: AudioFrame) => void;
}

export class FrameCollectorStage extends TypedEmitter<AvStageEvents> implements AvStage {
  readonly delayMs = 0;
  #closed = false;

  constructor(
    readonly name: string,
    private readonly callbacks: FrameCollectorCallbacks,
  ) {
    super();
  }

  pushVideo(frame: VideoFrame): void {
    if (!this.#closed) this.callbacks.onVideo?.(frame);
  }

  pushSpeakerAudio(frame: AudioFrame): void {
    if (!this.#closed) this.callbacks.onAudio?.(frame);
  }

  pushDriveAudio(): void {}

  flush(): Promise<void> {
    return Promise.resolve();
  }

  close(): void {
    this.#closed = true;
  }
}
