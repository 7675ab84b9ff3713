/**
 * One mounted zone: its files, put as a stream and read back whole, as a stream or by range;
 * delete, rename, list, stat; capacity; the generation the SIM anchors. Every change is one
 * copy-on-write transaction ending in a superblock write between two flushes, so a power cut
 * at any moment leaves the old state or the new one.
 *
 * @module
 */
import { concatBytes, equalBytes, randomBytes, toHex, utf8 } from '../bytes.js';
import { CardError, SimvaultError } from '../errors.js';
import {
  ChunkEncryptor,
  ciphertextLength,
  CHUNK_SIZE,
  HEADER_LENGTH,
  SALT_LENGTH,
} from '../crypto/chunked.js';
import { RandomAccessDecryptor, type RandomAccessSource } from '../crypto/random-access.js';
import type { Zone as ZoneName } from '../crypto/keys.js';
import type { Suite } from '../crypto/suites.js';
import type { BackendChoice } from '../crypto/backend.js';
import { AllocationMap, BLOCKS_PER_PAGE } from './allocation-map.js';
import {
  extentBlockCount,
  FileTable,
  INLINE_EXTENTS,
  MAX_NAME_BYTES,
  MAX_TAG_BYTES,
  readExtents,
  writeExtentBlocks,
  type Extent,
  type FileRecord,
} from './file-table.js';
import { BLOCK_SIZE } from './layout.js';
import { Mutex } from './mutex.js';
import type { ZoneBlocks } from './sealed-blocks.js';
import { readSuperblocks, writeSuperblock, type Superblock } from './superblock.js';
import type { ZoneInstanceKeys } from './zone-keys.js';
import { chipContentKey, type FileKeyProvider } from './file-keys.js';

const SEALED_CHUNK = CHUNK_SIZE + 16;
// Ciphertext is written in batches of this many bytes (whole blocks).
const WRITE_BATCH = 1024 * 1024;
const DEFAULT_CHECKPOINT = 32 * 1024 * 1024;
// Chunks a stream decrypts per pull (1 MiB).
const STREAM_CHUNKS = 64;

/**
 * A file as {@link CardZone.list} and {@link CardZone.stat} describe it.
 *
 * @example
 * ```ts
 * import type { FileInfo } from 'simvault/card';
 * const show = (f: FileInfo) => `${f.name} ${f.size}`;
 * ```
 */
export interface FileInfo {
  /** The file's name in its zone. */
  name: string;
  /** Plaintext bytes. */
  size: number;
  /** Bytes it occupies on the card (ciphertext rounded up to blocks). */
  storedBytes: number;
  /** Last modification, milliseconds since the epoch. */
  mtime: number;
  /** Random identity bound into the file's encryption (hex). */
  fileId: string;
}

/**
 * A zone's capacity: its share of the card's "virtual extended capacity".
 *
 * @example
 * ```ts
 * import type { ZoneCapacity } from 'simvault/card';
 * const percentFree = (c: ZoneCapacity) => (100 * c.free) / c.capacity;
 * ```
 */
export interface ZoneCapacity {
  /** The zone's quota in bytes. */
  capacity: number;
  /** Bytes in use (files and the zone's own structures). */
  used: number;
  /** Bytes free. */
  free: number;
  /** Visible files. */
  files: number;
  /** Plaintext bytes of the visible files. */
  fileBytes: number;
}

/**
 * An interrupted put that can be resumed.
 *
 * @example
 * ```ts
 * import type { PendingPut } from 'simvault/card';
 * const show = (p: PendingPut) => `${p.name}: ${p.durableBytes} of ${p.size}`;
 * ```
 */
export interface PendingPut {
  /** Name the file will have. */
  name: string;
  /** Declared plaintext size (-1 when undeclared). */
  size: number;
  /** Plaintext bytes durably stored: resume feeds the source from here. */
  durableBytes: number;
  /** The source identity given to the put (digest or ETag). */
  sourceTag: string;
}

/**
 * Options of {@link CardZone.put}.
 *
 * @example
 * ```ts
 * import type { PutOptions } from 'simvault/card';
 * const opts: PutOptions = { size: 1_000_000, sourceTag: 'sha256:…', resume: true };
 * ```
 */
export interface PutOptions {
  /**
   * The plaintext size, if known: a put that cannot fit is then refused before any byte is
   * written, and delivering another number of bytes fails with `CARD_SIZE_MISMATCH`.
   */
  size?: number;
  /** Identity of the source (digest or ETag, at most 64 bytes): enables checkpoints and resume. */
  sourceTag?: string;
  /** Resume an interrupted put of the same name, size and source tag if there is one. */
  resume?: boolean;
  /** Replace an existing file of the same name (default true). */
  overwrite?: boolean;
  /** Checkpoint interval in bytes when a source tag is given (default 32 MiB). */
  checkpointBytes?: number;
  /** Modification time to record (default now). */
  mtime?: number;
}

