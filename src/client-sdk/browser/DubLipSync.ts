/**
 * Lip sync of dubbed views in the browser.
 *
 * The browser's own A/V sync (WebRTC's stream synchronization) can align a dubbed audio and video track from the SFU's
 * sender reports, but it stops adjusting once its own estimate is within a 30 ms dead band, converges from one side
 * (so the offset it leaves sits near the edge of that band), and counts any jitter-buffer target set on top of it as
 * a change of delay that it then undoes, about 10 s later. The dub pipeline also sends its own sender-report pairs
 * in `dubStats` (the mapping of each stream's RTP timestamps to the pipeline's wall clock), which lets the listener
 * measure what it plays: for each track the RTP timestamp of the last sample or frame handed to playout
 * (RTCRtpReceiver.getSynchronizationSources) is mapped to pipeline time; the audio is heard the output device's
 * playout delay later (RTCAudioPlayoutStats). `heard offset = audio time heard now - video time shown now`
 * (positive: the voice is ahead of the lips).
 *
 * `DubLipSync` reads that offset twice a second for every dubbed view and sets the receivers' `jitterBufferTarget`.
 * Two modes:
 * - `own` (default): it sets the client's `dubSyncGroups` to `split`, so dubbed audio and video subscribed from then
 *   on are in separate msid streams that the browser does not sync, and this object is their only sync. It keeps the
 *   video's jitter-buffer delay a learnt amount above the audio's (the audio at least 200 ms deep), follows either
 *   buffer's own growth at every reading, and learns that amount by integrating 0.3 of each heard offset.
 * - `trim`: the browser syncs the pair; this object delays the stream that is ahead by a steady residue only (12
 *   readings within 30 ms, median 15-80 ms, at most 120 ms added). This is also what a view subscribed before `own`
 *   took effect gets.
 * A view that changes (back to the original, another language) starts over with the browser's own targets.
 */
import type { DubStats } from '../../protocol/index.ts';
import type { LipsyncClient } from './index.ts';

type SenderReport = { ntpMs: number; rtpTimestamp: number };
/** jitterBufferTarget is in Chromium and Firefox; older TypeScript DOM typings miss it. */
type Receiver = RTCRtpReceiver & { jitterBufferTarget?: number | null };

/** How a view is synced: by this object alone (`own`), or by the browser with this object trimming its residue. */
export type DubLipSyncMode = 'own' | 'trim';

/** The decision rules of one mode. */
export interface DubLipSyncTuning {
  /** Readings a decision (`trim`) or a status (`own`) is made on. Default 6 (3 s) own, 12 (6 s) trim. */
  readings: number;
  /**
   * Readings further apart than this mean the offset still moves: no trim (`trim`), status `moving` (`own`, which
   * also does not learn from a reading this far from the window's median). Default 80 ms own, 30 ms trim.
   */
  steadyRangeMs: number;
  /** Median offsets within this are left alone (`trim`) or read as `inSync` (`own`). Default 10 ms own, 15 ms trim. */
  deadBandMs: number;
  /**
   * `trim` mode: offsets beyond this are the browser's transients (a stall, a resync in progress; trimming them would
   * fight it) and are not trimmed. Default 80 ms; not used in `own` mode.
   */
  maxTrimMs: number;
  /** Most delay added to a stream (`trim`), or kept between the video and the audio (`own`), in ms. Default 120, 1000. */
  maxAddedMs: number;
  /**
   * `own` mode: the least delay of the audio's jitter buffer, in ms (default 200). A dub already plays ~2.5 s behind
   * its speaker, so a deeper buffer costs little, and it absorbs packets sent up to that late (a stalled sender, a
   * loaded pipeline) without an audible gap or a jump of the offset. Not used in `trim` mode.
   */
  minAudioDelayMs: number;
}

export interface DubLipSyncOptions extends Partial<DubLipSyncTuning> {
  /** Period of the readings, in ms. Default 500. */
  intervalMs?: number;
  /** Default `own`. The other options tune this mode. */
  mode?: DubLipSyncMode;
}

/** `own` mode: the fraction of each reading's offset corrected at once. */
const ownGain = 0.3;

