import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MediaFileError, MediaFileReader, readAudioPcm } from '../../src/pipeline/io/mediaFile.ts';
import { createAvStage, listAvStages, registerAvStage, UnknownStageError } from '../../src/pipeline/stages.ts';
import { IdentityStage } from '../../src/pipeline/identityStage.ts';
import type { VideoFrame } from '../../src/pipeline/media.ts';
import { frameByteLength } from '../../src/pipeline/media.ts';
import { clip, scratchDir } from './helpers.ts';

describe('MediaFileReader', () => {
  it('decodes an mpeg4 + 16 kHz AAC clip to i420 frames and s16 audio on container time', async () => {
    const r = await MediaFileReader.open(clip('sadtalker_WDA_AOC_000.mp4'));
    expect(r.info.video).toMatchObject({ width: 512, height: 512, codec: 'mpeg4' });
    expect(r.info.audio).toMatchObject({ sampleRate: 16000 });
    let video = 0;
    let audioSamples = 0;
    let lastTs = -1;
    for await (const m of r.frames()) {
      if (m.kind === 'video') {
        expect(m.frame.data.length).toBe(frameByteLength('i420', 512, 512));
        expect(m.frame.timestampUs).toBeGreaterThan(lastTs);
        lastTs = m.frame.timestampUs;
        video++;
      } else {
        expect(m.frame.sampleRate).toBe(16000);
        audioSamples += m.frame.samplesPerChannel;
      }
    }
    r.close();
    r.close(); // idempotent
    expect(video).toBe(200); // 8 s at 25 fps
    expect(audioSamples / 16000).toBeGreaterThan(7.9);
  });

  it('reads a clip audio as 16 kHz mono float', async () => {
    const pcm = await readAudioPcm(clip('vrt_face_2.mp4'));
    expect(pcm.sampleRate).toBe(16000);
    expect(pcm.samples.length / 16000).toBeCloseTo(5.0, 0);
    const peak = pcm.samples.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(peak).toBeGreaterThan(0.05);
    expect(peak).toBeLessThanOrEqual(1);
  });

  it('rejects a truncated file with a clear error', async () => {
    const dir = scratchDir();
    const bytes = readFileSync(clip('vrt_face_3.mp4'));
    const cut = join(dir, 'cut.mp4');
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const run = async () => {
      const r = await MediaFileReader.open(cut);
      try {
        for await (const m of r.frames()) void m;
      } finally {
        r.close();
      }
    };
    await expect(run()).rejects.toThrow(MediaFileError);
    await expect(run()).rejects.toThrow(/truncated|corrupt|cannot open/);
  });

  it('reads one stream of a clip whose streams end 2 s apart without calling it truncated', async () => {
    const dir = scratchDir();
    const read = async (path: string, opts: { audio?: false; video?: false }) => {
      const r = await MediaFileReader.open(path, opts);
      let n = 0;
      try {
        for await (const m of r.frames()) if (m) n++;
      } finally {
        r.close();
      }
      return n;
    };
    const lavfi = (src: string) => ['-f', 'lavfi', '-i', src];
    for (const [name, video, audio] of [
      ['short-audio.mp4', 3, 1],
      ['short-video.mp4', 1, 3],
    ] as const) {
      const path = join(dir, name);
      execFileSync('ffmpeg', [
        ...['-hide_banner', '-loglevel', 'error', '-y'],
        ...lavfi(`testsrc=size=64x64:rate=25:duration=${video}`),
        ...lavfi(`sine=frequency=300:duration=${audio}`),
        ...['-c:v', 'mpeg4', '-c:a', 'aac', path],
      ]);
      expect(await read(path, { audio: false })).toBeGreaterThanOrEqual(video * 25 - 1);
      expect(await read(path, { video: false })).toBeGreaterThan(audio * 30);
    }
  });

  it('rejects a file that is not media', async () => {
    const dir = scratchDir();
    const junk = join(dir, 'junk.mp4');
    writeFileSync(junk, Buffer.from('this is not an mp4 file at all'.repeat(50)));
    await expect(MediaFileReader.open(junk)).rejects.toThrow(MediaFileError);
  });
});

describe('stage registry', () => {
  it('has identity, builds it, and lets others register a stage', async () => {
    expect(listAvStages().map((s) => s.name)).toContain('identity');
    const stage = await createAvStage('identity', { driveAudio: false });
    const got: VideoFrame[] = [];
    stage.on('video', (f) => got.push(f));
    const frame: VideoFrame = { data: new Uint8Array(6), format: 'i420', width: 2, height: 2, timestampUs: 40_000 };
    stage.pushVideo(frame);
    expect(got).toEqual([frame]);
    stage.close();
    stage.close();
    registerAvStage('test-stage', () => new IdentityStage());
    expect((await createAvStage('test-stage', { driveAudio: true })).name).toBe('identity');
    await expect(createAvStage('nope', { driveAudio: false })).rejects.toThrow(UnknownStageError);
  });

  it('identity plays the drive audio instead of the speaker when told', async () => {
    const stage = await createAvStage('identity', { driveAudio: true });
    const heard: number[] = [];
    stage.on('audio', (f) => heard.push(f.timestampUs));
    const a = { data: new Int16Array(160), sampleRate: 16000, channels: 1, samplesPerChannel: 160 };
    stage.pushSpeakerAudio({ ...a, timestampUs: 1 });
    stage.pushDriveAudio({ ...a, timestampUs: 2 });
    expect(heard).toEqual([2]);
  });
});
