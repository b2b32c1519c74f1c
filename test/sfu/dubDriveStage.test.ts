/**
 * DubDriveStage: a dub segment's phoneme timings reach the face stage on the same clock as the segment's drive audio,
 * so the engine's generator can use the synthesiser's exact phones in a live call.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { AudioFrame, AvStage, TimedPhone, VideoFrame } from '../../src/pipeline/index.ts';
import type { DubSegment, DubSource } from '../../src/pipeline/dub/index.ts';
import { DubDriveStage } from '../../src/sfu/dub/DubDriveStage.ts';

class RecordingStage extends EventEmitter implements AvStage {
  readonly name = 'recording';
  constructor(readonly delayMs = 0) {
    super();
  }
  readonly drive: AudioFrame[] = [];
  readonly phones: TimedPhone[] = [];
  readonly video: VideoFrame[] = [];
  readonly speakerAudio: AudioFrame[] = [];
  pushVideo(f: VideoFrame): void {
    this.video.push(f);
  }
  pushSpeakerAudio(f: AudioFrame): void {
    this.speakerAudio.push(f);
  }
  pushDriveAudio(f: AudioFrame): void {
    this.drive.push(f);
  }
  pushDrivePhones(p: readonly TimedPhone[]): void {
    this.phones.push(...p);
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  close(): void {}
}

class ScriptedSource extends EventEmitter {
  readonly kind = 'embedded';
  readonly sourceLanguage = 'en';
  readonly targetLanguage = 'es';
  closed = false;
  start(): Promise<void> {
    return Promise.resolve();
  }
  pushAudio(_f: AudioFrame): void {}
  flush(): Promise<void> {
    return Promise.resolve();
  }
  clear(): void {}
  close(): void {
    this.closed = true;
  }
}

const speakerFrame = (tMs: number): AudioFrame => ({
  data: new Int16Array(960),
  sampleRate: 48_000,
  channels: 1,
  samplesPerChannel: 960,
  timestampUs: tMs * 1000,
});

function segment(withPhones: boolean): DubSegment {
  // 300 ms of silence-free speech at 16 kHz: 100 ms pause, 200 ms /a/.
  const pcm = new Float32Array(4800).fill(0.2);
  return {
    id: 0,
    language: 'es',
    sourceStartMs: 200,
    sourceEndMs: 500,
    pcm,
    sampleRate: 16_000,
    latencyMs: 10,
    ...(withPhones
      ? {
          phonemes: [
            { phoneme: '_', startMs: 0, endMs: 100, kind: 'pause' as const },
            { phoneme: 'a', startMs: 100, endMs: 300, kind: 'speech' as const },
          ],
        }
      : {}),
  };
}

describe('DubDriveStage', () => {
  it("passes a segment's phoneme timings to the face stage on the drive audio's clock", () => {
    const inner = new RecordingStage();
    const source = new ScriptedSource();
    const stage = new DubDriveStage({ inner, source: source as unknown as DubSource, delayMs: 1000 });
    stage.pushSpeakerAudio(speakerFrame(0));
    source.emit('segment', segment(true));
    for (let t = 20; t < 1800; t += 20) stage.pushSpeakerAudio(speakerFrame(t));

    expect(stage.counters.phonedSegments).toBe(1);
    expect(inner.phones.map((p) => p.phone)).toEqual(['_', 'a']);
    // The segment is placed at source start + delay = 1200 ms on the output clock; its first drive frame with speech
    // starts there, and so does its first phone.
    const firstSpeech = inner.drive.find((f) => f.data.some((s) => s !== 0));
    expect(firstSpeech?.timestampUs).toBe(1_200_000);
    expect(inner.phones[0]).toEqual({ phone: '_', startUs: 1_200_000, endUs: 1_300_000 });
    expect(inner.phones[1]).toEqual({ phone: 'a', startUs: 1_300_000, endUs: 1_500_000 });
    stage.close();
  });

  it('pushes no phones for a segment without timings (an interpreter, or a provider without them)', () => {
    const inner = new RecordingStage();
    const source = new ScriptedSource();
    const stage = new DubDriveStage({ inner, source: source as unknown as DubSource, delayMs: 1000 });
    stage.pushSpeakerAudio(speakerFrame(0));
    source.emit('segment', segment(false));
    expect(stage.counters.segments).toBe(1);
    expect(stage.counters.phonedSegments).toBe(0);
    expect(inner.phones).toEqual([]);
    stage.close();
  });

  it('keeps the video moving on its own clock while the speaker is muted (no audio), and back on audio after', () => {
    const inner = new RecordingStage();
    const source = new ScriptedSource();
    const stage = new DubDriveStage({ inner, source: source as unknown as DubSource, delayMs: 1000 });
    const video = (tMs: number): VideoFrame => ({
      format: 'i420',
      width: 16,
      height: 16,
      data: new Uint8Array(384),
      timestampUs: tMs * 1000,
    });
    // 1 s with audio and video, then 3 s of video alone (muted), then both again.
    let t = 0;
    for (; t < 1000; t += 20) {
      stage.pushSpeakerAudio(speakerFrame(t));
      if (t % 40 === 0) stage.pushVideo(video(t));
    }
    const beforeMute = inner.video.length;
    for (; t < 4000; t += 40) stage.pushVideo(video(t));
    const whileMuted = inner.video.length - beforeMute;
    // Frames up to (4000 - 40) - 200 - 1000 ms are due: about 69 of the 75 muted frames.
    expect(whileMuted).toBeGreaterThan(60);
    expect(stage.counters.videoClockedFrames).toBeGreaterThan(60);
    expect(stage.counters.droppedFrames).toBe(0);
    // Drive audio went on too (silence), contiguous 20 ms frames.
    const driveTimes = inner.drive.map((f) => f.timestampUs / 1000);
    expect(driveTimes.at(-1)).toBeGreaterThanOrEqual(2700);
    expect(driveTimes.every((x, i) => i === 0 || x - driveTimes[i - 1]! === 20)).toBe(true);
    // Unmuted: audio is the clock again and video is released in order.
    const clocked = stage.counters.videoClockedFrames;
    for (; t < 5000; t += 20) {
      stage.pushSpeakerAudio(speakerFrame(t));
      if (t % 40 === 0) stage.pushVideo(video(t));
    }
    expect(stage.counters.videoClockedFrames).toBe(clocked);
    const times = inner.video.map((f) => f.timestampUs);
    expect(times.every((x, i) => i === 0 || x > times[i - 1]!)).toBe(true);
    expect(inner.video.at(-1)!.timestampUs).toBe((4000 + 1000) * 1000); // input 4000 is due at clock 5000
    stage.close();
  });

  it("emits the dubbed audio itself (the drive audio shifted by the face stage's delay), not through the face stage", () => {
    const inner = new RecordingStage(230); // emits no audio at all, like a face stage whose thread is busy
    const source = new ScriptedSource();
    const stage = new DubDriveStage({ inner, source: source as unknown as DubSource, delayMs: 1000 });
    const out: AudioFrame[] = [];
    stage.on('audio', (f) => out.push(f));
    stage.pushSpeakerAudio(speakerFrame(0));
    source.emit('segment', segment(true));
    for (let t = 20; t < 1800; t += 20) stage.pushSpeakerAudio(speakerFrame(t));
    expect(out.length).toBe(inner.drive.length);
    expect(out.length).toBeGreaterThan(80);
    out.forEach((f, i) => {
      expect(f.timestampUs).toBe(inner.drive[i]!.timestampUs + 230_000);
      expect(f.data).toEqual(inner.drive[i]!.data);
    });
    expect(stage.delayMs).toBe(1230);
    stage.close();
  });
});
