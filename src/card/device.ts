/**
 * The block device a card lives on: sector-aligned positional reads and writes, a durability
 * barrier, and a size. Implementations: {@link MemoryDevice} here; a card-image file and a
 * segmented image in `simvault/node`; a fault-injecting wrapper for crash tests.
 *
 * @module
 */

/**
 * A block device. Offsets and lengths of `read` and `write` are multiples of
 * {@link BlockDevice.sectorSize}. A write is durable only once a later `flush` has resolved;
 * until then a power cut may lose it, tear it at a sector boundary, or keep it while losing an
 * earlier unflushed one.
 *
 * @example
 * ```ts
 * import { MemoryDevice } from 'simvault/card';
 * const dev = new MemoryDevice(1 << 20);
 * await dev.write(0, new Uint8Array(512).fill(1));
 * await dev.flush();
 * ```
 */
export interface BlockDevice {
  /** Bytes per sector (512 for every built-in device). */
  readonly sectorSize: number;
  /** Capacity in bytes, a multiple of the sector size. */
  readonly size: number;
  /**
   * What names the storage behind this object, when two objects can reach the same storage (two
   * opens of one image file): a card refuses a second writable mount of the same identity in one
   * process. Without it, the object itself is the identity.
   */
  readonly identity?: string;
  /** Read `length` bytes at `offset`. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Read `out.length` bytes at `offset` into `out`. Optional: a file streamed off the card reads
   * its ciphertext into two buffers it re-uses when the device has this, and into a fresh buffer
   * per window through {@link BlockDevice.read} when it has not.
   */
  readInto?(offset: number, out: Uint8Array): Promise<void>;
  /** Write `data` at `offset`. */
  write(offset: number, data: Uint8Array): Promise<void>;
  /** Make every completed write durable. */
  flush(): Promise<void>;
  /** Release the device (flushes first). */
  close(): Promise<void>;
}
