/** Node SDK: the same LipsyncClient as the browser SDK, on werift. */
export {
  LipsyncClient,
  RequestError,
  type DubChoice,
  type InterpretingAssignment,
  type JoinOptions,
  type Publication,
  type RemoteTrack,
  type SpeakerLanguage,
  type SpeakerView,
  type SubscribePolicy,
} from './LipsyncClient.ts';
export { SignalChannel } from './SignalChannel.ts';
export { WeriftHandler, type WeriftHandlerOptions } from './WeriftHandler.ts';
