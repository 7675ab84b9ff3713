/**
 * The SIM layer's error family: every `SIM_*` code is a {@link SimError} (the state codec's
 * `SimStateError` and the client's `SimStatusError` are kinds of it).
 *
 * @module
 */
import { SimvaultError, type ErrorCode } from '../errors.js';

/**
 * A failure of the SIM layer, with a `SIM_*` code.
 *
 * @example
 * ```ts
 * import { SimError } from 'simvault/sim';
 * const e = new SimError('SIM_CARD_NOT_BOUND', 'card 0353… is not bound to this SIM');
 * e.code; // 'SIM_CARD_NOT_BOUND'
 * ```
 */
export class SimError extends SimvaultError {
  /** The stable code: one of the `SIM_*` codes. */
  declare readonly code: Extract<ErrorCode, `SIM_${string}`>;
}
