/**
 * One put in progress: the encryptor, a double write buffer (one batch goes to the device while
 * the next fills), the extents written so far, checkpoints, and the final commit. A put talks to
 * its zone only through {@link PutHost}.
 *
 * Resuming never continues a salt. The durable prefix of the interrupted put is read back,
 * opened under its old message key and sealed again under a fresh salt into new blocks, then the
 * source continues from where the prefix ends. So no chunk position is ever sealed twice under one
 * key and nonce — whatever the source delivers the second time — and the old prefix stays intact
 * until the resumed put's first commit (a power cut during the resume keeps the checkpoint).
 *
 * @module
 */
import { randomBytes, randomPublicBytes } from '../bytes.js';
import { ArgumentError, CardError } from '../errors.js';
import {
  ChunkEncryptor,
  ciphertextLength,
  CHUNK_SIZE,
  HEADER_LENGTH,
  openMessageCipher,
  SALT_LENGTH,
  type ChunkedOptions,
} from '../crypto/chunked.js';
import type { Zone as ZoneName } from '../crypto/keys.js';
import type { Suite } from '../crypto/suites.js';
import type { AllocationMap } from './allocation-map.js';
import { ExtentSource } from './extent-source.js';
import {
  INLINE_EXTENTS,
  readExtents,
  writeExtentBlocks,
  type Extent,
  type FileRecord,
  type FileTable,
} from './file-table.js';
import { BLOCK_SIZE } from './layout.js';
import type { ZoneBlocks } from './sealed-blocks.js';

/** Bytes of one sealed chunk of file contents. */
export const SEALED_CHUNK = CHUNK_SIZE + 16;
// Ciphertext is written in batches of this many bytes (whole blocks).
const WRITE_BATCH = 1024 * 1024;
// Written ciphertext is flushed behind the put every this many bytes, while the next batches are
// sealed: the commit's flush then finds little left to write back instead of the whole file
// (a 256 MiB put on an image file, node backend: 520–590 MB/s before, 650–880 after).
const FLUSH_BEHIND = 8 * 1024 * 1024;
// Chunks of a resumed prefix read and sealed again per step (1 MiB).
const RESEAL_CHUNKS = 64;

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

/** What a put needs of its zone (the zone holds its lock for the put's whole life). */
export interface PutHost {
  /** The zone's name, for messages. */
  readonly name: ZoneName;
  /** The zone's blocks. */
  readonly blocks: ZoneBlocks;
  /** The zone's allocation map (working view). */
  readonly alloc: AllocationMap;
  /** The zone's file table (working view). */
  readonly table: FileTable;
  /** The zone's content suite. */
  readonly suite: Suite;
  /** Chunked-encryption options of a file: suite, backend, the file's context. */
  contentOptions(fileId: Uint8Array): ChunkedOptions;
  /** A new file's content key, and its chip-wrapped form in a secure-chip zone. */
  newFileContentKey(fileId: Uint8Array): Promise<{ key: Uint8Array; wrapped?: Uint8Array }>;
  /** The content key of an existing record. */
  fileContentKey(r: FileRecord): Promise<Uint8Array>;
  /** Free a record's extent-list blocks, and its data unless `keepData`. */
  freeRecord(r: FileRecord, options?: { keepData?: boolean }): Promise<void>;
  /** Commit the working state with these visible-file counters. */
  commit(files: number, bytes: number): Promise<void>;
  /** The committed visible-file counters. */
  counters(): { files: number; bytes: number };
  /** Throw if the zone can no longer be used. */
  alive(): void;
  /** Drop the working changes. */
  abandon(): void;
}

/** The state of one put: encryptor, write buffer, blocks written so far. */
export class PutSession {
  // A small declared file gets buffers its size, not the full write batch. Two buffers: one is
  // written to the device while the other fills with the next batch of ciphertext.
  private buf: Uint8Array;
  private spare: Uint8Array;
  private inflight: Promise<void> | undefined;
  private behind: Promise<void> | undefined;
  // Kept until the commit path reports it: after a failed fdatasync the kernel may have dropped
  // the pages, and a later flush could succeed without them.
  private behindError: Error | undefined;
  private sinceFlush = 0;
  private len = 0;
  /** Block already holding the first `len` buffered bytes (after a checkpoint), if any. */
  private tailBlock: number | undefined;
  private readonly extents: Extent[] = [];
  private ctWritten = 0;
  private plain = 0;
  private sinceCheckpoint = 0;

  private constructor(
    private readonly host: PutHost,
    private readonly name: string,
    private readonly size: number | undefined,
    private readonly sourceTag: string,
    private readonly checkpointBytes: number,
    private readonly fileId: Uint8Array,
    private readonly enc: ChunkEncryptor,
    private readonly mtime: number | undefined,
    private readonly wrappedKey: Uint8Array | undefined,
  ) {
    const batch = WRITE_BATCH + 2 * SEALED_CHUNK + BLOCK_SIZE;
    const bufSize =
      size === undefined ? batch : Math.min(batch, ciphertextLength(size) + 2 * BLOCK_SIZE);
    this.buf = new Uint8Array(bufSize);
    this.spare = new Uint8Array(bufSize);
    this.append(enc.header);
  }

