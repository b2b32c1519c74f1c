import type { AudioFrame } from '../media.ts';
import type { DubSegment, DubSource } from './types.ts';

/**
 * A dub source as a stream stage (livekit-agents style): speaker frames in, segments out. The source is started
 * here, flushed at the end of the input and closed when the output ends or is cancelled. Non-fatal errors go to
 * `onError` (default: ignored, the segment is skipped).
 */
export function dubStream(
  source: DubSource,
  input: ReadableStream<AudioFrame>,
  onError: (err: Error) => void = () => undefined,
): ReadableStream<DubSegment> {
  return new ReadableStream<DubSegment>({
    async start(controller) {
      source.on('segment', (seg) => controller.enqueue(seg));
      source.on('error', onError);
      await source.start();
      void (async () => {
        try {
          const reader = input.getReader();
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            source.pushAudio(value);
          }
          await source.flush();
          controller.close();
        } catch (err) {
          controller.error(err);
        } finally {
          source.close();
        }
      })();
    },
    cancel() {
      source.close();
    },
  });
}
