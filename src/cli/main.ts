/**
 * `lipsync <command>`: each command lives in `src/cli/commands/<name>.ts` and exports `run(argv)` plus a one-line
 * `summary`. Commands are loaded on demand so `lipsync translate` never pays for loading mediasoup or onnxruntime.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UsageError } from './args.ts';

export interface CliCommand {
  summary: string;
  run(argv: string[]): Promise<number>;
}

const commandsDir = fileURLToPath(new URL('./commands/', import.meta.url));

function commandNames(): string[] {
  return readdirSync(commandsDir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.slice(0, -3))
    .sort();
}

async function loadCommand(name: string): Promise<CliCommand> {
  return (await import(`./commands/${name}.ts`)) as CliCommand;
}

async function printHelp(): Promise<void> {
  const lines = ['usage: lipsync <command> [options]', '', 'commands:'];
  for (const name of commandNames()) {
    const cmd = await loadCommand(name);
    lines.push(`  ${name.padEnd(10)} ${cmd.summary}`);
  }
  lines.push('', 'Run `lipsync <command> --help` for the options of one command.');
  console.log(lines.join('\n'));
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    await printHelp();
    return name ? 0 : 2;
  }
  if (!commandNames().includes(name)) {
    console.error(`lipsync: unknown command '${name}'. Known: ${commandNames().join(', ')}`);
    return 2;
  }
  try {
    return await (await loadCommand(name)).run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`lipsync ${name}: ${err.message}`);
      return 2;
    }
    console.error(`lipsync ${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 1;
  }
}
