/**
 * Narrow-band (telephone) speech detection. A call leg that went through an 8 kHz codec (a phone dial-in, some
 * interpreter feeds) keeps nothing above ~4 kHz even after resampling to 16 or 48 kHz, and models fitted on wideband
 * speech (pocketsphinx's en-us acoustic model: filterbank 130-6800 Hz) read it badly. Detected from the spectrum, not
 * the sample rate, because such audio usually arrives resampled. Measured (docs/engine.md, "Clips in other formats"):
 * 5-7.2 kHz against 0.1-3.4 kHz is -18 to -44 dB on the 10 clips of ../shared/clips (-46 through Opus 24 kbit/s) and
 * -60 to -94 dB on the same audio through 8 kHz AAC or G.711; the threshold sits between.
 */
import { Fft } from './fft.ts';

export interface BandwidthOptions {
  /** Low band: lowHz..splitHz; high band: highHz..topHz (capped at 0.45 of the sample rate). */
  lowHz: number;
  splitHz: number;
  highHz: number;
  topHz: number;
  /** Frames within this many dB of the loudest frame count as speech (silence would measure the noise floor). */
  speechRangeDb: number;
  /** High band below the low band by more than this: narrow-band. */
  narrowBelowDb: number;
}

export const defaultBandwidthOptions: BandwidthOptions = {
  lowHz: 100,
  splitHz: 3400,
  // Above the transition band of an 8 -> 16 kHz resampler (3.5-4.5 kHz: up to -40 dB left there).
  highHz: 5000,
  topHz: 7600,
  speechRangeDb: 30,
  narrowBelowDb: 52,
};

/**
 * Energy of the high band relative to the low band over the speech frames, dB (power in highHz..topHz over power in
 * lowHz..splitHz, 32 ms Hann frames). -Infinity when the sample rate leaves no high band; NaN without sound.
 */
export function highBandLevelDb(
  samples: Float32Array,
  sampleRate: number,
  options: Partial<BandwidthOptions> = {},
): number {
  const o = { ...defaultBandwidthOptions, ...options };
  const top = Math.min(o.topHz, 0.45 * sampleRate);
  if (top <= o.highHz) return -Infinity;
  const n = 1 << Math.round(Math.log2(0.032 * sampleRate));
  const fft = new Fft(n);
  const win = Float64Array.from({ length: n }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n));
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  const outRe = new Float64Array(n);
  const outIm = new Float64Array(n);
  const bin = (hz: number) => Math.round((hz * n) / sampleRate);
  const [l0, l1, h0, h1] = [bin(o.lowHz), bin(o.splitHz), bin(o.highHz), bin(top)];
  const frames: { low: number; high: number }[] = [];
  for (let at = 0; at + n <= samples.length; at += n) {
    for (let i = 0; i < n; i++) re[i] = samples[at + i]! * win[i]!;
    im.fill(0);
    fft.transform(re, im, outRe, outIm);
    let low = 0;
    let high = 0;
    for (let k = l0; k < l1; k++) low += outRe[k]! ** 2 + outIm[k]! ** 2;
    for (let k = h0; k < h1; k++) high += outRe[k]! ** 2 + outIm[k]! ** 2;
    frames.push({ low, high });
  }
  // A loop, not Math.max(...spread): an hour of audio is ~110k frames, past what a spread call takes.
  const loudest = frames.reduce((m, f) => Math.max(m, f.low + f.high), 0);
  if (!(loudest > 0)) return NaN;
  const floor = loudest * 10 ** (-o.speechRangeDb / 10);
  let low = 0;
  let high = 0;
  for (const f of frames) {
    if (f.low + f.high < floor) continue;
    low += f.low;
    high += f.high;
  }
  return 10 * Math.log10(high / low);
}

/** True when the speech has (almost) nothing above ~4 kHz: telephone band, whatever the sample rate it comes at. */
export function isNarrowBand(
  samples: Float32Array,
  sampleRate: number,
  options: Partial<BandwidthOptions> = {},
): boolean {
  const o = { ...defaultBandwidthOptions, ...options };
  return highBandLevelDb(samples, sampleRate, o) < -o.narrowBelowDb;
}
