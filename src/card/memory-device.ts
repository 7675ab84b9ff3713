/**
 * A block device in memory, for tests, the browser, and as the durable "platter" under a
 * `FaultDevice`. Storage is sparse: 1 MiB pages are allocated on the first write that puts a
 * non-zero byte in them, so a 4 GiB device costs only what has been written. Unwritten bytes read
 * as zero. Portable: no `node:` imports.
 *
 * @module
 */
import type { BlockDevice } from './device.js';
import {
  assertAccess,
  assertDeviceSize,
  assertReadBuffer,
  assertSectorSize,
  assertWriteData,
  settle,
} from './device-access.js';
import { DeviceError } from './device-error.js';

const PAGE_SIZE = 1 << 20;

/**
 * Options of {@link MemoryDevice}.
 *
 * @example
 * ```ts
 * import { MemoryDevice, type MemoryDeviceOptions } from 'simvault/card';
 * const options: MemoryDeviceOptions = { sectorSize: 4096 };
 * const dev = new MemoryDevice(1 << 20, options);
 * ```
 */
export interface MemoryDeviceOptions {
  /** Bytes per sector: a power of two from 1 to 65536. Default 512. */
  readonly sectorSize?: number;
}

/**
 * A sparse in-memory {@link BlockDevice}. Writes land at once (`flush` has nothing to do); `read`
 * returns a fresh copy and `write` copies its input, so callers may reuse their buffers.
 *
 * @example
 * ```ts
 * import { MemoryDevice } from 'simvault/card';
 * const dev = new MemoryDevice(4 * 1024 ** 3); // allocates nothing yet
 * await dev.write(4096, new Uint8Array(4096).fill(7));
 * (await dev.read(4096, 512))[0]; // 7
 * (await dev.read(0, 512))[0]; // 0: never written
 * dev.allocatedBytes; // 1048576
 * ```
 */
export class MemoryDevice implements BlockDevice {
  /** Bytes per sector. */
  readonly sectorSize: number;
  /** Capacity in bytes. */
  readonly size: number;
  private readonly pages = new Map<number, Uint8Array>();
  private isClosed = false;

  /**
   * An empty (all-zero) device; nothing is allocated until the first non-zero write.
   *
   * @param size - capacity in bytes, a multiple of the sector size
   * @param options - see {@link MemoryDeviceOptions}
   */
  constructor(size: number, { sectorSize = 512 }: MemoryDeviceOptions = {}) {
    assertSectorSize(sectorSize);
    assertDeviceSize(size, sectorSize);
    this.sectorSize = sectorSize;
    this.size = size;
  }

  /**
   * A device holding a copy of `bytes` (its length is the size).
   *
   * @param bytes - the whole device content, a multiple of the sector size long
   * @param options - see {@link MemoryDeviceOptions}
   * @returns a new open device
   *
   * @example
   * ```ts
   * import { MemoryDevice } from 'simvault/card';
   * const dev = MemoryDevice.from(new Uint8Array(8192).fill(1));
   * dev.size; // 8192
   * ```
   */
  static from(bytes: Uint8Array, options: MemoryDeviceOptions = {}): MemoryDevice {
    const dev = new MemoryDevice(assertWriteData(bytes).length, options);
    dev.put(0, bytes);
    return dev;
  }

  /** Bytes of page memory allocated so far, in 1 MiB pages (the last page of the device may be shorter). */
  get allocatedBytes(): number {
    let total = 0;
    for (const page of this.pages.values()) total += page.length;
    return total;
  }

  /** Whether {@link MemoryDevice.close} has been called. */
  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Read synchronously; same checks and result as {@link MemoryDevice.read}.
   *
   * @param offset - byte offset, a multiple of the sector size
   * @param length - byte count, a multiple of the sector size
   * @returns a fresh copy of the bytes
   *
   * @example
   * ```ts
   * import { MemoryDevice } from 'simvault/card';
   * new MemoryDevice(4096).readSync(0, 512).length; // 512
   * ```
   */
  readSync(offset: number, length: number): Uint8Array {
    this.assertOpen();
    assertAccess(this, offset, length);
    return this.get(offset, length);
  }

  /**
   * Write synchronously; same checks and effect as {@link MemoryDevice.write}.
   *
   * @param offset - byte offset, a multiple of the sector size
   * @param data - bytes to store, a multiple of the sector size long (copied)
   *
   * @example
   * ```ts
   * import { MemoryDevice } from 'simvault/card';
   * new MemoryDevice(4096).writeSync(512, new Uint8Array(512).fill(1));
   * ```
   */
  writeSync(offset: number, data: Uint8Array): void {
    this.assertOpen();
    assertAccess(this, offset, assertWriteData(data).length);
    this.put(offset, data);
  }

