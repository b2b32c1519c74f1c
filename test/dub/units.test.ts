import { describe, expect, it } from 'vitest';
import { resample, Resampler } from '../../src/pipeline/audio/resample.ts';
import { VAD_FRAME_MS, VAD_FRAME_SAMPLES, VadSegmenter } from '../../src/pipeline/audio/vad.ts';
import { decodeWav, encodeWav } from '../../src/pipeline/audio/wav.ts';
import {
  ANY_SPEAKER,
  DubError,
  DubTimeline,
  InterpreterRegistry,
  translationRoute,
  trimSegmentPauses,
  type DubSegment,
} from '../../src/pipeline/dub/index.ts';
import { checkEmbeddedLanguages } from '../../src/pipeline/dub/languages.ts';
import { parseEspeakPhonemes, parseFestivalSegments } from '../../src/pipeline/dub/engines/tts.ts';
import { parsePocketsphinx } from '../../src/pipeline/dub/engines/pocketsphinx.ts';

function sine(freq: number, rate: number, ms: number, amp = 0.5): Float32Array {
  const n = Math.round((rate * ms) / 1000);
  return Float32Array.from({ length: n }, (_, i) => amp * Math.sin((2 * Math.PI * freq * i) / rate));
}

/** Amplitude of `freq` in `x` (single-bin DFT). */
function toneAmplitude(x: Float32Array, freq: number, rate: number): number {
  let re = 0;
  let im = 0;
  for (let i = 0; i < x.length; i++) {
    re += x[i]! * Math.cos((2 * Math.PI * freq * i) / rate);
    im -= x[i]! * Math.sin((2 * Math.PI * freq * i) / rate);
  }
  return (2 * Math.hypot(re, im)) / x.length;
}

describe('resample', () => {
  it('keeps a tone in the pass band and its length, for several rate pairs', () => {
    for (const [from, to] of [
      [48000, 16000],
      [16000, 48000],
      [44100, 16000],
      [22050, 24000],
    ] as const) {
      const x = sine(440, from, 500);
      const y = resample(x, from, to);
      expect(y.length).toBe(Math.round((x.length * to) / from));
      const core = y.subarray(Math.round(to * 0.05), Math.round(to * 0.45));
      expect(toneAmplitude(core, 440, to)).toBeCloseTo(0.5, 2);
    }
  });

  it('removes content above the new Nyquist frequency (no aliasing)', () => {
    const y = resample(sine(7000, 48000, 500), 48000, 8000);
    const core = y.subarray(400, 3600);
    // 7 kHz would alias to 1 kHz at 8 kHz.
    expect(toneAmplitude(core, 1000, 8000)).toBeLessThan(0.005);
  });

  it('streams to the same result as one shot', () => {
    const x = sine(300, 44100, 300);
    const r = new Resampler(44100, 16000);
    const parts: Float32Array[] = [];
    for (let i = 0; i < x.length; i += 441) parts.push(r.process(x.subarray(i, i + 441)));
    parts.push(r.flush());
    const streamed = Float32Array.from(parts.flatMap((p) => [...p]));
    const oneShot = resample(x, 44100, 16000);
    expect(streamed.length).toBe(oneShot.length);
    let maxDiff = 0;
    for (let i = 0; i < oneShot.length; i++) maxDiff = Math.max(maxDiff, Math.abs(streamed[i]! - oneShot[i]!));
    expect(maxDiff).toBeLessThan(1e-6);
  });

  it('rejects bad rates', () => {
    expect(() => new Resampler(0, 16000)).toThrow(/positive/);
  });
});

describe('wav', () => {
  it('round-trips 16-bit PCM and float, stereo', () => {
    const ch = [sine(440, 8000, 100), sine(220, 8000, 100, 0.25)];
    for (const enc of ['pcm16', 'float32'] as const) {
      const back = decodeWav(encodeWav({ sampleRate: 8000, channels: ch }, enc));
      expect(back.sampleRate).toBe(8000);
      expect(back.channels.length).toBe(2);
      for (let i = 0; i < 800; i += 37) expect(back.channels[1]![i]).toBeCloseTo(ch[1]![i]!, 3);
    }
  });

  it('says what is wrong with a bad file', () => {
    expect(() => decodeWav(Buffer.from('not a wav file at all'))).toThrow(/not a RIFF\/WAVE/);
  });
});

