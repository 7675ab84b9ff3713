/**
 * The handset's typed error. Its code is a stable code from `ERROR_CODES`: a server's own code
 * when the server gave one the handset knows (`SERVER_UNKNOWN_CARD`, `OTA_REPLAYED`, …) — the
 * handset relays it as it is — else one of the `HANDSET_*` codes. A bind or unbind the SIM
 * reports refused carries the SIM's outcome in {@link HandsetError.result}.
 *
 * @module
 */
import { ERROR_CODES, SimvaultError, type ErrorCode } from '../errors.js';
import type { OutcomeFlow, OutcomeResult } from '../sim/applet/state.js';

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
   * How the SIM reports a refused bind or unbind ended (LAST OUTCOME): the card application
   * server's result code (`alreadyBound`, `unknownCard`, …), `thresholdReached` when the SIM could
   * not keep the card, or `declined` when the user said no.
   */
  readonly result: OutcomeResult | undefined;

  /**
   * Create the error.
   *
   * @param code - stable code
   * @param message - what went wrong
   * @param options - the HTTP status, the SIM's outcome and the cause
   */
  constructor(
    code: ErrorCode,
    message: string,
    options: { status?: number; result?: OutcomeResult; cause?: unknown } = {},
  ) {
    super(code, message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.status = options.status;
    this.result = options.result;
  }
}

/**
 * The code to report for a server's error code: the code itself when it is a known stable code,
 * `HANDSET_HTTP` otherwise.
 *
 * @example
 * ```ts
 * knownCode('SERVER_UNKNOWN_CARD'); // 'SERVER_UNKNOWN_CARD'
 * knownCode('SOMETHING_ELSE'); // 'HANDSET_HTTP'
 * ```
 */
export function knownCode(code: unknown): ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code)
    ? (code as ErrorCode)
    : 'HANDSET_HTTP';
}

// The server's stable code for each result a refusal can carry; the others are the handset's.
const RESULT_ERRORS: Partial<Record<OutcomeResult, ErrorCode>> = {
  unknownCard: 'SERVER_UNKNOWN_CARD',
  cardBlocked: 'SERVER_CARD_BLOCKED',
  alreadyBound: 'SERVER_ALREADY_BOUND',
  notBound: 'SERVER_NOT_BOUND',
  unknownApplication: 'SERVER_UNKNOWN_APP',
  notAuthorized: 'SERVER_FORBIDDEN',
  serverError: 'SERVER_INTERNAL',
};

const WHY: Partial<Record<OutcomeResult, string>> = {
  declined: 'the user declined',
  thresholdReached: "the SIM's binding list is full (its card or capacity threshold)",
};

/**
 * The error for a bind or unbind the SIM reports refused: the server's code for the result when
 * it has one (`alreadyBound` → `SERVER_ALREADY_BOUND`), else `HANDSET_REFUSED`; `result` set.
 *
 * @example
 * ```ts
 * refusal('bind', 'alreadyBound').code; // 'SERVER_ALREADY_BOUND'
 * refusal('bind', 'declined').code; // 'HANDSET_REFUSED'
 * ```
 */
export function refusal(flow: OutcomeFlow, result: OutcomeResult): HandsetError {
  const why = WHY[result] ?? `the card application server answered ${result}`;
  return new HandsetError(
    RESULT_ERRORS[result] ?? 'HANDSET_REFUSED',
    `the SIM reports the ${flow} refused: ${why}`,
    { result },
  );
}
