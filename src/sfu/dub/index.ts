/** Dubbing in the SFU: one pipeline per (speaker, language), shared by that language's listeners. See docs/client-sdk.md. */
export { DubManager, dubManagerFactory, type DubManagerOptions } from './DubManager.ts';
export { DubPipeline, type DubPipelineOptions } from './DubPipeline.ts';
export { DubDriveStage, type DubDriveStageOptions } from './DubDriveStage.ts';
export { InterpreterFeedSource, type InterpreterFeedSourceOptions } from './InterpreterFeed.ts';
