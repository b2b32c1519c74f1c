/** `lipsync serve` refuses inconsistent dub-source options before it starts anything. */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/args.ts';
import { run } from '../../src/cli/commands/serve.ts';

describe('lipsync serve options', () => {
  it.each([
    [['--provider-languages', 'pt'], /--provider-languages needs --provider-url/],
    [['--provider-url', 'ws://127.0.0.1:8765'], /--provider-url needs --provider-languages/],
    [['--provider-url', 'http://x', '--provider-languages', 'pt'], /must be a ws:\/\/ or wss:\/\/ URL/],
    [['--provider-url', 'ws://h:1', '--provider-languages', 'Portuguese'], /not a language tag/],
  ])('%j', async (argv, message) => {
    const err: unknown = await run(argv).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(message);
  });
});
