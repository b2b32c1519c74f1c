import { writeFileSync } from 'node:fs';
import { readWav, toMono, writeWav } from '../../pipeline/audio/wav.ts';
import {
  DubError,
  EmbeddedDubSource,
  ProviderDubSource,
  embeddedTargetLanguages,
  type DubSource,
  type TtsEngine,
} from '../../pipeline/dub/index.ts';
import { dubRecording } from '../../pipeline/dub/offline.ts';
import { numberOption, parseOptions, UsageError } from '../args.ts';

export const summary = 'translate a speech recording offline: dubbed WAV on the delayed timeline + segment JSON';

const usage = `usage: lipsync translate --to LANG --in SPEECH.wav --out OUT.wav [--json META.json] [options]
  --to LANG          target language: ${embeddedTargetLanguages.join(', ')} (fr goes through Spanish)
  --from LANG        source language (default en; speech recognition is English only)
  --in FILE          input speech (WAV: PCM or float, any rate, mono or mixed to mono)
  --out FILE         dubbed speech, 16-bit WAV, on the output timeline (source time + delay)
  --json FILE        segments: source start/end ms, text, translation, output start ms, phonemes, latency ms
  --delay-ms N       constant delay of the dub behind the source (default 1500)
  --rate HZ          output sample rate (default 24000)
  --tts ENGINE       festival | espeak-ng (default: festival where a natural voice exists, else espeak-ng)
  --english MODE     with --to en: passthrough (default) or tts
  --provider URL     use an external provider (ws://...) speaking docs/provider-protocol.md instead
  --realtime         feed the input at the speed of speech (latency then means what it says)`;

export async function run(argv: string[]): Promise<number> {
  const opts = parseOptions(
    argv,
    {
      to: { type: 'string' },
      from: { type: 'string' },
      in: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'string' },
      'delay-ms': { type: 'string' },
      rate: { type: 'string' },
      tts: { type: 'string' },
      english: { type: 'string' },
      provider: { type: 'string' },
      realtime: { type: 'boolean' },
    },
    usage,
  );
  if (!opts) return 0;
  if (!opts.to) throw new UsageError(`--to is required\n${usage}`);
  if (!opts.in) throw new UsageError(`--in is required\n${usage}`);
  if (!opts.out && !opts.json) throw new UsageError(`give --out and/or --json\n${usage}`);
  const delayMs = numberOption('delay-ms', opts['delay-ms'], 1500, 0, 30_000);
  const rate = numberOption('rate', opts.rate, 24000, 8000, 96000);
  if (opts.tts !== undefined && opts.tts !== 'festival' && opts.tts !== 'espeak-ng') {
    throw new UsageError(`--tts must be festival or espeak-ng, got '${opts.tts}'`);
  }
  if (opts.english !== undefined && opts.english !== 'passthrough' && opts.english !== 'tts') {
    throw new UsageError(`--english must be passthrough or tts, got '${opts.english}'`);
  }
  const wav = readWav(opts.in);
  const mono = toMono(wav);

  let source: DubSource;
  try {
    source = opts.provider
      ? new ProviderDubSource({ url: opts.provider, sourceLanguage: opts.from ?? 'en', targetLanguage: opts.to })
      : new EmbeddedDubSource({
          sourceLanguage: opts.from ?? 'en',
          targetLanguage: opts.to,
          ...(opts.tts ? { ttsEngine: opts.tts as TtsEngine } : {}),
          ...(opts.english ? { englishMode: opts.english } : {}),
        });
  } catch (err) {
    if (err instanceof DubError && err.code === 'unsupported-language') throw new UsageError(err.message);
    throw err;
  }
  try {
    const result = await dubRecording(source, mono, wav.sampleRate, {
      realtime: opts.realtime === true,
      timeline: { delayMs },
      onError: (err) => console.error(`lipsync translate: ${err.message}`),
    });
    const inputMs = result.inputMs;
    if (opts.out) {
      const endMs = Math.max(inputMs + delayMs, result.timeline.endMs);
      writeWav(opts.out, { sampleRate: rate, channels: [result.timeline.render(rate, 0, endMs)] });
    }
    if (opts.json) {
      const meta = {
        input: { file: opts.in, sampleRate: wav.sampleRate, durationMs: round(inputMs) },
        sourceLanguage: source.sourceLanguage,
        targetLanguage: source.targetLanguage,
        source: source.kind,
        delayMs,
        processingMs: round(result.wallMs),
        realTimeFactor: round(result.wallMs / inputMs, 3),
        segments: result.placed.map((p) => ({
          id: p.segment.id,
          sourceStartMs: round(p.segment.sourceStartMs),
          sourceEndMs: round(p.segment.sourceEndMs),
          text: p.segment.sourceText ?? null,
          translation: p.segment.text ?? null,
          outputStartMs: round(p.outputStartMs),
          outputEndMs: round(p.outputEndMs),
          lagMs: round(p.lagMs),
          durationMs: round(p.outputEndMs - p.outputStartMs),
          latencyMs: round(p.segment.latencyMs),
          steps: p.segment.steps ?? null,
          phonemes: (p.segment.phonemes ?? []).map((ph) => ({
            phoneme: ph.phoneme,
            kind: ph.kind,
            startMs: round(ph.startMs),
            endMs: round(ph.endMs),
          })),
        })),
        errors: result.errors.map((e) => ({ code: e.code, message: e.message })),
      };
      writeFileSync(opts.json, `${JSON.stringify(meta, null, 2)}\n`);
    }
    console.error(
      `lipsync translate: ${result.segments.length} segment(s), ${round(inputMs / 1000, 2)} s of speech in ${round(result.wallMs / 1000, 2)} s`,
    );
    return result.errors.length && !result.segments.length ? 1 : 0;
  } finally {
    source.close();
  }
}

function round(v: number, digits = 1): number {
  const k = 10 ** digits;
  return Math.round(v * k) / k;
}
