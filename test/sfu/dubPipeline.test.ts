/**
 * DubPipeline.replaceSource on a real pipeline (a room's router, the speaker's real producer, the tap, the
 * transcoding processor with the identity face stage; no media needs to flow): when building the new source fails,
 * the promise rejects, the old source keeps driving the running stage and later processor rebuilds still use the old
 * factory; a later successful swap drives the same stage and every rebuild after it.
 */
import { EventEmitter } from 'node:events';
import { MediaStreamTrack } from 'werift';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LipsyncClient } from '../../src/client-sdk/node/index.ts';
import type { DubSegment, DubSource } from '../../src/pipeline/dub/index.ts';
import { DubPipeline } from '../../src/sfu/dub/DubPipeline.ts';
import type { LipsyncServer } from '../../src/sfu/index.ts';
import { sleep, startTestServer, waitFor } from './helpers.ts';

/** A dub source that emits what the test tells it to. */
class ScriptedSource extends EventEmitter {
  readonly kind = 'interpreter';
  readonly sourceLanguage = 'en';
  readonly targetLanguage = 'fr';
  closed = false;
  constructor(readonly name: string) {
    super();
  }
  start(): Promise<void> {
    return Promise.resolve();
  }
  pushAudio(): void {}
  flush(): Promise<void> {
    return Promise.resolve();
  }
  clear(): void {}
  close(): void {
    this.closed = true;
  }
  /** Whether a stage listens to it (drives with it). */
  get attached(): boolean {
    return this.listenerCount('segment') > 0;
  }
}

const segment = (id: number, startMs: number): DubSegment => ({
  id,
  language: 'fr',
  sourceStartMs: startMs,
  sourceEndMs: startMs + 100,
  pcm: new Float32Array(1600).fill(0.1),
  sampleRate: 16_000,
  latencyMs: 0,
});

describe('DubPipeline.replaceSource', () => {
  let server: LipsyncServer;
  const clients: LipsyncClient[] = [];

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await sleep(100);
    server?.close();
  });

  it('a new source that cannot start leaves the old one driving; a later swap still works', async () => {
    const speaker = await LipsyncClient.join({ url: server.wsUrl, token: server.mintToken('pipe', 'speaker') });
    clients.push(speaker);
    await speaker.publish(new MediaStreamTrack({ kind: 'audio' }));
    const room = server.rooms.get('pipe')!;
    await waitFor(() => room.producers.size > 0, 5000, "the speaker's producer");
    const original = [...room.producers.values()].find((p) => p.info.source === 'original')!.producer;

    // Each build of a factory makes a fresh source (a processor rebuild closes the stage and its source).
    const built: ScriptedSource[] = [];
    const factory = (name: string) => () => {
      const s = new ScriptedSource(`${name}${built.filter((b) => b.name.startsWith(name)).length}`);
      built.push(s);
      return Promise.resolve(s as unknown as DubSource);
    };
    const pipeline = new DubPipeline({
      room,
      speakerPeerId: 'speaker',
      language: 'fr',
      sourceKind: 'interpreter',
      faceRendering: false,
      createSource: factory('old'),
      timelineDelayMs: 500,
      settleMs: 10,
    });
    const failures: Error[] = [];
    pipeline.on('failed', (err) => failures.push(err));
    try {
      pipeline.addProducer(original);
      await pipeline.ready(10_000);
      expect(built.map((s) => s.name)).toEqual(['old0']);
      const old = built[0]!;
      expect(old.attached).toBe(true);
      const rebuild = async () => {
        const before = pipeline.producers[0]!.producerId;
        pipeline.removeProducer(original.id);
        pipeline.addProducer(original);
        await waitFor(() => (pipeline.producers[0]?.producerId ?? before) !== before, 10_000, 'rebuilt producers');
      };

      // The new source cannot start: the call rejects with its error and nothing changes.
      await expect(
        pipeline.replaceSource(() => Promise.reject(new Error('interpreter anna publishes no audio')), 'embedded'),
      ).rejects.toThrow('interpreter anna publishes no audio');
      expect(pipeline.sourceKind).toBe('interpreter');
      expect(old.closed).toBe(false);
      expect(old.attached).toBe(true);
      expect(pipeline.stageCounters?.sourceSwaps).toBe(0);
      old.emit('segment', segment(0, 0));
      expect(pipeline.stageCounters?.segments).toBe(1);
      // A processor rebuild still builds with the old factory.
      await rebuild();
      expect(built.map((s) => s.name)).toEqual(['old0', 'old1']);
      expect(old.closed).toBe(true); // closed with its processor
      const old1 = built[1]!;
      expect(old1.attached).toBe(true);
      expect(pipeline.stageCounters?.sourceSwaps).toBe(0);

      // A later swap works (here to a translator): same stage, the new source drives it, the old one is detached and
      // closed; the pipeline's source kind (what a new listener is told) follows.
      const stageCounters = pipeline.stageCounters;
      await expect(pipeline.replaceSource(factory('new'), 'embedded')).resolves.toBe(true);
      expect(pipeline.sourceKind).toBe('embedded');
      expect(built.map((s) => s.name)).toEqual(['old0', 'old1', 'new0']);
      const fresh = built[2]!;
      expect(pipeline.stageCounters).toBe(stageCounters);
      expect(pipeline.stageCounters?.sourceSwaps).toBe(1);
      expect(old1.closed).toBe(true);
      expect(old1.attached).toBe(false);
      expect(fresh.attached).toBe(true);
      old1.emit('segment', segment(1, 200)); // a late word of the old source is not heard
      fresh.emit('segment', segment(0, 300));
      expect(pipeline.stageCounters?.segments).toBe(1);
      // ...and every rebuild after it uses the new factory.
      await rebuild();
      expect(built.map((s) => s.name)).toEqual(['old0', 'old1', 'new0', 'new1']);
      expect(fresh.closed).toBe(true);
      expect(built[3]!.attached).toBe(true);
      expect(pipeline.sourceKind).toBe('embedded');
      expect(failures).toEqual([]);
    } finally {
      pipeline.close();
    }
    // Closing the pipeline closes its processor, stage and source.
    await waitFor(() => built.every((s) => s.closed), 5000, 'the last source closed');
  });
});
