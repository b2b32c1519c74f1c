/**
 * Media through the tap, end to end on loopback: a werift publisher sends VP8 + Opus encoded from a real clip, the SFU
 * taps them (DirectTransport consumer -> identity processor -> DirectTransport producer), and a second werift peer
 * consumes the processed tracks. Fails if media does not flow or if fewer than 95% of the packets arrive.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaStreamTrack } from 'werift';
import type { MediaKind, RtpProcessor } from '../../src/pipeline/stage.ts';
import { LipsyncClient, type RemoteTrack } from '../../src/client-sdk/node/index.ts';
import { IdentityProcessor, type LipsyncServer } from '../../src/sfu/index.ts';
import { feedClip, startTestServer, waitFor } from './helpers.ts';

describe('tap media path', () => {
  let server: LipsyncServer;
  const processors: IdentityProcessor[] = [];
  const keyframeRequests = { count: 0 };

  beforeAll(async () => {
    server = await startTestServer({
      // The identity processor, observed: the test checks that listeners' keyframe requests reach it.
      processorFactory: (inputs) => {
        const p = new IdentityProcessor(inputs);
        const original = p.requestKeyframe.bind(p);
        p.requestKeyframe = () => {
          keyframeRequests.count++;
          original();
        };
        processors.push(p);
        return Promise.resolve(p as RtpProcessor);
      },
    });
  });

  afterAll(() => server?.close());

  it('forwards a real clip through the tap to a listener with >= 95% of packets', async () => {
    const speaker = await LipsyncClient.join({ url: server.wsUrl, token: server.mintToken('media', 'speaker') });
    const listener = await LipsyncClient.join({ url: server.wsUrl, token: server.mintToken('media', 'listener') });
    const received: Record<MediaKind, Set<number>> = { audio: new Set(), video: new Set() };
    const tracks: RemoteTrack[] = [];
    listener.on('track', (t) => {
      tracks.push(t);
      t.track.onReceiveRtp.subscribe((rtp) => received[t.kind].add(rtp.header.sequenceNumber));
    });
    try {
      const video = new MediaStreamTrack({ kind: 'video' });
      const audio = new MediaStreamTrack({ kind: 'audio' });
      const videoPublication = await speaker.publish(video);
      await speaker.publish(audio);
      let plisAtSpeaker = 0;
      videoPublication.onKeyframeRequest(() => plisAtSpeaker++);
      await waitFor(() => tracks.length === 2, 10_000, 'the listener to receive both processed tracks');
      expect(tracks.every((t) => t.source === 'processed')).toBe(true);
      expect(tracks.every((t) => t.peerId === 'speaker')).toBe(true);
      await speaker.transportsConnected();
      await listener.transportsConnected();

      const { sent } = await feedClip({ video, audio });
      await waitFor(
        () => received.video.size >= sent.video && received.audio.size >= sent.audio,
        1500,
        'the last packets',
      ).catch(() => {});
      const ratio = {
        video: received.video.size / sent.video,
        audio: received.audio.size / sent.audio,
      };
      console.log(
        `sent video ${sent.video} audio ${sent.audio}; received through tap video ${received.video.size} ` +
          `audio ${received.audio.size} (${(ratio.video * 100).toFixed(1)}%, ${(ratio.audio * 100).toFixed(1)}%)`,
      );
      expect(sent.video).toBeGreaterThan(50);
      expect(sent.audio).toBeGreaterThan(50);
      expect(ratio.video).toBeGreaterThanOrEqual(0.95);
      expect(ratio.audio).toBeGreaterThanOrEqual(0.95);

      // A listener's keyframe request on the processed video reaches the processor (then the original sender).
      const before = keyframeRequests.count;
      const videoTrack = tracks.find((t) => t.kind === 'video')!;
      await listener.signal.request('requestKeyFrame', { consumerId: videoTrack.consumerId });
      const plisBefore = plisAtSpeaker;
      await waitFor(() => keyframeRequests.count > before, 3000, 'the keyframe request to reach the processor');
      await waitFor(() => plisAtSpeaker > plisBefore, 3000, 'the keyframe request to reach the original sender');
      // The speaker leaves: the listener is told and its tracks end.
      const ended: string[] = [];
      listener.on('trackended', (t) => ended.push(t.kind));
      const left = new Promise<string>((resolve) => listener.on('peerleft', resolve));
      speaker.close();
      expect(await left).toBe('speaker');
      await waitFor(() => ended.length === 2, 3000, 'both tracks to end');
    } finally {
      speaker.close();
      listener.close();
    }
    // Both peers gone: the tap and its processor are closed, and the router holds no transport.
    await waitFor(() => [...server.rooms.values()].every((r) => r.peers.size === 0), 3000, 'peers to leave');
    expect(processors.every((p) => p.closed)).toBe(true);
    const room = server.rooms.get('media');
    if (room) expect((await room.router.dump()).transportIds).toEqual([]);
  });
});
