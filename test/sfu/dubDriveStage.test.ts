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

describe('DubDriveStage memory over a long live run', () => {
  it('forgets the placed segments the drive cursor has passed: what it holds stays bounded', () => {
    // 20 simulated minutes of an interpreter's 100 ms chunks at 48 kHz (one shared buffer) with the speaker's audio.
    class CountingStage extends RecordingStage {
      driveCount = 0;
      override pushDriveAudio(): void {
        this.driveCount++;
      }
      override pushSpeakerAudio(): void {}
    }
    const inner = new CountingStage();
    const source = new ScriptedSource();
    const stage = new DubDriveStage({ inner, source: source as unknown as DubSource, delayMs: 1500 });
    const pcm = new Float32Array(4800).fill(0.2);
    const minutes = 20;
    let maxRetained = 0;
    let id = 0;
    for (let t = 0; t < minutes * 60_000; t += 20) {
      stage.pushSpeakerAudio(speakerFrame(t));
      if ((t + 20) % 100 === 0) {
        const startMs = t + 20 - 100;
        source.emit('segment', {
          id: id++,
          language: 'es',
          sourceStartMs: startMs,
          sourceEndMs: startMs + 100,
          pcm,
          sampleRate: 48_000,
          latencyMs: 0,
        } satisfies DubSegment);
        maxRetained = Math.max(maxRetained, stage.retainedSegments);
      }
    }
    expect(stage.counters.segments).toBe(minutes * 600);
    expect(stage.counters.lateSegments).toBe(0);
    expect(inner.driveCount).toBeGreaterThan(minutes * 3000 - 100);
    // The delay's worth of chunks (1.5 s / 100 ms) and the one just placed, not all 12000.
    expect(maxRetained).toBeLessThanOrEqual(17);
    stage.close();
  });
});

