/** Node SDK: a werift-backed peer with the same API as the browser SDK. */
export {
  LipsyncClient,
  RequestError,
  type JoinOptions,
  type Publication,
  type RemoteTrack,
  type SubscribePolicy,
} from './LipsyncClient.ts';
export { SignalChannel } from './SignalChannel.ts';
export { WeriftHandler, type WeriftHandlerOptions } from './WeriftHandler.ts';
