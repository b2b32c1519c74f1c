/** Defaults of the SFU: router codecs and transport settings. */
import type { types as ms } from 'mediasoup';

/** Codecs every room's router offers: Opus for audio; VP8 and H.264 (constrained baseline) for video. */
export const defaultMediaCodecs: ms.RouterRtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
  },
];

export interface TransportSettings {
  /** Local IP the WebRTC transports bind. Default '127.0.0.1'. */
  listenIp?: string;
  /** Address announced in ICE candidates (public IP or hostname) when it differs from listenIp. */
  announcedAddress?: string;
  /** UDP/TCP port range for WebRTC transports. Default: mediasoup's (10000-59999). */
  portRange?: { min: number; max: number };
  /** Also offer ICE over TCP. Default true. */
  enableTcp?: boolean;
  /** Start estimate of the bandwidth toward a client, in bits per second. Default 1 Mbit/s. */
  initialAvailableOutgoingBitrate?: number;
}

export function webRtcTransportOptions({
  listenIp = '127.0.0.1',
  announcedAddress,
  portRange,
  enableTcp = true,
  initialAvailableOutgoingBitrate = 1_000_000,
}: TransportSettings = {}): ms.WebRtcTransportOptions {
  const base = {
    ip: listenIp,
    ...(announcedAddress ? { announcedAddress } : {}),
    ...(portRange ? { portRange } : {}),
  };
  const listenInfos: ms.TransportListenInfo[] = [{ protocol: 'udp', ...base }];
  if (enableTcp) listenInfos.push({ protocol: 'tcp', ...base });
  return {
    listenInfos: listenInfos as ms.WebRtcTransportOptions['listenInfos'],
    enableUdp: true,
    enableTcp,
    preferUdp: true,
    initialAvailableOutgoingBitrate,
  } as ms.WebRtcTransportOptions;
}
