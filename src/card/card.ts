/**
 * A card: format a block device into four encrypted zones, mount it with the keys the SIM hands
 * over, report capacity, crypto-erase zones.
 *
 * A mount writes nothing before the header has authenticated: a header changed by someone
 * without the keys is `CARD_TAMPERED` and the device is left as it was. A version-1 card (no
 * header MAC) mounts read-only; see `docs/card-format.md`.
 *
 * @module
 */
import { equalBytes, randomBytes, toHex } from '../bytes.js';
import { ArgumentError, CardError, SimvaultError } from '../errors.js';
import type { BackendChoice } from '../crypto/backend.js';
import { cardIdentity, ZONES, ZONE_IDS, type CardKeys, type Zone } from '../crypto/keys.js';
import {
  DEFAULT_SUITE,
  getSuite,
  suiteById,
  type Suite,
  type SuiteName,
} from '../crypto/suites.js';
import type { BlockDevice } from './device.js';
import { BLOCK_SIZE, FORMAT_VERSION, HEADER_BLOCKS, MIN_ZONE_BLOCKS } from './layout.js';
import {
  decodeHeader,
  encodeHeader,
  headerExtent,
  headerMac,
  zoneBinding,
  ZONE_FLAG_ERASING,
  ZONE_FLAG_SECURE_CHIP,
  type CardHeader,
  type HeaderCopy,
  type ZoneEntry,
} from './header.js';
import { ZoneBlocks } from './sealed-blocks.js';
import { CardZone, type ZoneCapacity, type ZoneMountParams } from './zone.js';
import { cardHeaderKey, zoneInstanceKeys } from './zone-keys.js';
import type { FileKeyProvider } from './file-keys.js';

// Devices with a writable mount in this process (by identity): a second writer would allocate the
// same blocks as the first.
const writers = new Set<unknown>();

function writerKey(device: BlockDevice): unknown {
  return device.identity ?? device;
}

export { ZONE_FLAG_ERASING, ZONE_FLAG_SECURE_CHIP };

/** Why a version-1 card mounts read-only. */
const V1_READ_ONLY =
  'card format version 1 is read-only in this simvault (its header has no MAC, so an erase could not be authorized); copy its files to a card created by this version';

/**
 * Options of {@link formatCard}.
 *
 * @example
 * ```ts
 * import type { FormatOptions } from 'simvault/card';
 * declare const cid: Uint8Array, keys: import('simvault/crypto').CardKeys;
 * const opts: FormatOptions = { cid, keys, zones: { operator: 8 << 20, advertising: 4 << 20, multimedia: 64 << 20, user: 64 << 20 } };
 * ```
 */
export interface FormatOptions {
  /** The card's CID (16 bytes, or its 15-byte identity). */
  cid: Uint8Array;
  /** The card's keys from the SIM (`deriveCardKeys` of the binding key and this CID, from `simvault/crypto`). */
  keys: CardKeys;
  /** Content suite of every zone not named in `zoneSuites` (default `cobblestone-256`). */
  suite?: SuiteName;
  /** A zone's own content suite (each zone may use another). */
  zoneSuites?: Partial<Record<Zone, SuiteName>>;
  /**
   * Bytes per zone (quotas fixed at format time, rounded down to 4 KiB blocks). Zones left out
   * share the rest: operator 10%, advertising 10%, multimedia 40%, user 40%.
   */
  zones?: Partial<Record<Zone, number>>;
  /**
   * What free space holds: `random` (default) makes used and free blocks indistinguishable;
   * `zero` is faster to format and reveals which blocks are in use.
   */
  fill?: 'random' | 'zero';
  /**
   * Zones in secure-chip mode: their files' keys come from the card's secure chip (see
   * {@link FileKeyProvider}) instead of the SIM's zone key. Metadata stays under the SIM's keys.
   */
  secureChipZones?: Zone[];
  /** Cipher backend (default `auto`). */
  backend?: BackendChoice;
}

/**
 * Options of {@link mountCard}.
 *
 * @example
 * ```ts
 * import type { MountOptions } from 'simvault/card';
 * declare const cid: Uint8Array, keys: import('simvault/crypto').CardKeys;
 * const opts: MountOptions = { cid, keys, anchors: { user: 42 } };
 * ```
 */
