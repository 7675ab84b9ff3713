/**
 * A card image split into segment files, because FAT32 (the file system of most memory cards and
 * USB sticks) caps a file at 4 GiB - 1 byte. Node only.
 *
 * Naming: the image `IMAGE` holds bytes `[0, S)`, `IMAGE.001` holds `[S, 2S)`, `IMAGE.002`
 * `[2S, 3S)`, and so on, where `S` is the segment size; suffixes are the 1-based segment number in
 * decimal, zero-padded to three digits (`IMAGE.1000` follows `IMAGE.999`).
 *
 * Sizes: every segment but the last is exactly `S` bytes; the last is strictly shorter than `S`,
 * possibly empty (an image of exactly `k·S` bytes ends with an empty segment `k`). This makes every
 * missing segment detectable, the last one included: a full-size final file means one is missing.
 *
 * @module
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import {
  assertAccess,
  assertDeviceSize,
  assertReadBuffer,
  assertSectorSize,
  assertWriteData,
} from '../card/device-access.js';
import { DeviceError } from '../card/device-error.js';
import type { BlockDevice } from '../card/device.js';
import { ArgumentError } from '../errors.js';
import { FileDevice, type FileDeviceOptions } from './file-device.js';

/**
 * The default segment size: 4 GiB - 512 bytes (the largest sector-aligned FAT32 file) rounded down
 * to a whole MiB, i.e. 4095 MiB = 4 293 918 720 bytes.
 *
 * @example
 * ```ts
 * import { DEFAULT_SEGMENT_SIZE } from 'simvault/node';
 * DEFAULT_SEGMENT_SIZE === 4095 * 1024 * 1024; // true
 * ```
 */
export const DEFAULT_SEGMENT_SIZE = 4095 * 1024 * 1024;

/**
 * Options of {@link SegmentedDevice.open}.
 *
 * @example
 * ```ts
 * import type { SegmentedDeviceOptions } from 'simvault/node';
 * const options: SegmentedDeviceOptions = { create: 1 << 20, segmentSize: 64 * 1024 };
 * ```
 */
export interface SegmentedDeviceOptions extends FileDeviceOptions {
  /**
   * Bytes per segment, a positive multiple of the sector size. Default when creating:
   * {@link DEFAULT_SEGMENT_SIZE}. Default when opening an image of two or more segments: the size
   * of its first file; of a single file: {@link DEFAULT_SEGMENT_SIZE}.
   */
  readonly segmentSize?: number;
}

/**
 * The path of segment `index` of the image at `path` (0 is the image path itself).
 *
 * @param path - the image path
 * @param index - segment number, 0-based
 * @returns the segment file's path
 *
 * @example
 * ```ts
 * import { segmentPath } from 'simvault/node';
 * segmentPath('card.img', 0); // 'card.img'
 * segmentPath('card.img', 2); // 'card.img.002'
 * ```
 */
export function segmentPath(path: string, index: number): string {
  if (!Number.isSafeInteger(index) || index < 0)
    throw new ArgumentError(`segment index must be a non-negative integer, got ${index}`);
  return index === 0 ? path : `${path}.${String(index).padStart(3, '0')}`;
}

/**
 * A {@link BlockDevice} over an image split into segment files (see the module notes for naming
 * and sizes). Reads and writes that straddle a segment boundary are split; `flush` syncs every
 * segment written since the last flush. Opening checks every segment exists with the right size.
 *
 * @example
 * ```ts
 * import { DEFAULT_SEGMENT_SIZE, SegmentedDevice } from 'simvault/node';
 * const dev = await SegmentedDevice.open('card.img', { create: 8 * 1024 ** 3 }); // card.img, .001, .002
 * await dev.write(DEFAULT_SEGMENT_SIZE - 2048, new Uint8Array(4096)); // lands in two files
 * await dev.close();
 * ```
 */
export class SegmentedDevice implements BlockDevice {
  /** Bytes per sector. */
  readonly sectorSize: number;
  /** Capacity in bytes: the sum of the segment sizes. */
  readonly size: number;
  /** Bytes per segment (the last segment is shorter). */
  readonly segmentSize: number;
  /** The image path (segment 0). */
  readonly path: string;
  /** Whether the image was opened read-only. */
  readonly readOnly: boolean;
  /** The identity of segment 0's file: the same for every open of one image. */
  readonly identity: string;
  private readonly segments: readonly FileDevice[];
  private closed = false;

  private constructor(
    path: string,
    segments: readonly FileDevice[],
    segmentSize: number,
    sectorSize: number,
    readOnly: boolean,
  ) {
    this.path = path;
    this.segments = segments;
    this.segmentSize = segmentSize;
    this.sectorSize = sectorSize;
    this.readOnly = readOnly;
    this.size = segments.reduce((sum, s) => sum + s.size, 0);
    this.identity = segments[0]!.identity;
  }

