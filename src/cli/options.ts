/**
 * Option and argument parsing shared by every `simvault` command: sizes, hex, integers, digit
 * strings, choices, CIDs, zones and backends. Each parser names what it parsed (`--size`,
 * `PACKET_HEX`) in the {@link UsageError} it throws, so a bad command line always exits 2 with a
 * message that points at the word to fix.
 *
 * @module
 */
import { fromHex } from '../bytes.js';
import type { BackendChoice } from '../crypto/backend.js';
import { ZONES, type Zone } from '../crypto/keys.js';
import { ArgumentError, ProtocolError } from '../errors.js';
import { decodeCid } from '../protocol/cid.js';
import { UsageError } from './command.js';

/**
 * Every `--backend` choice, in the order the help texts list them.
 *
 * @example
 * ```ts
 * BACKEND_CHOICES.join(' | '); // 'auto | native | node | webcrypto | noble'
 * ```
 */
export const BACKEND_CHOICES: readonly BackendChoice[] = Object.keys(
  // Every BackendChoice, each once: adding one to the type fails to compile until it is here.
  { auto: true, native: true, node: true, webcrypto: true, noble: true } satisfies Record<
    BackendChoice,
    true
  >,
) as BackendChoice[];

/**
 * The positional arguments, when there are between `min` and `max` of them; else a usage error
 * showing `usage`.
 *
 * @example
 * ```ts
 * const [image] = positionals(['card.img'], 1, 1, 'simvault card ls IMAGE');
 * ```
 */
export function positionals(args: string[], min: number, max: number, usage: string): string[] {
  if (args.length < min || args.length > max) throw new UsageError(`usage: ${usage}`);
  return args;
}

/**
 * The value of a required option, or a usage error naming it.
 *
 * @example
 * ```ts
 * required('--tar', undefined); // throws UsageError: --tar is required
 * ```
 */
export function required<T>(what: string, value: T | undefined): T {
  if (value === undefined) throw new UsageError(`${what} is required`);
  return value;
}

/**
 * Parse a byte count with an optional binary suffix: `4096`, `64K`, `8M`, `2G`, `1T` (also
 * `64KiB`, `64k`).
 *
 * @example
 * ```ts
 * parseSize('8M', '--size'); // 8388608
 * ```
 */
export function parseSize(text: string, what: string): number {
  const m = /^(\d+)\s*([kmgt])?(?:i?b)?$/i.exec(text.trim());
  if (!m)
    throw new UsageError(
      `${what}: '${text}' is not a size (a number with an optional K, M, G or T suffix)`,
    );
  const shifts: Record<string, number> = { k: 10, m: 20, g: 30, t: 40 };
  const n = Number(m[1]) * 2 ** (shifts[(m[2] ?? '').toLowerCase()] ?? 0);
  if (!Number.isSafeInteger(n)) throw new UsageError(`${what}: '${text}' is too large`);
  return n;
}

/**
 * Parse an integer in `min..max` written in decimal.
 *
 * @example
 * ```ts
 * parseInteger('3', '--pin-tries', 1, 15); // 3
 * ```
 */
export function parseInteger(text: string, what: string, min: number, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max)
    throw new UsageError(`${what} must be an integer ${min}-${max}, got '${text}'`);
  return Number(text);
}

/**
 * Parse a string of `min`-`max` decimal digits (an ICCID, an IMSI, an address).
 *
 * @example
 * ```ts
 * parseDigits('89860012345678901234', '--iccid', 10, 20);
 * ```
 */
export function parseDigits(text: string, what: string, min: number, max: number): string {
  if (!new RegExp(`^\\d{${min},${max}}$`).test(text))
    throw new UsageError(`${what} must be ${min}-${max} digits, got '${text}'`);
  return text;
}

/**
 * Check that a value is one of `allowed`.
 *
 * @example
 * ```ts
 * parseChoice('lru', '--policy', ['ask', 'lru', 'oldest'] as const); // 'lru'
 * ```
 */
export function parseChoice<T extends string>(
  text: string,
  what: string,
  allowed: readonly T[],
): T {
  const hit = allowed.find((a) => a === text);
  if (hit === undefined)
    throw new UsageError(`${what} must be one of ${allowed.join(', ')}, got '${text}'`);
  return hit;
}

/**
 * Parse hex bytes (white space and colons between digits allowed). With `length`, exactly that
 * many bytes; with `nonEmpty`, at least one.
 *
 * @example
 * ```ts
 * parseHex('b0 00 11', '--tar', { length: 3 }); // Uint8Array [0xb0, 0x00, 0x11]
 * ```
 */
