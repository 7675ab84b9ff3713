/**
 * The zone's allocation map: one bit per block, kept in sealed bitmap pages that are themselves
 * copy-on-write, listed by sealed index blocks whose pointers live in the superblock. Each index
 * entry also records its page's free count, so mounting reads the index blocks only and the
 * capacity of a zone is known without reading any page.
 *
 * Two views per page: `committed` (the state the durable superblock describes) and `current`
 * (with this transaction's changes). A block is allocatable only when free in both, so blocks
 * freed by a transaction are reused only after its commit is durable: a power cut mid-commit
 * leaves the previous state intact.
 *
 * The map is derivable from the file table, so its damage never costs a file: every failure to
 * read it is `CARD_MAP_DAMAGED` (a zone mounts without it and reads files; fsck rebuilds it).
 *
 * @module
 */
import { CardError } from '../errors.js';
import {
  BODY_SIZE,
  getPtr,
  Kind,
  NULL_PTR,
  putPtr,
  PTR_SIZE,
  type Ptr,
  type ZoneBlocks,
} from './sealed-blocks.js';

/** Bitmap bytes per page. */
const PAGE_BYTES = 4064;
/** Blocks tracked per page. */
export const BLOCKS_PER_PAGE = PAGE_BYTES * 8;
const ENTRY = PTR_SIZE + 4;
/** Pages listed per index block. */
export const PAGES_PER_INDEX = Math.floor((BODY_SIZE - 2) / ENTRY);

interface Page {
  committed: Uint8Array;
  current: Uint8Array;
  free: number;
  dirty: boolean;
}

interface Entry {
  ptr: Ptr;
  free: number;
}

function countFree(bits: Uint8Array): number {
  let used = 0;
  for (let i = 0; i < bits.length; i++) {
    let b = bits[i]!;
    while (b) {
      b &= b - 1;
      used++;
    }
  }
  return bits.length * 8 - used;
}

function damaged(detail: string): CardError {
  return new CardError('CARD_MAP_DAMAGED', `allocation map: ${detail}`);
}

// A sealed map block, or CARD_MAP_DAMAGED.
async function readMapBlock(blocks: ZoneBlocks, ptr: Ptr, kind: Kind): Promise<Uint8Array> {
  try {
    return await blocks.readSealed(ptr.addr, kind, ptr);
  } catch (e) {
    if (e instanceof CardError && e.code === 'CARD_CORRUPT') throw damaged(e.message);
    throw e;
  }
}

/** How many pages and index blocks a zone of `blocks` blocks needs. */
export function mapGeometry(blocks: number): { pages: number; indexBlocks: number } {
  const pages = Math.ceil(blocks / BLOCKS_PER_PAGE);
  return { pages, indexBlocks: Math.ceil(pages / PAGES_PER_INDEX) };
}

/** A zone's allocation map. */
export class AllocationMap {
  private readonly pages: (Page | undefined)[];
  private entries: Entry[];
  private indexPtrs: Ptr[];
  private cursor = 0;
  /** Blocks freed in this transaction that stay unusable until it commits. */
  private pendingFreed = 0;
  private prepared: { entries: Entry[]; indexPtrs: Ptr[] } | undefined;

  private constructor(
    private readonly blocks: ZoneBlocks,
    readonly totalBlocks: number,
    entries: Entry[],
    indexPtrs: Ptr[],
  ) {
    this.entries = entries;
    this.indexPtrs = indexPtrs;
    this.pages = Array.from<Page | undefined>({ length: entries.length });
  }

