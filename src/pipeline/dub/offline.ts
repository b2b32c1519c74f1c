/**
 * Runs a dub source over a whole recording (the `lipsync translate` command and the bench use it): pushes the file
 * in 20 ms AudioFrames, either as fast as the source takes them or paced in real time, collects the segments and
 * places them on a DubTimeline.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { floatToInt16Array } from '../audio/wav.ts';
import { DubTimeline, trimSegmentPauses, type DubTimelineOptions, type PlacedSegment } from './DubTimeline.ts';
import type { DubError, DubSegment, DubSource } from './types.ts';

export interface OfflineDubOptions {
  /** Push audio at the speed of speech (latency figures then mean what they say). Default false. */
  realtime?: boolean;
  /** Trim synthesised leading/trailing pauses before placing (see trimSegmentPauses). Default true. */
  trimPauses?: boolean;
  timeline?: DubTimelineOptions;
  frameMs?: number;
  onError?: (err: DubError) => void;
}

export interface OfflineDubResult {
  segments: DubSegment[];
  placed: readonly PlacedSegment[];
  timeline: DubTimeline;
  /** Wall time from the first push to the end of flush(). */
  wallMs: number;
  inputMs: number;
  errors: DubError[];
}

export async function dubRecording(
  source: DubSource,
  mono: Float32Array,
  sampleRate: number,
  options: OfflineDubOptions = {},
): Promise<OfflineDubResult> {
  const { realtime = false, trimPauses = true, frameMs = 20 } = options;
  // The whole recording's timeline is kept (never forgetBefore): callers render it and list its placed segments.
  const timeline = new DubTimeline(options.timeline);
  const segments: DubSegment[] = [];
  const errors: DubError[] = [];
  source.on('segment', (seg) => {
    const s = trimPauses ? trimSegmentPauses(seg) : seg;
    segments.push(s);
    timeline.place(s);
  });
  source.on('error', (err) => {
    errors.push(err);
    options.onError?.(err);
  });
  await source.start();
  const step = Math.max(1, Math.round((sampleRate * frameMs) / 1000));
  const t0 = performance.now();
  for (let i = 0; i < mono.length; i += step) {
    const data = floatToInt16Array(mono.subarray(i, Math.min(mono.length, i + step)));
    source.pushAudio({
      data,
      sampleRate,
      channels: 1,
      samplesPerChannel: data.length,
      timestampUs: (i / sampleRate) * 1e6,
    });
    if (realtime) {
      const due = t0 + ((i + step) / sampleRate) * 1000;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
    } else if ((i / step) % 50 === 49) {
      await sleep(0); // let the VAD and the tools' pipes make progress
    }
  }
  await source.flush();
  return {
    segments,
    placed: timeline.placed,
    timeline,
    wallMs: performance.now() - t0,
    inputMs: (mono.length / sampleRate) * 1000,
    errors,
  };
}
