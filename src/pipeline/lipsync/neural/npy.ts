/**
 * Minimal .npy (NumPy format 1.0) writer and reader for the training data the Python side reads with numpy.load:
 * little-endian float32 ('<f4') and uint8 ('|u1'), C order.
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';

export type NpyArray = Float32Array | Uint8Array;

function header(dtype: string, shape: readonly number[]): Buffer {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Magic (6) + version (2) + length (2) + dict + '\n' must be a multiple of 64.
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  dict = dict.padEnd(total - 10 - 1, ' ') + '\n';
  const h = Buffer.alloc(10);
  h.write('\x93NUMPY', 0, 'latin1');
  h[6] = 1;
  h[7] = 0;
  h.writeUInt16LE(dict.length, 8);
  return Buffer.concat([h, Buffer.from(dict, 'latin1')]);
}

function dtypeOf(data: NpyArray): string {
  return data instanceof Float32Array ? '<f4' : '|u1';
}

/** Writes `data` with `shape` (product must equal data.length) to `path`. */
export function writeNpy(path: string, data: NpyArray, shape: readonly number[]): void {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== data.length)
    throw new RangeError(`writeNpy ${path}: shape [${shape.join(', ')}] holds ${n}, data has ${data.length}`);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, header(dtypeOf(data), shape));
    writeSync(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  } finally {
    closeSync(fd);
  }
}

/** Streams a large array to disk in parts (frames of a clip), so a clip never sits whole in memory twice. */
export class NpyStreamWriter {
  private fd: number | null;
  private written = 0;

  constructor(
    private readonly path: string,
    private readonly dtype: 'f4' | 'u1',
    private readonly shape: readonly number[],
  ) {
    this.fd = openSync(path, 'w');
    writeSync(this.fd, header(dtype === 'f4' ? '<f4' : '|u1', shape));
  }

  append(data: NpyArray): void {
    if (this.fd === null) throw new Error(`NpyStreamWriter ${this.path}: closed`);
    if (data instanceof Float32Array !== (this.dtype === 'f4')) throw new TypeError('NpyStreamWriter: wrong dtype');
    writeSync(this.fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    this.written += data.length;
  }

  /** Closes the file; throws when fewer or more values than the shape holds were written. */
  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
    const n = this.shape.reduce((a, b) => a * b, 1);
    if (n !== this.written) throw new RangeError(`NpyStreamWriter ${this.path}: wrote ${this.written} of ${n} values`);
  }
}

/** Reads a .npy written by {@link writeNpy} (or numpy: '<f4' / '|u1', C order). */
export function readNpy(path: string): { data: NpyArray; shape: number[] } {
  const b = readFileSync(path);
  if (b.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${path}: not a .npy file`);
  const major = b[6]!;
  const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const dict = b.toString('latin1', start, start + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(dict)?.[1];
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(dict)?.[1] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  if (/'fortran_order':\s*True/.test(dict)) throw new Error(`${path}: Fortran order not supported`);
  const body = b.subarray(start + hlen);
  const copy = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength);
  if (descr === '<f4') return { data: new Float32Array(copy), shape };
  if (descr === '|u1' || descr === '<u1') return { data: new Uint8Array(copy), shape };
  throw new Error(`${path}: dtype ${descr} not supported (float32 or uint8)`);
}
