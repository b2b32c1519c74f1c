/**
 * Functions evaluated inside the demo page (playwright `page.evaluate`): they read the page's `window.demo` state,
 * grab decoded frames from the visible <video> of a tile, read receiver stats. Kept free of imports: playwright
 * serialises each function's source.
 */
import type { Page } from 'playwright-core';

export interface TileInfo {
  peerId: string;
  language: string | null;
  hasVideo: boolean;
  hasAudio: boolean;
  videoWidth: number;
  videoHeight: number;
  currentTime: number;
  swaps: { atMs: number; language: string | null }[];
  health: string;
}

/** The listener's view of each remote speaker. */
export function tiles(page: Page): Promise<TileInfo[]> {
  return page.evaluate(() => {
    type V = { language: string | null; audio?: unknown; video?: unknown };
    type T = {
      peerId: string;
      videos: HTMLVideoElement[];
      front: number;
      view?: V;
      swaps: { atMs: number; language: string | null }[];
      health: HTMLElement;
    };
    const demo = (window as unknown as { demo: { tiles: Map<string, T> } }).demo;
    return [...demo.tiles.values()].map((t) => {
      const v = t.videos[t.front]!;
      return {
        peerId: t.peerId,
        language: t.view?.language ?? null,
        hasVideo: !!t.view?.video,
        hasAudio: !!t.view?.audio,
        videoWidth: v.videoWidth,
        videoHeight: v.videoHeight,
        currentTime: v.currentTime,
        swaps: t.swaps,
        health: t.health.textContent ?? '',
      };
    });
  });
}

/** Inbound RTP counters of the listener's visible tracks for a speaker (packets, frames decoded, audio energy). */
export function inboundStats(
  page: Page,
  peerId: string,
): Promise<{ audioPackets: number; audioEnergy: number; videoFrames: number; videoPackets: number } | null> {
  return page.evaluate(async (peerId) => {
    type RT = { consumerId: string };
    type C = { getStats(): Promise<RTCStatsReport> };
    const demo = (
      window as unknown as {
        demo: { client?: { viewOf(p: string): { audio?: RT; video?: RT }; consumerOf(id: string): C | undefined } };
      }
    ).demo;
    const client = demo.client;
    if (!client) return null;
    const view = client.viewOf(peerId);
    const out = { audioPackets: 0, audioEnergy: 0, videoFrames: 0, videoPackets: 0 };
    for (const [kind, t] of [
      ['audio', view.audio],
      ['video', view.video],
    ] as const) {
      if (!t) continue;
      const report = await client.consumerOf(t.consumerId)?.getStats();
      report?.forEach((s: Record<string, unknown>) => {
        if (s.type !== 'inbound-rtp') return;
        if (kind === 'audio') {
          out.audioPackets += Number(s.packetsReceived ?? 0);
          out.audioEnergy += Number(s.totalAudioEnergy ?? 0);
        } else {
          out.videoFrames += Number(s.framesDecoded ?? 0);
          out.videoPackets += Number(s.packetsReceived ?? 0);
        }
      });
    }
    return out;
  }, peerId);
}

/**
 * Grabs `count` frames, `intervalMs` apart, from the visible video of a speaker's tile, scaled to size x size grey
 * levels (luma). Returns them as arrays of numbers (0-255) plus one PNG data URL of the last frame for the record.
 */
export function grabFrames(
  page: Page,
  peerId: string,
  { count = 1, intervalMs = 100, size = 128 }: { count?: number; intervalMs?: number; size?: number } = {},
): Promise<{ frames: number[][]; png: string; language: string | null }> {
  return page.evaluate(
    async ({ peerId, count, intervalMs, size }) => {
      type T = { videos: HTMLVideoElement[]; front: number; view?: { language: string | null } };
      const demo = (window as unknown as { demo: { tiles: Map<string, T> } }).demo;
      const tile = demo.tiles.get(peerId);
      if (!tile) throw new Error(`no tile for ${peerId}`);
      const canvas = document.createElement('canvas');
      canvas.width = size;
      canvas.height = size;
      const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
      const frames: number[][] = [];
      for (let i = 0; i < count; i++) {
        const video = tile.videos[tile.front]!;
        ctx.drawImage(video, 0, 0, size, size);
        const rgba = ctx.getImageData(0, 0, size, size).data;
        const grey: number[] = new Array<number>(size * size);
        for (let p = 0; p < size * size; p++) {
          grey[p] = Math.round(0.299 * rgba[p * 4]! + 0.587 * rgba[p * 4 + 1]! + 0.114 * rgba[p * 4 + 2]!);
        }
        frames.push(grey);
        if (i + 1 < count) await new Promise((r) => setTimeout(r, intervalMs));
      }
      return { frames, png: canvas.toDataURL('image/png'), language: tile.view?.language ?? null };
    },
    { peerId, count, intervalMs, size },
  );
}

