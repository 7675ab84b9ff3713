/**
 * How a `simvault card …` command gets at a card image: the key source the command line names
 * (`--key KEYFILE` or `--sim STATE`), the image opened under its writer lock, and the card
 * mounted with the keys and rollback anchors of that source. The commands themselves only say
 * what to do with the mounted card.
 *
 * @module
 */
import { randomInt } from 'node:crypto';
import { fromHex, toHex } from '../bytes.js';
import { mountCard, readCardInfo, type Card } from '../card/card.js';
import type { BlockDevice } from '../card/device.js';
import { deriveCardKeys, type CardKeys, type Zone } from '../crypto/keys.js';
import { CardError } from '../errors.js';
import { lockImage } from '../node/image-lock.js';
import { openImage } from '../node/open-image.js';
import { readKeyFile } from '../node/files.js';
import { loadSimState, saveSimState } from '../node/sim-state-file.js';
import { encodeCid } from '../protocol/cid.js';
import { SimCard } from '../sim/applet/sim-card.js';
import { SimClient, SimStatusError } from '../sim/applet/sim-client.js';
import { SW } from '../sim/applet/apdu-table.js';
import { UsageError } from './command.js';
import { backendOption, parseCid } from './options.js';

/**
 * Options every card command accepts.
 *
 * @example
 * ```ts
 * parseCommandArgs(args, { ...CARD_OPTIONS, zone: { type: 'string' } });
 * ```
 */
export const CARD_OPTIONS = {
  key: { type: 'string' },
  sim: { type: 'string' },
  cid: { type: 'string' },
  json: { type: 'boolean' },
  backend: { type: 'string' },
} as const;

/**
 * The values of {@link CARD_OPTIONS} after parsing.
 *
 * @example
 * ```ts
 * const v: CardOptionValues = { key: 'sim.key' };
 * ```
 */
export interface CardOptionValues {
  /** `--key KEYFILE`. */
  key?: string | undefined;
  /** `--sim STATE`. */
  sim?: string | undefined;
  /** `--cid HEX`. */
  cid?: string | undefined;
  /** `--json`. */
  json?: boolean | undefined;
  /** `--backend NAME`. */
  backend?: string | undefined;
}

/**
 * Where a card's keys come from, and where its rollback anchors live: a binding key file
 * (`--key`, no anchors) or an emulated SIM's state file (`--sim`: the SIM hands out the bound
 * card's zone keys, never its binding key, and anchors each zone's generation after a change).
 *
 * @example
 * ```ts
 * const source = await keySource({ sim: 'sim.json' });
 * const keys = await source.keys(cid);
 * ```
 */
export interface KeySource {
  /** The card's keys. */
  keys(cid: Uint8Array): Promise<CardKeys>;
  /** The generations the SIM anchored for this card (none for a key file). */
  anchors(cid: Uint8Array): Promise<Partial<Record<Zone, number>>>;
  /** Anchor new generations after a change. */
  anchor(cid: Uint8Array, generations: Partial<Record<Zone, number>>): Promise<void>;
}

/**
 * The SIM's 32-byte binding key from a binding key file (`--key KEYFILE`).
 *
 * @example
 * ```ts
 * const binding = await loadBindingKey({ key: 'my.key' });
 * ```
 */
export async function loadBindingKey(values: CardOptionValues): Promise<Uint8Array> {
  if (values.key !== undefined) return readKeyFile(values.key);
  throw new UsageError(
    '--key KEYFILE or --sim STATE is required: the SIM binding key (make one with: simvault keygen KEYFILE)',
  );
}

/**
 * The key source the command line names: exactly one of `--key KEYFILE` and `--sim STATE`.
 *
 * @example
 * ```ts
 * const source = await keySource({ key: 'my.key' });
 * ```
 */