describe('VadSegmenter', () => {
  const frame = new Float32Array(VAD_FRAME_SAMPLES);
  function run(probs: number[], opts = {}) {
    const seg = new VadSegmenter({ minSilenceMs: 200, speechPadMs: 64, minSpeechMs: 100, ...opts });
    seg.setOrigin(1000);
    const events = probs.flatMap((p) => seg.push(frame, p));
    const last = seg.flush();
    return { events, last };
  }

  it('cuts one segment per utterance with padding, hangover and hysteresis', () => {
    // 10 silent, 20 speech (one dip to 0.4 stays speech: hysteresis), 10 silent, 15 speech, 10 silent.
    const probs = [
      ...new Array<number>(10).fill(0.05),
      ...new Array<number>(9).fill(0.9),
      0.4,
      ...new Array<number>(10).fill(0.9),
    ];
    probs.push(
      ...new Array<number>(10).fill(0.05),
      ...new Array<number>(15).fill(0.8),
      ...new Array<number>(10).fill(0.05),
    );
    const { events, last } = run(probs);
    const ends = events.filter((e) => e.type === 'end');
    expect(events.filter((e) => e.type === 'start').length).toBe(2);
    expect(ends.length).toBe(2);
    expect(last).toBeUndefined();
    const s0 = ends[0]!.type === 'end' ? ends[0]!.segment : undefined;
    expect(s0!.speechStartMs).toBeCloseTo(1000 + 10 * VAD_FRAME_MS, 6);
    expect(s0!.speechEndMs).toBeCloseTo(1000 + 30 * VAD_FRAME_MS, 6);
    expect(s0!.startMs).toBeCloseTo(1000 + 8 * VAD_FRAME_MS, 6); // 2 frames of padding
    expect(s0!.samples.length).toBe((s0!.endMs - s0!.startMs) * 16);
  });

  it('drops clicks shorter than minSpeechMs and cuts overlong speech', () => {
    expect(run([0, 0.9, 0, 0, 0, 0, 0, 0, 0, 0]).events.filter((e) => e.type === 'end')).toHaveLength(0);
    const long = run(new Array<number>(100).fill(0.9), { maxSegmentMs: 1000 });
    const ends = long.events.filter((e) => e.type === 'end');
    expect(ends.length).toBe(3);
    expect(long.last).toBeDefined();
  });
});

function seg(id: number, sourceStartMs: number, durMs: number): DubSegment {
  return {
    id,
    language: 'es',
    sourceStartMs,
    sourceEndMs: sourceStartMs + durMs,
    pcm: new Float32Array(durMs * 16).fill(0.1),
    sampleRate: 16000,
    latencyMs: 0,
  };
}

