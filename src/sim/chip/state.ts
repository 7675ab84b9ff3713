/**
 * The secure chip's persistent memory — serial, chip key, PIN, PUK and their retry counters —
 * created at personalization, and its byte form for an emulator's state file.
 *
 * Byte form (81 bytes): `"SVCH"` | version `01` | serial(8) | chip key(32) | PIN block(8) |
 * PIN tries max, left | PUK(8) | PUK tries max, left | first 16 bytes of SHA-256 over all
 * before. The digest catches a damaged file; it is no protection against someone who can write
 * the file, who could read the chip key from it anyway.
 *
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { assertBytes, equalBytes, randomBytes } from '../../bytes.js';
import { ArgumentError, ProtocolError } from '../../errors.js';
import { ByteReader, ByteWriter } from '../../protocol/reader.js';
import {
  decodePinBlock,
  decodePukBlock,
  encodePinBlock,
  encodePukBlock,
  isValidPin,
  isValidPuk,
  PIN_BLOCK_LENGTH,
} from './pin.js';

const STRUCTURE = 'ChipState';
const MAGIC = new Uint8Array([0x53, 0x56, 0x43, 0x48]);
const VERSION = 1;
const DIGEST_LENGTH = 16;

/**
 * Length of a chip serial number, in bytes.
 *
 * @example
 * ```ts
 * import { CHIP_SERIAL_LENGTH } from 'simvault/sim';
 * CHIP_SERIAL_LENGTH; // 8
 * ```
 */
export const CHIP_SERIAL_LENGTH = 8;

/**
 * Length of the chip-internal key that wraps file keys, in bytes.
 *
 * @example
 * ```ts
 * import { CHIP_KEY_LENGTH } from 'simvault/sim';
 * CHIP_KEY_LENGTH; // 32
 * ```
 */
export const CHIP_KEY_LENGTH = 32;

/**
 * Length of an encoded chip state, in bytes.
 *
 * @example
 * ```ts
 * import { CHIP_STATE_LENGTH } from 'simvault/sim';
 * CHIP_STATE_LENGTH; // 81
 * ```
 */
export const CHIP_STATE_LENGTH =
  4 +
  1 +
  CHIP_SERIAL_LENGTH +
  CHIP_KEY_LENGTH +
  PIN_BLOCK_LENGTH +
  2 +
  PIN_BLOCK_LENGTH +
  2 +
  DIGEST_LENGTH;

/**
 * What the chip keeps across power cycles. Retry maxima are 1-15 (the `x` of `63Cx` is one
 * nibble); each `left` is at most its maximum.
 *
 * @example
 * ```ts
 * import { personalizeChip, type ChipState } from 'simvault/sim';
 * const state: ChipState = personalizeChip({ pin: '1234' });
 * state.pinTriesLeft; // 3
 * ```
 */
export interface ChipState {
  /** Serial number, 8 bytes; public (GET DATA). */
  serial: Uint8Array;
  /** The chip key that wraps file keys, 32 bytes; no APDU ever returns it. */
  chipKey: Uint8Array;
  /** The PIN, 4-8 digits. */
  pin: string;
  /** PIN tries allowed before it blocks (1-15). */
  pinTriesMax: number;
  /** PIN tries left; 0 means blocked. */
  pinTriesLeft: number;
  /** The PUK that unblocks the PIN, 8 digits. */
  puk: string;
  /** PUK tries allowed before it blocks for good (1-15). */
  pukTriesMax: number;
  /** PUK tries left; 0 means the PIN can never be unblocked. */
  pukTriesLeft: number;
}

/**
 * What personalization may be given. Anything left out is generated inside the chip: serial,
 * chip key and PUK from the random source.
 *
 * @example
 * ```ts
 * import type { ChipPersonalizeOptions } from 'simvault/sim';
 * const options: ChipPersonalizeOptions = { pin: '1234', pinTries: 5 };
 * ```
 */
