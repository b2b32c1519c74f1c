/**
 * The frames every pipeline stage speaks. Typed arrays with explicit format fields and microsecond timestamps on the
 * pipeline's one media clock (see io/). `timestampUs` is a plain number: 2^53 us is 285 years, enough for any call.
 */

/** Planar YUV 4:2:0 (Y plane, then U, then V; strides equal the widths) or packed 8-bit RGB / RGBA. */
export type PixelFormat = 'i420' | 'rgb24' | 'rgba';

export interface VideoFrame {
  data: Uint8Array;
  format: PixelFormat;
  width: number;
  height: number;
  /** Presentation time on the pipeline clock. */
  timestampUs: number;
}

/** Interleaved signed 16-bit PCM. */
export interface AudioFrame {
  data: Int16Array;
  sampleRate: number;
  channels: number;
  samplesPerChannel: number;
  /** Presentation time of the first sample on the pipeline clock. */
  timestampUs: number;
}

/** Mono float PCM in [-1, 1], the form the audio models take (16 kHz). */
export interface PcmChunk {
  samples: Float32Array;
  sampleRate: number;
  timestampUs: number;
}

/** Bytes needed for a frame of this format and size. */
export function frameByteLength(format: PixelFormat, width: number, height: number): number {
  switch (format) {
    case 'i420':
      return width * height + 2 * (((width + 1) >> 1) * ((height + 1) >> 1));
    case 'rgb24':
      return width * height * 3;
    case 'rgba':
      return width * height * 4;
  }
}
