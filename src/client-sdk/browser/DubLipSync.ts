/**
 * Fine lip sync of dubbed views in the browser.
 *
 * The browser's own A/V sync (WebRTC's stream synchronization) aligns a dubbed audio and video track from the SFU's
 * sender reports, but it stops adjusting once its own estimate is within a 30 ms dead band, and it converges from one
 * side, so the offset it leaves sits near the edge of that band. The dub pipeline also sends its own sender-report
 * pairs in `dubStats` (the mapping of each stream's RTP timestamps to the pipeline's wall clock), which lets the
 * listener measure what it plays: for each track the RTP timestamp of the last sample or frame handed to playout
 * (RTCRtpReceiver.getSynchronizationSources) is mapped to pipeline time; the audio is heard the output device's
 * playout delay later (RTCAudioPlayoutStats). `heard offset = audio time heard now - video time shown now`
 * (positive: the voice is ahead of the lips).
 *
 * `DubLipSync` reads that offset twice a second for every dubbed view, and when it is steady (12 readings within
 * 30 ms of each other, first and last within 15 ms) and its median is between 15 and 80 ms, it delays the stream
 * that is ahead by that median through the receiver's `jitterBufferTarget`, at most 120 ms above what the browser
 * chose. Larger offsets are transients (a stall upstream, the browser's sync still walking) and are left alone. A
 * view that changes (back to the original, another language) starts over with the browser's own targets.
 */
import type { DubStats } from '../../protocol/index.ts';
import type { LipsyncClient } from './index.ts';

type SenderReport = { ntpMs: number; rtpTimestamp: number };
/** jitterBufferTarget is in Chromium and Firefox; older TypeScript DOM typings miss it. */
type Receiver = RTCRtpReceiver & { jitterBufferTarget?: number | null };

export interface DubLipSyncOptions {
  /** Period of the readings, in ms. Default 500. */
  intervalMs?: number;
  /** Readings a decision is made on. Default 12 (6 s). */
  readings?: number;
  /** Readings further apart than this mean the offset still moves: no decision. Default 30 ms. */
  steadyRangeMs?: number;
  /** Offsets within this are left alone. Default 15 ms. */
  deadBandMs?: number;
  /**
   * Offsets beyond this are left to the browser's own sync (they are transients: a stall, a resync in progress;
   * trimming them would fight it). Default 80 ms.
   */
  maxTrimMs?: number;
  /** Most delay added to a stream, in ms. Default 120. */
  maxAddedMs?: number;
}

export interface AvOffsetReading {
  /** Audio handed to playout minus video shown, in ms on the pipeline's clock. */
  offsetMs: number;
  /** The output device's playout delay of the audio, in ms (0 where the browser does not report it). */
  devicePlayoutDelayMs: number;
  /** What is heard against what is seen: offsetMs - devicePlayoutDelayMs. */
  heardOffsetMs: number;
}

/**
 * What the latest window of readings concluded: `measuring` (fewer readings than a window since the view started or
 * the last trim), `moving` (not steady: left to the browser), `inSync` (steady, within the dead band), `trimmed` (steady
 * and off: a trim was just applied, a new window starts), `beyondReach` (steady but larger than maxTrimMs: left to the
 * browser).
 */
export type DubLipSyncStatus = 'measuring' | 'moving' | 'inSync' | 'trimmed' | 'beyondReach';

export interface DubLipSyncState {
  /** Delay added on top of the browser's own jitter-buffer targets, in ms. */
  addedMs: { audio: number; video: number };
  adjustments: number;
  status: DubLipSyncStatus;
  /** Median heard offset of the latest steady window (ms), null before one. */
  steadyMedianMs: number | null;
}

interface ViewState {
  audioConsumerId: string;
  videoConsumerId: string;
  readings: number[];
  /** Delay this object added on top of the browser's own target (ms), per kind. */
  added: { audio: number; video: number };
  adjustments: number;
  status: DubLipSyncStatus;
  steadyMedianMs: number | null;
}