  /**
   * Read `length` bytes at `offset`; never-written bytes are zero.
   *
   * @param offset - byte offset, a multiple of the sector size
   * @param length - byte count, a multiple of the sector size
   * @returns a fresh copy of the bytes
   *
   * @example
   * ```ts
   * import { MemoryDevice } from 'simvault/card';
   * const bytes = await new MemoryDevice(4096).read(0, 4096);
   * ```
   */
  read(offset: number, length: number): Promise<Uint8Array> {
    return settle(() => {
      return this.readSync(offset, length);
    });
  }

  /**
   * Read `out.length` bytes at `offset` into `out`; never-written bytes are zero.
   *
   * @param offset - byte offset, a multiple of the sector size
   * @param out - where the bytes go, a multiple of the sector size long
   *
   * @example
   * ```ts
   * import { MemoryDevice } from 'simvault/card';
   * const out = new Uint8Array(512);
   * await new MemoryDevice(4096).readInto(0, out);
   * ```
   */
  readInto(offset: number, out: Uint8Array): Promise<void> {
    return settle(() => {
      this.assertOpen();
      assertAccess(this, offset, assertReadBuffer(out).length);
      this.get(offset, out.length, out);
    });
  }

  /**
   * Write `data` at `offset`.
   *
   * @param offset - byte offset, a multiple of the sector size
   * @param data - bytes to store, a multiple of the sector size long (copied)
   *
   * @example
   * ```ts
   * import { MemoryDevice } from 'simvault/card';
   * await new MemoryDevice(4096).write(0, new Uint8Array(4096));
   * ```
   */
  write(offset: number, data: Uint8Array): Promise<void> {
    return settle(() => {
      this.writeSync(offset, data);
    });
  }

  /**
   * Nothing to make durable in memory; only checks the device is open.
   *
   * @example
   * ```ts
   * import { MemoryDevice } from 'simvault/card';
   * await new MemoryDevice(4096).flush();
   * ```
   */
  flush(): Promise<void> {
    return settle(() => {
      this.assertOpen();
    });
  }

  /**
   * Close the device: later reads, writes and flushes throw `DEVICE_CLOSED`. The content stays
   * available to {@link MemoryDevice.snapshot} and {@link MemoryDevice.clone}. Closing twice is
   * harmless.
   *
   * @example
   * ```ts
   * import { MemoryDevice } from 'simvault/card';
   * const dev = new MemoryDevice(4096);
   * await dev.close();
   * dev.snapshot().length; // 4096
   * ```
   */
  close(): Promise<void> {
    return settle(() => {
      this.isClosed = true;
    });
  }

  /**
   * The whole content as one new array (allocates `size` bytes, so keep it to small devices).
   * Works on a closed device too.
   *
   * @returns a copy of every byte of the device
   *
   * @example
   * ```ts
   * import { MemoryDevice } from 'simvault/card';
   * const dev = new MemoryDevice(1024);
   * dev.writeSync(512, new Uint8Array(512).fill(9));
   * dev.snapshot()[512]; // 9
   * ```
   */
  snapshot(): Uint8Array {
    return this.get(0, this.size);
  }

  /**
   * An independent, open copy of this device (same size, sector size and content). Works on a
   * closed device too.
   *
   * @returns the copy
   *
   * @example
   * ```ts
   * import { MemoryDevice } from 'simvault/card';
   * const a = new MemoryDevice(4096);
   * const b = a.clone();
   * b.writeSync(0, new Uint8Array(512).fill(1));
   * a.readSync(0, 512)[0]; // still 0
   * ```
   */
  clone(): MemoryDevice {
    const copy = new MemoryDevice(this.size, { sectorSize: this.sectorSize });
    for (const [index, page] of this.pages) copy.pages.set(index, page.slice());
    return copy;
  }

  private assertOpen(): void {
    if (this.isClosed) throw new DeviceError('DEVICE_CLOSED', 'the memory device is closed');
  }

  private get(
    offset: number,
    length: number,
    out: Uint8Array = new Uint8Array(length),
  ): Uint8Array {
    let done = 0;
    while (done < length) {
      const at = offset + done;
      const index = Math.floor(at / PAGE_SIZE);
      const within = at - index * PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - within, length - done);
      const page = this.pages.get(index);
      if (page) out.set(page.subarray(within, within + n), done);
      else out.fill(0, done, done + n);
      done += n;
    }
    return out;
  }

  private put(offset: number, data: Uint8Array): void {
    let done = 0;
    while (done < data.length) {
      const at = offset + done;
      const index = Math.floor(at / PAGE_SIZE);
      const within = at - index * PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - within, data.length - done);
      const chunk = data.subarray(done, done + n);
      let page = this.pages.get(index);
      // Zeros into a missing page change nothing a reader can see, so formatting a big device
      // with zeros stays cheap.
      if (!page && !isAllZero(chunk)) {
        page = new Uint8Array(Math.min(PAGE_SIZE, this.size - index * PAGE_SIZE));
        this.pages.set(index, page);
      }
      if (page) page.set(chunk, within);
      done += n;
    }
  }
}

function isAllZero(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}
