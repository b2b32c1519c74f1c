/**
 * The contract of a frame stage over one speaker's decoded media, shared by the live path (SFU tap -> io -> stage ->
 * io -> SFU) and the offline path (`lipsync dub`, `npm run eval`), so what is evaluated offline is what runs in a call.
 *
 * In: the speaker's video frames, the speaker's own audio (memories learn from it), and optionally the speech the
 * lips should follow (dubbed audio from a dub source). Out: video frames and the audio to play with them, both on the
 * input clock shifted by one constant `delayMs`. The identity stage outputs its inputs unchanged (delay 0); the
 * lip-sync engine re-renders the mouth and outputs the drive audio.
 */
import type { AudioFrame, VideoFrame } from './media.ts';

export interface AvStageEvents {
  /** A processed video frame; `timestampUs` = input timestamp + delayMs * 1000. */
  video: (frame: VideoFrame) => void;
  /** Audio to play with the video, on the same shifted clock. Never dropped silently. */
  audio: (frame: AudioFrame) => void;
  /** A non-fatal problem (a model error, a frame that fell back to the original). */
  warning: (message: string) => void;
}

export interface AvStage {
  readonly name: string;
  /** Constant delay the stage adds between input and output timestamps, in milliseconds. */
  readonly delayMs: number;
  /** A decoded video frame of the speaker. The stage may keep the frame; callers must not reuse its buffer. */
  pushVideo(frame: VideoFrame): void;
  /** The speaker's own audio. */
  pushSpeakerAudio(frame: AudioFrame): void;
  /** Speech the lips should follow. A stage that never receives drive audio is driven by the speaker's own audio. */
  pushDriveAudio(frame: AudioFrame): void;
  on<E extends keyof AvStageEvents>(event: E, listener: AvStageEvents[E]): this;
  off<E extends keyof AvStageEvents>(event: E, listener: AvStageEvents[E]): this;
  /** End of input: emit everything still held, then resolve. */
  flush(): Promise<void>;
  close(): void;
}
