/**
 * The typed error of the OTA server and the HTTP status of each of its codes. A failure leaves the
 * server as the same JSON the card application server answers, `{ "error": { "code", "message" } }`,
 * plus `porStatus` when a secured packet was refused, so a handset can tell the SIM why.
 *
 * @module
 */
import { SimvaultError, type ErrorCode } from '../../errors.js';
import type { PorStatus } from '../../protocol/secured-packet.js';

/**
 * The stable codes only the OTA server answers with.
 *
 * @example
 * ```ts
 * import type { OtaErrorCode } from './errors.js';
 * const code: OtaErrorCode = 'OTA_REPLAYED';
 * ```
 */
export type OtaErrorCode = Extract<ErrorCode, `OTA_${string}`>;

/**
 * The HTTP status of each OTA error code.
 *
 * @example
 * ```ts
 * import { OTA_ERROR_STATUS } from './errors.js';
 * OTA_ERROR_STATUS.OTA_RANGE_NOT_SATISFIABLE; // 416
 * ```
 */
export const OTA_ERROR_STATUS: Readonly<Record<OtaErrorCode, number>> = {
  OTA_UNKNOWN_SIM: 404,
  OTA_BAD_SMS: 400,
  OTA_BAD_PACKET: 400,
  OTA_BAD_CHECKSUM: 401,
  OTA_REPLAYED: 409,
  OTA_INSUFFICIENT_SECURITY: 403,
  OTA_UNKNOWN_TAR: 404,
  OTA_BAD_MESSAGE: 400,
  OTA_UNKNOWN_POR: 409,
  OTA_UPSTREAM: 502,
  OTA_UNKNOWN_FILE: 404,
  OTA_RANGE_NOT_SATISFIABLE: 416,
  OTA_DIGEST_MISMATCH: 422,
  OTA_TOO_LARGE: 413,
};

/**
 * A failure the OTA server reports to its client: a stable code, the HTTP status it maps to and,
 * for a refused secured packet, the PoR status a receiving SIM would have answered.
 *
 * @example
 * ```ts
 * import { OtaError } from './errors.js';
 * const e = new OtaError('OTA_REPLAYED', 'counter 5 is not above 7', { porStatus: 'counter-low' });
 * e.status; // 409
 * ```
 */
export class OtaError extends SimvaultError {
  /** The HTTP status of {@link OtaError.code}. */
  readonly status: number;
  /** The PoR status of a refused secured packet, when there is one. */
  readonly porStatus: PorStatus | undefined;
  /** Extra headers the response carries (e.g. `Content-Range` of a 416). */
  readonly headers: Readonly<Record<string, string>>;

  /**
   * Create an OTA error; its status follows from the code.
   *
   * @param code - stable OTA code
   * @param message - human-readable detail, safe to show the client
   * @param options - the PoR status, response headers and a `cause`
   */
  constructor(
    code: OtaErrorCode,
    message: string,
    options: { porStatus?: PorStatus; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = OTA_ERROR_STATUS[code];
    this.porStatus = options.porStatus;
    this.headers = options.headers ?? {};
  }
}
