/**
 * The keys a mounted zone uses on the card. The SIM hands over the zone's content and metadata
 * keys; the card mixes in the zone's random salt from the header, so replacing that salt
 * (crypto-erase) makes everything stored under the old one unrecoverable, even with the SIM.
 *
 * @module
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8 } from '../bytes.js';
import { getBackend, type AeadKey, type BackendChoice } from '../crypto/backend.js';
import type { ZoneKeys } from '../crypto/keys.js';
import type { Suite } from '../crypto/suites.js';

/** The keys of one mounted zone instance. */
export interface ZoneInstanceKeys {
  /** Input key of file contents (chunked encryption). */
  contentKey: Uint8Array;
  /** AEAD of sealed metadata blocks. */
  metadata: AeadKey;
  /** Key of the keyed hash that places file names in the file table. */
  nameKey: Uint8Array;
}

function instance(parent: Uint8Array, salt: Uint8Array, label: string, length: number): Uint8Array {
  return hkdf(
    sha256,
    parent,
    salt,
    concatBytes(utf8(`simvault/v1 card-zone ${label}`), new Uint8Array([0])),
    length,
  );
}

/** Derive a zone instance's keys from the SIM's zone keys and the zone salt. */
export async function zoneInstanceKeys(
  keys: ZoneKeys,
  salt: Uint8Array,
  suite: Suite,
  backend: BackendChoice = 'auto',
): Promise<ZoneInstanceKeys> {
  const metaKey = instance(keys.metadataKey, salt, `metadata ${suite.aead}`, suite.keyLength);
  return {
    contentKey: instance(keys.contentKey, salt, `content ${suite.aead}`, suite.keyLength),
    metadata: await getBackend(backend, suite.aead).importKey(suite.aead, metaKey),
    nameKey: instance(keys.metadataKey, salt, 'names', 32),
  };
}
