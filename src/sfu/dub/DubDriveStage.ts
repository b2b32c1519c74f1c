/**
 * The AvStage of one dub pipeline: it wraps the face stage (the lip-sync engine, or the identity stage when the
 * speaker refused face re-rendering) and feeds it the drive audio from a dub source through a DubTimeline.
 *
 *   speaker audio (t) --> dub source --> segments --> DubTimeline (placed at source start + delayMs)
 *                    \                                        |
 *   speaker video (t) --> delay line (delayMs) --> inner stage <-- drive audio, 20 ms frames, output clock t + delayMs
 *
 * Everything reaches the inner stage on the output clock (input clock + delayMs), in step: when the speaker's audio
 * has reached input time T, the drive audio is pushed up to output time T and the frames captured at or before
 * T - delayMs are released, so the engine always has the drive audio of the frames it renders. A segment that is
 * ready later than its nominal place (translation slower than the delay) starts at once: lips and voice stay together,
 * only the translation lags (counted in `lateSegments`); a quiet segment that would start behind its place is
 * skipped, so a lag is caught up in pauses (`skippedQuietSegments`). The output timestamps are output-clock times plus the inner
 * stage's delay, so `delayMs` of this stage is the sum of both, which is what the transcoding processor's sender
 * reports use.
 */
import {
  TypedEmitter,
  type AudioFrame,
  type AvStage,
  type AvStageEvents,
  type PhoneAwareStage,
  type TimedPhone,
  type VideoFrame,
} from '../../pipeline/index.ts';
import { DubTimeline, segmentAt, type DubError, type DubSegment, type DubSource } from '../../pipeline/dub/index.ts';

const DRIVE_RATE = 48_000;
const DRIVE_FRAME_SAMPLES = 960; // 20 ms
/**
 * How far behind the newest video frame the clock runs when the speaker's audio is missing. Audio normally arrives
 * within a few tens of ms of the video of the same time; beyond this it counts as stopped. Below the transcoding
 * processor's output slack (800 ms in DubPipeline), so frames released this late still leave on schedule.
 */
const VIDEO_CLOCK_LAG_MS = 200;
/**
 * A segment this quiet (RMS, full scale 1) that would start behind its place is skipped: silence need not wait. An
 * interpreter's continuous 100 ms chunks follow each other without gaps, so a lag they inherit (the last words of a
 * translator they took over from, still playing) would otherwise last as long as the interpreter; this way it is
 * caught up in the interpreter's pauses. -40 dBFS: above a quiet room's noise, well below speech.
 */
const QUIET_RMS = 0.01;
/** Lag (ms) behind its place from which a quiet segment is skipped (below it: rounding of the interpreter's clock). */
const CATCH_UP_MIN_LAG_MS = 20;

export interface DubDriveStageOptions {
  /** The face stage (created with driveAudio: true). Closed with this stage. */
  inner: AvStage;
  /** Started dub source fed with the speaker's audio; closed with this stage (or when replaceSource swaps it out). */
  source: DubSource;
  /** Delay from the source speech to its dub, in ms; the video is delayed as much. Default 1500. */
  delayMs?: number;
  /** Most video frames held in the delay line (oldest dropped beyond). Default: delayMs at 30 fps + 30. */
  maxHeldFrames?: number;
}

interface Placed {
  startMs: number;
  pcm: Int16Array;
}

export class DubDriveStage extends TypedEmitter<AvStageEvents> implements AvStage {
  readonly name: string;
  readonly delayMs: number;
  readonly timelineDelayMs: number;
  readonly counters = {
    segments: 0,
    lateSegments: 0,
    /** Segments whose phoneme timings were passed to the face stage. */
    phonedSegments: 0,
    /** Video frames that advanced the clock because the speaker's audio had stopped (muted). */
    videoClockedFrames: 0,
    droppedFrames: 0,
    videoOut: 0,
    driveFrames: 0,
    /** Drive frames that carried speech (not silence). */
    speechFrames: 0,
    /** Sources replaced while running (replaceSource: an interpreter handing over, a translator and back). */
    sourceSwaps: 0,
    /** Quiet segments skipped because they would have started late (see QUIET_RMS), and their total length. */
    skippedQuietSegments: 0,
    skippedQuietMs: 0,
  };
  readonly #inner: AvStage;
  #source: DubSource;
  readonly #onSourceSegment = (seg: DubSegment): void => this.#onSegment(seg);
  readonly #onSourceError = (err: DubError): void =>
    this.safeEmit('warning', `dub source: ${err.code}: ${err.message}`);
  /**
   * After a replaceSource: the source start (speaker clock, ms) of the last segment placed before it. The new source's
   * clock mapping is its own (an interpreter feed anchors on its first frame), so its first segments may start a
   * little before that; they are moved up to it (the timeline then places them after the old source's words).
   */
  #handOverFloorMs = -Infinity;
  readonly #timeline: DubTimeline;
  readonly #maxHeld: number;
  readonly #heldVideo: VideoFrame[] = [];
  readonly #heldAudio: AudioFrame[] = [];
  readonly #queue: Placed[] = [];
  /** Output-clock time (ms) up to which drive audio has been pushed; null before the first speaker audio. */
  #cursorMs: number | null = null;
  /** Input-clock end (ms) of the newest speaker audio; null before any. */
  #audioEndMs: number | null = null;
  #closed = false;