describe('DubTimeline', () => {
  it('places at source + delay, pushes back long segments and catches up in silences', () => {
    const t = new DubTimeline({ delayMs: 1000 });
    const a = t.place(seg(0, 0, 3000)); // longer than the 2 s until the next source segment
    const b = t.place(seg(1, 2000, 1000)); // pushed back to 4000
    const c = t.place(seg(2, 6000, 500)); // after a pause: on time again
    expect([a.outputStartMs, b.outputStartMs, c.outputStartMs]).toEqual([1000, 4000, 7000]);
    expect(b.lagMs).toBe(1000);
    expect(c.lagMs).toBe(0);
    for (let i = 1; i < t.placed.length; i++) {
      expect(t.placed[i]!.outputStartMs).toBeGreaterThanOrEqual(t.placed[i - 1]!.outputEndMs);
    }
    const pcm = t.render(16000);
    expect(pcm.length).toBe(7500 * 16);
    // Silence before the first dub and in the source pause, sound where segments play.
    expect(pcm[500 * 16]).toBe(0);
    expect(pcm[4500 * 16]).toBeCloseTo(0.1, 5);
    expect(pcm[5500 * 16]).toBe(0);
    expect(() => t.place(seg(3, 100, 10))).toThrow(/before the previous/);
  });

  it('forgets what a live cursor has passed: an hour of 100 ms interpreter chunks stays bounded, placed as before', () => {
    // A live interpreter pipeline: 100 ms chunks of 48 kHz speech (~190 KB/s of PCM), each placed when the speaker's
    // clock reaches its end, the consumer's playback cursor at the speaker's clock (the output clock runs delayMs
    // behind). Lengths vary (50-140 ms, a few chunks run long) so some are pushed back and catch up. The chunks share
    // one buffer (subarrays), so the test's own memory stays small; bytes are counted as what each segment holds.
    const rate = 48_000;
    const pool = new Float32Array((140 * rate) / 1000).fill(0.1);
    const chunk = (id: number, startMs: number, durMs: number): DubSegment => ({
      id,
      language: 'es',
      sourceStartMs: startMs,
      sourceEndMs: startMs + durMs,
      pcm: pool.subarray(0, (durMs * rate) / 1000),
      sampleRate: rate,
      latencyMs: 0,
    });
    const live = new DubTimeline({ delayMs: 1500 });
    const full = new DubTimeline({ delayMs: 1500 }); // the old behaviour: keeps everything
    const bytes = (t: DubTimeline) => t.placed.reduce((n, p) => n + p.segment.pcm.byteLength, 0);
    let seed = 1;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const hourChunks = 36_000;
    let maxCount = 0;
    let maxBytes = 0;
    let maxLag = 0;
    for (let i = 0; i < hourChunks; i++) {
      const startMs = i * 100;
      const durMs = 50 + Math.floor(rand() * 91); // 50..140 ms
      const cursorMs = startMs + 100; // the chunk is emitted once the speaker's clock has passed it
      live.forgetBefore(cursorMs);
      const a = live.place(chunk(i, startMs, durMs));
      const b = full.place(chunk(i, startMs, durMs));
      expect(a.outputStartMs).toBe(b.outputStartMs);
      expect(a.lagMs).toBe(b.lagMs);
      maxLag = Math.max(maxLag, a.lagMs);
      maxCount = Math.max(maxCount, live.placed.length);
      maxBytes = Math.max(maxBytes, bytes(live));
    }
    expect(maxLag).toBeGreaterThan(0); // some chunks were pushed back
    expect(live.endMs).toBe(full.endMs);
    expect(live.forgottenCount + live.placed.length).toBe(hourChunks);
    // Without forgetting: every chunk of the hour (~0.7 GB of PCM). With it: the delay's worth and the lag.
    expect(full.placed.length).toBe(hourChunks);
    const fullBytes = bytes(full);
    expect(fullBytes).toBeGreaterThan(600e6);
    expect(maxCount).toBeLessThanOrEqual(30);
    expect(maxBytes).toBeLessThan(600e3);
    console.log(
      `DubTimeline, 1 h of 100 ms chunks at 48 kHz: retained ${full.placed.length} segments / ${(fullBytes / 1e6).toFixed(1)} MB` +
        ` without forgetBefore, at most ${maxCount} / ${(maxBytes / 1e3).toFixed(1)} KB with it (max lag ${maxLag} ms)`,
    );
  });

  it('places, rejects and pushes back exactly as before once the previous segments are forgotten', () => {
    const t = new DubTimeline({ delayMs: 1000 });
    const a = t.place(seg(0, 0, 3000)); // 1000-4000
    expect(t.forgetBefore(3999)).toBe(0); // not entirely in the past yet
    expect(t.placed).toHaveLength(1);
    expect(t.forgetBefore(4000)).toBe(1); // ends at the cursor: forgotten
    expect(t.placed).toHaveLength(0);
    expect(t.last).toBe(a);
    expect(t.endMs).toBe(4000);
    // Still checked against the forgotten segment: source order, and no overlap with its output span.
    expect(() => t.place(seg(1, -1, 10))).toThrow(/before the previous one \(0 ms\)/);
    const b = t.place(seg(1, 2000, 1000)); // nominal 3000, inside the forgotten 1000-4000: pushed back to 4000
    expect([b.outputStartMs, b.lagMs]).toEqual([4000, 1000]);
    expect(t.forgetBefore(4500)).toBe(0);
    const c = t.place(seg(2, 2000, 500)); // same source start as the previous: allowed, placed after it
    expect([c.outputStartMs, c.lagMs]).toEqual([5000, 2000]);
    expect(t.forgetBefore(100_000)).toBe(2);
    expect(() => t.place(seg(3, 1999, 10))).toThrow(/before the previous one \(2000 ms\)/);
    const d = t.place(seg(3, 6000, 500)); // after a pause: on time again
    expect([d.outputStartMs, d.lagMs]).toEqual([7000, 0]);
    expect(t.forgottenCount).toBe(3);
    expect(t.placed).toEqual([d]);
    // Forgotten segments render as silence; the retained one as before.
    const pcm = t.render(16000);
    expect(pcm.length).toBe(7500 * 16);
    expect(pcm[2000 * 16]).toBe(0);
    expect(pcm[7200 * 16]).toBeCloseTo(0.1, 5);
  });

  it('trims synthesised pauses and shifts the phonemes', () => {
    const s = {
      ...seg(0, 0, 1000),
      phonemes: [
        { phoneme: '_', startMs: 0, endMs: 300, kind: 'pause' as const },
        { phoneme: 'a', startMs: 300, endMs: 700, kind: 'speech' as const },
        { phoneme: '_', startMs: 700, endMs: 1000, kind: 'pause' as const },
      ],
    };
    const t = trimSegmentPauses(s, 40);
    expect(t.pcm.length).toBe(480 * 16);
    expect(t.phonemes![1]).toMatchObject({ startMs: 40, endMs: 440 });
  });
});

