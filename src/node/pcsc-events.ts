/**
 * Readers attached and detached, cards inserted and removed, as a stream of typed events
 * (SCardGetStatusChange, with pcsc-lite's `\\?PnP?\Notification` pseudo-reader for readers that
 * come and go).
 *
 * @module
 */
import { toHex } from '../bytes.js';
import { loadPcscBinding, pcscErrorOf, type PcscBinding } from './pcsc-binding.js';
import type { PcscOptions } from './pcsc-transport.js';

/**
 * Something that happened at a reader. At the start of a watch every reader already attached
 * is reported as `reader-attached`, and every card already in one as `card-inserted`.
 *
 * @example
 * ```ts
 * import type { PcscEvent } from 'simvault/node';
 * const line = (e: PcscEvent) => `${e.type} ${e.reader}`;
 * ```
 */
export type PcscEvent =
  | {
      /** A reader is there (at the start of the watch, or plugged in). */
      type: 'reader-attached' | 'reader-detached';
      /** Its name. */
      reader: string;
    }
  | {
      /** A card is in the reader (at the start of the watch, or inserted). */
      type: 'card-inserted';
      /** The reader's name. */
      reader: string;
      /** The card's ATR. */
      atr: Uint8Array;
    }
  | {
      /** The card was taken out (or its reader went away). */
      type: 'card-removed';
      /** The reader's name. */
      reader: string;
    };

/**
 * Options of {@link watchPcscReaders}.
 *
 * @example
 * ```ts
 * import type { PcscWatchOptions } from 'simvault/node';
 * const o: PcscWatchOptions = { signal: AbortSignal.timeout(60_000) };
 * ```
 */
export interface PcscWatchOptions extends PcscOptions {
  /** Ends the watch. */
  signal?: AbortSignal;
  /**
   * Longest single wait inside the PC/SC service, ms (default 500): a bound on how long ending
   * the watch can take should the service ignore the cancellation.
   */
  pollMs?: number;
}

const PNP = '\\\\?PnP?\\Notification';

/**
 * Watch the readers: yields a {@link PcscEvent} for each change until `signal` aborts or the
 * loop is left. Throws `PCSC_UNAVAILABLE` or `PCSC_NO_SERVICE` (also when pcscd stops).
 *
 * @example
 * ```ts
 * import { watchPcscReaders, PcscTransport } from 'simvault/node';
 * for await (const e of watchPcscReaders()) {
 *   if (e.type === 'card-inserted' && e.reader.includes('Virtual PCD')) {
 *     const card = await PcscTransport.open({ reader: e.reader });
 *     await card.close();
 *     break;
 *   }
 * }
 * ```
 */
export async function* watchPcscReaders(
  options: PcscWatchOptions = {},
): AsyncGenerator<PcscEvent, void, undefined> {
  const binding: PcscBinding = options.binding ?? (await loadPcscBinding());
  const pollMs = options.pollMs ?? 500;
  let context;
  try {
    context = new binding.Context();
  } catch (e) {
    throw pcscErrorOf(e, 'cannot reach the PC/SC service');
  }
  const ctx = context;
  const signal = options.signal;
  const onAbort = () => {
    try {
      ctx.cancel();
    } catch {
      // Already released: the loop ends on its own.
    }
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  const PRESENT_MASK = binding.SCARD_STATE_PRESENT | binding.SCARD_STATE_MUTE;
  const present = (state: number) => (state & PRESENT_MASK) === binding.SCARD_STATE_PRESENT;
  // What we last told the caller: reader → its card's event count and ATR ('' for none).
  const cards = new Map<string, string>();
  const states = new Map<string, number>();
  let pnpState: number = binding.SCARD_STATE_UNAWARE;
  try {
    while (signal?.aborted !== true) {
      let listed;
      try {
        listed = ctx.listReaders().map((r) => r.name);
      } catch (e) {
        throw pcscErrorOf(e, 'cannot list the readers');
      }
      for (const name of [...cards.keys()]) {
        if (listed.includes(name)) continue;
        if (cards.get(name) !== '') yield { type: 'card-removed', reader: name };
        cards.delete(name);
        states.delete(name);
        yield { type: 'reader-detached', reader: name };
      }
      for (const name of listed) {
        if (cards.has(name)) continue;
        cards.set(name, '');
        states.set(name, binding.SCARD_STATE_UNAWARE);
        yield { type: 'reader-attached', reader: name };
      }
      const query = [
        ...listed.map((name) => ({ name, state: states.get(name)! })),
        { name: PNP, state: pnpState },
      ];
      let changes;
      try {
        changes = await ctx.waitForChange(query, pollMs);
      } catch (e) {
        throw pcscErrorOf(e, 'watching the readers');
      }
      if (changes === null) break;
      for (const change of changes) {
        const state = change.state & ~binding.SCARD_STATE_CHANGED;
        if (change.name === PNP) {
          pnpState = state;
          continue;
        }
        if (!cards.has(change.name)) continue;
        states.set(change.name, state);
        const before = cards.get(change.name)!;
        // pcsc-lite counts card events in the high 16 bits of the state, so a card pulled
        // and put back between two waits still shows as a change.
        const now =
          present(state) && change.atr !== null ? `${state >>> 16}:${toHex(change.atr)}` : '';
        if (now === before) continue;
        if (before !== '') yield { type: 'card-removed', reader: change.name };
        cards.set(change.name, now);
        if (now !== '' && change.atr !== null)
          yield { type: 'card-inserted', reader: change.name, atr: new Uint8Array(change.atr) };
      }
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    ctx.close();
  }
}
