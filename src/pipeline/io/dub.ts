/**
 * The offline path (`lipsync dub`): a talking-head video (+ optional speech to follow) through the same stages as a
 * call, written as a 25 fps H.264 + AAC MP4.
 *
 *   MediaFileReader (decode) -> FrameRateConverter (25 fps clock, nearest frame) -> AvStage -> Mp4FileSink (encode)
 *
 * The stage sees the video at the output rate, the clip's own audio as the speaker's audio, and `--audio` as the
 * drive audio. Stage output timestamps (input + delayMs) are shifted back by delayMs so the file starts at the
 * input's time zero. Audio never outlasts the video (the file ends with the last frame).
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { AvStage } from '../avStage.ts';
import type { AudioFrame, VideoFrame } from '../media.ts';
import { createAvStage } from '../stages.ts';
import { FrameRateConverter } from './frameRate.ts';
import { MediaFileError, MediaFileReader } from './mediaFile.ts';
import { Mp4FileSink } from './sinks.ts';

export interface DubOptions {
  videoPath: string;
  /** Speech the lips should follow; default: the clip's own audio. */
  audioPath?: string;
  outPath: string;
  /** Registered stage name (default identity). */
  stage?: string;
  stageParams?: Record<string, unknown>;
  /** Output frame rate. Default 25. */
  fps?: number;
  /** x264 constant quality. Default 20. */
  crf?: number;
  onProgress?: (p: DubProgress) => void;
  onWarning?: (message: string) => void;
}

export interface DubProgress {
  /** Media time processed so far. */
  doneUs: number;
  /** Expected total (the video's duration). */
  totalUs: number;
  framesOut: number;
  elapsedMs: number;
}

export interface DubResult {
  outPath: string;
  framesOut: number;
  fps: number;
  durationUs: number;
  inputFrames: number;
  /** Input frames never shown / ticks that repeated a frame (frame-rate conversion). */
  framesSkipped: number;
  framesRepeated: number;
  audioSamplesOut: number;
  stage: string;
  stageDelayMs: number;
  elapsedMs: number;
}

/** Reads all of a file's audio frames (drive audio is short enough to hold: 1 min of 48 kHz mono is 5.8 MB). */
async function readAllAudio(path: string): Promise<AudioFrame[]> {
  const r = await MediaFileReader.open(path, { video: false });
  const out: AudioFrame[] = [];
  try {
    for await (const m of r.frames()) if (m.kind === 'audio') out.push(m.frame);
  } finally {
    r.close();
  }
  return out;
}

