/**
 * Shared by the interpreter tests: decode a dubbed audio track a Node listener receives into RMS bins by wall time,
 * and compare its energy envelope with a clip's (ffmpeg-decoded) to tell whose speech it is.
 */
import { execFileSync } from 'node:child_process';
import type { LipsyncClient, RemoteTrack } from '../../src/client-sdk/node/index.ts';
import {
  FrameCollectorStage,
  TranscodingProcessor,
  type AudioFrame,
  type RtpStreamInfo,
} from '../../src/pipeline/index.ts';
import { pearson } from '../../src/pipeline/lipsync/eval/metrics.ts';

export const BIN_MS = 100;

/** RMS per BIN_MS of a clip's audio (mono, 16 kHz), for its first `seconds`. */
export function clipEnvelope(clip: string, seconds: number): number[] {
  const raw = execFileSync(
    'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-t',
      String(seconds),
      '-i',
      clip,
      '-ac',
      '1',
      '-ar',
      '16000',
      '-f',
      'f32le',
      '-',
    ],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const pcm = new Float32Array(raw.buffer, raw.byteOffset, Math.floor(raw.byteLength / 4));
  const per = (16_000 * BIN_MS) / 1000;
  const out: number[] = [];
  for (let i = 0; i + per <= pcm.length; i += per) {
    let s = 0;
    for (let j = i; j < i + per; j++) s += pcm[j]! * pcm[j]!;
    out.push(Math.sqrt(s / per));
  }
  return out;
}

/** Best correlation of `clip` (started at wall time clipStartMs) with the received bins, over lags 0..maxLagMs. */
export function bestCorrelation(
  received: Map<number, number>,
  clip: number[],
  clipStartMs: number,
  maxLagMs: number,
): { r: number; lagMs: number } {
  let best = { r: -1, lagMs: 0 };
  for (let lag = 0; lag <= maxLagMs; lag += BIN_MS) {
    const a: number[] = [];
    const b: number[] = [];
    for (const [i, v] of clip.entries()) {
      const bin = Math.floor((clipStartMs + lag + i * BIN_MS) / BIN_MS);
      const got = received.get(bin);
      if (got === undefined) continue;
      a.push(v);
      b.push(got);
    }
    // Too few overlapping bins, or a flat side, count as no correlation.
    const r = a.length >= 10 ? pearson(a, b) || 0 : 0;
    if (r > best.r) best = { r, lagMs: lag };
  }
  return best;
}

/**
 * Decodes one received audio track (Opus -> PCM through a collecting TranscodingProcessor) into RMS bins of BIN_MS
 * by wall time (`performance.now()`), the media timestamps anchored at the first frame.
 */
export class AudioMeter {
  readonly bins = new Map<number, { sum: number; n: number }>();
  #anchor: { wallMs: number; mediaUs: number } | undefined;
  #processor: TranscodingProcessor | undefined;
  #unsubscribe: (() => void) | undefined;

  static async attach(client: LipsyncClient, track: RemoteTrack): Promise<AudioMeter> {
    const meter = new AudioMeter();
    const params = client.consumerOf(track.consumerId)!.rtpParameters;
    const codec = params.codecs[0]!;
    const info: RtpStreamInfo = {
      kind: 'audio',
      mimeType: codec.mimeType,
      payloadType: codec.payloadType,
      clockRate: codec.clockRate,
      ...(codec.channels !== undefined ? { channels: codec.channels } : {}),
      ssrc: params.encodings![0]!.ssrc!,
    };
    const processor = await TranscodingProcessor.create([info], {
      stage: new FrameCollectorStage('collect', { onAudio: (f) => meter.#onFrame(f) }),
      onWarning: () => {},
    });
    meter.#processor = processor;
    const sub = track.track.onReceiveRtp.subscribe((rtp) => processor.pushRtp('audio', rtp.serialize()));
    meter.#unsubscribe = () => sub.unSubscribe();
    return meter;
  }

  #onFrame(f: AudioFrame): void {
    this.#anchor ??= { wallMs: performance.now(), mediaUs: f.timestampUs };
    const wallMs = this.#anchor.wallMs + (f.timestampUs - this.#anchor.mediaUs) / 1000;
    const bin = Math.floor(wallMs / BIN_MS);
    const b = this.bins.get(bin) ?? { sum: 0, n: 0 };
    for (let i = 0; i < f.samplesPerChannel; i++) {
      const v = f.data[i * f.channels]! / 32768;
      b.sum += v * v;
    }
    b.n += f.samplesPerChannel;
    this.bins.set(bin, b);
  }

  /** RMS over a wall-time window, and the number of samples in it. */
  rms(fromMs: number, toMs: number): { rms: number; n: number } {
    let sum = 0;
    let n = 0;
    for (let bin = Math.floor(fromMs / BIN_MS); bin < toMs / BIN_MS; bin++) {
      const b = this.bins.get(bin);
      if (b) {
        sum += b.sum;
        n += b.n;
      }
    }
    return { rms: n ? Math.sqrt(sum / n) : NaN, n };
  }

  /** RMS per bin. */
  envelope(): Map<number, number> {
    const out = new Map<number, number>();
    for (const [bin, b] of this.bins) if (b.n > 0) out.set(bin, Math.sqrt(b.sum / b.n));
    return out;
  }

  close(): void {
    this.#unsubscribe?.();
    this.#processor?.close();
  }
}
