// The mediasoup worker built by scripts/setup.d/10-mediasoup-worker.mjs (Debian libraries, see docs/install.md):
// it starts, routes Opus/VP8/H264, completes ICE + DTLS with a real WebRTC peer (werift) on loopback, which is where
// the OpenSSL kTLS bug made the unpatched worker segfault, carries SRTP both ways (the libsrtp2 compatibility
// header), and reports its death.
import { once } from 'node:events';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { RTCPeerConnection, RTCRtpCodecParameters, RtpHeader, RtpPacket } from 'werift';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const mediaCodecs: types.RouterRtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
  },
];

function sdpValue(sdp: string, pattern: RegExp, what: string): RegExpExecArray {
  const m = pattern.exec(sdp);
  if (!m) throw new Error(`no ${what} in SDP:\n${sdp}`);
  return m;
}

/** Polls check() every 20 ms until it holds; rejects after timeoutMs. */
async function waitUntil(what: string, timeoutMs: number, check: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('mediasoup worker (built from Debian libraries)', () => {
  let worker: types.Worker;
  let workerDeath: Error | undefined;

  beforeAll(async () => {
    worker = await mediasoup.createWorker({ logLevel: 'warn' });
    worker.on('died', (error) => {
      workerDeath = error;
    });
  });

  /** Fails at once, with the worker's own error, if the worker died (a crash in the DTLS handshake shows here). */
  const alive = (check: () => boolean) => () => {
    if (workerDeath) throw new Error(`mediasoup worker died: ${workerDeath.message}`);
    return check();
  };

  afterAll(() => {
    worker?.close();
  });

  it('starts and creates a router with Opus, VP8 and H264', async () => {
    expect(worker.pid).toBeGreaterThan(0);
    const router = await worker.createRouter({ mediaCodecs });
    const mimeTypes = router.rtpCapabilities.codecs?.map((c) => c.mimeType) ?? [];
    expect(mimeTypes).toEqual(expect.arrayContaining(['audio/opus', 'video/VP8', 'video/H264']));
    router.close();
  });

  it(
    'completes ICE + DTLS with a werift peer on 127.0.0.1 and carries SRTP both ways',
    { timeout: 30_000 },
    async () => {
      const router = await worker.createRouter({ mediaCodecs });
      const transport = await router.createWebRtcTransport({
        listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }],
      });
      // The consumer keeps the router's payload type: make werift use the same one.
      const routerOpus = router.rtpCapabilities.codecs?.find((c) => c.mimeType === 'audio/opus');
      const pc = new RTCPeerConnection({
        iceAdditionalHostAddresses: ['127.0.0.1'],
        iceUseIpv6: false,
        codecs: {
          audio: [
            new RTCRtpCodecParameters({
              mimeType: 'audio/opus',
              clockRate: 48000,
              channels: 2,
              payloadType: routerOpus?.preferredPayloadType,
            }),
          ],
        },
      });
      try {
        // werift offers one audio section; mediasoup answers as an ICE-lite, DTLS-server endpoint.
        const transceiver = pc.addTransceiver('audio', { direction: 'sendrecv' });
        await pc.setLocalDescription(await pc.createOffer());
        const offer = pc.localDescription?.sdp ?? '';
        const [, algorithm = '', value = ''] = sdpValue(offer, /^a=fingerprint:(\S+) (\S+)/m, 'fingerprint');
        const [, mid = ''] = sdpValue(offer, /^a=mid:(\S+)/m, 'mid');
        const [, pt = ''] = sdpValue(offer, /^a=rtpmap:(\d+) opus\/48000/im, 'opus payload type');
        const payloadType = Number(pt);

        await transport.connect({
          dtlsParameters: {
            role: 'client',
            fingerprints: [{ algorithm: algorithm.toLowerCase() as types.FingerprintAlgorithm, value }],
          },
        });

        // werift -> mediasoup (SRTP decrypt in the worker), looped back mediasoup -> werift (SRTP encrypt).
        const producer = await transport.produce({
          kind: 'audio',
          rtpParameters: {
            mid,
            codecs: [{ mimeType: 'audio/opus', payloadType, clockRate: 48000, channels: 2 }],
            encodings: [{ ssrc: transceiver.sender.ssrc }],
            rtcp: { cname: 'werift' },
          },
        });
        const consumer = await transport.consume({
          producerId: producer.id,
          rtpCapabilities: {
            codecs: [
              {
                kind: 'audio',
                mimeType: 'audio/opus',
                clockRate: 48000,
                channels: 2,
                preferredPayloadType: payloadType,
              },
            ],
            headerExtensions: [],
          },
        });
        const consumerSsrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
        expect(consumer.rtpParameters.codecs[0]?.payloadType).toBe(payloadType);

        const { iceParameters, iceCandidates, dtlsParameters } = transport;
        const fingerprint = dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256');
        const answer = [
          'v=0',
          'o=mediasoup 1 1 IN IP4 127.0.0.1',
          's=-',
          't=0 0',
          'a=ice-lite',
          `a=group:BUNDLE ${mid}`,
          `m=audio 9 UDP/TLS/RTP/SAVPF ${payloadType}`,
          'c=IN IP4 127.0.0.1',
          `a=mid:${mid}`,
          'a=sendrecv',
          'a=rtcp-mux',
          `a=ice-ufrag:${iceParameters.usernameFragment}`,
          `a=ice-pwd:${iceParameters.password}`,
          `a=fingerprint:${fingerprint?.algorithm} ${fingerprint?.value.toUpperCase()}`,
          'a=setup:passive',
          `a=rtpmap:${payloadType} opus/48000/2`,
          `a=ssrc:${consumerSsrc} cname:mediasoup`,
          ...iceCandidates.map(
            (c) => `a=candidate:${c.foundation} 1 ${c.protocol} ${c.priority} ${c.address} ${c.port} typ ${c.type}`,
          ),
          'a=end-of-candidates',
          '',
        ].join('\r\n');

        const received: RtpPacket[] = [];
        pc.onTrack.subscribe((track) => {
          track.onReceiveRtp.subscribe((rtp) => {
            received.push(rtp);
          });
        });
        await pc.setRemoteDescription({ type: 'answer', sdp: answer });

        await waitUntil(
          'DTLS connected on both sides',
          15_000,
          alive(() => transport.dtlsState === 'connected' && pc.connectionState === 'connected'),
        );
        expect(transport.iceState).toMatch(/^(connected|completed)$/);

        // Send a few RTP packets until one comes back through the consumer.
        const payload = Buffer.from('lipsync-sfu install check');
        let seq = 1000;
        const sending = setInterval(() => {
          const header = new RtpHeader({ payloadType, sequenceNumber: seq, timestamp: seq * 960, marker: true });
          seq += 1;
          void transceiver.sender.sendRtp(new RtpPacket(header, payload));
        }, 20);
        try {
          await waitUntil(
            'RTP looped back through mediasoup',
            10_000,
            alive(() => received.length > 0),
          );
        } finally {
          clearInterval(sending);
        }
        expect(received[0]?.header.ssrc).toBe(consumerSsrc);
        expect(received[0]?.payload.equals(payload)).toBe(true);
        const stats = await producer.getStats();
        expect(stats[0]?.packetCount ?? 0).toBeGreaterThan(0);
      } finally {
        transport.close();
        router.close();
        await pc.close();
      }
    },
  );

  it("emits 'died' when the worker process is killed", async () => {
    const victim = await mediasoup.createWorker({ logLevel: 'none' });
    const died = once(victim, 'died');
    process.kill(victim.pid, 'SIGKILL');
    const [error] = (await died) as [Error];
    expect(error).toBeInstanceOf(Error);
    expect(victim.died).toBe(true);
    expect(victim.closed).toBe(true);
  });
});
