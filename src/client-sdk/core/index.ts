/** The client SDK's shared core (browser and Node): one LipsyncClient, signalling, typed events. */
export { LipsyncClient, type JoinedSession, type PublishOptions } from './LipsyncClient.ts';
export {
  SignalChannel,
  RequestError,
  type SignalChannelOptions,
  type WebSocketLike,
  type WebSocketFactory,
} from './SignalChannel.ts';
export { Emitter } from './Emitter.ts';
export type {
  ClientEvents,
  DubChoice,
  InterpretingAssignment,
  JoinOptions,
  Publication,
  RemoteTrack,
  SpeakerLanguage,
  SpeakerView,
  SubscribePolicy,
} from './types.ts';
