/**
 * The binding list (= the STK application list) and its rules: lookup by card identity (CID
 * bytes 0-14, since many hosts strip the CRC byte), the threshold check before storing a binding
 * with its eviction policy (step 311), delete-or-mask on unbind (step 405), and replacement by
 * an RFM list update (claim 3). Functions mutate the state they are given; the applet hands them
 * a working copy and commits it only when the whole command succeeded.
 *
 * @module
 */
import { equalBytes } from '../../bytes.js';
import type { StkCard } from '../../protocol/messages.js';
import type { BindingEntry, BoundApplication, SimState } from './state.js';

/**
 * The list never holds more entries than this, bound or masked; the oldest masked entries go first.
 *
 * @example
 * ```ts
 * import { MAX_LIST_ENTRIES } from 'simvault/sim';
 * MAX_LIST_ENTRIES; // 64
 * ```
 */
export const MAX_LIST_ENTRIES = 64;

/**
 * Whether two CIDs name the same card: bytes 0-14 equal (the CRC byte may be stripped).
 *
 * @example
 * ```ts
 * import { sameCard } from 'simvault/sim';
 * sameCard(new Uint8Array(16), new Uint8Array(16).fill(0, 0, 15)); // true
 * ```
 */
export function sameCard(a: Uint8Array, b: Uint8Array): boolean {
  return a.length >= 15 && b.length >= 15 && equalBytes(a.subarray(0, 15), b.subarray(0, 15));
}

/**
 * The list entry of a card, bound or masked.
 *
 * @example
 * ```ts
 * import { findCard, personalizeSim } from 'simvault/sim';
 * findCard(personalizeSim({ iccid: '89860012345678901234' }).state, new Uint8Array(16)); // undefined
 * ```
 */
export function findCard(state: SimState, cid: Uint8Array): BindingEntry | undefined {
  return state.cards.find((c) => sameCard(c.cid, cid));
}

/**
 * The entry of a card only if it is bound.
 *
 * @example
 * ```ts
 * import { findBoundCard, personalizeSim } from 'simvault/sim';
 * findBoundCard(personalizeSim({ iccid: '89860012345678901234' }).state, new Uint8Array(16)); // undefined
 * ```
 */
export function findBoundCard(state: SimState, cid: Uint8Array): BindingEntry | undefined {
  const c = findCard(state, cid);
  return c?.bound ? c : undefined;
}

/**
 * Bound capacity: the sum of the application sizes of every bound card (but `except`).
 *
 * @example
 * ```ts
 * import { boundCapacity, personalizeSim } from 'simvault/sim';
 * boundCapacity(personalizeSim({ iccid: '89860012345678901234' }).state); // 0
 * ```
 */
export function boundCapacity(state: SimState, except?: Uint8Array): number {
  let total = 0;
  for (const c of state.cards) {
    if (!c.bound || (except && sameCard(c.cid, except))) continue;
    for (const a of c.applications) total += a.size;
  }
  return total;
}

function boundCount(state: SimState, except?: Uint8Array): number {
  return state.cards.filter((c) => c.bound && !(except && sameCard(c.cid, except))).length;
}

/**
 * Whether the list is at its threshold: as many bound cards as allowed, or the capacity used up.
 *
 * @example
 * ```ts
 * import { atThreshold, personalizeSim } from 'simvault/sim';
 * atThreshold(personalizeSim({ iccid: '89860012345678901234', maxCards: 1 }).state); // false
 * ```
 */
export function atThreshold(state: SimState): boolean {
  const t = state.threshold;
  if (t.maxCards !== undefined && boundCount(state) >= t.maxCards) return true;
  if (t.maxBytes !== undefined && boundCapacity(state) >= t.maxBytes) return true;
  return false;
}

/**
 * What storing a binding needs (step 311): it fits; or these cards must go first (`lru` /
 * `oldest`, already chosen); or the user must choose (`ask`); or it can never fit (the card
 * alone exceeds the capacity).
 *
 * @example
 * ```ts
 * import type { BindingPlan } from 'simvault/sim';
 * const p: BindingPlan = { kind: 'fits' };
 * ```
 */
