/**
 * The transcoding processor inside the real SFU: a werift speaker sends a real clip (VP8 + Opus), the tap runs it
 * through TranscodingProcessor (decode -> identity stage -> encode), a werift listener receives the re-encoded
 * tracks. Checks that the listener's packets carry the processor's own SSRCs and that the video decodes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaStreamTrack } from 'werift';
import { LipsyncClient, type RemoteTrack } from '../../src/client-sdk/node/index.ts';
import { videoCodecId, VideoDecoder } from '../../src/pipeline/io/codecs.ts';
import { Depacketizer } from '../../src/pipeline/io/depacketizer.ts';
import { JitterBuffer } from '../../src/pipeline/io/jitterBuffer.ts';
import { parseRtpPacket } from '../../src/pipeline/io/rtpPacket.ts';
import { TranscodingProcessor } from '../../src/pipeline/io/TranscodingProcessor.ts';
import { Vp8PayloadFormat } from '../../src/pipeline/io/vp8.ts';
import type { MediaKind } from '../../src/pipeline/stage.ts';
import type { LipsyncServer } from '../../src/sfu/index.ts';
import { feedClip, startTestServer, waitFor } from '../sfu/helpers.ts';

describe('SFU tap with the transcoding processor', () => {
  let server: LipsyncServer;
  const processors: TranscodingProcessor[] = [];

  beforeAll(async () => {
    server = await startTestServer({
      processorFactory: async (inputs) => {
        const p = await TranscodingProcessor.create(inputs, { onWarning: () => {} });
        processors.push(p);
        return p;
      },
    });
  });

  afterAll(() => server?.close());

  it('re-encodes a tapped VP8 + Opus track that a listener receives and decodes', async () => {
    const speaker = await LipsyncClient.join({ url: server.wsUrl, token: server.mintToken('io', 'speaker') });
    const listener = await LipsyncClient.join({ url: server.wsUrl, token: server.mintToken('io', 'listener') });
    const got: Record<MediaKind, Buffer[]> = { audio: [], video: [] };
    const tracks: RemoteTrack[] = [];
    listener.on('track', (t) => {
      tracks.push(t);
      t.track.onReceiveRtp.subscribe((rtp) => got[t.kind].push(rtp.serialize()));
    });
    try {
      const video = new MediaStreamTrack({ kind: 'video' });
      const audio = new MediaStreamTrack({ kind: 'audio' });
      await speaker.publish(video);
      await speaker.publish(audio);
      await waitFor(() => tracks.length === 2, 10_000, 'the processed tracks');
      await speaker.transportsConnected();
      await listener.transportsConnected();
      const { sent } = await feedClip({ video, audio, durationS: 4 });
      await waitFor(() => got.video.length > 0 && got.audio.length > 0, 3000, 'processed media').catch(() => {});
      await new Promise((r) => setTimeout(r, 500));
      const p = processors[processors.length - 1]!;
      const outSsrc = (kind: MediaKind) => p.outputs.find((o) => o.kind === kind)!.ssrc;
      console.log(
        `sent video ${sent.video} audio ${sent.audio} packets; listener got video ${got.video.length} audio ${got.audio.length}; ` +
          `processor ${JSON.stringify({ dec: p.stats.framesDecoded, enc: p.stats.framesEncoded, drop: p.stats.videoFramesDropped })}`,
      );
      expect(p.stats.framesEncoded.video).toBeGreaterThan(50);
      expect(got.audio.length).toBeGreaterThan(0.8 * sent.audio);
      // The listener receives the processor's stream (mediasoup rewrites SSRCs per consumer, so compare counts of
      // distinct frames instead): at least 80% of the frames the processor encoded.
      const frames = new Set(got.video.map((b) => parseRtpPacket(b).timestamp));
      expect(frames.size).toBeGreaterThan(0.8 * p.stats.framesEncoded.video);
      expect(outSsrc('video')).not.toBe(11111111);
      // The received video decodes at the size sent.
      const jb = new JitterBuffer();
      const dp = new Depacketizer(new Vp8PayloadFormat());
      const dec = await VideoDecoder.create({ codecId: videoCodecId('vp8') });
      let decoded = 0;
      let size = '';
      let t = 0;
      for (const b of got.video) {
        for (const j of jb.processInput(parseRtpPacket(b), t++)) {
          for (const d of dp.processInput(j)) {
            if (d.type !== 'frame') continue;
            for (const f of await dec.decode(d.frame.data, 0)) {
              decoded++;
              size = `${f.width}x${f.height}`;
            }
          }
        }
      }
      dec.close();
      expect(decoded).toBeGreaterThan(0.7 * frames.size);
      expect(size).toBe('320x320');
    } finally {
      speaker.close();
      listener.close();
    }
  });
});
