/**
 * Dub sources: the embedded offline translator (Silero VAD -> pocketsphinx -> Apertium eng-spa -> espeak-ng es) on
 * real read speech (the five LibriVox clips of Debian pocketsphinx-testdata, 1 s of silence between them), fed at
 * the speed of speech. Latency per segment = end of the spoken utterance (the push of its last speech frame) to the
 * translated audio being ready; it includes the VAD's end-of-utterance wait (minSilenceMs).
 * realTimeFactor = processing time (VAD + ASR + MT + TTS wall time) / audio duration.
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { defaultVadSegmenterOptions } from '../../src/pipeline/audio/vad.ts';
import { readWav, toMono } from '../../src/pipeline/audio/wav.ts';
import { EmbeddedDubSource } from '../../src/pipeline/dub/index.ts';
import { dubRecording } from '../../src/pipeline/dub/offline.ts';
import type { BenchSection, BenchValue } from '../types.ts';

const LIBRIVOX = '/usr/share/pocketsphinx/test/data/librivox';
const CLIPS = ['0870', '0880', '0890', '0920', '0930'];

function percentile(xs: number[], p: number): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
}
const r1 = (x: number): number => Math.round(x * 10) / 10;
const r3 = (x: number): number => Math.round(x * 1000) / 1000;

const section: BenchSection = {
  name: 'dub',
  description:
    'embedded translator en->es (VAD, pocketsphinx, Apertium, espeak-ng) on 5 LibriVox clips paced in real time',
  async run(ctx) {
    const clips = ctx.quick ? CLIPS.slice(0, 2) : CLIPS;
    const parts: Float32Array[] = [];
    for (const c of clips) {
      const wav = readWav(join(LIBRIVOX, `sense_and_sensibility_01_austen_64kb-${c}.wav`));
      if (wav.sampleRate !== 16000) throw new Error(`clip ${c}: expected 16 kHz`);
      parts.push(toMono(wav), new Float32Array(16000));
    }
    const input = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      input.set(p, o);
      o += p.length;
    }
    const source = new EmbeddedDubSource({ targetLanguage: 'es' });
    const load0 = loadavg()[0]!;
    try {
      const r = await dubRecording(source, input, 16000, { realtime: true });
      const lat = r.segments.map((s) => s.latencyMs);
      const steps = r.segments.map((s) => s.steps ?? {});
      const vad = source.vadStats;
      const processingMs = vad.vadMs + steps.reduce((n, s) => n + (s.asrMs ?? 0) + (s.mtMs ?? 0) + (s.ttsMs ?? 0), 0);
      ctx.log(`${r.segments.length} segments, ${r.errors.length} errors over ${r1(r.inputMs / 1000)} s of speech`);
      const out: Record<string, BenchValue> = {
        'dub.input': `${clips.length} LibriVox clips (pocketsphinx-testdata), ${r1(r.inputMs / 1000)} s, real-time paced`,
        'dub.segments': r.segments.length,
        'dub.errors': r.errors.length,
        'dub.segmentLatencyMs.p50': r1(percentile(lat, 0.5)),
        'dub.segmentLatencyMs.p95': r1(percentile(lat, 0.95)),
        'dub.segmentLatencyMs.max': r1(Math.max(...lat)),
        'dub.vadEndpointWaitMs': defaultVadSegmenterOptions.minSilenceMs,
        'dub.realTimeFactor': r3(processingMs / r.inputMs),
        'dub.asrMs.p50': r1(
          percentile(
            steps.map((s) => s.asrMs ?? 0),
            0.5,
          ),
        ),
        'dub.mtMs.p50': r1(
          percentile(
            steps.map((s) => s.mtMs ?? 0),
            0.5,
          ),
        ),
        'dub.ttsMs.p50': r1(
          percentile(
            steps.map((s) => s.ttsMs ?? 0),
            0.5,
          ),
        ),
        'dub.vadMsPerFrame': r3(vad.vadMs / Math.max(1, vad.frames)),
        'dub.loadAvg1m': Math.round(((load0 + loadavg()[0]!) / 2) * 100) / 100,
      };
      return out;
    } finally {
      source.close();
    }
  },
};

export default section;