const defaultTuning: Record<DubLipSyncMode, DubLipSyncTuning> = {
  own: { readings: 6, steadyRangeMs: 80, deadBandMs: 10, maxTrimMs: Infinity, maxAddedMs: 1000, minAudioDelayMs: 200 },
  trim: { readings: 12, steadyRangeMs: 30, deadBandMs: 15, maxTrimMs: 80, maxAddedMs: 120, minAudioDelayMs: 0 },
};

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
 * browser). In `own` mode: `measuring` (fewer readings than a window since the view started), `moving` (the window's
 * range is wider than steadyRangeMs), `inSync` (its median within the dead band), `trimmed` (steady but off: being
 * corrected); never `beyondReach`.
 */
export type DubLipSyncStatus = 'measuring' | 'moving' | 'inSync' | 'trimmed' | 'beyondReach';

export interface DubLipSyncState {
  /** `own`: the browser does not sync this view's audio and video (separate msid streams); `trim`: it does. */
  mode: DubLipSyncMode;
  /** Delay added on top of the browser's own jitter-buffer targets, in ms. */
  addedMs: { audio: number; video: number };
  adjustments: number;
  status: DubLipSyncStatus;
  /** Median heard offset of the latest steady window (ms), null before one. */
  steadyMedianMs: number | null;
}

