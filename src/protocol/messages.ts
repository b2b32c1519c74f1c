/**
 * Signalling messages between a client (browser SDK, Node SDK, bot) and the SFU, over one WebSocket per peer.
 *
 * Three envelopes, all JSON text frames:
 * - request (client -> server): `{ type: 'request', id, method, data }`; `id` is chosen by the client, unique per socket.
 * - response (server -> client): `{ type: 'response', id, ok: true, data }` or
 *   `{ type: 'response', id, ok: false, error: { code, message } }` (`id` is null when the request had no readable id).
 * - notification (server -> client): `{ type: 'notification', method, data }`.
 *
 * The first request must be `join` carrying `protocolVersion`; the server answers `versionMismatch` when it cannot speak
 * it. New methods and notifications may be added within a version; clients ignore notifications they do not know.
 * Types and validators only: this module runs in browsers too (no Node imports; mediasoup-client types are type-only).
 */
import type {
  DtlsParameters,
  IceCandidate,
  IceParameters,
  MediaKind,
  RtpCapabilities,
  RtpParameters,
  SctpParameters,
} from 'mediasoup-client/types';
import {
  arr,
  bool,
  jsonObject,
  literal,
  nullable,
  num,
  obj,
  opt,
  SchemaError,
  str,
  type Infer,
  type Schema,
} from './schema.ts';

export const PROTOCOL_VERSION = 1;

/** Largest message, in bytes of UTF-8 JSON, either side accepts (RTP capabilities are the largest, ~5 KiB). */
export const MAX_MESSAGE_BYTES = 64 * 1024;

/** Largest request id; ids are small integers chosen by the client. */
export const MAX_REQUEST_ID = 2 ** 31 - 1;

// ---------------------------------------------------------------------------------------------------------------
// Field schemas

/** mediasoup ids (UUIDs) and our room / peer ids. */
export const idSchema = str({ min: 1, max: 64, pattern: /^[A-Za-z0-9_.:-]+$/ });
/** A BCP 47 language tag, e.g. `en`, `pt-BR`. */
export const languageSchema = str({ min: 2, max: 35, pattern: /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/ });
export const kindSchema: Schema<MediaKind> = literal('audio', 'video');
const rtpParametersSchema = jsonObject<RtpParameters>('RtpParameters');
const rtpCapabilitiesSchema = jsonObject<RtpCapabilities>('RtpCapabilities');
const dtlsParametersSchema = jsonObject<DtlsParameters>('DtlsParameters');

/**
 * What a producer carries: the participant's own media (`original`) or media re-rendered by the SFU's processing stage
 * (`processed`: identity today, lip-synced to `language` later).
 */
export const trackSourceSchema = literal('original', 'processed');
export type TrackSource = Infer<typeof trackSourceSchema>;

export const producerInfoSchema = obj({
  producerId: idSchema,
  peerId: idSchema,
  kind: kindSchema,
  source: trackSourceSchema,
  /** For a processed producer: the original producer it was made from. */
  originalProducerId: opt(idSchema),
  /** For a processed producer: the language its lips follow; null for the identity tap (original speech). */
  language: opt(nullable(languageSchema)),
});
export type ProducerInfo = Infer<typeof producerInfoSchema>;

/** Where a room's dub in one language comes from: a human interpreter, the embedded translator, or a provider. */
export const dubSourceKindSchema = literal('interpreter', 'embedded', 'provider');
export type DubSourceKind = Infer<typeof dubSourceKindSchema>;

/** `*` (the whole floor: every speaker without an own interpreter for that language) or one speaker's peer id. */
export const ANY_SPEAKER = '*';
export const speakerRefSchema = str({ min: 1, max: 64, pattern: /^(\*|[A-Za-z0-9_.:-]+)$/ });

/** A human interpreter live in the room: `interpreterPeerId`'s audio is the dub of `speakerPeerId` (or `*`). */
export const interpreterInfoSchema = obj({ speakerPeerId: speakerRefSchema, interpreterPeerId: idSchema });
export type InterpreterInfo = Infer<typeof interpreterInfoSchema>;

/**
 * One dub language a room offers. `source` is what a speaker without an interpreter gets (`interpreter`: nothing
 * until one is assigned); `interpreters` lists the live interpreter assignments of this language, which win over
 * `source` for their speakers (speaker `*`: every speaker without an own interpreter).
 */
export const languageOfferSchema = obj({
  language: languageSchema,
  source: dubSourceKindSchema,
  interpreters: opt(arr(interpreterInfoSchema, { max: 64 })),
});
export type LanguageOffer = Infer<typeof languageOfferSchema>;

