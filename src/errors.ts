/**
 * The one error family of simvault. Every error the library throws on purpose is a
 * {@link SimvaultError} with a stable {@link SimvaultError.code | code} from {@link ERROR_CODES};
 * callers branch on `code`, never on message text.
 *
 * @module
 */

/**
 * Every stable error code, with the sentence that documents it. Codes never change meaning once
 * published; new ones are only added.
 *
 * @example
 * ```ts
 * import { ERROR_CODES } from 'simvault';
 * console.log(ERROR_CODES.CRYPTO_AUTH_FAILED);
 * ```
 */
export const ERROR_CODES = {
  // Arguments and configuration.
  INVALID_ARGUMENT: 'An argument has the wrong type, length or range.',
  UNSUPPORTED: 'The requested suite, backend or feature is not available here.',
  ABORTED: 'The operation was cancelled through its AbortSignal.',
  // Content encryption.
  CRYPTO_BAD_KEY: 'A key has the wrong length for its suite.',
  CRYPTO_COMMITMENT_MISMATCH:
    'The key commitment does not match: wrong key, wrong context, or a damaged header.',
  CRYPTO_AUTH_FAILED: 'A chunk failed authentication: damaged, reordered or foreign data.',
  CRYPTO_TRUNCATED: 'The ciphertext ends where no message can end: it was truncated or extended.',
  CRYPTO_TOO_LARGE: 'The message exceeds the chunk counter limit of the format.',
  CRYPTO_BAD_ENVELOPE: 'The envelope header is not a simvault envelope or is damaged.',
  CRYPTO_DECOMPRESS_FAILED: 'The authenticated plaintext did not decompress.',
  // Protocol codecs.
  PROTOCOL_TRUNCATED: 'The input ends before the structure does.',
  PROTOCOL_TRAILING_BYTES: 'The input has bytes after the end of the structure.',
  PROTOCOL_BAD_LENGTH: 'A length field or a field length is wrong.',
  PROTOCOL_BAD_VALUE: 'A field holds a value outside its range.',
  PROTOCOL_UNKNOWN_TAG: 'A tag or command code is not known and may not be skipped.',
  PROTOCOL_MISSING_FIELD: 'A required field is absent.',
  PROTOCOL_BAD_VERSION: 'The format version of a message is not supported.',
  PROTOCOL_BAD_CHECKSUM: 'A checksum, CRC or MAC does not verify.',
  PROTOCOL_BAD_PADDING: 'Ciphering padding is inconsistent.',
  PROTOCOL_REPLAY: 'A counter shows a replayed or out-of-order packet.',
  PROTOCOL_INSUFFICIENT_SECURITY: 'A secured packet is protected less than the minimum security level requires.',
  // Card application server.
  SERVER_BAD_REQUEST: 'A request is malformed: bad bytes, a bad field, a wrong message type or an oversized body.',
  SERVER_UNAUTHENTICATED: 'A request that must be signed carries no signature, or names an unknown key.',
  SERVER_BAD_SIGNATURE: 'A request signature does not verify.',
  SERVER_STALE_REQUEST: 'A signed request is outside the accepted time window.',
  SERVER_REPLAYED: 'A signed request reuses a nonce already seen: a replay.',
  SERVER_FORBIDDEN: 'The signing key may not call this endpoint.',
  SERVER_RATE_LIMITED: 'Too many requests for this card or SIM; retry after the given delay.',
  SERVER_NOT_FOUND: 'No such endpoint or record.',
  SERVER_UNKNOWN_CARD: 'The CID is not in the card information: an illegitimate card.',
  SERVER_CARD_BLOCKED: 'The card is blocked or retired.',
  SERVER_ALREADY_BOUND: 'The card is bound to another SIM.',
  SERVER_NOT_BOUND: 'The card is not bound to this SIM.',
  SERVER_UNKNOWN_APP: 'The application is not defined, not offered for this card, or has no download resource.',
  SERVER_UNKNOWN_OFFER: 'The offer is not defined.',
  SERVER_INTERNAL: 'The server failed; the request may be retried.',
  // Block devices.
  // The card.
  CARD_NOT_FORMATTED: 'The device holds no simvault card header.',
  CARD_UNSUPPORTED_VERSION: 'The card was formatted by a newer, unknown format version.',
  CARD_CID_MISMATCH: 'The image was formatted for a card with another CID (copied from another card).',
  CARD_WRONG_SIM: 'The keys belong to another SIM: key identifiers do not match.',
  CARD_CORRUPT: 'A card structure failed authentication or is inconsistent: damaged or tampered.',
  CARD_ROLLED_BACK: 'A zone is older than the generation its SIM anchored: the card was rolled back.',
  CARD_NO_SPACE: 'The zone has not enough free space for the operation.',
  CARD_NOT_FOUND: 'No file of that name in the zone.',
  CARD_EXISTS: 'A file of that name already exists.',
  CARD_BAD_NAME: 'A file name is empty, too long, or not valid UTF-8 text.',
  CARD_SIZE_MISMATCH: 'A put delivered another number of bytes than it declared.',
  CARD_NOT_MOUNTED: 'The card or zone was unmounted or erased.',
  CARD_RESUME_MISMATCH: 'The interrupted put does not match the source offered to resume it.',
  DEVICE_IO: 'A read, write or flush of the underlying storage failed.',
  DEVICE_BAD_ALIGNMENT: 'An offset, length or size is not a multiple of the sector size.',
  DEVICE_OUT_OF_RANGE: 'An access reaches outside the device.',
  DEVICE_POWER_CUT: 'Power failed (simulated); the device accepts no more calls.',
  DEVICE_CLOSED: 'The device was closed; it accepts no more calls.',
  DEVICE_READ_ONLY: 'A write was sent to a device opened read-only.',
  DEVICE_BAD_IMAGE: 'A card image cannot be opened as asked: missing, already present, or a segment is missing or has the wrong size.',
} as const;

