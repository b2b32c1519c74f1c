/**
 * `lipsync bot` as a user runs it (child processes of bin/lipsync.mjs): one bot publishes a real clip, a second bot
 * chooses Spanish for it and records what it receives; the recording must be a file ffprobe reads with a video and
 * an audio stream of a plausible duration. A bot with a forged token exits non-zero with a clear error.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/cli/paths.ts';
import { dubManagerFactory } from '../../src/sfu/dub/index.ts';
import type { LipsyncServer } from '../../src/sfu/index.ts';
import { clipPath, startTestServer, TEST_SECRET } from '../sfu/helpers.ts';

const CLIP = clipPath('sadtalker_WDA_AOC_000.mp4');

function bot(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const p = spawn(process.execPath, [resolve(repoRoot, 'bin/lipsync.mjs'), 'bot', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // A bot that does not end by itself is a failure, not a hung test.
    const kill = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.once('error', reject);
    p.once('exit', (code) => {
      clearTimeout(kill);
      resolveRun({ code, stderr });
    });
  });
}

describe.skipIf(!existsSync(CLIP))('lipsync bot', () => {
  let server: LipsyncServer;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lipsync-bot-'));
    server = await startTestServer({
      dubs: dubManagerFactory({
        offers: [{ language: 'es', source: 'embedded' }],
        stage: 'identity',
        timelineDelayMs: 500,
      }),
    });
  });

  afterAll(() => {
    server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('publishes a clip, and a second bot records the dubbed view to an MP4', { timeout: 90_000 }, async () => {
    const out = join(dir, 'dubbed.mp4');
    const common = ['--url', server.wsUrl, '--room', 'bots', '--secret', TEST_SECRET];
    const speaker = bot([...common, '--peer', 'speaker', '--publish', CLIP, '--loop', '--duration-ms', '20000']);
    await new Promise((r) => setTimeout(r, 3000));
    const recorder = await bot([
      ...common,
      '--peer',
      'recorder',
      '--speaker',
      'speaker',
      '--dub',
      'es',
      '--record',
      out,
      '--duration-ms',
      '13000',
    ]);
    const pub = await speaker;
    expect(recorder.stderr).toContain('listening to speaker in es');
    expect(recorder.stderr).toContain('recording speaker (es)');
    expect(recorder.code, recorder.stderr).toBe(0);
    expect(pub.code, pub.stderr).toBe(0);

    const probe = spawnSync(
      'ffprobe',
      ['-v', 'error', '-show_entries', 'stream=codec_type,codec_name:format=duration', '-of', 'json', out],
      { encoding: 'utf8' },
    );
    expect(probe.status, probe.stderr).toBe(0);
    const info = JSON.parse(probe.stdout) as { streams: { codec_type: string }[]; format: { duration: string } };
    expect(info.streams.map((s) => s.codec_type).sort()).toEqual(['audio', 'video']);
    const duration = Number(info.format.duration);
    // Recorded for 13 s minus the join and the pipeline's start (and the dub's delay).
    expect(duration).toBeGreaterThan(3);
    expect(duration).toBeLessThan(13);
  });

  it('exits non-zero with a clear error on a wrong token', { timeout: 30_000 }, async () => {
    const r = await bot(['--url', server.wsUrl, '--room', 'bots', '--token', 'lst1.forged.token', '--peer', 'x']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/could not join room bots .*unauthorized/);
  });
});