  /** Start a new put with a fresh file id and salt. */
  static async start(
    host: PutHost,
    name: string,
    size: number | undefined,
    tag: string,
    cp: number,
    mtime: number | undefined,
  ): Promise<PutSession> {
    const fileId = randomPublicBytes(16);
    const { key, wrapped } = await host.newFileContentKey(fileId);
    const enc = await ChunkEncryptor.create(key, host.contentOptions(fileId));
    return new PutSession(host, name, size, tag, cp, fileId, enc, mtime, wrapped);
  }

  /**
   * Resume an interrupted put: seal its durable prefix again under a fresh salt (see the module
   * comment), then take the source from {@link PutSession.offset}.
   */
  static async resume(host: PutHost, r: FileRecord, cp: number): Promise<PutSession> {
    const chunks = (r.ctLength - HEADER_LENGTH) / SEALED_CHUNK;
    if (!Number.isInteger(chunks) || r.ctLength < HEADER_LENGTH)
      throw new CardError(
        'CARD_CORRUPT',
        `interrupted put '${r.name}' stopped off a chunk boundary`,
      );
    const { extents } = await readExtents(host.blocks, r);
    const source = new ExtentSource(host.blocks, extents, r.ctLength);
    const head = await source.read(0, HEADER_LENGTH);
    if (!head.subarray(0, SALT_LENGTH).every((b, i) => b === r.salt[i]))
      throw new CardError('CARD_CORRUPT', `interrupted put '${r.name}' does not match its record`);
    const key = await host.fileContentKey(r);
    const options = host.contentOptions(r.fileId);
    const { cipher: old } = await openMessageCipher(
      key,
      r.salt,
      options,
      head.subarray(SALT_LENGTH),
    );
    // The same file (id, chip-wrapped key), a new message: a fresh random salt.
    const enc = await ChunkEncryptor.create(key, options);
    const s = new PutSession(
      host,
      r.name,
      r.size < 0 ? undefined : r.size,
      r.sourceTag,
      cp,
      r.fileId,
      enc,
      undefined,
      r.wrappedKey,
    );
    // The old record and its blocks go at the next commit; until then the checkpoint holds.
    await host.table.remove(r.name, true);
    await host.freeRecord(r);
    try {
      for (let i = 0; i < chunks; i += RESEAL_CHUNKS) {
        const n = Math.min(RESEAL_CHUNKS, chunks - i);
        const sealed = await source.read(HEADER_LENGTH + i * SEALED_CHUNK, n * SEALED_CHUNK);
        for (let k = 0; k < n; k++) {
          const chunk = sealed.subarray(k * SEALED_CHUNK, (k + 1) * SEALED_CHUNK);
          await s.write(await old.open(i + k, chunk));
        }
      }
    } catch (e) {
      // The caller drops the changes and unlocks the zone: nothing may still be landing then.
      await s.settle();
      throw e;
    }
    return s;
  }

  /** Plaintext bytes taken so far: where the source continues. */
  get offset(): number {
    return this.plain;
  }

