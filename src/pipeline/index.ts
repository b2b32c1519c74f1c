/**
 * The media pipeline's public face: the SFU and the CLI import the pipeline through here only.
 * Other areas add their exports with one line each.
 */
export type { AudioFrame, PcmChunk, PixelFormat, VideoFrame } from './media.ts';
export { frameByteLength } from './media.ts';
export type { MediaKind, RtpProcessor, RtpProcessorEvents, RtpProcessorFactory, RtpStreamInfo } from './stage.ts';
export type { AvStage, AvStageEvents } from './avStage.ts';
export { IdentityStage, type IdentityStageOptions } from './identityStage.ts';
export { FrameCollectorStage, type FrameCollectorCallbacks } from './collectStage.ts';
export {
  createAvStage,
  listAvStages,
  registerAvStage,
  UnknownStageError,
  type AvStageFactory,
  type AvStageOptions,
} from './stages.ts';
export * from './io/index.ts';
export type { FaceRenderer, LandmarkGenerator, PhoneAwareStage, TimedPhone } from './lipsync/types.ts';
