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
  /** An argument is of the wrong type, or its length or value is out of range. */
  INVALID_ARGUMENT: 'An argument has the wrong type, length or range.',
  /** The suite, backend or feature asked for is not available in this environment. */
  UNSUPPORTED: 'The requested suite, backend or feature is not available here.',
  /** The operation stopped because its `AbortSignal` was aborted. */
  ABORTED: 'The operation was cancelled through its AbortSignal.',
  // Content encryption.
  /** A key's length does not fit the cipher suite it is used with. */
  CRYPTO_BAD_KEY: 'A key has the wrong length for its suite.',
  /** The key commitment in the header does not verify: the key or context is wrong, or the header is damaged. */
  CRYPTO_COMMITMENT_MISMATCH:
    'The key commitment does not match: wrong key, wrong context, or a damaged header.',
  /** A chunk did not authenticate: its data is damaged, out of order, or from another message. */
  CRYPTO_AUTH_FAILED: 'A chunk failed authentication: damaged, reordered or foreign data.',
  /** The ciphertext does not end at a final chunk: it was cut short or has bytes appended. */
  CRYPTO_TRUNCATED: 'The ciphertext ends where no message can end: it was truncated or extended.',
  /** The message needs more chunks than the format's chunk counter can number. */
  CRYPTO_TOO_LARGE: 'The message exceeds the chunk counter limit of the format.',
  /** The envelope header is damaged or does not belong to a simvault envelope. */
  CRYPTO_BAD_ENVELOPE: 'The envelope header is not a simvault envelope or is damaged.',
  /** The plaintext authenticated but could not be decompressed. */
  CRYPTO_DECOMPRESS_FAILED: 'The authenticated plaintext did not decompress.',
  // Protocol codecs.
  /** The input stops before the end of the structure being decoded. */
  PROTOCOL_TRUNCATED: 'The input ends before the structure does.',
  /** Bytes remain in the input after the structure has ended. */
  PROTOCOL_TRAILING_BYTES: 'The input has bytes after the end of the structure.',
  /** A length field is wrong, or a field does not have the length it must have. */
  PROTOCOL_BAD_LENGTH: 'A length field or a field length is wrong.',
  /** A field's value is outside the range allowed for it. */
  PROTOCOL_BAD_VALUE: 'A field holds a value outside its range.',
  /** An unknown tag or command code that may not be skipped (e.g. comprehension required). */
  PROTOCOL_UNKNOWN_TAG: 'A tag or command code is not known and may not be skipped.',
  /** A field the structure requires is not present. */
  PROTOCOL_MISSING_FIELD: 'A required field is absent.',
  /** The message's format version is not one this codec supports. */
  PROTOCOL_BAD_VERSION: 'The format version of a message is not supported.',
  /** A checksum, CRC or MAC fails to verify. */
  PROTOCOL_BAD_CHECKSUM: 'A checksum, CRC or MAC does not verify.',
  /** The padding added for ciphering is inconsistent (e.g. the padding counter does not match). */
  PROTOCOL_BAD_PADDING: 'Ciphering padding is inconsistent.',
  /** The counter marks the packet as replayed or out of order. */
  PROTOCOL_REPLAY: 'A counter shows a replayed or out-of-order packet.',
  /** A secured packet's protection is below the minimum security level required. */
  PROTOCOL_INSUFFICIENT_SECURITY:
    'A secured packet is protected less than the minimum security level requires.',
  // Card application server.
  /** The request is malformed: unreadable bytes, a bad field, the wrong message type, or a body that is too large. */
  SERVER_BAD_REQUEST:
    'A request is malformed: bad bytes, a bad field, a wrong message type or an oversized body.',
  /** A request that must be signed has no signature, or its signature names a key the server does not know. */
  SERVER_UNAUTHENTICATED:
    'A request that must be signed carries no signature, or names an unknown key.',
  /** The request's signature fails to verify. */
  SERVER_BAD_SIGNATURE: 'A request signature does not verify.',
  /** A signed request's timestamp falls outside the accepted time window. */
  SERVER_STALE_REQUEST: 'A signed request is outside the accepted time window.',
  /** A signed request reuses a nonce the server has already seen: it is a replay. */
  SERVER_REPLAYED: 'A signed request reuses a nonce already seen: a replay.',
  /** The key that signed the request is not allowed to call this endpoint. */
  SERVER_FORBIDDEN: 'The signing key may not call this endpoint.',
  /** This card or SIM sent too many requests; retry after the delay given. */
  SERVER_RATE_LIMITED: 'Too many requests for this card or SIM; retry after the given delay.',
  /** The endpoint or record asked for does not exist. */
  SERVER_NOT_FOUND: 'No such endpoint or record.',
  /** The card's CID is absent from the card information: the card is not legitimate. */
  SERVER_UNKNOWN_CARD: 'The CID is not in the card information: an illegitimate card.',
  /** The card has been blocked or retired. */
  SERVER_CARD_BLOCKED: 'The card is blocked or retired.',
  /** The card is already bound to a different SIM. */
  SERVER_ALREADY_BOUND: 'The card is bound to another SIM.',
  /** The card is not bound to the SIM making the request. */
  SERVER_NOT_BOUND: 'The card is not bound to this SIM.',
  /** The application is undefined, not offered for this card, or has no download resource. */
  SERVER_UNKNOWN_APP:
    'The application is not defined, not offered for this card, or has no download resource.',
  /** No offer with this identifier is defined. */
  SERVER_UNKNOWN_OFFER: 'The offer is not defined.',
  /** An internal server failure; the request may be retried. */
  SERVER_INTERNAL: 'The server failed; the request may be retried.',
  // OTA server.
  /** The OTA server has no SIM provisioned under that ICCID or MSISDN. */
  OTA_UNKNOWN_SIM: 'The SIM (ICCID or MSISDN) is not provisioned on the OTA server.',
  /** The SMS TPDU is malformed, is not an SMS-SUBMIT, or does not carry 8-bit SIM data. */
  OTA_BAD_SMS: 'The SMS TPDU is malformed, not an SMS-SUBMIT, or not 8-bit SIM data.',
  /** The secured packet is malformed, has bad padding, or names a key the SIM lacks. */
  OTA_BAD_PACKET:
    'The secured packet is malformed, badly padded or names a key the SIM does not have.',
  /** The secured packet's checksum fails to verify with the SIM's keys: it is forged or damaged. */
  OTA_BAD_CHECKSUM:
    "The secured packet's checksum does not verify with the SIM's keys: forged or damaged.",
  /** The secured packet's counter is not above the last one accepted, or jumps too far ahead: a replay. */
  OTA_REPLAYED:
    'The secured packet counter is not above the last accepted one (or jumps too far): a replay.',
  /** The secured packet's protection is below the SIM's minimum security level. */
  OTA_INSUFFICIENT_SECURITY:
    "The secured packet is protected less than the SIM's minimum security level.",
  /** The secured packet is addressed to a TAR that this OTA server does not serve for the SIM. */
  OTA_UNKNOWN_TAR:
    'The secured packet is addressed to a TAR this OTA server does not serve for the SIM.',
  /** The secured packet's data is not a simvault message that the SIM is allowed to send. */
  OTA_BAD_MESSAGE: 'The data of the secured packet is not a simvault message the SIM may send.',
  /** A proof of receipt does not answer any command packet sent to the SIM. */
  OTA_UNKNOWN_POR: 'A proof of receipt answers no command packet sent to the SIM.',
  /** The card application server was unreachable or answered with an error. */
  OTA_UPSTREAM: 'The card application server could not be reached or answered with an error.',
  /** There is no application file with that name. */
  OTA_UNKNOWN_FILE: 'No application file of that name.',
  /** The byte range requested lies outside the file. */
  OTA_RANGE_NOT_SATISFIABLE: 'The requested byte range lies outside the file.',
  /** An uploaded file does not match the digest announced for it. */
  OTA_DIGEST_MISMATCH: 'An uploaded file does not match the digest announced with it.',
  /** An upload or message is larger than the configured size limit. */
  OTA_TOO_LARGE: 'An upload or message exceeds the configured size limit.',
  // The card's secure chip.
  /** The secure chip does not answer (the transport failed) or has no simvault chip application. */
  CHIP_ABSENT:
    'The secure chip is absent: the transport failed or the chip application is not there.',
  /** The chip's PIN is blocked after too many wrong tries (or its PUK is, for an unblock). */
  CHIP_BLOCKED: 'The secure chip is blocked: too many wrong PIN (or PUK) tries.',
  /** The chip refuses key operations until the PIN has been verified. */
  CHIP_AUTH_REQUIRED: 'The secure chip requires PIN verification first.',
  /** The PIN (or PUK) given is wrong; the error tells how many tries are left. */
  CHIP_WRONG_PIN: 'The PIN (or PUK) is wrong; fewer tries are left.',
  /** The chip refused to unwrap a file key: it is damaged, or belongs to another file or another chip. */
  CHIP_UNWRAP_FAILED:
    'The wrapped file key does not unwrap: damaged, or bound to another file or chip.',
  /** The chip answered with an unexpected status word or a malformed response. */
  CHIP_ERROR: 'The secure chip answered with an unexpected status or a malformed response.',
  // The card and its block device.
  /** No simvault card header was found on the device. */
  CARD_NOT_FORMATTED: 'The device holds no simvault card header.',
  /** The card uses a newer format version that this version of simvault does not know. */
  CARD_UNSUPPORTED_VERSION: 'The card was formatted by a newer, unknown format version.',
  /** The image was formatted for a card with a different CID: it was copied from another card. */
  CARD_CID_MISMATCH:
    'The image was formatted for a card with another CID (copied from another card).',
  /** The keys are those of a different SIM: the key identifiers do not match. */
  CARD_WRONG_SIM: 'The keys belong to another SIM: key identifiers do not match.',
  /** A card structure did not authenticate or is inconsistent: it is damaged or was tampered with. */
  CARD_CORRUPT: 'A card structure failed authentication or is inconsistent: damaged or tampered.',
  /** A zone is older than the generation anchored in its SIM: the card was rolled back. */
  CARD_ROLLED_BACK:
    'A zone is older than the generation its SIM anchored: the card was rolled back.',
  /** The zone lacks the free space the operation needs. */
  CARD_NO_SPACE: 'The zone has not enough free space for the operation.',
  /** The zone has no file with that name. */
  CARD_NOT_FOUND: 'No file of that name in the zone.',
  /** A file with that name is already present. */
  CARD_EXISTS: 'A file of that name already exists.',
  /** The file name is empty, too long, or not valid UTF-8. */
  CARD_BAD_NAME: 'A file name is empty, too long, or not valid UTF-8 text.',
  /** A put delivered a different number of bytes from the size it declared. */
  CARD_SIZE_MISMATCH: 'A put delivered another number of bytes than it declared.',
  /** The card or zone has been unmounted or erased. */
  CARD_NOT_MOUNTED: 'The card or zone was unmounted or erased.',
  /** The card was mounted read-only and the call would change it. */
  CARD_READ_ONLY: 'The card is mounted read-only.',
  /** A file of a secure-chip zone needs the card's secure chip, and none was given to the mount. */
  CARD_CHIP_UNAVAILABLE: "A secure-chip zone needs the card's secure chip, and none is available.",
  /** Reading, writing or flushing the underlying storage failed. */
  DEVICE_IO: 'A read, write or flush of the underlying storage failed.',
  /** An offset, length or size is not a whole number of sectors. */
  DEVICE_BAD_ALIGNMENT: 'An offset, length or size is not a multiple of the sector size.',
  /** An access goes beyond the end of the device. */
  DEVICE_OUT_OF_RANGE: 'An access reaches outside the device.',
  /** A simulated power failure: the device accepts no further calls. */
  DEVICE_POWER_CUT: 'Power failed (simulated); the device accepts no more calls.',
  /** The device has been closed and accepts no further calls. */
  DEVICE_CLOSED: 'The device was closed; it accepts no more calls.',
  /** A write was attempted on a device opened read-only. */
  DEVICE_READ_ONLY: 'A write was sent to a device opened read-only.',
  /** Another live process holds the card image's lock file (one writer at a time). */
  DEVICE_BUSY: 'The card image is in use by another process.',
  /** The card image cannot be opened as requested: it is missing, already exists, or a segment is missing or the wrong size. */
  DEVICE_BAD_IMAGE:
    'A card image cannot be opened as asked: missing, already present, or a segment is missing or has the wrong size.',
  // The SIM.
  /** The SIM state is unreadable, of an unknown version, or fails validation. */
  SIM_BAD_STATE: 'The SIM state is damaged, of an unknown version, or fails validation.',
  /** A smart card (SIM or secure chip) answered a command with an error status word. */
  SIM_STATUS_WORD: 'The card answered a command with an error status word.',
  /** The SIM holds no binding of this memory card: it hands out no keys or anchors for it. */
  SIM_CARD_NOT_BOUND: 'The memory card is not bound to this SIM.',
  /** The SIM's binding list is at its threshold: another card does not fit without a choice. */
  SIM_BINDING_LIST_FULL: "The SIM's binding list is at its threshold: the card does not fit.",
  // Files, streams and sockets (Node's errno codes, mapped; the error names the path or address).
  /** A file or folder that was named does not exist. */
  IO_NOT_FOUND: 'A file or folder that was named does not exist.',
  /** A file that was to be created already exists (nothing is overwritten). */
  IO_EXISTS: 'A file to be created already exists.',
  /** A folder was named where a file is needed, or a file where a folder is needed. */
  IO_NOT_A_FILE: 'A folder was named where a file is needed, or a file where a folder is.',
  /** The file system refused access: permissions, or a read-only file system. */
  IO_ACCESS_DENIED: 'Access was refused: permissions or a read-only file system.',
  /** The file system or a quota is full. */
  IO_NO_SPACE: 'The file system (or a quota) is full.',
  /** The reader of the output went away before everything was written (a broken pipe). */
  IO_BROKEN_PIPE: 'The reader of the output closed it before everything was written.',
  /** A network address to listen on is taken by another process. */
  IO_ADDRESS_IN_USE: 'The address to listen on is already in use.',
  /** A server could not be reached: connection refused, reset, timed out, or no such host. */
  IO_UNREACHABLE: 'A server could not be reached (refused, reset, timed out, or unknown host).',
  /** Any other failure of the operating system on a file, stream or socket. */
  IO_FAILED: 'The operating system failed a file, stream or socket operation.',
  // PC/SC readers and virtual cards (simvault/node).
  /** The PC/SC binding (the optional npm package `smartcard`) is not installed or did not load. */
  PCSC_UNAVAILABLE:
    'The PC/SC binding (optional npm package smartcard) is not installed or did not load.',
  /** The PC/SC service (pcscd on Linux) is not running or cannot be reached. */
  PCSC_NO_SERVICE: 'The PC/SC service (pcscd) is not running or cannot be reached.',
  /** No attached reader matches the name asked for, or several do, or none is attached. */
  PCSC_NO_READER:
    'No single PC/SC reader matches: none is attached, or the name fits none or several.',
  /** The reader has no card, or the card was removed, reset by another program, or is mute. */
  PCSC_NO_CARD: 'There is no card in the reader, or it was removed, reset elsewhere, or is mute.',
  /** A PC/SC call failed for another reason: a sharing violation, a reader or protocol error. */
  PCSC_FAILED: 'A PC/SC call failed: sharing violation, reader, driver or protocol error.',
  /** The vpcd virtual reader cannot be reached at the address given, or spoke out of protocol. */
  VPCD_UNREACHABLE:
    'The vpcd virtual reader is not reachable at that address, or broke its protocol.',
  // Handset orchestrator.
  /** A server could not be reached, or answered the handset with an error it gave no stable code for. */
  HANDSET_HTTP: 'A server could not be reached or answered the handset with an unexpected error.',
  /** A flow step was refused: bind or unbind refused, no such menu item, an answer for another card. */
  HANDSET_REFUSED: 'A step of a flow was refused by the SIM, the user or a server.',
  /** The SIM or the servers did not complete a flow step in the time allowed. */
  HANDSET_TIMEOUT: 'A flow step got no answer from the SIM or the servers in time.',
  /** An application download failed, was interrupted too often, or does not match its digest. */
  HANDSET_DOWNLOAD_FAILED:
    'An application download failed, kept being interrupted, or does not match its digest.',
  // Operator servers: deployment faults.
  /** A server needs an optional package that is not installed: better-sqlite3, pg, hono or `@hono/node-server`. */
  SERVER_DRIVER_MISSING:
    'A server needs an optional package that is not installed (better-sqlite3, pg, hono, @hono/node-server).',
  /** No key-encryption key where one is required: PostgreSQL without `--kek-file` or SIMVAULT_KEK, or a named key file that does not exist. */
  SERVER_KEK_MISSING:
    'No key-encryption key was given where one is required, or its key file does not exist.',
  /** The database's secrets are sealed under another key-encryption key than the one given. */
  SERVER_KEK_MISMATCH:
    "The database's secrets are sealed under another key-encryption key than this one.",
  /** A sealed secret in the database does not authenticate: it is damaged, or was moved from another row. */
  SERVER_SEALED_CORRUPT:
    'A sealed secret in the database does not authenticate: damaged, or moved from another row.',
  // The card (format version 2).
  /** The card header does not authenticate under the SIM's keys: someone without them changed it. Nothing was written. */
  CARD_TAMPERED:
    "The card header fails authentication under the SIM's keys: it was changed without them.",
  /** The device already has a writable mount in this process: unmount that one first. */
  CARD_ALREADY_MOUNTED: 'The device already has a writable mount in this process.',
  /** A zone's allocation map is damaged: files still read, changes wait for `fsck --repair`, which rebuilds the map from the file table. */
  CARD_MAP_DAMAGED:
    "A zone's allocation map is damaged: reads work, changes need fsck --repair to rebuild it.",
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
   * Create an error with a stable code and a human-readable message.
   *
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
   * Create an argument error; the code is `INVALID_ARGUMENT` unless another is given.
   *
   * @param message - what was wrong
   * @param code - defaults to `INVALID_ARGUMENT`
   * @param options - standard `ErrorOptions` (a `cause`)
   */
  constructor(
    message: string,
    code: 'INVALID_ARGUMENT' | 'UNSUPPORTED' | 'ABORTED' = 'INVALID_ARGUMENT',
    options?: ErrorOptions,
  ) {
    super(code, message, options);
  }
}

