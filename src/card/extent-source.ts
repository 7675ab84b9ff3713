/**
 * A file's ciphertext as one byte range laid over its extents, for random-access decryption: a
 * range within one extent is one device read.
 *
 * @module
 */
import { CardError } from '../errors.js';
import type { RandomAccessSource } from '../crypto/random-access.js';
import type { Extent } from './file-table.js';
import { BLOCK_SIZE } from './layout.js';
import type { ZoneBlocks } from './sealed-blocks.js';

/** Ciphertext bytes laid over a file's extents. */
export class ExtentSource implements RandomAccessSource {
  private readonly starts: number[] = [];

  /** Lay `size` bytes over `extents`; `CARD_CORRUPT` if they hold fewer blocks than that. */
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
    if (n < Math.ceil(size / BLOCK_SIZE))
      throw new CardError('CARD_CORRUPT', 'a file has fewer blocks than its ciphertext needs');
  }

  /**
   * `length` bytes at `offset`: in `scratch` when it is long enough for the blocks they lie in
   * and the device reads into a caller's buffer, else in a fresh buffer.
   */
  async read(offset: number, length: number, scratch?: Uint8Array): Promise<Uint8Array> {
    if (length === 0) return new Uint8Array(0);
    const first = Math.floor(offset / BLOCK_SIZE);
    const last = Math.floor((offset + length - 1) / BLOCK_SIZE);
    const skip = offset - first * BLOCK_SIZE;
    const bytes = (last - first + 1) * BLOCK_SIZE;
    const into =
      scratch && scratch.length >= bytes && this.blocks.readsInto
        ? scratch.subarray(0, bytes)
        : undefined;
    let i = this.locate(first);
    const e0 = this.extents[i]!;
    const within0 = first - this.starts[i]!;
    if (last - first < e0.count - within0) {
      // The whole range lies in one extent (the usual case): one read, no assembling copy.
      if (!into) {
        const fresh = await this.blocks.read(e0.start + within0, last - first + 1);
        return fresh.subarray(skip, skip + length);
      }
      await this.blocks.readInto(e0.start + within0, into);
      return into.subarray(skip, skip + length);
    }
    const out = into ?? new Uint8Array(bytes);
    let b = first;
    let o = 0;
    while (b <= last) {
      const e = this.extents[i]!;
      const within = b - this.starts[i]!;
      const n = Math.min(e.count - within, last - b + 1);
      await this.blocks.readInto(e.start + within, out.subarray(o, o + n * BLOCK_SIZE));
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
