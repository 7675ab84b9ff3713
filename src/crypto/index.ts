/**
 * `simvault/crypto`: the key hierarchy (binding key → card → zone → purpose), C2SP
 * chunked-encryption over two suites and interchangeable backends, streaming and random-access
 * interfaces, and the envelope file format. Portable: no `node:` imports.
 *
 * @module
 */
export {
  SUITES,
  DEFAULT_SUITE,
  getSuite,
  suiteById,
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
  CHUNK_SIZE,
  SALT_LENGTH,
  COMMITMENT_LENGTH,
  HEADER_LENGTH,
  deriveMessageKeys,
  ciphertextLength,
  plaintextLength,
  ChunkEncryptor,
  ChunkDecryptor,
  encrypt,
  decrypt,
  type ChunkedOptions,
  type EncryptOptions,
  type MessageKeys,
} from './chunked.js';
export { createEncryptStream, createDecryptStream, type StreamOptions } from './chunked-stream.js';
export { RandomAccessDecryptor, bytesSource, type RandomAccessSource } from './random-access.js';
export {
  ZONES,
  ZONE_IDS,
  KEY_HIERARCHY_SALT,
  KEY_LENGTH,
  KEY_IDENTIFIER_LENGTH,
  deriveKey,
  cardIdentity,
  deriveCardKey,
  deriveZoneKey,
  deriveZoneKeys,
  deriveCardKeys,
  deriveContentKey,
  deriveMetadataKey,
  keyIdentifier,
  type Zone,
  type ZoneKeys,
  type CardKeys,
} from './keys.js';
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
