/**
 * The registry of AvStages by name: `lipsync dub --stage NAME` and the transcoding processor build their stage
 * through here, so a new stage (the lip-sync engine registers `lipsync`) plugs into both paths with one call.
 *
 *   registerAvStage('lipsync', async (opts) => new LipsyncStage(opts), 'lips follow the drive audio');
 */
import type { AvStage } from './avStage.ts';
import { IdentityStage } from './identityStage.ts';

export interface AvStageOptions {
  /** True when drive audio will be pushed (dub with `--audio`, a live dub source); false: the speaker's own audio. */
  driveAudio: boolean;
  /** Frame rate of the video the caller pushes (25 on the offline path; the sender's rate live). */
  frameRate?: number;
  /** Where the stage runs: its own file (`dub`) or a live call (`live`): a stage may pick cheaper settings live. */
  mode?: 'offline' | 'live';
  /** Stage-specific settings (model paths, window sizes...), passed through untouched. */
  params?: Record<string, unknown>;
}

export type AvStageFactory = (opts: AvStageOptions) => AvStage | Promise<AvStage>;

interface Entry {
  factory: AvStageFactory;
  description: string;
}

const registry = new Map<string, Entry>();

/** Registers (or replaces) a stage factory under `name`. */
export function registerAvStage(name: string, factory: AvStageFactory, description = ''): void {
  if (!/^[a-z][a-z0-9-]*$/.test(name))
    throw new TypeError(`stage name '${name}' must be lower-case letters, digits, '-'`);
  registry.set(name, { factory, description });
}

/** Names and one-line descriptions of the registered stages. */
export function listAvStages(): { name: string; description: string }[] {
  return [...registry].map(([name, e]) => ({ name, description: e.description }));
}

/** Thrown for an unknown stage name; the message lists the known ones. */
export class UnknownStageError extends Error {
  override name = 'UnknownStageError';
}

export async function createAvStage(name: string, opts: AvStageOptions): Promise<AvStage> {
  const entry = registry.get(name);
  if (!entry) {
    throw new UnknownStageError(`unknown stage '${name}'; known: ${[...registry.keys()].join(', ')}`);
  }
  return entry.factory(opts);
}

registerAvStage(
  'identity',
  (opts) => new IdentityStage({ audio: opts.driveAudio ? 'drive' : 'speaker' }),
  'frames out as they came in (with --audio: the new speech over the unchanged face)',
);

registerAvStage(
  'lipsync',
  async (opts) => (await import('./lipsync/createStage.ts')).createLipsyncStage(opts),
  'lips re-rendered to follow the drive audio (memory generator + memory renderer; live: in a worker thread)',
);