/** What a peer's join token lets it do beyond listening and speaking (absent fields: nothing). */
export const peerGrantsSchema = obj({
  /** Languages this peer may interpret into (itself, for any speaker or the floor). */
  interpret: opt(arr(languageSchema, { max: 32 })),
  /** Host / moderator: may start and stop interpreting for any peer, in any language the room offers. */
  host: opt(bool),
});
export type PeerGrants = Infer<typeof peerGrantsSchema>;

/** Health of one running dub pipeline (speaker, language), sent about once a second to its listeners. */
export const dubStatsSchema = obj({
  speakerPeerId: idSchema,
  language: languageSchema,
  /** Frames per second leaving the pipeline (dubbed video), over the last period. */
  fps: num({ min: 0, max: 1000 }),
  /** Media delay the pipeline adds (stage + dub timeline), in ms. */
  delayMs: num({ min: 0, max: 600_000 }),
  /** Face re-rendered (false: the speaker refused it, only the voice is dubbed). */
  faceRendering: bool,
  /** Dubbed speech segments produced so far. */
  segments: num({ integer: true, min: 0 }),
  /** For an interpreter's dub: the interpreter whose voice it is now (it changes when interpreters hand over). */
  interpreterPeerId: opt(idSchema),
  /** Frames the engine rendered / passed through unchanged (when the stage reports them). */
  framesOut: num({ integer: true, min: 0 }),
  /** Last sender report per output kind (wall-clock ms, RTP timestamp): lets a receiver measure its A/V offset. */
  senderReports: opt(
    obj({
      audio: opt(obj({ ntpMs: num(), rtpTimestamp: num({ integer: true, min: 0 }) })),
      video: opt(obj({ ntpMs: num(), rtpTimestamp: num({ integer: true, min: 0 }) })),
    }),
  ),
});
export type DubStats = Infer<typeof dubStatsSchema>;

export const peerInfoSchema = obj({
  peerId: idSchema,
  displayName: opt(str({ max: 64 })),
  producers: arr(producerInfoSchema, { max: 64 }),
});
export type PeerInfo = Infer<typeof peerInfoSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Requests: method -> request data schema. Response data types are in ResponseMap.

export const requestSchemas = {
  /** Must be the first request. The token is minted by the application server (HMAC, expiring). */
  join: obj({
    protocolVersion: num({ integer: true, min: 1, max: 1000 }),
    token: str({ min: 1, max: 2048 }),
    displayName: opt(str({ max: 64 })),
  }),
  getRouterRtpCapabilities: obj({}),
  createTransport: obj({ direction: literal('send', 'recv') }),
  connectTransport: obj({ transportId: idSchema, dtlsParameters: dtlsParametersSchema }),
  produce: obj({
    transportId: idSchema,
    kind: kindSchema,
    rtpParameters: rtpParametersSchema,
    /** Free-form, small: e.g. `{ source: 'camera' }`. */
    appData: opt(jsonObject<Record<string, unknown>>('AppData', { maxDepth: 2, maxKeys: 16 })),
  }),
  /** Consumers start paused; send `resume` once the local side is ready (mediasoup's recommended flow). */
  consume: obj({
    transportId: idSchema,
    producerId: idSchema,
    rtpCapabilities: rtpCapabilitiesSchema,
  }),
  resume: obj({ consumerId: idSchema }),
  pause: obj({ consumerId: idSchema }),
  closeConsumer: obj({ consumerId: idSchema }),
  closeProducer: obj({ producerId: idSchema }),
  /** Ask for a keyframe on a video consumer (e.g. after a decoder error). */
  requestKeyFrame: obj({ consumerId: idSchema }),
  /** Listener's choice of dub language for one speaker; null returns to the original speech. */
  setDubLanguage: obj({ speakerPeerId: idSchema, language: nullable(languageSchema) }),
  /**
   * The speaker's consent: `dub: false` refuses any dub of this peer; `faceRendering: false` allows the dubbed voice
   * but keeps the real face (no lip re-rendering). Default for a peer that never sends it: both allowed.
   */
  setDubConsent: obj({ dub: bool, faceRendering: bool }),
  /**
   * Start interpreting `speakerPeerId` (`*`: the floor) into `language`: from then on the interpreter's audio is the
   * dub listeners of that language get. `interpreterPeerId` defaults to the sender; naming another peer needs the
   * host grant, interpreting oneself needs `language` in the token's `interpret` grant. `takeOver: true` replaces
   * another interpreter holding that (speaker, language) (a booth relay; without it: `badState`): running dubs hand
   * over to the new interpreter without a gap.
   */
  startInterpreting: obj({
    speakerPeerId: speakerRefSchema,
    language: languageSchema,
    interpreterPeerId: opt(idSchema),
    takeOver: opt(bool),
  }),
  /** Ends an assignment: by its interpreter, or by a host. */
  stopInterpreting: obj({ speakerPeerId: speakerRefSchema, language: languageSchema }),
  leave: obj({}),
} as const;