/**
 * The listener's audio-video offset for a speaker's visible tracks, as its own playout shows it: for each track the
 * RTP timestamp of the last frame/sample played (RTCRtpReceiver.getSynchronizationSources) is mapped to the sender's
 * wall clock through the sender report the dub pipeline last sent (carried in `dubStats`), then advanced to the same
 * instant. `offsetMs` = audio capture time - video capture time being shown now, in ms (positive: audio ahead).
 *
 * `displayed` is the same offset with the picture taken as displayed, not as handed to the renderer: the visible
 * <video>'s requestVideoFrameCallback gives each frame's RTP timestamp and the time it is expected on screen
 * (`expectedDisplayTime`). Chromium hands a WebRTC frame to its renderer as soon as it is decoded, ahead of the render
 * time its jitter buffer and A/V sync chose, and the compositor shows it at that render time; the synchronization
 * source's timestamp is the hand-over. `videoLeadMs` = displayed - handed over (how much earlier the sync source says
 * the frame was shown). The first call installs the frame callbacks, so its `displayed` is null.
 *
 * A stream that has not played for half a second is not playing: no reading (frozen video would otherwise read as a
 * constant offset, both sides extrapolated from their last sample).
 *
 * One reading is the median of 9 samples 40 ms apart (320 ms, eight frame periods at 25 fps): a frame or two handed
 * over or shown late (a decoder or renderer hiccup) moves a few samples by up to a frame period or two, which is
 * frame-timing jitter, not an A/V offset. (With 5 samples over 160 ms, one CI run read 40.08 ms once among readings
 * of -4..+11.)
 */
export interface AvOffsets {
  offsetMs: number | null;
  displayed: { offsetMs: number; videoLeadMs: number; framesSeen: number } | null;
}

export function avOffsets(page: Page, peerId: string): Promise<AvOffsets> {
  return page.evaluate(async (peerId) => {
    type RT = { consumerId: string };
    type Sr = { ntpMs: number; rtpTimestamp: number };
    type Meta = { rtpTimestamp?: number; expectedDisplayTime: number };
    type Tracked = HTMLVideoElement & { __lastFrame?: Meta; __frames?: number; __rvfc?: boolean };
    type Demo = {
      client?: {
        viewOf(p: string): { audio?: RT; video?: RT };
        consumerOf(id: string): { rtpReceiver?: RTCRtpReceiver } | undefined;
      };
      tiles: Map<string, { videos: Tracked[]; front: number; stats?: { senderReports?: { audio?: Sr; video?: Sr } } }>;
    };
    const none = { offsetMs: null, displayed: null };
    const demo = (window as unknown as { demo: Demo }).demo;
    const tile = demo.tiles.get(peerId);
    if (!tile) return none;
    for (const el of tile.videos) {
      if (el.__rvfc) continue;
      el.__rvfc = true;
      const onFrame = (_now: number, meta: Meta) => {
        el.__lastFrame = meta;
        el.__frames = (el.__frames ?? 0) + 1;
        el.requestVideoFrameCallback(onFrame);
      };
      el.requestVideoFrameCallback(onFrame);
    }
    const client = demo.client;
    const srs = tile.stats?.senderReports;
    if (!client || !srs?.audio || !srs.video) return none;
    const { audio: audioSr, video: videoSr } = srs;
    const view = client.viewOf(peerId);
    const mapped = (rtp: number, sr: Sr, clockRate: number) =>
      sr.ntpMs + (((rtp - sr.rtpTimestamp) | 0) / clockRate) * 1000; // wraparound-safe signed difference
    const sample = () => {
      const now = performance.now();
      const wallNow = performance.timeOrigin + now;
      const captureNow = (t: RT | undefined, sr: Sr, clockRate: number): number | null => {
        const s = (t ? client.consumerOf(t.consumerId)?.rtpReceiver : undefined)?.getSynchronizationSources()[0];
        if (!s || wallNow - s.timestamp > 500) return null;
        return mapped(s.rtpTimestamp, sr, clockRate) + (wallNow - s.timestamp);
      };
      const a = captureNow(view.audio, audioSr, 48_000);
      const v = captureNow(view.video, videoSr, 90_000);
      if (a === null || v === null) return null;
      const el = tile.videos[tile.front]!;
      const frame = el.__lastFrame;
      if (!frame || frame.rtpTimestamp === undefined || now - frame.expectedDisplayTime > 500) {
        return { offsetMs: a - v, displayed: null };
      }
      const videoShown = mapped(frame.rtpTimestamp, videoSr, 90_000) + (now - frame.expectedDisplayTime);
      return {
        offsetMs: a - v,
        displayed: { offsetMs: a - videoShown, videoLeadMs: v - videoShown, framesSeen: el.__frames ?? 0 },
      };
    };
    const samples: NonNullable<ReturnType<typeof sample>>[] = [];
    for (let i = 0; i < 9; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 40));
      const s = sample();
      if (!s) return none; // a stream stopped playing during the reading
      samples.push(s);
    }
    const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[xs.length >> 1]!;
    const shown = samples.map((s) => s.displayed).filter((d) => d !== null);
    return {
      offsetMs: median(samples.map((s) => s.offsetMs)),
      displayed:
        shown.length === samples.length
          ? {
              offsetMs: median(shown.map((d) => d.offsetMs)),
              videoLeadMs: median(shown.map((d) => d.videoLeadMs)),
              framesSeen: shown.at(-1)!.framesSeen,
            }
          : null,
    };
  }, peerId);
}

