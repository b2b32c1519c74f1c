/**
 * Resamples a video of any (even variable) frame rate onto a fixed output clock: for each output tick
 * t_k = startUs + k / fps, the input frame nearest in time. Input frames arrive in presentation order; a tick is
 * decided once the next input frame shows which neighbour is nearer. Pure: `processInput` / `flush`.
 */
import type { VideoFrame } from '../media.ts';

export class FrameRateConverter {
  private prev: VideoFrame | null = null;
  private prevUsed = false;
  private lastIntervalUs = 0;
  private k = 0;
  /** Input frames never shown (two inputs between ticks) and ticks that repeated a frame. */
  skipped = 0;
  repeated = 0;

  constructor(
    readonly fps = 25,
    readonly startUs = 0,
  ) {}

  private tickUs(k: number): number {
    return this.startUs + (k * 1e6) / this.fps;
  }

  private emit(out: VideoFrame[], f: VideoFrame): void {
    const timestampUs = Math.round(this.tickUs(this.k++));
    // A repeated frame gets its own copy: stages may keep or modify the frames they are given.
    const data = this.prevUsed ? f.data.slice() : f.data;
    if (this.prevUsed) this.repeated++;
    this.prevUsed = true;
    out.push({ ...f, data, timestampUs });
  }

  processInput(frame: VideoFrame): VideoFrame[] {
    const out: VideoFrame[] = [];
    const p = this.prev;
    if (p && frame.timestampUs <= p.timestampUs) return out; // not in presentation order: ignore
    if (p) {
      const mid = (p.timestampUs + frame.timestampUs) / 2;
      while (this.tickUs(this.k) < mid) this.emit(out, p);
      if (!this.prevUsed) this.skipped++;
      this.lastIntervalUs = frame.timestampUs - p.timestampUs;
    }
    this.prev = frame;
    this.prevUsed = false;
    return out;
  }

  /**
   * Emits the last frame on every tick before `endUs` (default: last frame + its predecessor's interval, i.e. the
   * end of the video's last frame).
   */
  flush(endUs?: number): VideoFrame[] {
    const out: VideoFrame[] = [];
    const p = this.prev;
    if (!p) return out;
    const end = endUs ?? p.timestampUs + (this.lastIntervalUs || 1e6 / this.fps);
    while (this.tickUs(this.k) < end - 1) this.emit(out, p);
    this.prev = null;
    return out;
  }

  /** Output frames so far. */
  get ticks(): number {
    return this.k;
  }
}
