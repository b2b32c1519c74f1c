/**
 * A small typed event emitter that runs in browsers and Node alike (no `events` import). Events are typed as tuple
 * maps, as in mediasoup (`{ track: [RemoteTrack] }`); a listener that throws is reported and never breaks the emitter
 * or the other listeners (mediasoup's `safeEmit`).
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyListener = (...args: any[]) => void;

export class Emitter<E extends Record<string, unknown[]>> {
  readonly #listeners = new Map<keyof E, AnyListener[]>();

  on<K extends keyof E>(event: K, listener: (...args: E[K]) => void): this {
    const list = this.#listeners.get(event) ?? [];
    list.push(listener as AnyListener);
    this.#listeners.set(event, list);
    return this;
  }

  once<K extends keyof E>(event: K, listener: (...args: E[K]) => void): this {
    const wrapper = (...args: E[K]) => {
      this.off(event, wrapper);
      listener(...args);
    };
    return this.on(event, wrapper);
  }

  off<K extends keyof E>(event: K, listener: (...args: E[K]) => void): this {
    const list = this.#listeners.get(event);
    if (list) {
      this.#listeners.set(
        event,
        list.filter((l) => l !== (listener as AnyListener)),
      );
    }
    return this;
  }

  listenerCount(event: keyof E): number {
    return this.#listeners.get(event)?.length ?? 0;
  }

  protected safeEmit<K extends keyof E>(event: K, ...args: E[K]): void {
    for (const l of [...(this.#listeners.get(event) ?? [])]) {
      try {
        l(...args);
      } catch (err) {
        console.error(`lipsync client: listener of '${String(event)}' threw:`, err);
      }
    }
  }

  protected removeAllListeners(): void {
    this.#listeners.clear();
  }
}