export async function keySource(values: CardOptionValues): Promise<KeySource> {
  if (values.key !== undefined && values.sim !== undefined)
    throw new UsageError('give --key KEYFILE or --sim STATE, not both');
  if (values.sim !== undefined) {
    const path = values.sim;
    const sim = new SimCard(await loadSimState(path), {
      commit: (state) => saveSimState(path, state),
    });
    const client = new SimClient(sim);
    await client.select();
    // The SIM takes a whole 16-byte CID; an image header records only the 15-byte identity, which
    // is sent in the CRC-stripped form (last byte 00) that hosts commonly report.
    const full = (cid: Uint8Array) => (cid.length === 15 ? new Uint8Array([...cid, 0]) : cid);
    const bound = async <T>(cid: Uint8Array, f: () => Promise<T>): Promise<T> => {
      try {
        return await f();
      } catch (e) {
        if (e instanceof SimStatusError && e.sw === SW.securityNotSatisfied) {
          throw new CardError(
            'CARD_WRONG_SIM',
            `card ${toHex(cid)} is not bound to the SIM in ${path}: bind it first`,
          );
        }
        throw e;
      }
    };
    return {
      keys: (cid) => bound(cid, () => client.cardKeys(full(cid))),
      anchors: (cid) => bound(cid, () => client.readAnchors(full(cid))),
      anchor: (cid, generations) => bound(cid, () => client.updateAnchors(full(cid), generations)),
    };
  }
  const binding = await loadBindingKey(values);
  return {
    keys: (cid) => Promise.resolve(deriveCardKeys(binding, cid)),
    anchors: () => Promise.resolve({}),
    anchor: () => Promise.resolve(),
  };
}

/**
 * The CID to mount with: `--cid`, else the identity recorded in the image header.
 *
 * @example
 * ```ts
 * const cid = await cidFor(device, values);
 * ```
 */
export async function cidFor(device: BlockDevice, values: CardOptionValues): Promise<Uint8Array> {
  if (values.cid !== undefined) return parseCid(values.cid);
  return fromHex((await readCardInfo(device)).cardIdentity);
}

/**
 * Open an image (under its writer lock unless `readOnly`), run `fn` on it, close it.
 *
 * @example
 * ```ts
 * const info = await withDevice('card.img', readCardInfo, true);
 * ```
 */
export async function withDevice<T>(
  image: string,
  fn: (device: BlockDevice) => Promise<T>,
  readOnly = false,
): Promise<T> {
  // Changes take the image's lock: one writer at a time, never two allocating the same blocks.
  const release = readOnly ? undefined : await lockImage(image);
  try {
    const device = await openImage(image, readOnly ? { readOnly: true } : {});
    try {
      return await fn(device);
    } finally {
      await device.close();
    }
  } finally {
    await release?.();
  }
}

/**
 * Mount the card of an image with the command line's key source, run `fn` on it, and anchor
 * whatever generations it moved.
 *
 * @example
 * ```ts
 * await withCard('card.img', { key: 'sim.key' }, (card) => card.zone('user').list());
 * ```
 */
export async function withCard<T>(
  image: string,
  values: CardOptionValues,
  fn: (card: Card) => Promise<T>,
): Promise<T> {
  // Keys first: a missing key source is a usage error, whatever state the image is in.
  const source = await keySource(values);
  return withDevice(image, async (device) => {
    const cid = await cidFor(device, values);
    const card = await mountCard(device, {
      cid,
      keys: await source.keys(cid),
      anchors: await source.anchors(cid),
      backend: backendOption(values.backend),
    });
    const before = JSON.stringify(card.generations());
    try {
      return await fn(card);
    } finally {
      // Whatever was committed, even by a command that then failed, is anchored in the SIM.
      const after = card.generations();
      await card.unmount({ keepDeviceOpen: true });
      if (JSON.stringify(after) !== before) await source.anchor(cid, after);
    }
  });
}

// Manufacturer id, OEM id and a product name as real cards report them.
const MAKERS: readonly (readonly [number, string, string])[] = [
  [0x03, 'SD', 'SC64G'],
  [0x1b, 'SM', 'EB1QT'],
  [0x27, 'PH', 'SD64G'],
  [0x74, 'JE', 'USD00'],
];

/**
 * A plausible random CID: a known manufacturer, a random serial number, this month's date and a
 * valid CRC7 — for images that stand for no physical card.
 *
 * @example
 * ```ts
 * randomCid().length; // 16
 * ```
 */
export function randomCid(now = new Date()): Uint8Array {
  const [mid, oid, pnm] = MAKERS[randomInt(MAKERS.length)]!;
  return encodeCid({
    mid,
    oid,
    pnm,
    prv: { major: randomInt(1, 10), minor: randomInt(10) },
    psn: randomInt(2 ** 32 - 1),
    mdt: {
      year: Math.min(2255, Math.max(2000, now.getUTCFullYear())),
      month: now.getUTCMonth() + 1,
    },
    crc: 'valid',
  });
}
