/**
 * A minimal typed event emitter for the io classes: listener maps as function types (the form of the pipeline
 * contracts `AvStageEvents`/`RtpProcessorEvents`), and `safeEmit`, which never lets a listener's exception escape into
 * the media path (it is reported to `onListenerError`, default console.error).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Listener = (...args: any[]) => void;

export class TypedEmitter<E extends { [K in keyof E]: Listener }> {
  private readonly listeners = new Map<keyof E, Set<Listener>>();
  onListenerError: (event: string, err: unknown) => void = (event, err) =>
    console.error(`[io] listener of '${event}' threw:`, err);

  on<K extends keyof E>(event: K, listener: E[K]): this {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return this;
  }

  off<K extends keyof E>(event: K, listener: E[K]): this {
    this.listeners.get(event)?.delete(listener);
    return this;
  }

  listenerCount(event: keyof E): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  protected safeEmit<K extends keyof E>(event: K, ...args: Parameters<E[K]>): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const l of set) {
      try {
        l(...args);
      } catch (err) {
        this.onListenerError(String(event), err);
      }
    }
  }

  protected removeAllListeners(): void {
    this.listeners.clear();
  }
}
