/**
 * The Node SDK (and the meeting bot's base): the same LipsyncClient as in browsers (src/client-sdk/core), with the
 * werift handler for mediasoup-client and the `ws` WebSocket. Tracks are werift tracks.
 *
 *   const client = await LipsyncClient.join({ url, token });
 *   client.on('track', (t) => t.track.onReceiveRtp.subscribe((rtp) => ...));
 *   const track = new MediaStreamTrack({ kind: 'video' });
 *   await client.publish(track);  // then track.writeRtp(packet) for each RTP packet
 */
import type { MediaStreamTrack as WeriftTrack } from 'werift';
import WebSocket from 'ws';
import { LipsyncClient as CoreLipsyncClient } from '../core/LipsyncClient.ts';
import type { WebSocketLike } from '../core/SignalChannel.ts';
import type {
  JoinOptions as CoreJoinOptions,
  RemoteTrack as CoreRemoteTrack,
  SpeakerView as CoreSpeakerView,
} from '../core/types.ts';
import { WeriftHandler, type WeriftHandlerOptions } from './WeriftHandler.ts';

export { RequestError } from '../core/SignalChannel.ts';
export type {
  Publication,
  SubscribePolicy,
  DubChoice,
  InterpretingAssignment,
  SpeakerLanguage,
} from '../core/types.ts';

export interface JoinOptions extends Omit<CoreJoinOptions, 'handlerFactory'> {
  /** Options of the werift handler (ports, ICE settings). */
  handler?: WeriftHandlerOptions;
}

/** A remote track this client receives, as a werift track: `track.onReceiveRtp.subscribe((rtp) => ...)`. */
export type RemoteTrack = CoreRemoteTrack<WeriftTrack>;
export type SpeakerView = CoreSpeakerView<WeriftTrack>;

export class LipsyncClient extends CoreLipsyncClient<WeriftTrack> {
  static async join(options: JoinOptions): Promise<LipsyncClient> {
    const session = await super.connect({
      createWebSocket: (url) => new WebSocket(url) as unknown as WebSocketLike,
      ...options,
      handlerFactory: WeriftHandler.createFactory(options.handler),
    });
    return new LipsyncClient(session);
  }
}
