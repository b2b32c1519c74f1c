/**
 * Speech synthesis with the exact phoneme timings of the audio it made: Festival where a natural voice is installed
 * (English: cmu_us_slt_arctic_hts; Catalan: upc_ca_ona_hts), espeak-ng otherwise (through the project's own
 * `espeak-phonemes` program, which reports espeak-ng's phoneme events with their audio positions).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readWav, toMono } from '../../audio/wav.ts';
import { dataPackages, findTool, type ProcessGroup } from '../tools.ts';
import { DubError, type PhonemeTiming } from '../types.ts';

export type TtsEngine = 'festival' | 'espeak-ng';

export interface SynthesisResult {
  pcm: Float32Array;
  sampleRate: number;
  phonemes: PhonemeTiming[];
  engine: TtsEngine;
  voice: string;
  wallMs: number;
}

/** espeak-ng voice per language. */
const espeakVoices: Readonly<Record<string, string>> = { es: 'es', ca: 'ca', fr: 'fr', en: 'en-us' };

/** Festival voices per language, used only when the voice's Debian package is installed. */
const festivalVoices: Readonly<Record<string, { fn: string; dir: string }>> = {
  en: { fn: 'voice_cmu_us_slt_arctic_hts', dir: dataPackages.festivalSlt.path },
  ca: { fn: 'voice_upc_ca_ona_hts', dir: dataPackages.festivalOna.path },
};

/** The engine and voice `synthesize` will use for a language, or `engine` forced. */
export function chooseVoice(language: string, engine?: TtsEngine): { engine: TtsEngine; voice: string } {
  const fest = festivalVoices[language];
  if (engine !== 'espeak-ng' && fest && existsSync(fest.dir)) return { engine: 'festival', voice: fest.fn };
  if (engine === 'festival') {
    throw new DubError(
      'missing-tool',
      fest
        ? `no Festival voice for '${language}': install ${language === 'en' ? dataPackages.festivalSlt.pkg : dataPackages.festivalOna.pkg}`
        : `no Festival voice for '${language}' here; use espeak-ng`,
    );
  }
  const voice = espeakVoices[language];
  if (!voice) {
    throw new DubError(
      'unsupported-language',
      `no synthesis voice for '${language}'; supported: ${Object.keys(espeakVoices).join(', ')}`,
    );
  }
  return { engine: 'espeak-ng', voice };
}

