/**
 * The keys a mounted zone uses on the card. The SIM hands over the zone keys; the card derives
 * the zone's content key for the zone's own suite and mixes in the zone's random salt from the
 * header, so replacing that salt (crypto-erase) makes everything stored under the old one
 * unrecoverable, even with the SIM. The header key, which authenticates the header, comes from
 * all four zone keys. See `docs/card-format.md` ("Keys on the card").
 *
 * @module
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8 } from '../bytes.js';
import { getBackend, type AeadKey, type BackendChoice } from '../crypto/backend.js';
import { deriveContentKey, ZONES, type CardKeys, type ZoneKeys } from '../crypto/keys.js';
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

/** The raw bytes of a zone instance's keys (what the test vectors list). */
export interface ZoneInstanceKeyBytes {
  /** Input key of file contents. */
  contentKey: Uint8Array;
  /** Key of the metadata AEAD. */
  metadataKey: Uint8Array;
  /** Key of the file-name hash. */
  nameKey: Uint8Array;
}

function instance(
  version: number,
  parent: Uint8Array,
  salt: Uint8Array,
  label: string,
  length: number,
): Uint8Array {
  return hkdf(
    sha256,
    parent,
    salt,
    concatBytes(utf8(`simvault/v${version} card-zone ${label}`), new Uint8Array([0])),
    length,
  );
}

/**
 * A zone instance's key bytes, from the SIM's zone keys and the zone salt. Version 2 starts from
 * the zone's content key for the zone's suite (`deriveContentKey(zone key, suite)`); version 1
 * took the content key as the caller derived it.
 */
export function zoneInstanceKeyBytes(
  version: number,
  keys: ZoneKeys,
  salt: Uint8Array,
  suite: Suite,
): ZoneInstanceKeyBytes {
  const content = version === 1 ? keys.contentKey : deriveContentKey(keys.zoneKey, suite.name);
  return {
    contentKey: instance(version, content, salt, `content ${suite.aead}`, suite.keyLength),
    metadataKey: instance(
      version,
      keys.metadataKey,
      salt,
      `metadata ${suite.aead}`,
      suite.keyLength,
    ),
    nameKey: instance(version, keys.metadataKey, salt, 'names', 32),
  };
}

/** Derive a zone instance's keys and import its metadata AEAD key. */
export async function zoneInstanceKeys(
  version: number,
  keys: ZoneKeys,
  salt: Uint8Array,
  suite: Suite,
  backend: BackendChoice = 'auto',
): Promise<ZoneInstanceKeys> {
  const bytes = zoneInstanceKeyBytes(version, keys, salt, suite);
  return {
    contentKey: bytes.contentKey,
    metadata: await getBackend(backend, suite.aead).importKey(suite.aead, bytes.metadataKey),
    nameKey: bytes.nameKey,
  };
}

/**
 * The key of the version-2 header MAC: HKDF-SHA-256 of the four zone keys (in zone-id order)
 * under the card identity, so only a holder of the SIM's keys for this card can write a header.
 */
export function cardHeaderKey(keys: CardKeys): Uint8Array {
  return hkdf(
    sha256,
    concatBytes(...ZONES.map((z) => keys.zones[z].zoneKey)),
    utf8('simvault/v2 card header'),
    keys.cardIdentity,
    32,
  );
}