export class DubLipSync {
  readonly #client: LipsyncClient;
  readonly #o: Required<DubLipSyncOptions>;
  readonly #reports = new Map<string, { audio?: SenderReport; video?: SenderReport }>();
  readonly #views = new Map<string, ViewState>();
  readonly #targets = new Map<string, { sum: number; n: number; recentMs: number | null }>();
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #onStats = (s: DubStats) => {
    if (s.senderReports) this.#reports.set(s.speakerPeerId, { ...s.senderReports });
  };
  #busy = false;

  constructor(client: LipsyncClient, options: DubLipSyncOptions = {}) {
    this.#client = client;
    this.#o = {
      intervalMs: options.intervalMs ?? 500,
      readings: options.readings ?? 12,
      steadyRangeMs: options.steadyRangeMs ?? 30,
      deadBandMs: options.deadBandMs ?? 15,
      maxTrimMs: options.maxTrimMs ?? 80,
      maxAddedMs: options.maxAddedMs ?? 120,
    };
    client.on('dubstats', this.#onStats);
    this.#timer = setInterval(() => void this.#tick(), this.#o.intervalMs);
  }

  /** The current state for a speaker's dubbed view (for health displays and tests). */
  stateOf(speakerPeerId: string): DubLipSyncState | undefined {
    const v = this.#views.get(speakerPeerId);
    return v
      ? { addedMs: { ...v.added }, adjustments: v.adjustments, status: v.status, steadyMedianMs: v.steadyMedianMs }
      : undefined;
  }

  /** One reading of a dubbed view's offset; null when the view is not dubbed or not playing yet. */
  async measure(speakerPeerId: string): Promise<AvOffsetReading | null> {
    const view = this.#client.viewOf(speakerPeerId);
    const srs = this.#reports.get(speakerPeerId);
    if (view.language === null || !view.audio || !view.video || !srs?.audio || !srs.video) return null;
    const audio = this.#client.consumerOf(view.audio.consumerId);
    const video = this.#client.consumerOf(view.video.consumerId);
    if (!audio?.rtpReceiver || !video?.rtpReceiver) return null;
    const now = performance.timeOrigin + performance.now();
    const a = timeShown(audio.rtpReceiver, srs.audio, 48_000, now);
    const v = timeShown(video.rtpReceiver, srs.video, 90_000, now);
    if (a === null || v === null) return null;
    // One stats read per receiver and reading: the audio device's delay, and both jitter-buffer targets (the base
    // a later adjustment builds on).
    const [audioStats, videoStats] = await Promise.all([audio.getStats(), video.getStats()]);
    this.#sampleTarget(view.audio.consumerId, audioStats);
    this.#sampleTarget(view.video.consumerId, videoStats);
    let devicePlayoutDelayMs = 0;
    audioStats.forEach((s: Record<string, unknown>) => {
      if (s.type !== 'media-playout') return;
      const n = Number(s.totalSamplesCount ?? 0);
      if (n > 0) devicePlayoutDelayMs = (Number(s.totalPlayoutDelay ?? 0) / n) * 1000;
    });
    return { offsetMs: a - v, devicePlayoutDelayMs, heardOffsetMs: a - v - devicePlayoutDelayMs };
  }

  close(): void {
    clearInterval(this.#timer);
    this.#client.off('dubstats', this.#onStats);
    this.#views.clear();
    this.#targets.clear();
  }

  async #tick(): Promise<void> {
    if (this.#busy) return; // getStats can take longer than a period on a loaded machine
    this.#busy = true;
    try {
      for (const speakerPeerId of this.#reports.keys()) await this.#step(speakerPeerId);
    } catch {
      // A consumer closed under us (view switch, peer left): the next tick sees the new view.
    } finally {
      this.#busy = false;
    }
  }

  async #step(speakerPeerId: string): Promise<void> {
    const view = this.#client.viewOf(speakerPeerId);
    let state = this.#views.get(speakerPeerId);
    if (view.language === null || !view.audio || !view.video) {
      this.#views.delete(speakerPeerId);
      return;
    }
    if (state?.audioConsumerId !== view.audio.consumerId || state.videoConsumerId !== view.video.consumerId) {
      state = {
        audioConsumerId: view.audio.consumerId,
        videoConsumerId: view.video.consumerId,
        readings: [],
        added: { audio: 0, video: 0 },
        adjustments: 0,
        status: 'measuring',
        steadyMedianMs: null,
      };
      this.#views.set(speakerPeerId, state);
    }
    const r = await this.measure(speakerPeerId);
    if (!r) return;
    // A sliding window: the first moment the last N readings are steady counts; after an adjustment it starts over.
    state.readings.push(r.heardOffsetMs);
    if (state.readings.length > this.#o.readings) state.readings.shift();
    if (state.readings.length < this.#o.readings) {
      state.status = 'measuring';
      return;
    }
    const xs = state.readings;
    // Still drifting (the browser's sync moves playout by up to ~80 ms/s): let it finish first.
    if (
      Math.max(...xs) - Math.min(...xs) > this.#o.steadyRangeMs ||
      Math.abs(xs.at(-1)! - xs[0]!) > this.#o.deadBandMs
    ) {
      state.status = 'moving';
      return;
    }
    const med = [...xs].sort((p, q) => p - q)[xs.length >> 1]!;
    state.steadyMedianMs = med;
    if (Math.abs(med) <= this.#o.deadBandMs) {
      state.status = 'inSync';
      return;
    }
    if (Math.abs(med) > this.#o.maxTrimMs) {
      state.status = 'beyondReach';
      return;
    }
    // Voice ahead: delay the audio (or take back delay added to the video first); lips ahead: the reverse.
    const ahead = med > 0 ? 'audio' : 'video';
    const behind = med > 0 ? 'video' : 'audio';
    let need = Math.abs(med);
    const takeBack = Math.min(need, state.added[behind]);
    if (takeBack > 0) {
      this.#addDelay(view[behind]!.consumerId, behind, -takeBack, state);
      need -= takeBack;
    }
    if (need > 0) this.#addDelay(view[ahead]!.consumerId, ahead, need, state);
    state.adjustments++;
    state.status = 'trimmed';
    state.readings.length = 0;
  }

  /** Updates a receiver's recent jitter-buffer target delay (ms; the stats give sums since the start). */
  #sampleTarget(consumerId: string, stats: RTCStatsReport): void {
    let sum = 0;
    let n = 0;
    stats.forEach((s: Record<string, unknown>) => {
      if (s.type !== 'inbound-rtp') return;
      sum = Number(s.jitterBufferTargetDelay ?? 0);
      n = Number(s.jitterBufferEmittedCount ?? 0);
    });
    const last = this.#targets.get(consumerId);
    const dn = n - (last?.n ?? 0);
    const recentMs = dn > 0 ? ((sum - (last?.sum ?? 0)) / dn) * 1000 : (last?.recentMs ?? null);
    this.#targets.set(consumerId, { sum, n, recentMs });
  }

  #addDelay(consumerId: string, kind: 'audio' | 'video', deltaMs: number, state: ViewState): void {
    const consumer = this.#client.consumerOf(consumerId);
    const receiver = consumer?.rtpReceiver as Receiver | undefined;
    if (!consumer || !receiver || !('jitterBufferTarget' in receiver)) return;
    const added = Math.max(0, Math.min(this.#o.maxAddedMs, state.added[kind] + deltaMs));
    if (added === state.added[kind]) return;
    // The browser's own current target (its sync included) is the base; this object's share is on top of it.
    const current = this.#targets.get(consumerId)?.recentMs ?? 0;
    const base = Math.max(0, current - state.added[kind]);
    receiver.jitterBufferTarget = added === 0 ? null : Math.round(base + added);
    state.added[kind] = added;
  }
}

/** Pipeline-clock time (ms) of what a receiver plays now, from its last synchronization source and a sender report. */
function timeShown(receiver: RTCRtpReceiver, sr: SenderReport, clockRate: number, nowMs: number): number | null {
  const s = receiver.getSynchronizationSources()[0];
  if (!s) return null;
  const diff = (s.rtpTimestamp - sr.rtpTimestamp) | 0; // wraparound-safe signed difference
  return sr.ntpMs + (diff / clockRate) * 1000 + (nowMs - s.timestamp);
}