export type RequestMethod = keyof typeof requestSchemas;
export type RequestData<M extends RequestMethod> = Infer<(typeof requestSchemas)[M]>;

export interface TransportInfo {
  transportId: string;
  iceParameters: IceParameters;
  iceCandidates: IceCandidate[];
  dtlsParameters: DtlsParameters;
  sctpParameters?: SctpParameters;
}

export interface ConsumerInfo {
  consumerId: string;
  producerId: string;
  peerId: string;
  kind: MediaKind;
  rtpParameters: RtpParameters;
  source: TrackSource;
  /** True: created paused, send `resume`. */
  paused: boolean;
}

export interface ResponseMap {
  join: {
    peerId: string;
    roomId: string;
    routerRtpCapabilities: RtpCapabilities;
    /** The other peers already in the room, with their producers. */
    peers: PeerInfo[];
    /** Dub languages this room offers (empty: none yet). */
    languages: string[];
    /** The same languages with their sources (absent: server without a dub manager). */
    languageOffers?: LanguageOffer[];
    /** What this peer's token grants (absent: nothing beyond listening and speaking). */
    grants?: PeerGrants;
  };
  getRouterRtpCapabilities: { rtpCapabilities: RtpCapabilities };
  createTransport: TransportInfo;
  connectTransport: Record<string, never>;
  produce: { producerId: string };
  consume: ConsumerInfo;
  resume: Record<string, never>;
  pause: Record<string, never>;
  closeConsumer: Record<string, never>;
  closeProducer: Record<string, never>;
  requestKeyFrame: Record<string, never>;
  setDubLanguage: {
    speakerPeerId: string;
    language: string | null;
    /** The dubbed producers to consume instead of the speaker's (empty when language is null). */
    producers?: ProducerInfo[];
    /** False when the speaker refused face re-rendering (only the voice is dubbed). */
    faceRendering?: boolean;
    source?: DubSourceKind;
  };
  setDubConsent: { dub: boolean; faceRendering: boolean };
  startInterpreting: { speakerPeerId: string; language: string; interpreterPeerId: string };
  /** The assignment that ended. */
  stopInterpreting: { speakerPeerId: string; language: string; interpreterPeerId: string };
  leave: Record<string, never>;
}

// ---------------------------------------------------------------------------------------------------------------
// Notifications (server -> client)

export const notificationSchemas = {
  peerJoined: obj({ peer: peerInfoSchema }),
  peerLeft: obj({ peerId: idSchema }),
  /** A producer became available (original or processed). */
  newProducer: obj({ producer: producerInfoSchema }),
  producerClosed: obj({ producerId: idSchema, peerId: idSchema }),
  consumerClosed: obj({ consumerId: idSchema, reason: str({ max: 64 }) }),
  /** The room's available dub languages or their sources changed (an interpreter started or stopped, left). */
  languages: obj({ languages: arr(languageSchema, { max: 64 }), offers: opt(arr(languageOfferSchema, { max: 64 })) }),
  /** Health of a dub pipeline this peer listens to. */
  dubStats: dubStatsSchema,
  /** A dub this peer listens to ended without being asked (speaker withdrew consent, left, pipeline failed). */
  dubEnded: obj({ speakerPeerId: idSchema, language: languageSchema, reason: str({ max: 256 }) }),
  /** The room is gone (worker died, server shutting down); the socket closes next. Rejoin with a fresh token. */
  roomClosed: obj({ reason: literal('workerDied', 'serverShutdown', 'closed') }),
} as const;

export type NotificationMethod = keyof typeof notificationSchemas;
export type NotificationData<M extends NotificationMethod> = Infer<(typeof notificationSchemas)[M]>;

// ---------------------------------------------------------------------------------------------------------------
// Envelopes

export const errorCodes = [
  /** Not JSON. */
  'badJson',
  /** JSON, but not a valid envelope or the data do not match the method's schema. */
  'badRequest',
  /** Over MAX_MESSAGE_BYTES. */
  'tooLarge',
  'unknownMethod',
  /** Valid message at the wrong time (before join, twice join, transport not connected...). */
  'badState',
  /** Bad token signature, token for another room... */
  'unauthorized',
  'tokenExpired',
  'versionMismatch',
  /** Unknown transport / producer / consumer / peer id. */
  'notFound',
  /** Valid but not offered (codec not supported, language not available). */
  'unsupported',
  'internal',
] as const;
export type ErrorCode = (typeof errorCodes)[number];

