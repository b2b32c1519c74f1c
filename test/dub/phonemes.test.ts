/**
 * The phoneme timings reported with synthesised speech must describe that audio: the last phoneme ends where the
 * audio ends, and pauses are silent where speech phonemes are loud.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { synthesize } from '../../src/pipeline/dub/engines/tts.ts';
import { ProcessGroup } from '../../src/pipeline/dub/tools.ts';
import { median, phonemeEnergies } from './helpers.ts';

const procs = new ProcessGroup();
afterAll(() => procs.close());

const cases = [
  {
    language: 'es',
    engine: 'espeak-ng',
    text: 'No fue un hombre joven mal dispuesto. Me gustaría traducir esta frase, en tiempo real.',
  },
  {
    language: 'fr',
    engine: 'espeak-ng',
    text: "Il n'a pas été un homme jeune. Je voudrais, aujourd'hui, traduire cette phrase.",
  },
  {
    language: 'en',
    engine: 'festival',
    text: 'He was not an ill disposed young man. I would like to translate this sentence, in real time.',
  },
] as const;

describe.each(cases)('$engine $language phoneme timings', ({ language, engine, text }) => {
  it('cover the audio and agree with its energy', async () => {
    const r = await synthesize(procs, text, language, { engine });
    expect(r.engine).toBe(engine);
    const audioMs = (r.pcm.length / r.sampleRate) * 1000;
    const ph = r.phonemes;
    expect(ph.length).toBeGreaterThan(30);
    // Contiguous, increasing, and the last ends within 50 ms of the audio's end.
    for (let i = 1; i < ph.length; i++) {
      expect(ph[i]!.startMs).toBeCloseTo(ph[i - 1]!.endMs, 6);
      expect(ph[i]!.endMs).toBeGreaterThan(ph[i]!.startMs);
    }
    expect(Math.abs(ph.at(-1)!.endMs - audioMs)).toBeLessThan(50);
    expect(ph.filter((p) => p.kind === 'speech').every((p) => p.phoneme !== '_' && p.phoneme.length > 0)).toBe(true);

    // Energy: the sentence break and comma pauses (>= 100 ms) are near silent; vowels and most phonemes are loud.
    const energies = phonemeEnergies(r.pcm, r.sampleRate, ph);
    const speech = energies.filter((p) => p.kind === 'speech');
    const pauses = energies.filter((p) => p.kind === 'pause' && p.endMs - p.startMs >= 100);
    expect(pauses.length).toBeGreaterThanOrEqual(2); // the sentence break and the comma (or the final pause)
    const speechMedian = median(speech.map((p) => p.rms));
    expect(speechMedian).toBeGreaterThan(0.02);
    for (const p of pauses) expect(p.rms).toBeLessThan(0.1 * speechMedian);
    // At least 90 % of speech phonemes are louder than every long pause.
    const loudest = Math.max(...pauses.map((p) => p.rms));
    expect(speech.filter((p) => p.rms > loudest).length / speech.length).toBeGreaterThan(0.9);
  });
});
