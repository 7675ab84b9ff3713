/**
 * PIN and PUK blocks as the chip's APDUs carry them: a PIN is 4-8 ASCII digits padded with `FF`
 * to 8 bytes (the PIV convention); a PUK is exactly 8 ASCII digits.
 *
 * @module
 */
import { ArgumentError } from '../../errors.js';

/**
 * Length of a PIN or PUK block, in bytes.
 *
 * @example
 * ```ts
 * import { PIN_BLOCK_LENGTH } from 'simvault/sim';
 * PIN_BLOCK_LENGTH; // 8
 * ```
 */
export const PIN_BLOCK_LENGTH = 8;

const PIN_PATTERN = /^[0-9]{4,8}$/;
const PUK_PATTERN = /^[0-9]{8}$/;

/**
 * Whether `pin` is a valid PIN: 4 to 8 decimal digits.
 *
 * @example
 * ```ts
 * import { isValidPin } from 'simvault/sim';
 * isValidPin('1234'); // true
 * isValidPin('12a4'); // false
 * ```
 */
export function isValidPin(pin: unknown): pin is string {
  return typeof pin === 'string' && PIN_PATTERN.test(pin);
}

/**
 * Whether `puk` is a valid PUK: exactly 8 decimal digits.
 *
 * @example
 * ```ts
 * import { isValidPuk } from 'simvault/sim';
 * isValidPuk('12345678'); // true
 * ```
 */
export function isValidPuk(puk: unknown): puk is string {
  return typeof puk === 'string' && PUK_PATTERN.test(puk);
}

/**
 * The 8-byte block of a PIN: its digits in ASCII, then `FF` padding. Throws
 * `INVALID_ARGUMENT` for anything but 4-8 digits.
 *
 * @example
 * ```ts
 * import { encodePinBlock } from 'simvault/sim';
 * import { toHex } from 'simvault';
 * toHex(encodePinBlock('1234')); // '31323334ffffffff'
 * ```
 */
export function encodePinBlock(pin: string): Uint8Array {
  if (!isValidPin(pin)) throw new ArgumentError('a PIN must be 4 to 8 decimal digits');
  const block = new Uint8Array(PIN_BLOCK_LENGTH).fill(0xff);
  for (let i = 0; i < pin.length; i++) block[i] = pin.charCodeAt(i);
  return block;
}

/**
 * The 8-byte block of a PUK: its 8 digits in ASCII. Throws `INVALID_ARGUMENT` for anything else.
 *
 * @example
 * ```ts
 * import { encodePukBlock } from 'simvault/sim';
 * import { toHex } from 'simvault';
 * toHex(encodePukBlock('12345678')); // '3132333435363738'
 * ```
 */
export function encodePukBlock(puk: string): Uint8Array {
  if (!isValidPuk(puk)) throw new ArgumentError('a PUK must be exactly 8 decimal digits');
  return Uint8Array.from(puk, (c) => c.charCodeAt(0));
}

/**
 * Read a PIN block back to its digits, or `undefined` when the 8 bytes are not 4-8 ASCII digits
 * followed only by `FF`.
 *
 * @example
 * ```ts
 * import { decodePinBlock } from 'simvault/sim';
 * import { fromHex } from 'simvault';
 * decodePinBlock(fromHex('31323334ffffffff')); // '1234'
 * decodePinBlock(fromHex('3132ff34ffffffff')); // undefined
 * ```
 */
export function decodePinBlock(block: Uint8Array): string | undefined {
  if (block.length !== PIN_BLOCK_LENGTH) return undefined;
  let digits = 0;
  while (digits < PIN_BLOCK_LENGTH && block[digits]! >= 0x30 && block[digits]! <= 0x39) digits++;
  for (let i = digits; i < PIN_BLOCK_LENGTH; i++) if (block[i] !== 0xff) return undefined;
  if (digits < 4) return undefined;
  return String.fromCharCode(...block.subarray(0, digits));
}

/**
 * Read a PUK block back to its digits, or `undefined` when it is not 8 ASCII digits.
 *
 * @example
 * ```ts
 * import { decodePukBlock } from 'simvault/sim';
 * import { fromHex } from 'simvault';
 * decodePukBlock(fromHex('3132333435363738')); // '12345678'
 * ```
 */
export function decodePukBlock(block: Uint8Array): string | undefined {
  if (block.length !== PIN_BLOCK_LENGTH) return undefined;
  const text = String.fromCharCode(...block);
  return PUK_PATTERN.test(text) ? text : undefined;
}

/**
 * Compare two secrets in time that depends only on their lengths, so a wrong PIN's timing tells
 * nothing about how many leading digits were right.
 *
 * @example
 * ```ts
 * import { secretsEqual } from './pin.js';
 * secretsEqual('1234', '1234'); // true
 * ```
 */
export function secretsEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) diff |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  return diff === 0;
}
