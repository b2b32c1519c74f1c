/** Worker-thread side of {@link WorkerStage}: hosts one LipsyncEngine and relays its events. */
import '../../../polyfills.ts';
import { parentPort } from 'node:worker_threads';
import type { LipsyncEngine } from '../LipsyncEngine.ts';
import { createLipsyncEngine } from '../createStage.ts';
import type { FromWorker, ToWorker } from './protocol.ts';

const port = parentPort;
if (!port) throw new Error('engineWorker must run in a worker thread');
let engine: LipsyncEngine | null = null;
const post = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

port.on('message', (msg: ToWorker) => {
  try {
    switch (msg.type) {
      case 'init':
        engine = createLipsyncEngine({ ...msg.options, params: { ...msg.options.params, worker: false } });
        engine.on('video', (frame) => {
          const data = new Uint8Array(frame.data);
          post({ type: 'video', frame: { ...frame, data } }, [data.buffer]);
        });
        engine.on('audio', (frame) => post({ type: 'audio', frame }));
        engine.on('warning', (message) => post({ type: 'warning', message }));
        post({ type: 'ready', delayMs: engine.delayMs });
        break;
      case 'video': {
        if (!engine) break;
        // Every frame sent here holds one of WorkerStage's in-flight slots until it comes back; a frame the engine
        // drops on input (faster than its clock) never does, so say so (else the slots leak and video stops).
        const dropped = engine.counters.droppedInput;
        engine.pushVideo(msg.frame);
        if (engine.counters.droppedInput !== dropped) post({ type: 'videoDropped' });
        break;
      }
      case 'speakerAudio':
        engine?.pushSpeakerAudio(msg.frame);
        break;
      case 'driveAudio':
        engine?.pushDriveAudio(msg.frame);
        break;
      case 'phones':
        engine?.pushDrivePhones(msg.phones);
        break;
      case 'flush':
        void (engine?.flush() ?? Promise.resolve()).then(() => post({ type: 'flushed', id: msg.id }));
        break;
      case 'close': {
        // Wait for the inference in flight and the models' release, then let the thread end on its own (an empty
        // event loop): WorkerStage only terminates it if that takes too long.
        const closing = engine;
        engine = null;
        closing?.close();
        void (closing?.released ?? Promise.resolve()).finally(() => port.close());
        break;
      }
    }
  } catch (err) {
    post({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  }
});
