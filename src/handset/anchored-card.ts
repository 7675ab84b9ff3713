/**
 * A mounted card whose changes move the SIM's rollback anchors by themselves. The card engine
 * reports zone generations; this wrapper calls `anchor` after every call that may have committed
 * (every promise a card or zone method returns, a put's stream closing or aborting), so code
 * that writes through `Handset.card` never has to anchor by hand. `anchor` itself compares
 * generations first, so a read costs no APDU.
 *
 * @module
 */
import type { Card } from '../card/card.js';
import type { CardZone, ZonePut } from '../card/zone.js';

type Anchor = () => Promise<unknown>;

/** Run `anchor` once `result` settled: its errors surface after a success, never hide a failure. */
async function settled<T>(result: Promise<T>, anchor: Anchor): Promise<T> {
  let value: T;
  try {
    value = await result;
  } catch (e) {
    await anchor().catch(() => undefined);
    throw e;
  }
  await anchor();
  return value;
}

function anchoredPut(put: ZonePut, anchor: Anchor): ZonePut {
  const writer = put.writable.getWriter();
  const writable = new WritableStream<Uint8Array>({
    write: (chunk) => writer.write(chunk),
    close: () => settled(writer.close(), anchor),
    abort: (reason) => settled(writer.abort(reason), anchor),
  });
  return { offset: put.offset, writable };
}

function anchoredZone(zone: CardZone, anchor: Anchor): CardZone {
  return new Proxy(zone, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]): unknown => {
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (!(result instanceof Promise)) return result;
        if (prop === 'put')
          return (result as Promise<ZonePut>).then((put) => anchoredPut(put, anchor));
        return settled(result, anchor);
      };
    },
  });
}

/**
 * The card with every zone's changes anchored through `anchor`, and `erase` too.
 *
 * @example
 * ```ts
 * const card = anchoredCard(mounted, () => moveAnchors());
 * await card.zone('user').writeFile('notes.txt', bytes); // anchored when it resolves
 * ```
 */
export function anchoredCard(card: Card, anchor: Anchor): Card {
  return new Proxy(card, {
    get(target, prop) {
      if (prop === 'zone')
        return (name: Parameters<Card['zone']>[0]) => anchoredZone(target.zone(name), anchor);
      if (prop === 'erase')
        return (...args: Parameters<Card['erase']>) => settled(target.erase(...args), anchor);
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
}