export interface MountOptions {
  /** The CID the card reports now. */
  cid: Uint8Array;
  /** The keys the SIM hands over for this card. */
  keys: CardKeys;
  /** Generations the SIM anchored per zone; an older zone is `CARD_ROLLED_BACK`. */
  anchors?: Partial<Record<Zone, number>>;
  /**
   * The card's secure chip, for secure-chip zones. Without it those zones still mount and list,
   * but reading or writing a file is `CARD_CHIP_UNAVAILABLE`.
   */
  chip?: FileKeyProvider;
  /** Cipher backend (default `auto`). */
  backend?: BackendChoice;
  /**
   * Mount without writing anything: no healing of a stale header copy, no finishing of an
   * interrupted erase, and every change is `CARD_READ_ONLY`.
   */
  readOnly?: boolean;
}

/**
 * What a card header says, readable without keys.
 *
 * @example
 * ```ts
 * import { readCardInfo } from 'simvault/card';
 * declare const device: import('simvault/card').BlockDevice;
 * const info = await readCardInfo(device);
 * console.log(info.suite, info.zones.map((z) => z.zone));
 * ```
 */
export interface CardInfo {
  /** On-card format version. */
  version: number;
  /** Header generation (grows when a zone is erased). */
  generation: number;
  /** The suite `format` was given (each zone's own is in {@link CardInfo.zones}). */
  suite: SuiteName;
  /** The card identity (CID bytes 0..14) the card was formatted for, hex. */
  cardIdentity: string;
  /** Identifier of the SIM card key it was formatted with, hex. */
  cardKeyIdentifier: string;
  /** Zones and their quotas. */
  zones: ZoneSummary[];
  /** Whether this version writes the card (false for format version 1: read-only). */
  writable: boolean;
}

/**
 * One zone as the header describes it.
 *
 * @example
 * ```ts
 * import type { ZoneSummary } from 'simvault/card';
 * const line = (z: ZoneSummary) => `${z.zone}: ${z.capacity} bytes`;
 * ```
 */
export interface ZoneSummary {
  /** The zone. */
  zone: Zone;
  /** Its quota in bytes. */
  capacity: number;
  /** Identifier of the SIM zone key it was formatted with, hex. */
  keyIdentifier: string;
  /** Whether the zone is in secure-chip mode. */
  secureChip: boolean;
  /** The zone's content suite. */
  suite: SuiteName;
}

/**
 * The card's capacity: the SIM's "virtual extended capacity", in total and per zone.
 *
 * @example
 * ```ts
 * import type { CardCapacity } from 'simvault/card';
 * const free = (c: CardCapacity) => c.free;
 * ```
 */
export interface CardCapacity {
  /** Bytes of all mounted zones. */
  capacity: number;
  /** Bytes in use. */
  used: number;
  /** Bytes free. */
  free: number;
  /** Visible files. */
  files: number;
  /** Per zone. */
  zones: Partial<Record<Zone, ZoneCapacity>>;
}

/**
 * A zone that failed to mount.
 *
 * @example
 * ```ts
 * import type { DamagedZone } from 'simvault/card';
 * const line = (d: DamagedZone) => `${d.zone}: ${d.error.code}`;
 * ```
 */
export interface DamagedZone {
  /** The zone. */
  zone: Zone;
  /** Why it did not mount. */
  error: SimvaultError;
}

interface HeaderRead {
  /** Both blocks as read. */
  raw: Uint8Array;
  /** What each holds. */
  copies: HeaderCopy[];
  /** The newest well-formed copy (the primary at equal generations). */
  header: CardHeader;
}

// The zones must fit the device (an image cut short, or a header from a larger card).
function checkFits(device: BlockDevice, header: CardHeader): void {
  const reach = headerExtent(header);
  if (reach > device.size / BLOCK_SIZE)
    throw new CardError(
      'CARD_CORRUPT',
      `the zones reach block ${reach}; the device has ${device.size / BLOCK_SIZE}`,
    );
}