/**
 * A put in progress: write the source's bytes from {@link ZonePut.offset} on into
 * {@link ZonePut.writable}; the file appears when the stream closes, atomically.
 *
 * @example
 * ```ts
 * import type { ZonePut } from 'simvault/card';
 * async function store(put: ZonePut, data: Uint8Array) {
 *   const w = put.writable.getWriter();
 *   await w.write(data.subarray(put.offset));
 *   await w.close();
 * }
 * ```
 */
export interface ZonePut {
  /** Where the source must start (0, or the durable offset of a resumed put). */
  readonly offset: number;
  /** The stream to write plaintext into. */
  readonly writable: WritableStream<Uint8Array>;
}

/** @internal Mount parameters of a zone, from the card. */
export interface ZoneMountParams {
  /** Refuse every change (`CARD_READ_ONLY`). */
  readOnly: boolean;
  /** Cipher backend for file contents (metadata's AEAD is keyed with it too). */
  backend: BackendChoice | undefined;
  /** Secure-chip mode: per-file keys come from this provider (undefined: no chip available). */
  secureChip: boolean;
  chip: FileKeyProvider | undefined;
  zoneSalt: Uint8Array;
  zone: ZoneName;
  zoneIdByte: number;
  blocks: ZoneBlocks;
  keys: ZoneInstanceKeys;
  suite: Suite;
  cardIdentity: Uint8Array;
}

function checkName(name: string): void {
  if (typeof name !== 'string')
    throw new CardError('CARD_BAD_NAME', 'a file name must be a string');
  const bytes = utf8(name).length;
  if (bytes === 0 || bytes > MAX_NAME_BYTES)
    throw new CardError(
      'CARD_BAD_NAME',
      `a file name must be 1..${MAX_NAME_BYTES} UTF-8 bytes, got ${bytes}`,
    );
  if (
    /[\u0000-\u001f\u007f]/.test(name) ||
    name.includes('\uFFFD') ||
    /[\uD800-\uDFFF]/.test(name.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, ''))
  ) {
    throw new CardError(
      'CARD_BAD_NAME',
      'a file name may not contain control characters or lone surrogates',
    );
  }
}

function blocksFor(bytes: number): number {
  return Math.ceil(bytes / BLOCK_SIZE);
}

function infoOf(r: FileRecord): FileInfo {
  return {
    name: r.name,
    size: r.size,
    storedBytes: blocksFor(r.ctLength) * BLOCK_SIZE,
    mtime: r.mtime,
    fileId: toHex(r.fileId),
  };
}

/**
 * A mounted zone of a card. Obtain it from `Card.zone(name)`.
 *
 * @example
 * ```ts
 * import type { CardZone } from 'simvault/card';
 * async function demo(zone: CardZone) {
 *   await zone.writeFile('hello.txt', new TextEncoder().encode('hi'));
 *   const bytes = await zone.readFile('hello.txt');
 *   console.log(await zone.list(), zone.capacity());
 * }
 * ```
 */
export class CardZone {
  /** The zone's name. */
  readonly name: ZoneName;
  private sb: Superblock;
  private readonly lock = new Mutex();
  private broken: SimvaultError | undefined;

  private constructor(
    private readonly p: ZoneMountParams,
    sb: Superblock,
    private readonly alloc: AllocationMap,
    private readonly table: FileTable,
  ) {
    this.name = p.zone;
    this.sb = sb;
  }

  /**
   * @internal Lay out an empty zone: allocation map, empty file table, first superblock at
   * `generation` (1 for a new card; an erase continues the old count so SIM anchors stay valid).
   */
  static async format(p: ZoneMountParams, generation = 1): Promise<void> {
    // A format a power cut interrupted may have left a valid superblock under these keys: beat
    // it, or it would be taken over this one with an allocation index that no longer holds.
    const { best } = await readSuperblocks(p.blocks);
    generation = Math.max(generation, (best?.generation ?? 0) + 1);
    const alloc = AllocationMap.fresh(p.blocks, p.blocks.count, [0, 1]);
    const index = await alloc.prepareCommit();
    await p.blocks.device.flush();
    await writeSuperblock(p.blocks, { generation, root: null, files: 0, bytes: 0, index });
    await p.blocks.device.flush();
  }

  /** @internal Mount a zone: read its superblocks and allocation index (nothing proportional to its files). */
  static async mount(p: ZoneMountParams, anchor?: number): Promise<CardZone> {
    const { best } = await readSuperblocks(p.blocks);
    if (!best) throw new CardError('CARD_CORRUPT', `zone ${p.zone}: no superblock authenticates`);
    if (anchor !== undefined && best.generation < anchor) {
      throw new CardError(
        'CARD_ROLLED_BACK',
        `zone ${p.zone} is at generation ${best.generation}, older than the anchored ${anchor}`,
      );
    }
    const alloc = await AllocationMap.load(p.blocks, p.blocks.count, best.index);
    return new CardZone(p, best, alloc, new FileTable(p.blocks, p.keys.nameKey, best.root));
  }

  /** Generation of the last commit; grows with every change. The SIM anchors it. */
  get generation(): number {
    return this.sb.generation;
  }

