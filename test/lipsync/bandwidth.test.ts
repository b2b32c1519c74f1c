import { describe, expect, it } from 'vitest';
import { highBandLevelDb, isNarrowBand } from '../../src/pipeline/audio/bandwidth.ts';
import { resample } from '../../src/pipeline/audio/resample.ts';

/** 2 s of a voiced-speech stand-in at 16 kHz: 140 Hz harmonics up to 7.5 kHz falling 6 dB/octave, 4 Hz syllables. */
function voiced(rate = 16000): Float32Array {
  const out = new Float32Array(2 * rate);
  for (let i = 0; i < out.length; i++) {
    const t = i / rate;
    let s = 0;
    for (let h = 1; 140 * h < 7500; h++) s += Math.sin(2 * Math.PI * 140 * h * t + h) / h;
    out[i] = 0.1 * s * (0.6 + 0.4 * Math.sin(2 * Math.PI * 4 * t));
  }
  return out;
}

describe('narrow-band speech detection', () => {
  const wide = voiced();
  // An 8 kHz leg (telephone codec), then back to the pipeline's rate.
  const narrow = resample(resample(wide, 16000, 8000), 8000, 16000);

  it('tells wideband from the same speech through an 8 kHz leg, at any sample rate', () => {
    expect(highBandLevelDb(wide, 16000)).toBeGreaterThan(-30);
    expect(highBandLevelDb(narrow, 16000)).toBeLessThan(-60);
    expect(isNarrowBand(wide, 16000)).toBe(false);
    expect(isNarrowBand(narrow, 16000)).toBe(true);
    expect(isNarrowBand(resample(wide, 16000, 48000), 48000)).toBe(false);
    expect(isNarrowBand(resample(narrow, 16000, 48000), 48000)).toBe(true);
    // Sampled at 8 kHz: no band above 4 kHz at all.
    expect(isNarrowBand(resample(wide, 16000, 8000), 8000)).toBe(true);
  });

  it('does not call silence or a too short signal narrow-band', () => {
    expect(isNarrowBand(new Float32Array(32000), 16000)).toBe(false);
    expect(isNarrowBand(wide.subarray(0, 100), 16000)).toBe(false);
  });
});
