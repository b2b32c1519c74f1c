/**
 * A tiny hand-written schema library for the signalling messages: each schema checks an `unknown` value and returns
 * it typed, or throws a SchemaError naming the path of the first bad field. Runs in Node and in browsers (no imports).
 * Types are inferred from schemas (`Infer<typeof s>`), so a message's type and its validator cannot drift apart.
 */

export class SchemaError extends Error {
  override name = 'SchemaError';
  constructor(
    /** Dotted path of the bad field, e.g. `data.rtpParameters`. */
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
  }
}

export interface Schema<T> {
  /** Returns the value typed as T or throws a SchemaError. */
  check(value: unknown, path?: string): T;
  /** Human-readable description for error messages and docs. */
  readonly describe: string;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

function fail(path: string, message: string): never {
  throw new SchemaError(path, message);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

export function str(opts: { min?: number; max?: number; pattern?: RegExp } = {}): Schema<string> {
  const { min = 0, max = 256, pattern } = opts;
  return {
    describe: `string(${min}..${max})`,
    check(value, path = 'value') {
      if (typeof value !== 'string') fail(path, `expected a string, got ${typeName(value)}`);
      if (value.length < min || value.length > max) fail(path, `length must be in [${min}, ${max}]`);
      if (pattern && !pattern.test(value)) fail(path, `does not match ${String(pattern)}`);
      return value;
    },
  };
}

export function num(opts: { min?: number; max?: number; integer?: boolean } = {}): Schema<number> {
  const { min = -Infinity, max = Infinity, integer = false } = opts;
  return {
    describe: `${integer ? 'integer' : 'number'}[${min}, ${max}]`,
    check(value, path = 'value') {
      if (typeof value !== 'number' || !Number.isFinite(value)) fail(path, `expected a number, got ${typeName(value)}`);
      if (integer && !Number.isInteger(value)) fail(path, 'expected an integer');
      if (value < min || value > max) fail(path, `must be in [${min}, ${max}]`);
      return value;
    },
  };
}

export const bool: Schema<boolean> = {
  describe: 'boolean',
  check(value, path = 'value') {
    if (typeof value !== 'boolean') fail(path, `expected a boolean, got ${typeName(value)}`);
    return value;
  },
};

export function literal<const L extends string | number | boolean>(...values: L[]): Schema<L> {
  return {
    describe: values.map((v) => JSON.stringify(v)).join(' | '),
    check(value, path = 'value') {
      if (!values.includes(value as L)) fail(path, `expected ${this.describe}, got ${JSON.stringify(value)}`);
      return value as L;
    },
  };
}

export function arr<T>(item: Schema<T>, opts: { max?: number } = {}): Schema<T[]> {
  const { max = 256 } = opts;
  return {
    describe: `${item.describe}[]`,
    check(value, path = 'value') {
      if (!Array.isArray(value)) fail(path, `expected an array, got ${typeName(value)}`);
      if (value.length > max) fail(path, `at most ${max} items`);
      return value.map((v, i) => item.check(v, `${path}[${i}]`));
    },
  };
}

export function nullable<T>(inner: Schema<T>): Schema<T | null> {
  return {
    describe: `${inner.describe} | null`,
    check(value, path = 'value') {
      return value === null ? null : inner.check(value, path);
    },
  };
}

/** Marks an object field optional (absent or undefined). */
export interface Optional<T> extends Schema<T | undefined> {
  readonly optional: true;
}

export function opt<T>(inner: Schema<T>): Optional<T> {
  return {
    optional: true,
    describe: `${inner.describe}?`,
    check(value, path = 'value') {
      return value === undefined ? undefined : inner.check(value, path);
    },
  };
}

type Shape = Record<string, Schema<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends Optional<unknown> ? K : never }[keyof S];
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
export type InferShape<S extends Shape> = Simplify<
  { [K in RequiredKeys<S>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Infer<S[K]> }
>;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * An object with exactly these fields: unknown fields are rejected (`strict`, the default) so a typo in a client is
 * an error instead of a silently ignored option.
 */
export function obj<S extends Shape>(shape: S, opts: { strict?: boolean } = {}): Schema<InferShape<S>> {
  const { strict = true } = opts;
  const keys = Object.keys(shape);
  return {
    describe: `{ ${keys.map((k) => `${k}: ${shape[k]?.describe}`).join('; ')} }`,
    check(value, path = 'value') {
      if (!isPlainObject(value)) fail(path, `expected an object, got ${typeName(value)}`);
      if (strict) {
        for (const k of Object.keys(value)) {
          if (!(k in shape)) fail(`${path}.${k}`, 'unknown field');
        }
      }
      const out: Record<string, unknown> = {};
      for (const k of keys) {
        const v = shape[k]!.check(value[k], `${path}.${k}`);
        if (v !== undefined) out[k] = v;
      }
      return out as InferShape<S>;
    },
  };
}

/**
 * A JSON object whose inner structure another layer validates (mediasoup validates RTP parameters, capabilities and
 * DTLS parameters itself and throws TypeError on bad ones). Bounded in depth and key count so a hostile client cannot
 * make later processing expensive.
 */
export function jsonObject<T>(describe: string, opts: { maxDepth?: number; maxKeys?: number } = {}): Schema<T> {
  const { maxDepth = 8, maxKeys = 2000 } = opts;
  return {
    describe,
    check(value, path = 'value') {
      if (!isPlainObject(value)) fail(path, `expected ${describe} (an object), got ${typeName(value)}`);
      let keys = 0;
      const walk = (v: unknown, depth: number): void => {
        if (depth > maxDepth) fail(path, `nested deeper than ${maxDepth}`);
        if (Array.isArray(v)) {
          keys += v.length;
          for (const x of v) walk(x, depth + 1);
        } else if (isPlainObject(v)) {
          const ks = Object.keys(v);
          keys += ks.length;
          for (const k of ks) walk(v[k], depth + 1);
        }
        if (keys > maxKeys) fail(path, `more than ${maxKeys} keys`);
      };
      walk(value, 0);
      return value as T;
    },
  };
}