  /**
   * Capacity, used and free bytes and the number of files: this zone's share of the card's
   * "virtual extended capacity".
   */
  capacity(): ZoneCapacity {
    const capacity = this.p.blocks.count * BLOCK_SIZE;
    const free = this.alloc.freeBlocks * BLOCK_SIZE;
    return {
      capacity,
      used: capacity - free,
      free,
      files: this.sb.files,
      fileBytes: this.sb.bytes,
    };
  }

  private alive(): void {
    if (this.broken) throw this.broken;
  }

  /** @internal Mark the zone unusable (after a failed commit or an erase): every later call throws. */
  invalidate(reason: SimvaultError): void {
    this.broken = reason;
  }

  private context(fileId: Uint8Array): Uint8Array {
    return concatBytes(
      utf8('simvault/v1 card-file'),
      new Uint8Array([0]),
      this.p.cardIdentity,
      new Uint8Array([this.p.zoneIdByte]),
      fileId,
    );
  }

  /** Chunked-encryption options of a file: the card's suite and backend, the file's context. */
  private contentOptions(fileId: Uint8Array) {
    return {
      suite: this.p.suite.name,
      context: this.context(fileId),
      ...(this.p.backend ? { backend: this.p.backend } : {}),
    };
  }

  /** The chip, or `CARD_CHIP_UNAVAILABLE`. */
  private chip(): FileKeyProvider {
    if (!this.p.chip)
      throw new CardError(
        'CARD_CHIP_UNAVAILABLE',
        `zone ${this.name} is in secure-chip mode and no chip was given to the mount`,
      );
    return this.p.chip;
  }

  /** The content input key of a file: the zone's, or in secure-chip mode its own from the chip. */
  private async fileContentKey(r: FileRecord): Promise<Uint8Array> {
    if (!this.p.secureChip) {
      if (r.wrappedKey)
        throw new CardError(
          'CARD_CORRUPT',
          `file '${r.name}' carries a chip-wrapped key in a zone without a chip`,
        );
      return this.p.keys.contentKey;
    }
    if (!r.wrappedKey)
      throw new CardError(
        'CARD_CORRUPT',
        `file '${r.name}' of a secure-chip zone has no wrapped key`,
      );
    return chipContentKey(
      await this.chip().unwrapFileKey(r.wrappedKey, this.context(r.fileId)),
      this.p.zoneSalt,
      this.p.suite,
    );
  }

  /** A new file's content key and the wrapped form to record (secure-chip mode), or the zone's. */
  private async newFileContentKey(
    fileId: Uint8Array,
  ): Promise<{ key: Uint8Array; wrapped: Uint8Array | undefined }> {
    if (!this.p.secureChip) return { key: this.p.keys.contentKey, wrapped: undefined };
    const { key, wrapped } = await this.chip().newFileKey(this.context(fileId));
    if (wrapped.length > 255)
      throw new CardError(
        'CARD_CHIP_UNAVAILABLE',
        'the chip returned a wrapped key longer than 255 bytes',
      );
    return { key: chipContentKey(key, this.p.zoneSalt, this.p.suite), wrapped: wrapped.slice() };
  }

  private async commit(files: number, bytes: number): Promise<void> {
    const next: Superblock = {
      generation: this.sb.generation + 1,
      root: null,
      files,
      bytes,
      index: [],
    };
    try {
      next.root = await this.table.prepareCommit(this.alloc);
      next.index = await this.alloc.prepareCommit();
      await this.p.blocks.device.flush();
      await writeSuperblock(this.p.blocks, next);
      await this.p.blocks.device.flush();
    } catch (e) {
      this.table.rollback();
      this.alloc.rollback();
      // Whether the superblock reached the card is unknown: only a remount can tell.
      this.broken = new CardError(
        'CARD_NOT_MOUNTED',
        `zone ${this.name}: a commit failed (${(e as Error).message}); remount the card`,
      );
      throw e;
    }
    this.alloc.afterCommit();
    this.table.afterCommit(next.root);
    this.sb = next;
  }

  private abandonChanges(): void {
    this.table.rollback();
    this.alloc.rollback();
  }

  private async freeRecord(r: FileRecord, { keepData = false } = {}): Promise<void> {
    const { extents, listBlocks } = await readExtents(this.p.blocks, r);
    for (const b of listBlocks) await this.alloc.free(b, 1);
    if (!keepData) for (const e of extents) await this.alloc.free(e.start, e.count);
  }

  private writable(): void {
    this.alive();
    if (this.p.readOnly)
      throw new CardError('CARD_READ_ONLY', `zone ${this.name} is mounted read-only`);
  }

  private async withLock<T>(fn: () => Promise<T>): Promise<T> {
    this.writable();
    const release = await this.lock.acquire();
    try {
      this.alive();
      return await fn();
    } finally {
      release();
    }
  }

