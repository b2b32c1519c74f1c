import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import {
  checkRequestData,
  MAX_MESSAGE_BYTES,
  parseRequest,
  parseServerMessage,
  ProtocolError,
  PROTOCOL_VERSION,
} from '../../src/protocol/index.ts';
import { mintToken, verifyToken } from '../../src/sfu/tokens.ts';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ProtocolError) return err.code;
    if (err instanceof Error && 'code' in err) return String((err as { code: unknown }).code);
    throw err;
  }
  return 'ok';
}

describe('protocol', () => {
  it('accepts a well-formed join and types its data', () => {
    const msg = parseRequest(
      JSON.stringify({
        type: 'request',
        id: 1,
        method: 'join',
        data: { protocolVersion: PROTOCOL_VERSION, token: 't' },
      }),
    );
    expect(msg.method).toBe('join');
    expect(msg.data).toEqual({ protocolVersion: PROTOCOL_VERSION, token: 't' });
  });

  it('rejects malformed, unknown, oversized and ill-typed messages with distinct codes', () => {
    expect(code(() => parseRequest('{nope'))).toBe('badJson');
    expect(code(() => parseRequest('[]'))).toBe('badRequest');
    expect(code(() => parseRequest(JSON.stringify({ type: 'request', id: -1, method: 'leave' })))).toBe('badRequest');
    expect(code(() => parseRequest(JSON.stringify({ type: 'request', id: 2, method: 'fly', data: {} })))).toBe(
      'unknownMethod',
    );
    expect(code(() => parseRequest('"' + 'x'.repeat(MAX_MESSAGE_BYTES + 1) + '"'))).toBe('tooLarge');
    expect(
      code(() => parseRequest(JSON.stringify({ type: 'request', id: 3, method: 'resume', data: { consumerId: 5 } }))),
    ).toBe('badRequest');
    expect(
      code(() =>
        parseRequest(JSON.stringify({ type: 'request', id: 3, method: 'resume', data: { consumerId: 'a', x: 1 } })),
      ),
    ).toBe('badRequest');
    expect(
      code(() =>
        parseRequest(
          JSON.stringify({ type: 'request', id: 4, method: 'createTransport', data: { direction: 'sideways' } }),
        ),
      ),
    ).toBe('badRequest');
  });

  it('keeps the request id of a bad request so the error can be answered', () => {
    try {
      parseRequest(JSON.stringify({ type: 'request', id: 42, method: 'resume', data: {} }));
      expect.unreachable();
    } catch (err) {
      expect((err as ProtocolError).id).toBe(42);
      expect((err as ProtocolError).message).toMatch(/data\.consumerId/);
    }
  });

  it('bounds nesting of free-form objects', () => {
    let deep: unknown = {};
    for (let i = 0; i < 20; i++) deep = { a: deep };
    const text = JSON.stringify({
      type: 'request',
      id: 5,
      method: 'connectTransport',
      data: { transportId: 't', dtlsParameters: deep },
    });
    expect(code(() => parseRequest(text))).toBe('badRequest');
  });

  it('validates startInterpreting / stopInterpreting: speaker id or *, language tag, optional interpreter', () => {
    const req = (method: string, data: unknown) => JSON.stringify({ type: 'request', id: 9, method, data });
    expect(parseRequest(req('startInterpreting', { speakerPeerId: 'alice', language: 'fr' })).data).toEqual({
      speakerPeerId: 'alice',
      language: 'fr',
    });
    expect(
      parseRequest(req('startInterpreting', { speakerPeerId: '*', language: 'pt-BR', interpreterPeerId: 'ivan' })).data,
    ).toEqual({ speakerPeerId: '*', language: 'pt-BR', interpreterPeerId: 'ivan' });
    expect(
      parseRequest(req('startInterpreting', { speakerPeerId: 'alice', language: 'fr', takeOver: true })).data,
    ).toEqual({ speakerPeerId: 'alice', language: 'fr', takeOver: true });
    expect(parseRequest(req('stopInterpreting', { speakerPeerId: '*', language: 'fr' })).method).toBe(
      'stopInterpreting',
    );
    for (const bad of [
      {},
      { speakerPeerId: 'alice' },
      { speakerPeerId: 'alice', language: 'f' },
      { speakerPeerId: 'alice', language: 'fr-' },
      { speakerPeerId: 'alice', language: 'fr', role: 'host' },
      { speakerPeerId: '**', language: 'fr' },
      { speakerPeerId: 'a*', language: 'fr' },
      { speakerPeerId: 'a b', language: 'fr' },
      { speakerPeerId: 'x'.repeat(65), language: 'fr' },
      { speakerPeerId: 7, language: 'fr' },
      { speakerPeerId: 'alice', language: 'fr', interpreterPeerId: '*' },
      { speakerPeerId: 'alice', language: 'fr', interpreterPeerId: null },
      { speakerPeerId: 'alice', language: 'fr', takeOver: 'yes' },
      { speakerPeerId: 'alice', language: 'fr', takeOver: 1 },
    ]) {
      expect(
        code(() => parseRequest(req('startInterpreting', bad))),
        JSON.stringify(bad),
      ).toBe('badRequest');
    }
    expect(code(() => parseRequest(req('stopInterpreting', { speakerPeerId: 'a', language: 'fr', x: 1 })))).toBe(
      'badRequest',
    );
    // The client checks its own requests before sending.
    expect(() => checkRequestData('startInterpreting', { speakerPeerId: '', language: 'fr' })).toThrow(/speakerPeerId/);
  });

  it('validates language offers with their live interpreters', () => {
    const languages = (offers: unknown) =>
      JSON.stringify({ type: 'notification', method: 'languages', data: { languages: ['fr'], offers } });
    const offers = [
      { language: 'fr', source: 'interpreter', interpreters: [{ speakerPeerId: '*', interpreterPeerId: 'ivan' }] },
      { language: 'es', source: 'embedded' },
    ];
    expect(parseServerMessage(languages(offers))).toMatchObject({ data: { offers } });
    for (const bad of [
      [{ language: 'fr', source: 'human' }],
      [{ language: 'fr', source: 'interpreter', interpreters: [{ speakerPeerId: 'a' }] }],
      [{ language: 'fr', source: 'interpreter', interpreters: [{ speakerPeerId: 'a', interpreterPeerId: '*' }] }],
      [{ language: 'fr', source: 'interpreter', interpreters: {} }],
      [{ language: 'fr', source: 'interpreter', extra: 1 }],
    ]) {
      expect(() => parseServerMessage(languages(bad)), JSON.stringify(bad)).toThrow(ProtocolError);
    }
  });

  it('validates dubStats, with the interpreter whose voice the dub is now', () => {
    const stats = (data: unknown) => JSON.stringify({ type: 'notification', method: 'dubStats', data });
    const base = {
      speakerPeerId: 'alice',
      language: 'fr',
      fps: 24.5,
      delayMs: 2030,
      faceRendering: true,
      segments: 12,
      framesOut: 300,
    };
    expect(parseServerMessage(stats(base))).toMatchObject({ data: base });
    expect(parseServerMessage(stats({ ...base, interpreterPeerId: 'anna' }))).toMatchObject({
      data: { interpreterPeerId: 'anna' },
    });
    for (const bad of ['*', '', 7, null]) {
      expect(() => parseServerMessage(stats({ ...base, interpreterPeerId: bad })), String(bad)).toThrow(ProtocolError);
    }
  });

  it('validates known notifications and passes unknown ones through', () => {
    const n = parseServerMessage(JSON.stringify({ type: 'notification', method: 'peerLeft', data: { peerId: 'p1' } }));
    expect(n).toEqual({ type: 'notification', method: 'peerLeft', data: { peerId: 'p1' } });
    expect(() => parseServerMessage(JSON.stringify({ type: 'notification', method: 'peerLeft', data: {} }))).toThrow();
    const future = parseServerMessage(JSON.stringify({ type: 'notification', method: 'later', data: { x: 1 } }));
    expect(future.type).toBe('notification');
  });
});

