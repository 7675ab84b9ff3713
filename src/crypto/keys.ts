/**
 * The key hierarchy. The SIM holds a 32-byte binding key; everything else is derived from it
 * with HKDF-SHA-256 under fixed, domain-separated labels (documented in `docs/key-hierarchy.md`):
 *
 * ```
 * binding key ──card(CID bytes 0..14)──▶ card key ──zone(id)──▶ zone key ─┬─content(aead)──▶ content key
 *                                          └─key-identifier▶ card key id  ├─metadata───────▶ metadata key
 *                                                                          └─key-identifier─▶ zone key id
 * ```
 *
 * Key identifiers (as Linux fscrypt v2 has) are public: a card records them in its header so that
 * the wrong SIM is reported as exactly that, without trial decryption.
 *
 * @module
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { assertBytes, concatBytes, utf8 } from '../bytes.js';
import { ArgumentError } from '../errors.js';
import { DEFAULT_SUITE, getSuite, type SuiteName } from './suites.js';

/**
 * The four encrypted zones of a card.
 *
 * @example
 * ```ts
 * import { ZONES } from 'simvault/crypto';
 * ZONES; // ['operator', 'advertising', 'multimedia', 'user']
 * ```
 */
export const ZONES = ['operator', 'advertising', 'multimedia', 'user'] as const;

/**
 * A zone name.
 *
 * @example
 * ```ts
 * import type { Zone } from 'simvault/crypto';
 * const zone: Zone = 'multimedia';
 * ```
 */
export type Zone = (typeof ZONES)[number];

/**
 * The one-byte id of each zone, used in derivations and on-card structures.
 *
 * @example
 * ```ts
 * import { ZONE_IDS } from 'simvault/crypto';
 * ZONE_IDS.user; // 4
 * ```
 */
export const ZONE_IDS: Readonly<Record<Zone, number>> = Object.freeze({
  operator: 1,
  advertising: 2,
  multimedia: 3,
  user: 4,
});

/**
 * The HKDF salt of every derivation in the hierarchy.
 *
 * @example
 * ```ts
 * import { KEY_HIERARCHY_SALT } from 'simvault/crypto';
 * new TextDecoder().decode(KEY_HIERARCHY_SALT); // 'simvault/v1 key hierarchy'
 * ```
 */
export const KEY_HIERARCHY_SALT: Uint8Array = utf8('simvault/v1 key hierarchy');

/**
 * Length in bytes of binding, card, zone and metadata keys.
 *
 * @example
 * ```ts
 * import { KEY_LENGTH } from 'simvault/crypto';
 * KEY_LENGTH; // 32
 * ```
 */
export const KEY_LENGTH = 32;

/**
 * Length in bytes of a key identifier.
 *
 * @example
 * ```ts
 * import { KEY_IDENTIFIER_LENGTH } from 'simvault/crypto';
 * KEY_IDENTIFIER_LENGTH; // 16
 * ```
 */
export const KEY_IDENTIFIER_LENGTH = 16;

/**
 * One step of the hierarchy:
 *
 * ```text
 * HKDF-SHA-256(ikm = parent, salt = KEY_HIERARCHY_SALT,
 *              info = "simvault/v1 " || label || 0x00 || context, length)
 * ```
 *
 * @example
 * ```ts
 * import { deriveKey } from 'simvault/crypto';
 * const k = deriveKey(new Uint8Array(32), 'metadata', new Uint8Array(), 32);
 * ```
 */
export function deriveKey(
  parent: Uint8Array,
  label: string,
  context: Uint8Array,
  length: number,
): Uint8Array {
  assertBytes(parent, 'parent key', KEY_LENGTH);
  assertBytes(context, 'context');
  if (!/^[a-z-]+$/.test(label))
    throw new ArgumentError(`label '${label}' must be lower-case letters and dashes`);
  const info = concatBytes(utf8(`simvault/v1 ${label}`), new Uint8Array([0]), context);
  return hkdf(sha256, parent, KEY_HIERARCHY_SALT, info, length);
}

/**
 * The 15-byte card identity (CID bytes 0..14) from a 16-byte CID or the identity itself. Byte 15
 * holds the CRC, which many host controllers strip, so it never enters a derivation.
 *
 * @example
 * ```ts
 * import { cardIdentity } from 'simvault/crypto';
 * cardIdentity(new Uint8Array(16)).length; // 15
 * ```
 */
export function cardIdentity(cid: Uint8Array): Uint8Array {
  assertBytes(cid, 'CID');
  if (cid.length !== 16 && cid.length !== 15)
    throw new ArgumentError(`CID must be 16 bytes (or its 15-byte identity), got ${cid.length}`);
  return cid.slice(0, 15);
}

/**
 * The card key: binds the SIM's binding key to one card.
 *
 * @example
 * ```ts
 * import { deriveCardKey } from 'simvault/crypto';
 * const cardKey = deriveCardKey(new Uint8Array(32), new Uint8Array(16));
 * ```
 */
export function deriveCardKey(bindingKey: Uint8Array, cid: Uint8Array): Uint8Array {
  assertBytes(bindingKey, 'binding key', KEY_LENGTH);
  return deriveKey(bindingKey, 'card', cardIdentity(cid), KEY_LENGTH);
}

