import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.ts';
import { frameByteLength } from '../src/pipeline/media.ts';

describe('cli', () => {
  it('rejects an unknown command with exit code 2', async () => {
    expect(await main(['no-such-command'])).toBe(2);
  });
});

describe('media', () => {
  it('sizes i420 frames with rounded-up chroma planes', () => {
    expect(frameByteLength('i420', 640, 480)).toBe(640 * 480 * 1.5);
    expect(frameByteLength('i420', 5, 3)).toBe(15 + 2 * 3 * 2);
  });
});
