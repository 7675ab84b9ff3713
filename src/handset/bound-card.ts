/**
 * A card mounted with what its SIM holds for it: the zone keys and the rollback anchors, read
 * once at mount, and every change moving the anchors forward in the SIM by itself. This is how
 * the handset mounts a bound card, and how any other code that has a SIM and a card should.
 *
 * @module
 */
import { mountCard, type Card } from '../card/card.js';
import type { BlockDevice } from '../card/device.js';
import type { FileKeyProvider } from '../card/file-keys.js';
import type { BackendChoice } from '../crypto/backend.js';
import { ZONES, type Zone } from '../crypto/keys.js';
import type { SimClient } from '../sim/applet/sim-client.js';
import { anchoredCard } from './anchored-card.js';

/**
 * What {@link mountBoundCard} needs.
 *
 * @example
 * ```ts
 * import type { BoundCardOptions } from 'simvault/handset';
 * declare const options: BoundCardOptions;
 * options.cid.length; // 16
 * ```
 */
export interface BoundCardOptions {
  /** The card's storage. */
  device: BlockDevice;
  /** The card's CID register (16 bytes; the SIM matches bytes 0-14). */
  cid: Uint8Array;
  /** The SIM the card is bound to, selected. */
  sim: SimClient;
  /** The card's secure chip, for secure-chip zones. */
  chip?: FileKeyProvider;
  /** Cipher backend (default `auto`). */
  backend?: BackendChoice;
}

/**
 * A mounted card and the SIM anchors it keeps moving: `anchor()` moves every zone generation
 * that went forward and resolves to the anchors the SIM now holds.
 *
 * @internal
 */
export interface AnchoredMount {
  /** The card as mounted (changes through it are not anchored until `anchor()`). */
  card: Card;
  /** The same card, anchoring every change by itself. */
  anchored: Card;
  /** Anchor what moved; the anchors the SIM now holds. */
  anchor(): Promise<Partial<Record<Zone, number>>>;
}

/**
 * Keep a mounted card's anchors in a SIM, starting from the anchors the SIM held at mount.
 *
 * @internal
 */
export function keepAnchors(
  card: Card,
  sim: SimClient,
  cid: Uint8Array,
  held: Partial<Record<Zone, number>>,
): AnchoredMount {
  const anchors = { ...held };
  const anchor = async (): Promise<Partial<Record<Zone, number>>> => {
    const now = card.generations();
    const forward: Partial<Record<Zone, number>> = {};
    for (const z of ZONES) {
      const g = now[z];
      if (g !== undefined && g > (anchors[z] ?? 0)) forward[z] = g;
    }
    if (Object.keys(forward).length) {
      await sim.updateAnchors(cid, forward);
      Object.assign(anchors, forward);
    }
    return { ...anchors };
  };
  return { card, anchored: anchoredCard(card, anchor), anchor };
}

/**
 * Mount a card bound to a SIM: its zone keys and rollback anchors come from the SIM (a zone older
 * than its anchor is `CARD_ROLLED_BACK`), and every change made through the card moves the
 * anchors forward in the SIM — no code anchors by hand. A card the SIM does not hold is
 * `SIM_CARD_NOT_BOUND`.
 *
 * @example
 * ```ts
 * import { mountBoundCard } from 'simvault/handset';
 * import { formatCard, MemoryDevice } from 'simvault/card';
 * import { personalizeSim, SimCard, SimClient } from 'simvault/sim';
 * import { fromHex } from 'simvault';
 * const cid = fromHex('035344535530314780401c751300637d');
 * const sim = new SimCard(personalizeSim({ iccid: '89860012345678901234' }).state);
 * await sim.bindOffline(cid);
 * const client = new SimClient(sim);
 * await client.select();
 * const device = new MemoryDevice(16 << 20);
 * await formatCard(device, { cid, keys: await client.cardKeys(cid) });
 * const card = await mountBoundCard({ device, cid, sim: client });
 * await card.zone('user').writeFile('a.txt', new TextEncoder().encode('hi'));
 * console.log(await client.readAnchors(cid)); // every zone's generation, the user zone's moved on
 * ```
 */
export async function mountBoundCard(options: BoundCardOptions): Promise<Card> {
  const { device, cid, sim } = options;
  const keys = await sim.cardKeys(cid);
  const held = await sim.readAnchors(cid);
  const card = await mountCard(device, {
    cid,
    keys,
    anchors: held,
    ...(options.chip ? { chip: options.chip } : {}),
    ...(options.backend ? { backend: options.backend } : {}),
  });
  const mount = keepAnchors(card, sim, cid, held);
  // A mount that finished an interrupted erase has already moved a generation.
  await mount.anchor();
  return mount.anchored;
}
