/** Node SDK: the same LipsyncClient as the browser SDK, on werift. */
export {
  LipsyncClient,
  RequestError,
  type DubChoice,
  type JoinOptions,
  type Publication,
  type RemoteTrack,
  type SpeakerView,
  type SubscribePolicy,
} from './LipsyncClient.ts';
export { SignalChannel } from './SignalChannel.ts';
export { WeriftHandler, type WeriftHandlerOptions } from './WeriftHandler.ts';