async function readHeader(device: BlockDevice): Promise<HeaderRead> {
  if (device.size < HEADER_BLOCKS * BLOCK_SIZE)
    throw new CardError('CARD_NOT_FORMATTED', 'the device is too small to hold a card');
  const raw = await device.read(0, HEADER_BLOCKS * BLOCK_SIZE);
  const copies = [0, 1].map((i) =>
    decodeHeader(raw.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE)),
  );
  // A copy whose CRC holds but whose values are not this version's is no accident.
  for (const [i, c] of copies.entries())
    if (c.kind === 'invalid')
      throw new CardError('CARD_TAMPERED', `header copy ${i} was altered: ${c.reason}`);
  let header: CardHeader | undefined;
  for (const c of copies)
    if (c.kind === 'valid' && (!header || c.header.generation > header.generation))
      header = c.header;
  if (header) return { raw, copies, header };
  const newer = copies.find((c) => c.kind === 'newer');
  if (newer?.kind === 'newer')
    throw new CardError(
      'CARD_UNSUPPORTED_VERSION',
      `card format version ${newer.version} is newer than this simvault (${FORMAT_VERSION})`,
    );
  throw copies.some((c) => c.kind === 'damaged')
    ? new CardError('CARD_CORRUPT', 'both copies of the card header are damaged')
    : new CardError('CARD_NOT_FORMATTED', 'the device holds no simvault card');
}

/**
 * Check that the header belongs to this card and these keys, and (version 2) that every copy
 * that claims to be a header was written by a holder of the keys. Writes nothing.
 */
function authenticate(read: HeaderRead, cid: Uint8Array, keys: CardKeys): void {
  const { header } = read;
  if (!equalBytes(cardIdentity(cid), header.cardIdentity)) {
    throw new CardError(
      'CARD_CID_MISMATCH',
      `this image was formatted for card ${toHex(header.cardIdentity)}, not ${toHex(cardIdentity(cid))}`,
    );
  }
  if (!equalBytes(keys.cardKeyIdentifier, header.cardKeyIdentifier)) {
    throw new CardError(
      'CARD_WRONG_SIM',
      'the card is bound to another SIM (card key identifier differs)',
    );
  }
  for (const entry of header.zones) {
    if (!equalBytes(keys.zones[entry.zone].keyIdentifier, entry.keyIdentifier)) {
      throw new CardError(
        'CARD_WRONG_SIM',
        `zone ${entry.zone} is bound to another SIM (key identifier differs)`,
      );
    }
  }
  const key = cardHeaderKey(keys);
  for (const [i, c] of read.copies.entries()) {
    if (c.kind !== 'valid') continue;
    if (c.header.version !== header.version)
      throw new CardError('CARD_TAMPERED', `the header copies disagree on the format version`);
    if (c.mac && !equalBytes(headerMac(key, c.signed), c.mac))
      throw new CardError(
        'CARD_TAMPERED',
        `header copy ${i} fails authentication: it was changed by someone without the SIM's keys`,
      );
  }
}

// A power cut between the two header writes leaves copies that differ: make both the newest.
async function healHeaderCopies(device: BlockDevice, read: HeaderRead, key: Uint8Array) {
  const good = encodeHeader(read.header, key);
  for (const i of [0, 1]) {
    if (!equalBytes(read.raw.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE), good)) {
      await device.write(i * BLOCK_SIZE, good);
      await device.flush();
    }
  }
}

async function writeHeader(device: BlockDevice, h: CardHeader, key: Uint8Array): Promise<void> {
  const block = encodeHeader(h, key);
  // Primary then backup, each made durable: a torn write of either leaves the other whole, and
  // the reader takes the valid copy with the highest generation.
  await device.write(0, block);
  await device.flush();
  await device.write(BLOCK_SIZE, block);
  await device.flush();
}

function infoOf(h: CardHeader): CardInfo {
  return {
    version: h.version,
    generation: h.generation,
    suite: suiteById(h.suiteId).name,
    cardIdentity: toHex(h.cardIdentity),
    cardKeyIdentifier: toHex(h.cardKeyIdentifier),
    zones: h.zones.map((z) => ({
      zone: z.zone,
      capacity: z.blockCount * BLOCK_SIZE,
      keyIdentifier: toHex(z.keyIdentifier),
      secureChip: (z.flags & ZONE_FLAG_SECURE_CHIP) !== 0,
      suite: suiteById(z.suiteId).name,
    })),
    writable: h.version === FORMAT_VERSION,
  };
}