  /** Visible files, sorted by name. */
  async list(): Promise<FileInfo[]> {
    this.alive();
    const records = await this.table.records();
    return records
      .filter((r) => !r.pending)
      .map(infoOf)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Interrupted puts that can be resumed. */
  async pending(): Promise<PendingPut[]> {
    this.alive();
    const records = await this.table.records();
    return records
      .filter((r) => r.pending)
      .map((r) => ({
        name: r.name,
        size: r.size,
        durableBytes: ((r.ctLength - HEADER_LENGTH) / SEALED_CHUNK) * CHUNK_SIZE,
        sourceTag: r.sourceTag,
      }));
  }

  /** One file's description; `CARD_NOT_FOUND` if absent. */
  async stat(name: string): Promise<FileInfo> {
    return infoOf(await this.record(name));
  }

  /** Whether a file exists. */
  async exists(name: string): Promise<boolean> {
    checkName(name);
    this.alive();
    return (await this.table.find(name)) !== undefined;
  }

  private async record(name: string): Promise<FileRecord> {
    checkName(name);
    this.alive();
    const r = await this.table.find(name);
    if (!r) throw new CardError('CARD_NOT_FOUND', `no file named '${name}' in zone ${this.name}`);
    return r;
  }

  /**
   * Open a file for reading: its size and a random-access reader that decrypts only the chunks a
   * range touches. Damaged data yields a typed error and no plaintext from it.
   */
  async open(name: string): Promise<ZoneFileReader> {
    const r = await this.record(name);
    if (r.ctLength !== ciphertextLength(r.size))
      throw new CardError('CARD_CORRUPT', `file '${name}': recorded lengths disagree`);
    const { extents } = await readExtents(this.p.blocks, r);
    const source = new ExtentSource(this.p.blocks, extents, r.ctLength);
    const salt = await source.read(0, SALT_LENGTH);
    if (!equalBytes(salt, r.salt))
      throw new CardError(
        'CARD_CORRUPT',
        `file '${name}': stored ciphertext does not belong to its record`,
      );
    const reader = await RandomAccessDecryptor.open(
      await this.fileContentKey(r),
      source,
      this.contentOptions(r.fileId),
    );
    return new ZoneFileReader(infoOf(r), reader);
  }

  /** A whole file (or `[start, end)` of it) in memory. */
  async readFile(name: string, start?: number, end?: number): Promise<Uint8Array> {
    const f = await this.open(name);
    return f.read(start ?? 0, end ?? f.info.size);
  }

  /** A file (or `[start, end)` of it) as a stream, one authenticated chunk at a time. */
  async get(name: string, start?: number, end?: number): Promise<ReadableStream<Uint8Array>> {
    const f = await this.open(name);
    return f.stream(start ?? 0, end ?? f.info.size);
  }

  /** Store a whole file from memory. */
  async writeFile(
    name: string,
    data: Uint8Array,
    options: Omit<PutOptions, 'size'> = {},
  ): Promise<FileInfo> {
    const put = await this.put(name, { ...options, size: data.length });
    const w = put.writable.getWriter();
    await w.write(data.subarray(put.offset));
    await w.close();
    return this.stat(name);
  }

  /** Delete a file: its blocks are free after the commit. */
  async delete(name: string): Promise<void> {
    checkName(name);
    await this.withLock(async () => {
      const r = await this.table.remove(name);
      if (!r) throw new CardError('CARD_NOT_FOUND', `no file named '${name}' in zone ${this.name}`);
      try {
        await this.freeRecord(r);
      } catch (e) {
        this.abandonChanges();
        throw e;
      }
      await this.commit(this.sb.files - 1, this.sb.bytes - r.size);
    });
  }

  /** Forget an interrupted put and free its blocks. */
  async abandon(name: string): Promise<void> {
    checkName(name);
    await this.withLock(async () => {
      const r = await this.table.remove(name, true);
      if (!r)
        throw new CardError(
          'CARD_NOT_FOUND',
          `no interrupted put named '${name}' in zone ${this.name}`,
        );
      await this.freeRecord(r);
      await this.commit(this.sb.files, this.sb.bytes);
    });
  }

  /** Rename a file (metadata only: the file's identity, and so its ciphertext, stay valid). */
  async rename(from: string, to: string, { overwrite = false } = {}): Promise<void> {
    checkName(from);
    checkName(to);
    await this.withLock(async () => {
      if (from === to) {
        await this.record(from);
        return;
      }
      let files = this.sb.files;
      let bytes = this.sb.bytes;
      try {
        const r = await this.table.remove(from);
        if (!r)
          throw new CardError('CARD_NOT_FOUND', `no file named '${from}' in zone ${this.name}`);
        const target = await this.table.remove(to);
        if (target) {
          if (!overwrite)
            throw new CardError(
              'CARD_EXISTS',
              `a file named '${to}' already exists in zone ${this.name}`,
            );
          await this.freeRecord(target);
          files--;
          bytes -= target.size;
        }
        await this.table.upsert({ ...r, name: to, mtime: Date.now() });
      } catch (e) {
        this.abandonChanges();
        throw e;
      }
      await this.commit(files, bytes);
    });
  }

  /**
   * Start storing a file. The returned stream encrypts and writes as data arrives, in constant
   * memory; the file appears only when the stream closes (and replaces a file of the same name
   * atomically). Aborting, or a failure, leaves the zone as it was — except that a put with a
   * source tag keeps its last checkpoint, which {@link PutOptions.resume} continues.
   */
  async put(name: string, options: PutOptions = {}): Promise<ZonePut> {
    checkName(name);
    const { size, sourceTag = '', resume = false, overwrite = true } = options;
    const checkpointBytes = options.checkpointBytes ?? DEFAULT_CHECKPOINT;
    if (size !== undefined && (!Number.isSafeInteger(size) || size < 0))
      throw new CardError('CARD_SIZE_MISMATCH', `size must be a non-negative integer, got ${size}`);
    if (utf8(sourceTag).length > MAX_TAG_BYTES)
      throw new CardError('CARD_BAD_NAME', `a source tag is at most ${MAX_TAG_BYTES} bytes`);
    if (!Number.isSafeInteger(checkpointBytes) || checkpointBytes < CHUNK_SIZE)
      throw new CardError('CARD_SIZE_MISMATCH', 'checkpointBytes must be at least 16 KiB');
    this.writable();
    const release = await this.lock.acquire();
    try {
      this.alive();
      if (!overwrite && (await this.table.find(name)))
        throw new CardError(
          'CARD_EXISTS',
          `a file named '${name}' already exists in zone ${this.name}`,
        );
      const pending = await this.table.find(name, true);
      let session: PutSession;
      if (
        pending &&
        resume &&
        pending.size === (size ?? -1) &&
        pending.sourceTag === sourceTag &&
        sourceTag !== ''
      ) {
        session = await PutSession.resume(this, pending, checkpointBytes);
      } else {
        // No match (or no resume asked): start over with a fresh salt, never re-encrypting a
        // chunk position with other plaintext under the old one.
        if (pending) {
          await this.table.remove(name, true);
          await this.freeRecord(pending);
        }
        if (size !== undefined) this.ensureRoom(size);
        session = await PutSession.start(
          this,
          name,
          size,
          sourceTag,
          checkpointBytes,
          options.mtime,
        );
      }
      return session.handle(release);
    } catch (e) {
      this.abandonChanges();
      release();
      throw e;
    }
  }

  private ensureRoom(size: number): void {
    const data = blocksFor(ciphertextLength(size));
    // Metadata the commit writes: the file table path (its depth grows as log64 of the file
    // count), extent blocks if the file fragments, and each allocation page it touches with
    // its index block.
    const depth = 2 + Math.ceil(Math.log(this.sb.files + 1) / Math.log(64));
    const pages = Math.ceil(data / BLOCKS_PER_PAGE) + 1;
    const meta = depth + extentBlockCount(Math.ceil(data / 64)) + 2 * pages;
    const available = this.alloc.allocatableBlocks;
    if (data + meta > available) {
      throw new CardError(
        'CARD_NO_SPACE',
        `zone ${this.name} has ${available * BLOCK_SIZE} bytes free; storing ${size} bytes needs ${(data + meta) * BLOCK_SIZE}`,
      );
    }
  }

  /**
   * @internal Apply fsck's repairs in one commit: mark referenced blocks used, free leaked ones, and
   * correct the file counters.
   */
  async repair(fix: {
    markUsed: number[];
    free: number[];
    files: number;
    bytes: number;
  }): Promise<void> {
    await this.withLock(async () => {
      try {
        for (const b of fix.markUsed) await this.alloc.markUsed(b);
        for (const b of fix.free) await this.alloc.free(b, 1);
      } catch (e) {
        this.abandonChanges();
        throw e;
      }
      await this.commit(fix.files, fix.bytes);
    });
  }

  /** @internal Parts a put session and fsck use. */
  get internals() {
    return {
      params: this.p,
      alloc: this.alloc,
      table: this.table,
      context: (id: Uint8Array) => this.context(id),
      contentOptions: (id: Uint8Array) => this.contentOptions(id),
      fileContentKey: (r: FileRecord) => this.fileContentKey(r),
      newFileContentKey: (id: Uint8Array) => this.newFileContentKey(id),
      commit: (files: number, bytes: number) => this.commit(files, bytes),
      abandon: () => {
        this.abandonChanges();
      },
      freeRecord: (r: FileRecord, o?: { keepData?: boolean }) => this.freeRecord(r, o),
      superblock: () => this.sb,
      alive: () => {
        this.alive();
      },
    };
  }
}

/**
 * An open file of a zone.
 *
 * @example
 * ```ts
 * import type { ZoneFileReader } from 'simvault/card';
 * const head = (f: ZoneFileReader) => f.read(0, Math.min(100, f.info.size));
 * ```
 */
export class ZoneFileReader {
  /** @internal */
  constructor(
    /** The file's description. */
    readonly info: FileInfo,
    private readonly reader: RandomAccessDecryptor,
  ) {}

