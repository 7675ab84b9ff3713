/**
 * One mounted zone: its files, put as a stream and read back whole, as a stream or by range;
 * delete, rename, list, stat; capacity; the generation the SIM anchors. Every change is one
 * copy-on-write transaction ending in a superblock write between two flushes, so a power cut
 * at any moment leaves the old state or the new one.
 *
 * @module
 */
import { concatBytes, equalBytes, toHex, utf8 } from '../bytes.js';
import { ArgumentError, CardError, SimvaultError } from '../errors.js';
import {
  ciphertextLength,
  CHUNK_SIZE,
  HEADER_LENGTH,
  SALT_LENGTH,
  type ChunkedOptions,
} from '../crypto/chunked.js';
import { uninitializedBytes } from '../crypto/alloc.js';
import { RandomAccessDecryptor } from '../crypto/random-access.js';
import type { Zone as ZoneName } from '../crypto/keys.js';
import type { Suite } from '../crypto/suites.js';
import type { BackendChoice } from '../crypto/backend.js';
import { AllocationMap, BLOCKS_PER_PAGE } from './allocation-map.js';
import { ExtentSource } from './extent-source.js';
import {
  checkName,
  extentBlockCount,
  FileTable,
  MAX_TAG_BYTES,
  readExtents,
  type Extent,
  type FileRecord,
} from './file-table.js';
import { BLOCK_SIZE, MAX_GENERATION } from './layout.js';
import { Mutex } from './mutex.js';
import { PutSession, SEALED_CHUNK, type PutHost, type ZonePut } from './put-session.js';

export type { ZonePut };
import type { ZoneBlocks } from './sealed-blocks.js';
import { readSuperblocks, writeSuperblock, type Superblock } from './superblock.js';
import type { ZoneInstanceKeys } from './zone-keys.js';
import { chipContentKey, type FileKeyProvider } from './file-keys.js';

const DEFAULT_CHECKPOINT = 32 * 1024 * 1024;
// Chunks a stream reads and decrypts per pull (1 MiB, a window).
const STREAM_CHUNKS = 64;
// The sealed bytes of a window (one more chunk: the empty final one when a window ends the
// file), plus the partial blocks at either end.
const WINDOW_SCRATCH = (STREAM_CHUNKS + 1) * SEALED_CHUNK + 2 * BLOCK_SIZE;

/**
 * @internal Bytes of each read buffer a stream of bytes `[start, end)` of a file of `size` bytes
 * needs: its widest window's sealed chunks (one more for the final chunk, one more where the range
 * starts inside a chunk) and the partial blocks at either end. A short range of a large file
 * needs a block or two, not a whole window.
 */
export function streamScratchBytes(size: number, start: number, end: number): number {
  return Math.min(
    WINDOW_SCRATCH,
    ciphertextLength(size) + 2 * BLOCK_SIZE,
    (Math.ceil((end - start) / CHUNK_SIZE) + 2) * SEALED_CHUNK + 2 * BLOCK_SIZE,
  );
}

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

/** @internal Mount parameters of a zone, from the card. */
export interface ZoneMountParams {
  /** The card's format version (1 is read-only). */
  version: number;
  /** Refuse every change (`CARD_READ_ONLY`) with this reason; undefined: writable. */
  readOnly: string | undefined;
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
  // Undefined when the map failed to load: files still read; changes wait for a rebuild.
  private alloc: AllocationMap | undefined;
  private mapDamage: CardError | undefined;

  private constructor(
    private readonly p: ZoneMountParams,
    sb: Superblock,
    alloc: AllocationMap | CardError,
    private readonly table: FileTable,
  ) {
    this.name = p.zone;
    this.sb = sb;
    if (alloc instanceof CardError) this.mapDamage = alloc;
    else this.alloc = alloc;
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
    if (generation > MAX_GENERATION)
      throw new CardError('CARD_NO_SPACE', `zone ${p.zone} has used up its generations`);
    const alloc = AllocationMap.fresh(p.blocks, p.blocks.count, [0, 1]);
    const index = await alloc.prepareCommit();
    await p.blocks.flush();
    await writeSuperblock(p.blocks, { generation, root: null, files: 0, bytes: 0, index });
    await p.blocks.flush();
  }

