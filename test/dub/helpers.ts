import { ProcessGroup } from '../../src/pipeline/dub/tools.ts';
import { synthesize } from '../../src/pipeline/dub/engines/tts.ts';
import { apertiumTranslate } from '../../src/pipeline/dub/engines/apertium.ts';
import { resample } from '../../src/pipeline/audio/resample.ts';
import type { PhonemeTiming } from '../../src/pipeline/dub/index.ts';

export const LIBRIVOX = '/usr/share/pocketsphinx/test/data/librivox';

/** Reference transcripts of the LibriVox clips (pocketsphinx-testdata's `transcription`). */
export const librivoxText: Record<string, string> = {
  '0880': 'he was not an ill disposed young man',
  '0920': 'had he married a more amiable woman he might have been made still more respectable than he was',
};

/** English speech synthesised here (Festival slt), at 16 kHz, with `padMs` of silence either side. */
export async function englishSpeech(text: string, padMs = 500): Promise<Float32Array> {
  const procs = new ProcessGroup();
  try {
    const r = await synthesize(procs, text, 'en');
    const pcm = resample(r.pcm, r.sampleRate, 16000);
    const pad = (padMs * 16000) / 1000;
    const out = new Float32Array(pcm.length + 2 * pad);
    out.set(pcm, pad);
    return out;
  } finally {
    procs.close();
  }
}

export async function referenceTranslation(text: string, to: string): Promise<string> {
  const procs = new ProcessGroup();
  try {
    return (await apertiumTranslate(procs, text, 'en', to)).text;
  } finally {
    procs.close();
  }
}

/** Lower-case words of 4+ letters (the content words of a Spanish/French/Catalan sentence, roughly). */
export function contentWords(text: string): string[] {
  return [...new Set(text.toLowerCase().match(/\p{L}{4,}/gu) ?? [])];
}

export function rms(x: Float32Array, from = 0, to = x.length): number {
  let s = 0;
  const a = Math.max(0, Math.floor(from));
  const b = Math.min(x.length, Math.ceil(to));
  for (let i = a; i < b; i++) s += x[i]! * x[i]!;
  return b > a ? Math.sqrt(s / (b - a)) : 0;
}

/** RMS over the middle 60 % of each phoneme of at least `minMs`. */
export function phonemeEnergies(pcm: Float32Array, rate: number, phonemes: PhonemeTiming[], minMs = 60) {
  return phonemes
    .filter((p) => p.endMs - p.startMs >= minMs)
    .map((p) => {
      const d = p.endMs - p.startMs;
      const a = ((p.startMs + 0.2 * d) * rate) / 1000;
      const b = ((p.endMs - 0.2 * d) * rate) / 1000;
      return { ...p, rms: rms(pcm, a, b) };
    });
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}