  /** Number of segment files. */
  get segmentCount(): number {
    return this.segments.length;
  }

  /**
   * Open an existing segmented image, or create a new one with `create` (no file of the image may
   * exist yet).
   *
   * @param path - the image path (segment 0)
   * @param options - see {@link SegmentedDeviceOptions}
   * @returns the open device
   *
   * @example
   * ```ts
   * import { SegmentedDevice } from 'simvault/node';
   * const dev = await SegmentedDevice.open('card.img', { readOnly: true });
   * console.log(dev.size, dev.segmentCount);
   * await dev.close();
   * ```
   */
  static async open(path: string, options: SegmentedDeviceOptions = {}): Promise<SegmentedDevice> {
    const sectorSize = options.sectorSize ?? 512;
    assertSectorSize(sectorSize);
    if (options.segmentSize !== undefined) assertSegmentSize(options.segmentSize, sectorSize);
    const readOnly = options.readOnly ?? false;
    if (options.create !== undefined) {
      if (readOnly) throw new ArgumentError('an image cannot be created read-only');
      assertDeviceSize(options.create, sectorSize);
      return SegmentedDevice.create(
        path,
        options.create,
        options.segmentSize ?? DEFAULT_SEGMENT_SIZE,
        sectorSize,
      );
    }
    const count = await countSegments(path);
    let segmentSize = options.segmentSize;
    if (segmentSize === undefined) {
      if (count > 1) {
        segmentSize = (await fileSize(path)) ?? 0;
        if (segmentSize === 0 || segmentSize % sectorSize !== 0) {
          throw new DeviceError(
            'DEVICE_BAD_IMAGE',
            `${path} has ${segmentSize} bytes: not a usable segment size`,
          );
        }
      } else {
        segmentSize = DEFAULT_SEGMENT_SIZE;
      }
    }
    const segments: FileDevice[] = [];
    try {
      for (let i = 0; i < count; i++) {
        const seg = await FileDevice.open(segmentPath(path, i), { readOnly, sectorSize });
        segments.push(seg);
        const last = i === count - 1;
        if (!last && seg.size !== segmentSize) {
          throw new DeviceError(
            'DEVICE_BAD_IMAGE',
            `${seg.path} has ${seg.size} bytes; every segment but the last must have ${segmentSize}`,
          );
        }
        if (last && seg.size >= segmentSize) {
          throw new DeviceError(
            'DEVICE_BAD_IMAGE',
            `${seg.path} is full (${seg.size} bytes), so segment ${segmentPath(path, count)} is missing (or the segment size ${segmentSize} is wrong)`,
          );
        }
      }
    } catch (e) {
      await Promise.all(segments.map((s) => s.close().catch(() => undefined)));
      throw e;
    }
    return new SegmentedDevice(path, segments, segmentSize, sectorSize, readOnly);
  }

  private static async create(
    path: string,
    size: number,
    segmentSize: number,
    sectorSize: number,
  ): Promise<SegmentedDevice> {
    if ((await fileSize(path)) !== undefined || (await listSegmentIndexes(path)).length > 0) {
      throw new DeviceError(
        'DEVICE_BAD_IMAGE',
        `${path} or one of its segments already exists; refusing to overwrite`,
      );
    }
    const count = Math.floor(size / segmentSize) + 1;
    const segments: FileDevice[] = [];
    try {
      for (let i = 0; i < count; i++) {
        const bytes = i < count - 1 ? segmentSize : size - (count - 1) * segmentSize;
        segments.push(await FileDevice.open(segmentPath(path, i), { create: bytes, sectorSize }));
      }
    } catch (e) {
      // Leave nothing half-made behind: remove the segments this call created.
      await Promise.all(segments.map((s) => s.close().catch(() => undefined)));
      await Promise.all(segments.map((s) => rm(s.path, { force: true }).catch(() => undefined)));
      throw e;
    }
    return new SegmentedDevice(path, segments, segmentSize, sectorSize, false);
  }

  /**
   * Read `length` bytes at `offset`, across segments as needed.
   *
   * @param offset - byte offset, a multiple of the sector size
   * @param length - byte count, a multiple of the sector size
   * @returns the bytes
   *
   * @example
   * ```ts
   * import { SegmentedDevice } from 'simvault/node';
   * const dev = await SegmentedDevice.open('card.img');
   * const block = await dev.read(0, 4096);
   * ```
   */
  async read(offset: number, length: number): Promise<Uint8Array> {
    this.assertOpen();
    assertAccess(this, offset, length);
    const out = new Uint8Array(length);
    await this.readInto(offset, out);
    return out;
  }

