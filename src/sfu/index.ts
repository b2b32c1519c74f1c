/**
 * The SFU: rooms, peers, signalling, tokens, worker pool, and the tap that runs each speaker's media through a
 * processing stage. See docs/sfu.md.
 */
export { LipsyncServer, type LipsyncServerOptions } from './LipsyncServer.ts';
export { WorkerPool, type WorkerPoolOptions, type WorkerPoolEvents } from './WorkerPool.ts';
export { Room, type RoomOptions, type RoomEvents, type RoomProducer, type RoomCloseReason } from './Room.ts';
export { Peer } from './Peer.ts';
export { SpeakerTap, type SpeakerTapOptions, type SpeakerTapEvents, type ProcessedProducer } from './SpeakerTap.ts';
export { IdentityProcessor, identityProcessorFactory } from './IdentityProcessor.ts';
export { mintToken, verifyToken, type TokenClaims, type MintTokenOptions } from './tokens.ts';
export { SignalError } from './errors.ts';
export { closeCodes } from './Connection.ts';
export { defaultMediaCodecs, type TransportSettings } from './config.ts';
export { SafeEmitter } from './SafeEmitter.ts';
