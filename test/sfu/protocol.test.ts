import { describe, expect, it } from 'vitest';
import {
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
