/** The io area's public face: codecs, files, RTP, clock, queues, sinks. */
export * from './codecs.ts';
export * from './mediaFile.ts';
export { TypedEmitter } from './emitter.ts';
