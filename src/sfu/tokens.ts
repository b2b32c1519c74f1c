/**
 * Room join tokens: `v1.<base64url(JSON claims)>.<base64url(HMAC-SHA256(secret, "v1." + claims))>`.
 * Minted by the application server (or by `GET /token` in demo mode) and checked by the SFU on `join`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { SignalError } from './errors.ts';

export interface TokenClaims {
  /** Room id. */
  room: string;
  /** Peer id, unique in the room. */
  peer: string;
  /** Expiry, milliseconds since the Unix epoch. */
  exp: number;
  /** Optional display name shown to the other peers. */
  name?: string;
  /** Languages this peer may interpret into (it then may `startInterpreting` itself for any speaker or the floor). */
  interpret?: string[];
  /** Host / moderator: may assign and unassign any peer as an interpreter, in any language the room offers. */
  host?: boolean;
}

export interface MintTokenOptions {
  room: string;
  peer: string;
  /** Lifetime in milliseconds. Default 1 hour. */
  ttlMs?: number;
  name?: string;
  /** See TokenClaims.interpret. */
  interpret?: string[];
  /** See TokenClaims.host. */
  host?: boolean;
  /** Clock, for tests. */
  nowMs?: number;
}

const PREFIX = 'v1.';
const MIN_SECRET_LENGTH = 16;
const idPattern = /^[A-Za-z0-9_.:-]{1,64}$/;
/** BCP 47 tag, as the protocol's languageSchema. */
const languagePattern = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/;
const MAX_INTERPRET_LANGUAGES = 32;

function isLanguageList(v: unknown): v is string[] {
  return (
    Array.isArray(v) &&
    v.length <= MAX_INTERPRET_LANGUAGES &&
    v.every((l) => typeof l === 'string' && l.length <= 35 && languagePattern.test(l))
  );
}

function sign(secret: string, body: string): Buffer {
  return createHmac('sha256', secret)
    .update(PREFIX + body)
    .digest();
}

export function assertSecret(secret: string): void {
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
    throw new TypeError(`token secret must be a string of at least ${MIN_SECRET_LENGTH} characters`);
  }
}

export function mintToken(
  secret: string,
  { room, peer, ttlMs = 3_600_000, name, interpret, host, nowMs = Date.now() }: MintTokenOptions,
): string {
  assertSecret(secret);
  if (!idPattern.test(room)) throw new TypeError(`invalid room id '${room}' (1-64 of A-Z a-z 0-9 _ . : -)`);
  if (!idPattern.test(peer)) throw new TypeError(`invalid peer id '${peer}' (1-64 of A-Z a-z 0-9 _ . : -)`);
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new TypeError('ttlMs must be a positive number');
  if (interpret !== undefined && !isLanguageList(interpret)) {
    throw new TypeError(`interpret must be at most ${MAX_INTERPRET_LANGUAGES} language tags like 'fr' or 'pt-BR'`);
  }
  const claims: TokenClaims = {
    room,
    peer,
    exp: Math.floor(nowMs + ttlMs),
    ...(name ? { name: name.slice(0, 64) } : {}),
    ...(interpret?.length ? { interpret: [...new Set(interpret)] } : {}),
    ...(host ? { host: true } : {}),
  };
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${PREFIX}${body}.${sign(secret, body).toString('base64url')}`;
}

/** Checks signature and expiry. Throws SignalError 'unauthorized' or 'tokenExpired'. */
export function verifyToken(secret: string, token: string, nowMs = Date.now()): TokenClaims {
  if (!token.startsWith(PREFIX)) throw new SignalError('unauthorized', 'malformed token');
  const rest = token.slice(PREFIX.length);
  const dot = rest.indexOf('.');
  if (dot <= 0) throw new SignalError('unauthorized', 'malformed token');
  const body = rest.slice(0, dot);
  const given = Buffer.from(rest.slice(dot + 1), 'base64url');
  const expected = sign(secret, body);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new SignalError('unauthorized', 'bad token signature');
  }
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    throw new SignalError('unauthorized', 'malformed token claims');
  }
  const c = claims as Partial<TokenClaims> | null;
  if (
    !c ||
    typeof c.room !== 'string' ||
    !idPattern.test(c.room) ||
    typeof c.peer !== 'string' ||
    !idPattern.test(c.peer) ||
    typeof c.exp !== 'number' ||
    (c.interpret !== undefined && !isLanguageList(c.interpret)) ||
    (c.host !== undefined && typeof c.host !== 'boolean')
  ) {
    throw new SignalError('unauthorized', 'malformed token claims');
  }
  if (c.exp <= nowMs) throw new SignalError('tokenExpired', 'token expired');
  return {
    room: c.room,
    peer: c.peer,
    exp: c.exp,
    ...(typeof c.name === 'string' ? { name: c.name.slice(0, 64) } : {}),
    ...(c.interpret?.length ? { interpret: [...c.interpret] } : {}),
    ...(c.host ? { host: true } : {}),
  };
}