/**
 * A stable error code: a key of {@link ERROR_CODES}.
 *
 * @example
 * ```ts
 * import type { ErrorCode } from 'simvault';
 * const code: ErrorCode = 'CRYPTO_AUTH_FAILED';
 * ```
 */
export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * Base class of every error simvault throws on purpose.
 *
 * @example
 * ```ts
 * import { SimvaultError } from 'simvault';
 * try {
 *   // ... any simvault call
 * } catch (e) {
 *   if (e instanceof SimvaultError && e.code === 'CRYPTO_AUTH_FAILED') console.error('tampered');
 *   else throw e;
 * }
 * ```
 */
export class SimvaultError extends Error {
  /** The stable code; see {@link ERROR_CODES}. */
  readonly code: ErrorCode;

  /**
   * @param code - stable code from {@link ERROR_CODES}
   * @param message - human-readable detail
   * @param options - standard `ErrorOptions` (a `cause`)
   */
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * A bad argument or configuration given to a simvault function.
 *
 * @example
 * ```ts
 * import { ArgumentError } from 'simvault';
 * throw new ArgumentError('key must be 32 bytes');
 * ```
 */
export class ArgumentError extends SimvaultError {
  /**
   * @param message - what was wrong
   * @param code - defaults to `INVALID_ARGUMENT`
   */
  constructor(message: string, code: 'INVALID_ARGUMENT' | 'UNSUPPORTED' | 'ABORTED' = 'INVALID_ARGUMENT') {
    super(code, message);
  }
}

/**
 * A failure of the content-encryption layer: wrong key, tampered or truncated ciphertext.
 * No plaintext past the last authenticated chunk is ever released alongside it.
 *
 * @example
 * ```ts
 * import { CryptoError } from 'simvault';
 * throw new CryptoError('CRYPTO_AUTH_FAILED', 'chunk 3 failed authentication');
 * ```
 */
export class CryptoError extends SimvaultError {}

/**
 * A decoding or encoding failure of a protocol codec. Names the field and the byte offset at which
 * the input stopped making sense.
 *
 * @example
 * ```ts
 * import { ProtocolError } from 'simvault';
 * throw new ProtocolError('PROTOCOL_TRUNCATED', 'CID', 'cid', 15, 'need 16 bytes');
 * ```
 */
export class ProtocolError extends SimvaultError {
  /** The structure being decoded or encoded, e.g. `CID`, `APDU`, `SecuredPacket`. */
  readonly structure: string;
  /** The field at fault, e.g. `PSN`, `Lc`, `CHL`. */
  readonly field: string;
  /** Byte offset into the input where the fault was found (`-1` when encoding). */
  readonly offset: number;

  /**
   * @param code - stable code
   * @param structure - structure being decoded
   * @param field - field at fault
   * @param offset - byte offset into the input
   * @param detail - what was wrong
   */
  constructor(code: ErrorCode, structure: string, field: string, offset: number, detail: string) {
    super(code, `${structure}.${field} at offset ${offset}: ${detail}`);
    this.structure = structure;
    this.field = field;
    this.offset = offset;
  }
}

/**
 * A failure of the card engine: wrong SIM or card, damaged or rolled-back structures, no space,
 * no such file.
 *
 * @example
 * ```ts
 * import { CardError } from 'simvault';
 * throw new CardError('CARD_NOT_FOUND', 'no file named "tv.apk" in zone user');
 * ```
 */
export class CardError extends SimvaultError {}
