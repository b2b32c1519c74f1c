/**
 * The embedded offline translator end to end on real audio: English speech synthesised here and real LibriVox read
 * speech (Debian pocketsphinx-testdata) come out as Spanish speech whose text holds the content words of Apertium's
 * translation of what was said, with phoneme timings that fit the audio and a latency per segment.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readWav, toMono } from '../../src/pipeline/audio/wav.ts';
import { EmbeddedDubSource, type DubSegment } from '../../src/pipeline/dub/index.ts';
import { dubRecording } from '../../src/pipeline/dub/offline.ts';
import { contentWords, englishSpeech, LIBRIVOX, librivoxText, referenceTranslation } from './helpers.ts';

/** Same word up to inflection (hecho/hechos, podría/podrían, respetable/respetables). */
function sameWord(a: string, b: string): boolean {
  const [s, l] = a.length <= b.length ? [a, b] : [b, a];
  return l.startsWith(s) && l.length - s.length <= 2;
}

function overlap(expected: string[], got: string): { found: string[]; ratio: number } {
  const have = contentWords(got);
  const found = expected.filter((w) => have.some((h) => sameWord(w, h)));
  return { found, ratio: found.length / Math.max(1, expected.length) };
}

function checkSegmentAudio(seg: DubSegment): void {
  const audioMs = (seg.pcm.length / seg.sampleRate) * 1000;
  expect(seg.phonemes?.length ?? 0).toBeGreaterThan(5);
  expect(Math.abs(seg.phonemes!.at(-1)!.endMs - audioMs)).toBeLessThan(50);
  expect(seg.latencyMs).toBeGreaterThan(0);
  expect(seg.steps?.asrMs).toBeGreaterThan(0);
  expect(seg.steps?.mtMs).toBeGreaterThan(0);
  expect(seg.steps?.ttsMs).toBeGreaterThan(0);
}

describe('EmbeddedDubSource en -> es', () => {
  it('translates synthesised English speech (two utterances) into Spanish speech', async () => {
    const s1 = 'I would like to translate this sentence into Spanish in real time.';
    const s2 = 'The weather is very good today.';
    const a = await englishSpeech(s1);
    const b = await englishSpeech(s2);
    const input = new Float32Array(a.length + b.length);
    input.set(a);
    input.set(b, a.length);
    const source = new EmbeddedDubSource({ targetLanguage: 'es' });
    const speechStarts: number[] = [];
    source.on('speechStart', ({ sourceStartMs }) => speechStarts.push(sourceStartMs));
    try {
      const r = await dubRecording(source, input, 16000);
      expect(r.errors).toEqual([]);
      expect(r.segments.length).toBe(2);
      expect(speechStarts.length).toBe(2);
      for (const [i, ref] of [s1, s2].entries()) {
        const seg = r.segments[i]!;
        const expected = contentWords(await referenceTranslation(ref, 'es'));
        const { ratio, found } = overlap(expected, seg.text ?? '');
        expect(ratio, `found ${found.join(',')} of ${expected.join(',')}`).toBeGreaterThanOrEqual(0.8);
        expect(seg.language).toBe('es');
        checkSegmentAudio(seg);
      }
      // The second utterance starts after the first on the source clock (~ its 500 ms padding + its length).
      expect(r.segments[1]!.sourceStartMs).toBeGreaterThan(r.segments[0]!.sourceEndMs);
      expect(r.segments[0]!.sourceStartMs).toBeGreaterThan(300);
      expect(r.segments[0]!.sourceStartMs).toBeLessThan(700);
    } finally {
      source.close();
    }
  });

  it.each(Object.keys(librivoxText))('translates LibriVox read speech (clip %s)', async (clip) => {
    const wav = readWav(join(LIBRIVOX, `sense_and_sensibility_01_austen_64kb-${clip}.wav`));
    const source = new EmbeddedDubSource({ targetLanguage: 'es' });
    try {
      const r = await dubRecording(source, toMono(wav), wav.sampleRate);
      expect(r.segments.length).toBeGreaterThanOrEqual(1);
      const text = r.segments.map((s) => s.text).join(' ');
      const expected = contentWords(await referenceTranslation(librivoxText[clip]!, 'es'));
      const { ratio, found } = overlap(expected, text);
      // Recognition of read speech is rough (pocketsphinx en-us): about half the content words survive.
      expect(ratio, `found ${found.join(',')} of ${expected.join(',')} in "${text}"`).toBeGreaterThanOrEqual(0.4);
      for (const seg of r.segments) checkSegmentAudio(seg);
    } finally {
      source.close();
    }
  });
});