  /**
   * A new map: `reserved` blocks are marked used. `retiring` blocks (the structures of the map
   * this one replaces) are free once it commits, and not reused before.
   */
  static fresh(
    blocks: ZoneBlocks,
    totalBlocks: number,
    reserved: readonly number[],
    retiring: readonly number[] = [],
  ): AllocationMap {
    const { pages, indexBlocks } = mapGeometry(totalBlocks);
    const map = new AllocationMap(
      blocks,
      totalBlocks,
      Array.from({ length: pages }, () => ({ ptr: NULL_PTR, free: 0 })),
      Array.from({ length: indexBlocks }, () => NULL_PTR),
    );
    for (let p = 0; p < pages; p++) {
      const bits = new Uint8Array(PAGE_BYTES);
      // Bits past the end of the zone are permanently used.
      for (let b = Math.max(0, totalBlocks - p * BLOCKS_PER_PAGE); b < BLOCKS_PER_PAGE; b++)
        bits[b >> 3]! |= 1 << (b & 7);
      map.pages[p] = { committed: bits.slice(), current: bits, free: countFree(bits), dirty: true };
    }
    for (const b of reserved) map.mark(b, true);
    for (const b of retiring) {
      const page = map.pages[Math.floor(b / BLOCKS_PER_PAGE)]!;
      const bit = b % BLOCKS_PER_PAGE;
      if (page.committed[bit >> 3]! & (1 << (bit & 7))) continue;
      page.committed[bit >> 3]! |= 1 << (bit & 7);
      map.pendingFreed++;
    }
    return map;
  }

  /** Load a committed map: reads the index blocks (pages load on demand). */
  static async load(
    blocks: ZoneBlocks,
    totalBlocks: number,
    indexPtrs: Ptr[],
  ): Promise<AllocationMap> {
    const { pages, indexBlocks } = mapGeometry(totalBlocks);
    if (indexPtrs.length !== indexBlocks)
      throw damaged(
        `the superblock lists ${indexPtrs.length} index blocks, the zone needs ${indexBlocks}`,
      );
    const entries: Entry[] = [];
    for (const [j, ptr] of indexPtrs.entries()) {
      const body = await readMapBlock(blocks, ptr, Kind.BitmapIndex);
      const view = new DataView(body.buffer, body.byteOffset, body.length);
      const n = view.getUint16(0);
      // Every index block but the last is full; the rest of the body is zero.
      const want = Math.min(PAGES_PER_INDEX, pages - j * PAGES_PER_INDEX);
      if (n !== want) throw damaged(`index block ${j} lists ${n} pages, not ${want}`);
      if (body.subarray(2 + n * ENTRY).some((b) => b !== 0))
        throw damaged(`index block ${j} has bytes after its entries`);
      for (let i = 0; i < n; i++) {
        const off = 2 + i * ENTRY;
        entries.push({ ptr: getPtr(view, body, off), free: view.getUint32(off + PTR_SIZE) });
      }
    }
    if (entries.some((e) => e.free > BLOCKS_PER_PAGE))
      throw damaged('an index entry counts more free blocks than a page has');
    return new AllocationMap(blocks, totalBlocks, entries, indexPtrs.slice());
  }

  /** The committed index block pointers (for the superblock). */
  get indexPointers(): Ptr[] {
    return this.indexPtrs.slice();
  }

  /** Blocks free in the current view. */
  get freeBlocks(): number {
    let free = 0;
    for (let p = 0; p < this.entries.length; p++)
      free += this.pages[p]?.free ?? this.entries[p]!.free;
    return free;
  }

  /** Blocks that can be allocated now (free blocks less those freed but not yet committed). */
  get allocatableBlocks(): number {
    return this.freeBlocks - this.pendingFreed;
  }

  private async page(p: number): Promise<Page> {
    let page = this.pages[p];
    if (!page) {
      const entry = this.entries[p]!;
      const body = await readMapBlock(this.blocks, entry.ptr, Kind.Bitmap);
      // The body's last 4 bytes are zero and the bits past the end of the zone are set.
      if (body.subarray(PAGE_BYTES).some((b) => b !== 0))
        throw damaged(`page ${p} has non-zero bytes after its bitmap`);
      const bits = body.slice(0, PAGE_BYTES);
      page = { committed: bits, current: bits.slice(), free: countFree(bits), dirty: false };
      for (let b = Math.max(0, this.totalBlocks - p * BLOCKS_PER_PAGE); b < BLOCKS_PER_PAGE; b++)
        if (!(bits[b >> 3]! & (1 << (b & 7))))
          throw damaged(`page ${p} frees a block past the zone`);
      if (page.free !== entry.free) throw damaged(`page ${p} disagrees with its index entry`);
      this.pages[p] = page;
    }
    return page;
  }