export interface ChipPersonalizeOptions {
  /** The initial PIN, 4-8 digits. */
  pin: string;
  /** The PUK, 8 digits; random when absent. */
  puk?: string;
  /** The serial, 8 bytes; random when absent. */
  serial?: Uint8Array;
  /** The chip key, 32 bytes; random when absent. Give it only for reproducible tests and examples. */
  chipKey?: Uint8Array;
  /** PIN tries before blocking, 1-15; 3 when absent. */
  pinTries?: number;
  /** PUK tries before blocking for good, 1-15; 10 when absent. */
  pukTries?: number;
  /** The random source; the platform CSPRNG when absent. */
  random?: (length: number) => Uint8Array;
}

function isTries(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 15;
}

function randomPuk(random: (length: number) => Uint8Array): string {
  // Rejection sampling keeps every 8-digit PUK equally likely.
  for (;;) {
    const b = random(4);
    const n = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
    if (n < 4_000_000_000) return String(n % 100_000_000).padStart(8, '0');
  }
}

/**
 * Personalize a chip: the state of a fresh chip with full retry counters. Throws
 * `INVALID_ARGUMENT` for a bad PIN, PUK, serial, key or tries count.
 *
 * @example
 * ```ts
 * import { personalizeChip } from 'simvault/sim';
 * const state = personalizeChip({ pin: '1234', puk: '12345678' });
 * state.serial.length; // 8
 * ```
 */
export function personalizeChip(options: ChipPersonalizeOptions): ChipState {
  const random = options.random ?? randomBytes;
  if (!isValidPin(options.pin)) throw new ArgumentError('pin must be 4 to 8 decimal digits');
  if (options.puk !== undefined && !isValidPuk(options.puk))
    throw new ArgumentError('puk must be exactly 8 decimal digits');
  if (options.serial !== undefined) assertBytes(options.serial, 'serial', CHIP_SERIAL_LENGTH);
  if (options.chipKey !== undefined) assertBytes(options.chipKey, 'chipKey', CHIP_KEY_LENGTH);
  const pinTries = options.pinTries ?? 3;
  const pukTries = options.pukTries ?? 10;
  if (!isTries(pinTries)) throw new ArgumentError('pinTries must be an integer 1-15');
  if (!isTries(pukTries)) throw new ArgumentError('pukTries must be an integer 1-15');
  return {
    serial: options.serial ? options.serial.slice() : random(CHIP_SERIAL_LENGTH),
    chipKey: options.chipKey ? options.chipKey.slice() : random(CHIP_KEY_LENGTH),
    pin: options.pin,
    pinTriesMax: pinTries,
    pinTriesLeft: pinTries,
    puk: options.puk ?? randomPuk(random),
    pukTriesMax: pukTries,
    pukTriesLeft: pukTries,
  };
}

function bad(field: string, detail: string): never {
  throw new ProtocolError('PROTOCOL_BAD_VALUE', STRUCTURE, field, -1, detail);
}

/**
 * Encode a chip state to its 81-byte form. Throws a `ProtocolError` (offset -1) naming the field
 * for a value out of range.
 *
 * @example
 * ```ts
 * import { encodeChipState, personalizeChip } from 'simvault/sim';
 * encodeChipState(personalizeChip({ pin: '1234' })).length; // 81
 * ```
 */
export function encodeChipState(state: ChipState): Uint8Array {
  // Validated at the boundary: plain JavaScript may hand over anything.
  const given: unknown = state;
  if (typeof given !== 'object' || given === null) bad('state', 'must be an object');
  if (!(state.serial instanceof Uint8Array) || state.serial.length !== CHIP_SERIAL_LENGTH)
    bad('serial', 'must be 8 bytes');
  if (!(state.chipKey instanceof Uint8Array) || state.chipKey.length !== CHIP_KEY_LENGTH)
    bad('chipKey', 'must be 32 bytes');
  if (!isValidPin(state.pin)) bad('pin', 'must be 4 to 8 decimal digits');
  if (!isValidPuk(state.puk)) bad('puk', 'must be 8 decimal digits');
  if (!isTries(state.pinTriesMax)) bad('pinTriesMax', 'must be an integer 1-15');
  if (!isTries(state.pukTriesMax)) bad('pukTriesMax', 'must be an integer 1-15');
  const leftOk = (n: unknown, max: number) =>
    typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= max;
  if (!leftOk(state.pinTriesLeft, state.pinTriesMax))
    bad('pinTriesLeft', 'must be an integer 0-pinTriesMax');
  if (!leftOk(state.pukTriesLeft, state.pukTriesMax))
    bad('pukTriesLeft', 'must be an integer 0-pukTriesMax');
  const w = new ByteWriter()
    .bytes(MAGIC)
    .u8(VERSION)
    .bytes(state.serial)
    .bytes(state.chipKey)
    .bytes(encodePinBlock(state.pin))
    .u8(state.pinTriesMax)
    .u8(state.pinTriesLeft)
    .bytes(encodePukBlock(state.puk))
    .u8(state.pukTriesMax)
    .u8(state.pukTriesLeft);
  const body = w.finish();
  return new ByteWriter().bytes(body).bytes(sha256(body).subarray(0, DIGEST_LENGTH)).finish();
}

