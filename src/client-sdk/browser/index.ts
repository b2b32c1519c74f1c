/**
 * The browser SDK: the core LipsyncClient with mediasoup-client's own handler for this browser and the browser's
 * WebSocket, plus helpers to capture the camera and microphone.
 *
 *   import { LipsyncClient, captureCameraAndMicrophone } from 'lipsync-sfu/client-sdk/browser';
 *   const client = await LipsyncClient.join({ url: 'wss://sfu.example/ws', token });
 *   const { audio, video } = await captureCameraAndMicrophone();
 *   await client.publish(video); await client.publish(audio);
 *   client.on('speakerview', (v) => show(v));
 *   await client.setDubLanguage(v.peerId, 'es');
 */
import { LipsyncClient as CoreLipsyncClient } from '../core/LipsyncClient.ts';
import type { JoinOptions } from '../core/types.ts';

export { RequestError, SignalChannel } from '../core/index.ts';
export {
  DubLipSync,
  type AvOffsetReading,
  type DubLipSyncOptions,
  type DubLipSyncState,
  type DubLipSyncStatus,
} from './DubLipSync.ts';

/** The client with this browser's mediasoup-client handler and WebSocket. */
export class LipsyncClient extends CoreLipsyncClient<MediaStreamTrack> {
  /** Joins a room: connects, joins with the token, loads the Device. */
  static async join(options: JoinOptions): Promise<LipsyncClient> {
    return new LipsyncClient(await super.connect(options));
  }
}
export type {
  ClientEvents,
  DubChoice,
  InterpretingAssignment,
  JoinOptions,
  Publication,
  PublishOptions,
  RemoteTrack,
  SpeakerLanguage,
  SpeakerView,
  SubscribePolicy,
} from '../core/index.ts';
export type {
  DubStats,
  InterpreterInfo,
  LanguageOffer,
  PeerGrants,
  PeerInfo,
  ProducerInfo,
} from '../../protocol/index.ts';

/** Opens the camera and microphone (one track each). Sizes in pixels, frame rate in frames per second. */
export async function captureCameraAndMicrophone({
  width = 640,
  height = 480,
  frameRate = 25,
  audio = true,
  video = true,
}: { width?: number; height?: number; frameRate?: number; audio?: boolean; video?: boolean } = {}): Promise<{
  stream: MediaStream;
  audio: MediaStreamTrack | undefined;
  video: MediaStreamTrack | undefined;
}> {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: audio ? { echoCancellation: false, noiseSuppression: false, autoGainControl: false } : false,
    video: video ? { width, height, frameRate } : false,
  });
  return { stream, audio: stream.getAudioTracks()[0], video: stream.getVideoTracks()[0] };
}

/** A MediaStream of a speaker view's tracks, for a <video> element. */
export function streamOf(view: {
  audio?: { track: MediaStreamTrack };
  video?: { track: MediaStreamTrack };
}): MediaStream {
  const tracks: MediaStreamTrack[] = [];
  if (view.video) tracks.push(view.video.track);
  if (view.audio) tracks.push(view.audio.track);
  return new MediaStream(tracks);
}
