/**
 * One media clock per sender: the RTP timestamps of a sender's audio and video, which start at unrelated random
 * values and tick at different rates, mapped onto one timeline in microseconds (`timestampUs`).
 *
 * - With a sender report (SR) for a stream, its RTP timestamps map to the sender's wall clock (NTP), which audio and
 *   video share: that is what puts them in sync. The sender's wall clock is tied to ours once, by one offset per
 *   sender (our arrival time minus the sender's NTP time of the packet, at the first SR), so both streams move
 *   together and the timeline never depends on which packet happened to be late.
 * - Before a stream's first SR its timestamps map through the arrival time of its first packet (sync within the
 *   network jitter); when the SR comes the stream switches to the SR mapping (a one-time step, typically a few ms).
 *
 * The timeline's zero is the local arrival time of the first packet the clock saw.
 */
import { TimestampUnwrapper } from './rtpMath.ts';

interface StreamState {
  clockRate: number;
  unwrapper: TimestampUnwrapper;
  /** Arrival mapping: unwrapped RTP `rtp0` arrived at local `local0Ms`. */
  rtp0: number | null;
  local0Ms: number;
  /** Latest SR: unwrapped RTP `srRtp` is sender NTP `srNtpMs`. */
  srRtp: number | null;
  srNtpMs: number;
  /** Last packet seen (for the offset at the first SR). */
  lastRtp: number | null;
  lastArrivalMs: number;
}

export class SenderClock {
  private readonly streams = new Map<string, StreamState>();
  private originMs: number | null = null;
  /** local ms = sender NTP ms + offset; fixed at the first SR of any stream. */
  private ntpToLocalMs: number | null = null;

  /** Declares a stream (`audio`, `video`, or any key) and its RTP clock rate. */
  addStream(key: string, clockRate: number): void {
    this.streams.set(key, {
      clockRate,
      unwrapper: new TimestampUnwrapper(),
      rtp0: null,
      local0Ms: 0,
      srRtp: null,
      srNtpMs: 0,
      lastRtp: null,
      lastArrivalMs: 0,
    });
  }

  private state(key: string): StreamState {
    const s = this.streams.get(key);
    if (!s) throw new TypeError(`clock has no stream '${key}'`);
    return s;
  }

  /** Local time (ms) at the timeline's zero, or null before the first packet. */
  get originLocalMs(): number | null {
    return this.originMs;
  }

  /** Whether the stream is mapped through a sender report (else through arrival times). */
  hasSenderReport(key: string): boolean {
    return this.state(key).srRtp !== null && this.ntpToLocalMs !== null;
  }

  /** Maps a packet's RTP timestamp to the timeline; `arrivalMs` is the local time it arrived. */
  toTimestampUs(key: string, rtpTimestamp: number, arrivalMs: number): number {
    const s = this.state(key);
    const rtp = s.unwrapper.unwrap(rtpTimestamp);
    this.originMs ??= arrivalMs;
    if (s.rtp0 === null) {
      s.rtp0 = rtp;
      s.local0Ms = arrivalMs;
    }
    s.lastRtp = rtp;
    s.lastArrivalMs = arrivalMs;
    return this.mapUnwrapped(s, rtp);
  }

  /** Maps an RTP timestamp without recording an arrival (frames already seen). */
  peekTimestampUs(key: string, rtpTimestamp: number): number {
    const s = this.state(key);
    return this.mapUnwrapped(s, s.unwrapper.peek(rtpTimestamp));
  }

  private mapUnwrapped(s: StreamState, rtp: number): number {
    let localMs: number;
    if (s.srRtp !== null && this.ntpToLocalMs !== null) {
      localMs = s.srNtpMs + ((rtp - s.srRtp) * 1000) / s.clockRate + this.ntpToLocalMs;
    } else if (s.rtp0 !== null) {
      localMs = s.local0Ms + ((rtp - s.rtp0) * 1000) / s.clockRate;
    } else {
      return 0;
    }
    return (localMs - (this.originMs ?? localMs)) * 1000;
  }

  /** A sender report of the stream: RTP `rtpTimestamp` was sampled at the sender's wall clock `ntpTimeMs`. */
  onSenderReport(key: string, ntpTimeMs: number, rtpTimestamp: number): void {
    const s = this.state(key);
    s.srRtp = s.unwrapper.peek(rtpTimestamp);
    s.srNtpMs = ntpTimeMs;
    if (this.ntpToLocalMs === null && s.lastRtp !== null) {
      const ntpOfLast = ntpTimeMs + ((s.lastRtp - s.srRtp) * 1000) / s.clockRate;
      this.ntpToLocalMs = s.lastArrivalMs - ntpOfLast;
    }
  }

  /** The stream restarted with a new SSRC: its timestamps start over, its old SR no longer applies. */
  resetStream(key: string): void {
    const s = this.state(key);
    s.unwrapper.reset();
    s.rtp0 = null;
    s.srRtp = null;
    s.lastRtp = null;
  }
}