/**
 * Decode an 81-byte chip state. Throws a `ProtocolError` naming the field and offset for a wrong
 * magic, version, length, digest or value.
 *
 * @example
 * ```ts
 * import { decodeChipState, encodeChipState, personalizeChip } from 'simvault/sim';
 * const state = personalizeChip({ pin: '1234' });
 * decodeChipState(encodeChipState(state)).pin; // '1234'
 * ```
 */
export function decodeChipState(bytes: Uint8Array): ChipState {
  const r: ByteReader = new ByteReader(bytes, STRUCTURE);
  const magic = r.bytesView(4, 'magic');
  if (!equalBytes(magic, MAGIC))
    r.fail('PROTOCOL_BAD_VALUE', 'magic', 'not a simvault chip state', 0);
  const version = r.u8('version');
  if (version !== VERSION)
    r.fail('PROTOCOL_BAD_VERSION', 'version', `version ${version} is not supported`, 4);
  r.need(CHIP_STATE_LENGTH - 5, 'state');
  if (bytes.length > CHIP_STATE_LENGTH)
    r.fail(
      'PROTOCOL_TRAILING_BYTES',
      'state',
      `${bytes.length - CHIP_STATE_LENGTH} byte(s) after the state`,
      CHIP_STATE_LENGTH,
    );
  const bodyLength = CHIP_STATE_LENGTH - DIGEST_LENGTH;
  const digest = sha256(bytes.subarray(0, bodyLength)).subarray(0, DIGEST_LENGTH);
  if (!equalBytes(digest, bytes.subarray(bodyLength)))
    r.fail('PROTOCOL_BAD_CHECKSUM', 'digest', 'the state is damaged', bodyLength);
  const serial = r.take(CHIP_SERIAL_LENGTH, 'serial');
  const chipKey = r.take(CHIP_KEY_LENGTH, 'chipKey');
  const pinAt = r.offset;
  const pin = decodePinBlock(r.bytesView(PIN_BLOCK_LENGTH, 'pin'));
  if (pin === undefined)
    r.fail('PROTOCOL_BAD_VALUE', 'pin', 'not 4-8 digits padded with FF', pinAt);
  const pinTriesMax = r.u8('pinTriesMax');
  if (!isTries(pinTriesMax))
    r.fail('PROTOCOL_BAD_VALUE', 'pinTriesMax', 'must be 1-15', r.offset - 1);
  const pinTriesLeft = r.u8('pinTriesLeft');
  if (pinTriesLeft > pinTriesMax)
    r.fail('PROTOCOL_BAD_VALUE', 'pinTriesLeft', 'above pinTriesMax', r.offset - 1);
  const pukAt = r.offset;
  const puk = decodePukBlock(r.bytesView(PIN_BLOCK_LENGTH, 'puk'));
  if (puk === undefined) r.fail('PROTOCOL_BAD_VALUE', 'puk', 'not 8 digits', pukAt);
  const pukTriesMax = r.u8('pukTriesMax');
  if (!isTries(pukTriesMax))
    r.fail('PROTOCOL_BAD_VALUE', 'pukTriesMax', 'must be 1-15', r.offset - 1);
  const pukTriesLeft = r.u8('pukTriesLeft');
  if (pukTriesLeft > pukTriesMax)
    r.fail('PROTOCOL_BAD_VALUE', 'pukTriesLeft', 'above pukTriesMax', r.offset - 1);
  return { serial, chipKey, pin, pinTriesMax, pinTriesLeft, puk, pukTriesMax, pukTriesLeft };
}