  /** Bytes `[start, end)`, decrypting only the chunks they lie in. */
  read(start = 0, end = this.info.size): Promise<Uint8Array> {
    return this.reader.read(start, end);
  }

  /** Bytes `[start, end)` as a stream, one chunk at a time (constant memory). */
  stream(start = 0, end = this.info.size): ReadableStream<Uint8Array> {
    if (
      !Number.isSafeInteger(start) ||
      !Number.isSafeInteger(end) ||
      start < 0 ||
      end < start ||
      end > this.info.size
    ) {
      throw new CardError(
        'CARD_SIZE_MISMATCH',
        `range [${start}, ${end}) is outside the file of ${this.info.size} bytes`,
      );
    }
    const reader = this.reader;
    const windowEnd = (pos: number) =>
      Math.min(end, (Math.floor(pos / CHUNK_SIZE) + STREAM_CHUNKS) * CHUNK_SIZE);
    // One window is read and decrypted ahead, so the device read of the next overlaps with the
    // consumer's handling of this one.
    const fetch = (from: number): { to: number; data: Promise<Uint8Array> } => {
      const to = windowEnd(from);
      const data = reader.read(from, to);
      data.catch(() => undefined);
      return { to, data };
    };
    let next = start < end ? fetch(start) : undefined;
    return new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          if (!next) {
            // Reaching the end authenticates the final chunk, so truncation cannot pass.
            if (end === reader.length) await reader.verifyLength();
            controller.close();
            return;
          }
          const current = next;
          next = current.to < end ? fetch(current.to) : undefined;
          controller.enqueue(await current.data);
        },
        cancel() {
          next = undefined;
        },
      },
      { highWaterMark: 0 },
    );
  }
}

