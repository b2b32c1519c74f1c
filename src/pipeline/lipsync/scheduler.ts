/**
 * The sliding-window schedule of the two stages and the latency it implies.
 *
 * Landmarks are generated over windows of T frames; rendering frame t needs the landmarks of t-k .. t+k; the
 * landmarks of a frame need the drive audio of its mel chunk. With `hop: 'sliding'` a window is centred on each frame
 * (the frame takes the window's centre result: T/2 frames of lookahead); with `hop: 'block'` windows are
 * consecutive blocks of T (IP_LAP's offline inference: up to T-1 frames of lookahead). The lookahead is configuration;
 * {@link algorithmicLatency} turns it into the constant delay that every output frame and the audio get.
 */
import { MEL_CHUNK_FRAMES } from '../audio/mel.ts';

export interface ScheduleConfig {
  /** T. */
  windowFrames: number;
  /** k. */
  contextFrames: number;
  hop: 'sliding' | 'block';
  /** Mel frames added to int(80 i / 25) (negative: less lookahead). */
  melOffsetFrames: number;
  fps: number;
}

export interface LatencyBreakdown {
  /** Audio past a frame's start that its mel chunk needs, ms. */
  audioLookaheadMs: number;
  /** Frames after t whose landmarks (windows) rendering t waits for. */
  lookaheadFrames: number;
  /** Total algorithmic latency: lookaheadFrames frames + the audio lookahead of the last one, ms. */
  totalMs: number;
}

/** Frames after g that the window producing g's landmarks reaches (sliding: T/2; block: up to T-1). */
export function windowLookaheadFrames(c: Pick<ScheduleConfig, 'windowFrames' | 'hop'>): number {
  return c.hop === 'sliding' ? c.windowFrames >> 1 : c.windowFrames - 1;
}

export function algorithmicLatency(c: ScheduleConfig): LatencyBreakdown {
  // Chunk of frame i: mel frames [floor(80 i / fps) + off, +16); mel frame m needs samples up to 200 m + 400 (25 ms
  // past its centre at 12.5 m ms).
  const audioLookaheadMs = Math.max(0, (c.melOffsetFrames + MEL_CHUNK_FRAMES - 1) * 12.5 + 25);
  const lookaheadFrames = c.contextFrames + windowLookaheadFrames(c);
  return { audioLookaheadMs, lookaheadFrames, totalMs: (lookaheadFrames * 1000) / c.fps + audioLookaheadMs };
}

/** The frames of the window that produces frame g's landmarks, clipped to [0, last]. */
export function windowFor(g: number, c: Pick<ScheduleConfig, 'windowFrames' | 'hop'>, last: number): number[] {
  let start: number;
  if (c.hop === 'sliding') start = g - (c.windowFrames >> 1);
  else start = Math.floor(g / c.windowFrames) * c.windowFrames;
  const out: number[] = [];
  for (let f = start; f < start + c.windowFrames; f++) if (f >= 0 && f <= last) out.push(f);
  return out;
}