describe('DubDriveStage.replaceSource (an interpreter handing over to another, a translator to an interpreter)', () => {
  /** A segment of constant `level` (16 kHz), `durMs` long, dubbing the speaker's speech from `startMs`. */
  const constant = (id: number, startMs: number, durMs: number, level: number): DubSegment => ({
    id,
    language: 'es',
    sourceStartMs: startMs,
    sourceEndMs: startMs + durMs,
    pcm: new Float32Array((durMs * 16_000) / 1000).fill(level),
    sampleRate: 16_000,
    latencyMs: 0,
  });
  /** The sample value of the middle of a drive frame (the resampler smooths a segment's first and last samples). */
  const levelOf = (f: AudioFrame): number => f.data[480]!;
  const A = Math.round(0.2 * 32767);
  const B = Math.round(-0.5 * 32767);

  it("swaps the source: the old one's placed words play out, the new one's follow them, the drive audio has no gap", () => {
    const inner = new RecordingStage();
    const oldSource = new ScriptedSource();
    const newSource = new ScriptedSource();
    const stage = new DubDriveStage({ inner, source: oldSource as unknown as DubSource, delayMs: 1000 });
    const warnings: string[] = [];
    stage.on('warning', (m) => warnings.push(m));
    const out: AudioFrame[] = [];
    stage.on('audio', (f) => out.push(f));
    stage.pushSpeakerAudio(speakerFrame(0));
    oldSource.emit('segment', constant(0, 200, 300, 0.2)); // placed at 1200-1500 on the output clock
    let t = 20;
    for (; t < 1300; t += 20) stage.pushSpeakerAudio(speakerFrame(t)); // drive audio pushed up to 1300: mid-word

    stage.replaceSource(newSource as unknown as DubSource);
    expect(oldSource.closed).toBe(true);
    expect(oldSource.listenerCount('segment')).toBe(0);
    expect(oldSource.listenerCount('error')).toBe(0);
    expect(stage.source).toBe(newSource);
    expect(stage.counters.sourceSwaps).toBe(1);
    // A late segment of the old source is not heard.
    oldSource.emit('segment', constant(1, 400, 300, 0.9));
    // The new source maps its audio onto the speaker's clock from its own first frame: its first segment may start a
    // little before the old source's last one. It is placed after the old words (1500), not dropped.
    newSource.emit('segment', constant(0, 150, 300, -0.5));
    // Later segments are placed on time again (900 + 1000).
    newSource.emit('segment', constant(1, 900, 200, -0.5));
    for (; t < 2400; t += 20) stage.pushSpeakerAudio(speakerFrame(t));

    expect(stage.counters.segments).toBe(3);
    expect(stage.counters.lateSegments).toBe(0);
    expect(warnings).toEqual([]);
    const at = (ms: number) => inner.drive.find((f) => f.timestampUs === ms * 1000)!;
    const levels = (from: number, to: number) => {
      const out = new Set<number>();
      for (let ms = from; ms < to; ms += 20) out.add(levelOf(at(ms)));
      return [...out];
    };
    expect(levels(1100, 1200)).toEqual([0]);
    expect(levels(1200, 1500)).toEqual([A]); // the old interpreter's words, also after the swap at 1300
    expect(levels(1500, 1800)).toEqual([B]); // then the new interpreter's
    expect(levels(1800, 1900)).toEqual([0]);
    expect(levels(1900, 2100)).toEqual([B]);
    expect(levels(2100, 2300)).toEqual([0]);
    // One contiguous sequence of 20 ms drive frames, and the dubbed audio the stage emits is the same.
    const times = inner.drive.map((f) => f.timestampUs / 1000);
    expect(times[0]).toBe(20);
    expect(times.every((x, i) => i === 0 || x - times[i - 1]! === 20)).toBe(true);
    expect(times.at(-1)).toBeGreaterThanOrEqual(2360);
    expect(out.map((f) => f.timestampUs)).toEqual(inner.drive.map((f) => f.timestampUs));
    expect(out.map(levelOf)).toEqual(inner.drive.map(levelOf));
    stage.close();
    expect(newSource.closed).toBe(true);
  });

  it('hands over after the old words were forgotten (entirely played): the new source is still placed after them', () => {
    const inner = new RecordingStage();
    const oldSource = new ScriptedSource();
    const newSource = new ScriptedSource();
    const stage = new DubDriveStage({ inner, source: oldSource as unknown as DubSource, delayMs: 1000 });
    stage.pushSpeakerAudio(speakerFrame(0));
    oldSource.emit('segment', constant(0, 200, 300, 0.2)); // 1200-1500 on the output clock
    let t = 20;
    for (; t < 1600; t += 20) stage.pushSpeakerAudio(speakerFrame(t)); // drive cursor past 1500
    expect(stage.retainedSegments).toBe(0);
    stage.replaceSource(newSource as unknown as DubSource);
    // Starts before the old source's last segment (its own clock mapping): moved up to it, not rejected as out of order.
    newSource.emit('segment', constant(0, 150, 200, -0.5));
    newSource.emit('segment', constant(1, 700, 200, -0.5)); // on time: 1700-1900
    for (; t < 2000; t += 20) stage.pushSpeakerAudio(speakerFrame(t));
    expect(stage.counters.segments).toBe(3);
    expect(stage.counters.lateSegments).toBe(1); // the moved-up one starts at once (its place, 1200, is played)
    const at = (ms: number) => inner.drive.find((f) => f.timestampUs === ms * 1000)!;
    expect(levelOf(at(1600))).toBe(B);
    expect(levelOf(at(1800))).toBe(B);
    stage.close();
  });

  it("catches up in the new source's pauses when it inherits a lag (a translator's last words still playing)", () => {
    const inner = new RecordingStage();
    const translator = new ScriptedSource();
    const interpreter = new ScriptedSource();
    const stage = new DubDriveStage({ inner, source: translator as unknown as DubSource, delayMs: 1000 });
    stage.pushSpeakerAudio(speakerFrame(0));
    translator.emit('segment', constant(0, 200, 1500, 0.2)); // a long translation: 1200-2700 on the output clock
    let t = 20;
    for (; t < 1300; t += 20) stage.pushSpeakerAudio(speakerFrame(t));
    stage.replaceSource(interpreter as unknown as DubSource);
    // The interpreter's continuous 100 ms chunks from 400 (place 1400): speech, a 1 s pause (room noise), speech, a
    // pause, speech, a pause. Its speech waits for the translator's words; its pauses are skipped while it lags.
    const QUIET = 0.003;
    const levels = [B, B, ...Array<number>(10).fill(QUIET), B, B, QUIET, QUIET, QUIET, B, QUIET, QUIET];
    for (const [i, level] of levels.entries()) {
      interpreter.emit('segment', constant(i, 400 + i * 100, 100, level === B ? -0.5 : level));
    }
    for (; t < 3500; t += 20) stage.pushSpeakerAudio(speakerFrame(t));
    const at = (ms: number) => levelOf(inner.drive.find((f) => f.timestampUs === ms * 1000)!);
    const span = (from: number, to: number) => {
      const out = new Set<number>();
      for (let ms = from; ms < to; ms += 20) out.add(at(ms));
      return [...out];
    };
    const Q = Math.round(QUIET * 32767);
    expect(span(1200, 2700)).toEqual([A]); // the translator's words, whole
    expect(span(2700, 3100)).toEqual([B]); // the interpreter's first words (place 1400-1600) and later ones (2600-2800)
    expect(span(3100, 3200)).toEqual([B]); // place 3100: caught up, on time again
    expect(span(3200, 3400)).toEqual([Q]); // on time, so its pause is kept
    expect(stage.counters.skippedQuietSegments).toBe(13);
    expect(stage.counters.skippedQuietMs).toBe(1300);
    expect(stage.counters.lateSegments).toBe(0);
    stage.close();
  });

  it('closes the offered source when the stage is already closed', () => {
    const source = new ScriptedSource();
    const stage = new DubDriveStage({ inner: new RecordingStage(), source: source as unknown as DubSource });
    stage.close();
    const late = new ScriptedSource();
    stage.replaceSource(late as unknown as DubSource);
    expect(late.closed).toBe(true);
    expect(stage.counters.sourceSwaps).toBe(0);
  });
});
