/**
 * The fixed vocabulary of the memory card's secure chip: its AID, instruction bytes, GET DATA
 * tags, status words and the size of what it hands out. `docs/chip-apdus.md` is the table of
 * these in use.
 *
 * @module
 */
import { statusWordName } from '../../protocol/apdu.js';

/**
 * The chip application's AID: RID `F0 53 49 4D 56` (an unregistered proprietary RID, ISO 7816-5
 * category F) and PIX `43 48 49 50 01` ("CHIP", version 1).
 *
 * @example
 * ```ts
 * import { CHIP_AID } from 'simvault/sim';
 * CHIP_AID.length; // 10
 * ```
 */
export const CHIP_AID: Uint8Array = new Uint8Array([
  0xf0, 0x53, 0x49, 0x4d, 0x56, 0x43, 0x48, 0x49, 0x50, 0x01,
]);

/**
 * Instruction bytes the chip understands. SELECT, VERIFY, CHANGE REFERENCE DATA and RESET
 * RETRY COUNTER take CLA `00`; GET DATA takes `00` or `80`; the key commands are proprietary
 * and take CLA `80`.
 *
 * @example
 * ```ts
 * import { CHIP_INS } from 'simvault/sim';
 * CHIP_INS.GENERATE_FILE_KEY; // 0x46
 * ```
 */
export const CHIP_INS = {
  /** SELECT by AID (`00 A4 04 00`). */
  SELECT: 0xa4,
  /** GET DATA of one data object, P1-P2 = its tag (`00 CA` or `80 CA`). */
  GET_DATA: 0xca,
  /** VERIFY the PIN, or ask its status, or reset the security status (`00 20`). */
  VERIFY: 0x20,
  /** CHANGE REFERENCE DATA: replace the PIN, proving the old one (`00 24`). */
  CHANGE_REFERENCE_DATA: 0x24,
  /** RESET RETRY COUNTER: unblock the PIN with the PUK and set a new PIN (`00 2C`). */
  RESET_RETRY_COUNTER: 0x2c,
  /** GENERATE FILE KEY: a fresh file key and its form wrapped under the chip key (`80 46`). */
  GENERATE_FILE_KEY: 0x46,
  /** UNWRAP FILE KEY: the file key inside a wrapped form, for the same context (`80 48`). */
  UNWRAP_FILE_KEY: 0x48,
} as const;

/**
 * Tags of the data objects GET DATA returns (P1-P2 of the command). Each response is the whole
 * data object, tag and length included.
 *
 * @example
 * ```ts
 * import { CHIP_TAG } from 'simvault/sim';
 * CHIP_TAG.SERIAL; // 0xdf20
 * ```
 */
export const CHIP_TAG = {
  /** The chip serial number, 8 bytes. */
  SERIAL: 0xdf20,
  /** The COS version: major, minor. */
  COS_VERSION: 0xdf21,
  /** The supported algorithms, one byte each (see {@link CHIP_ALGORITHM}). */
  ALGORITHMS: 0xdf22,
  /** PIN retries: left, maximum. */
  PIN_TRIES: 0xdf23,
  /** PUK retries: left, maximum. */
  PUK_TRIES: 0xdf24,
  /** All of the above, in a constructed template. */
  CHIP_INFO: 0xbf20,
} as const;

/**
 * Algorithm identifiers listed by GET DATA {@link CHIP_TAG.ALGORITHMS}.
 *
 * @example
 * ```ts
 * import { CHIP_ALGORITHM } from 'simvault/sim';
 * CHIP_ALGORITHM.AES_256_GCM_KEY_WRAP; // 0x01
 * ```
 */
export const CHIP_ALGORITHM = {
  /** 32-byte file keys wrapped under the chip key with AES-256-GCM, the context as associated data. */
  AES_256_GCM_KEY_WRAP: 0x01,
} as const;

/**
 * The COS version GET DATA reports: major, minor.
 *
 * @example
 * ```ts
 * import { CHIP_COS_VERSION } from 'simvault/sim';
 * CHIP_COS_VERSION; // [1, 0]
 * ```
 */
