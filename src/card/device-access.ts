/**
 * The guards every block device runs on its arguments, so each device rejects the same bad
 * calls with the same typed errors.
 *
 * @module
 */
import { ArgumentError } from '../errors.js';
import { DeviceError } from './device-error.js';

/**
 * Check a sector size: a power of two from 1 to 65536.
 *
 * @example
 * ```ts
 * import { assertSectorSize } from 'simvault/card';
 * assertSectorSize(512); // ok
 * ```
 */
export function assertSectorSize(sectorSize: number): void {
  if (
    !Number.isInteger(sectorSize) ||
    sectorSize < 1 ||
    sectorSize > 65536 ||
    (sectorSize & (sectorSize - 1)) !== 0
  ) {
    throw new ArgumentError(
      `sector size must be a power of two from 1 to 65536, got ${String(sectorSize)}`,
    );
  }
}

/**
 * Check a device size: a non-negative safe integer and a multiple of the sector size.
 *
 * @example
 * ```ts
 * import { assertDeviceSize } from 'simvault/card';
 * assertDeviceSize(1 << 20, 512); // ok
 * ```
 */
export function assertDeviceSize(size: number, sectorSize: number): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new ArgumentError(`device size must be a non-negative safe integer, got ${String(size)}`);
  }
  if (size % sectorSize !== 0) {
    throw new DeviceError(
      'DEVICE_BAD_ALIGNMENT',
      `device size ${size} is not a multiple of the sector size ${sectorSize}`,
    );
  }
}

/**
 * Check one read or write: `offset` and `length` are non-negative integers, multiples of the
 * sector size, and the range lies inside the device. Throws `INVALID_ARGUMENT` for a value that is
 * not a safe integer, `DEVICE_BAD_ALIGNMENT`, or `DEVICE_OUT_OF_RANGE`.
 *
 * @example
 * ```ts
 * import { assertAccess } from 'simvault/card';
 * assertAccess({ sectorSize: 512, size: 4096 }, 512, 1024); // ok
 * ```
 */
export function assertAccess(
  device: { readonly sectorSize: number; readonly size: number },
  offset: number,
  length: number,
): void {
  if (!Number.isSafeInteger(offset))
    throw new ArgumentError(`offset must be a safe integer, got ${String(offset)}`);
  if (!Number.isSafeInteger(length))
    throw new ArgumentError(`length must be a safe integer, got ${String(length)}`);
  if (offset < 0 || length < 0) {
    throw new DeviceError(
      'DEVICE_OUT_OF_RANGE',
      `offset ${offset} and length ${length} must not be negative`,
    );
  }
  const s = device.sectorSize;
  if (offset % s !== 0 || length % s !== 0) {
    throw new DeviceError(
      'DEVICE_BAD_ALIGNMENT',
      `offset ${offset} and length ${length} must be multiples of the sector size ${s}`,
    );
  }
  if (offset + length > device.size) {
    throw new DeviceError(
      'DEVICE_OUT_OF_RANGE',
      `bytes ${offset}..${offset + length} reach past the end of the ${device.size}-byte device`,
    );
  }
}

/**
 * Check the data of a write is a `Uint8Array`; returns it for chaining.
 *
 * @example
 * ```ts
 * import { assertWriteData } from 'simvault/card';
 * const data = assertWriteData(new Uint8Array(512));
 * ```
 */
export function assertWriteData(data: unknown): Uint8Array {
  if (!(data instanceof Uint8Array)) throw new ArgumentError('write data must be a Uint8Array');
  return data;
}

/** Check the buffer of a `readInto` is a `Uint8Array`; returns it for chaining. */
export function assertReadBuffer(out: unknown): Uint8Array {
  if (!(out instanceof Uint8Array)) throw new ArgumentError('read buffer must be a Uint8Array');
  return out;
}

/**
 * Run a synchronous device step as a promise: its result resolves it and its throw rejects it,
 * as an `async` function would, so callers see every failure the same way.
 *
 * @example
 * ```ts
 * import { settle } from 'simvault/card';
 * await settle(() => 42); // 42
 * ```
 */
export function settle<T>(step: () => T): Promise<T> {
  try {
    return Promise.resolve(step());
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}
