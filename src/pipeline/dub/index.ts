/**
 * Dub sources: the speech a speaker's lips should follow, in a listener's language. See docs/dub.md.
 *
 * - `EmbeddedDubSource`: offline VAD -> pocketsphinx -> Apertium -> Festival/espeak-ng, with phoneme timings.
 * - `InterpreterDubSource`: a human interpreter's track as the dub; `InterpreterRegistry` maps (speaker, language)
 *   to the interpreter peer for the SFU.
 * - `ProviderDubSource` / `ProviderServer`: the `lipsync-dub/1` WebSocket protocol (docs/provider-protocol.md).
 * - `DubTimeline`: places segments on the speaker's delayed output timeline.
 */
export type {
  DubErrorCode,
  DubSegment,
  DubSource,
  DubSourceEvents,
  DubSourceKind,
  DubStepTimings,
  PhonemeTiming,
} from './types.ts';
export { DubError } from './types.ts';
export {
  EmbeddedDubSource,
  defaultEmbeddedDubSourceOptions,
  segmentAt,
  type EmbeddedDubSourceOptions,
} from './EmbeddedDubSource.ts';
export {
  InterpreterDubSource,
  defaultInterpreterDubSourceOptions,
  type InterpreterDubSourceOptions,
} from './InterpreterDubSource.ts';
export { ANY_SPEAKER, InterpreterRegistry, type InterpreterAssignment } from './InterpreterRegistry.ts';
export {
  DubTimeline,
  defaultDubTimelineOptions,
  segmentDurationMs,
  trimSegmentPauses,
  type DubTimelineOptions,
  type PlacedSegment,
} from './DubTimeline.ts';
export {
  ProviderDubSource,
  defaultProviderDubSourceOptions,
  type ProviderDubSourceOptions,
} from './provider/ProviderDubSource.ts';
export { ProviderServer, defaultProviderServerOptions, type ProviderServerOptions } from './provider/ProviderServer.ts';
export * as providerProtocol from './provider/protocol.ts';
export {
  apertiumModes,
  checkEmbeddedLanguages,
  embeddedSourceLanguages,
  embeddedTargetLanguages,
  supportedPairs,
  translationRoute,
} from './languages.ts';
export { chooseVoice, synthesize, type SynthesisResult, type TtsEngine } from './engines/tts.ts';
export { dubStream } from './stream.ts';