export const CHIP_COS_VERSION: readonly [number, number] = [1, 0];

/**
 * The PIN reference (P2 of VERIFY, CHANGE REFERENCE DATA and RESET RETRY COUNTER): local PIN 1.
 *
 * @example
 * ```ts
 * import { CHIP_PIN_REFERENCE } from 'simvault/sim';
 * CHIP_PIN_REFERENCE; // 0x81
 * ```
 */
export const CHIP_PIN_REFERENCE = 0x81;

/**
 * Length of a file key, in bytes.
 *
 * @example
 * ```ts
 * import { FILE_KEY_LENGTH } from 'simvault/sim';
 * FILE_KEY_LENGTH; // 32
 * ```
 */
export const FILE_KEY_LENGTH = 32;

/**
 * Length of a wrapped file key: format byte, 12-byte nonce, 32-byte encrypted key, 16-byte tag.
 *
 * @example
 * ```ts
 * import { WRAPPED_KEY_LENGTH } from 'simvault/sim';
 * WRAPPED_KEY_LENGTH; // 61
 * ```
 */
export const WRAPPED_KEY_LENGTH = 61;

/**
 * Longest context a key command accepts, in bytes (one short APDU's data, less the wrapped key
 * UNWRAP carries in front of it).
 *
 * @example
 * ```ts
 * import { CHIP_MAX_CONTEXT_LENGTH } from 'simvault/sim';
 * CHIP_MAX_CONTEXT_LENGTH; // 192
 * ```
 */
export const CHIP_MAX_CONTEXT_LENGTH = 192;

/**
 * The status words the chip answers with.
 *
 * @example
 * ```ts
 * import { CHIP_SW } from 'simvault/sim';
 * CHIP_SW.BLOCKED; // 0x6983
 * ```
 */
export const CHIP_SW = {
  /** Normal ending. */
  OK: 0x9000,
  /** Wrong PIN or PUK; the low nibble of the `63Cx` word carries the tries left (added to this base). */
  WRONG_PIN_BASE: 0x63c0,
  /** The command's length is wrong (Lc absent, too short, too long, or the APDU is malformed). */
  WRONG_LENGTH: 0x6700,
  /** The PIN has not been verified in this session. */
  SECURITY_NOT_SATISFIED: 0x6982,
  /** The PIN (or, for RESET RETRY COUNTER, the PUK) is blocked. */
  BLOCKED: 0x6983,
  /** No application is selected. */
  CONDITIONS_NOT_SATISFIED: 0x6985,
  /** The data field is malformed, or a wrapped key does not authenticate for its context. */
  INCORRECT_DATA: 0x6a80,
  /** SELECT named an AID the chip does not have. */
  NOT_FOUND: 0x6a82,
  /** Wrong P1 or P2. */
  INCORRECT_P1P2: 0x6a86,
  /** GET DATA asked for a tag the chip does not have. */
  DATA_NOT_FOUND: 0x6a88,
  /** The INS is not supported in that class. */
  INS_NOT_SUPPORTED: 0x6d00,
  /** The CLA is not supported. */
  CLA_NOT_SUPPORTED: 0x6e00,
  /** An internal fault; no state was changed. */
  NO_PRECISE_DIAGNOSIS: 0x6f00,
} as const;

/**
 * A readable name for any status word the chip may return: the ISO names of
 * `statusWordName`, plus the PIN words `63Cx` and `6983`.
 *
 * @example
 * ```ts
 * import { chipStatusWordName } from 'simvault/sim';
 * chipStatusWordName(0x63c2); // 'verification failed, 2 tries left'
 * ```
 */
export function chipStatusWordName(sw: number): string {
  if (sw === CHIP_SW.BLOCKED) return 'authentication method blocked';
  if ((sw & 0xfff0) === CHIP_SW.WRONG_PIN_BASE) {
    const left = sw & 0x0f;
    return `verification failed, ${left} ${left === 1 ? 'try' : 'tries'} left`;
  }
  if ((sw & 0xff00) === 0x6c00) return `wrong Le, exact length is ${sw & 0xff || 256}`;
  return statusWordName(sw) ?? 'unknown status word';
}
