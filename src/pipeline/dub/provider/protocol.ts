/**
 * The external dub-provider protocol (`lipsync-dub/1`) over one WebSocket per session; see docs/provider-protocol.md.
 * Text messages are JSON control messages with a `type`; binary messages are PCM: client -> server the speaker's
 * audio in the format declared by `start`, server -> client the audio of the segment announced just before.
 */
import type { PhonemeTiming } from '../types.ts';

export const PROTOCOL = 'lipsync-dub/1';
/** Input sample rates a server accepts. */
export const SUPPORTED_SAMPLE_RATES = [8000, 12000, 16000, 22050, 24000, 32000, 44100, 48000] as const;
/** Largest binary audio frame a server accepts in one message (bigger ones are refused with `frame-too-large`). */
export const MAX_AUDIO_FRAME_BYTES = 64 * 1024;
/** Hard WebSocket message limit: larger messages close the connection (1009). */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

export interface AudioFormat {
  encoding: 'pcm_s16le';
  sampleRate: number;
  channels: number;
}

// --- client -> server -------------------------------------------------------------------------------------------

export interface StartMessage {
  type: 'start';
  protocol: typeof PROTOCOL;
  sourceLanguage: string;
  targetLanguage: string;
  /** Format of the binary audio messages that follow. */
  audio: AudioFormat;
  /** Sample rate of the segment audio the server sends back. Default 24000. */
  outputSampleRate?: number;
}
/** Finish the utterance in progress and send every pending segment, then `flushed`. */
export interface FlushMessage {
  type: 'flush';
}
/** Barge-in: drop buffered audio and pending segments, then `cleared`. */
export interface ClearMessage {
  type: 'clear';
}
/** End of the session: like flush, then `ended`, then the server closes (1000). */
export interface EndMessage {
  type: 'end';
}
export type ClientMessage = StartMessage | FlushMessage | ClearMessage | EndMessage;

// --- server -> client -------------------------------------------------------------------------------------------

export interface StartedMessage {
  type: 'started';
  sessionId: string;
  output: AudioFormat;
}
export interface SpeechStartMessage {
  type: 'speech_start';
  sourceStartMs: number;
}
/** Announces one segment; the next binary message is its audio (`bytes` long, mono pcm_s16le at output rate). */
export interface SegmentMessage {
  type: 'segment';
  segmentId: number;
  /** Times on the session's input clock: 0 = first sample received. */
  sourceStartMs: number;
  sourceEndMs: number;
  speechEndMs?: number;
  language: string;
  sourceText?: string;
  text?: string;
  phonemes?: PhonemeTiming[];
  /** Server-side latency: end of the source speech received -> segment ready. */
  latencyMs: number;
  sampleRate: number;
  samples: number;
  bytes: number;
}
export interface FlushedMessage {
  type: 'flushed';
}
export interface ClearedMessage {
  type: 'cleared';
}
export interface EndedMessage {
  type: 'ended';
}
export type ErrorCode =
  | 'bad-message'
  | 'bad-frame'
  | 'frame-too-large'
  | 'out-of-order'
  | 'unsupported'
  | 'missing-tool'
  | 'overloaded'
  | 'internal';
export interface ErrorMessage {
  type: 'error';
  code: ErrorCode;
  message: string;
  /** The same request may succeed later (a busy tool, a transient failure). */
  retryable: boolean;
  /** The server closes the session after this message. */
  fatal: boolean;
}
export type ServerMessage =
  | StartedMessage
  | SpeechStartMessage
  | SegmentMessage
  | FlushedMessage
  | ClearedMessage
  | EndedMessage
  | ErrorMessage;

// --- validation -------------------------------------------------------------------------------------------------

export class ProtocolError extends Error {
  override name = 'ProtocolError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const LANG = /^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$/;

/** Parses one text message from a client; a ProtocolError says what is wrong. */
export function parseClientMessage(text: string): ClientMessage {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ProtocolError('bad-message', 'text message is not JSON');
  }
  if (!isRecord(v) || typeof v.type !== 'string')
    throw new ProtocolError('bad-message', 'message needs a string "type"');
  switch (v.type) {
    case 'flush':
    case 'clear':
    case 'end':
      return { type: v.type };
    case 'start':
      return parseStart(v);
    default:
      throw new ProtocolError('bad-message', `unknown message type '${v.type.slice(0, 40)}'`);
  }
}

function parseStart(v: Record<string, unknown>): StartMessage {
  if (v.protocol !== PROTOCOL) {
    throw new ProtocolError('unsupported', `protocol must be '${PROTOCOL}', got '${String(v.protocol).slice(0, 40)}'`);
  }
  for (const k of ['sourceLanguage', 'targetLanguage'] as const) {
    if (typeof v[k] !== 'string' || !LANG.test(v[k])) {
      throw new ProtocolError('bad-message', `${k} must be a language tag like 'en' or 'es'`);
    }
  }
  const a = v.audio;
  if (!isRecord(a)) throw new ProtocolError('bad-message', 'start needs an "audio" format object');
  if (a.encoding !== 'pcm_s16le') {
    throw new ProtocolError(
      'unsupported',
      `audio.encoding must be 'pcm_s16le', got '${String(a.encoding).slice(0, 40)}'`,
    );
  }
  if (typeof a.sampleRate !== 'number' || !(SUPPORTED_SAMPLE_RATES as readonly number[]).includes(a.sampleRate)) {
    throw new ProtocolError(
      'unsupported',
      `audio.sampleRate ${String(a.sampleRate).slice(0, 20)} is not supported; use one of ${SUPPORTED_SAMPLE_RATES.join(', ')}`,
    );
  }
  if (a.channels !== 1 && a.channels !== 2) {
    throw new ProtocolError('unsupported', `audio.channels must be 1 or 2, got ${String(a.channels).slice(0, 20)}`);
  }
  const out = v.outputSampleRate;
  if (out !== undefined && (typeof out !== 'number' || !(SUPPORTED_SAMPLE_RATES as readonly number[]).includes(out))) {
    throw new ProtocolError('unsupported', `outputSampleRate must be one of ${SUPPORTED_SAMPLE_RATES.join(', ')}`);
  }
  return {
    type: 'start',
    protocol: PROTOCOL,
    sourceLanguage: v.sourceLanguage as string,
    targetLanguage: v.targetLanguage as string,
    audio: { encoding: 'pcm_s16le', sampleRate: a.sampleRate, channels: a.channels },
    ...(out === undefined ? {} : { outputSampleRate: out }),
  };
}

/** Parses one text message from a server (the client's side; shallow: the server is trusted to follow the types). */
export function parseServerMessage(text: string): ServerMessage {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ProtocolError('bad-message', 'server message is not JSON');
  }
  if (!isRecord(v) || typeof v.type !== 'string')
    throw new ProtocolError('bad-message', 'server message without a type');
  return v as unknown as ServerMessage;
}
