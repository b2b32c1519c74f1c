/**
 * Shared by the SFU tests and the sfu bench: a server on loopback with one worker, and a media feeder that encodes a
 * real clip with Debian's ffmpeg (VP8 + Opus over RTP to local UDP sockets) and writes each packet into werift tracks.
 */
import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { join } from 'node:path';
import type { MediaStreamTrack } from 'werift';
import WebSocket from 'ws';
import { defaultClipsDir } from '../../src/cli/paths.ts';
import { LipsyncServer, type LipsyncServerOptions } from '../../src/sfu/index.ts';

export const TEST_SECRET = 'test-secret-0123456789abcdef';

export function startTestServer(options: LipsyncServerOptions = {}): Promise<LipsyncServer> {
  return LipsyncServer.start({
    port: 0,
    secret: TEST_SECRET,
    tapSettleMs: 100,
    ...(options.pool ? {} : { numWorkers: 1 }),
    ...options,
  });
}

export function clipPath(name = 'vrt_face_2.mp4'): string {
  return join(defaultClipsDir(), name);
}

export interface FeedResult {
  /** Packets written into each track. */
  sent: { audio: number; video: number };
  /** ffmpeg's exit code. */
  exitCode: number | null;
}

export interface FeedOptions {
  clip?: string;
  video?: MediaStreamTrack;
  audio?: MediaStreamTrack;
  /** Seconds of the clip to send (real time). Default: whole clip. */
  durationS?: number;
  /**
   * Start the clip over at its end until `durationS` have been sent (the clips last 4-30 s; without it a longer
   * `durationS` stops at the clip's end).
   */
  loop?: boolean;
  /** Called with each packet just before it is written (for timing in the bench). */
  onPacket?: (kind: 'audio' | 'video', packet: Buffer) => void;
  /** Video size (square). Default 320: enough for the SFU, cheap on shared cores. */
  size?: number;
}

function bindUdp(): Promise<{ socket: Socket; port: number }> {
  const socket = createSocket('udp4');
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve({ socket, port: socket.address().port }));
  });
}

/**
 * Encodes the clip in real time (-re) and writes its RTP into the tracks. Resolves when ffmpeg has finished and the
 * last packets were written.
 */
export async function feedClip({
  clip = clipPath(),
  video,
  audio,
  durationS,
  loop = false,
  onPacket,
  size = 320,
}: FeedOptions): Promise<FeedResult> {
  if (loop && !durationS) throw new Error('feedClip: loop needs durationS');
  const sent = { audio: 0, video: 0 };
  const sockets: Socket[] = [];
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    '-re',
    ...(loop ? ['-stream_loop', '-1'] : []),
    ...(durationS ? ['-t', String(durationS)] : []),
    '-i',
    clip,
  ];
  if (video) {
    const { socket, port } = await bindUdp();
    sockets.push(socket);
    socket.on('message', (packet) => {
      onPacket?.('video', packet);
      sent.video++;
      video.writeRtp(packet);
    });
    args.push(
      ...['-map', '0:v:0', '-vf', `scale=${size}:${size}`, '-c:v', 'libvpx', '-deadline', 'realtime'],
      ...['-cpu-used', '8', '-b:v', '400k', '-g', '25', '-threads', '1', '-pix_fmt', 'yuv420p'],
      ...['-payload_type', '96', '-ssrc', '11111111', '-f', 'rtp', `rtp://127.0.0.1:${port}?pkt_size=1200`],
    );
  }
  if (audio) {
    const { socket, port } = await bindUdp();
    sockets.push(socket);
    socket.on('message', (packet) => {
      onPacket?.('audio', packet);
      sent.audio++;
      audio.writeRtp(packet);
    });
    args.push(
      ...['-map', '0:a:0', '-c:a', 'libopus', '-ar', '48000', '-ac', '2', '-b:a', '48k', '-application', 'voip'],
      ...['-payload_type', '111', '-ssrc', '22222222', '-f', 'rtp', `rtp://127.0.0.1:${port}?pkt_size=1200`],
    );
  }
  const ff = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  ff.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    ff.once('error', reject);
    ff.once('exit', (code) => resolve(code));
  });
  // Let the last datagrams arrive.
  await new Promise((r) => setTimeout(r, 100));
  for (const s of sockets) s.close();
  if (exitCode !== 0) throw new Error(`ffmpeg exited with ${exitCode}: ${stderr.slice(-500)}`);
  return { sent, exitCode };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls until `check` returns true or the time is up. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition') {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** A raw socket that sends text and reads the server's replies in order. */
export class RawPeer {
  readonly messages: Record<string, unknown>[] = [];
  closed: { code: number; reason: string } | undefined;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d: Buffer) => this.messages.push(JSON.parse(d.toString()) as Record<string, unknown>));
    ws.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
  }
  static async open(url: string): Promise<RawPeer> {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return new RawPeer(ws);
  }
  /** Sends and returns the response to `id` (or the next id-less error). */
  async send(text: string, id: number | null = null): Promise<Record<string, unknown>> {
    const from = this.messages.length;
    this.ws.send(text);
    let found: Record<string, unknown> | undefined;
    await waitFor(
      () => {
        found = this.messages.slice(from).find((m) => m.type === 'response' && m.id === id);
        return found !== undefined;
      },
      5000,
      `response to ${id}`,
    );
    return found!;
  }
  request(id: number, method: string, data: unknown) {
    return this.send(JSON.stringify({ type: 'request', id, method, data }), id);
  }
  close() {
    this.ws.close();
  }
}

export function errorCode(msg: Record<string, unknown>): string | undefined {
  return msg.ok === false ? (msg.error as { code: string }).code : undefined;
}
