/**
 * A request that cannot be served, with the protocol error code the client gets. Anything else thrown by a handler is
 * mapped by `toSignalError` (mediasoup's TypeError means bad client input, not a server fault).
 */
import type { ErrorCode } from '../protocol/index.ts';
import { ProtocolError } from '../protocol/index.ts';

export class SignalError extends Error {
  override name = 'SignalError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function toSignalError(err: unknown): SignalError {
  if (err instanceof SignalError) return err;
  if (err instanceof ProtocolError) return new SignalError(err.code, err.message);
  if (err instanceof Error) {
    // mediasoup throws TypeError for invalid parameters, UnsupportedError for codecs it cannot route.
    if (err.name === 'TypeError') return new SignalError('badRequest', err.message);
    if (err.name === 'UnsupportedError') return new SignalError('unsupported', err.message);
    if (err.name === 'InvalidStateError') return new SignalError('badState', err.message);
    return new SignalError('internal', err.message);
  }
  return new SignalError('internal', String(err));
}