describe('InterpreterRegistry', () => {
  it('maps speaker and language to an interpreter, with a floor fallback and peer removal', () => {
    const r = new InterpreterRegistry();
    expect(r.assign('alice', 'es', 'ivan')).toBeUndefined();
    expect(r.assign(ANY_SPEAKER, 'fr', 'fanny')).toBeUndefined();
    expect(r.assign('alice', 'es', 'irene')).toBe('ivan');
    expect(r.interpreterFor('alice', 'es')).toBe('irene');
    expect(r.interpreterFor('bob', 'fr')).toBe('fanny');
    expect(r.interpreterFor('bob', 'es')).toBeUndefined();
    expect(r.languagesFor('alice')).toEqual(['es', 'fr']);
    expect(r.languagesFor('fanny')).toEqual([]); // an interpreter is not dubbed by itself
    expect(r.speakersOf('irene', 'es')).toEqual(['alice']);
    expect(r.removePeer('irene')).toEqual([{ speakerId: 'alice', language: 'es', interpreterId: 'irene' }]);
    expect(r.size).toBe(1);
    expect(() => r.assign('bob', 'Spanish!', 'x')).toThrow(/BCP-47/);
    expect(() => r.assign('bob', 'es', 'bob')).toThrow(/itself/);
  });
});

describe('languages', () => {
  it('routes direct pairs and pivots through Spanish', () => {
    expect(translationRoute('en', 'es')).toEqual(['eng-spa']);
    expect(translationRoute('en', 'fr')).toEqual(['eng-spa', 'es-fr']);
    expect(translationRoute('es', 'ca')).toEqual(['spa-eng', 'eng-cat']);
    expect(translationRoute('ca', 'fr')).toEqual(['cat-eng', 'eng-spa', 'es-fr']);
    expect(translationRoute('fr', 'fr')).toEqual([]);
  });

  it('lists the supported pairs for an unsupported one, and says ASR is English only', () => {
    expect(() => translationRoute('en', 'de')).toThrow(/supported pairs: en->es, es->en, en->ca/);
    try {
      checkEmbeddedLanguages('es', 'en');
    } catch (err) {
      expect(err).toBeInstanceOf(DubError);
      expect((err as DubError).message).toMatch(/English only/);
    }
    expect(() => checkEmbeddedLanguages('es', 'en')).toThrow(DubError);
  });
});

describe('tool output parsers', () => {
  it('pocketsphinx: words with times, fillers and alternates removed', () => {
    const r = parsePocketsphinx(
      'he was\n<s> 0.000 0.060 0.99\nhe 0.210 0.320 0.99\nwas(2) 0.330 0.540 0.9\n[SPEECH] 0.98 1.1 0.5\n',
    );
    expect(r.text).toBe('he was');
    expect(r.words[1]).toEqual({ word: 'was', startMs: 330, endMs: 540 });
  });

  it('espeak and festival phoneme lines', () => {
    const e = parseEspeakPhonemes('rate 22050\nph 0 n\nph 80 o\nph 160 \nph 170 _\nph 300 a\nsamples 8820\n', 400);
    expect(e).toEqual([
      { phoneme: 'n', startMs: 0, endMs: 80, kind: 'speech' },
      { phoneme: 'o', startMs: 80, endMs: 160, kind: 'speech' },
      { phoneme: '_', startMs: 160, endMs: 300, kind: 'pause' },
      { phoneme: 'a', startMs: 300, endMs: 400, kind: 'speech' },
    ]);
    const f = parseFestivalSegments('SEG pau 0.165\nSEG hh 0.255\nSEG ax 0.285\n');
    expect(f.map((p) => p.phoneme)).toEqual(['_', 'h', 'ə']);
    expect(f[1]).toMatchObject({ startMs: 165, endMs: 255 });
  });
});