  private mark(block: number, used: boolean): void {
    const page = this.pages[Math.floor(block / BLOCKS_PER_PAGE)]!;
    const bit = block % BLOCKS_PER_PAGE;
    const mask = 1 << (bit & 7);
    const was = (page.current[bit >> 3]! & mask) !== 0;
    if (was === used) throw damaged(`block ${block} is already ${used ? 'used' : 'free'}`);
    page.current[bit >> 3]! ^= mask;
    page.free += used ? -1 : 1;
    page.dirty = true;
  }

  /** Whether a block is used in the current view. */
  async isUsed(block: number): Promise<boolean> {
    const page = await this.page(Math.floor(block / BLOCKS_PER_PAGE));
    const bit = block % BLOCKS_PER_PAGE;
    return (page.current[bit >> 3]! & (1 << (bit & 7))) !== 0;
  }

  /**
   * Allocate a run of up to `max` contiguous blocks (next-fit from a cursor); `null` when no
   * block can be allocated.
   */
  async allocateRun(max: number): Promise<{ start: number; count: number } | null> {
    const pages = this.entries.length;
    const startPage = Math.floor(this.cursor / BLOCKS_PER_PAGE);
    for (let k = 0; k <= pages; k++) {
      const p = (startPage + k) % pages;
      if ((this.pages[p]?.free ?? this.entries[p]!.free) === 0) continue;
      const page = await this.page(p);
      const from = k === 0 ? this.cursor % BLOCKS_PER_PAGE : 0;
      for (let byte = from >> 3; byte < PAGE_BYTES; byte++) {
        if ((page.current[byte]! | page.committed[byte]!) === 0xff) continue;
        for (let bit = byte === from >> 3 ? from & 7 : 0; bit < 8; bit++) {
          const mask = 1 << bit;
          if ((page.current[byte]! | page.committed[byte]!) & mask) continue;
          const start = p * BLOCKS_PER_PAGE + byte * 8 + bit;
          let count = 0;
          while (
            count < max &&
            start + count < this.totalBlocks &&
            (await this.allocatable(start + count))
          ) {
            this.mark(start + count, true);
            count++;
          }
          this.cursor = (start + count) % this.totalBlocks;
          return { start, count };
        }
      }
    }
    return null;
  }

  private async allocatable(block: number): Promise<boolean> {
    const page = await this.page(Math.floor(block / BLOCKS_PER_PAGE));
    const bit = block % BLOCKS_PER_PAGE;
    return ((page.current[bit >> 3]! | page.committed[bit >> 3]!) & (1 << (bit & 7))) === 0;
  }

  /** Allocate one block or throw `CARD_NO_SPACE`. */
  async allocateOne(): Promise<number> {
    const run = await this.allocateRun(1);
    if (!run) throw new CardError('CARD_NO_SPACE', 'the zone has no free block left');
    return run.start;
  }

  /** Free `count` blocks from `start` in the current view. */
  async free(start: number, count: number): Promise<void> {
    for (let b = start; b < start + count; b++) {
      const page = await this.page(Math.floor(b / BLOCKS_PER_PAGE));
      const bit = b % BLOCKS_PER_PAGE;
      this.mark(b, false);
      if (page.committed[bit >> 3]! & (1 << (bit & 7))) this.pendingFreed++;
    }
  }

  /** Blocks the map itself occupies (index blocks and pages), from the committed state. */
  metadataBlocks(): number[] {
    return [...this.indexPtrs.map((p) => p.addr), ...this.entries.map((e) => e.ptr.addr)].filter(
      (a) => a !== 0,
    );
  }

