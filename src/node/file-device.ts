/**
 * A card image in one file, as a block device: positional reads and writes through a
 * `fs/promises` FileHandle, `flush` = `fdatasync`. Node only.
 *
 * @module
 */
import { open, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  assertAccess,
  assertDeviceSize,
  assertReadBuffer,
  assertSectorSize,
  assertWriteData,
} from '../card/device-access.js';
import { DeviceError } from '../card/device-error.js';
import type { BlockDevice } from '../card/device.js';
import { uninitializedBytes } from '../crypto/alloc.js';
import { ArgumentError } from '../errors.js';

/**
 * Options of {@link FileDevice.open}.
 *
 * @example
 * ```ts
 * import type { FileDeviceOptions } from 'simvault/node';
 * const create: FileDeviceOptions = { create: 64 * 1024 * 1024 };
 * const inspect: FileDeviceOptions = { readOnly: true };
 * ```
 */
export interface FileDeviceOptions {
  /**
   * Create a new image of this many bytes (a multiple of the sector size). The file must not
   * exist; it is sized with `truncate`, so it is sparse where the file system allows.
   */
  readonly create?: number;
  /** Open without write access; writes throw `DEVICE_READ_ONLY`. Not with `create`. */
  readonly readOnly?: boolean;
  /** Bytes per sector: a power of two from 1 to 65536. Default 512. */
  readonly sectorSize?: number;
}

/**
 * A {@link BlockDevice} on one image file. Its size is the file's size when opened, which must be a
 * multiple of the sector size. Every OS failure surfaces as a `DeviceError` with code `DEVICE_IO`
 * (the OS error as `cause`); a missing, already existing or malformed image as `DEVICE_BAD_IMAGE`.
 *
 * @example
 * ```ts
 * import { FileDevice } from 'simvault/node';
 * const dev = await FileDevice.open('card.img', { create: 16 * 1024 * 1024 });
 * await dev.write(0, new Uint8Array(4096).fill(1));
 * await dev.flush();
 * await dev.close();
 * ```
 */
export class FileDevice implements BlockDevice {
  /** Bytes per sector. */
  readonly sectorSize: number;
  /** Capacity in bytes: the file's size. */
  readonly size: number;
  /** The image file's path. */
  readonly path: string;
  /** Whether the image was opened read-only. */
  readonly readOnly: boolean;
  /** The image file's device and inode numbers: the same for every open of one file. */
  readonly identity: string;
  private readonly handle: FileHandle;
  private dirty = false;
  private closed = false;

  private constructor(
    handle: FileHandle,
    path: string,
    size: number,
    sectorSize: number,
    readOnly: boolean,
    identity: string,
  ) {
    this.identity = identity;
    this.handle = handle;
    this.path = path;
    this.size = size;
    this.sectorSize = sectorSize;
    this.readOnly = readOnly;
  }

  /**
   * Open an existing image, or create a new one with `create`.
   *
   * @param path - the image file
   * @param options - see {@link FileDeviceOptions}
   * @returns the open device
   *
   * @example
   * ```ts
   * import { FileDevice } from 'simvault/node';
   * const dev = await FileDevice.open('card.img', { readOnly: true });
   * console.log(dev.size);
   * await dev.close();
   * ```
   */
  static async open(path: string, options: FileDeviceOptions = {}): Promise<FileDevice> {
    const sectorSize = options.sectorSize ?? 512;
    assertSectorSize(sectorSize);
    const readOnly = options.readOnly ?? false;
    if (options.create !== undefined) {
      if (readOnly) throw new ArgumentError('an image cannot be created read-only');
      assertDeviceSize(options.create, sectorSize);
      return FileDevice.create(path, options.create, sectorSize);
    }
    const handle = await open(path, readOnly ? 'r' : 'r+').catch((e: unknown) => {
      throw osError(e, path, 'open');
    });
    try {
      const stat = await handle.stat();
      if (!stat.isFile())
        throw new DeviceError('DEVICE_BAD_IMAGE', `${path} is not a regular file`);
      if (stat.size % sectorSize !== 0) {
        throw new DeviceError(
          'DEVICE_BAD_IMAGE',
          `${path} has ${stat.size} bytes, not a multiple of the sector size ${sectorSize}`,
        );
      }
      return new FileDevice(
        handle,
        path,
        stat.size,
        sectorSize,
        readOnly,
        `file:${stat.dev}:${stat.ino}`,
      );
    } catch (e) {
      await handle.close().catch(() => undefined);
      throw e instanceof DeviceError ? e : osError(e, path, 'open');
    }
  }

  private static async create(path: string, size: number, sectorSize: number): Promise<FileDevice> {
    const handle = await open(path, 'wx+').catch((e: unknown) => {
      throw osError(e, path, 'create');
    });
    try {
      await handle.truncate(size);
      await handle.sync();
    } catch (e) {
      await handle.close().catch(() => undefined);
      await rm(path, { force: true }).catch(() => undefined);
      throw osError(e, path, 'size');
    }
    await syncDirectory(dirname(path));
    const stat = await handle.stat();
    return new FileDevice(handle, path, size, sectorSize, false, `file:${stat.dev}:${stat.ino}`);
  }