/** Ciphertext bytes laid over a file's extents. */
class ExtentSource implements RandomAccessSource {
  private readonly starts: number[] = [];

  constructor(
    private readonly blocks: ZoneBlocks,
    private readonly extents: Extent[],
    readonly size: number,
  ) {
    let n = 0;
    for (const e of extents) {
      this.starts.push(n);
      n += e.count;
    }
    if (n < blocksFor(size))
      throw new CardError('CARD_CORRUPT', 'a file has fewer blocks than its ciphertext needs');
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (length === 0) return new Uint8Array(0);
    const first = Math.floor(offset / BLOCK_SIZE);
    const last = Math.floor((offset + length - 1) / BLOCK_SIZE);
    const skip = offset - first * BLOCK_SIZE;
    let i = this.locate(first);
    const e0 = this.extents[i]!;
    const within0 = first - this.starts[i]!;
    if (last - first < e0.count - within0) {
      // The whole range lies in one extent (the usual case): one read, no assembling copy.
      const bytes = await this.blocks.read(e0.start + within0, last - first + 1);
      return bytes.subarray(skip, skip + length);
    }
    const out = new Uint8Array((last - first + 1) * BLOCK_SIZE);
    let b = first;
    let o = 0;
    while (b <= last) {
      const e = this.extents[i]!;
      const within = b - this.starts[i]!;
      const n = Math.min(e.count - within, last - b + 1);
      out.set(await this.blocks.read(e.start + within, n), o);
      o += n * BLOCK_SIZE;
      b += n;
      i++;
    }
    return out.subarray(skip, skip + length);
  }

  private locate(block: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= block) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

/** The state of one put: encryptor, write buffer, blocks written so far. */
class PutSession {
  // A small declared file gets buffers its size, not the full write batch. Two buffers: one is
  // written to the device while the other fills with the next batch of ciphertext.
  private buf: Uint8Array;
  private spare: Uint8Array;
  private inflight: Promise<void> | undefined;
  private len = 0;
  /** Block already holding the first `len` buffered bytes (from a checkpoint), if any. */
  private tailBlock: number | undefined;
  private extents: Extent[];
  private ctWritten: number;
  private plain: number;
  private sinceCheckpoint = 0;

  private constructor(
    private readonly zone: CardZone,
    private readonly name: string,
    private readonly size: number | undefined,
    private readonly sourceTag: string,
    private readonly checkpointBytes: number,
    private readonly fileId: Uint8Array,
    private readonly salt: Uint8Array,
    private readonly enc: ChunkEncryptor,
    private readonly mtime: number | undefined,
    private readonly wrappedKey: Uint8Array | undefined,
    resumed?: {
      extents: Extent[];
      ctLength: number;
      tail: Uint8Array;
      tailBlock: number | undefined;
    },
  ) {
    const batch = WRITE_BATCH + 2 * SEALED_CHUNK + BLOCK_SIZE;
    const bufSize =
      size === undefined ? batch : Math.min(batch, ciphertextLength(size) + 2 * BLOCK_SIZE);
    this.buf = new Uint8Array(bufSize);
    this.spare = new Uint8Array(bufSize);
    this.extents = resumed?.extents ?? [];
    this.ctWritten = resumed ? resumed.ctLength - resumed.tail.length : 0;
    this.plain = resumed ? ((resumed.ctLength - HEADER_LENGTH) / SEALED_CHUNK) * CHUNK_SIZE : 0;
    if (resumed) {
      this.buf.set(resumed.tail, 0);
      this.len = resumed.tail.length;
      this.tailBlock = resumed.tailBlock;
    }
  }