/**
 * Read the card header without keys. A header altered without keys in a way that shows without
 * them (a value this version does not know) is `CARD_TAMPERED`.
 *
 * @example
 * ```ts
 * import { readCardInfo, MemoryDevice } from 'simvault/card';
 * await readCardInfo(new MemoryDevice(1 << 20)); // throws CARD_NOT_FORMATTED
 * ```
 */
export async function readCardInfo(device: BlockDevice): Promise<CardInfo> {
  const { header } = await readHeader(device);
  checkFits(device, header);
  return infoOf(header);
}

function planZones(
  totalBlocks: number,
  wanted: Partial<Record<Zone, number>> = {},
): Record<Zone, number> {
  const available = totalBlocks - HEADER_BLOCKS;
  const out = {} as Record<Zone, number>;
  let given = 0;
  for (const z of ZONES) {
    const bytes = wanted[z];
    if (bytes === undefined) continue;
    if (!Number.isSafeInteger(bytes) || bytes < 0)
      throw new ArgumentError(`zone ${z} size must be a non-negative number of bytes`);
    out[z] = Math.floor(bytes / BLOCK_SIZE);
    given += out[z];
  }
  const share: Record<Zone, number> = { operator: 10, advertising: 10, multimedia: 40, user: 40 };
  const rest = ZONES.filter((z) => wanted[z] === undefined);
  const restWeight = rest.reduce((n, z) => n + share[z], 0);
  let left = available - given;
  for (const z of rest) {
    out[z] = Math.floor(((available - given) * share[z]) / restWeight);
    left -= out[z];
  }
  for (const z of ZONES) {
    if (out[z] < MIN_ZONE_BLOCKS) {
      throw new ArgumentError(
        `zone ${z} would have ${out[z] * BLOCK_SIZE} bytes; each zone needs at least ${MIN_ZONE_BLOCKS * BLOCK_SIZE}`,
      );
    }
  }
  if (left < 0)
    throw new ArgumentError(
      `the zones need ${(given + HEADER_BLOCKS) * BLOCK_SIZE} bytes; the device has ${totalBlocks * BLOCK_SIZE}`,
    );
  return out;
}

async function zoneParams(
  device: BlockDevice,
  h: CardHeader,
  entry: ZoneEntry,
  keys: CardKeys,
  backend: BackendChoice | undefined,
  chip?: FileKeyProvider,
  readOnly?: string,
): Promise<ZoneMountParams> {
  const suite = suiteById(entry.suiteId);
  const instance = await zoneInstanceKeys(
    h.version,
    keys.zones[entry.zone],
    entry.salt,
    suite,
    backend,
  );
  return {
    version: h.version,
    readOnly,
    backend,
    secureChip: (entry.flags & ZONE_FLAG_SECURE_CHIP) !== 0,
    chip,
    zoneSalt: entry.salt,
    zone: entry.zone,
    zoneIdByte: ZONE_IDS[entry.zone],
    blocks: new ZoneBlocks(
      device,
      entry.startBlock,
      entry.blockCount,
      instance.metadata,
      zoneBinding(h, entry),
      ZONE_IDS[entry.zone],
    ),
    keys: instance,
    suite,
    cardIdentity: h.cardIdentity,
  };
}

async function fillZone(
  device: BlockDevice,
  entry: ZoneEntry,
  fill: 'random' | 'zero',
): Promise<void> {
  const step = 256; // blocks per write
  const zero = new Uint8Array(step * BLOCK_SIZE);
  for (let b = 0; b < entry.blockCount; b += step) {
    const n = Math.min(step, entry.blockCount - b);
    const data = fill === 'random' ? randomBytes(n * BLOCK_SIZE) : zero.subarray(0, n * BLOCK_SIZE);
    await device.write((entry.startBlock + b) * BLOCK_SIZE, data);
  }
}

