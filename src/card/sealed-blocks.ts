/**
 * Sealed metadata blocks: every structure inside a zone (superblocks, file table nodes, allocation
 * map, extent lists) is one 4 KiB block `nonce (12) || AEAD(body of 4068 bytes) || tag (16)`, with
 * associated data binding it to the card header, the zone, its block address and its kind. A
 * pointer to a block carries the nonce it was written with, so a block replaced by an older
 * version of itself (or moved from elsewhere) fails to open.
 *
 * @module
 */
import { concatBytes, equalBytes, randomPublicBytes } from '../bytes.js';
import { CardError } from '../errors.js';
import type { AeadKey } from '../crypto/backend.js';
import type { BlockDevice } from './device.js';
import { BLOCK_SIZE } from './layout.js';

/** Usable bytes in a sealed block's body. */
export const BODY_SIZE = BLOCK_SIZE - 12 - 16;

/** What a sealed block holds; part of its associated data. */
export const Kind = {
  Superblock: 1,
  TrieNode: 2,
  Bitmap: 4,
  BitmapIndex: 5,
  Extents: 6,
} as const;
/** A sealed block kind. */
export type Kind = (typeof Kind)[keyof typeof Kind];

/** A pointer: zone-relative block address and the nonce the block was sealed with. 0 is null. */
export interface Ptr {
  addr: number;
  nonce: Uint8Array;
}

/** Bytes of an encoded pointer. */
export const PTR_SIZE = 16;

/** The null pointer. */
export const NULL_PTR: Ptr = Object.freeze({ addr: 0, nonce: new Uint8Array(12) });

/** Write a pointer at `off`. */
export function putPtr(view: DataView, bytes: Uint8Array, off: number, p: Ptr): void {
  view.setUint32(off, p.addr);
  bytes.set(p.nonce, off + 4);
}

/** Read a pointer at `off`. */
export function getPtr(view: DataView, bytes: Uint8Array, off: number): Ptr {
  return { addr: view.getUint32(off), nonce: bytes.slice(off + 4, off + 16) };
}

/**
 * Block I/O of one zone: raw data blocks and sealed metadata blocks.
 *
 * Sealed writes are started but not awaited: the blocks of one commit need no order among
 * themselves, only to be on the device before its flush, so {@link ZoneBlocks.flush} waits for
 * them. Awaiting each in turn left the thread idle for a device round trip per block, about a
 * third of a small file's commit. A read or raw write of a block still being written waits for
 * that write first.
 */
export class ZoneBlocks {
  // Sealed writes started and not yet waited for, by block address.
  private readonly pending = new Map<number, Promise<void>>();
  private pendingError: Error | undefined = undefined;
  // Bumped when changes are abandoned: a failed write of an abandoned change is nobody's error.
  private epoch = 0;

  constructor(
    readonly device: BlockDevice,
    /** First device block of the zone. */
    readonly start: number,
    /** Blocks in the zone. */
    readonly count: number,
    private readonly aead: AeadKey,
    private readonly binding: Uint8Array,
    private readonly zoneIdByte: number,
  ) {}

  private offset(addr: number, blocks = 1): number {
    if (!Number.isInteger(addr) || addr < 0 || addr + blocks > this.count) {
      throw new CardError(
        'CARD_CORRUPT',
        `block ${addr}+${blocks} lies outside the zone of ${this.count} blocks`,
      );
    }
    return (this.start + addr) * BLOCK_SIZE;
  }

  private aad(addr: number, kind: Kind): Uint8Array {
    const tail = new Uint8Array(6);
    tail[0] = this.zoneIdByte;
    new DataView(tail.buffer).setUint32(1, addr);
    tail[5] = kind;
    return concatBytes(this.binding, tail);
  }

  /** Wait for the sealed writes among blocks `[addr, addr + blocks)`, if any. */
  private async landed(addr: number, blocks: number): Promise<void> {
    if (this.pending.size === 0) return;
    for (let b = addr; b < addr + blocks; b++) if (this.pending.has(b)) return this.settle();
  }

