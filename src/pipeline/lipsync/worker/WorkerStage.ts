/**
 * The lip-sync engine behind a worker thread: an AvStage whose push* calls only post messages (frame buffers are
 * copied once and transferred), so tracking, generation and rendering never block the event loop that serves the SFU.
 * At most `maxInFlightFrames` video frames wait in the worker; beyond that a new frame is dropped and counted (never
 * an unbounded queue, never out-of-order output); audio is never dropped.
 */
import { EventEmitter } from 'node:events';
import type { Worker } from 'node:worker_threads';
import type { AvStage, AvStageEvents } from '../../avStage.ts';
import type { AudioFrame, VideoFrame } from '../../media.ts';
import type { AvStageOptions } from '../../stages.ts';
import { endWorker, startTsWorker } from '../../workerThread.ts';
import type { PhoneAwareStage, TimedPhone } from '../types.ts';
import type { FromWorker, ToWorker } from './protocol.ts';

export class WorkerStage extends EventEmitter implements AvStage, PhoneAwareStage {
  readonly name = 'lipsync';
  private worker: Worker;
  private closed = false;
  private nextFlush = 1;
  private readonly flushes = new Map<number, () => void>();
  private inFlight = 0;
  /** `dropped`: frames refused here (worker too far behind); `droppedByEngine`: taken in by the engine, no output. */
  readonly counters = { dropped: 0, droppedByEngine: 0 };

  private constructor(
    readonly delayMs: number,
    worker: Worker,
    private readonly maxInFlightFrames: number,
  ) {
    super();
    this.worker = worker;
    worker.on('message', (m: FromWorker) => this.onMessage(m));
    worker.on('error', (err) => this.emitSafe('warning', `engine worker error: ${err.message}`));
  }

  static async start(opts: AvStageOptions, maxInFlightFrames = 25): Promise<WorkerStage> {
    const worker = startTsWorker(new URL('./engineWorker.ts', import.meta.url), 'lipsync-engine');
    const delayMs = await new Promise<number>((resolve, reject) => {
      const onMsg = (m: FromWorker) => {
        if (m.type === 'ready') {
          worker.off('message', onMsg);
          resolve(m.delayMs);
        } else if (m.type === 'error') reject(new Error(m.message));
      };
      worker.on('message', onMsg);
      worker.once('error', reject);
      worker.postMessage({ type: 'init', options: opts } satisfies ToWorker);
    });
    return new WorkerStage(delayMs, worker, maxInFlightFrames);
  }

  override on<E extends keyof AvStageEvents>(event: E, listener: AvStageEvents[E]): this {
    return super.on(event, listener);
  }

  override off<E extends keyof AvStageEvents>(event: E, listener: AvStageEvents[E]): this {
    return super.off(event, listener);
  }

  private emitSafe<E extends keyof AvStageEvents>(event: E, ...args: Parameters<AvStageEvents[E]>): void {
    try {
      this.emit(event, ...args);
    } catch {
      // a listener's exception must not tear down the media path
    }
  }

  private onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'video':
        this.inFlight = Math.max(0, this.inFlight - 1);
        this.emitSafe('video', m.frame);
        break;
      case 'videoDropped':
        this.inFlight = Math.max(0, this.inFlight - 1);
        this.counters.droppedByEngine++;
        break;
      case 'audio':
        this.emitSafe('audio', m.frame);
        break;
      case 'warning':
        this.emitSafe('warning', m.message);
        break;
      case 'error':
        this.emitSafe('warning', `engine worker: ${m.message}`);
        break;
      case 'flushed':
        this.flushes.get(m.id)?.();
        this.flushes.delete(m.id);
        break;
      case 'ready':
        break;
    }
  }

  private post(m: ToWorker, transfer: ArrayBuffer[] = []): void {
    if (!this.closed) this.worker.postMessage(m, transfer);
  }

  pushVideo(frame: VideoFrame): void {
    if (this.closed) return;
    if (this.inFlight >= this.maxInFlightFrames) {
      // Bounded: a worker this far behind drops the newest frame (counted); output order is never broken.
      this.counters.dropped++;
      if (this.counters.dropped % 25 === 1) this.emitSafe('warning', 'engine worker behind: video frame dropped');
      return;
    }
    this.inFlight++;
    const data = new Uint8Array(frame.data);
    this.post({ type: 'video', frame: { ...frame, data } }, [data.buffer]);
  }

  pushSpeakerAudio(frame: AudioFrame): void {
    this.post({ type: 'speakerAudio', frame: { ...frame, data: new Int16Array(frame.data) } });
  }

  pushDriveAudio(frame: AudioFrame): void {
    this.post({ type: 'driveAudio', frame: { ...frame, data: new Int16Array(frame.data) } });
  }

  pushDrivePhones(phones: readonly TimedPhone[]): void {
    this.post({ type: 'phones', phones: [...phones] });
  }

  flush(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const id = this.nextFlush++;
    return new Promise<void>((resolve) => {
      this.flushes.set(id, resolve);
      this.post({ type: 'flush', id });
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const f of this.flushes.values()) f();
    this.flushes.clear();
    // The worker ends itself once its engine has released the models (see engineWorker's 'close').
    void endWorker(this.worker, { type: 'close' } satisfies ToWorker);
    this.removeAllListeners();
  }
}
