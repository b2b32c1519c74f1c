import { describe, expect, it } from 'vitest';
import { createAvStage } from '../../src/pipeline/stages.ts';
import type { AudioFrame, VideoFrame } from '../../src/pipeline/media.ts';
import type { Worker } from 'node:worker_threads';
import { readClipFrames } from '../face/clipFrames.ts';
import { clip } from '../io/helpers.ts';
import { patternFrame } from './fixtures.ts';

/** 40 ms of silent 16 kHz speaker audio at `timestampUs` (the engine's clock). */
function silence(timestampUs: number): AudioFrame {
  return { data: new Int16Array(640), sampleRate: 16000, channels: 1, samplesPerChannel: 640, timestampUs };
}

describe('lipsync stage in a worker thread', () => {
  it('is registered, runs off the main thread, keeps order and delay, passes faceless frames through', async () => {
    const stage = await createAvStage('lipsync', { driveAudio: false, mode: 'live' });
    const out: VideoFrame[] = [];
    const audio: AudioFrame[] = [];
    stage.on('video', (f) => out.push(f));
    stage.on('audio', (f) => audio.push(f));
    for (let i = 0; i < 20; i++) {
      const ts = i * 40_000;
      stage.pushSpeakerAudio(silence(ts));
      stage.pushVideo(patternFrame(96, 96, i, ts));
    }
    await stage.flush();
    stage.close();
    expect(out).toHaveLength(20);
    out.forEach((f, i) => {
      expect(f.timestampUs).toBe(i * 40_000 + stage.delayMs * 1000);
      // No face in a pattern: the original frame comes back.
      expect(Array.from(f.data.subarray(0, 16))).toEqual(Array.from(patternFrame(96, 96, i, 0).data.subarray(0, 16)));
    });
    expect(audio).toHaveLength(20);
  });

  it('keeps video flowing when the input is faster than the engine clock (frames dropped on input free their slot)', async () => {
    const stage = await createAvStage('lipsync', { driveAudio: false, mode: 'live' });
    const out: VideoFrame[] = [];
    stage.on('video', (f) => out.push(f));
    const waitOut = async (n: number) => {
      const deadline = Date.now() + 10_000;
      while (out.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      return out.length;
    };
    // 50 fps into a 25 fps engine: every second frame shares a tick and is dropped by the engine. 30 of them are more
    // than the worker's 25 in-flight slots: slots that leaked would stop all video after the 25th.
    // The engine holds a few frames of look-ahead before the first leaves: wait for all but the last 8 ticks.
    let i = 0;
    for (; i < 60; i += 2) {
      stage.pushSpeakerAudio(silence(i * 20_000));
      stage.pushVideo(patternFrame(96, 96, i, i * 20_000));
      stage.pushVideo(patternFrame(96, 96, i + 1, (i + 1) * 20_000));
      const ticks = i / 2 + 1;
      expect(await waitOut(ticks - 8)).toBeGreaterThanOrEqual(ticks - 8);
    }
    for (let k = 0; k < 10; k++, i += 2) {
      stage.pushSpeakerAudio(silence(i * 20_000));
      stage.pushVideo(patternFrame(96, 96, i, i * 20_000));
      expect(await waitOut(31 + k - 8)).toBeGreaterThanOrEqual(31 + k - 8);
    }
    await stage.flush();
    expect(out).toHaveLength(40);
    const counters = (stage as unknown as { counters: { dropped: number; droppedByEngine: number } }).counters;
    stage.close();
    expect(counters).toEqual({ dropped: 0, droppedByEngine: 30 });
  });

  it('closed mid-stream (face tracking in flight), the worker releases its models and ends by itself', async () => {
    const stage = await createAvStage('lipsync', { driveAudio: false, mode: 'live' });
    let frames = 0;
    stage.on('video', () => frames++);
    for await (const f of readClipFrames(clip('sadtalker_WDA_AOC_000.mp4'), { format: 'i420', maxFrames: 12 })) {
      stage.pushSpeakerAudio(silence(f.timestampUs));
      stage.pushVideo(f);
    }
    // Wait until the engine is busy (its first frames have left), then close with frames still queued.
    const deadline = Date.now() + 20_000;
    while (frames === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const worker = (stage as unknown as { worker: Worker }).worker;
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    stage.close();
    // Exit code 0: the thread ended on its own; terminate() (the fallback after 5 s) gives 1.
    expect(await exited).toBe(0);
  });
});
