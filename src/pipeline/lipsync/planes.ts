/** Views of a frame's pixel planes so one warp serves I420 (3 planes, chroma at half size) and packed RGB(A). */
import type { VideoFrame } from '../media.ts';

export interface PlaneView {
  data: Uint8Array;
  offset: number;
  width: number;
  height: number;
  /** Bytes per row. */
  stride: number;
  /** Bytes per pixel. */
  step: number;
  /** Channels processed (3 for RGB(A), 1 for a YUV plane). */
  channels: number;
  /** Plane coordinate = frame coordinate * scale. */
  scale: number;
}

export function planesOf(frame: VideoFrame): PlaneView[] {
  const { width: w, height: h, data } = frame;
  switch (frame.format) {
    case 'i420': {
      const cw = (w + 1) >> 1;
      const ch = (h + 1) >> 1;
      return [
        { data, offset: 0, width: w, height: h, stride: w, step: 1, channels: 1, scale: 1 },
        { data, offset: w * h, width: cw, height: ch, stride: cw, step: 1, channels: 1, scale: 0.5 },
        { data, offset: w * h + cw * ch, width: cw, height: ch, stride: cw, step: 1, channels: 1, scale: 0.5 },
      ];
    }
    case 'rgb24':
      return [{ data, offset: 0, width: w, height: h, stride: w * 3, step: 3, channels: 3, scale: 1 }];
    case 'rgba':
      return [{ data, offset: 0, width: w, height: h, stride: w * 4, step: 4, channels: 3, scale: 1 }];
  }
}

/** A copied rectangle of one plane (tightly packed, `channels` values per pixel). */
export interface PlaneCrop {
  x0: number;
  y0: number;
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

export function cropPlane(p: PlaneView, x0: number, y0: number, x1: number, y1: number): PlaneCrop {
  const ax = Math.max(0, Math.floor(x0));
  const ay = Math.max(0, Math.floor(y0));
  const bx = Math.min(p.width, Math.ceil(x1));
  const by = Math.min(p.height, Math.ceil(y1));
  const width = Math.max(0, bx - ax);
  const height = Math.max(0, by - ay);
  const data = new Uint8Array(width * height * p.channels);
  for (let y = 0; y < height; y++) {
    let src = p.offset + (ay + y) * p.stride + ax * p.step;
    let dst = y * width * p.channels;
    for (let x = 0; x < width; x++, src += p.step) {
      for (let c = 0; c < p.channels; c++) data[dst++] = p.data[src + c]!;
    }
  }
  return { x0: ax, y0: ay, width, height, channels: p.channels, data };
}