  private append(bytes: Uint8Array): void {
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  /** Wait for the write in flight (its buffer is then free again). */
  async drain(): Promise<void> {
    const p = this.inflight;
    this.inflight = undefined;
    if (p) await p;
  }

  /**
   * Wait for every write and flush in flight, whatever their outcome: a failed put's blocks may
   * go to another put only once nothing more lands on them.
   */
  async settle(): Promise<void> {
    await this.drain().catch(() => undefined);
    await this.flushed().catch(() => undefined);
  }

  /** Wait for the flush behind the put, if one runs; throws the error of any that failed. */
  private async flushed(): Promise<void> {
    if (this.behind) await this.behind;
    if (this.behindError !== undefined) throw this.behindError;
  }

  /** Start a flush of what has landed, unless one runs; {@link PutSession.flushed} reports it. */
  private flushBehind(landed: Promise<void>): void {
    if (this.behind || this.sinceFlush < FLUSH_BEHIND) return;
    this.sinceFlush = 0;
    const device = this.host.blocks.device;
    this.behind = landed
      .then(() => device.flush())
      .catch((e: unknown) => {
        // Devices throw Errors; the wrap only satisfies the type.
        this.behindError ??= e instanceof Error ? e : new Error(String(e));
      })
      .finally(() => {
        this.behind = undefined;
      });
  }

  /**
   * Start writing buffered ciphertext: whole blocks, or everything (padding the last block) when
   * `all`. The writes stay in flight while the other buffer fills; {@link PutSession.drain}
   * waits for them.
   */
  private async writeOut(all: boolean): Promise<void> {
    await this.drain();
    const { alloc, blocks: zone } = this.host;
    let blocks = all ? Math.ceil(this.len / BLOCK_SIZE) : Math.floor(this.len / BLOCK_SIZE);
    if (blocks === 0) return;
    const bytes = blocks * BLOCK_SIZE;
    if (bytes > this.len) this.buf.set(randomBytes(bytes - this.len), this.len);
    const writes: Promise<void>[] = [];
    let off = 0;
    if (this.tailBlock !== undefined) {
      // Same place, same leading bytes: a torn rewrite keeps the checkpointed prefix intact.
      writes.push(zone.write(this.tailBlock, this.buf.subarray(0, BLOCK_SIZE)));
      this.tailBlock = undefined;
      off = BLOCK_SIZE;
      blocks--;
    }
    try {
      while (blocks > 0) {
        const run = await alloc.allocateRun(blocks);
        if (!run) throw new CardError('CARD_NO_SPACE', `zone ${this.host.name} is full`);
        writes.push(zone.write(run.start, this.buf.subarray(off, off + run.count * BLOCK_SIZE)));
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
    // Settled only when every write of the batch has: a failed one must not let the put report
    // (and its blocks be handed out again) while another still lands.
    const landed = Promise.allSettled(writes).then((results) => {
      for (const r of results) if (r.status === 'rejected') throw r.reason;
    });
    // Observed now so a failure is not an unhandled rejection before drain() reports it.
    landed.catch(() => undefined);
    this.inflight = landed;
    this.sinceFlush += keepFrom;
    this.flushBehind(landed);
  }

  private async record(pending: boolean): Promise<FileRecord> {
    const { blocks, alloc, suite } = this.host;
    const base = {
      name: this.name,
      pending,
      fileId: this.fileId,
      suiteId: suite.id,
      size: pending ? (this.size ?? -1) : this.plain,
      ctLength: this.ctWritten + this.len,
      salt: this.enc.header.slice(0, SALT_LENGTH),
      mtime: this.mtime ?? Date.now(),
      sourceTag: this.sourceTag,
      wrappedKey: this.wrappedKey,
    };
    if (this.extents.length <= INLINE_EXTENTS)
      return { ...base, extents: this.extents.slice(), extentList: undefined };
    const ptr = await writeExtentBlocks(blocks, alloc, this.extents);
    return { ...base, extents: undefined, extentList: { ptr, count: this.extents.length } };
  }

  private async checkpoint(): Promise<void> {
    const { table } = this.host;
    await this.writeOut(true);
    await this.drain();
    await this.flushed();
    const old = await table.find(this.name, true, { working: true });
    if (old) {
      await table.remove(this.name, true);
      await this.host.freeRecord(old, { keepData: true });
    }
    await table.upsert(await this.record(true));
    const { files, bytes } = this.host.counters();
    await this.host.commit(files, bytes);
    this.sinceCheckpoint = 0;
  }

  /** Encrypt and write more plaintext. */
  async write(data: Uint8Array): Promise<void> {
    this.host.alive();
    if (this.size !== undefined && this.plain + data.length > this.size) {
      throw new CardError(
        'CARD_SIZE_MISMATCH',
        `put '${this.name}' received more than its declared ${this.size} bytes`,
      );
    }
    let off = 0;
    while (off < data.length) {
      // Checkpoints fall every checkpointBytes whatever pieces the caller writes in.
      const room = this.sourceTag ? this.checkpointBytes - this.sinceCheckpoint : WRITE_BATCH;
      const piece = data.subarray(off, off + Math.min(WRITE_BATCH, room));
      off += piece.length;
      // Sealed straight into the write buffer: no per-piece allocation, no copy. The buffer holds
      // a whole batch plus what a piece can complete, so one write-out always makes room.
      const sealed = this.enc.sealedLength(piece.length);
      if (this.len + sealed > this.buf.length) await this.writeOut(false);
      this.len += await this.enc.updateInto(piece, this.buf, this.len);
      this.plain += piece.length;
      this.sinceCheckpoint += piece.length;
      if (this.len >= WRITE_BATCH) await this.writeOut(false);
      if (this.sourceTag && this.sinceCheckpoint >= this.checkpointBytes) await this.checkpoint();
    }
  }

  /** Seal the last chunk, write everything and commit the file. */
  async close(): Promise<void> {
    const { table } = this.host;
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
    await this.flushed();
    const counters = this.host.counters();
    let files = counters.files + 1;
    let bytes = counters.bytes + this.plain;
    const pending = await table.remove(this.name, true);
    if (pending) await this.host.freeRecord(pending, { keepData: true });
    const old = await table.remove(this.name);
    if (old) {
      await this.host.freeRecord(old);
      files--;
      bytes -= old.size;
    }
    await table.upsert(await this.record(false));
    await this.host.commit(files, bytes);
  }

  /** The caller's view: offset and stream; `release` runs once the put is over either way. */
  handle(release: () => void): ZonePut {
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        release();
      }
    };
    // Writes still in flight must land before the blocks they target can be given to anyone else.
    // So must a flush behind the put, before the zone is unlocked.
    const settle = () => this.settle();
    const fail = async (e: unknown): Promise<never> => {
      await settle();
      this.host.abandon();
      finish();
      throw e;
    };
    return {
      offset: this.plain,
      writable: new WritableStream<Uint8Array>({
        write: async (chunk) => {
          if (!(chunk instanceof Uint8Array))
            return fail(new ArgumentError('put streams take Uint8Array chunks'));
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
          this.host.abandon();
          finish();
        },
      }),
    };
  }
}