/**
 * The message of anything thrown: an `Error`'s message, or the value as text.
 *
 * @example
 * ```ts
 * errorMessage(new Error('boom')); // 'boom'
 * errorMessage('socket hang up'); // 'socket hang up'
 * ```
 *
 * @internal
 */
export function errorMessage(thrown: unknown): string {
  return thrown instanceof Error ? thrown.message : String(thrown);
}

/**
 * The error every simvault stream rejects with when its `AbortSignal` fires: code `ABORTED`,
 * the signal's reason in the message and as the cause.
 *
 * @example
 * ```ts
 * import { abortError } from 'simvault';
 * const c = new AbortController();
 * c.abort(new Error('user left'));
 * abortError(c.signal).message; // 'stream aborted: user left'
 * ```
 */
export function abortError(signal: AbortSignal): ArgumentError {
  const reason: unknown = signal.reason;
  return new ArgumentError(`stream aborted: ${errorMessage(reason ?? 'aborted')}`, 'ABORTED', {
    cause: reason,
  });
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
   * Create a codec error; its message is `structure.field at offset N: detail`.
   *
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

/**
 * A failure of the operating system on a file, stream or socket, with a stable `IO_*` code (Node's
 * errno code is kept in {@link IoError.errno}) and the path or address it concerns.
 *
 * @example
 * ```ts
 * import { IoError } from 'simvault';
 * const e = new IoError('IO_NOT_FOUND', 'song.mp3: no such file', { path: 'song.mp3', errno: 'ENOENT' });
 * e.path; // 'song.mp3'
 * ```
 */
export class IoError extends SimvaultError {
  /** The path or address concerned, when there is one. */
  readonly path: string | undefined;
  /** Node's errno code (`ENOENT`, `EPIPE`, …), when the failure came from one. */
  readonly errno: string | undefined;

  /**
   * Create an I/O error.
   *
   * @param code - one of the `IO_*` codes
   * @param message - what failed, naming the path or address
   * @param options - the path, Node's errno code and the cause
   */
  constructor(
    code: Extract<ErrorCode, `IO_${string}`>,
    message: string,
    options: { path?: string; errno?: string; cause?: unknown } = {},
  ) {
    super(code, message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.path = options.path;
    this.errno = options.errno;
  }
}
