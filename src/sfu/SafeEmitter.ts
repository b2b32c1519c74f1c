/**
 * Typed event emitter in mediasoup's style (events as tuple maps) whose `safeEmit` never throws: a listener's
 * exception is logged and the other listeners still run, so a buggy application callback cannot tear down the media
 * path or the signalling loop. Dispatch allocates nothing beyond the argument list.
 */
import { createLogger } from './logger.ts';

const logger = createLogger('SafeEmitter');

export type EventMap = Record<string, unknown[]>;
type Listener<A extends unknown[]> = (...args: A) => void;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyListener = (...args: any[]) => void;

export class SafeEmitter<E extends EventMap> {
  readonly #listeners = new Map<keyof E, AnyListener[]>();

  on<K extends keyof E>(event: K, listener: Listener<E[K]>): this {
    const list = this.#listeners.get(event);
    if (list) list.push(listener as AnyListener);
    else this.#listeners.set(event, [listener as AnyListener]);
    return this;
  }

  once<K extends keyof E>(event: K, listener: Listener<E[K]>): this {
    const wrapper = (...args: E[K]): void => {
      this.off(event, wrapper);
      listener(...args);
    };
    return this.on(event, wrapper);
  }

  off<K extends keyof E>(event: K, listener: Listener<E[K]>): this {
    const list = this.#listeners.get(event);
    if (!list) return this;
    const i = list.indexOf(listener as AnyListener);
    // Copy-on-write so a listener removing itself during dispatch does not skip its neighbour.
    if (i >= 0)
      this.#listeners.set(
        event,
        list.filter((_, j) => j !== i),
      );
    return this;
  }

  removeAllListeners(event?: keyof E): this {
    if (event === undefined) this.#listeners.clear();
    else this.#listeners.delete(event);
    return this;
  }

  listenerCount(event: keyof E): number {
    return this.#listeners.get(event)?.length ?? 0;
  }

  /** Calls every listener; returns whether there was one. Listener exceptions are logged, never rethrown. */
  safeEmit<K extends keyof E>(event: K, ...args: E[K]): boolean {
    const list = this.#listeners.get(event);
    if (!list || list.length === 0) return false;
    for (let i = 0; i < list.length; i++) {
      try {
        (list[i] as AnyListener)(...args);
      } catch (err) {
        logger.error(
          `listener of '${String(event)}' threw: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
        );
      }
    }
    return true;
  }
}
