/** `lipsync bot` refuses wrong or inconsistent options before it joins anything (a UsageError naming the option). */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/args.ts';
import { run } from '../../src/cli/commands/bot.ts';

// Never reached: every case below must be refused before the bot connects.
const common = ['--url', 'ws://127.0.0.1:9/ws', '--room', 'r', '--secret', 'test-secret-0123456789abcdef'];

describe('lipsync bot options', () => {
  it.each([
    [['--room', 'r', '--secret', 's'], /--url is required/],
    [['--url', 'ws://h:1/ws', '--secret', 's'], /--room is required/],
    [['--url', 'ws://h:1/ws', '--room', 'r'], /exactly one of --token and --secret/],
    [[...common, '--token', 't'], /exactly one of --token and --secret/],
    [[...common, '--interpret-for', 'alice', '--publish', 'x.mp4'], /--interpret-for and --language go together/],
    [[...common, '--language', 'fr', '--publish', 'x.mp4'], /--interpret-for and --language go together/],
    [[...common, '--interpret-for', 'alice', '--language', 'fr'], /--interpret-for needs --publish FILE/],
    [[...common, '--take-over'], /--take-over needs --interpret-for/],
    [[...common, '--take-over', '--publish', 'x.mp4', '--dub', 'fr'], /--take-over needs --interpret-for/],
    [[...common, '--take-over', '--language', 'fr', '--publish', 'x.mp4'], /--interpret-for and --language go/],
    [[...common, '--take-over=yes', '--interpret-for', '*', '--language', 'fr'], /take-over.*does not take/],
    [
      [...common, '--take-over', '--interpret-for', 'alice', '--language', 'fr'],
      /--interpret-for needs --publish FILE/,
    ],
    [[...common, '--duration-ms', 'soon'], /--duration-ms must be a number/],
    [[...common, '--takeover'], /Unknown option '--takeover'/],
  ])('%j', async (argv, message) => {
    const err: unknown = await run(argv).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(message);
  });

  it('lists --take-over in its usage', async () => {
    const err: unknown = await run([]).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/--take-over {8}with --interpret-for: replace the interpreter/);
  });
});
