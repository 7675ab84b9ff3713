/**
 * Small byte helpers shared by every layer. Portable: no `node:` imports.
 *
 * @module
 */
import { ArgumentError } from './errors.js';

const HEX = '0123456789abcdef';

/**
 * Lower-case hex of a byte array.
 *
 * @example
 * ```ts
 * import { toHex } from 'simvault';
 * toHex(new Uint8Array([0xde, 0xad])); // 'dead'
 * ```
 */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    out += HEX[b >> 4]! + HEX[b & 15]!;
  }
  return out;
}

/**
 * Parse hex (either case; spaces, colons and newlines between bytes are ignored).
 * Throws {@link ArgumentError} on an odd length or a non-hex character.
 *
 * @example
 * ```ts
 * import { fromHex } from 'simvault';
 * fromHex('de ad'); // Uint8Array [0xde, 0xad]
 * ```
 */
export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/[\s:]/g, '');
  if (clean.length % 2 !== 0)
    throw new ArgumentError(`hex has an odd number of digits (${clean.length})`);
  if (!/^[0-9a-fA-F]*$/.test(clean))
    throw new ArgumentError('hex contains a character that is not a hex digit');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/**
 * Concatenate byte arrays into a new one.
 *
 * @example
 * ```ts
 * import { concatBytes } from 'simvault';
 * concatBytes(new Uint8Array([1]), new Uint8Array([2, 3])); // [1, 2, 3]
 * ```
 */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * Constant-time equality of two byte arrays (time depends only on the length).
 *
 * @example
 * ```ts
 * import { equalBytes } from 'simvault';
 * equalBytes(new Uint8Array([1]), new Uint8Array([1])); // true
 * ```
 */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * UTF-8 encode a string.
 *
 * @example
 * ```ts
 * import { utf8 } from 'simvault';
 * utf8('abc'); // Uint8Array [0x61, 0x62, 0x63]
 * ```
 */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/**
 * Check that a value is a `Uint8Array`, optionally of an exact length; throw {@link ArgumentError}
 * naming the argument otherwise.
 *
 * @example
 * ```ts
 * import { assertBytes } from 'simvault';
 * assertBytes(new Uint8Array(32), 'key', 32);
 * ```
 */
export function assertBytes(
  value: unknown,
  name: string,
  length?: number,
): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new ArgumentError(`${name} must be a Uint8Array`);
  if (length !== undefined && value.length !== length) {
    throw new ArgumentError(`${name} must be ${length} bytes, got ${value.length}`);
  }
}

/**
 * Get random bytes from the platform's CSPRNG (`globalThis.crypto`, present in Node ≥ 19,
 * browsers, Deno and Bun). Throws {@link ArgumentError} unless `length` is a non-negative safe
 * integer.
 *
 * @example
 * ```ts
 * import { randomBytes } from 'simvault';
 * const salt = randomBytes(24);
 * ```
 */
export function randomBytes(length: number): Uint8Array {
  checkRandomLength(length);
  const out = new Uint8Array(length);
  // getRandomValues fills at most 65536 bytes per call.
  for (let off = 0; off < length; off += 65536) {
    globalThis.crypto.getRandomValues(out.subarray(off, Math.min(length, off + 65536)));
  }
  return out;
}

function checkRandomLength(length: number): void {
  if (!Number.isSafeInteger(length) || length < 0)
    throw new ArgumentError(`random byte count must be a non-negative safe integer, got ${length}`);
}

// A call to getRandomValues costs about 7 µs on Node whatever its size up to a few KiB, and
// storing one small file on a card draws a dozen nonces and ids. These come from a pool refilled
// POOL bytes at a time, each byte handed out once and zeroed in the pool as it goes. Keys and
// other secrets never do: the pool holds values before they are used, where a heap dump or a
// cloned process image would see them.
const POOL = 4096;
const pool = new Uint8Array(POOL);
let poolAt = POOL;

/**
 * @internal Random bytes for a value that is public once used (a nonce, a salt, an id), at most
 * 64 of them, from a pool refilled from the platform's CSPRNG. Never for a key or a secret: use
 * {@link randomBytes}.
 */
export function randomPublicBytes(length: number): Uint8Array {
  checkRandomLength(length);
  if (length > 64) throw new ArgumentError(`at most 64 pooled random bytes, asked for ${length}`);
  if (poolAt + length > POOL) {
    globalThis.crypto.getRandomValues(pool);
    poolAt = 0;
  }
  const out = pool.slice(poolAt, poolAt + length);
  pool.fill(0, poolAt, poolAt + length);
  poolAt += length;
  return out;
}
