/** Public types of the client SDK, shared by the browser and Node flavours. */
import type { HandlerFactory } from 'mediasoup-client/types';
import type {
  DubSourceKind,
  DubStats,
  LanguageOffer,
  PeerInfo,
  ProducerInfo,
  TrackSource,
} from '../../protocol/index.ts';
import type { SignalChannelOptions } from './SignalChannel.ts';

/**
 * Which producers a client consumes on its own: the tapped copies (`processed`, default), the participants' own
 * (`original`), both (`all`) or none. Dubbed producers are never consumed on their own: `setDubLanguage` does.
 */
export type SubscribePolicy = 'processed' | 'original' | 'all' | 'none';

export interface JoinOptions extends SignalChannelOptions {
  /** WebSocket URL of the SFU, e.g. `ws://127.0.0.1:8080/ws`. */
  url: string;
  /** Join token minted by the application server. */
  token: string;
  displayName?: string;
  /** Consume other peers' producers automatically. Default 'processed'. */
  subscribe?: SubscribePolicy;
  /** mediasoup-client handler. Default: the browser's (auto-detected); the Node SDK passes the werift handler. */
  handlerFactory?: HandlerFactory;
  /** Longest wait for a dub pipeline to start (first listener of a language), in ms. Default 60000. */
  dubTimeoutMs?: number;
}

/** A remote track this client receives. `TTrack`: the DOM MediaStreamTrack in browsers, werift's in Node. */
export interface RemoteTrack<TTrack = MediaStreamTrack> {
  track: TTrack;
  consumerId: string;
  producerId: string;
  peerId: string;
  kind: 'audio' | 'video';
  source: TrackSource;
  /** The language of a dubbed track; null for the speaker's own speech. */
  language: string | null;
  /** True while the consumer is paused (an original set aside while its dub plays). */
  paused: boolean;
  /**
   * The receiver's A/V sync group (msid stream id): one per (speaker, source, language), so a browser lip-syncs a
   * dubbed video with the dubbed audio, never with the speaker's original audio of the same RTCP CNAME.
   */
  syncGroup: string;
}

/** What a listener should render for one speaker right now: their own tracks, or the dub they chose. */
export interface SpeakerView<TTrack = MediaStreamTrack> {
  peerId: string;
  /** The dub language shown; null: the speaker's own speech. */
  language: string | null;
  audio?: RemoteTrack<TTrack>;
  video?: RemoteTrack<TTrack>;
}

/** A track this client publishes. */
export interface Publication {
  producerId: string;
  kind: 'audio' | 'video';
  /**
   * Calls `listener` whenever the SFU asks this sender for a keyframe (a listener joined, lost packets, or the tap's
   * processor needs one): an encoder feeding the track should emit one soon. Returns an unsubscribe function. In
   * browsers the browser's own encoder answers keyframe requests and the listener is never called.
   */
  onKeyframeRequest(listener: () => void): () => void;
  close(): void;
}

/** Result of `setDubLanguage`. */
export interface DubChoice {
  speakerPeerId: string;
  language: string | null;
  /** False when the speaker refused face re-rendering (only the voice is dubbed). */
  faceRendering: boolean;
  source?: DubSourceKind;
}

/** One interpreter assignment: `interpreterPeerId` interprets `speakerPeerId` (`*`: the floor) into `language`. */
export interface InterpretingAssignment {
  speakerPeerId: string;
  language: string;
  interpreterPeerId: string;
}

/** A language one speaker can be heard in now, and where that dub comes from (see `languagesFor`). */
export interface SpeakerLanguage {
  language: string;
  source: DubSourceKind;
  /** The interpreter whose voice it is, when `source` is `interpreter`. */
  interpreterPeerId?: string;
}

export type ClientEvents<TTrack = MediaStreamTrack> = {
  /** A peer is in the room (those present at join, then each newcomer). */
  peer: [PeerInfo];
  peerleft: [peerId: string];
  /** A producer became available (whether or not it is subscribed). */
  producer: [ProducerInfo];
  producerclose: [producerId: string];
  /** A subscribed track is ready (resumed on the server). */
  track: [RemoteTrack<TTrack>];
  trackended: [RemoteTrack<TTrack>];
  /** What to render for a speaker changed (new tracks, dub switched on or off). */
  speakerview: [SpeakerView<TTrack>];
  /**
   * The available dub languages or their sources changed (an interpreter started, stopped or left). `offers[i]
   * .interpreters` lists the live interpreters; `languagesFor(speaker)` resolves them per speaker.
   */
  languages: [languages: string[], offers: LanguageOffer[]];
  /** Health of a dub this client listens to (about once a second). */
  dubstats: [DubStats];
  /** A dub this client listened to ended without being asked; the view is back on the original. */
  dubended: [{ speakerPeerId: string; language: string; reason: string }];
  /** The client left: 'left', 'roomClosed:<reason>', 'replaced', 'serverShutdown', 'disconnected'. */
  close: [reason: string];
  /** A background operation (auto-subscribe, dub switch) failed. */
  error: [Error];
};