  /**
   * @internal Mount a zone: read its superblocks and allocation index (nothing proportional to
   * its files). A damaged allocation map does not stop the mount: files read, changes are
   * `CARD_MAP_DAMAGED` until fsck rebuilds the map.
   */
  static async mount(p: ZoneMountParams, anchor?: number): Promise<CardZone> {
    const { best } = await readSuperblocks(p.blocks);
    if (!best) throw new CardError('CARD_CORRUPT', `zone ${p.zone}: no superblock authenticates`);
    if (anchor !== undefined && best.generation < anchor) {
      throw new CardError(
        'CARD_ROLLED_BACK',
        `zone ${p.zone} is at generation ${best.generation}, older than the anchored ${anchor}`,
      );
    }
    let alloc: AllocationMap | CardError;
    try {
      alloc = await AllocationMap.load(p.blocks, p.blocks.count, best.index);
    } catch (e) {
      if (!(e instanceof CardError && e.code === 'CARD_MAP_DAMAGED')) throw e;
      alloc = e;
    }
    const table = new FileTable(p.blocks, p.keys.nameKey, best.root, p.suite.id);
    return new CardZone(p, best, alloc, table);
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
    // With a damaged map nothing can be allocated until fsck rebuilds it.
    const free = (this.alloc?.freeBlocks ?? 0) * BLOCK_SIZE;
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

  /** The allocation map, or the reason it is unusable. */
  private map(): AllocationMap {
    if (!this.alloc) throw this.mapDamage!;
    return this.alloc;
  }

  private context(fileId: Uint8Array): Uint8Array {
    return concatBytes(
      utf8(`simvault/v${this.p.version} card-file`),
      new Uint8Array([0]),
      this.p.cardIdentity,
      new Uint8Array([this.p.zoneIdByte]),
      fileId,
    );
  }

  /** Chunked-encryption options of a file: the card's suite and backend, the file's context. */
  private contentOptions(fileId: Uint8Array): ChunkedOptions {
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
      this.p.version,
      await this.chip().unwrapFileKey(r.wrappedKey, this.context(r.fileId)),
      this.p.zoneSalt,
      this.p.suite,
    );
  }

  /** A new file's content key and the wrapped form to record (secure-chip mode), or the zone's. */
  private async newFileContentKey(
    fileId: Uint8Array,
  ): Promise<{ key: Uint8Array; wrapped?: Uint8Array }> {
    if (!this.p.secureChip) return { key: this.p.keys.contentKey };
    const { key, wrapped } = await this.chip().newFileKey(this.context(fileId));
    if (wrapped.length > 255)
      throw new CardError(
        'CARD_CHIP_UNAVAILABLE',
        'the chip returned a wrapped key longer than 255 bytes',
      );
    return {
      key: chipContentKey(this.p.version, key, this.p.zoneSalt, this.p.suite),
      wrapped: wrapped.slice(),
    };
  }

  private async commit(files: number, bytes: number): Promise<void> {
    const alloc = this.map();
    if (this.sb.generation >= MAX_GENERATION)
      throw new CardError('CARD_NO_SPACE', `zone ${this.name} has used up its generations`);
    const next: Superblock = {
      generation: this.sb.generation + 1,
      root: null,
      files,
      bytes,
      index: [],
    };
    try {
      next.root = await this.table.prepareCommit(alloc);
      next.index = await alloc.prepareCommit();
      await this.p.blocks.flush();
      await writeSuperblock(this.p.blocks, next);
      await this.p.blocks.flush();
    } catch (e) {
      // Leave nothing of this commit in flight once it has failed (its error is the one thrown).
      await this.p.blocks.settle().catch(() => undefined);
      this.table.rollback();
      alloc.rollback();
      // Whether the superblock reached the card is unknown: only a remount can tell.
      this.broken = new CardError(
        'CARD_NOT_MOUNTED',
        `zone ${this.name}: a commit failed (${(e as Error).message}); remount the card`,
      );
      throw e;
    }
    alloc.afterCommit();
    this.table.afterCommit(next.root);
    this.sb = next;
  }

  private abandonChanges(): void {
    this.p.blocks.discard();
    this.table.rollback();
    this.alloc?.rollback();
  }

  private async freeRecord(r: FileRecord, { keepData = false } = {}): Promise<void> {
    const alloc = this.map();
    const { extents, listBlocks } = await readExtents(this.p.blocks, r);
    for (const b of listBlocks) await alloc.free(b, 1);
    if (!keepData) for (const e of extents) await alloc.free(e.start, e.count);
  }