/**
 * Format a device as a simvault card: four zones with their quotas and suites, each empty and
 * encrypted under keys bound to this SIM and this card. The old header is invalidated first, so a
 * power cut during format leaves the old card, or an unformatted device, or the new card — never
 * a mix.
 *
 * @example
 * ```ts
 * import { formatCard, mountCard, MemoryDevice } from 'simvault/card';
 * import { deriveCardKeys } from 'simvault/crypto';
 * const device = new MemoryDevice(16 << 20);
 * const cid = new Uint8Array(16).fill(3);
 * const keys = deriveCardKeys(crypto.getRandomValues(new Uint8Array(32)), cid);
 * await formatCard(device, { cid, keys, zoneSuites: { multimedia: 'cobblestone-chacha20poly1305' } });
 * const card = await mountCard(device, { cid, keys });
 * ```
 */
export async function formatCard(device: BlockDevice, options: FormatOptions): Promise<void> {
  const { keys } = options;
  if (device.size % BLOCK_SIZE !== 0)
    throw new ArgumentError(`device size must be a multiple of ${BLOCK_SIZE} bytes`);
  const identity = cardIdentity(options.cid);
  if (!equalBytes(identity, keys.cardIdentity))
    throw new CardError('CARD_CID_MISMATCH', 'the keys were derived for another card');
  const suite = getSuite(options.suite ?? DEFAULT_SUITE);
  const sizes = planZones(device.size / BLOCK_SIZE, options.zones);
  let start = HEADER_BLOCKS;
  const zones: ZoneEntry[] = ZONES.map((zone) => {
    const secure = options.secureChipZones?.includes(zone) ?? false;
    const entry = {
      zone,
      flags: secure ? ZONE_FLAG_SECURE_CHIP : 0,
      suiteId: getSuite(options.zoneSuites?.[zone] ?? suite.name).id,
      startBlock: start,
      blockCount: sizes[zone],
      salt: randomBytes(32),
      keyIdentifier: keys.zones[zone].keyIdentifier.slice(),
    };
    start += sizes[zone];
    return entry;
  });
  const header: CardHeader = {
    version: FORMAT_VERSION,
    generation: 1,
    suiteId: suite.id,
    cardIdentity: identity,
    cardKeyIdentifier: keys.cardKeyIdentifier.slice(),
    zones,
  };
  const blank = new Uint8Array(BLOCK_SIZE);
  await device.write(0, blank);
  await device.flush();
  await device.write(BLOCK_SIZE, blank);
  await device.flush();
  for (const entry of zones) {
    await fillZone(device, entry, options.fill ?? 'random');
    await CardZone.format(await zoneParams(device, header, entry, keys, options.backend));
  }
  await writeHeader(device, header, cardHeaderKey(keys));
}

/**
 * Mount a card with the SIM's keys. Reports a card formatted for another CID as
 * `CARD_CID_MISMATCH`, another SIM's keys as `CARD_WRONG_SIM` (by key identifiers, without trial
 * decryption), a header changed without the keys as `CARD_TAMPERED` (writing nothing), a zone
 * older than its anchor as `CARD_ROLLED_BACK`, and a second writable mount of the same device in
 * this process as `CARD_ALREADY_MOUNTED`. A zone whose structures are damaged does not stop the
 * mount: {@link Card.zone} reports it and the other zones work. A version-1 card mounts
 * read-only.
 *
 * @example
 * ```ts
 * import { mountCard } from 'simvault/card';
 * declare const device: import('simvault/card').BlockDevice, cid: Uint8Array, keys: import('simvault/crypto').CardKeys;
 * const card = await mountCard(device, { cid, keys });
 * await card.zone('user').writeFile('a.txt', new Uint8Array([1]));
 * ```
 */
export async function mountCard(device: BlockDevice, options: MountOptions): Promise<Card> {
  if (options.readOnly === true) return mountWith(device, options);
  const key = writerKey(device);
  if (writers.has(key))
    throw new CardError(
      'CARD_ALREADY_MOUNTED',
      'this device already has a writable mount in this process; unmount it first',
    );
  writers.add(key);
  try {
    return await mountWith(device, options);
  } catch (e) {
    writers.delete(key);
    throw e;
  }
}