  /**
   * Read `length` bytes at `offset`.
   *
   * @param offset - byte offset, a multiple of the sector size
   * @param length - byte count, a multiple of the sector size
   * @returns the bytes (a plain `Uint8Array`)
   *
   * @example
   * ```ts
   * import { FileDevice } from 'simvault/node';
   * const dev = await FileDevice.open('card.img');
   * const superblock = await dev.read(0, 4096);
   * ```
   */
  async read(offset: number, length: number): Promise<Uint8Array> {
    this.assertOpen();
    assertAccess(this, offset, length);
    // Filled completely by the reads, or dropped when one fails or comes up short (no zero fill).
    const out = uninitializedBytes(length);
    await this.readInto(offset, out);
    return out;
  }

  /**
   * Read `out.length` bytes at `offset` into `out`. When it throws, `out` holds arbitrary bytes.
   *
   * @param offset - byte offset, a multiple of the sector size
   * @param out - where the bytes go, a multiple of the sector size long
   *
   * @example
   * ```ts
   * import { FileDevice } from 'simvault/node';
   * const dev = await FileDevice.open('card.img');
   * const superblock = new Uint8Array(4096);
   * await dev.readInto(0, superblock);
   * ```
   */
  async readInto(offset: number, out: Uint8Array): Promise<void> {
    this.assertOpen();
    const length = assertReadBuffer(out).length;
    assertAccess(this, offset, length);
    let done = 0;
    try {
      while (done < length) {
        const { bytesRead } = await this.handle.read(out, done, length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
    } catch (e) {
      throw osError(e, this.path, 'read');
    }
    if (done < length) {
      throw new DeviceError(
        'DEVICE_IO',
        `${this.path}: short read at ${offset + done}: the file shrank after it was opened`,
      );
    }
  }

  /**
   * Write `data` at `offset`; durable after the next {@link FileDevice.flush}.
   *
   * @param offset - byte offset, a multiple of the sector size
   * @param data - bytes to write, a multiple of the sector size long
   *
   * @example
   * ```ts
   * import { FileDevice } from 'simvault/node';
   * const dev = await FileDevice.open('card.img');
   * await dev.write(4096, new Uint8Array(4096));
   * ```
   */
  async write(offset: number, data: Uint8Array): Promise<void> {
    this.assertOpen();
    assertAccess(this, offset, assertWriteData(data).length);
    if (this.readOnly)
      throw new DeviceError('DEVICE_READ_ONLY', `${this.path} was opened read-only`);
    let done = 0;
    try {
      while (done < data.length) {
        const { bytesWritten } = await this.handle.write(
          data,
          done,
          data.length - done,
          offset + done,
        );
        done += bytesWritten;
      }
    } catch (e) {
      throw osError(e, this.path, 'write');
    } finally {
      // Even a failed write may have changed part of the file, so the next flush must sync.
      this.dirty = true;
    }
  }

  /**
   * Make every completed write durable (`fdatasync`); does nothing when nothing was written since
   * the last flush.
   *
   * @example
   * ```ts
   * import { FileDevice } from 'simvault/node';
   * const dev = await FileDevice.open('card.img');
   * await dev.write(0, new Uint8Array(512));
   * await dev.flush();
   * ```
   */
  async flush(): Promise<void> {
    this.assertOpen();
    if (!this.dirty) return;
    // Cleared before the sync: a write finishing meanwhile marks the file dirty again.
    this.dirty = false;
    try {
      await this.handle.datasync();
    } catch (e) {
      this.dirty = true;
      throw osError(e, this.path, 'flush');
    }
  }

  /**
   * Flush and close the file. Later calls throw `DEVICE_CLOSED`; closing twice is harmless.
   *
   * @example
   * ```ts
   * import { FileDevice } from 'simvault/node';
   * const dev = await FileDevice.open('card.img');
   * await dev.close();
   * ```
   */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    await this.handle.close().catch((e: unknown) => {
      throw osError(e, this.path, 'close');
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new DeviceError('DEVICE_CLOSED', `${this.path} is closed`);
  }
}

function osError(e: unknown, path: string, action: string): DeviceError {
  const code = (e as { code?: unknown } | null)?.code;
  if (action === 'open' && code === 'ENOENT')
    return new DeviceError('DEVICE_BAD_IMAGE', `no image at ${path}`, { cause: e });
  if (action === 'open' && code === 'EISDIR')
    return new DeviceError('DEVICE_BAD_IMAGE', `${path} is a directory`, { cause: e });
  if (action === 'create' && code === 'EEXIST') {
    return new DeviceError('DEVICE_BAD_IMAGE', `${path} already exists; refusing to overwrite it`, {
      cause: e,
    });
  }
  const detail = e instanceof Error ? e.message : String(e);
  return new DeviceError('DEVICE_IO', `${path}: ${action} failed: ${detail}`, { cause: e });
}

// A new file survives a crash only once its directory entry is durable. Not every platform lets
// a directory be opened and synced (Windows does not), and the image itself is already synced,
// so a failure here is not worth failing the creation for.
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Best effort; see above.
  }
}