export async function runDub(opts: DubOptions): Promise<DubResult> {
  const started = performance.now();
  const fps = opts.fps ?? 25;
  const outPath = resolve(opts.outPath);
  const reader = await MediaFileReader.open(opts.videoPath, { audioChannels: 1 });
  let stage: AvStage | null = null;
  let sink: Mp4FileSink | null = null;
  try {
    const info = reader.info;
    if (!info.video) throw new MediaFileError(`${opts.videoPath} has no video stream`);
    const drive = opts.audioPath ? await readAllAudio(opts.audioPath) : null;
    if (!info.audio && !drive) throw new MediaFileError(`${opts.videoPath} has no audio and no --audio was given`);
    const stageName = opts.stage ?? 'identity';
    stage = await createAvStage(stageName, {
      driveAudio: drive !== null,
      frameRate: fps,
      mode: 'offline',
      ...(opts.stageParams ? { params: opts.stageParams } : {}),
    });
    const delayUs = stage.delayMs * 1000;
    mkdirSync(dirname(outPath), { recursive: true });
    sink = await Mp4FileSink.open(outPath, {
      width: info.video.width & ~1,
      height: info.video.height & ~1,
      fps,
      ...(opts.crf !== undefined ? { crf: opts.crf } : {}),
      audioChannels: 1,
    });
    const s = sink;
    const totalUs = info.durationUs;
    let videoEndUs = 0;
    // Stage events are synchronous; writes are async and strictly ordered through one chain.
    let chain: Promise<void> = Promise.resolve();
    const failed: { err: Error | null } = { err: null };
    const enqueue = (fn: () => Promise<void>) => {
      chain = chain.then(fn).catch((err: unknown) => {
        failed.err ??= err instanceof Error ? err : new Error(String(err));
      });
    };
    let audioEndUs = Infinity; // set once the video's end is known
    // Audio waits until the video has reached it, so what lies past the video's end can be cut off.
    const pendingAudio: AudioFrame[] = [];
    const writeAudioUntil = async (tUs: number) => {
      while (pendingAudio.length && pendingAudio[0]!.timestampUs < Math.min(tUs, audioEndUs)) {
        const a = pendingAudio.shift()!;
        const keep = Math.min(a.samplesPerChannel, Math.ceil(((audioEndUs - a.timestampUs) * a.sampleRate) / 1e6));
        const cut =
          keep >= a.samplesPerChannel
            ? a
            : { ...a, samplesPerChannel: keep, data: a.data.subarray(0, keep * a.channels) };
        await s.writeAudio(cut);
      }
    };
    stage.on('video', (f) =>
      enqueue(async () => {
        const t = f.timestampUs - delayUs;
        await s.writeVideo({ ...f, timestampUs: t });
        await writeAudioUntil(t);
      }),
    );
    stage.on('audio', (f) => pendingAudio.push({ ...f, timestampUs: f.timestampUs - delayUs }));
    stage.on('warning', (m) => opts.onWarning?.(m));

    const conv = new FrameRateConverter(fps);
    let driveIdx = 0;
    const pushDriveUntil = (tUs: number) => {
      while (drive && driveIdx < drive.length && drive[driveIdx]!.timestampUs <= tUs)
        stage!.pushDriveAudio(drive[driveIdx++]!);
    };
    let inputFrames = 0;
    let videoStartUs = Infinity;
    let lastProgress = 0;
    const progress = (doneUs: number, force = false) => {
      const now = performance.now();
      if (!opts.onProgress || (!force && now - lastProgress < 200)) return;
      lastProgress = now;
      opts.onProgress({ doneUs, totalUs, framesOut: s.videoFrames, elapsedMs: now - started });
    };
    const pushVideo = async (frames: VideoFrame[]) => {
      for (const f of frames) {
        pushDriveUntil(f.timestampUs + 200_000); // speech a little ahead of the face, as a live source delivers it
        stage!.pushVideo(f);
        progress(f.timestampUs);
      }
      // Backpressure: let the encoder catch up before decoding more (bounded memory on long clips).
      if (frames.length) await chain;
      if (failed.err) throw failed.err;
    };
    for await (const m of reader.frames()) {
      if (m.kind === 'video') {
        inputFrames++;
        videoStartUs = Math.min(videoStartUs, m.frame.timestampUs);
        videoEndUs = Math.max(videoEndUs, m.frame.timestampUs);
        await pushVideo(conv.processInput(m.frame));
      } else {
        stage.pushSpeakerAudio(m.frame);
      }
    }
    // The file ends with the video: the last frame's end on the output clock.
    const meanIntervalUs = inputFrames > 1 ? (videoEndUs - videoStartUs) / (inputFrames - 1) : 1e6 / fps;
    const endTicks = Math.max(1, Math.round(((videoEndUs + meanIntervalUs) * fps) / 1e6));
    audioEndUs = (endTicks * 1e6) / fps;
    await pushVideo(conv.flush(audioEndUs));
    pushDriveUntil(Infinity);
    await stage.flush();
    enqueue(() => writeAudioUntil(Infinity));
    await chain;
    if (failed.err) throw failed.err;
    await s.finish();
    progress(audioEndUs, true);
    return {
      outPath,
      framesOut: s.videoFrames,
      fps,
      durationUs: audioEndUs,
      inputFrames,
      framesSkipped: conv.skipped,
      framesRepeated: conv.repeated,
      audioSamplesOut: s.audioSamples,
      stage: stageName,
      stageDelayMs: stage.delayMs,
      elapsedMs: performance.now() - started,
    };
  } catch (err) {
    await sink?.abort();
    throw err;
  } finally {
    stage?.close();
    reader.close();
  }
}
