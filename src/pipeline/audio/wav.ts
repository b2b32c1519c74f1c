/**
 * WAV (RIFF) read and write: 8/16/24/32-bit integer PCM and 32/64-bit float, any channel count, decoded to planar
 * Float32 in [-1, 1]. Written files are 16-bit PCM (the form every tool here reads) or 32-bit float.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export interface WavAudio {
  sampleRate: number;
  /** One Float32Array per channel, equal lengths. */
  channels: Float32Array[];
}

export class WavFormatError extends Error {
  override name = 'WavFormatError';
}

/** Decodes a WAV file held in memory. Bad or unsupported content is a WavFormatError that says what was wrong. */
export function decodeWav(buf: Uint8Array, what = 'WAV data'): WavAudio {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const tag = (o: number) => String.fromCharCode(buf[o]!, buf[o + 1]!, buf[o + 2]!, buf[o + 3]!);
  if (buf.byteLength < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') {
    throw new WavFormatError(`${what}: not a RIFF/WAVE file`);
  }
  let fmt: { format: number; channels: number; rate: number; bits: number } | undefined;
  let data: { offset: number; length: number } | undefined;
  let o = 12;
  while (o + 8 <= buf.byteLength) {
    const id = tag(o);
    let size = view.getUint32(o + 4, true);
    const body = o + 8;
    // Streamed writers leave 0 or 0xffffffff as the data size: take the rest of the file.
    if (id === 'data' && (size === 0 || body + size > buf.byteLength)) size = buf.byteLength - body;
    if (id === 'fmt ') {
      if (size < 16) throw new WavFormatError(`${what}: fmt chunk too short`);
      let format = view.getUint16(body, true);
      if (format === 0xfffe && size >= 26) format = view.getUint16(body + 24, true); // WAVE_FORMAT_EXTENSIBLE
      fmt = {
        format,
        channels: view.getUint16(body + 2, true),
        rate: view.getUint32(body + 4, true),
        bits: view.getUint16(body + 14, true),
      };
    } else if (id === 'data') {
      data = { offset: body, length: size };
      break;
    }
    o = body + size + (size & 1);
  }
  if (!fmt) throw new WavFormatError(`${what}: no fmt chunk`);
  if (!data) throw new WavFormatError(`${what}: no data chunk`);
  const { format, channels: nch, rate, bits } = fmt;
  if (nch < 1 || rate < 1) throw new WavFormatError(`${what}: bad format (${nch} channels, ${rate} Hz)`);
  const isFloat = format === 3 && (bits === 32 || bits === 64);
  const isPcm = format === 1 && [8, 16, 24, 32].includes(bits);
  if (!isFloat && !isPcm) {
    throw new WavFormatError(`${what}: unsupported encoding (format tag ${format}, ${bits} bits); use PCM or float`);
  }
  const bytes = bits / 8;
  const frames = Math.floor(data.length / (bytes * nch));
  const channels = Array.from({ length: nch }, () => new Float32Array(frames));
  let p = data.offset;
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < nch; c++, p += bytes) {
      let v: number;
      if (isFloat) v = bits === 32 ? view.getFloat32(p, true) : view.getFloat64(p, true);
      else if (bits === 8) v = (buf[p]! - 128) / 128;
      else if (bits === 16) v = view.getInt16(p, true) / 32768;
      else if (bits === 24) v = ((buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16)) << 8) / 2147483648;
      else v = view.getInt32(p, true) / 2147483648;
      channels[c]![i] = v;
    }
  }
  return { sampleRate: rate, channels };
}

export function readWav(path: string): WavAudio {
  return decodeWav(readFileSync(path), path);
}

/** Mono mix of a decoded file (the average of its channels). */
export function toMono(audio: WavAudio): Float32Array {
  const [first, ...rest] = audio.channels;
  if (!first) return new Float32Array(0);
  if (rest.length === 0) return first;
  const out = new Float32Array(first.length);
  for (const ch of audio.channels) for (let i = 0; i < out.length; i++) out[i]! += ch[i]!;
  const k = 1 / audio.channels.length;
  for (let i = 0; i < out.length; i++) out[i]! *= k;
  return out;
}

/** Encodes planar float channels as WAV: 16-bit PCM (default, clipped) or 32-bit float. */
export function encodeWav(audio: WavAudio, encoding: 'pcm16' | 'float32' = 'pcm16'): Buffer {
  const nch = audio.channels.length;
  if (nch < 1) throw new WavFormatError('encodeWav: no channels');
  const frames = audio.channels[0]!.length;
  const bytes = encoding === 'pcm16' ? 2 : 4;
  const dataLen = frames * nch * bytes;
  const out = Buffer.alloc(44 + dataLen);
  out.write('RIFF', 0, 'ascii');
  out.writeUInt32LE(36 + dataLen, 4);
  out.write('WAVEfmt ', 8, 'ascii');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(encoding === 'pcm16' ? 1 : 3, 20);
  out.writeUInt16LE(nch, 22);
  out.writeUInt32LE(audio.sampleRate, 24);
  out.writeUInt32LE(audio.sampleRate * nch * bytes, 28);
  out.writeUInt16LE(nch * bytes, 32);
  out.writeUInt16LE(bytes * 8, 34);
  out.write('data', 36, 'ascii');
  out.writeUInt32LE(dataLen, 40);
  let p = 44;
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < nch; c++, p += bytes) {
      const v = audio.channels[c]![i] ?? 0;
      if (encoding === 'pcm16') out.writeInt16LE(floatToInt16(v), p);
      else out.writeFloatLE(v, p);
    }
  }
  return out;
}

export function writeWav(path: string, audio: WavAudio, encoding: 'pcm16' | 'float32' = 'pcm16'): void {
  writeFileSync(path, encodeWav(audio, encoding));
}

export function floatToInt16(v: number): number {
  const s = Math.round(v * 32768);
  return s > 32767 ? 32767 : s < -32768 ? -32768 : s;
}

/** Float [-1, 1] to interleaved-ready Int16 (clipped). */
export function floatToInt16Array(samples: Float32Array): Int16Array {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = floatToInt16(samples[i]!);
  return out;
}

export function int16ToFloatArray(samples: Int16Array): Float32Array {
  const out = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = samples[i]! / 32768;
  return out;
}
