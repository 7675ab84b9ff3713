/**
 * The on-card layout: constants and the plaintext card header. See `docs/card-format.md`.
 *
 * The header reveals only what a reader must know before it has keys — magic, version, suite,
 * the zone table with each zone's salt and key identifier, the card identity — and is protected
 * against accidental damage by a CRC and a backup copy. Against tampering it is authenticated
 * once keys are present: every zone's sealed blocks bind a digest of the header fields that
 * concern them ({@link zoneBinding}).
 *
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, equalBytes, utf8 } from '../bytes.js';
import { CardError } from '../errors.js';
import { ZONES, type Zone } from '../crypto/keys.js';

/** Bytes per card block: the unit of allocation and of metadata I/O. */
export const BLOCK_SIZE = 4096;
/** The card format version this code writes; it reads this one and every older one. */
export const FORMAT_VERSION = 1;
/** Blocks before the first zone: header and its backup. */
export const HEADER_BLOCKS = 2;
/** Smallest zone, in blocks: superblocks, allocation map and room for files. */
export const MIN_ZONE_BLOCKS = 16;

const MAGIC = utf8('SIMVAULT');
const ZONE_ENTRY = 60;
const ZONE_TABLE_OFFSET = 50;
const ZONE_IDS: Record<Zone, number> = { operator: 1, advertising: 2, multimedia: 3, user: 4 };

/** One zone's entry in the header. */
export interface ZoneEntry {
  zone: Zone;
  /** Reserved flags (0). */
  flags: number;
  /** First block of the zone on the device. */
  startBlock: number;
  /** Blocks in the zone (its fixed quota). */
  blockCount: number;
  /** Random per-zone salt; replacing it crypto-erases the zone. */
  salt: Uint8Array;
  /** Public identifier of the SIM-side zone key (wrong SIM detection). */
  keyIdentifier: Uint8Array;
}

/** The plaintext card header. */
export interface CardHeader {
  version: number;
  /** Grows each time the header is rewritten (a zone erased). */
  generation: number;
  suiteId: number;
  /** The 15-byte card identity (CID bytes 0..14) the card was formatted for. */
  cardIdentity: Uint8Array;
  /** Public identifier of the SIM's card key. */
  cardKeyIdentifier: Uint8Array;
  zones: ZoneEntry[];
}

/** Zone id byte. */
export function zoneId(zone: Zone): number {
  return ZONE_IDS[zone];
}

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) {
    crc ^= bytes[i]!;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** Encode the header into one block. */
export function encodeHeader(h: CardHeader): Uint8Array {
  const block = new Uint8Array(BLOCK_SIZE);
  const v = new DataView(block.buffer);
  block.set(MAGIC, 0);
  v.setUint16(8, h.version);
  v.setUint32(10, h.generation);
  block[14] = h.suiteId;
  block[15] = Math.log2(BLOCK_SIZE);
  block.set(h.cardIdentity, 18);
  block.set(h.cardKeyIdentifier, 33);
  block[49] = h.zones.length;
  h.zones.forEach((z, i) => {
    const o = ZONE_TABLE_OFFSET + i * ZONE_ENTRY;
    block[o] = zoneId(z.zone);
    block[o + 1] = z.flags;
    v.setUint32(o + 4, z.startBlock);
    v.setUint32(o + 8, z.blockCount);
    block.set(z.salt, o + 12);
    block.set(z.keyIdentifier, o + 44);
  });
  const end = ZONE_TABLE_OFFSET + h.zones.length * ZONE_ENTRY;
  v.setUint32(end, crc32(block.subarray(0, end)));
  return block;
}

/**
 * Decode a header block; `null` when it is not a valid header (no magic, bad CRC), so the caller
 * can try the backup. A valid header of a newer version is an error of its own.
 */
export function decodeHeader(block: Uint8Array): CardHeader | null {
  if (block.length < BLOCK_SIZE || !equalBytes(block.subarray(0, 8), MAGIC)) return null;
  const v = new DataView(block.buffer, block.byteOffset, block.length);
  const count = block[49]!;
  if (count !== ZONES.length) return null;
  const end = ZONE_TABLE_OFFSET + count * ZONE_ENTRY;
  if (v.getUint32(end) !== crc32(block.subarray(0, end))) return null;
  const version = v.getUint16(8);
  if (version > FORMAT_VERSION || version === 0) {
    throw new CardError(
      'CARD_UNSUPPORTED_VERSION',
      `card format version ${version} is newer than this simvault (${FORMAT_VERSION})`,
    );
  }
  if (block[15] !== Math.log2(BLOCK_SIZE)) return null;
  const zones: ZoneEntry[] = [];
  for (let i = 0; i < count; i++) {
    const o = ZONE_TABLE_OFFSET + i * ZONE_ENTRY;
    const zone = ZONES.find((z) => ZONE_IDS[z] === block[o]);
    if (!zone || zones.some((e) => e.zone === zone)) return null;
    zones.push({
      zone,
      flags: block[o + 1]!,
      startBlock: v.getUint32(o + 4),
      blockCount: v.getUint32(o + 8),
      salt: block.slice(o + 12, o + 44),
      keyIdentifier: block.slice(o + 44, o + 60),
    });
  }
  return {
    version,
    generation: v.getUint32(10),
    suiteId: block[14]!,
    cardIdentity: block.slice(18, 33),
    cardKeyIdentifier: block.slice(33, 49),
    zones,
  };
}

/**
 * The digest that binds a zone's sealed blocks to the header: the card-wide fields (not the header
 * generation, which changes when another zone is erased) and this zone's entry.
 */
export function zoneBinding(h: CardHeader, entry: ZoneEntry): Uint8Array {
  const fixed = new Uint8Array(16);
  const v = new DataView(fixed.buffer);
  v.setUint16(0, h.version);
  fixed[2] = h.suiteId;
  fixed[3] = zoneId(entry.zone);
  // The top flag bit marks an erase in progress; it is transient and not bound.
  fixed[4] = entry.flags & 0x7f;
  v.setUint32(8, entry.startBlock);
  v.setUint32(12, entry.blockCount);
  return sha256(
    concatBytes(
      utf8('simvault/v1 zone binding'),
      h.cardIdentity,
      h.cardKeyIdentifier,
      fixed,
      entry.salt,
      entry.keyIdentifier,
    ),
  );
}
