import { EventEmitter } from 'node:events';
import createDebug from './debug.ts';

const debug = createDebug('events');

/**
 * An EventEmitter typed by a tuple map whose `safeEmit` never lets a listener's exception escape into the media
 * path (it is logged instead).
 */
export class TypedEmitter<M extends { [K in keyof M]: unknown[] }> extends EventEmitter {
  safeEmit<E extends keyof M & string>(event: E, ...args: M[E]): boolean {
    try {
      if (event === 'error' && this.listenerCount('error') === 0) return false; // an unheard error must not throw
      return super.emit(event, ...args);
    } catch (err) {
      debug(`listener of '${event}' threw: ${err instanceof Error ? err.message : String(err)}`);
      return true;
    }
  }
  override on<E extends keyof M & string>(event: E, listener: (...args: M[E]) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }
  override off<E extends keyof M & string>(event: E, listener: (...args: M[E]) => void): this {
    return super.off(event, listener as (...args: unknown[]) => void);
  }
  override once<E extends keyof M & string>(event: E, listener: (...args: M[E]) => void): this {
    return super.once(event, listener as (...args: unknown[]) => void);
  }
}
