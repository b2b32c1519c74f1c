import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run as translate } from '../../src/cli/commands/translate.ts';
import { UsageError } from '../../src/cli/args.ts';
import { resample } from '../../src/pipeline/audio/resample.ts';
import { floatToInt16Array, readWav, toMono, writeWav } from '../../src/pipeline/audio/wav.ts';
import { InterpreterDubSource, type DubSegment } from '../../src/pipeline/dub/index.ts';
import { englishSpeech, rms } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'lipsync-dub-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Pushes mono float audio as stereo 48 kHz 10 ms frames (as an SFU tap would deliver after decoding Opus). */
function pushStereo48k(source: InterpreterDubSource, mono16k: Float32Array): Float32Array {
  const mono = resample(mono16k, 16000, 48000);
  for (let i = 0; i < mono.length; i += 480) {
    const part = floatToInt16Array(mono.subarray(i, i + 480));
    const data = new Int16Array(part.length * 2);
    part.forEach((v, k) => {
      data[2 * k] = v;
      data[2 * k + 1] = v;
    });
    source.pushAudio({
      data,
      sampleRate: 48000,
      channels: 2,
      samplesPerChannel: part.length,
      timestampUs: 5e6 + (i / 48) * 1000,
    });
  }
  return mono;
}

describe('InterpreterDubSource', () => {
  it('vad mode: one segment per utterance of the interpreter, cut from the original-rate audio', async () => {
    const a = await englishSpeech('Good morning everybody.', 700);
    const b = await englishSpeech('Thank you for coming.', 700);
    const input = new Float32Array(a.length + b.length);
    input.set(a);
    input.set(b, a.length);
    const source = new InterpreterDubSource({ language: 'es' });
    const segments: DubSegment[] = [];
    source.on('segment', (s) => segments.push(s));
    await source.start();
    const mono48 = pushStereo48k(source, input);
    await source.flush();
    source.close();
    expect(segments.length).toBe(2);
    for (const s of segments) {
      expect(s.sampleRate).toBe(48000);
      expect(s.language).toBe('es');
      // Same audio as the interpreter's, at its place on the clock (origin 5 s).
      const at = Math.round(((s.sourceStartMs - 5000) * 48000) / 1000);
      let maxDiff = 0;
      for (let i = 0; i < s.pcm.length; i += 31) maxDiff = Math.max(maxDiff, Math.abs(s.pcm[i]! - mono48[at + i]!));
      expect(maxDiff).toBeLessThan(1e-3);
      expect(rms(s.pcm)).toBeGreaterThan(0.01);
      expect(s.latencyMs).toBeGreaterThanOrEqual(0);
    }
    expect(segments[0]!.sourceStartMs).toBeGreaterThan(5500);
    expect(segments[1]!.sourceStartMs).toBeGreaterThan(segments[0]!.sourceEndMs);
  });

  it('continuous mode: fixed chunks, no gaps', async () => {
    const source = new InterpreterDubSource({ language: 'fr', mode: 'continuous', chunkMs: 100 });
    const segments: DubSegment[] = [];
    source.on('segment', (s) => segments.push(s));
    await source.start();
    pushStereo48k(source, new Float32Array(16000).fill(0.01));
    await source.flush();
    expect(segments.length).toBe(10);
    for (let i = 1; i < segments.length; i++)
      expect(segments[i]!.sourceStartMs).toBeCloseTo(segments[i - 1]!.sourceEndMs, 6);
    source.close();
    source.close();
  });
});

describe('lipsync translate', () => {
  it('writes the dubbed WAV on the delayed timeline and the segment JSON', async () => {
    const inPath = join(dir, 'in.wav');
    const speech = await englishSpeech('The weather is very good today.', 400);
    writeWav(inPath, { sampleRate: 16000, channels: [speech] });
    const out = join(dir, 'out.wav');
    const json = join(dir, 'meta.json');
    const code = await translate(['--to', 'es', '--in', inPath, '--out', out, '--json', json, '--delay-ms', '1000']);
    expect(code).toBe(0);
    const meta = JSON.parse(readFileSync(json, 'utf8')) as {
      delayMs: number;
      segments: {
        sourceStartMs: number;
        sourceEndMs: number;
        text: string;
        translation: string;
        outputStartMs: number;
        outputEndMs: number;
        latencyMs: number;
        phonemes: { phoneme: string; startMs: number; endMs: number }[];
      }[];
    };
    expect(meta.delayMs).toBe(1000);
    expect(meta.segments.length).toBe(1);
    const s = meta.segments[0]!;
    expect(s.text).toMatch(/weather/);
    expect(s.translation.toLowerCase()).toMatch(/tiempo/);
    expect(s.outputStartMs).toBeCloseTo(s.sourceStartMs + 1000, 0);
    expect(s.latencyMs).toBeGreaterThan(0);
    expect(s.phonemes.length).toBeGreaterThan(10);
    const wav = readWav(out);
    expect(wav.sampleRate).toBe(24000);
    const pcm = toMono(wav);
    const before = rms(pcm, 0, ((s.outputStartMs - 50) * 24000) / 1000);
    const during = rms(pcm, (s.outputStartMs * 24000) / 1000, (s.outputEndMs * 24000) / 1000);
    expect(before).toBe(0);
    expect(during).toBeGreaterThan(0.02);
    expect(Math.abs(s.phonemes.at(-1)!.endMs - (s.outputEndMs - s.outputStartMs))).toBeLessThan(50);
  });

  it('says what is wrong with bad options', async () => {
    await expect(translate(['--to', 'de', '--in', '/nonexistent.wav', '--out', '/tmp/x.wav'])).rejects.toThrow();
    await expect(translate(['--in', 'x.wav', '--out', 'y.wav'])).rejects.toThrow(UsageError);
    const inPath = join(dir, 'tiny.wav');
    writeWav(inPath, { sampleRate: 16000, channels: [new Float32Array(160)] });
    await expect(translate(['--to', 'de', '--in', inPath, '--out', join(dir, 'o.wav')])).rejects.toThrow(
      /supported: es, ca, fr, en/,
    );
  });
});