  private writable(): void {
    this.alive();
    if (this.p.readOnly !== undefined)
      throw new CardError('CARD_READ_ONLY', `zone ${this.name}: ${this.p.readOnly}`);
    this.map();
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
    // Streams re-use two read buffers when the device reads into a caller's buffer.
    return new ZoneFileReader(infoOf(r), reader, this.p.blocks.readsInto);
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
      throw new ArgumentError(`size must be a non-negative integer, got ${size}`);
    if (utf8(sourceTag).length > MAX_TAG_BYTES)
      throw new CardError('CARD_BAD_NAME', `a source tag is at most ${MAX_TAG_BYTES} bytes`);
    if (!Number.isSafeInteger(checkpointBytes) || checkpointBytes < CHUNK_SIZE)
      throw new ArgumentError('checkpointBytes must be at least 16 KiB');
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
        session = await PutSession.resume(this.putHost(), pending, checkpointBytes);
      } else {
        // No match (or no resume asked): start over with a fresh salt, never re-encrypting a
        // chunk position with other plaintext under the old one.
        if (pending) {
          await this.table.remove(name, true);
          await this.freeRecord(pending);
        }
        if (size !== undefined) this.ensureRoom(size);
        session = await PutSession.start(
          this.putHost(),
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
    const available = this.map().allocatableBlocks;
    if (data + meta > available) {
      throw new CardError(
        'CARD_NO_SPACE',
        `zone ${this.name} has ${available * BLOCK_SIZE} bytes free; storing ${size} bytes needs ${(data + meta) * BLOCK_SIZE}`,
      );
    }
  }

  /** What a put needs of this zone, and nothing more. */
  private putHost(): PutHost {
    return {
      name: this.name,
      blocks: this.p.blocks,
      alloc: this.map(),
      table: this.table,
      suite: this.p.suite,
      contentOptions: (id) => this.contentOptions(id),
      newFileContentKey: (id) => this.newFileContentKey(id),
      fileContentKey: (r) => this.fileContentKey(r),
      freeRecord: (r, o) => this.freeRecord(r, o),
      commit: (files, bytes) => this.commit(files, bytes),
      counters: () => ({ files: this.sb.files, bytes: this.sb.bytes }),
      alive: () => {
        this.alive();
      },
      abandon: () => {
        this.abandonChanges();
      },
    };
  }

  /** @internal What fsck reads of this zone: the committed state only. */
  checkView(): ZoneCheckView {
    this.alive();
    return {
      blockCount: this.p.blocks.count,
      committed: { ...this.sb },
      superblockSlots: async () => (await readSuperblocks(this.p.blocks)).slots,
      map: () => this.map(),
      tableBlocks: () => this.table.blocksInUse(),
      records: () => this.table.records(),
      extentsOf: (r) => readExtents(this.p.blocks, r),
    };
  }

  /**
   * @internal fsck's repair, in one commit: a new allocation map marking exactly `used` (every
   * block the committed state references besides the map), and the visible-file counters.
   */
  async rebuildMap(fix: { used: readonly number[]; files: number; bytes: number }): Promise<void> {
    this.alive();
    if (this.p.readOnly !== undefined)
      throw new CardError('CARD_READ_ONLY', `zone ${this.name}: ${this.p.readOnly}`);
    const release = await this.lock.acquire();
    try {
      this.alive();
      const used = new Set([0, 1, ...fix.used]);
      // The old map's blocks stay untouched until the new map is committed.
      const retiring = [
        ...this.sb.index.map((p) => p.addr),
        ...(this.alloc?.metadataBlocks() ?? []),
      ].filter((b) => b > 1 && b < this.p.blocks.count && !used.has(b));
      const before = { alloc: this.alloc, damage: this.mapDamage };
      this.alloc = AllocationMap.fresh(
        this.p.blocks,
        this.p.blocks.count,
        [...used],
        [...new Set(retiring)],
      );
      this.mapDamage = undefined;
      try {
        await this.commit(fix.files, fix.bytes);
      } catch (e) {
        this.alloc = before.alloc;
        this.mapDamage = before.damage;
        throw e;
      }
    } finally {
      release();
    }
  }
}

/**
 * @internal What fsck reads of a zone ({@link CardZone.checkView}).
 */
export interface ZoneCheckView {
  /** Blocks in the zone. */
  readonly blockCount: number;
  /** The committed superblock. */
  readonly committed: Superblock;
  /** What each superblock slot holds (null: nothing valid). */
  superblockSlots(): Promise<Array<Superblock | null>>;
  /** The allocation map, or `CARD_MAP_DAMAGED`. */
  map(): AllocationMap;
  /** Blocks of the committed file table. */
  tableBlocks(): Promise<number[]>;
  /** Records of the committed file table. */
  records(): Promise<FileRecord[]>;
  /** A record's extents and extent-list blocks. */
  extentsOf(r: FileRecord): Promise<{ extents: Extent[]; listBlocks: number[] }>;
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
    private readonly readsInto = false,
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
      throw new ArgumentError(
        `range [${start}, ${end}) is outside the file of ${this.info.size} bytes`,
      );
    }
    const reader = this.reader;
    const windowEnd = (pos: number) =>
      Math.min(end, (Math.floor(pos / CHUNK_SIZE) + STREAM_CHUNKS) * CHUNK_SIZE);
    // One window is read and decrypted ahead, so the device read of the next overlaps with the
    // consumer's handling of this one. Each window's ciphertext is read into one of two buffers,
    // in turn: a fresh megabyte per window cost the collector more than the decryption gained
    // from overlapping. A window's buffer is free again once the window is decrypted, which is
    // before the window after next is fetched. The plaintext goes out in the backend's own
    // buffers, one per chunk, so nothing handed to the consumer is ever written over.
    // Each allocated when first used: a range within one window never needs the second.
    const scratchBytes = streamScratchBytes(this.info.size, start, end);
    const scratch: (Uint8Array | undefined)[] = [undefined, undefined];
    let turn = 0;
    const fetch = (from: number): { to: number; data: Promise<Uint8Array[]> } => {
      const to = windowEnd(from);
      const t = turn++ & 1;
      if (this.readsInto) scratch[t] ??= uninitializedBytes(scratchBytes);
      const data = reader.readChunks(from, to, scratch[t]);
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
          for (const chunk of await current.data) controller.enqueue(chunk);
        },
        cancel() {
          next = undefined;
        },
      },
      { highWaterMark: 0 },
    );
  }
}