  constructor({ inner, source, delayMs = 1500, maxHeldFrames }: DubDriveStageOptions) {
    super();
    this.#inner = inner;
    this.#source = source;
    this.timelineDelayMs = delayMs;
    this.delayMs = inner.delayMs + delayMs;
    this.name = `dub(${inner.name})`;
    this.#timeline = new DubTimeline({ delayMs });
    this.#maxHeld = maxHeldFrames ?? Math.ceil((delayMs / 1000) * 30) + 30;
    // Audio and video leave as the face stage emits them; the transcoding processor paces both onto one constant
    // lag behind their media time (paceOutputMs), which is what keeps a listener's A/V sync. Holding the audio
    // here until its video was out made audio arrive in bursts whenever rendering stalled, and Chromium's jitter
    // buffer then kept the dubbed audio ~1-1.7 s late (measured in test/e2e/dub.test.ts).
    inner.on('video', (f) => {
      this.counters.videoOut++;
      this.safeEmit('video', f);
    });
    // The face stage's 'audio' is not forwarded. The dubbed audio is the drive audio, shifted by the face stage's
    // delay (the AvStage contract of a stage created with driveAudio: true), and #pushDriveFrame emits it here, on
    // this thread: the engine runs in a worker whose event loop is busy for tens of ms per frame, and under CPU load
    // the relayed audio arrived in bursts, which made listeners' jitter buffers grow and their A/V sync swing by up
    // to a second.
    inner.on('warning', (m) => this.safeEmit('warning', m));
    this.#attach(source);
  }

