/**
 * Wrapping of per-file keys under the chip key, inside the chip: AES-256-GCM with a random
 * nonce and the caller's context as associated data, so a wrapped key only unwraps for the
 * file (context) it was made for, and only on the chip that made it.
 *
 * Wrapped form (61 bytes): format `01` | nonce(12) | encrypted key(32) | tag(16). The
 * associated data is the label `simvault chip file key` followed by the format byte and the
 * context, so the format byte is authenticated too.
 *
 * @module
 */
import { gcm } from '@noble/ciphers/aes.js';
import { concatBytes, utf8 } from '../../bytes.js';
import { FILE_KEY_LENGTH, WRAPPED_KEY_LENGTH } from './constants.js';

const FORMAT = 0x01;
const NONCE_LENGTH = 12;
const LABEL = utf8('simvault chip file key');

function associatedData(context: Uint8Array): Uint8Array {
  return concatBytes(LABEL, new Uint8Array([FORMAT]), context);
}

/**
 * Wrap a 32-byte file key under the chip key for `context`, with the 12-byte `nonce` given (the
 * chip draws it from its random source). The caller checks the lengths.
 *
 * @example
 * ```ts
 * import { wrapFileKey } from './key-wrap.js';
 * const wrapped = wrapFileKey(new Uint8Array(32), new Uint8Array(32), new Uint8Array(12), new Uint8Array([1]));
 * wrapped.length; // 61
 * ```
 */
export function wrapFileKey(
  chipKey: Uint8Array,
  fileKey: Uint8Array,
  nonce: Uint8Array,
  context: Uint8Array,
): Uint8Array {
  const sealed = gcm(chipKey, nonce, associatedData(context)).encrypt(fileKey);
  return concatBytes(new Uint8Array([FORMAT]), nonce, sealed);
}

/**
 * Unwrap a 61-byte wrapped key for `context`; `undefined` when it does not authenticate (a
 * damaged form, another context, another chip) or is not in the known format.
 *
 * @example
 * ```ts
 * import { unwrapFileKey, wrapFileKey } from './key-wrap.js';
 * const k = new Uint8Array(32), ctx = new Uint8Array([1]);
 * const wrapped = wrapFileKey(k, new Uint8Array(32).fill(7), new Uint8Array(12), ctx);
 * unwrapFileKey(k, wrapped, ctx)?.[0]; // 7
 * unwrapFileKey(k, wrapped, new Uint8Array([2])); // undefined
 * ```
 */
export function unwrapFileKey(
  chipKey: Uint8Array,
  wrapped: Uint8Array,
  context: Uint8Array,
): Uint8Array | undefined {
  if (wrapped.length !== WRAPPED_KEY_LENGTH || wrapped[0] !== FORMAT) return undefined;
  const nonce = wrapped.subarray(1, 1 + NONCE_LENGTH);
  try {
    const key = gcm(chipKey, nonce, associatedData(context)).decrypt(
      wrapped.subarray(1 + NONCE_LENGTH),
    );
    return key.length === FILE_KEY_LENGTH ? key : undefined;
  } catch {
    // noble signals a failed tag check by throwing; to the chip that is just "does not unwrap".
    return undefined;
  }
}
