/**
 * Sealing of secrets at rest: a value is encrypted under a key-encryption key (KEK) that never
 * enters the database, with XChaCha20-Poly1305, a random 24-byte nonce, and additional data that
 * binds it to the KEK and to the place it is stored (table, column, row). A sealed value copied
 * to another row or column, or sealed under another KEK, does not open.
 *
 * Sealed format, version 1 (`docs/server.md` has test vectors):
 *
 * ```
 * 01 || KEK identifier (8) || nonce (24) || ciphertext || tag (16)
 * additional data = 01 || KEK identifier || for each context field: its length (1 byte) || its UTF-8
 * ```
 *
 * From the 32-byte KEK, HKDF-SHA-256 (salt `simvault/v1 server kek`) derives the sealing key
 * (info `sealing`, 32 bytes) and the KEK identifier (info `identifier`, 8 bytes), so the identifier
 * tells which KEK sealed a value without revealing anything that helps open it.
 *
 * @module
 */
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, fromHex, randomBytes, toHex, utf8 } from '../bytes.js';
import { ArgumentError } from '../errors.js';
import { ServerError } from './errors.js';

/** The sealed format's version byte. */
export const SEALED_FORMAT_VERSION = 0x01;
/** Length of a key-encryption key in bytes. */
export const KEK_LENGTH = 32;

const KEK_ID_LENGTH = 8;
const NONCE_LENGTH = 24;
const TAG_LENGTH = 16;
const HEADER_LENGTH = 1 + KEK_ID_LENGTH + NONCE_LENGTH;
const SALT = utf8('simvault/v1 server kek');

/**
 * A key-encryption key, ready to seal: its sealing key and its public identifier.
 *
 * @example
 * ```ts
 * import { kekFromBytes, type Kek } from './sealing.js';
 * const kek: Kek = kekFromBytes(new Uint8Array(32));
 * kek.id; // 16 hex digits
 * ```
 */
export interface Kek {
  /** The KEK identifier, 16 hex digits: safe to store and to log. */
  readonly id: string;
  /** The derived sealing key (never the KEK itself). */
  readonly sealingKey: Uint8Array;
}

/**
 * Derive the sealing key and identifier of a 32-byte KEK.
 *
 * @example
 * ```ts
 * import { kekFromBytes } from './sealing.js';
 * import { randomBytes } from '../bytes.js';
 * const kek = kekFromBytes(randomBytes(32));
 * ```
 */
export function kekFromBytes(bytes: Uint8Array): Kek {
  if (bytes.length !== KEK_LENGTH)
    throw new ArgumentError(`a key-encryption key is ${KEK_LENGTH} bytes, got ${bytes.length}`);
  return {
    id: toHex(hkdf(sha256, bytes, SALT, utf8('identifier'), KEK_ID_LENGTH)),
    sealingKey: hkdf(sha256, bytes, SALT, utf8('sealing'), 32),
  };
}

/**
 * Parse a KEK written as text: 64 hex digits, or the base64 of 32 bytes (white space around it
 * allowed). `where` names the source in the error.
 *
 * @example
 * ```ts
 * import { parseKekText } from './sealing.js';
 * parseKekText('00'.repeat(32), 'SIMVAULT_KEK').length; // 32
 * ```
 */
export function parseKekText(text: string, where: string): Uint8Array {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return fromHex(t);
  if (/^[A-Za-z0-9+/]{43}=$/.test(t)) {
    const bytes = new Uint8Array(Buffer.from(t, 'base64'));
    if (bytes.length === KEK_LENGTH) return bytes;
  }
  throw new ArgumentError(
    `${where}: a key-encryption key is 32 bytes written as 64 hex digits or 44 base64 characters`,
  );
}

function additionalData(header: Uint8Array, context: readonly string[]): Uint8Array {
  const parts = context.map((field) => {
    const bytes = utf8(field);
    if (bytes.length > 255) throw new ArgumentError('a sealing context field exceeds 255 bytes');
    return concatBytes(new Uint8Array([bytes.length]), bytes);
  });
  return concatBytes(header.subarray(0, 1 + KEK_ID_LENGTH), ...parts);
}

/**
 * Seal `plaintext` under `kek` for the place named by `context` (e.g. table, column, row key).
 * The nonce is random unless given (test vectors only).
 *
 * @example
 * ```ts
 * import { kekFromBytes, sealSecret } from './sealing.js';
 * const kek = kekFromBytes(new Uint8Array(32));
 * const sealed = sealSecret(kek, ['ota_keysets', 'kic', '89860012345678901234', '1'], new Uint8Array(16));
 * sealed.length; // 1 + 8 + 24 + 16 + 16
 * ```
 */
export function sealSecret(
  kek: Kek,
  context: readonly string[],
  plaintext: Uint8Array,
  nonce: Uint8Array = randomBytes(NONCE_LENGTH),
): Uint8Array {
  if (nonce.length !== NONCE_LENGTH) throw new ArgumentError('a sealing nonce is 24 bytes');
  const header = concatBytes(new Uint8Array([SEALED_FORMAT_VERSION]), fromHex(kek.id), nonce);
  const aead = xchacha20poly1305(kek.sealingKey, nonce, additionalData(header, context));
  return concatBytes(header, aead.encrypt(plaintext));
}

/**
 * The identifier of the KEK a sealed value says it was sealed under, or `undefined` when the
 * bytes are not a sealed value of a known format version.
 *
 * @example
 * ```ts
 * import { kekFromBytes, sealSecret, sealedKekId } from './sealing.js';
 * const kek = kekFromBytes(new Uint8Array(32));
 * sealedKekId(sealSecret(kek, ['t'], new Uint8Array(1))) === kek.id; // true
 * ```
 */
export function sealedKekId(sealed: Uint8Array): string | undefined {
  if (sealed.length < HEADER_LENGTH + TAG_LENGTH || sealed[0] !== SEALED_FORMAT_VERSION)
    return undefined;
  return toHex(sealed.subarray(1, 1 + KEK_ID_LENGTH));
}

/**
 * Open a sealed value. A value sealed under another KEK is `SERVER_KEK_MISMATCH`; one that is
 * not a sealed value, was damaged, or was moved from another place is `SERVER_SEALED_CORRUPT`.
 *
 * @example
 * ```ts
 * import { kekFromBytes, sealSecret, unsealSecret } from './sealing.js';
 * const kek = kekFromBytes(new Uint8Array(32));
 * const where = ['ota_keysets', 'kid', '89860012345678901234', '1'];
 * unsealSecret(kek, where, sealSecret(kek, where, new Uint8Array([1, 2]))); // [1, 2]
 * ```
 */
export function unsealSecret(kek: Kek, context: readonly string[], sealed: Uint8Array): Uint8Array {
  const id = sealedKekId(sealed);
  const place = context.join('/');
  if (id === undefined)
    throw new ServerError('SERVER_SEALED_CORRUPT', `${place}: not a sealed value of format 1`);
  if (id !== kek.id)
    throw new ServerError(
      'SERVER_KEK_MISMATCH',
      `${place}: sealed under KEK ${id}, but this process has KEK ${kek.id}`,
    );
  const nonce = sealed.subarray(1 + KEK_ID_LENGTH, HEADER_LENGTH);
  const aead = xchacha20poly1305(kek.sealingKey, nonce, additionalData(sealed, context));
  try {
    return aead.decrypt(sealed.subarray(HEADER_LENGTH));
  } catch (e) {
    throw new ServerError(
      'SERVER_SEALED_CORRUPT',
      `${place}: the sealed value does not authenticate (damaged, or moved from another place)`,
      { cause: e },
    );
  }
}
