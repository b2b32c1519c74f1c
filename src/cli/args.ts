import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A wrong or missing option: printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Strict option parsing shared by all commands: unknown options and missing values are a UsageError that says
 * which option was wrong, never a crash. `--help` is always accepted.
 */
export function parseOptions<O extends Options>(argv: string[], options: O, usage: string) {
  try {
    const parsed = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    });
    const values = parsed.values as Record<string, unknown>;
    if (values.help === true) {
      console.log(usage);
      return null;
    }
    return values as { [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string };
  } catch (err) {
    throw new UsageError(`${err instanceof Error ? err.message : String(err)}\n${usage}`);
  }
}

/** Parses a number option, with a clear error naming the option when it is not a finite number in range. */
export function numberOption(
  name: string,
  value: string | undefined,
  fallback: number,
  min = -Infinity,
  max = Infinity,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a number in [${min}, ${max}], got '${value}'`);
  }
  return n;
}