export interface RequestMessage<M extends RequestMethod = RequestMethod> {
  type: 'request';
  id: number;
  method: M;
  data: RequestData<M>;
}

export type ResponseMessage =
  | { type: 'response'; id: number; ok: true; data: unknown }
  | { type: 'response'; id: number | null; ok: false; error: { code: ErrorCode; message: string } };

export interface NotificationMessage<M extends NotificationMethod = NotificationMethod> {
  type: 'notification';
  method: M;
  data: NotificationData<M>;
}

export type ServerMessage = ResponseMessage | NotificationMessage;

/** A message that failed validation; `id` is the request id when it could be read, so the error can be answered. */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly id: number | null = null,
  ) {
    super(message);
  }
}

const requestIdSchema = num({ integer: true, min: 0, max: MAX_REQUEST_ID });

function utf8Length(text: string): number {
  // Upper bound without allocating: 3 bytes per UTF-16 unit covers every code point.
  if (text.length * 3 <= MAX_MESSAGE_BYTES) return text.length;
  return new TextEncoder().encode(text).length;
}

function parseJson(text: string): unknown {
  if (utf8Length(text) > MAX_MESSAGE_BYTES) {
    throw new ProtocolError('tooLarge', `message larger than ${MAX_MESSAGE_BYTES} bytes`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ProtocolError('badJson', 'message is not valid JSON');
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses and validates one client -> server frame. Throws ProtocolError (with the request id when readable). */
export function parseRequest(text: string): RequestMessage {
  const raw = parseJson(text);
  if (!isRecord(raw)) throw new ProtocolError('badRequest', 'message must be a JSON object');
  let id: number | null = null;
  try {
    id = requestIdSchema.check(raw.id, 'id');
  } catch (err) {
    throw new ProtocolError('badRequest', (err as Error).message);
  }
  if (raw.type !== 'request') throw new ProtocolError('badRequest', "type must be 'request'", id);
  for (const k of Object.keys(raw)) {
    if (k !== 'type' && k !== 'id' && k !== 'method' && k !== 'data') {
      throw new ProtocolError('badRequest', `unknown envelope field '${k}'`, id);
    }
  }
  const method = raw.method;
  if (typeof method !== 'string' || !Object.prototype.hasOwnProperty.call(requestSchemas, method)) {
    throw new ProtocolError('unknownMethod', `unknown method ${JSON.stringify(method)?.slice(0, 64)}`, id);
  }
  const schema = requestSchemas[method as RequestMethod] as Schema<unknown>;
  try {
    const data = schema.check(raw.data ?? {}, 'data');
    return { type: 'request', id, method: method as RequestMethod, data } as RequestMessage;
  } catch (err) {
    if (err instanceof SchemaError) throw new ProtocolError('badRequest', err.message, id);
    throw err;
  }
}

const errorSchema = obj({ code: literal(...errorCodes), message: str({ max: 1024 }) });

/**
 * Parses one server -> client frame. Notifications with a known method are validated; unknown ones are returned
 * as-is for the client to ignore (a newer server may add notifications within a protocol version).
 */
export function parseServerMessage(text: string): ServerMessage {
  const raw = parseJson(text);
  if (!isRecord(raw)) throw new ProtocolError('badRequest', 'message must be a JSON object');
  try {
    if (raw.type === 'response') {
      if (raw.ok === true) {
        return { type: 'response', id: requestIdSchema.check(raw.id, 'id'), ok: true, data: raw.data };
      }
      return {
        type: 'response',
        id: nullable(requestIdSchema).check(raw.id, 'id'),
        ok: false,
        error: errorSchema.check(raw.error, 'error'),
      };
    }
    if (raw.type === 'notification') {
      const method = str({ max: 64 }).check(raw.method, 'method');
      const schema = (notificationSchemas as Record<string, Schema<unknown>>)[method];
      const data = schema ? schema.check(raw.data, 'data') : raw.data;
      return { type: 'notification', method, data } as NotificationMessage;
    }
  } catch (err) {
    if (err instanceof SchemaError) throw new ProtocolError('badRequest', err.message);
    throw err;
  }
  throw new ProtocolError('badRequest', "type must be 'response' or 'notification'");
}

export function isKnownNotification(msg: NotificationMessage): boolean {
  return Object.prototype.hasOwnProperty.call(notificationSchemas, msg.method);
}

/** Validates a request's data before sending (clients catch their own mistakes locally). */
export function checkRequestData<M extends RequestMethod>(method: M, data: unknown): RequestData<M> {
  return (requestSchemas[method] as Schema<RequestData<M>>).check(data, 'data');
}