async function mountWith(device: BlockDevice, options: MountOptions): Promise<Card> {
  const { keys } = options;
  const read = await readHeader(device);
  authenticate(read, options.cid, keys);
  let header = read.header;
  checkFits(device, header);
  const readOnly =
    header.version !== FORMAT_VERSION
      ? V1_READ_ONLY
      : options.readOnly === true
        ? 'the card is mounted read-only'
        : undefined;
  // A card this version only reads needs no claim on the device.
  const writer = options.readOnly !== true && readOnly === undefined;
  if (options.readOnly !== true && !writer) writers.delete(writerKey(device));
  const headerKey = cardHeaderKey(keys);
  if (readOnly === undefined) await healHeaderCopies(device, read, headerKey);
  // Finish an erase a power cut interrupted: the zone's old contents are already unreachable.
  // (Version 1 is never written: its erase flag was not authenticated, so it is not acted on.)
  const erasing =
    header.version === FORMAT_VERSION
      ? header.zones.filter((e) => e.flags & ZONE_FLAG_ERASING)
      : [];
  if (erasing.length && readOnly !== undefined) {
    throw new CardError(
      'CARD_READ_ONLY',
      `an erase of zone ${erasing[0]!.zone} was interrupted; mount read-write to finish it`,
    );
  }
  for (const entry of erasing) {
    // Start above the generation the SIM anchored, so the finished erase never reads as a rollback
    // (the erase may have been cut before it wrote a superblock with the continued count).
    const anchored = options.anchors?.[entry.zone] ?? 0;
    await CardZone.format(
      await zoneParams(device, header, entry, keys, options.backend),
      anchored + 1,
    );
  }
  if (erasing.length) {
    header = {
      ...header,
      generation: header.generation + 1,
      zones: header.zones.map((e) => ({ ...e, flags: e.flags & ~ZONE_FLAG_ERASING })),
    };
    await writeHeader(device, header, headerKey);
  }
  const zones = new Map<Zone, CardZone | SimvaultError>();
  for (const entry of header.zones) {
    const params = await zoneParams(
      device,
      header,
      entry,
      keys,
      options.backend,
      options.chip,
      readOnly,
    );
    try {
      zones.set(entry.zone, await CardZone.mount(params, options.anchors?.[entry.zone]));
    } catch (e) {
      if (e instanceof CardError && e.code === 'CARD_ROLLED_BACK') throw e;
      if (!(e instanceof SimvaultError)) throw e;
      zones.set(entry.zone, e);
    }
  }
  return new Card(device, header, keys, options.backend, zones, writer, options.chip, readOnly);
}

/**
 * A mounted card.
 *
 * @example
 * ```ts
 * import type { Card } from 'simvault/card';
 * const report = (card: Card) => card.capacity();
 * ```
 */
export class Card {
  private unmounted = false;

  /** @internal */
  constructor(
    /** The device the card lives on. */
    readonly device: BlockDevice,
    private header: CardHeader,
    private readonly keys: CardKeys,
    private readonly backend: BackendChoice | undefined,
    private readonly zones: Map<Zone, CardZone | SimvaultError>,
    /** Whether this mount holds the device's writable-mount claim. */
    private readonly writer: boolean,
    private readonly chip?: FileKeyProvider,
    /** Why the card refuses changes, or undefined when it accepts them. */
    readonly readOnly?: string,
  ) {}

  /** The suite the card was formatted with (each zone's own is in {@link Card.info}). */
  get suite(): Suite {
    return suiteById(this.header.suiteId);
  }

  /** One zone; throws the zone's mount error if its structures are damaged. */
  zone(name: Zone): CardZone {
    const z = this.zones.get(name);
    if (z === undefined) throw new ArgumentError(`unknown zone '${name}' (${ZONES.join(', ')})`);
    if (z instanceof SimvaultError) throw z;
    return z;
  }

  /** Zones that failed to mount, with their errors. */
  get damaged(): DamagedZone[] {
    return [...this.zones]
      .filter((e): e is [Zone, SimvaultError] => e[1] instanceof SimvaultError)
      .map(([zone, error]) => ({ zone, error }));
  }