interface ViewState {
  mode: DubLipSyncMode;
  /**
   * `own` mode: the video's total playout delay minus the audio's that this object keeps (ms); null until the first
   * reading, which starts it at what the browser does on its own.
   */
  videoMinusAudioMs: number | null;
  /** `own` mode: the audio is still climbing to follow the video's buffer (the offset it reads is not to be learnt). */
  audioClimbing: boolean;
  /** `own` mode: the jitter buffers' own minimum delays at the previous reading (ms). */
  lastMinimumsMs: { audio: number | null; video: number | null };
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
  readonly #intervalMs: number;
  readonly #tuning: Record<DubLipSyncMode, DubLipSyncTuning>;
  readonly #reports = new Map<string, { audio?: SenderReport; video?: SenderReport }>();
  readonly #views = new Map<string, ViewState>();
  /** Per consumer: the jitter buffer's recent target delay, and the recent minimum it would use on its own (ms). */
  readonly #targets = new Map<string, JitterBufferDelays>();
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #onStats = (s: DubStats) => {
    if (s.senderReports) this.#reports.set(s.speakerPeerId, { ...s.senderReports });
  };
  #busy = false;

  constructor(client: LipsyncClient, options: DubLipSyncOptions = {}) {
    this.#client = client;
    const { intervalMs = 500, mode = 'own', ...tuning } = options;
    this.#intervalMs = intervalMs;
    this.#tuning = { ...defaultTuning, [mode]: { ...defaultTuning[mode], ...tuning } };
    // From now on the client subscribes dubbed audio and video apart, out of the browser's sync: this object syncs them.
    if (mode === 'own') client.dubSyncGroups = 'split';
    client.on('dubstats', this.#onStats);
    this.#timer = setInterval(() => void this.#tick(), this.#intervalMs);
  }

  /** The current state for a speaker's dubbed view (for health displays and tests). */
  stateOf(speakerPeerId: string): DubLipSyncState | undefined {
    const v = this.#views.get(speakerPeerId);
    return v
      ? {
          mode: v.mode,
          addedMs: { ...v.added },
          adjustments: v.adjustments,
          status: v.status,
          steadyMedianMs: v.steadyMedianMs,
        }
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
    // The median of 5 samples 30 ms apart: one video frame handed over a frame period late moves a single sample.
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 30));
      const now = performance.timeOrigin + performance.now();
      const a = timeShown(audio.rtpReceiver, srs.audio, 48_000, now);
      const v = timeShown(video.rtpReceiver, srs.video, 90_000, now);
      if (a === null || v === null) return null;
      samples.push(a - v);
    }
    const offsetMs = samples.sort((p, q) => p - q)[2]!;
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
    return { offsetMs, devicePlayoutDelayMs, heardOffsetMs: offsetMs - devicePlayoutDelayMs };
  }

  /**
   * Stops. Dubbed tracks subscribed from now on are synced by the browser again; a view already subscribed apart
   * keeps the delays set last and is not synced any more until it changes.
   */
  close(): void {
    clearInterval(this.#timer);
    this.#client.dubSyncGroups = 'shared';
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
        // Separate msid streams: the browser does not sync them, this object does.
        mode: view.audio.syncGroup === view.video.syncGroup ? 'trim' : 'own',
        videoMinusAudioMs: null,
        audioClimbing: false,
        lastMinimumsMs: { audio: null, video: null },
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
    const o = this.#tuning[state.mode];
    if (state.mode === 'own') {
      // A reading taken while a jitter buffer's own delay moved, or while the audio climbs, shows what the next
      // targets already answer: it is not learnt.
      const minimums = {
        audio: this.#targets.get(view.audio.consumerId)?.recentMinimumMs ?? null,
        video: this.#targets.get(view.video.consumerId)?.recentMinimumMs ?? null,
      };
      const moved = (k: 'audio' | 'video') => Math.abs((minimums[k] ?? 0) - (state.lastMinimumsMs[k] ?? 0)) > 5;
      const learn = !moved('audio') && !moved('video') && !state.audioClimbing;
      state.lastMinimumsMs = minimums;
      this.#follow(r.heardOffsetMs, state, o, learn);
      this.#holdDelays(view.audio.consumerId, view.video.consumerId, state);
      return;
    }
    // A sliding window: the first moment the last N readings are steady counts; after an adjustment it starts over.
    state.readings.push(r.heardOffsetMs);
    if (state.readings.length > o.readings) state.readings.shift();
    if (state.readings.length < o.readings) {
      state.status = 'measuring';
      return;
    }
    const xs = state.readings;
    // Still drifting (the browser's sync moves playout by up to ~80 ms/s, NetEq stretches toward a new target): let
    // it finish first.
    if (Math.max(...xs) - Math.min(...xs) > o.steadyRangeMs || Math.abs(xs.at(-1)! - xs[0]!) > o.steadyRangeMs / 2) {
      state.status = 'moving';
      return;
    }
    const med = [...xs].sort((p, q) => p - q)[xs.length >> 1]!;
    state.steadyMedianMs = med;
    if (Math.abs(med) <= o.deadBandMs) {
      state.status = 'inSync';
      return;
    }
    if (Math.abs(med) > o.maxTrimMs) {
      state.status = 'beyondReach';
      return;
    }
    state.adjustments++;
    state.status = 'trimmed';
    state.readings.length = 0;
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
  }

  /**
   * `own` mode, every reading: moves the video's delay relative to the audio's by a fraction of the heard offset (an
   * integrating controller: no dead band, so nothing is left at a band's edge; the fraction damps the readings' noise
   * and the audio jitter buffer's slower response). A reading far from the window's median is a spike and is skipped.
   */
  #follow(heardMs: number, state: ViewState, o: DubLipSyncTuning, learn: boolean): void {
    const xs = state.readings;
    const before = xs.length ? [...xs].sort((p, q) => p - q)[xs.length >> 1]! : heardMs;
    xs.push(heardMs);
    if (xs.length > o.readings) xs.shift();
    if (state.videoMinusAudioMs !== null && learn && Math.abs(heardMs - before) <= o.steadyRangeMs) {
      const step = -ownGain * heardMs; // the voice ahead: the video's delay relative to the audio's shrinks
      const e = Math.max(-o.maxAddedMs, Math.min(o.maxAddedMs, state.videoMinusAudioMs + step));
      if (Math.abs(e - state.videoMinusAudioMs) >= 5) state.adjustments++;
      state.videoMinusAudioMs = e;
    }
    if (xs.length < o.readings) {
      state.status = 'measuring';
      return;
    }
    const med = [...xs].sort((p, q) => p - q)[xs.length >> 1]!;
    state.steadyMedianMs = med;
    state.status =
      Math.max(...xs) - Math.min(...xs) > o.steadyRangeMs
        ? 'moving'
        : Math.abs(med) <= o.deadBandMs
          ? 'inSync'
          : 'trimmed';
  }

  /**
   * `own` mode, every reading: sets the jitter-buffer targets so that the video plays `videoMinusAudioMs` later than
   * the audio. Only one stream gets a target: the other plays at the least delay its jitter buffer would use on its
   * own (`jitterBufferMinimumDelay`), so when that grows (late packets, a stall upstream) the other follows it at the
   * next reading, as the browser's own sync would, and when it shrinks both come back down.
   */
  #holdDelays(audioConsumerId: string, videoConsumerId: string, state: ViewState): void {
    const a = this.#targets.get(audioConsumerId)?.recentMinimumMs;
    const v = this.#targets.get(videoConsumerId)?.recentMinimumMs;
    if (a === null || a === undefined || v === null || v === undefined) return;
    // Start from what the browser does on its own.
    state.videoMinusAudioMs ??= v - a;
    const e = state.videoMinusAudioMs;
    // The audio keeps at least minAudioDelayMs in its buffer and the video plays e later; where a stream's own jitter
    // buffer wants more than that, it has its way and the other follows.
    const audioReceiver = this.#client.consumerOf(audioConsumerId)?.rtpReceiver as Receiver | undefined;
    let audio = Math.max(a, this.#tuning.own.minAudioDelayMs);
    state.audioClimbing = false;
    if (audio + e < v) {
      // The audio follows the video's buffer up by at most 40 ms a reading: the audio jitter buffer fills a raised
      // target by stretching what it plays (a jump of 400 ms is heard as a gap and reads as the voice 400 ms late),
      // and a video buffer that grew in a burst of late frames often shrinks again within seconds.
      const current = audioReceiver?.jitterBufferTarget ?? a;
      audio = Math.max(audio, Math.min(v - e, current + 40));
      state.audioClimbing = audio < v - e;
    }
    const video = audio + e;
    // (1 ms of slack: the recent minimums are averages, and a target at a buffer's own minimum changes nothing.)
    const audioTarget = audio > a + 1 ? audio : null;
    const videoTarget = video > v + 1 ? video : null;
    state.added = { audio: audioTarget === null ? 0 : audio - a, video: videoTarget === null ? 0 : video - v };
    setTarget(audioReceiver, audioTarget);
    setTarget(this.#client.consumerOf(videoConsumerId)?.rtpReceiver as Receiver | undefined, videoTarget);
  }

  /**
   * Updates a receiver's recent jitter-buffer target and minimum delays (ms; the stats give sums since the start, the
   * minimum being the delay without jitterBufferTarget and the browser's sync).
   */
  #sampleTarget(consumerId: string, stats: RTCStatsReport): void {
    let sum = 0;
    let minimumSum = 0;
    let n = 0;
    stats.forEach((s: Record<string, unknown>) => {
      if (s.type !== 'inbound-rtp') return;
      sum = Number(s.jitterBufferTargetDelay ?? 0);
      minimumSum = Number(s.jitterBufferMinimumDelay ?? 0);
      n = Number(s.jitterBufferEmittedCount ?? 0);
    });
    const last = this.#targets.get(consumerId);
    const dn = n - (last?.n ?? 0);
    this.#targets.set(consumerId, {
      sum,
      minimumSum,
      n,
      recentMs: dn > 0 ? ((sum - (last?.sum ?? 0)) / dn) * 1000 : (last?.recentMs ?? null),
      recentMinimumMs: dn > 0 ? ((minimumSum - (last?.minimumSum ?? 0)) / dn) * 1000 : (last?.recentMinimumMs ?? null),
    });
  }

  #addDelay(consumerId: string, kind: 'audio' | 'video', deltaMs: number, state: ViewState): void {
    const consumer = this.#client.consumerOf(consumerId);
    const receiver = consumer?.rtpReceiver as Receiver | undefined;
    if (!consumer || !receiver || !('jitterBufferTarget' in receiver)) return;
    const added = Math.max(0, Math.min(this.#tuning[state.mode].maxAddedMs, state.added[kind] + deltaMs));
    if (added === state.added[kind]) return;
    // The browser's own current target (its sync included) is the base; this object's share is on top of it.
    const current = this.#targets.get(consumerId)?.recentMs ?? 0;
    const base = Math.max(0, current - state.added[kind]);
    receiver.jitterBufferTarget = added === 0 ? null : Math.round(base + added);
    state.added[kind] = added;
  }
}

interface JitterBufferDelays {
  sum: number;
  minimumSum: number;
  n: number;
  recentMs: number | null;
  recentMinimumMs: number | null;
}

/** Sets a receiver's jitter-buffer target (null: the browser's own), skipping changes under 5 ms. */
function setTarget(receiver: Receiver | undefined, ms: number | null): void {
  if (!receiver || !('jitterBufferTarget' in receiver)) return;
  const current = receiver.jitterBufferTarget ?? null;
  if (ms === null ? current === null : current !== null && Math.abs(current - ms) < 5) return;
  receiver.jitterBufferTarget = ms === null ? null : Math.round(ms);
}

/** Pipeline-clock time (ms) of what a receiver plays now, from its last synchronization source and a sender report. */
function timeShown(receiver: RTCRtpReceiver, sr: SenderReport, clockRate: number, nowMs: number): number | null {
  const s = receiver.getSynchronizationSources()[0];
  if (!s) return null;
  const diff = (s.rtpTimestamp - sr.rtpTimestamp) | 0; // wraparound-safe signed difference
  return sr.ntpMs + (diff / clockRate) * 1000 + (nowMs - s.timestamp);
}
