/**
 * The typed error of the card application server and the HTTP status each of its codes maps to.
 * Every failure a client can cause leaves the server as JSON `{ "error": { "code", "message" } }`
 * with one of these stable codes.
 *
 * @module
 */
import { SimvaultError, type ErrorCode } from '../errors.js';

/**
 * The stable codes the servers answer with.
 *
 * @example
 * ```ts
 * import type { ServerErrorCode } from './errors.js';
 * const code: ServerErrorCode = 'SERVER_UNKNOWN_CARD';
 * ```
 */
export type ServerErrorCode = Extract<ErrorCode, `SERVER_${string}`>;

/**
 * The HTTP status of each server error code.
 *
 * @example
 * ```ts
 * import { SERVER_ERROR_STATUS } from './errors.js';
 * SERVER_ERROR_STATUS.SERVER_RATE_LIMITED; // 429
 * ```
 */
export const SERVER_ERROR_STATUS: Readonly<Record<ServerErrorCode, number>> = {
  SERVER_BAD_REQUEST: 400,
  SERVER_UNAUTHENTICATED: 401,
  SERVER_BAD_SIGNATURE: 401,
  SERVER_STALE_REQUEST: 401,
  SERVER_REPLAYED: 401,
  SERVER_FORBIDDEN: 403,
  SERVER_RATE_LIMITED: 429,
  SERVER_NOT_FOUND: 404,
  SERVER_UNKNOWN_CARD: 404,
  SERVER_CARD_BLOCKED: 403,
  SERVER_ALREADY_BOUND: 409,
  SERVER_NOT_BOUND: 409,
  SERVER_UNKNOWN_APP: 404,
  SERVER_UNKNOWN_OFFER: 404,
  SERVER_INTERNAL: 500,
  SERVER_DRIVER_MISSING: 500,
  SERVER_KEK_MISSING: 500,
  SERVER_KEK_MISMATCH: 500,
  SERVER_SEALED_CORRUPT: 500,
};

/**
 * A failure the server reports to its client: a stable code, a message, and the HTTP status the
 * code maps to.
 *
 * @example
 * ```ts
 * import { ServerError } from './errors.js';
 * const e = new ServerError('SERVER_UNKNOWN_CARD', 'no card 035344...');
 * e.status; // 404
 * ```
 */
export class ServerError extends SimvaultError {
  /** The HTTP status of {@link ServerError.code}. */
  readonly status: number;
  /** Seconds the client should wait before retrying (rate limiting), when known. */
  readonly retryAfter: number | undefined;

  /**
   * Create a server error; its status follows from the code.
   *
   * @param code - stable server code
   * @param message - human-readable detail, safe to show the client
   * @param options - `retryAfter` seconds for rate limiting, and a `cause`
   */
  constructor(
    code: ServerErrorCode,
    message: string,
    options: { retryAfter?: number; cause?: unknown } = {},
  ) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = SERVER_ERROR_STATUS[code];
    this.retryAfter = options.retryAfter;
  }
}

/**
 * The JSON body of an error response.
 *
 * @example
 * ```ts
 * import type { ErrorBody } from './errors.js';
 * const body: ErrorBody = { error: { code: 'SERVER_REPLAYED', message: 'nonce already used' } };
 * ```
 */
export interface ErrorBody {
  /** The error. */
  error: {
    /** Stable code from `ERROR_CODES`. */
    code: string;
    /** Human-readable detail. */
    message: string;
  };
}