  /**
   * Wait for every sealed write started so far; throws the first one's error (once) if any
   * failed.
   */
  async settle(): Promise<void> {
    while (this.pending.size > 0) {
      const all = [...this.pending.values()];
      await Promise.all(all);
      // A write to the same block started meanwhile replaced its entry: wait for it too.
      for (const [addr, w] of this.pending) if (all.includes(w)) this.pending.delete(addr);
    }
    const e = this.pendingError;
    if (e !== undefined) {
      this.pendingError = undefined;
      throw e;
    }
  }

  /**
   * Forget the failures of the sealed writes started so far: the changes they belonged to were
   * abandoned, so no pointer will lead to those blocks. Reads and writes of the blocks still
   * wait for them.
   */
  discard(): void {
    this.epoch++;
    this.pendingError = undefined;
  }

  /** Wait for the sealed writes, then flush the device: everything written so far is durable. */
  async flush(): Promise<void> {
    await this.settle();
    await this.device.flush();
  }

  /** Read raw blocks. */
  async read(addr: number, blocks: number): Promise<Uint8Array> {
    const offset = this.offset(addr, blocks);
    await this.landed(addr, blocks);
    return this.device.read(offset, blocks * BLOCK_SIZE);
  }

  /** Whether {@link ZoneBlocks.readInto} reads straight into the caller's buffer. */
  get readsInto(): boolean {
    return this.device.readInto !== undefined;
  }

  /** Read raw blocks into `out` (a whole number of blocks long). */
  async readInto(addr: number, out: Uint8Array): Promise<void> {
    const blocks = out.length / BLOCK_SIZE;
    const device = this.device;
    const offset = this.offset(addr, blocks);
    await this.landed(addr, blocks);
    if (device.readInto) await device.readInto(offset, out);
    else out.set(await device.read(offset, out.length));
  }

  /** Write raw blocks (length a multiple of the block size). */
  async write(addr: number, data: Uint8Array): Promise<void> {
    const blocks = data.length / BLOCK_SIZE;
    const offset = this.offset(addr, blocks);
    await this.landed(addr, blocks);
    return this.device.write(offset, data);
  }

  /**
   * Seal a body (at most {@link BODY_SIZE} bytes, zero-padded) into block `addr`. The write is
   * started, not finished: it is on the device after {@link ZoneBlocks.settle} or
   * {@link ZoneBlocks.flush}.
   */
  async writeSealed(addr: number, kind: Kind, body: Uint8Array): Promise<Ptr> {
    if (body.length > BODY_SIZE)
      throw new Error(`sealed body of ${body.length} bytes exceeds ${BODY_SIZE}`);
    const plain = new Uint8Array(BODY_SIZE);
    plain.set(body);
    const nonce = randomPublicBytes(12);
    const sealed = await this.aead.seal(nonce, plain, this.aad(addr, kind));
    const block = new Uint8Array(BLOCK_SIZE);
    block.set(nonce, 0);
    block.set(sealed, 12);
    const offset = this.offset(addr);
    // A second write of the same block in one commit goes after the first, never beside it.
    const before = this.pending.get(addr);
    const epoch = this.epoch;
    const write = (before ?? Promise.resolve())
      .then(() => this.device.write(offset, block))
      .catch((e: unknown) => {
        if (epoch === this.epoch)
          this.pendingError ??= e instanceof Error ? e : new Error(String(e));
      });
    this.pending.set(addr, write);
    return { addr, nonce };
  }

  /**
   * Open a sealed block. With `expected`, the block must carry that pointer's nonce. Throws
   * `CARD_CORRUPT` for a block that does not authenticate.
   */
  async readSealed(addr: number, kind: Kind, expected?: Ptr): Promise<Uint8Array> {
    const block = await this.read(addr, 1);
    const body = await this.openSealed(block, addr, kind, expected);
    if (!body)
      throw new CardError(
        'CARD_CORRUPT',
        `sealed block ${addr} (kind ${kind}) failed authentication`,
      );
    return body;
  }

  /** Open a block already read; `null` if it does not authenticate. */
  async openSealed(
    block: Uint8Array,
    addr: number,
    kind: Kind,
    expected?: Ptr,
  ): Promise<Uint8Array | null> {
    const nonce = block.subarray(0, 12);
    if (expected && !equalBytes(nonce, expected.nonce)) return null;
    return this.aead.open(nonce, block.subarray(12), this.aad(addr, kind));
  }
}
