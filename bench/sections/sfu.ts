/**
 * SFU tap cost, on loopback. The server runs in a child process (so its CPU is measured apart from the two werift
 * peers and ffmpeg); a speaker publishes VP8 + Opus encoded from a real clip; a listener consumes BOTH the original
 * and the tapped (identity-processed) producers of the speaker.
 *
 * - tapAddedLatencyMs: for each packet, arrival time at the listener of its tapped copy minus arrival of its original
 *   copy (matched by RTP timestamp + payload), so it is exactly what the tap adds (DirectTransport to Node, the
 *   processor, back into the router); everything else is common to both paths.
 * - cpuPerStreamPct: server process (Node: signalling + tap) plus mediasoup worker CPU time during the media phase,
 *   divided by wall time and by the number of tapped streams (2: audio + video). It includes the worker forwarding
 *   the original and the tapped copy to the one listener.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchContext, BenchSection } from '../types.ts';

interface CpuSample {
  nodeCpuMs: number;
  workerCpuMs: number;
  atMs: number;
}

type ChildMessage = { ready: { wsUrl: string; tokens: Record<string, string> } } | { cpu: CpuSample };

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** Child side: a server with one worker, reporting its CPU on request. */
async function runChildServer(): Promise<void> {
  const { LipsyncServer } = await import('../../src/sfu/index.ts');
  const server = await LipsyncServer.start({ port: 0, numWorkers: 1, tapSettleMs: 100 });
  const send = (m: ChildMessage) => process.send?.(m);
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd === 'cpu') {
      const u = process.cpuUsage();
      server.pool.cpuTimeMs().then(
        (workerCpuMs) => send({ cpu: { nodeCpuMs: (u.user + u.system) / 1000, workerCpuMs, atMs: performance.now() } }),
        () => send({ cpu: { nodeCpuMs: (u.user + u.system) / 1000, workerCpuMs: NaN, atMs: performance.now() } }),
      );
    } else if (m.cmd === 'stop') {
      server.close();
      process.exit(0);
    }
  });
  send({
    ready: {
      wsUrl: server.wsUrl,
      tokens: { speaker: server.mintToken('bench', 'speaker'), listener: server.mintToken('bench', 'listener') },
    },
  });
}

function nextMessage<K extends 'ready' | 'cpu'>(
  child: ChildProcess,
  key: K,
): Promise<Extract<ChildMessage, Record<K, unknown>>[K]> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: ChildMessage) => {
      if (key in m) {
        child.off('message', onMessage);
        resolve((m as unknown as Record<K, never>)[key]);
      }
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });
}

async function run(ctx: BenchContext) {
  const { MediaStreamTrack } = await import('werift');
  const { LipsyncClient } = await import('../../src/client-sdk/node/index.ts');
  const { feedClip, waitFor } = await import('../../test/sfu/helpers.ts');

  const child = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, LIPSYNC_SFU_BENCH_SERVER: '1' },
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const { wsUrl, tokens } = await nextMessage(child, 'ready');
    const speaker = await LipsyncClient.join({ url: wsUrl, token: tokens.speaker!, subscribe: 'none' });
    const listener = await LipsyncClient.join({ url: wsUrl, token: tokens.listener!, subscribe: 'all' });
    // Arrival times of each packet's original and tapped copies, by a key that survives the tap.
    const arrivals = { original: new Map<string, number>(), processed: new Map<string, number>() };
    let tracks = 0;
    listener.on('track', (t) => {
      tracks++;
      const map = arrivals[t.source];
      t.track.onReceiveRtp.subscribe((rtp) => {
        const p = rtp.payload;
        const key = `${t.kind}:${rtp.header.timestamp}:${p.length}:${p.length >= 4 ? p.readUInt32BE(p.length - 4) : 0}`;
        if (!map.has(key)) map.set(key, performance.now());
      });
    });
    const video = new MediaStreamTrack({ kind: 'video' });
    const audio = new MediaStreamTrack({ kind: 'audio' });
    await speaker.publish(video);
    await speaker.publish(audio);
    await waitFor(() => tracks === 4, 15_000, 'original + tapped tracks at the listener');
    await speaker.transportsConnected();
    await listener.transportsConnected();

    const clip = join(ctx.clipsDir, 'sadtalker_WDA_AOC_000.mp4');
    ctx.log(`feeding ${clip} (${ctx.quick ? '3 s' : 'whole clip, 8 s'}), VP8 320x320 400 kbit/s + Opus 48 kbit/s`);
    child.send({ cmd: 'cpu' });
    const cpu0 = await nextMessage(child, 'cpu');
    const { sent } = await feedClip({ clip, video, audio, ...(ctx.quick ? { durationS: 3 } : {}) });
    child.send({ cmd: 'cpu' });
    const cpu1 = await nextMessage(child, 'cpu');
    speaker.close();
    listener.close();

    const deltas: number[] = [];
    for (const [key, tOriginal] of arrivals.original) {
      const tProcessed = arrivals.processed.get(key);
      if (tProcessed !== undefined) deltas.push(tProcessed - tOriginal);
    }
    deltas.sort((a, b) => a - b);
    const wallMs = cpu1.atMs - cpu0.atMs;
    const nodeCpuMs = cpu1.nodeCpuMs - cpu0.nodeCpuMs;
    const workerCpuMs = cpu1.workerCpuMs - cpu0.workerCpuMs;
    const streams = 2;
    ctx.log(
      `sent video ${sent.video} audio ${sent.audio} packets; matched ${deltas.length} original/tapped pairs ` +
        `(${arrivals.original.size} original, ${arrivals.processed.size} tapped)`,
    );
    return {
      'sfu.tapAddedLatencyMs.p50': percentile(deltas, 50),
      'sfu.tapAddedLatencyMs.p95': percentile(deltas, 95),
      'sfu.tapAddedLatencyMs.max': deltas.at(-1) ?? NaN,
      'sfu.tapAddedLatencyMs.samples': deltas.length,
      'sfu.cpuPerStreamPct': ((nodeCpuMs + workerCpuMs) / wallMs / streams) * 100,
      'sfu.nodeCpuPct': (nodeCpuMs / wallMs) * 100,
      'sfu.workerCpuPct': (workerCpuMs / wallMs) * 100,
      'sfu.packetsSent': sent.audio + sent.video,
    };
  } finally {
    if (child.connected) child.send({ cmd: 'stop' });
    setTimeout(() => child.kill('SIGKILL'), 2000).unref();
  }
}

const section: BenchSection = {
  name: 'sfu',
  description:
    'identity tap on loopback: added latency (tapped vs original arrival at a werift listener) and CPU per tapped stream, real clip VP8+Opus',
  run,
};

export default section;

if (process.env.LIPSYNC_SFU_BENCH_SERVER === '1' && process.send) {
  runChildServer().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