export async function synthesize(
  procs: ProcessGroup,
  text: string,
  language: string,
  opts: { engine?: TtsEngine } = {},
): Promise<SynthesisResult> {
  const { engine, voice } = chooseVoice(language, opts.engine);
  const dir = mkdtempSync(join(tmpdir(), 'lipsync-tts-'));
  try {
    return engine === 'festival'
      ? await festivalSynth(procs, text, voice, dir)
      : await espeakSynth(procs, text, voice, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// --- espeak-ng -------------------------------------------------------------------------------------------------

async function espeakSynth(procs: ProcessGroup, text: string, voice: string, dir: string): Promise<SynthesisResult> {
  const out = join(dir, 'tts.wav');
  const r = await procs.run(findTool('espeak-phonemes'), [voice, out], {
    input: text,
    timeoutMs: 30_000,
    what: 'espeak-phonemes',
  });
  const wav = readWav(out);
  const pcm = toMono(wav);
  const phonemes = parseEspeakPhonemes(r.stdout.toString('utf8'), (pcm.length / wav.sampleRate) * 1000);
  return { pcm, sampleRate: wav.sampleRate, phonemes, engine: 'espeak-ng', voice, wallMs: r.wallMs };
}

/**
 * `ph MS NAME` lines give each phoneme's start; it ends where the next starts, the last at the end of the audio.
 * espeak-ng names pauses `_`/`_:` (IPA mode: an empty name); zero-length events are dropped.
 */
export function parseEspeakPhonemes(out: string, audioMs: number): PhonemeTiming[] {
  const starts: { ms: number; name: string }[] = [];
  for (const line of out.split('\n')) {
    if (!line.startsWith('ph ')) continue;
    const sp = line.indexOf(' ', 3);
    const ms = Number(line.slice(3, sp < 0 ? undefined : sp));
    const name = sp < 0 ? '' : line.slice(sp + 1).trim();
    if (Number.isFinite(ms)) starts.push({ ms, name });
  }
  const phonemes: PhonemeTiming[] = [];
  for (let i = 0; i < starts.length; i++) {
    const { ms, name } = starts[i]!;
    const end = i + 1 < starts.length ? starts[i + 1]!.ms : audioMs;
    if (end <= ms) continue;
    const pause = name === '' || name.startsWith('_');
    const prev = phonemes.at(-1);
    if (pause && prev?.kind === 'pause') {
      prev.endMs = end; // `_:` then `_`: one pause
      continue;
    }
    phonemes.push({ phoneme: pause ? '_' : name, startMs: ms, endMs: end, kind: pause ? 'pause' : 'speech' });
  }
  return phonemes;
}

// --- Festival --------------------------------------------------------------------------------------------------

/** Festival's US English (radio) phone set in IPA. */
const radioToIpa: Readonly<Record<string, string>> = {
  aa: 'ɑ', ae: 'æ', ah: 'ʌ', ao: 'ɔ', aw: 'aʊ', ax: 'ə', axr: 'ɚ', ay: 'aɪ', b: 'b', ch: 'tʃ', d: 'd', dh: 'ð',
  dx: 'ɾ', eh: 'ɛ', el: 'l̩', em: 'm̩', en: 'n̩', er: 'ɝ', ey: 'eɪ', f: 'f', g: 'ɡ', hh: 'h', ih: 'ɪ', iy: 'i',
  jh: 'dʒ', k: 'k', l: 'l', m: 'm', n: 'n', ng: 'ŋ', ow: 'oʊ', oy: 'ɔɪ', p: 'p', r: 'ɹ', s: 's', sh: 'ʃ', t: 't',
  th: 'θ', uh: 'ʊ', uw: 'u', v: 'v', w: 'w', y: 'j', z: 'z', zh: 'ʒ',
}; // prettier-ignore

function schemeString(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[\r\n]+/g, ' ')}"`;
}

async function festivalSynth(procs: ProcessGroup, text: string, voice: string, dir: string): Promise<SynthesisResult> {
  const out = join(dir, 'tts.wav');
  const script = join(dir, 'tts.scm');
  writeFileSync(
    script,
    [
      `(${voice})`,
      `(set! utt (SynthText ${schemeString(text)}))`,
      `(utt.save.wave utt ${schemeString(out)} 'riff)`,
      `(mapcar (lambda (s) (format t "SEG %s %f\\n" (item.name s) (item.feat s "end"))) (utt.relation.items utt 'Segment))`,
      '',
    ].join('\n'),
  );
  const r = await procs.run(findTool('festival'), ['-b', script], { timeoutMs: 60_000, what: 'festival' });
  if (!existsSync(out)) throw new DubError('tool-failed', 'festival wrote no audio', { retryable: true });
  const wav = readWav(out);
  const pcm = toMono(wav);
  const phonemes = parseFestivalSegments(r.stdout.toString('utf8'));
  return { pcm, sampleRate: wav.sampleRate, phonemes, engine: 'festival', voice, wallMs: r.wallMs };
}

/** `SEG name end_seconds` lines of the Segment relation: each phone starts where the previous ended. */
export function parseFestivalSegments(out: string): PhonemeTiming[] {
  const phonemes: PhonemeTiming[] = [];
  let prevEnd = 0;
  for (const line of out.split('\n')) {
    const m = /^SEG (\S+) (-?\d+(?:\.\d+)?)$/.exec(line.trim());
    if (!m) continue;
    const name = m[1]!;
    const end = Math.round(Number(m[2]) * 1000 * 10) / 10;
    if (end <= prevEnd) continue;
    const pause = name === 'pau' || name === 'h#' || name === 'brth' || name === '#';
    phonemes.push({
      phoneme: pause ? '_' : (radioToIpa[name] ?? name),
      startMs: prevEnd,
      endMs: end,
      kind: pause ? 'pause' : 'speech',
    });
    prevEnd = end;
  }
  return phonemes;
}
