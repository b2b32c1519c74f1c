/** The io area's public face: codecs, files, RTP, clock, queues, sinks. */
export * from './codecs.ts';
export * from './mediaFile.ts';
export { TypedEmitter } from './emitter.ts';
export * from './rtpMath.ts';
export * from './rtpPacket.ts';
export * from './rtcp.ts';
export * from './payload.ts';
export { Vp8PayloadFormat } from './vp8.ts';
export { H264PayloadFormat, splitAnnexB } from './h264.ts';
export { OpusPayloadFormat } from './opus.ts';
export * from './jitterBuffer.ts';
export * from './depacketizer.ts';
export * from './rtpSender.ts';
export * from './clock.ts';
export * from './queue.ts';
export * from './TranscodingProcessor.ts';
