/**
 * Contracts of the lip-sync engine's two stages, so that the memory-based default path and the neural (IP_LAP-shaped
 * ONNX) path are interchangeable inside the same engine, scheduler and evaluation.
 *
 * Stage 1, {@link LandmarkGenerator}: audio -> lip (40) and jaw (17) landmarks over windows of T frames.
 * Stage 2, {@link FaceRenderer}: target landmarks (2k+1 frames around t) + the current frame -> a re-rendered frame.
 *
 * Coordinates. Every landmark array crossing these interfaces is interleaved (x, y) in PIXELS of the video frame it
 * belongs to (the tracker's frame), never crop-normalised: each implementation crops as it needs (the neural path
 * crops to its 128x128 box with the geometry module; the memory path normalises by a similarity fit). Point sets:
 * - `mesh`: the tracker's full MediaPipe mesh (468 or 478 points, x, y only) of a frame;
 * - `content`: 57 points = 40 lip points then 17 jaw points, in the order of {@link LIP_INDICES} and
 *   {@link JAW_INDICES} (MediaPipe indices).
 */
import type { VideoFrame } from '../media.ts';

/** The 40 MediaPipe indices of FACEMESH_LIPS, ascending. Content points 0..39 follow this order. */
export const LIP_INDICES: readonly number[] = [
  0, 13, 14, 17, 37, 39, 40, 61, 78, 80, 81, 82, 84, 87, 88, 91, 95, 146, 178, 181, 185, 191, 267, 269, 270, 291, 308,
  310, 311, 312, 314, 317, 318, 321, 324, 375, 402, 405, 409, 415,
];

/** The 17 jaw indices of the 131-point subset (IP_LAP). Content points 40..56 follow this order. */
export const JAW_INDICES: readonly number[] = [
  58, 132, 136, 148, 149, 150, 152, 172, 176, 288, 361, 365, 377, 378, 379, 397, 400,
];

/** Lip + jaw = 57 content points. */
export const CONTENT_POINTS = 57;

/** One speaker frame as the generator sees it: its tracked face (pose and reference come from here). */
export interface GeneratorFrame {
  /** Index of the frame on the engine's 25 fps clock. */
  frameIndex: number;
  /** Full mesh, interleaved (x, y) in frame pixels (468 or 478 points). */
  mesh: Float32Array;
}

/** A window of T consecutive frames to generate landmarks for. */
export interface LandmarkWindow {
  /** T frames (pose source: the head pose of the output must follow the real head). */
  frames: readonly GeneratorFrame[];
  /**
   * T mel chunks of the DRIVE audio, each `melBins x chunkFrames` (80 x 16) row-major by mel bin, log-mel as in
   * `audio/mel.ts` (Wav2Lip-normalised to [-4, 4], not speaker-normalised: implementations normalise with their own
   * statistics). Chunk i starts at mel frame
   * int(80 * frameIndex / 25) (+ the configured audio offset).
   */
  mel: readonly Float32Array[];
  /**
   * Optional phoneme timing of the drive audio (synthetic speech gives it exactly; a recogniser gives it roughly):
   * the phone label active at each frame's centre (ARPAbet without stress, or IPA; `sil` for silence), T entries.
   */
  phones?: readonly (string | null)[];
}

/** T sets of 57 content points (lips then jaw), (x, y) in frame pixels, one per window frame. */
export interface LandmarkWindowResult {
  content: Float32Array[];
  /** Per frame, the predicted inner-mouth opening in interocular-distance units (for reference choice and logging). */
  openingIod?: number[];
}

/** What a generator learns from while the participant speaks in their own voice. */
export interface SpeakerObservation {
  frameIndex: number;
  /** The speaker's own mel chunk for that frame (same layout as {@link LandmarkWindow.mel}). */
  mel: Float32Array;
  /** The tracked mesh of that frame. */
  mesh: Float32Array;
  /**
   * The tracker's unsmoothed mesh of that frame, (x, y), when the tracker smooths (the smoothed track lags the pixels'
   * mouth by about a frame).
   */
  rawMesh?: Float32Array;
}

/**
 * Stage 1. Implementations: the memory generator (implicit audio-keyed memory + generic prior + phones; default) and
 * the neural IP_LAP transformer (`neural/`).
 */
export interface LandmarkGenerator {
  readonly name: string;
  /** T: frames per window (IP_LAP: 5). */
  readonly windowFrames: number;
  /**
   * Mel frames added to int(80 i / 25) for the start of frame i's chunk. Default 0 (Wav2Lip / IP_LAP: the chunk starts
   * at the frame and looks 200 ms ahead); negative values centre the chunk nearer the frame and cut the lookahead.
   */
  readonly melOffsetFrames?: number;
  /**
   * Learn from the speaker's own voice and face (implicit memory). Optional: a generator without online learning
   * ignores it.
   */
  observe?(obs: SpeakerObservation): void;
  /** Generate the content points of a window. May reject (model error): the engine then falls back to the original. */
  generate(window: LandmarkWindow): Promise<LandmarkWindowResult>;
  close(): void;
}

/** The input of one output frame to render. */
export interface RenderRequest {
  /** The speaker's real frame at time t (rgb24 or rgba; the renderer returns the same format). */
  frame: VideoFrame;
  /** Its tracked mesh, (x, y) in frame pixels. */
  mesh: Float32Array;
  /**
   * 2k+1 target meshes for t-k .. t+k: the real mesh of each frame with its content points (lips, jaw) replaced by the
   * generated ones. Entry k is the frame being rendered.
   */
  targets: readonly Float32Array[];
  /** The drive mel chunk of frame t (some neural renderers condition on audio; AdaIN in IP_LAP). */
  mel?: Float32Array;
}

/** What a renderer learns from: the participant's real frames with their tracked mesh (explicit memory / references). */
export interface RendererObservation {
  frameIndex: number;
  frame: VideoFrame;
  mesh: Float32Array;
}

/**
 * Stage 2. Implementations: the memory renderer (explicit memory of the participant's own mouth crops, warped and
 * blended; default, CPU) and the neural IP_LAP renderer (`neural/`).
 */
export interface FaceRenderer {
  readonly name: string;
  /** k: target sketches on each side of t (IP_LAP: 2). */
  readonly contextFrames: number;
  /** Add references while the participant is seen (optional). */
  observe?(obs: RendererObservation): void;
  /** True once the renderer holds enough references to render (the engine passes frames through until then). */
  ready(): boolean;
  /**
   * The composited output frame (face pasted back into the full frame, same size and format as `frame`), or `null`
   * when this frame cannot be rendered (the engine cross-fades to the original). May reject on a model error.
   */
  render(req: RenderRequest): Promise<VideoFrame | null>;
  close(): void;
}

/** One phone of the drive audio on the pipeline clock (the `timestampUs` clock of the pushed drive audio frames). */
export interface TimedPhone {
  /** ARPAbet or IPA (e.g. a dub segment's espeak-ng phoneme); `_` or `sil` for a pause. */
  phone: string;
  startUs: number;
  endUs: number;
}

/**
 * Optional capability of the lip-sync stage (in-process and worker): phone timings of the drive audio, e.g. the dub
 * source's exact espeak-ng / Festival timings of its synthetic speech (a DubSegment's `phonemes`, shifted to where
 * the segment's PCM is placed on the clock). Stages without it ignore phones: `'pushDrivePhones' in stage`.
 */
export interface PhoneAwareStage {
  pushDrivePhones(phones: readonly TimedPhone[]): void;
}