  /** The header, as {@link readCardInfo} describes it. */
  info(): CardInfo {
    return infoOf(this.header);
  }

  /**
   * The card's capacity, used and free bytes, per zone and in total: the SIM's "virtual extended
   * capacity".
   */
  capacity(): CardCapacity {
    const zones: Partial<Record<Zone, ZoneCapacity>> = {};
    let capacity = 0;
    let used = 0;
    let free = 0;
    let files = 0;
    for (const [name, z] of this.zones) {
      if (z instanceof SimvaultError) continue;
      const c = z.capacity();
      zones[name] = c;
      capacity += c.capacity;
      used += c.used;
      free += c.free;
      files += c.files;
    }
    return { capacity, used, free, files, zones };
  }

  /** Each zone's generation, for the SIM to anchor after a change. */
  generations(): Partial<Record<Zone, number>> {
    const out: Partial<Record<Zone, number>> = {};
    for (const [name, z] of this.zones) if (!(z instanceof SimvaultError)) out[name] = z.generation;
    return out;
  }

  /**
   * Crypto-erase zones: each gets a new random salt, so everything stored under the old one is
   * unrecoverable even with the SIM's keys, and starts empty. Safe against power cuts: a mount
   * finishes an interrupted erase. Only a holder of the keys can start one: the erase flag lives
   * in the authenticated header.
   */
  async erase(zones: readonly Zone[] = ZONES): Promise<void> {
    if (this.readOnly !== undefined) throw new CardError('CARD_READ_ONLY', this.readOnly);
    for (const z of zones) if (!ZONES.includes(z)) throw new ArgumentError(`unknown zone '${z}'`);
    // An erased zone's generation keeps growing: starting again at 1 would look like a rollback to
    // the anchors the SIM holds (and the SIM never lets an anchor go back).
    const next = new Map<Zone, number>();
    for (const z of zones) {
      const old = this.zones.get(z);
      next.set(z, old instanceof CardZone ? old.generation + 1 : 1);
      if (old instanceof CardZone)
        old.invalidate(
          new CardError('CARD_NOT_MOUNTED', `zone ${z} was erased; use card.zone('${z}') again`),
        );
    }
    const key = cardHeaderKey(this.keys);
    const marked: CardHeader = {
      ...this.header,
      generation: this.header.generation + 1,
      zones: this.header.zones.map((e) =>
        zones.includes(e.zone)
          ? { ...e, salt: randomBytes(32), flags: e.flags | ZONE_FLAG_ERASING }
          : e,
      ),
    };
    await writeHeader(this.device, marked, key);
    for (const entry of marked.zones.filter((e) => zones.includes(e.zone))) {
      await CardZone.format(
        await zoneParams(this.device, marked, entry, this.keys, this.backend),
        next.get(entry.zone),
      );
    }
    const done: CardHeader = {
      ...marked,
      generation: marked.generation + 1,
      zones: marked.zones.map((e) => ({ ...e, flags: e.flags & ~ZONE_FLAG_ERASING })),
    };
    await writeHeader(this.device, done, key);
    this.header = done;
    for (const entry of done.zones.filter((e) => zones.includes(e.zone))) {
      const params = await zoneParams(this.device, done, entry, this.keys, this.backend, this.chip);
      this.zones.set(entry.zone, await CardZone.mount(params));
    }
  }

  /**
   * End the mount: every zone stops working, and the device is flushed and closed (or, with
   * `keepDeviceOpen`, only flushed), after which the device can be mounted again.
   */
  async unmount({ keepDeviceOpen = false }: { keepDeviceOpen?: boolean } = {}): Promise<void> {
    if (this.unmounted) return;
    this.unmounted = true;
    for (const z of this.zones.values())
      if (z instanceof CardZone)
        z.invalidate(new CardError('CARD_NOT_MOUNTED', 'the card was unmounted'));
    try {
      if (keepDeviceOpen) await this.device.flush();
      else await this.device.close();
    } finally {
      if (this.writer) writers.delete(writerKey(this.device));
    }
  }
}
