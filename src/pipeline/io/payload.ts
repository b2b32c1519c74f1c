/** The codec-specific half of RTP (de)packetizing: what one payload format (VP8, H.264, Opus) must provide. */

/** A payload that breaks its format's rules; the frame is dropped and counted, the stream continues. */
export class RtpPayloadError extends Error {
  override name = 'RtpPayloadError';
}

export interface AssembledFrame {
  /** What the decoder takes: the VP8 frame, an H.264 access unit in Annex B, one Opus packet. */
  data: Buffer;
  keyframe: boolean;
  /** Coded size when the frame says (VP8 and H.264 keyframes are not parsed for it: the decoder reports it). */
  width?: number;
  height?: number;
}

export interface PayloadFormat {
  readonly codec: 'vp8' | 'h264' | 'opus';
  /** Whether the packet's payload begins a frame. Throws RtpPayloadError on a malformed payload. */
  isFrameStart(payload: Buffer): boolean;
  /** Joins the payloads of one frame's packets, in sequence order. Throws RtpPayloadError when corrupt. */
  assemble(payloads: readonly Buffer[]): AssembledFrame;
  /** Splits one encoded frame into payloads of at most `maxPayloadBytes` (marker goes on the last). */
  packetize(frame: Buffer, keyframe: boolean, maxPayloadBytes: number): Buffer[];
}