  /** The face stage's own counters, where it keeps any (the worker stage: frames it refused or the engine dropped). */
  get faceStageCounters(): Readonly<Record<string, number>> | undefined {
    return (this.#inner as { counters?: Record<string, number> }).counters;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Placed segments the timeline still holds: those not yet entirely behind the drive cursor (bounded; the timeline
   * forgets the rest as the cursor advances, so a pipeline running for hours does not keep all it has dubbed).
   */
  get retainedSegments(): number {
    return this.#timeline.placed.length;
  }

  /** The source driving the stage now. */
  get source(): DubSource {
    return this.#source;
  }

  /**
   * Hands the drive over to another (started) source without a gap: what the old source still holds is flushed
   * (an interpreter source emits its last partial chunk at once; slower work, such as a translator's utterance still
   * being recognised or translated, is dropped), its listeners are detached
   * and it is closed; `next` drives from now on. The timeline, the queue of placed segments and the face stage go on:
   * words of the old source already placed still play out, the new source's segments are placed after them, and the
   * drive audio stays one contiguous 20 ms frame sequence. After close(), `next` is closed.
   */
  replaceSource(next: DubSource): void {
    if (this.#closed) {
      next.close();
      return;
    }
    const old = this.#source;
    if (next === old) return;
    try {
      old.flush().catch(() => {});
    } catch {
      // nothing left to flush
    }
    this.#detach(old);
    this.#handOverFloorMs = this.#timeline.last?.segment.sourceStartMs ?? -Infinity;
    this.#source = next;
    this.#attach(next);
    this.counters.sourceSwaps++;
    try {
      old.close();
    } catch (err) {
      this.safeEmit('warning', `closing the replaced dub source threw: ${String(err)}`);
    }
  }

  #attach(source: DubSource): void {
    source.on('segment', this.#onSourceSegment);
    source.on('error', this.#onSourceError);
  }

  #detach(source: DubSource): void {
    source.off('segment', this.#onSourceSegment);
    source.off('error', this.#onSourceError);
  }

  #onSegment(seg: DubSegment): void {
    if (this.#closed) return;
    if (seg.sourceStartMs < this.#handOverFloorMs) {
      const shift = this.#handOverFloorMs - seg.sourceStartMs;
      seg = {
        ...seg,
        sourceStartMs: seg.sourceStartMs + shift,
        sourceEndMs: seg.sourceEndMs + shift,
        ...(seg.speechEndMs !== undefined ? { speechEndMs: seg.speechEndMs + shift } : {}),
      };
    } else {
      this.#handOverFloorMs = -Infinity;
    }
    if (this.#skipsQuiet(seg)) return;
    const placed = this.#timeline.place(seg);
    const at48 = segmentAt(seg, DRIVE_RATE);
    const pcm = new Int16Array(at48.pcm.length);
    for (let i = 0; i < pcm.length; i++) pcm[i] = Math.max(-32768, Math.min(32767, Math.round(at48.pcm[i]! * 32767)));
    const prevEnd = this.#queue.at(-1);
    const prevEndMs = prevEnd ? prevEnd.startMs + (prevEnd.pcm.length / DRIVE_RATE) * 1000 : -Infinity;
    let startMs = Math.max(placed.outputStartMs, prevEndMs);
    if (this.#cursorMs !== null && startMs < this.#cursorMs) {
      this.counters.lateSegments++;
      startMs = this.#cursorMs;
    }
    this.counters.segments++;
    this.#queue.push({ startMs, pcm });
    // Synthetic speech comes with the exact phoneme timings of its PCM: the engine's generator uses them beside the
    // audio (see docs/engine.md, "Live path and phone timings"). Same clock as the drive audio pushed below.
    if (seg.phonemes?.length && 'pushDrivePhones' in this.#inner) {
      const phones: TimedPhone[] = seg.phonemes.map((p) => ({
        phone: p.kind === 'pause' ? '_' : p.phoneme,
        startUs: Math.round((startMs + p.startMs) * 1000),
        endUs: Math.round((startMs + p.endMs) * 1000),
      }));
      (this.#inner as AvStage & PhoneAwareStage).pushDrivePhones(phones);
      this.counters.phonedSegments++;
    }
  }

  /** Whether `seg` is quiet and would start later than its place (the timeline's or the queue's push-back, or late). */
  #skipsQuiet(seg: DubSegment): boolean {
    const nominalMs = seg.sourceStartMs + this.timelineDelayMs;
    const prev = this.#queue.at(-1);
    const startMs = Math.max(
      nominalMs,
      this.#timeline.endMs,
      prev ? prev.startMs + (prev.pcm.length / DRIVE_RATE) * 1000 : -Infinity,
      this.#cursorMs ?? -Infinity,
    );
    if (startMs - nominalMs < CATCH_UP_MIN_LAG_MS || seg.pcm.length === 0) return false;
    let sum = 0;
    for (const x of seg.pcm) sum += x * x;
    if (Math.sqrt(sum / seg.pcm.length) >= QUIET_RMS) return false;
    this.counters.skippedQuietSegments++;
    this.counters.skippedQuietMs += Math.round((seg.pcm.length / seg.sampleRate) * 1000);
    return true;
  }

  pushVideo(frame: VideoFrame): void {
    if (this.#closed) return;
    this.#heldVideo.push(frame);
    if (this.#heldVideo.length > this.#maxHeld) {
      this.#heldVideo.shift();
      this.counters.droppedFrames++;
    }
    // The speaker's audio is the clock. When it stops (the speaker muted: their audio producer is paused, no RTP)
    // while the camera goes on, the video's own time drives the clock, a little behind so that audio arriving late
    // in normal operation still leads: the dubbed view keeps moving (resting mouth) instead of freezing.
    const videoMs = frame.timestampUs / 1000 - VIDEO_CLOCK_LAG_MS;
    if (this.#audioEndMs === null || videoMs > this.#audioEndMs) {
      if (this.#cursorMs === null || videoMs >= this.#cursorMs + 20) this.counters.videoClockedFrames++;
      this.#pump(videoMs);
    } else {
      this.#pump(null);
    }
  }

  pushSpeakerAudio(frame: AudioFrame): void {
    if (this.#closed) return;
    try {
      this.#source.pushAudio(frame);
    } catch (err) {
      this.safeEmit('warning', `dub source rejected audio: ${String(err)}`);
    }
    this.#heldAudio.push(frame);
    this.#audioEndMs = (frame.timestampUs + (frame.samplesPerChannel / frame.sampleRate) * 1e6) / 1000;
    this.#pump(this.#audioEndMs);
  }

  /** Drive audio comes from the dub source; audio pushed here from elsewhere is ignored. */
  pushDriveAudio(_frame: AudioFrame): void {}

  /** Advances the output clock to the speaker's input time `nowMs` (null: only release what is due). */
  #pump(nowMs: number | null): void {
    if (nowMs !== null) {
      this.#cursorMs ??= nowMs;
      // Drive audio up to output time nowMs, in whole 20 ms frames.
      while (this.#cursorMs + 20 <= nowMs) {
        this.#pushDriveFrame(this.#cursorMs);
        this.#cursorMs += 20;
      }
    }
    if (this.#cursorMs === null) return;
    // The drive audio before the cursor is out (the queue holds its own copy of what is still to play): the timeline
    // only needs its last placed segment, which it keeps aside.
    this.#timeline.forgetBefore(this.#cursorMs);
    const dueUs = (this.#cursorMs - this.timelineDelayMs) * 1000;
    const shiftUs = this.timelineDelayMs * 1000;
    // Release in input order, audio and video interleaved by time, on the output clock.
    while (this.#heldAudio.length || this.#heldVideo.length) {
      const a = this.#heldAudio[0];
      const v = this.#heldVideo[0];
      const next = a && (!v || a.timestampUs <= v.timestampUs) ? a : v;
      if (!next || next.timestampUs > dueUs) break;
      if (next === a) {
        this.#heldAudio.shift();
        this.#inner.pushSpeakerAudio({ ...a, timestampUs: a.timestampUs + shiftUs });
      } else if (v) {
        this.#heldVideo.shift();
        this.#inner.pushVideo({ ...v, timestampUs: v.timestampUs + shiftUs });
      }
    }
  }

  #pushDriveFrame(startMs: number): void {
    const data = new Int16Array(DRIVE_FRAME_SAMPLES);
    const endMs = startMs + 20;
    let speech = false;
    while (this.#queue.length) {
      const seg = this.#queue[0]!;
      const segEndMs = seg.startMs + (seg.pcm.length / DRIVE_RATE) * 1000;
      if (segEndMs <= startMs) {
        this.#queue.shift();
        continue;
      }
      if (seg.startMs >= endMs) break;
      // Copy the overlap of [seg.startMs, segEndMs) and [startMs, endMs).
      const from = Math.max(0, Math.round(((seg.startMs - startMs) / 1000) * DRIVE_RATE));
      const segFrom = Math.max(0, Math.round(((startMs - seg.startMs) / 1000) * DRIVE_RATE));
      const n = Math.min(DRIVE_FRAME_SAMPLES - from, seg.pcm.length - segFrom);
      if (n > 0) {
        data.set(seg.pcm.subarray(segFrom, segFrom + n), from);
        speech = true;
      }
      if (segEndMs > endMs) break;
      this.#queue.shift();
    }
    this.counters.driveFrames++;
    if (speech) this.counters.speechFrames++;
    const frame: AudioFrame = {
      data,
      sampleRate: DRIVE_RATE,
      channels: 1,
      samplesPerChannel: DRIVE_FRAME_SAMPLES,
      timestampUs: startMs * 1000,
    };
    this.#inner.pushDriveAudio(frame);
    this.safeEmit('audio', { ...frame, timestampUs: frame.timestampUs + this.#inner.delayMs * 1000 });
  }

  async flush(): Promise<void> {
    await this.#source.flush().catch(() => {});
    const lastUs = Math.max(this.#heldAudio.at(-1)?.timestampUs ?? 0, this.#heldVideo.at(-1)?.timestampUs ?? 0);
    if (this.#cursorMs !== null) this.#pump(lastUs / 1000 + this.timelineDelayMs + 20);
    await this.#inner.flush();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#heldVideo.length = 0;
    this.#heldAudio.length = 0;
    this.#queue.length = 0;
    try {
      this.#source.close();
    } finally {
      this.#inner.close();
      this.removeAllListeners();
    }
  }
}