  /**
   * Read `out.length` bytes at `offset` into `out`, across segments as needed. When it throws,
   * `out` holds arbitrary bytes.
   *
   * @param offset - byte offset, a multiple of the sector size
   * @param out - where the bytes go, a multiple of the sector size long
   *
   * @example
   * ```ts
   * import { SegmentedDevice } from 'simvault/node';
   * const dev = await SegmentedDevice.open('card.img');
   * const block = new Uint8Array(4096);
   * await dev.readInto(0, block);
   * ```
   */
  async readInto(offset: number, out: Uint8Array): Promise<void> {
    this.assertOpen();
    assertAccess(this, offset, assertReadBuffer(out).length);
    // Every segment's read settles before this one does: none may still be writing into `out`
    // once the caller is told it failed and takes its buffer back.
    const settled = await Promise.allSettled(
      this.pieces(offset, out.length).map((p) =>
        p.segment.readInto(p.within, out.subarray(p.at - offset, p.at - offset + p.length)),
      ),
    );
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * Write `data` at `offset`, across segments as needed; durable after the next flush.
   *
   * @param offset - byte offset, a multiple of the sector size
   * @param data - bytes to write, a multiple of the sector size long
   *
   * @example
   * ```ts
   * import { SegmentedDevice } from 'simvault/node';
   * const dev = await SegmentedDevice.open('card.img');
   * await dev.write(0, new Uint8Array(4096));
   * ```
   */
  async write(offset: number, data: Uint8Array): Promise<void> {
    this.assertOpen();
    assertAccess(this, offset, assertWriteData(data).length);
    if (this.readOnly)
      throw new DeviceError('DEVICE_READ_ONLY', `${this.path} was opened read-only`);
    await Promise.all(
      this.pieces(offset, data.length).map((p) =>
        p.segment.write(p.within, data.subarray(p.at - offset, p.at - offset + p.length)),
      ),
    );
  }

  /**
   * Sync every segment written since the last flush.
   *
   * @example
   * ```ts
   * import { SegmentedDevice } from 'simvault/node';
   * const dev = await SegmentedDevice.open('card.img');
   * await dev.write(0, new Uint8Array(512));
   * await dev.flush();
   * ```
   */
  async flush(): Promise<void> {
    this.assertOpen();
    await Promise.all(this.segments.map((s) => s.flush()));
  }

  /**
   * Flush and close every segment. Later calls throw `DEVICE_CLOSED`; closing twice is harmless.
   *
   * @example
   * ```ts
   * import { SegmentedDevice } from 'simvault/node';
   * const dev = await SegmentedDevice.open('card.img');
   * await dev.close();
   * ```
   */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    const results = await Promise.allSettled(this.segments.map((s) => s.close()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private assertOpen(): void {
    if (this.closed) throw new DeviceError('DEVICE_CLOSED', `${this.path} is closed`);
  }

  private pieces(
    offset: number,
    length: number,
  ): { segment: FileDevice; at: number; within: number; length: number }[] {
    const pieces = [];
    for (let at = offset; at < offset + length;) {
      const index = Math.floor(at / this.segmentSize);
      const within = at - index * this.segmentSize;
      const n = Math.min(this.segmentSize - within, offset + length - at);
      pieces.push({ segment: this.segments[index]!, at, within, length: n });
      at += n;
    }
    return pieces;
  }
}

function assertSegmentSize(segmentSize: number, sectorSize: number): void {
  if (!Number.isSafeInteger(segmentSize) || segmentSize <= 0 || segmentSize % sectorSize !== 0) {
    throw new ArgumentError(
      `segment size must be a positive multiple of the sector size ${sectorSize}, got ${segmentSize}`,
    );
  }
}

/** The size of the file at `path`, or undefined when there is none. */
async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ENOENT') return undefined;
    throw new DeviceError('DEVICE_IO', `${path}: stat failed: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** The 1-based indexes of the `path.NNN` files present beside `path`, ascending. */
async function listSegmentIndexes(path: string): Promise<number[]> {
  const dir = dirname(path);
  const base = basename(path);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    throw new DeviceError('DEVICE_IO', `${dir}: listing failed: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const indexes: number[] = [];
  for (const name of names) {
    if (!name.startsWith(`${base}.`)) continue;
    const suffix = name.slice(base.length + 1);
    if (!/^\d+$/.test(suffix)) continue;
    const index = Number(suffix);
    if (index >= 1 && segmentPath(base, index) === name) indexes.push(index);
  }
  return indexes.sort((a, b) => a - b);
}

/** How many segments the image at `path` has, checking that none is missing in between. */
async function countSegments(path: string): Promise<number> {
  if ((await fileSize(path)) === undefined)
    throw new DeviceError('DEVICE_BAD_IMAGE', `no image at ${path}`);
  const indexes = await listSegmentIndexes(path);
  indexes.forEach((index, i) => {
    if (index !== i + 1)
      throw new DeviceError('DEVICE_BAD_IMAGE', `segment ${segmentPath(path, i + 1)} is missing`);
  });
  return indexes.length + 1;
}