describe('EmbeddedDubSource options and errors', () => {
  it('translates to French through Spanish', async () => {
    const source = new EmbeddedDubSource({ targetLanguage: 'fr' });
    try {
      const r = await dubRecording(source, await englishSpeech('The weather is very good today.'), 16000);
      expect(r.segments.length).toBe(1);
      const expected = contentWords(await referenceTranslation('The weather is very good today.', 'fr'));
      expect(overlap(expected, r.segments[0]!.text ?? '').ratio).toBeGreaterThanOrEqual(0.8);
    } finally {
      source.close();
    }
  });

  it('rejects unsupported languages with the supported ones, and bad frames with a reason', async () => {
    expect(() => new EmbeddedDubSource({ targetLanguage: 'de' })).toThrow(/supported: es, ca, fr, en/);
    expect(() => new EmbeddedDubSource({ sourceLanguage: 'es', targetLanguage: 'en' })).toThrow(/English only/);
    const source = new EmbeddedDubSource({ targetLanguage: 'en' });
    await source.start();
    expect(() =>
      source.pushAudio({
        data: new Int16Array(10),
        sampleRate: 16000,
        channels: 1,
        samplesPerChannel: 20,
        timestampUs: 0,
      }),
    ).toThrow(/samplesPerChannel/);
    expect(() =>
      source.pushAudio({ data: new Int16Array(10), sampleRate: 3, channels: 1, samplesPerChannel: 10, timestampUs: 0 }),
    ).toThrow(/sampleRate/);
    source.close();
    source.close(); // idempotent
    expect(source.closed).toBe(true);
  });

  it('passes English through with the original audio when asked for en', async () => {
    const input = await englishSpeech('Good morning everybody.');
    const source = new EmbeddedDubSource({ targetLanguage: 'en' });
    try {
      const r = await dubRecording(source, input, 16000, { trimPauses: false });
      expect(r.segments.length).toBe(1);
      const seg = r.segments[0]!;
      const at = Math.round((seg.sourceStartMs * 16000) / 1000);
      for (let i = 0; i < seg.pcm.length; i += 97) expect(seg.pcm[i]).toBeCloseTo(input[at + i]!, 4); // 16-bit frames in
    } finally {
      source.close();
    }
  });

  it('clear() drops the utterance in progress (barge-in); later speech is dubbed again', async () => {
    const speech = await englishSpeech('Good morning everybody.');
    const source = new EmbeddedDubSource({ targetLanguage: 'en' });
    const segments: DubSegment[] = [];
    source.on('segment', (s) => segments.push(s));
    await source.start();
    const push = (x: Float32Array, t0Ms: number) => {
      for (let i = 0; i < x.length; i += 320) {
        const data = Int16Array.from(x.subarray(i, i + 320), (v) => Math.round(v * 32767));
        source.pushAudio({
          data,
          sampleRate: 16000,
          channels: 1,
          samplesPerChannel: data.length,
          timestampUs: (t0Ms + i / 16) * 1000,
        });
      }
    };
    push(speech.subarray(0, Math.round(speech.length * 0.6)), 0); // cut mid-utterance
    source.clear();
    await source.flush();
    expect(segments.length).toBe(0);
    push(speech, 10_000);
    await source.flush();
    expect(segments.length).toBe(1);
    expect(segments[0]!.sourceStartMs).toBeGreaterThan(10_000); // on the clock of the frames after the clear
    source.close();
  });
});
