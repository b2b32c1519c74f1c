/**
 * `lipsync eval` on folders it has never seen: every clip is either scored or reported with the reason it was not,
 * the others' figures and the means stay clean, and a folder with nothing to evaluate is a clear error. The inputs
 * are made here with ffmpeg (tiny synthetic clips; two pieces of a real clip where the clips are present).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/args.ts';
import { run } from '../../src/cli/commands/eval.ts';
import { defaultClipsDir } from '../../src/cli/paths.ts';
import { evaluateFolder, NoClipsError } from '../../src/pipeline/lipsync/eval/index.ts';

const ffmpeg = (...args: string[]) => execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args]);
const testsrc = (s: number) => ['-f', 'lavfi', '-i', `testsrc=size=96x96:rate=25:duration=${s}`];
const sine = (s: number) => ['-f', 'lavfi', '-i', `sine=frequency=300:duration=${s}`];
const codecs = ['-c:v', 'mpeg4', '-c:a', 'aac'];
const realClip = join(defaultClipsDir(), 'vrt_face_5.mp4');

describe('eval on inputs it cannot score', () => {
  it('reports each bad clip with its reason, lists what it ignored, and has no mean', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lipsync-eval-in-'));
    ffmpeg(...testsrc(2.4), '-c:v', 'mpeg4', join(dir, 'no audio.mp4'));
    ffmpeg(...sine(1), '-c:a', 'aac', join(dir, 'audio_only.mp4'));
    ffmpeg(...testsrc(1), ...sine(1), ...codecs, join(dir, 'short.mp4'));
    ffmpeg(...testsrc(2.4), ...sine(2.4), ...codecs, join(dir, 'no_face.mov'));
    writeFileSync(join(dir, 'x.mp4'), 'this is not a video\n');
    writeFileSync(join(dir, 'notes.txt'), 'not a clip\n');
    mkdirSync(join(dir, 'sub'));

    const r = await evaluateFolder(dir, { phones: false });
    expect(r.clips).toEqual([]);
    expect(Object.fromEntries(r.skipped.map((s) => [s.clip, s.reason]))).toEqual({
      'audio_only.mp4': 'no video stream',
      'no audio.mp4': expect.stringMatching(/^no audio stream/) as unknown,
      'no_face.mov': 'no face found',
      'short.mp4': expect.stringMatching(/^too short: 1\.0 s .*needs 2\.0 s$/) as unknown,
      'x.mp4': expect.stringMatching(/^unreadable: cannot open x\.mp4: /) as unknown,
    });
    expect(r.ignored).toEqual([
      { name: 'notes.txt', reason: 'not a video file name' },
      { name: 'sub', reason: 'sub-folder, not searched' },
    ]);
    // No NaN figures for a mean of nothing.
    expect(r.mean).toEqual({ clips: 0 });
  });

  it('exits 1 when no clip could be scored, 2 (usage) when the folder has no video file', async () => {
    const bad = mkdtempSync(join(tmpdir(), 'lipsync-eval-bad-'));
    writeFileSync(join(bad, 'x.mp4'), 'this is not a video\n');
    const json = join(bad, 'out.json');
    expect(await run(['--clips', bad, '--no-phones', '--json', json])).toBe(1);
    expect(existsSync(json)).toBe(true);

    const empty = mkdtempSync(join(tmpdir(), 'lipsync-eval-empty-'));
    writeFileSync(join(empty, 'readme.md'), '# no clips here\n');
    await expect(evaluateFolder(empty)).rejects.toThrow(NoClipsError);
    const err: unknown = await run(['--clips', empty]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(/^--clips: no video files in .* \(ignored: readme\.md\)$/);
    await expect(evaluateFolder(join(empty, 'missing'))).rejects.toThrow(/cannot read the clips folder/);
  });

  it.skipIf(!existsSync(realClip))(
    'skips two faces side by side and keeps the skipped clip out of the mean of the scored one',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'lipsync-eval-two-'));
      const piece = ['-i', realClip, '-t', '2.4'];
      ffmpeg(...piece, '-vf', 'scale=256:256', ...codecs, join(dir, 'one.mp4'));
      const twice = ['-filter_complex', '[0:v]scale=256:256,split[a][b];[a][b]hstack[v]', '-map', '[v]', '-map', '0:a'];
      ffmpeg(...piece, ...twice, ...codecs, join(dir, 'two.mp4'));
      const r = await evaluateFolder(dir, { phones: false });
      expect(r.skipped).toEqual([{ clip: 'two.mp4', reason: expect.stringMatching(/^2 faces in view/) as unknown }]);
      expect(r.clips.map((c) => c.clip)).toEqual(['one.mp4']);
      expect(r.mean.clips).toBe(1);
      expect(r.mean.lipLmd).toBe(r.clips[0]!.lipLmd);
      expect(Number.isFinite(r.mean.lipLmd)).toBe(true);
    },
  );
});
