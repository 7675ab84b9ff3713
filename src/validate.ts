/**
 * The one validation kit for values that cross a boundary as plain JavaScript: decoded JSON
 * (the SIM's state file, an OTA SIM configuration, a server request body) or arguments from
 * untyped callers. Portable: no `node:` imports.
 *
 * Guards (`isRecord`, `isInt`, `isByte`) answer a question; a {@link Fields} reader, made by
 * {@link fieldsOf} with the caller's own failure function, turns an `unknown` into a typed value
 * or fails naming the path of the offending field (`keysets[2].kic: must be 16 bytes`). Every
 * parser built on it is named `parseX` and throws the layer's own typed error for any JSON value,
 * never a `TypeError`.
 *
 * @internal
 * @module
 */
import { fromHex, utf8 } from './bytes.js';

/** Whether `value` is a plain object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether `value` is a safe integer in `min..max` (inclusive). */
export function isInt(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max;
}

/** Whether `value` is one of `allowed` (compared with `===`). */
export function isOneOf<T>(value: unknown, allowed: readonly T[]): value is T {
  return allowed.includes(value as T);
}

/** Whether `value` is an integer 0-255. */
export function isByte(value: unknown): value is number {
  return isInt(value, 0, 0xff);
}

/**
 * A short, safe description of any value for an error message: strings quoted and cut at 40
 * characters, other primitives as they print, objects by kind. Never calls a value's own
 * `toString` (a crafted `{"toString": 0}` must not throw).
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return String(value);
  }
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  return `a ${typeof value}`;
}

/** How a {@link Fields} reader reports a bad field: throws the caller's typed error. */
export type FieldFailure = (path: string, detail: string) => never;

/** Typed readers of `unknown` values that fail through one {@link FieldFailure}. */
export interface Fields {
  // Function-valued properties rather than methods, so a caller may destructure the readers.
  /** Fail at `path` with `detail`. */
  readonly fail: FieldFailure;
  /**
   * An object with exactly the `required` keys and any of the `optional` ones: an unknown or a
   * missing key fails naming it.
   */
  readonly record: (
    value: unknown,
    path: string,
    required: readonly string[],
    optional?: readonly string[],
  ) => Record<string, unknown>;
  /** A safe integer in `min..max`. */
  readonly int: (value: unknown, path: string, min: number, max: number) => number;
  /** A boolean. */
  readonly bool: (value: unknown, path: string) => boolean;
  /** One of the `allowed` strings. */
  readonly oneOf: <T extends string>(value: unknown, path: string, allowed: readonly T[]) => T;
  /** Hex (either case, unless `lowerOnly`) of `min..max` bytes. */
  readonly hex: (
    value: unknown,
    path: string,
    min: number,
    max: number,
    options?: { lowerOnly?: boolean },
  ) => Uint8Array;
  /** `min..max` decimal digits. */
  readonly digits: (value: unknown, path: string, min: number, max: number) => string;
  /** Text of `min..max` UTF-8 bytes with no control characters. */
  readonly text: (value: unknown, path: string, min: number, max: number) => string;
  /** An array of at most `max` entries. */
  readonly list: (value: unknown, path: string, max: number) => unknown[];
  /** `undefined` or `null` as `null`, anything else through `parse`. */
  readonly optional: <T>(value: unknown, parse: (value: unknown) => T) => T | null;
}

const CONTROL = /\p{Cc}/u;

/**
 * Readers that fail through `fail`, which throws the caller's own typed error naming the path.
 *
 * @example
 * ```ts
 * const fields = fieldsOf((path, detail) => {
 *   throw new ArgumentError(`${path}: ${detail}`);
 * });
 * const port = fields.int(JSON.parse('{"port": 80}').port, 'port', 1, 65535);
 * ```
 */
export function fieldsOf(fail: FieldFailure): Fields {
  const child = (path: string, key: string): string => (path === '' ? key : `${path}.${key}`);
  return {
    fail,
    record(value, path, required, optional = []) {
      if (!isRecord(value)) fail(path, 'must be an object');
      for (const key of Object.keys(value)) {
        if (!required.includes(key) && !optional.includes(key))
          fail(child(path, key), 'unknown field');
      }
      for (const key of required)
        if (!Object.hasOwn(value, key)) fail(child(path, key), 'is missing');
      return value;
    },
    int(value, path, min, max) {
      if (!isInt(value, min, max)) fail(path, `must be an integer ${min}..${max}`);
      return value;
    },
    bool(value, path) {
      if (typeof value !== 'boolean') fail(path, 'must be a boolean');
      return value;
    },
    oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[]): T {
      const found = allowed.find((a) => a === value);
      if (found === undefined) fail(path, `must be one of ${allowed.join(', ')}`);
      return found;
    },
    hex(value, path, min, max, options = {}) {
      const pattern = options.lowerOnly ? /^([0-9a-f]{2})*$/ : /^([0-9a-fA-F]{2})*$/;
      if (typeof value !== 'string' || !pattern.test(value)) {
        fail(path, options.lowerOnly ? 'must be lower-case hex' : 'must be hex');
      }
      const bytes = fromHex(value);
      if (bytes.length < min || bytes.length > max)
        fail(path, min === max ? `must be ${min} bytes` : `must be ${min}-${max} bytes`);
      return bytes;
    },
    digits(value, path, min, max) {
      if (typeof value !== 'string' || !new RegExp(`^\\d{${min},${max}}$`).test(value))
        fail(path, `must be ${min}-${max} decimal digits`);
      return value;
    },
    text(value, path, min, max) {
      if (typeof value !== 'string') fail(path, 'must be a string');
      const length = utf8(value).length;
      if (length < min || length > max || CONTROL.test(value))
        fail(path, `must be ${min}-${max} UTF-8 bytes without control characters`);
      return value;
    },
    list(value, path, max) {
      if (!Array.isArray(value)) fail(path, 'must be an array');
      if (value.length > max) fail(path, `holds at most ${max} entries`);
      return value as unknown[];
    },
    optional(value, parse) {
      return value === undefined || value === null ? null : parse(value);
    },
  };
}