describe('tokens', () => {
  const secret = 'a-test-secret-of-enough-length';

  it('round-trips claims', () => {
    const token = mintToken(secret, { room: 'r1', peer: 'p1', ttlMs: 1000, nowMs: 0 });
    expect(verifyToken(secret, token, 10)).toMatchObject({ room: 'r1', peer: 'p1', exp: 1000 });
  });

  it('carries the interpreter and host grants', () => {
    const token = mintToken(secret, { room: 'r1', peer: 'p1', interpret: ['fr', 'pt-BR', 'fr'], host: true });
    expect(verifyToken(secret, token)).toMatchObject({ interpret: ['fr', 'pt-BR'], host: true });
    const plain = verifyToken(secret, mintToken(secret, { room: 'r1', peer: 'p1', interpret: [], host: false }));
    expect(plain).not.toHaveProperty('interpret');
    expect(plain).not.toHaveProperty('host');
    expect(() => mintToken(secret, { room: 'r1', peer: 'p1', interpret: ['french!'] })).toThrow(TypeError);
    expect(() => mintToken(secret, { room: 'r1', peer: 'p1', interpret: Array(33).fill('fr') as string[] })).toThrow(
      TypeError,
    );
    // Correctly signed claims whose grants are malformed are refused, not half-trusted.
    const signed = (claims: object) => {
      const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
      const sig = createHmac('sha256', secret).update(`v1.${body}`).digest('base64url');
      return `v1.${body}.${sig}`;
    };
    const exp = Date.now() + 60_000;
    expect(verifyToken(secret, signed({ room: 'r', peer: 'p', exp, interpret: ['de'] }))).toMatchObject({
      interpret: ['de'],
    });
    for (const bad of [{ interpret: 'fr' }, { interpret: [7] }, { interpret: ['x'.repeat(40)] }, { host: 'yes' }]) {
      expect(
        code(() => verifyToken(secret, signed({ room: 'r', peer: 'p', exp, ...bad }))),
        JSON.stringify(bad),
      ).toBe('unauthorized');
    }
  });

  it('rejects a wrong secret, a tampered body and an expired token', () => {
    const token = mintToken(secret, { room: 'r1', peer: 'p1', ttlMs: 1000, nowMs: 0 });
    expect(code(() => verifyToken('another-secret-of-enough-length', token, 10))).toBe('unauthorized');
    const [v, body, sig] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ room: 'r2', peer: 'p1', exp: 1000 })).toString('base64url');
    expect(body).not.toBe(forged);
    expect(code(() => verifyToken(secret, `${v}.${forged}.${sig}`, 10))).toBe('unauthorized');
    expect(code(() => verifyToken(secret, 'garbage', 10))).toBe('unauthorized');
    expect(code(() => verifyToken(secret, token, 1000))).toBe('tokenExpired');
  });
});
