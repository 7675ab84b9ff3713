/**
 * Secure-chip mode: in a zone formatted for it, each file gets its own key from the memory card's
 * secure chip, stored with the file only in wrapped form (the chip's internal key never leaves
 * it). The card engine speaks to the chip through this interface; `simvault/sim` has a client
 * over APDUs that implements it.
 *
 * @module
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8 } from '../bytes.js';
import type { Suite } from '../crypto/suites.js';

/**
 * Where per-file keys of a secure-chip zone come from. Both calls receive the file's context
 * (card identity, zone, file id), which the chip binds into the wrapping, so a wrapped key moved
 * to another file does not unwrap. Failures should be typed errors that say "absent" or
 * "blocked" — the engine passes them through rather than reporting corruption.
 *
 * @example
 * ```ts
 * import type { FileKeyProvider } from 'simvault/card';
 * declare const chip: { generateFileKey(c: Uint8Array): Promise<{ key: Uint8Array; wrapped: Uint8Array }>;
 *                       unwrapFileKey(w: Uint8Array, c: Uint8Array): Promise<Uint8Array> };
 * const provider: FileKeyProvider = {
 *   newFileKey: (context) => chip.generateFileKey(context),
 *   unwrapFileKey: (wrapped, context) => chip.unwrapFileKey(wrapped, context),
 * };
 * ```
 */
export interface FileKeyProvider {
  /** A fresh 32-byte file key and its wrapped form (at most 255 bytes) to store with the file. */
  newFileKey(context: Uint8Array): Promise<NewFileKey>;
  /** The file key back from its wrapped form. */
  unwrapFileKey(wrapped: Uint8Array, context: Uint8Array): Promise<Uint8Array>;
}

/**
 * A file key the chip made, with the wrapped form stored beside the file.
 *
 * @example
 * ```ts
 * import type { NewFileKey } from 'simvault/card';
 * const stored = (k: NewFileKey) => k.wrapped.length;
 * ```
 */
export interface NewFileKey {
  /** The 32-byte file key (kept in memory only while the file is being written). */
  key: Uint8Array;
  /** The key wrapped under the chip's internal key, bound to the file's context. */
  wrapped: Uint8Array;
}

/**
 * The chunked-encryption input key of a secure-chip file, from its chip-made file key and the
 * zone salt, for format `version` (its number is part of the label).
 */
export function chipContentKey(
  version: number,
  fileKey: Uint8Array,
  zoneSalt: Uint8Array,
  suite: Suite,
): Uint8Array {
  return hkdf(
    sha256,
    fileKey,
    zoneSalt,
    concatBytes(
      utf8(`simvault/v${version} card-zone chip-content ${suite.aead}`),
      new Uint8Array([0]),
    ),
    suite.keyLength,
  );
}
