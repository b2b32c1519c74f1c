/**
 * A mediasoup-client handler backed by werift's RTCPeerConnection, so a Node peer (SDK, meeting bot, tests) uses the
 * very same mediasoup-client Device / Transport / Producer / Consumer API as the browser SDK.
 *
 * It follows mediasoup-client's own unified-plan handlers (Chrome111): the remote side of each transport is an SDP
 * built by mediasoup-client's RemoteSdp from the server's ICE/DTLS parameters; the local side is werift's. Tracks are
 * werift MediaStreamTracks (write RTP with `track.writeRtp(packet)`; read with `track.onReceiveRtp`).
 * Not supported (not needed by a bot): data channels, simulcast, ICE restart, replaceTrack to another track.
 */
import type { HandlerFactory, HandlerOptions } from 'mediasoup-client/handlers/HandlerInterface';
import { HandlerInterface } from 'mediasoup-client/handlers/HandlerInterface';
import { RemoteSdp } from 'mediasoup-client/handlers/sdp/RemoteSdp';
import * as sdpCommonUtils from 'mediasoup-client/handlers/sdp/commonUtils';
import * as sdpUnifiedPlanUtils from 'mediasoup-client/handlers/sdp/unifiedPlanUtils';
import * as ortc from 'mediasoup-client/ortc';
import type {
  ConnectionState,
  DtlsRole,
  ExtendedRtpCapabilities,
  IceParameters,
  MediaKind,
  RtpCapabilities,
} from 'mediasoup-client/types';
import * as sdpTransform from 'sdp-transform';
import {
  MediaStream,
  RTCPeerConnection,
  RTCRtpCodecParameters,
  useAbsSendTime,
  useFIR,
  useNACK,
  usePLI,
  useREMB,
  useSdesMid,
  type MediaStreamTrack as WeriftTrack,
  type RTCRtpTransceiver,
} from 'werift';

const NAME = 'Werift';

type HandlerMethods = HandlerInterface;
type SendOptions = Parameters<HandlerMethods['send']>[0];
type SendResult = Awaited<ReturnType<HandlerMethods['send']>>;
type ReceiveOptions = Parameters<HandlerMethods['receive']>[0];
type ReceiveResult = Awaited<ReturnType<HandlerMethods['receive']>>;

export interface WeriftHandlerOptions {
  /** Local addresses werift may gather ICE candidates on. Default: loopback only when the server is on loopback. */
  iceAdditionalHostAddresses?: string[];
  /** Use IPv6 candidates. Default false. */
  iceUseIpv6?: boolean;
}

/** Codecs the werift peer offers; the router's codecs (opus, VP8, H.264) are matched against them. */
function peerConfig(options: WeriftHandlerOptions) {
  return {
    codecs: {
      audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2 })],
      video: [
        new RTCRtpCodecParameters({
          mimeType: 'video/VP8',
          clockRate: 90000,
          rtcpFeedback: [useNACK(), usePLI(), useFIR(), useREMB()],
        }),
        new RTCRtpCodecParameters({
          mimeType: 'video/H264',
          clockRate: 90000,
          rtcpFeedback: [useNACK(), usePLI(), useFIR(), useREMB()],
          parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
        }),
      ],
    },
    headerExtensions: {
      audio: [useSdesMid()],
      video: [useSdesMid(), useAbsSendTime()],
    },
    bundlePolicy: 'max-bundle' as const,
    iceUseIpv6: options.iceUseIpv6 ?? false,
    ...(options.iceAdditionalHostAddresses ? { iceAdditionalHostAddresses: options.iceAdditionalHostAddresses } : {}),
  };
}

function localRtpCapabilities(sdp: string): RtpCapabilities {
  const caps = sdpCommonUtils.extractRtpCapabilities({ sdpObject: sdpTransform.parse(sdp) as never });
  ortc.validateAndNormalizeRtpCapabilities(caps);
  return caps;
}

