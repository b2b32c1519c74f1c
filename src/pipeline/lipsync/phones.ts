/**
 * Phones -> mouth opening. Phone timings come from a dub source (espeak-ng / Festival give them exactly for their own
 * synthetic speech) or from a phone recogniser over the drive audio (pocketsphinx allphone, English phones, batch:
 * offline dubbing and evaluation only). A hand-written table gives each phone an opening in [0, 1]: open vowels high,
 * mid vowels medium, close vowels and glides small, bilabials and silence closed. The table was written a priori from
 * phonetics (not fitted on the clips).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isNarrowBand } from '../audio/bandwidth.ts';

/** ARPAbet (CMU, stress removed) -> opening. */
const ARPABET_OPENING: Record<string, number> = {
  AA: 1.0,
  AE: 0.9,
  AH: 0.7,
  AO: 0.8,
  AW: 0.85,
  AY: 0.85,
  EH: 0.6,
  EY: 0.55,
  ER: 0.4,
  OW: 0.55,
  OY: 0.6,
  IH: 0.4,
  IY: 0.3,
  UH: 0.35,
  UW: 0.25,
  W: 0.15,
  Y: 0.3,
  R: 0.3,
  HH: 0.5,
  L: 0.35,
  T: 0.3,
  D: 0.3,
  N: 0.3,
  K: 0.35,
  G: 0.35,
  NG: 0.35,
  S: 0.2,
  Z: 0.2,
  SH: 0.25,
  ZH: 0.25,
  CH: 0.25,
  JH: 0.25,
  TH: 0.25,
  DH: 0.25,
  F: 0.1,
  V: 0.1,
  B: 0,
  P: 0,
  M: 0,
  SIL: 0,
};

/** First IPA character (espeak-ng output) -> opening; covers the vowels and consonant classes of the table above. */
const IPA_OPENING: Record<string, number> = {
  a: 1.0,
  ɑ: 1.0,
  æ: 0.9,
  ɐ: 0.75,
  ʌ: 0.7,
  ə: 0.55,
  ɒ: 0.8,
  ɔ: 0.75,
  e: 0.55,
  ɛ: 0.6,
  ɜ: 0.45,
  o: 0.55,
  ø: 0.45,
  œ: 0.55,
  i: 0.3,
  ɪ: 0.4,
  y: 0.25,
  u: 0.25,
  ʊ: 0.35,
  ɨ: 0.3,
  w: 0.15,
  j: 0.3,
  ɹ: 0.3,
  r: 0.3,
  ɾ: 0.3,
  h: 0.5,
  l: 0.35,
  t: 0.3,
  d: 0.3,
  n: 0.3,
  ɲ: 0.3,
  k: 0.35,
  g: 0.35,
  ɡ: 0.35,
  ŋ: 0.35,
  x: 0.4,
  s: 0.2,
  z: 0.2,
  ʃ: 0.25,
  ʒ: 0.25,
  θ: 0.25,
  ð: 0.25,
  f: 0.1,
  v: 0.1,
  β: 0.1,
  b: 0,
  p: 0,
  m: 0,
};

/** Opening in [0, 1] of a phone label (ARPAbet with or without stress digits, or IPA); unknown labels: 0.3. */
export function phoneOpening(label: string | null | undefined): number {
  if (!label) return 0;
  const up = label.toUpperCase().replace(/[0-9]/g, '');
  if (up === 'SIL' || up.startsWith('+') || up === '_' || up === 'PAU') return 0;
  const a = ARPABET_OPENING[up];
  if (a !== undefined) return a;
  const first = [...label.normalize('NFC')][0] ?? '';
  return IPA_OPENING[first] ?? 0.3;
}

export interface PhoneSegment {
  phone: string;
  /** Start, ms from the start of the drive audio (the same clock as its frames). */
  startMs: number;
  endMs: number;
}

/** Sorted phone segments with lookup by time. */
export class PhoneTrack {
  private readonly segs: PhoneSegment[];

  constructor(segments: readonly PhoneSegment[] = []) {
    this.segs = [...segments].sort((a, b) => a.startMs - b.startMs);
  }

  /** Adds segments (e.g. each new dub segment's phonemes); later segments override overlapping earlier ones. */
  add(segments: readonly PhoneSegment[]): void {
    if (!segments.length) return;
    const first = Math.min(...segments.map((s) => s.startMs));
    const last = Math.max(...segments.map((s) => s.endMs));
    const kept = this.segs.filter((s) => s.endMs <= first || s.startMs >= last);
    this.segs.length = 0;
    this.segs.push(...kept, ...segments);
    this.segs.sort((a, b) => a.startMs - b.startMs);
  }

  get segments(): readonly PhoneSegment[] {
    return this.segs;
  }

