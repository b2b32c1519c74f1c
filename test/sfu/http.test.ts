import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyToken } from '../../src/sfu/index.ts';
import { startTestServer, TEST_SECRET } from './helpers.ts';

describe('http', () => {
  it('mints tokens only in demo mode, serves static files without escaping the folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lipsync-static-'));
    writeFileSync(join(dir, 'index.html'), '<p>demo</p>');
    const demo = await startTestServer({ demo: true, staticDir: dir });
    const prod = await startTestServer();
    try {
      const res = await fetch(`${demo.httpUrl}/token?room=r&peer=alice`);
      const body = (await res.json()) as { token: string };
      expect(verifyToken(TEST_SECRET, body.token)).toMatchObject({ room: 'r', peer: 'alice' });
      expect((await fetch(`${demo.httpUrl}/token?room=bad%20id&peer=a`)).status).toBe(400);
      expect((await fetch(`${prod.httpUrl}/token?room=r&peer=alice`)).status).toBe(404);
      expect(await (await fetch(`${demo.httpUrl}/`)).text()).toBe('<p>demo</p>');
      expect((await fetch(`${demo.httpUrl}/%2e%2e/%2e%2e/etc/passwd`)).status).toBeGreaterThanOrEqual(400);
      expect(await (await fetch(`${prod.httpUrl}/`)).text()).toMatch(/lipsync-sfu/);
      expect(await (await fetch(`${prod.httpUrl}/health`)).json()).toMatchObject({ ok: true, workers: 1 });
    } finally {
      demo.close();
      prod.close();
    }
  });
});