export class WeriftHandler extends HandlerInterface {
  readonly #direction: 'send' | 'recv';
  readonly #remoteSdp: RemoteSdp;
  readonly #getSendExtendedRtpCapabilities: (caps: RtpCapabilities) => ExtendedRtpCapabilities;
  readonly #forcedLocalDtlsRole: DtlsRole | undefined;
  readonly #pc: RTCPeerConnection;
  readonly #mapMidTransceiver = new Map<string, RTCRtpTransceiver>();
  readonly #sendStream = new MediaStream();
  #transportReady = false;
  #closed = false;

  static createFactory(options: WeriftHandlerOptions = {}): HandlerFactory {
    return {
      name: NAME,
      factory: (handlerOptions: HandlerOptions) => new WeriftHandler(handlerOptions, options),
      getNativeRtpCapabilities: async ({ direction }) => {
        const pc = new RTCPeerConnection(peerConfig(options));
        try {
          pc.addTransceiver('audio', { direction });
          pc.addTransceiver('video', { direction });
          const offer = await pc.createOffer();
          return localRtpCapabilities(offer.sdp);
        } finally {
          await pc.close().catch(() => {});
        }
      },
    };
  }

  constructor(
    {
      direction,
      iceParameters,
      iceCandidates,
      dtlsParameters,
      sctpParameters,
      getSendExtendedRtpCapabilities,
    }: HandlerOptions,
    options: WeriftHandlerOptions,
  ) {
    super();
    this.#direction = direction;
    this.#remoteSdp = new RemoteSdp({
      iceParameters,
      iceCandidates,
      dtlsParameters,
      ...(sctpParameters ? { sctpParameters } : {}),
    });
    this.#getSendExtendedRtpCapabilities = getSendExtendedRtpCapabilities;
    if (dtlsParameters.role && dtlsParameters.role !== 'auto') {
      this.#forcedLocalDtlsRole = dtlsParameters.role === 'server' ? 'client' : 'server';
    }
    this.#pc = new RTCPeerConnection(peerConfig(options));
    this.#pc.iceGatheringStateChange.subscribe((state) => this.emit('@icegatheringstatechange', state));
    this.#pc.connectionStateChange.subscribe((state) => this.emit('@connectionstatechange', state as ConnectionState));
  }

  get name(): string {
    return NAME;
  }

  /** The underlying werift peer connection (stats, debugging). */
  get pc(): RTCPeerConnection {
    return this.#pc;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pc.close().catch(() => {});
    this.emit('@close');
    this.removeAllListeners();
  }

  updateIceServers(): Promise<void> {
    return Promise.reject(new Error('updateIceServers() not supported by the werift handler'));
  }

  restartIce(_iceParameters: IceParameters): Promise<void> {
    return Promise.reject(new Error('restartIce() not supported by the werift handler'));
  }

  async getTransportStats(): Promise<RTCStatsReport> {
    return (await this.#pc.getStats()) as unknown as RTCStatsReport;
  }

  async send({ track, streamId, encodings, codecOptions, codec }: SendOptions): Promise<SendResult> {
    this.#assertNotClosed();
    this.#assertDirection('send');
    const weriftTrack = track as unknown as WeriftTrack;
    const mediaSectionIdx = this.#remoteSdp.getNextMediaSectionIdx();
    const transceiver = this.#pc.addTransceiver(weriftTrack, { direction: 'sendonly', streams: [this.#sendStream] });
    const offer = await this.#pc.createOffer();
    let localSdpObject = sdpTransform.parse(offer.sdp);
    const nativeRtpCapabilities = localRtpCapabilities(offer.sdp);
    const sendExtendedRtpCapabilities = this.#getSendExtendedRtpCapabilities(nativeRtpCapabilities);
    const kind = weriftTrack.kind as MediaKind;
    const sendingRtpParameters = ortc.getSendingRtpParameters(kind, sendExtendedRtpCapabilities);
    sendingRtpParameters.codecs = ortc.reduceCodecs(sendingRtpParameters.codecs, codec);
    const sendingRemoteRtpParameters = ortc.getSendingRemoteRtpParameters(kind, sendExtendedRtpCapabilities);
    sendingRemoteRtpParameters.codecs = ortc.reduceCodecs(sendingRemoteRtpParameters.codecs, codec);

    if (!this.#transportReady) {
      await this.#setupTransport(this.#forcedLocalDtlsRole ?? 'client', offer.sdp);
    }
    await this.#pc.setLocalDescription(offer);
    const localId = transceiver.mid;
    if (!localId) throw new Error('werift gave the new transceiver no mid');
    sendingRtpParameters.mid = localId;
    localSdpObject = sdpTransform.parse(this.#pc.localDescription!.sdp);
    const offerMediaObject = localSdpObject.media[mediaSectionIdx.idx]!;
    sendingRtpParameters.rtcp!.cname = sdpCommonUtils.getCname({ offerMediaObject: offerMediaObject as never });
    sendingRtpParameters.msid = `${streamId ?? this.#sendStream.id} ${weriftTrack.id ?? weriftTrack.uuid}`;
    const parsedEncodings = sdpUnifiedPlanUtils.getRtpEncodings({
      offerMediaObject: offerMediaObject as never,
      codecs: sendingRtpParameters.codecs,
    });
    if (encodings && encodings.length === 1) Object.assign(parsedEncodings[0]!, encodings[0]);
    sendingRtpParameters.encodings = parsedEncodings;

    this.#remoteSdp.send({
      offerMediaObject: offerMediaObject as never,
      ...(mediaSectionIdx.reuseMid ? { reuseMid: mediaSectionIdx.reuseMid } : {}),
      offerRtpParameters: sendingRtpParameters,
      answerRtpParameters: sendingRemoteRtpParameters,
      ...(codecOptions ? { codecOptions } : {}),
    });
    await this.#pc.setRemoteDescription({ type: 'answer', sdp: this.#remoteSdp.getSdp() });
    this.#mapMidTransceiver.set(localId, transceiver);
    return {
      localId,
      rtpParameters: sendingRtpParameters,
      rtpSender: transceiver.sender as unknown as RTCRtpSender,
    };
  }

  async stopSending(localId: string): Promise<void> {
    this.#assertDirection('send');
    if (this.#closed) return;
    const transceiver = this.#mapMidTransceiver.get(localId);
    if (!transceiver) throw new Error('associated transceiver not found');
    this.#pc.removeTrack(transceiver.sender);
    this.#remoteSdp.closeMediaSection(localId);
    const offer = await this.#pc.createOffer();
    await this.#pc.setLocalDescription(offer);
    await this.#pc.setRemoteDescription({ type: 'answer', sdp: this.#remoteSdp.getSdp() });
    this.#mapMidTransceiver.delete(localId);
  }

  // Pausing a werift sender: the SDK simply stops writing to the track; the server is told by mediasoup-client.
  pauseSending(_localId: string): Promise<void> {
    return Promise.resolve();
  }

  resumeSending(_localId: string): Promise<void> {
    return Promise.resolve();
  }

  async replaceTrack(localId: string, track: MediaStreamTrack | null): Promise<void> {
    const transceiver = this.#mapMidTransceiver.get(localId);
    if (!transceiver) throw new Error('associated transceiver not found');
    await transceiver.sender.replaceTrack(track as unknown as WeriftTrack | null);
  }

  setMaxSpatialLayer(): Promise<void> {
    return Promise.reject(new Error('simulcast not supported by the werift handler'));
  }

  setRtpEncodingParameters(): Promise<void> {
    return Promise.reject(new Error('setRtpEncodingParameters() not supported by the werift handler'));
  }

  async getSenderStats(_localId: string): Promise<RTCStatsReport> {
    return this.getTransportStats();
  }

  sendDataChannel(): Promise<never> {
    return Promise.reject(new Error('data channels not supported by the werift handler'));
  }

  async receive(optionsList: ReceiveOptions): Promise<ReceiveResult> {
    this.#assertNotClosed();
    this.#assertDirection('recv');
    const mapLocalId = new Map<string, string>();
    for (const { trackId, kind, rtpParameters, streamId } of optionsList) {
      const localId = rtpParameters.mid ?? String(this.#mapMidTransceiver.size);
      mapLocalId.set(trackId, localId);
      this.#remoteSdp.receive({
        mid: localId,
        kind,
        offerRtpParameters: rtpParameters,
        streamId: streamId ?? rtpParameters.rtcp?.cname ?? '-',
        trackId,
      });
    }
    await this.#pc.setRemoteDescription({ type: 'offer', sdp: this.#remoteSdp.getSdp() });
    const answer = await this.#pc.createAnswer();
    const localSdpObject = sdpTransform.parse(answer.sdp);
    for (const { trackId, rtpParameters } of optionsList) {
      const localId = mapLocalId.get(trackId);
      const answerMediaObject = localSdpObject.media.find((m) => String(m.mid) === localId);
      if (answerMediaObject) {
        sdpCommonUtils.applyCodecParameters({
          offerRtpParameters: rtpParameters,
          answerMediaObject: answerMediaObject as never,
        });
      }
    }
    const answerSdp = sdpTransform.write(localSdpObject);
    if (!this.#transportReady) {
      await this.#setupTransport(this.#forcedLocalDtlsRole ?? 'client', answerSdp);
    }
    await this.#pc.setLocalDescription({ type: 'answer', sdp: answerSdp });
    const results: ReceiveResult = [];
    for (const { trackId } of optionsList) {
      const localId = mapLocalId.get(trackId)!;
      const transceiver = this.#pc.getTransceivers().find((t) => t.mid === localId);
      if (!transceiver) throw new Error('new transceiver not found');
      this.#mapMidTransceiver.set(localId, transceiver);
      // The werift receiver stands in for RTCRtpReceiver (consumer.rtpReceiver): RTCP (onRtcp), PLI (sendRtcpPLI).
      results.push({
        localId,
        track: transceiver.receiver.track as unknown as MediaStreamTrack,
        rtpReceiver: transceiver.receiver as unknown as RTCRtpReceiver,
      });
    }
    return results;
  }

  async stopReceiving(localIds: string[]): Promise<void> {
    this.#assertDirection('recv');
    if (this.#closed) return;
    for (const localId of localIds) {
      if (!this.#mapMidTransceiver.has(localId)) throw new Error('associated transceiver not found');
      this.#remoteSdp.closeMediaSection(localId);
    }
    await this.#pc.setRemoteDescription({ type: 'offer', sdp: this.#remoteSdp.getSdp() });
    await this.#pc.setLocalDescription(await this.#pc.createAnswer());
    for (const localId of localIds) this.#mapMidTransceiver.delete(localId);
  }

  // The server pauses and resumes consumers; locally there is nothing to renegotiate.
  pauseReceiving(_localIds: string[]): Promise<void> {
    return Promise.resolve();
  }

  resumeReceiving(_localIds: string[]): Promise<void> {
    return Promise.resolve();
  }

  async getReceiverStats(_localId: string): Promise<RTCStatsReport> {
    return this.getTransportStats();
  }

  receiveDataChannel(): Promise<never> {
    return Promise.reject(new Error('data channels not supported by the werift handler'));
  }

  getDataChannelMaxMessageSize(): number | undefined {
    return undefined;
  }

  async #setupTransport(localDtlsRole: DtlsRole, localSdp: string): Promise<void> {
    const dtlsParameters = sdpCommonUtils.extractDtlsParameters({ sdpObject: sdpTransform.parse(localSdp) as never });
    dtlsParameters.role = localDtlsRole;
    this.#remoteSdp.updateDtlsRole(localDtlsRole === 'client' ? 'server' : 'client');
    await new Promise<void>((resolve, reject) => {
      this.safeEmit('@connect', { dtlsParameters }, resolve, reject);
    });
    this.#transportReady = true;
  }

  #assertNotClosed(): void {
    if (this.#closed) throw new Error('method called in a closed handler');
  }

  #assertDirection(direction: 'send' | 'recv'): void {
    if (this.#direction !== direction) throw new Error(`method needs a "${direction}" handler`);
  }
}