export type BindingPlan =
  | {
      /** Under the threshold: store the binding as it is. */
      kind: 'fits';
    }
  | {
      /** At the threshold under the `lru` or `oldest` policy: evict `cards`, then store. */
      kind: 'evict';
      /** The bound cards to evict first, in eviction order. */
      cards: BindingEntry[];
    }
  | {
      /** At the threshold under the `ask` policy: the user must release a card first. */
      kind: 'ask';
    }
  | {
      /** The card can never fit: its applications alone exceed `maxBytes`, or evicting every other card is not enough. */
      kind: 'impossible';
    };

function fitsWithout(
  state: SimState,
  cid: Uint8Array,
  size: number,
  gone: readonly BindingEntry[],
): boolean {
  const t = state.threshold;
  const remaining = state.cards.filter(
    (c) => c.bound && !sameCard(c.cid, cid) && !gone.includes(c),
  );
  if (t.maxCards !== undefined && remaining.length + 1 > t.maxCards) return false;
  if (t.maxBytes !== undefined) {
    let used = 0;
    for (const c of remaining) for (const a of c.applications) used += a.size;
    if (used + size > t.maxBytes) return false;
  }
  return true;
}

/**
 * Check the threshold before storing a binding of `cid` with `applications`, and choose the cards
 * to evict under the state's policy.
 *
 * @example
 * ```ts
 * import { planBinding, personalizeSim } from 'simvault/sim';
 * const { state } = personalizeSim({ iccid: '89860012345678901234', maxCards: 1 });
 * planBinding(state, new Uint8Array(16), []).kind; // 'fits'
 * ```
 */
export function planBinding(
  state: SimState,
  cid: Uint8Array,
  applications: readonly BoundApplication[],
): BindingPlan {
  const size = applications.reduce((n, a) => n + a.size, 0);
  const t = state.threshold;
  if (t.maxBytes !== undefined && size > t.maxBytes) return { kind: 'impossible' };
  if (fitsWithout(state, cid, size, [])) return { kind: 'fits' };
  if (t.policy === 'ask') return { kind: 'ask' };
  const candidates = state.cards.filter((c) => c.bound && !sameCard(c.cid, cid));
  candidates.sort((a, b) => (t.policy === 'lru' ? a.usedAt - b.usedAt : a.boundAt - b.boundAt));
  const gone: BindingEntry[] = [];
  for (const c of candidates) {
    gone.push(c);
    if (fitsWithout(state, cid, size, gone)) return { kind: 'evict', cards: gone };
  }
  return { kind: 'impossible' };
}

/**
 * Advance the logical clock and return the new time.
 *
 * @example
 * ```ts
 * import { tick, personalizeSim } from 'simvault/sim';
 * tick(personalizeSim({ iccid: '89860012345678901234' }).state); // 1
 * ```
 */
export function tick(state: SimState): number {
  state.clock += 1;
  return state.clock;
}

/**
 * Mark a bound card as just used (for the `lru` policy).
 *
 * @example
 * ```ts
 * import { touchCard, personalizeSim } from 'simvault/sim';
 * touchCard(personalizeSim({ iccid: '89860012345678901234' }).state, new Uint8Array(16)); // false: not bound
 * ```
 */
export function touchCard(state: SimState, cid: Uint8Array): boolean {
  const c = findBoundCard(state, cid);
  if (!c) return false;
  c.usedAt = tick(state);
  return true;
}

/**
 * Store a binding (after {@link planBinding} said it fits and any evictions were done). A masked
 * entry of the same card is reused: with an empty application list from the server its masked
 * applications come back; otherwise the server's list wins and `installed` carries over by AID.
 * The rollback anchors of the card are kept.
 *
 * @example
 * ```ts
 * import { storeBinding, personalizeSim } from 'simvault/sim';
 * const { state } = personalizeSim({ iccid: '89860012345678901234' });
 * storeBinding(state, new Uint8Array(16), []).bound; // true
 * ```
 */
