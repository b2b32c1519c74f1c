#!/usr/bin/env node
// Entry point of the `lipsync` command. Sources are TypeScript run through tsx, so there is no build step to forget.
import { register } from 'tsx/esm/api';

register();
await import('../src/polyfills.ts');
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
