/**
 * `simvault/crypto`: the key hierarchy (SIM binding key → card, bound to the card's CID → zone →
 * purpose), C2SP chunked encryption ("Cobblestone") over three suites and interchangeable
 * backends — one-shot, streaming in constant memory, and random access — and the envelope file
 * format of `simvault encrypt`. Any tampering, truncation or wrong key is a typed
 * {@link CryptoError}; no unauthenticated plaintext is ever released. The formats are
 * `docs/key-hierarchy.md` and `docs/encryption.md`. Portable: no `node:` imports.
 *
 * @example
 * ```ts
 * import { deriveCardKeys, encrypt, decrypt } from 'simvault/crypto';
 * import { fromHex, randomBytes } from 'simvault';
 * const keys = deriveCardKeys(randomBytes(32), fromHex('035344535530314780401c751300637d'));
 * const { contentKey } = keys.zones.user;
 * const sealed = await encrypt(contentKey, new TextEncoder().encode('hello'));
 * console.log(new TextDecoder().decode(await decrypt(contentKey, sealed))); // 'hello'
 * ```
 *
 * @module
 */
export { CryptoError } from '../errors.js';
export {
  SUITES,
  DEFAULT_SUITE,
  getSuite,
  type Suite,
  type SuiteName,
  type AeadName,
} from './suites.js';
export {
  getBackend,
  availableBackends,
  type CipherBackend,
  type AeadKey,
  type BackendName,
  type BackendChoice,
} from './backend.js';
export {
  ciphertextLength,
  plaintextLength,
  ChunkEncryptor,
  ChunkDecryptor,
  encrypt,
  decrypt,
  type ChunkedOptions,
  type EncryptOptions,
} from './chunked.js';
export { createEncryptStream, createDecryptStream, type StreamOptions } from './chunked-stream.js';
export { encryptIterable, decryptIterable } from './chunked-iterable.js';
export { RandomAccessDecryptor, bytesSource, type RandomAccessSource } from './random-access.js';
export { ZONES, deriveCardKeys, type Zone, type ZoneKeys, type CardKeys } from './keys.js';
export {
  ENVELOPE_HEADER_LENGTH,
  parseEnvelopeHeader,
  sealEnvelope,
  openEnvelope,
  createSealStream,
  createOpenStream,
  type EnvelopeInfo,
  type SealOptions,
  type OpenOptions,
} from './envelope.js';
