/**
 * The outcomes the SIM records for the handset: how the last bind and the last unbind of each
 * card ended (the server's result code, or the user declining). A new request for a flow clears
 * the card's old outcome, so what LAST OUTCOME answers always belongs to the latest attempt.
 *
 * @module
 */
import { sameCard } from './binding-list.js';
import {
  MAX_OUTCOMES,
  type FlowOutcome,
  type OutcomeFlow,
  type OutcomeResult,
  type SimState,
} from './state.js';

/**
 * Record how a flow of a card ended, replacing its previous outcome.
 *
 * @example
 * ```ts
 * recordOutcome(state, 'bind', cid, 7, 'alreadyBound');
 * ```
 */
export function recordOutcome(
  state: SimState,
  flow: OutcomeFlow,
  cid: Uint8Array,
  transactionId: number,
  result: OutcomeResult,
): void {
  clearOutcome(state, flow, cid);
  state.outcomes.push({ flow, cid: cid.slice(), transactionId, result });
  while (state.outcomes.length > MAX_OUTCOMES) state.outcomes.shift();
}

/**
 * Forget the outcome of a flow of a card (a new attempt starts).
 *
 * @example
 * ```ts
 * clearOutcome(state, 'unbind', cid);
 * ```
 */
export function clearOutcome(state: SimState, flow: OutcomeFlow, cid: Uint8Array): void {
  state.outcomes = state.outcomes.filter((o) => o.flow !== flow || !sameCard(o.cid, cid));
}

/**
 * The recorded outcome of a flow of a card, if any.
 *
 * @example
 * ```ts
 * findOutcome(state, 'bind', cid)?.result; // 'alreadyBound'
 * ```
 */
export function findOutcome(
  state: SimState,
  flow: OutcomeFlow,
  cid: Uint8Array,
): FlowOutcome | undefined {
  return state.outcomes.find((o) => o.flow === flow && sameCard(o.cid, cid));
}