  /** The phone active at `ms`, or null (silence / not covered). */
  at(ms: number): string | null {
    let lo = 0;
    let hi = this.segs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.segs[mid]!;
      if (ms < s.startMs) hi = mid - 1;
      else if (ms >= s.endMs) lo = mid + 1;
      else return s.phone;
    }
    return null;
  }

  /** Mean opening over [ms - halfMs, ms + halfMs] sampled every 10 ms (a box-smoothed phone-opening curve). */
  openingAround(ms: number, halfMs: number): number {
    let s = 0;
    let n = 0;
    for (let t = ms - halfMs; t <= ms + halfMs + 1e-6; t += 10) {
      s += phoneOpening(this.at(t));
      n++;
    }
    return n ? s / n : 0;
  }
}

const SPHINX_MODEL = '/usr/share/pocketsphinx/model/en-us';

/** True when pocketsphinx with its English model is installed (Debian `pocketsphinx`, `pocketsphinx-en-us`). */
export function allphoneAvailable(): boolean {
  return existsSync(`${SPHINX_MODEL}/en-us-phone.lm.bin`) && existsSync('/usr/bin/pocketsphinx_continuous');
}

/**
 * Top of the recogniser's filterbank on narrow-band speech, Hz (the model's own: 6800). Telephone speech has nothing
 * above ~3.5-4 kHz and the model's top filters then read an empty band. On the 7 close-ups through 8 kHz AAC the
 * evaluation's mouthCorr mean went from 0.356 to 0.473 with this filterbank (wideband: 0.572; without phones: 0.295).
 * 3500 was chosen over 3800 on those clips' phone curves; on wideband speech it is worse than the model's own, so it
 * is used only on narrow-band audio. See docs/engine.md, "Clips in other formats".
 */
export const NARROW_BAND_UPPER_HZ = 3500;

export interface RecognizePhonesOptions {
  /** Narrow-band (telephone) speech: a filterbank up to NARROW_BAND_UPPER_HZ. Default: detected from the audio. */
  narrowBand?: boolean;
}

/**
 * English phone recognition over 16 kHz mono audio with pocketsphinx allphone (a child process; batch, about 0.25x
 * real time on one core). Times are relative to the first sample.
 */
export async function recognizePhones(
  samples: Float32Array,
  sampleRate = 16000,
  options: RecognizePhonesOptions = {},
): Promise<PhoneSegment[]> {
  if (sampleRate !== 16000) throw new TypeError(`recognizePhones needs 16 kHz audio, got ${sampleRate}`);
  const narrowBand = options.narrowBand ?? isNarrowBand(samples, sampleRate);
  const dir = mkdtempSync(join(tmpdir(), 'allphone-'));
  try {
    const wav = join(dir, 'in.wav');
    writeFileSync(wav, encodeWav16(samples, sampleRate));
    const featArgs: string[] = [];
    if (narrowBand) {
      // The model directory's feat.params overrides -upperf given on the command line; -featparams replaces the file.
      const params = readFileSync(`${SPHINX_MODEL}/en-us/feat.params`, 'utf8').replace(/^-upperf .*$/m, '');
      const file = join(dir, 'feat.params');
      writeFileSync(file, `${params.trimEnd()}\n-upperf ${NARROW_BAND_UPPER_HZ}\n`);
      featArgs.push('-featparams', file);
    }
    const args = [
      '-infile',
      wav,
      '-hmm',
      SPHINX_MODEL + '/en-us',
      '-allphone',
      SPHINX_MODEL + '/en-us-phone.lm.bin',
      '-beam',
      '1e-10',
      '-pbeam',
      '1e-10',
      '-lw',
      '2.0',
      '-time',
      'yes',
      ...featArgs,
    ];
    const out = await new Promise<string>((resolve, reject) => {
      const p = spawn('/usr/bin/pocketsphinx_continuous', args, { stdio: ['ignore', 'pipe', 'ignore'] });
      let buf = '';
      p.stdout.setEncoding('utf8');
      p.stdout.on('data', (d: string) => (buf += d));
      p.on('error', reject);
      p.on('close', (code) => (code === 0 ? resolve(buf) : reject(new Error(`pocketsphinx exited with ${code}`))));
    });
    const segs: PhoneSegment[] = [];
    for (const line of out.split('\n')) {
      const m = /^(\S+) (\d+\.\d+) (\d+\.\d+) /.exec(line);
      if (!m) continue;
      segs.push({ phone: m[1]!, startMs: Number(m[2]) * 1000, endMs: Number(m[3]) * 1000 + 10 });
    }
    return segs;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function encodeWav16(samples: Float32Array, sampleRate: number): Buffer {
  const buf = Buffer.alloc(44 + samples.length * 2);
  buf.write('RIFF', 0);
  buf.writeUInt32LE(36 + samples.length * 2, 4);
  buf.write('WAVEfmt ', 8);
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20);
  buf.writeUInt16LE(1, 22);
  buf.writeUInt32LE(sampleRate, 24);
  buf.writeUInt32LE(sampleRate * 2, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36);
  buf.writeUInt32LE(samples.length * 2, 40);
  for (let i = 0; i < samples.length; i++) {
    buf.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(samples[i]! * 32767))), 44 + 2 * i);
  }
  return buf;
}