  static async start(
    zone: CardZone,
    name: string,
    size: number | undefined,
    tag: string,
    cp: number,
    mtime: number | undefined,
  ): Promise<PutSession> {
    const { contentOptions, newFileContentKey } = zone.internals;
    const fileId = randomBytes(16);
    const { key, wrapped } = await newFileContentKey(fileId);
    const enc = await ChunkEncryptor.create(key, contentOptions(fileId));
    const s = new PutSession(
      zone,
      name,
      size,
      tag,
      cp,
      fileId,
      enc.header.slice(0, SALT_LENGTH),
      enc,
      mtime,
      wrapped,
    );
    s.append(enc.header);
    return s;
  }

  static async resume(zone: CardZone, r: FileRecord, cp: number): Promise<PutSession> {
    const { params, contentOptions, table, fileContentKey } = zone.internals;
    const chunks = (r.ctLength - HEADER_LENGTH) / SEALED_CHUNK;
    if (!Number.isInteger(chunks) || r.ctLength < HEADER_LENGTH)
      throw new CardError(
        'CARD_CORRUPT',
        `interrupted put '${r.name}' stopped off a chunk boundary`,
      );
    const { extents, listBlocks } = await readExtents(params.blocks, r);
    const tailLen = r.ctLength % BLOCK_SIZE;
    let tail = new Uint8Array(0);
    let tailBlock: number | undefined;
    if (tailLen > 0) {
      const last = extents[extents.length - 1]!;
      tailBlock = last.start + last.count - 1;
      tail = (await params.blocks.read(tailBlock, 1)).slice(0, tailLen);
    }
    // Check the durable prefix really is this put's: its salt opens the first bytes.
    const head = await new ExtentSource(params.blocks, extents, r.ctLength).read(0, SALT_LENGTH);
    if (!equalBytes(head, r.salt))
      throw new CardError('CARD_CORRUPT', `interrupted put '${r.name}' does not match its record`);
    const enc = await ChunkEncryptor.resume(
      await fileContentKey(r),
      r.salt,
      chunks,
      contentOptions(r.fileId),
    );
    // The pending record's extent blocks are rewritten at the next checkpoint or commit.
    await table.remove(r.name, true);
    for (const b of listBlocks) await zone.internals.alloc.free(b, 1);
    return new PutSession(
      zone,
      r.name,
      r.size < 0 ? undefined : r.size,
      r.sourceTag,
      cp,
      r.fileId,
      r.salt,
      enc,
      undefined,
      r.wrappedKey,
      {
        extents,
        ctLength: r.ctLength,
        tail,
        tailBlock,
      },
    );
  }