export function parseHex(
  text: string,
  what: string,
  options: { length?: number; nonEmpty?: boolean } = {},
): Uint8Array {
  const clean = text.replace(/[\s:]/g, '');
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean))
    throw new UsageError(`${what} must be hex (an even number of hex digits), got '${text}'`);
  const bytes = fromHex(clean);
  if (options.length !== undefined && bytes.length !== options.length)
    throw new UsageError(`${what} must be ${options.length} byte(s) of hex, got ${bytes.length}`);
  if (options.nonEmpty === true && bytes.length === 0)
    throw new UsageError(`${what} must hold at least one byte, got none`);
  return bytes;
}

/**
 * Apply `parse` to an option's value when it was given.
 *
 * @example
 * ```ts
 * optional(values.imsi, (v) => parseDigits(v, '--imsi', 6, 15));
 * ```
 */
export function optional<T>(value: string | undefined, parse: (v: string) => T): T | undefined {
  return value === undefined ? undefined : parse(value);
}

/**
 * `--backend NAME` (default `auto`).
 *
 * @example
 * ```ts
 * backendOption(undefined); // 'auto'
 * ```
 */
export function backendOption(value: string | undefined): BackendChoice {
  return parseChoice(value ?? 'auto', '--backend', BACKEND_CHOICES);
}

/**
 * `--zone ZONE` (default `user`).
 *
 * @example
 * ```ts
 * zoneOption('multimedia'); // 'multimedia'
 * ```
 */
export function zoneOption(value: string | undefined): Zone {
  return parseChoice(value ?? 'user', '--zone', ZONES);
}

/**
 * Parse `--zones operator=8M,advertising=8M,…`; zones left out share the rest of the card.
 *
 * @example
 * ```ts
 * parseZones('user=24M,multimedia=24M'); // { user: 25165824, multimedia: 25165824 }
 * ```
 */
export function parseZones(text: string): Partial<Record<Zone, number>> {
  const out: Partial<Record<Zone, number>> = {};
  for (const part of text.split(',').filter((p) => p.trim() !== '')) {
    const eq = part.indexOf('=');
    const zone = ZONES.find((z) => z === part.slice(0, eq).trim());
    if (eq < 0 || zone === undefined) {
      throw new UsageError(
        `--zones: '${part}' must be ZONE=SIZE with ZONE one of ${ZONES.join(', ')}`,
      );
    }
    if (out[zone] !== undefined) throw new UsageError(`--zones: zone ${zone} is given twice`);
    out[zone] = parseSize(part.slice(eq + 1), `--zones ${zone}`);
  }
  return out;
}

/**
 * Parse `--cid`: 32 hex digits (a whole CID register, CRC checked unless it is `00`) or 30 (the
 * card identity without the CRC byte). Returns the bytes.
 *
 * @example
 * ```ts
 * parseCid('03534453443038478012345678014b7d').length; // 16
 * ```
 */
export function parseCid(text: string): Uint8Array {
  const hex = text.trim();
  if (!/^[0-9a-fA-F]+$/.test(hex) || (hex.length !== 32 && hex.length !== 30)) {
    throw new UsageError(
      `--cid must be 32 hex digits (a CID) or 30 (its identity, without the CRC), got '${text}'`,
    );
  }
  const bytes = fromHex(hex.toLowerCase());
  if (bytes.length === 16) {
    try {
      decodeCid(bytes);
    } catch (e) {
      if (e instanceof ProtocolError)
        throw new UsageError(`--cid is not a valid CID: ${e.message}`);
      throw e;
    }
  }
  return bytes;
}

/**
 * Parse `--range` in HTTP byte-range form against a file of `size` bytes and return the
 * half-open `[start, end)` the library's `CardZone.get(name, start, end)` takes: `START-END` is
 * bytes START through END (`[START, END + 1)`), `START-` runs to the end, `-LAST` is the last
 * LAST bytes. As in the library, the range must lie within the file and nothing is clamped: a
 * range that reaches past the end is an `INVALID_ARGUMENT` (exit 1, known once the file is
 * open); a malformed one, or END before START, is a usage error (exit 2).
 *
 * @example
 * ```ts
 * parseRange('0-99', 1000); // { start: 0, end: 100 }
 * parseRange('-10', 1000); // { start: 990, end: 1000 }
 * ```
 */
export function parseRange(text: string, size: number): { start: number; end: number } {
  const m = /^(\d*)-(\d*)$/.exec(text.trim());
  if (!m || (m[1] === '' && m[2] === ''))
    throw new UsageError(`--range must be START-END, START- or -LAST, got '${text}'`);
  const [, first = '', second = ''] = m;
  const range =
    first === ''
      ? { start: size - Number(second), end: size }
      : { start: Number(first), end: second === '' ? size : Number(second) + 1 };
  if (first !== '' && second !== '' && Number(second) < Number(first))
    throw new UsageError(`--range ${text}: END is before START`);
  if (range.start < 0 || range.end > size || range.start > range.end)
    throw new ArgumentError(`--range ${text} reaches outside the file of ${size} bytes`);
  return range;
}
