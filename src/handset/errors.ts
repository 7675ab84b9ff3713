/**
 * The handset's typed error: a stable code from `ERROR_CODES` — a server's own code when it gave
 * one the handset knows (`SERVER_UNKNOWN_CARD`, `OTA_REPLAYED`, …), else one of the `HANDSET_*`
 * codes — and the HTTP status when a server answered.
 *
 * @module
 */
import { ERROR_CODES, SimvaultError, type ErrorCode } from '../errors.js';

/**
 * A flow of the handset failed.
 *
 * @example
 * ```ts
 * import { HandsetError } from 'simvault/handset';
 * const e = new HandsetError('HANDSET_TIMEOUT', 'no bind response in 20 s');
 * e.code; // 'HANDSET_TIMEOUT'
 * ```
 */
export class HandsetError extends SimvaultError {
  /** The HTTP status, when a server answered. */
  readonly status: number | undefined;

  /**
   * Create the error.
   *
   * @param code - stable code
   * @param message - what went wrong
   * @param options - the HTTP status and the cause
   */
  constructor(
    code: ErrorCode,
    message: string,
    options: { status?: number; cause?: unknown } = {},
  ) {
    super(code, message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.status = options.status;
  }
}

/**
 * The code to report for a server's error code: the code itself when it is a known stable code,
 * `HANDSET_HTTP` otherwise.
 *
 * @example
 * ```ts
 * import { knownCode } from 'simvault/handset';
 * knownCode('SERVER_UNKNOWN_CARD'); // 'SERVER_UNKNOWN_CARD'
 * knownCode('SOMETHING_ELSE'); // 'HANDSET_HTTP'
 * ```
 */
export function knownCode(code: unknown): ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code)
    ? (code as ErrorCode)
    : 'HANDSET_HTTP';
}
