/**
 * The errors block devices throw: {@link DeviceError} for alignment, range, I/O, closed and
 * image problems, and {@link PowerCutError} once a simulated power cut has happened.
 *
 * @module
 */
import { SimvaultError, type ErrorCode } from '../errors.js';

/**
 * The stable codes a {@link DeviceError} carries: the `DEVICE_*` keys of `ERROR_CODES`.
 *
 * @example
 * ```ts
 * import type { DeviceErrorCode } from 'simvault/card';
 * const code: DeviceErrorCode = 'DEVICE_OUT_OF_RANGE';
 * ```
 */
export type DeviceErrorCode = Extract<ErrorCode, `DEVICE_${string}`>;

/**
 * A block-device failure: a misaligned or out-of-range access, an I/O error of the storage
 * underneath (the OS error is the `cause`), a call on a closed or read-only device, or an image
 * that cannot be opened as asked.
 *
 * @example
 * ```ts
 * import { DeviceError, MemoryDevice } from 'simvault/card';
 * try {
 *   await new MemoryDevice(4096).read(100, 512);
 * } catch (e) {
 *   if (e instanceof DeviceError && e.code === 'DEVICE_BAD_ALIGNMENT') console.error(e.message);
 * }
 * ```
 */
export class DeviceError extends SimvaultError {
  /** The stable code, one of the `DEVICE_*` codes. */
  declare readonly code: DeviceErrorCode;

  /**
   * A device error with a `DEVICE_*` code.
   *
   * @param code - a `DEVICE_*` code
   * @param message - what went wrong, with the offsets or path involved
   * @param options - standard `ErrorOptions` (the OS error as `cause`)
   */
  constructor(code: DeviceErrorCode, message: string, options?: ErrorOptions) {
    // JavaScript callers are not held to the type: a device error always carries a device code.
    if (!(code as string).startsWith('DEVICE_'))
      throw new TypeError(`a DeviceError needs a DEVICE_* code, got ${code}`);
    super(code, message, options);
  }
}

/**
 * Thrown by a `FaultDevice` for the write during which simulated power fails, and for every call
 * after it. Code `DEVICE_POWER_CUT`.
 *
 * @example
 * ```ts
 * import { PowerCutError } from 'simvault/card';
 * try {
 *   // ... run a card operation on a FaultDevice
 * } catch (e) {
 *   if (!(e instanceof PowerCutError)) throw e;
 * }
 * ```
 */
export class PowerCutError extends DeviceError {
  /**
   * A power-cut error (code `DEVICE_POWER_CUT`).
   *
   * @param message - which call met the cut
   */
  constructor(message: string) {
    super('DEVICE_POWER_CUT', message);
  }
}
