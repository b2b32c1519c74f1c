/**
 * Signalling protocol shared by the SFU and the client SDKs (browser and Node): message types and validators only.
 * See docs/protocol.md.
 */
export * from './messages.ts';
export { SchemaError, type Infer, type Schema } from './schema.ts';