  /** Every block marked used in the current view (loads every page). */
  async usedBlocks(): Promise<number[]> {
    const out: number[] = [];
    for (let p = 0; p < this.entries.length; p++) {
      const page = await this.page(p);
      for (let bit = 0; bit < BLOCKS_PER_PAGE; bit++) {
        const block = p * BLOCKS_PER_PAGE + bit;
        if (block >= this.totalBlocks) break;
        if (page.current[bit >> 3]! & (1 << (bit & 7))) out.push(block);
      }
    }
    return out;
  }

  /** Mark a free block used (fsck repair of a referenced block the map lost). */
  async markUsed(block: number): Promise<void> {
    await this.page(Math.floor(block / BLOCKS_PER_PAGE));
    this.mark(block, true);
  }

  /** Whether this transaction changed anything. */
  get dirty(): boolean {
    return this.pages.some((p) => p?.dirty);
  }

  /**
   * Write the changed pages and index blocks to new places (copy-on-write), allocating those
   * places from the map itself until it is stable. Returns the index pointers for the new
   * superblock; {@link AllocationMap.afterCommit} or {@link AllocationMap.rollback} must follow.
   */
  async prepareCommit(): Promise<Ptr[]> {
    const newPageAddr = new Map<number, number>();
    const newIndexAddr = new Map<number, number>();
    for (;;) {
      let changed = false;
      for (let p = 0; p < this.pages.length; p++) {
        if (!this.pages[p]?.dirty || newPageAddr.has(p)) continue;
        newPageAddr.set(p, await this.allocateOne());
        const old = this.entries[p]!.ptr.addr;
        if (old !== 0) await this.free(old, 1);
        changed = true;
      }
      for (const p of newPageAddr.keys()) {
        const j = Math.floor(p / PAGES_PER_INDEX);
        if (newIndexAddr.has(j)) continue;
        newIndexAddr.set(j, await this.allocateOne());
        const old = this.indexPtrs[j]!.addr;
        if (old !== 0) await this.free(old, 1);
        changed = true;
      }
      if (!changed) break;
    }
    const entries = this.entries.map((e) => ({ ...e }));
    for (const [p, addr] of [...newPageAddr].sort((a, b) => a[1] - b[1])) {
      const page = this.pages[p]!;
      entries[p] = {
        ptr: await this.blocks.writeSealed(addr, Kind.Bitmap, page.current),
        free: page.free,
      };
    }
    for (let p = 0; p < this.pages.length; p++)
      if (this.pages[p]) entries[p]!.free = this.pages[p]!.free;
    const indexPtrs = this.indexPtrs.slice();
    for (const [j, addr] of newIndexAddr) {
      const body = new Uint8Array(BODY_SIZE);
      const view = new DataView(body.buffer);
      const first = j * PAGES_PER_INDEX;
      const n = Math.min(PAGES_PER_INDEX, entries.length - first);
      view.setUint16(0, n);
      for (let i = 0; i < n; i++) {
        putPtr(view, body, 2 + i * ENTRY, entries[first + i]!.ptr);
        view.setUint32(2 + i * ENTRY + PTR_SIZE, entries[first + i]!.free);
      }
      indexPtrs[j] = await this.blocks.writeSealed(addr, Kind.BitmapIndex, body);
    }
    this.prepared = { entries, indexPtrs };
    return indexPtrs.slice();
  }

  /** The superblock naming the prepared map is durable: it becomes the committed state. */
  afterCommit(): void {
    if (!this.prepared) throw new Error('afterCommit without prepareCommit');
    this.entries = this.prepared.entries;
    this.indexPtrs = this.prepared.indexPtrs;
    this.prepared = undefined;
    for (const page of this.pages) {
      if (page?.dirty) {
        page.committed = page.current.slice();
        page.dirty = false;
      }
    }
    this.pendingFreed = 0;
  }

  /** Abandon the transaction: the current view returns to the committed state. */
  rollback(): void {
    this.prepared = undefined;
    for (const page of this.pages) {
      if (page?.dirty) {
        page.current = page.committed.slice();
        page.free = countFree(page.current);
        page.dirty = false;
      }
    }
    this.pendingFreed = 0;
  }
}