export function storeBinding(
  state: SimState,
  cid: Uint8Array,
  applications: readonly BoundApplication[],
): BindingEntry {
  const now = tick(state);
  const existing = findCard(state, cid);
  if (existing) {
    const old = existing.applications;
    existing.applications =
      applications.length === 0
        ? old.map((a) => ({ ...a, state: 'active' as const }))
        : applications.map((a) => ({
            ...a,
            installed: a.installed || old.some((o) => o.installed && equalBytes(o.aid, a.aid)),
          }));
    if (!existing.bound) existing.boundAt = now;
    existing.bound = true;
    existing.usedAt = now;
    existing.cid = cid.slice();
    return existing;
  }
  const entry: BindingEntry = {
    cid: cid.slice(),
    bound: true,
    boundAt: now,
    usedAt: now,
    applications: applications.map((a) => ({ ...a })),
    anchors: {},
  };
  state.cards.push(entry);
  trimMasked(state);
  return entry;
}

/** Drop the oldest masked entries while the list is over its size limit. */
function trimMasked(state: SimState): void {
  while (state.cards.length > MAX_LIST_ENTRIES) {
    const masked = state.cards.filter((c) => !c.bound).sort((a, b) => a.usedAt - b.usedAt)[0];
    if (!masked) return;
    state.cards.splice(state.cards.indexOf(masked), 1);
  }
}

/**
 * Remove a card from the list entirely (eviction, or delete on unbind).
 *
 * @example
 * ```ts
 * import { removeCard, personalizeSim } from 'simvault/sim';
 * removeCard(personalizeSim({ iccid: '89860012345678901234' }).state, new Uint8Array(16)); // false
 * ```
 */
export function removeCard(state: SimState, cid: Uint8Array): boolean {
  const i = state.cards.findIndex((c) => sameCard(c.cid, cid));
  if (i < 0) return false;
  state.cards.splice(i, 1);
  return true;
}

/**
 * Release a binding after the server confirmed the unbind (step 405): at the threshold the card
 * and its applications are deleted; below it the state's unbind rule decides between delete and
 * mask. Returns what was done, or `undefined` when the card was not in the list.
 *
 * @example
 * ```ts
 * import { releaseBinding, personalizeSim } from 'simvault/sim';
 * releaseBinding(personalizeSim({ iccid: '89860012345678901234' }).state, new Uint8Array(16)); // undefined
 * ```
 */
export function releaseBinding(state: SimState, cid: Uint8Array): 'deleted' | 'masked' | undefined {
  const entry = findCard(state, cid);
  if (!entry) return undefined;
  const mode = atThreshold(state) ? 'delete' : state.threshold.unbindRule;
  if (mode === 'delete' || !entry.bound) {
    removeCard(state, cid);
    return 'deleted';
  }
  entry.bound = false;
  entry.applications = entry.applications.map((a) => ({ ...a, state: 'masked' as const }));
  entry.usedAt = tick(state);
  return 'masked';
}

/**
 * Replace the list by an RFM update (claim 3): every card listed is bound with the applications
 * and states given; cards not listed leave the list. Sizes, versions, `installed` flags and
 * anchors carry over for cards and applications already known.
 *
 * @example
 * ```ts
 * import { applyStkList, personalizeSim } from 'simvault/sim';
 * const { state } = personalizeSim({ iccid: '89860012345678901234' });
 * applyStkList(state, [], 3);
 * state.listVersion; // 3
 * ```
 */
export function applyStkList(
  state: SimState,
  cards: readonly StkCard[],
  listVersion: number,
): void {
  const now = tick(state);
  const next: BindingEntry[] = [];
  for (const card of cards) {
    if (next.some((c) => sameCard(c.cid, card.cid))) continue;
    const old = findCard(state, card.cid);
    next.push({
      cid: card.cid.slice(),
      bound: true,
      boundAt: old?.bound ? old.boundAt : now,
      usedAt: old?.usedAt ?? now,
      anchors: old ? { ...old.anchors } : {},
      applications: card.applications.map((a) => {
        const known = old?.applications.find((o) => equalBytes(o.aid, a.aid));
        return {
          aid: a.aid.slice(),
          name: a.name,
          zone: a.zone,
          state: a.state,
          size: known?.size ?? 0,
          version: known?.version ?? '',
          installed: known?.installed ?? false,
        };
      }),
    });
  }
  state.cards = next.slice(0, MAX_LIST_ENTRIES);
  state.listVersion = listVersion;
}