/**
 * Chrome's own view of the playout of a speaker's visible tracks: `estimatedPlayoutTimestamp` (the sender-clock NTP
 * time, from the RTCP SRs the receiver got from the SFU, of what plays now) and the jitter-buffer delays averaged
 * since the previous call (since the track started on the first call).
 * `playoutOffsetMs` = audio - video estimated playout timestamps (what the browser's own A/V sync aims at 0).
 */
export function playoutStats(page: Page, peerId: string): Promise<Record<string, number | null>> {
  return page.evaluate(async (peerId) => {
    type RT = { consumerId: string };
    type C = { getStats(): Promise<RTCStatsReport> };
    const demo = (
      window as unknown as {
        demo: { client?: { viewOf(p: string): { audio?: RT; video?: RT }; consumerOf(id: string): C | undefined } };
      }
    ).demo;
    const out: Record<string, number | null> = { playoutOffsetMs: null };
    const client = demo.client;
    if (!client) return out;
    const view = client.viewOf(peerId);
    const est: Record<string, number> = {};
    for (const [kind, t] of [
      ['audio', view.audio],
      ['video', view.video],
    ] as const) {
      if (!t) continue;
      const report = await client.consumerOf(t.consumerId)?.getStats();
      report?.forEach((s: Record<string, unknown>) => {
        if (s.type !== 'inbound-rtp') return;
        // Averages since the previous call for this consumer (ms); the stats hold sums since the track started.
        const n = Number(s.jitterBufferEmittedCount ?? 0);
        const w = window as unknown as { __jbPrev?: Record<string, number> };
        const prev = (w.__jbPrev ??= {});
        const key = `${t.consumerId}`;
        const dn = n - (prev[`${key}.n`] ?? 0);
        for (const k of ['jitterBufferDelay', 'jitterBufferTargetDelay', 'jitterBufferMinimumDelay']) {
          const sum = Number(s[k] ?? 0);
          out[`${kind}.${k}`] = dn > 0 ? Math.round(((sum - (prev[`${key}.${k}`] ?? 0)) / dn) * 1000) : null;
          prev[`${key}.${k}`] = sum;
        }
        prev[`${key}.n`] = n;
        if (typeof s.estimatedPlayoutTimestamp === 'number') est[kind] = s.estimatedPlayoutTimestamp;
      });
      // Audio device playout delay (RTCAudioPlayoutStats): what the sound spends after the jitter buffer.
      report?.forEach((s: Record<string, unknown>) => {
        if (s.type !== 'media-playout') return;
        const n = Number(s.totalSamplesCount ?? 0);
        out[`${kind}.devicePlayoutDelay`] = n > 0 ? Math.round((Number(s.totalPlayoutDelay ?? 0) / n) * 1000) : null;
      });
    }
    if (est.audio !== undefined && est.video !== undefined) out.playoutOffsetMs = est.audio - est.video;
    return out;
  }, peerId);
}