  private append(bytes: Uint8Array): void {
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  /** Write buffered ciphertext: whole blocks, or everything (padding the last block) when `all`. */
  /** Wait for the write in flight (its buffer is then free again). */
  async drain(): Promise<void> {
    const p = this.inflight;
    this.inflight = undefined;
    if (p) await p;
  }

  /**
   * Start writing buffered ciphertext: whole blocks, or everything (padding the last block) when
   * `all`. The writes stay in flight while the other buffer fills; {@link PutSession.drain}
   * waits for them.
   */
  private async writeOut(all: boolean): Promise<void> {
    await this.drain();
    const { alloc, params } = this.zone.internals;
    let blocks = all ? blocksFor(this.len) : Math.floor(this.len / BLOCK_SIZE);
    if (blocks === 0) return;
    const bytes = blocks * BLOCK_SIZE;
    if (bytes > this.len) this.buf.set(randomBytes(bytes - this.len), this.len);
    const writes: Promise<void>[] = [];
    let off = 0;
    if (this.tailBlock !== undefined) {
      // Same place, same leading bytes: a torn rewrite keeps the checkpointed prefix intact.
      writes.push(params.blocks.write(this.tailBlock, this.buf.subarray(0, BLOCK_SIZE)));
      this.tailBlock = undefined;
      off = BLOCK_SIZE;
      blocks--;
    }
    try {
      while (blocks > 0) {
        const run = await alloc.allocateRun(blocks);
        if (!run) throw new CardError('CARD_NO_SPACE', `zone ${this.zone.name} is full`);
        writes.push(
          params.blocks.write(run.start, this.buf.subarray(off, off + run.count * BLOCK_SIZE)),
        );
        const last = this.extents[this.extents.length - 1];
        if (last && last.start + last.count === run.start)
          this.extents[this.extents.length - 1] = {
            start: last.start,
            count: last.count + run.count,
          };
        else this.extents.push(run);
        off += run.count * BLOCK_SIZE;
        blocks -= run.count;
      }
    } catch (e) {
      await Promise.allSettled(writes);
      throw e;
    }
    // What stays buffered moves to the other buffer; this one is busy until its writes land.
    let keepFrom: number;
    if (all && this.len % BLOCK_SIZE !== 0) {
      // The partial last block stays buffered so more data can follow (a checkpoint).
      keepFrom = this.len - (this.len % BLOCK_SIZE);
      const lastExtent = this.extents[this.extents.length - 1]!;
      this.tailBlock = lastExtent.start + lastExtent.count - 1;
    } else {
      keepFrom = Math.min(off, this.len);
    }
    this.spare.set(this.buf.subarray(keepFrom, this.len), 0);
    this.ctWritten += keepFrom;
    this.len -= keepFrom;
    [this.buf, this.spare] = [this.spare, this.buf];
    const all_ = Promise.all(writes).then(() => undefined);
    // Observed now so a failure is not an unhandled rejection before drain() reports it.
    all_.catch(() => undefined);
    this.inflight = all_;
  }

  private async record(pending: boolean): Promise<FileRecord> {
    const { params, alloc } = this.zone.internals;
    const ctLength = this.ctWritten + this.len;
    const base = {
      name: this.name,
      pending,
      fileId: this.fileId,
      suiteId: params.suite.id,
      size: pending ? (this.size ?? -1) : this.plain,
      ctLength,
      salt: this.salt,
      mtime: this.mtime ?? Date.now(),
      sourceTag: this.sourceTag,
      wrappedKey: this.wrappedKey,
    };
    if (this.extents.length <= INLINE_EXTENTS)
      return { ...base, extents: this.extents.slice(), extentList: undefined };
    const ptr = await writeExtentBlocks(params.blocks, alloc, this.extents);
    return { ...base, extents: undefined, extentList: { ptr, count: this.extents.length } };
  }

  private async checkpoint(): Promise<void> {
    const { table, commit, superblock } = this.zone.internals;
    await this.writeOut(true);
    await this.drain();
    const old = await table.find(this.name, true, { working: true });
    if (old) {
      await table.remove(this.name, true);
      await this.zone.internals.freeRecord(old, { keepData: true });
    }
    await table.upsert(await this.record(true));
    const sb = superblock();
    await commit(sb.files, sb.bytes);
    this.sinceCheckpoint = 0;
  }

  async write(data: Uint8Array): Promise<void> {
    this.zone.internals.alive();
    if (this.size !== undefined && this.plain + data.length > this.size) {
      throw new CardError(
        'CARD_SIZE_MISMATCH',
        `put '${this.name}' received more than its declared ${this.size} bytes`,
      );
    }
    let off = 0;
    while (off < data.length) {
      const piece = data.subarray(off, off + WRITE_BATCH);
      off += piece.length;
      for (const c of await this.enc.update(piece)) {
        if (this.len + c.length > this.buf.length) await this.writeOut(false);
        this.append(c);
      }
      this.plain += piece.length;
      this.sinceCheckpoint += piece.length;
      if (this.len >= WRITE_BATCH) await this.writeOut(false);
      if (this.sourceTag && this.sinceCheckpoint >= this.checkpointBytes) await this.checkpoint();
    }
  }

  async close(): Promise<void> {
    const { table, commit, superblock, freeRecord } = this.zone.internals;
    if (this.size !== undefined && this.plain !== this.size) {
      throw new CardError(
        'CARD_SIZE_MISMATCH',
        `put '${this.name}' received ${this.plain} of its declared ${this.size} bytes`,
      );
    }
    const last = await this.enc.final();
    if (this.len + last.length > this.buf.length) await this.writeOut(false);
    this.append(last);
    await this.writeOut(true);
    await this.drain();
    const sb = superblock();
    let files = sb.files + 1;
    let bytes = sb.bytes + this.plain;
    const pending = await table.remove(this.name, true);
    if (pending) await freeRecord(pending, { keepData: true });
    const old = await table.remove(this.name);
    if (old) {
      await freeRecord(old);
      files--;
      bytes -= old.size;
    }
    await table.upsert(await this.record(false));
    await commit(files, bytes);
  }

  handle(release: () => void): ZonePut {
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        release();
      }
    };
    // Writes still in flight must land before the blocks they target can be given to anyone else.
    const settle = () => this.drain().catch(() => undefined);
    const fail = async (e: unknown): Promise<never> => {
      await settle();
      this.zone.internals.abandon();
      finish();
      throw e;
    };
    return {
      offset: this.plain,
      writable: new WritableStream<Uint8Array>({
        write: async (chunk) => {
          if (!(chunk instanceof Uint8Array))
            return fail(new CardError('CARD_SIZE_MISMATCH', 'put streams take Uint8Array chunks'));
          try {
            await this.write(chunk);
          } catch (e) {
            await fail(e);
          }
        },
        close: async () => {
          try {
            await this.close();
          } catch (e) {
            await fail(e);
          }
          finish();
        },
        abort: async () => {
          await settle();
          this.zone.internals.abandon();
          finish();
        },
      }),
    };
  }
}
