/**
 * English word recognition with pocketsphinx (`pocketsphinx_continuous`, batch over one segment's WAV). About 0.25x
 * real time plus ~0.5 s of model loading per call; near perfect on clean synthetic speech, rough on read speech.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeWav } from '../../audio/wav.ts';
import { findTool, requireData, type ProcessGroup } from '../tools.ts';

export interface RecognizedWord {
  word: string;
  startMs: number;
  endMs: number;
}

export interface RecognizeResult {
  text: string;
  words: RecognizedWord[];
  wallMs: number;
}

/** Recognises 16 kHz mono float PCM. Fillers (`<s>`, `<sil>`, `[SPEECH]`...) are dropped from text and words. */
export async function pocketsphinxRecognize(procs: ProcessGroup, pcm16k: Float32Array): Promise<RecognizeResult> {
  const model = requireData('pocketsphinxModel');
  const dir = mkdtempSync(join(tmpdir(), 'lipsync-asr-'));
  const wav = join(dir, 'segment.wav');
  try {
    writeWav(wav, { sampleRate: 16000, channels: [pcm16k] });
    const r = await procs.run(
      findTool('pocketsphinx_continuous'),
      [
        '-infile',
        wav,
        '-hmm',
        join(model, 'en-us'),
        '-lm',
        join(model, 'en-us.lm.bin'),
        '-dict',
        join(model, 'cmudict-en-us.dict'),
        '-time',
        'yes',
        '-logfn',
        '/dev/null',
      ],
      { timeoutMs: 60_000 + pcm16k.length / 4, what: 'pocketsphinx' },
    );
    return { ...parsePocketsphinx(r.stdout.toString('utf8')), wallMs: r.wallMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Output of `-time yes`: per utterance a hypothesis line, then `word start end confidence` lines (seconds).
 * The decoder may split a long segment into several utterances; their words are joined in order.
 */
export function parsePocketsphinx(out: string): Omit<RecognizeResult, 'wallMs'> {
  const words: RecognizedWord[] = [];
  for (const line of out.split('\n')) {
    const m = /^(\S+) (\d+\.\d+) (\d+\.\d+) (-?\d+(?:\.\d+)?)$/.exec(line.trim());
    if (!m) continue;
    const raw = m[1]!;
    if (/^(<.*>|\[.*\]|\+\+.*\+\+)$/.test(raw)) continue;
    words.push({
      word: raw.replace(/\(\d+\)$/, ''), // alternate pronunciations: was(2) -> was
      startMs: Math.round(Number(m[2]) * 1000),
      endMs: Math.round(Number(m[3]) * 1000),
    });
  }
  return { text: words.map((w) => w.word).join(' '), words };
}
