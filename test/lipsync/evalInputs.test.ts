/**
 * `lipsync eval` on folders it has never seen: every clip is either scored or reported with the reason it was not,
 * the others' figures and the means stay clean, and a folder with nothing to evaluate is a clear error. Sub-folders
 * are searched (dataset layouts: speaker/clip.mp4), clips named by their relative path. The inputs are made here with
 * ffmpeg (tiny synthetic clips; pieces of real clips where the clips are present).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/args.ts';
import { run } from '../../src/cli/commands/eval.ts';
import { defaultClipsDir } from '../../src/cli/paths.ts';
import {
  evaluateFolder,
  findClips,
  formatReport,
  NoClipsError,
  priorFold,
  readTrackDumps,
  writeTrackDump,
  type EvalReport,
} from '../../src/pipeline/lipsync/eval/index.ts';

const ffmpeg = (...args: string[]) => execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args]);
const testsrc = (s: number) => ['-f', 'lavfi', '-i', `testsrc=size=96x96:rate=25:duration=${s}`];
const sine = (s: number) => ['-f', 'lavfi', '-i', `sine=frequency=300:duration=${s}`];
const codecs = ['-c:v', 'mpeg4', '-c:a', 'aac'];
const realClip = join(defaultClipsDir(), 'vrt_face_5.mp4');
const otherClip = join(defaultClipsDir(), 'vrt_face_3.mp4');

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
    // The empty sub-folder is searched and adds nothing.
    expect(r.ignored).toEqual([{ name: 'notes.txt', reason: 'not a video file name' }]);
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

describe('eval on nested folders', () => {
  /** A tree of tiny no-audio clips (each skipped at once), links, a hidden folder and a deep one. */
  const tree = () => {
    const root = mkdtempSync(join(tmpdir(), 'lipsync-eval-tree-'));
    const ext = mkdtempSync(join(tmpdir(), 'lipsync-eval-ext-'));
    const clip = join(root, 'top.mp4');
    ffmpeg(...testsrc(0.4), '-c:v', 'mpeg4', clip);
    for (const d of ['spk1', 'spk2', '.hidden', 'a/b/c/d/e']) mkdirSync(join(root, d), { recursive: true });
    for (const f of ['spk1/clip.mp4', 'spk2/clip.mp4', '.hidden/clip.mp4', 'spk1/.part.mp4', 'a/b/c/d/four.mp4'])
      copyFileSync(clip, join(root, f));
    copyFileSync(clip, join(root, 'a/b/c/d/e/five.mp4'));
    copyFileSync(clip, join(ext, 'ext.mp4'));
    writeFileSync(join(root, 'spk2/notes.txt'), 'not a clip\n');
    symlinkSync('..', join(root, 'spk1/loop')); // back to the root
    symlinkSync('../spk2', join(root, 'spk1/spk2')); // a folder searched under its own path
    symlinkSync(ext, join(root, 'ext')); // a speaker folder elsewhere: followed
    symlinkSync(ext, join(root, 'ext2')); // the same again
    symlinkSync('self', join(root, 'self')); // ELOOP
    return root;
  };

  it('finds clips in sub-folders by relative path, skips hidden ones, stops at the depth limit and at link loops', () => {
    const root = tree();
    const found = findClips(root);
    expect(found.files.map((f) => f.clip)).toEqual([
      'a/b/c/d/four.mp4',
      'ext/ext.mp4',
      'spk1/clip.mp4',
      'spk2/clip.mp4',
      'top.mp4',
    ]);
    expect(found.files[2]!.path).toBe(join(root, 'spk1', 'clip.mp4'));
    expect(found.ignored).toEqual([
      { name: 'a/b/c/d/e', reason: 'sub-folder below the depth limit (4), not searched' },
      { name: 'ext2', reason: 'link to a folder already searched' },
      { name: 'self', reason: expect.stringMatching(/^unreadable: ELOOP/) as unknown },
      { name: 'spk1/loop', reason: 'link to a folder it is in (a loop), not followed' },
      { name: 'spk1/spk2', reason: 'link to a folder searched under its own path' },
      { name: 'spk2/notes.txt', reason: 'not a video file name' },
    ]);
    expect(findClips(root, { maxDepth: 5 }).files.map((f) => f.clip)).toContain('a/b/c/d/e/five.mp4');
    expect(findClips(root, { maxDepth: 0 }).files.map((f) => f.clip)).toEqual(['top.mp4']);
    // --only matches the relative path: a file name (in any folder), a folder, or a path.
    const only = (...o: string[]) => findClips(root, { only: o }).files.map((f) => f.clip);
    expect(only('clip')).toEqual(['spk1/clip.mp4', 'spk2/clip.mp4']);
    expect(only('spk2/')).toEqual(['spk2/clip.mp4']);
    expect(only('spk1/clip.mp4', 'top')).toEqual(['spk1/clip.mp4', 'top.mp4']);
  });

  it('keeps two same-named clips apart in the table, the JSON and the exit codes', async () => {
    const root = tree();
    const json = join(root, 'out.json');
    expect(await run(['--clips', root, '--no-phones', '--only', 'clip.mp4', '--json', json])).toBe(1);
    const r = JSON.parse(readFileSync(json, 'utf8')) as EvalReport;
    expect(r.skipped).toEqual([
      { clip: 'spk1/clip.mp4', reason: expect.stringMatching(/^no audio stream/) as unknown },
      { clip: 'spk2/clip.mp4', reason: expect.stringMatching(/^no audio stream/) as unknown },
    ]);
    expect(r.options).toMatchObject({ maxDepth: 4, only: ['clip.mp4'] });
    expect(formatReport(r)).toMatch(/^spk2\/clip\.mp4 {2}skipped: no audio stream/m);

    // Clips only in a hidden folder or below the depth limit: nothing to read (2).
    const hidden = mkdtempSync(join(tmpdir(), 'lipsync-eval-hidden-'));
    mkdirSync(join(hidden, '.cache/x'), { recursive: true });
    mkdirSync(join(hidden, 'deep/er'), { recursive: true });
    copyFileSync(join(root, 'top.mp4'), join(hidden, '.cache/x/clip.mp4'));
    copyFileSync(join(root, 'top.mp4'), join(hidden, 'deep/er/clip.mp4'));
    const err: unknown = await run(['--clips', hidden, '--max-depth', '1']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(/^--clips: no video files in .* or its sub-folders \(ignored: deep\/er\)$/);
    expect(await run(['--clips', hidden, '--no-phones'])).toBe(1);
  });

  it('picks the prior fold by relative path, else by file name, never a same-named clip of another folder', () => {
    const shipped = ['vrt_face_1.mp4', 'vrt_face_5.mp4'];
    expect(priorFold(shipped, 'vrt_face_5.mp4')).toBe('vrt_face_5.mp4');
    // A copy of a shipped clip in a sub-folder: its fold (the full prior has seen its audio).
    expect(priorFold(shipped, 'spk/vrt_face_5.mp4')).toBe('vrt_face_5.mp4');
    expect(priorFold(shipped, 'spk/clip.mp4')).toBeUndefined();
    // A prior built from a nested dump: folds keyed by relative path.
    const nested = ['spk1/clip.mp4', 'spk2/clip.mp4'];
    expect(priorFold(nested, 'spk2/clip.mp4')).toBe('spk2/clip.mp4');
    expect(priorFold(nested, 'spk3/clip.mp4')).toBeUndefined();
    expect(priorFold(nested, 'clip.mp4')).toBeUndefined();
  });

  it('dumps a nested clip flat and reads it back under its relative path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lipsync-eval-dump-'));
    const data = { fps: 25, meshes: [null], audio: Float32Array.from([0.5, -0.25]), audioOffsetMs: 0 };
    writeTrackDump(dir, 'spk1/clip.mp4', data);
    writeTrackDump(dir, 'spk2/clip.mp4', { ...data, audio: Float32Array.from([0.125]) });
    const back = readTrackDumps(dir);
    expect(back.map((t) => [t.clip, Array.from(t.audio)])).toEqual([
      ['spk1/clip.mp4', [0.5, -0.25]],
      ['spk2/clip.mp4', [0.125]],
    ]);
  });

  it.skipIf(!existsSync(realClip) || !existsSync(otherClip))(
    'scores two real clips of the same name in two folders as two clips, each with its own prior fold',
    async () => {
      const root = mkdtempSync(join(tmpdir(), 'lipsync-eval-same-'));
      for (const d of ['spk1', 'spk2/sess']) mkdirSync(join(root, d), { recursive: true });
      const piece = (src: string, out: string) =>
        ffmpeg('-i', src, '-t', '2.4', '-vf', 'scale=256:256', ...codecs, join(root, out));
      piece(realClip, 'spk1/clip.mp4');
      piece(otherClip, 'spk2/clip.mp4');
      piece(realClip, 'spk2/sess/vrt_face_5.mp4');
      const r = await evaluateFolder(root, { phones: false });
      expect(r.skipped).toEqual([]);
      expect(r.clips.map((c) => [c.clip, c.prior])).toEqual([
        ['spk1/clip.mp4', 'full'],
        ['spk2/clip.mp4', 'full'],
        ['spk2/sess/vrt_face_5.mp4', 'leave-out(vrt_face_5.mp4)'],
      ]);
      // Different speakers, different figures: two rows, not one clip twice.
      expect(r.clips[0]!.lipLmd).not.toBe(r.clips[1]!.lipLmd);
      expect(r.mean.clips).toBe(3);
      const rows = formatReport(r).split('\n');
      expect(rows.filter((l) => /^spk[12]\/clip\.mp4 /.test(l))).toHaveLength(2);
    },
  );
});
