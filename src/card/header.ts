/**
 * The plaintext card header (blocks 0 and 1): what a reader must know before it has keys — the
 * zone table with each zone's suite, salt and key identifier, and the card identity.
 *
 * A CRC and a backup copy catch accidents. Against tampering, a version-2 header carries an
 * HMAC-SHA-256 over every byte before it under a key derived from the SIM's zone keys
 * ({@link headerMac}), so no bit of it (flags, suite, zone geometry, reserved bytes) can change
 * without the keys; and every zone's sealed blocks bind a digest of that zone's entry
 * ({@link zoneBinding}). Version 1 had no MAC; it is decoded to be read, never written.
 *
 * Decoding is strict: a copy whose CRC verifies but holds a value this version does not know (a
 * flag bit, a suite, a reserved byte, the zone geometry) cannot be an accident and is reported as
 * {@link HeaderCopy} `invalid`, which a mount treats as tampering.
 *
 * @module
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, equalBytes, utf8 } from '../bytes.js';
import { ZONES, ZONE_IDS, type Zone } from '../crypto/keys.js';
import { SUITES } from '../crypto/suites.js';
import { BLOCK_SIZE, BLOCK_SIZE_LOG2, HEADER_BLOCKS, MIN_ZONE_BLOCKS } from './layout.js';

const MAGIC = utf8('SIMVAULT');
/** Zone flag: secure-chip mode (per-file keys from the card's secure chip). */
export const ZONE_FLAG_SECURE_CHIP = 0x01;
/** Zone flag: the zone is being (re)initialised; a mount finishes the job. */
export const ZONE_FLAG_ERASING = 0x80;
const KNOWN_FLAGS = ZONE_FLAG_SECURE_CHIP | ZONE_FLAG_ERASING;
const SUITE_IDS = new Set(Object.values(SUITES).map((s) => s.id));

// Version 2 geometry.
const V2_ZONES = 64;
const V2_ENTRY = 64;
/** Offset of the header MAC in a version-2 header: it covers bytes 0 up to here. */
export const V2_MAC_OFFSET = V2_ZONES + 4 * V2_ENTRY;
const V2_CRC = V2_MAC_OFFSET + 32;
// Version 1 geometry.
const V1_ZONES = 50;
const V1_ENTRY = 60;
const V1_CRC = V1_ZONES + 4 * V1_ENTRY;

/** One zone's entry in the header. */
export interface ZoneEntry {
  /** The zone. */
  zone: Zone;
  /** Bit 0 secure-chip mode, bit 7 erase in progress. */
  flags: number;
  /** The zone's content suite (version 1: the card's). */
  suiteId: number;
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
  /** Format version (1 or 2). */
  version: number;
  /** Grows each time the header is rewritten (a zone erased). */
  generation: number;
  /** The suite `format` was given (version 1: the only suite). */
  suiteId: number;
  /** The 15-byte card identity (CID bytes 0..14) the card was formatted for. */
  cardIdentity: Uint8Array;
  /** Public identifier of the SIM's card key. */
  cardKeyIdentifier: Uint8Array;
  /** The four zones, in zone-id order. */
  zones: ZoneEntry[];
}