/**
 * A zone's key, from the card key.
 *
 * @example
 * ```ts
 * import { deriveZoneKey } from 'simvault/crypto';
 * const zoneKey = deriveZoneKey(new Uint8Array(32), 'user');
 * ```
 */
export function deriveZoneKey(cardKey: Uint8Array, zone: Zone): Uint8Array {
  // Looked up as any string: JavaScript callers can pass anything.
  const id = (ZONE_IDS as Partial<Record<string, number>>)[zone];
  if (id === undefined) throw new ArgumentError(`unknown zone '${zone}' (${ZONES.join(', ')})`);
  return deriveKey(cardKey, 'zone', new Uint8Array([id]), KEY_LENGTH);
}

/**
 * The public identifier of a key (card or zone key): reveals nothing of the key, identifies it.
 *
 * @example
 * ```ts
 * import { keyIdentifier } from 'simvault/crypto';
 * keyIdentifier(new Uint8Array(32)).length; // 16
 * ```
 */
export function keyIdentifier(key: Uint8Array): Uint8Array {
  return deriveKey(key, 'key-identifier', new Uint8Array(0), KEY_IDENTIFIER_LENGTH);
}

/**
 * The input key of a zone's file contents for one suite (its length is the suite's key length;
 * each suite gets an independent key).
 *
 * @example
 * ```ts
 * import { deriveContentKey } from 'simvault/crypto';
 * deriveContentKey(new Uint8Array(32), 'cobblestone-128').length; // 16
 * ```
 */
export function deriveContentKey(
  zoneKey: Uint8Array,
  suite: SuiteName = DEFAULT_SUITE,
): Uint8Array {
  const s = getSuite(suite);
  return deriveKey(zoneKey, 'content', utf8(s.aead), s.keyLength);
}

/**
 * The key of a zone's encrypted metadata (file table, free-space map).
 *
 * @example
 * ```ts
 * import { deriveMetadataKey } from 'simvault/crypto';
 * const metadataKey = deriveMetadataKey(new Uint8Array(32));
 * ```
 */
export function deriveMetadataKey(zoneKey: Uint8Array): Uint8Array {
  return deriveKey(zoneKey, 'metadata', new Uint8Array(0), KEY_LENGTH);
}

/**
 * Everything a mounted zone needs.
 *
 * @example
 * ```ts
 * import type { ZoneKeys } from 'simvault/crypto';
 * const use = (k: ZoneKeys) => k.keyIdentifier;
 * ```
 */
export interface ZoneKeys {
  /** The zone. */
  zone: Zone;
  /** The zone key (parent of the others). */
  zoneKey: Uint8Array;
  /** The content input key for the suite asked for. */
  contentKey: Uint8Array;
  /** The metadata key. */
  metadataKey: Uint8Array;
  /** The zone key's public identifier. */
  keyIdentifier: Uint8Array;
}

/**
 * The keys of one card as the SIM hands them over: never the binding key itself.
 *
 * @example
 * ```ts
 * import type { CardKeys } from 'simvault/crypto';
 * const userZone = (k: CardKeys) => k.zones.user.contentKey;
 * ```
 */
export interface CardKeys {
  /** The 15-byte card identity the keys are bound to. */
  cardIdentity: Uint8Array;
  /** The card key's public identifier. */
  cardKeyIdentifier: Uint8Array;
  /** Per-zone keys. */
  zones: Record<Zone, ZoneKeys>;
}

/**
 * Derive one zone's keys from the card key.
 *
 * @example
 * ```ts
 * import { deriveZoneKeys } from 'simvault/crypto';
 * const keys = deriveZoneKeys(new Uint8Array(32), 'advertising');
 * ```
 */
export function deriveZoneKeys(
  cardKey: Uint8Array,
  zone: Zone,
  suite: SuiteName = DEFAULT_SUITE,
): ZoneKeys {
  const zoneKey = deriveZoneKey(cardKey, zone);
  return {
    zone,
    zoneKey,
    contentKey: deriveContentKey(zoneKey, suite),
    metadataKey: deriveMetadataKey(zoneKey),
    keyIdentifier: keyIdentifier(zoneKey),
  };
}

/**
 * Derive all of a card's keys from the binding key and the card's CID.
 *
 * @example
 * ```ts
 * import { deriveCardKeys } from 'simvault/crypto';
 * const keys = deriveCardKeys(bindingKey, cid);
 * keys.zones.user.contentKey; // the user zone's content key
 * ```
 */
export function deriveCardKeys(
  bindingKey: Uint8Array,
  cid: Uint8Array,
  suite: SuiteName = DEFAULT_SUITE,
): CardKeys {
  const cardKey = deriveCardKey(bindingKey, cid);
  const zones = {} as Record<Zone, ZoneKeys>;
  for (const zone of ZONES) zones[zone] = deriveZoneKeys(cardKey, zone, suite);
  return { cardIdentity: cardIdentity(cid), cardKeyIdentifier: keyIdentifier(cardKey), zones };
}
