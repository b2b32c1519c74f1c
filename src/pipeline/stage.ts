/**
 * The contract between the SFU tap and the media pipeline.
 *
 * The SFU gives a processor the RTP of one speaker's tracks (audio and/or video) and takes back RTP to send as new
 * producers. The processor knows nothing of mediasoup: it sees RTP packets as bytes and the codec parameters it was
 * told. An identity processor forwards packets as they are; the media pipeline's processor depacketizes, decodes,
 * runs frame stages (face tracking, lip-sync), encodes and packetizes again.
 */

export type MediaKind = 'audio' | 'video';

/** What the processor needs to know about one incoming or outgoing RTP stream. */
export interface RtpStreamInfo {
  kind: MediaKind;
  /** e.g. `video/VP8`, `video/H264`, `audio/opus` (case-insensitive, as in mediasoup). */
  mimeType: string;
  payloadType: number;
  clockRate: number;
  /** Audio channels as negotiated (opus: 2). Absent for video. */
  channels?: number;
  ssrc: number;
  /** Codec parameters (H.264 packetization-mode, profile-level-id...). */
  parameters?: Record<string, unknown>;
}

export interface RtpProcessorEvents {
  /** A packet to send on the processed stream of this kind. */
  rtp: (kind: MediaKind, packet: Buffer) => void;
  /** The processor wants a keyframe from the original sender (decoder error, loss, a listener's PLI). */
  keyframeRequest: () => void;
  /**
   * Maps the output stream of this kind onto wall-clock time (NTP ms, RTP timestamp), for the SFU to send as an RTCP
   * sender report so listeners can lip-sync the processed audio and video. Emit about once a second per stream.
   */
  senderReport: (kind: MediaKind, ntpTimeMs: number, rtpTimestamp: number) => void;
}

/**
 * One speaker's processing stage. `push*` is called from the SFU's event loop for every packet and must not block:
 * heavy work runs elsewhere (worker threads), and output arrives through `onRtp`.
 */
export interface RtpProcessor {
  /** Output stream descriptions, known once the processor has started (SSRCs, payload types). */
  readonly outputs: readonly RtpStreamInfo[];
  pushRtp(kind: MediaKind, packet: Buffer): void;
  /** RTCP sender report of the original sender, for lip sync of the input clock (io/ maps both tracks onto one clock). */
  pushSenderReport?(kind: MediaKind, ntpTimeMs: number, rtpTimestamp: number): void;
  /** A listener of the processed video asked for a keyframe. */
  requestKeyframe(): void;
  on<E extends keyof RtpProcessorEvents>(event: E, listener: RtpProcessorEvents[E]): this;
  off<E extends keyof RtpProcessorEvents>(event: E, listener: RtpProcessorEvents[E]): this;
  close(): void;
}

/** Builds a processor for one speaker's tapped tracks. */
export type RtpProcessorFactory = (inputs: readonly RtpStreamInfo[]) => Promise<RtpProcessor>;