/** What one header block holds. */
export type HeaderCopy =
  /** No magic: not a header. */
  | { kind: 'absent' }
  /** Magic but a CRC that fails: damaged (a torn write, a bad sector). */
  | { kind: 'damaged' }
  /** A version this code does not know. */
  | { kind: 'newer'; version: number }
  /** The CRC verifies, but a value is not one this version allows: tampering. */
  | { kind: 'invalid'; reason: string }
  /** A well-formed header; `signed` is what its MAC covers (version 2). */
  | { kind: 'valid'; header: CardHeader; signed: Uint8Array; mac: Uint8Array | undefined };

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) {
    crc ^= bytes[i]!;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** The header MAC: HMAC-SHA-256 under the header key of every byte before the MAC. */
export function headerMac(headerKey: Uint8Array, signed: Uint8Array): Uint8Array {
  return hmac(sha256, headerKey, signed);
}

/** Encode a version-2 header into one block, with its MAC under `headerKey`. */
export function encodeHeader(h: CardHeader, headerKey: Uint8Array): Uint8Array {
  if (h.version !== 2) throw new Error('only version-2 headers are written');
  const block = new Uint8Array(BLOCK_SIZE);
  const v = new DataView(block.buffer);
  block.set(MAGIC, 0);
  v.setUint16(8, h.version);
  v.setUint32(10, h.generation);
  block[14] = h.suiteId;
  block[15] = BLOCK_SIZE_LOG2;
  block[16] = h.zones.length;
  block.set(h.cardIdentity, 18);
  block.set(h.cardKeyIdentifier, 33);
  h.zones.forEach((z, i) => {
    const o = V2_ZONES + i * V2_ENTRY;
    block[o] = ZONE_IDS[z.zone];
    block[o + 1] = z.flags;
    block[o + 2] = z.suiteId;
    v.setUint32(o + 4, z.startBlock);
    v.setUint32(o + 8, z.blockCount);
    block.set(z.salt, o + 12);
    block.set(z.keyIdentifier, o + 44);
  });
  block.set(headerMac(headerKey, block.subarray(0, V2_MAC_OFFSET)), V2_MAC_OFFSET);
  v.setUint32(V2_CRC, crc32(block.subarray(0, V2_CRC)));
  return block;
}

function zeros(bytes: Uint8Array): boolean {
  return bytes.every((b) => b === 0);
}

/** Decode one header block (strictly: see {@link HeaderCopy}). */
export function decodeHeader(block: Uint8Array): HeaderCopy {
  if (block.length < BLOCK_SIZE || !equalBytes(block.subarray(0, 8), MAGIC))
    return { kind: 'absent' };
  const v = new DataView(block.buffer, block.byteOffset, block.length);
  const version = v.getUint16(8);
  if (version === 2) return decodeV2(block, v);
  if (version === 1) return decodeV1(block, v);
  return version === 0 ? { kind: 'damaged' } : { kind: 'newer', version };
}

function decodeV2(block: Uint8Array, v: DataView): HeaderCopy {
  if (v.getUint32(V2_CRC) !== crc32(block.subarray(0, V2_CRC))) return { kind: 'damaged' };
  const invalid = (reason: string): HeaderCopy => ({ kind: 'invalid', reason });
  if (block[15] !== BLOCK_SIZE_LOG2) return invalid(`block size log2 ${block[15]}`);
  if (block[16] !== ZONES.length) return invalid(`zone count ${block[16]}`);
  if (!SUITE_IDS.has(block[14]!)) return invalid(`suite id ${block[14]}`);
  if (block[17] !== 0 || !zeros(block.subarray(49, V2_ZONES)))
    return invalid('reserved bytes are not zero');
  if (!zeros(block.subarray(V2_CRC + 4))) return invalid('bytes after the CRC are not zero');
  const zones: ZoneEntry[] = [];
  for (let i = 0; i < ZONES.length; i++) {
    const o = V2_ZONES + i * V2_ENTRY;
    const zone = ZONES[i]!;
    if (block[o] !== ZONE_IDS[zone]) return invalid(`zone entry ${i} has zone id ${block[o]}`);
    const entry = entryAt(block, v, o, block[o + 2]!, zone);
    if (typeof entry === 'string') return invalid(entry);
    if (block[o + 3] !== 0 || !zeros(block.subarray(o + 60, o + 64)))
      return invalid(`zone ${zone}: reserved bytes are not zero`);
    zones.push(entry);
  }
  const geometry = checkGeometry(zones);
  if (geometry) return invalid(geometry);
  return validCopy(2, block, v, zones, V2_MAC_OFFSET);
}

function decodeV1(block: Uint8Array, v: DataView): HeaderCopy {
  if (block[49] !== ZONES.length) return { kind: 'damaged' };
  if (v.getUint32(V1_CRC) !== crc32(block.subarray(0, V1_CRC))) return { kind: 'damaged' };
  const invalid = (reason: string): HeaderCopy => ({ kind: 'invalid', reason });
  if (block[15] !== BLOCK_SIZE_LOG2) return invalid(`block size log2 ${block[15]}`);
  if (!SUITE_IDS.has(block[14]!)) return invalid(`suite id ${block[14]}`);
  if (v.getUint16(16) !== 0) return invalid('reserved bytes are not zero');
  if (!zeros(block.subarray(V1_CRC + 4))) return invalid('bytes after the CRC are not zero');
  const zones: ZoneEntry[] = [];
  for (let i = 0; i < ZONES.length; i++) {
    const o = V1_ZONES + i * V1_ENTRY;
    const zone = ZONES.find((z) => ZONE_IDS[z] === block[o]);
    if (!zone || zones.some((e) => e.zone === zone))
      return invalid(`zone entry ${i} has zone id ${block[o]}`);
    const entry = entryAt(block, v, o, block[14]!, zone);
    if (typeof entry === 'string') return invalid(entry);
    if (v.getUint16(o + 2) !== 0) return invalid(`zone ${zone}: reserved bytes are not zero`);
    zones.push(entry);
  }
  zones.sort((a, b) => ZONE_IDS[a.zone] - ZONE_IDS[b.zone]);
  const geometry = checkGeometry([...zones].sort((a, b) => a.startBlock - b.startBlock));
  if (geometry) return invalid(geometry);
  return validCopy(1, block, v, zones, undefined);
}

// Both versions place the card-wide fields alike; version 2 has a MAC at `macOffset`.
function validCopy(
  version: number,
  block: Uint8Array,
  v: DataView,
  zones: ZoneEntry[],
  macOffset: number | undefined,
): HeaderCopy {
  return {
    kind: 'valid',
    header: {
      version,
      generation: v.getUint32(10),
      suiteId: block[14]!,
      cardIdentity: block.slice(18, 33),
      cardKeyIdentifier: block.slice(33, 49),
      zones,
    },
    signed: block.slice(0, macOffset ?? V1_CRC),
    mac: macOffset === undefined ? undefined : block.slice(macOffset, macOffset + 32),
  };
}

// The fields both versions place alike in a zone entry.
function entryAt(
  block: Uint8Array,
  v: DataView,
  o: number,
  suiteId: number,
  zone: Zone,
): ZoneEntry | string {
  const flags = block[o + 1]!;
  if (flags & ~KNOWN_FLAGS) return `zone ${zone}: unknown flags ${flags.toString(16)}`;
  if (!SUITE_IDS.has(suiteId)) return `zone ${zone}: suite id ${suiteId}`;
  return {
    zone,
    flags,
    suiteId,
    startBlock: v.getUint32(o + 4),
    blockCount: v.getUint32(o + 8),
    salt: block.slice(o + 12, o + 44),
    keyIdentifier: block.slice(o + 44, o + 60),
  };
}

// Zones lie back to back from the first block after the header, each at least the minimum.
function checkGeometry(inOrder: readonly ZoneEntry[]): string | undefined {
  let next = HEADER_BLOCKS;
  for (const z of inOrder) {
    if (z.startBlock !== next) return `zone ${z.zone} starts at block ${z.startBlock}, not ${next}`;
    if (z.blockCount < MIN_ZONE_BLOCKS) return `zone ${z.zone} has only ${z.blockCount} blocks`;
    next += z.blockCount;
  }
  return undefined;
}

/** Device blocks the zones of a header reach. */
export function headerExtent(h: CardHeader): number {
  return Math.max(...h.zones.map((z) => z.startBlock + z.blockCount));
}

/**
 * The digest that binds a zone's sealed blocks to its header entry and the card: everything in
 * the entry except the transient erase flag, and the card-wide fields a reader uses. Not the
 * header generation, which changes when another zone is erased.
 */
export function zoneBinding(h: CardHeader, entry: ZoneEntry): Uint8Array {
  let fixed: Uint8Array;
  if (h.version === 1) {
    fixed = new Uint8Array(16);
    const v = new DataView(fixed.buffer);
    v.setUint16(0, 1);
    fixed[2] = h.suiteId;
    fixed[3] = ZONE_IDS[entry.zone];
    fixed[4] = entry.flags & 0x7f;
    v.setUint32(8, entry.startBlock);
    v.setUint32(12, entry.blockCount);
  } else {
    fixed = new Uint8Array(14);
    const v = new DataView(fixed.buffer);
    v.setUint16(0, h.version);
    fixed[2] = BLOCK_SIZE_LOG2;
    fixed[3] = ZONE_IDS[entry.zone];
    fixed[4] = entry.flags & ~ZONE_FLAG_ERASING;
    fixed[5] = entry.suiteId;
    v.setUint32(6, entry.startBlock);
    v.setUint32(10, entry.blockCount);
  }
  return sha256(
    concatBytes(
      utf8(`simvault/v${h.version} zone binding`),
      h.cardIdentity,
      h.cardKeyIdentifier,
      fixed,
      entry.salt,
      entry.keyIdentifier,
    ),
  );
}
