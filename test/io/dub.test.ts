import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run as dubCommand } from '../../src/cli/commands/dub.ts';
import { runDub } from '../../src/pipeline/io/dub.ts';
import { FrameRateConverter } from '../../src/pipeline/io/frameRate.ts';
import { MediaFileError, MediaFileReader } from '../../src/pipeline/io/mediaFile.ts';
import type { VideoFrame } from '../../src/pipeline/media.ts';
import { clip, scratchDir } from './helpers.ts';

function probe(path: string): Record<string, string>[] {
  const out = execFileSync('ffprobe', [
    '-v',
    'error',
    '-show_entries',
    'stream=codec_name,codec_type,r_frame_rate,nb_frames,sample_rate,width,height,start_time,duration',
    '-of',
    'json',
    path,
  ]);
  return (JSON.parse(out.toString()) as { streams: Record<string, string>[] }).streams;
}

describe('FrameRateConverter', () => {
  const f = (ms: number): VideoFrame => ({
    data: new Uint8Array([ms & 0xff]),
    format: 'i420',
    width: 1,
    height: 1,
    timestampUs: ms * 1000,
  });

  it('picks the nearest input frame for each 25 fps tick from a variable-rate input', () => {
    const conv = new FrameRateConverter(25);
    const inputs = [33, 100, 133, 180, 250, 300]; // ~22 fps with jitter
    const out = inputs.flatMap((ms) => conv.processInput(f(ms)));
    out.push(...conv.flush(320_000));
    // Ticks 0,40,...,280 ms -> nearest of the inputs.
    expect(out.map((o) => o.timestampUs / 1000)).toEqual([0, 40, 80, 120, 160, 200, 240, 280]);
    expect(out.map((o) => o.data[0])).toEqual([33, 33, 100, 133, 180, 180, 250, 300 & 0xff]);
    expect(conv.repeated).toBe(2);
  });

  it('drops frames of a faster input (30 fps -> 25 fps)', () => {
    const conv = new FrameRateConverter(25);
    const out = Array.from({ length: 30 }, (_, i) => conv.processInput(f(Math.round((i * 1000) / 30)))).flat();
    out.push(...conv.flush(1_000_000));
    expect(out.length).toBe(25);
    expect(conv.skipped).toBe(5);
  });
});

describe('lipsync dub', () => {
  it('writes a 25 fps H.264 + AAC mp4 from an mpeg4 / 16 kHz clip, atomically', async () => {
    const dir = scratchDir();
    const out = join(dir, 'out.mp4');
    const progress: number[] = [];
    const res = await runDub({
      videoPath: clip('sadtalker_WDA_AOC_000.mp4'),
      outPath: out,
      onProgress: (p) => progress.push(p.doneUs),
    });
    expect(res.framesOut).toBe(200);
    expect(readdirSync(dir)).toEqual(['out.mp4']); // no temporary file left
    const [v, a] = probe(out);
    expect(v).toMatchObject({ codec_name: 'h264', r_frame_rate: '25/1', width: 512, height: 512, nb_frames: '200' });
    expect(a).toMatchObject({ codec_name: 'aac', sample_rate: '48000' });
    expect(Number(a!.duration)).toBeGreaterThan(7.9);
    expect(progress.length).toBeGreaterThan(0);
  });

  it('drives with --audio: the output carries the given speech, cut to the video', async () => {
    const dir = scratchDir();
    const out = join(dir, 'dubbed.mp4');
    // vrt_face_5 is 4.9 s of video; the speech of sadtalker (8 s) must be cut at the video's end.
    const code = await dubCommand([
      '--video',
      clip('vrt_face_5.mp4'),
      '--audio',
      clip('sadtalker_WDA_KatieHill_000.mp4'),
      '--out',
      out,
      '--quiet',
    ]);
    expect(code).toBe(0);
    const [v, a] = probe(out);
    expect(Number(v!.duration)).toBeCloseTo(4.92, 1);
    expect(Math.abs(Number(a!.duration) - Number(v!.duration))).toBeLessThan(0.1);
  });

  it('reads HEVC portrait clips too (first frames)', async () => {
    const r = await MediaFileReader.open(clip('latentsync_demo3_video.mp4'));
    let n = 0;
    for await (const m of r.frames()) if (m.kind === 'video' && ++n >= 3) break;
    r.close();
    expect(r.info.video).toMatchObject({ codec: 'hevc', width: 1080, height: 1920 });
  });

  it('a truncated input: clear error, exit code 1, no output and no partial file left', async () => {
    const dir = scratchDir();
    const bytes = readFileSync(clip('vrt_face_2.mp4'));
    const cut = join(dir, 'cut.mp4');
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.7)));
    const out = join(dir, 'out.mp4');
    await expect(runDub({ videoPath: cut, outPath: out })).rejects.toThrow(MediaFileError);
    const errors: string[] = [];
    const orig = console.error;
    console.error = (m: string) => errors.push(String(m));
    try {
      expect(await dubCommand(['--video', cut, '--out', out, '--quiet'])).toBe(1);
    } finally {
      console.error = orig;
    }
    expect(errors.join('\n')).toMatch(/truncated|corrupt|cannot open/);
    expect(readdirSync(dir)).toEqual(['cut.mp4']);
  });

  it('a corrupt input (garbage over the middle of the media): clear error, nothing left behind', async () => {
    const dir = scratchDir();
    const bytes = Buffer.from(readFileSync(clip('vrt_face_3.mp4')));
    for (let i = Math.floor(bytes.length * 0.3); i < bytes.length * 0.8; i++) bytes[i] = (i * 7919) & 0xff;
    const bad = join(dir, 'bad.mp4');
    writeFileSync(bad, bytes);
    const out = join(dir, 'out.mp4');
    await expect(runDub({ videoPath: bad, outPath: out })).rejects.toThrow(/corrupt|truncated|failed/);
    expect(readdirSync(dir)).toEqual(['bad.mp4']);
  });

  it('rejects bad options with exit code 2', async () => {
    const { main } = await import('../../src/cli/main.ts');
    const orig = console.error;
    console.error = () => {};
    try {
      expect(await main(['dub', '--out', '/tmp/x.mp4'])).toBe(2);
      expect(await main(['dub', '--video', '/nonexistent.mp4', '--out', '/tmp/x.mp4'])).toBe(2);
      expect(await main(['dub', '--video', clip('vrt_face_2.mp4'), '--out', '/tmp/x.mp4', '--stage', 'nope'])).toBe(2);
    } finally {
      console.error = orig;
    }
  });
});
