/**
 * `lipsync bot` as a user runs it (child processes of bin/lipsync.mjs): one bot publishes a real clip, a second bot
 * chooses Spanish for it and records what it receives; the recording must be a file ffprobe reads with a video and
 * an audio stream of a plausible duration. A bot with a forged token exits non-zero with a clear error. A bot acting
 * as an interpreter (`--interpret-for`) shows up in the room's language list while it runs, and is gone after; one
 * whose token lacks the grant is refused; a second one with `--take-over` relays the first.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/cli/paths.ts';
import { LipsyncClient } from '../../src/client-sdk/node/index.ts';
import type { LanguageOffer } from '../../src/protocol/index.ts';
import { dubManagerFactory } from '../../src/sfu/dub/index.ts';
import type { LipsyncServer } from '../../src/sfu/index.ts';
import { clipPath, startTestServer, TEST_SECRET, waitFor } from '../sfu/helpers.ts';

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

  it("interprets a speaker with a file's audio while it runs (--interpret-for)", { timeout: 60_000 }, async () => {
    const room = 'bots-interp';
    const speaker = await LipsyncClient.join({ url: server.wsUrl, token: server.mintToken(room, 'speaker') });
    try {
      const seen: LanguageOffer[][] = [];
      speaker.on('languages', (_l, offers) => seen.push(offers));
      const common = ['--url', server.wsUrl, '--room', room];
      const interpreter = bot([
        ...common,
        ...['--secret', TEST_SECRET, '--peer', 'interp', '--interpret-for', 'speaker', '--language', 'es'],
        ...['--publish', CLIP, '--duration-ms', '8000'],
      ]);
      await waitFor(() => seen.length >= 1, 30_000, 'languages with the bot interpreter');
      expect(seen[0]).toEqual([
        {
          language: 'es',
          source: 'embedded',
          interpreters: [{ speakerPeerId: 'speaker', interpreterPeerId: 'interp' }],
        },
      ]);
      // Its token lacks the grant: refused, exits non-zero.
      const refused = await bot([
        ...common,
        ...['--token', server.mintToken(room, 'nogrant'), '--interpret-for', 'speaker', '--language', 'es'],
        ...['--publish', CLIP, '--duration-ms', '8000'],
      ]);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/unauthorized: peer nogrant may not interpret into es/);
      const r = await interpreter;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain('interpreting speaker into es');
      await waitFor(() => seen.length >= 2, 10_000, 'languages after the bot left');
      expect(seen[1]).toEqual([{ language: 'es', source: 'embedded' }]);
      expect(seen).toHaveLength(2);
    } finally {
      speaker.close();
    }
  });

  it('a second bot interpreter relays the first (--take-over)', { timeout: 60_000 }, async () => {
    const room = 'bots-relay';
    const speaker = await LipsyncClient.join({ url: server.wsUrl, token: server.mintToken(room, 'speaker') });
    try {
      const seen: LanguageOffer[][] = [];
      speaker.on('languages', (_l, offers) => seen.push(offers));
      const common = ['--url', server.wsUrl, '--room', room, '--secret', TEST_SECRET, '--publish', CLIP];
      const interpreting = ['--interpret-for', 'speaker', '--language', 'es'];
      const first = bot([...common, ...interpreting, '--peer', 'interp-a', '--loop', '--duration-ms', '12000']);
      await waitFor(() => seen.length >= 1, 30_000, 'languages with the first bot interpreter');
      const relay = await bot([
        ...common,
        ...interpreting,
        '--take-over',
        '--peer',
        'interp-b',
        '--duration-ms',
        '4000',
      ]);
      expect(relay.code, relay.stderr).toBe(0);
      expect(relay.stderr).toContain('interpreting speaker into es (took over from interp-a)');
      const a = await first;
      expect(a.code, a.stderr).toBe(0);
      const interpreters = (offers: LanguageOffer[]) => offers.map((o) => o.interpreters ?? []);
      // interp-a, then interp-b (the take-over), then nobody (interp-b left; interp-a no longer held it).
      expect(seen.map(interpreters)).toEqual([
        [[{ speakerPeerId: 'speaker', interpreterPeerId: 'interp-a' }]],
        [[{ speakerPeerId: 'speaker', interpreterPeerId: 'interp-b' }]],
        [[]],
      ]);
    } finally {
      speaker.close();
    }
  });

  it('exits non-zero with a clear error on a wrong token', { timeout: 30_000 }, async () => {
    const r = await bot(['--url', server.wsUrl, '--room', 'bots', '--token', 'lst1.forged.token', '--peer', 'x']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/could not join room bots .*unauthorized/);
  });
});
