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
import { lockImage } from '../node/image-lock.js';
import { openImage } from '../node/open-image.js';
import { readKeyFile } from '../node/files.js';
import { loadSimState, saveSimState } from '../node/sim-state-file.js';
import { encodeCid } from '../protocol/cid.js';
import { SimCard } from '../sim/applet/sim-card.js';
import { SimClient } from '../sim/applet/sim-client.js';
import { SimError } from '../sim/errors.js';
import { keepAnchors, mountBoundCard } from '../handset/bound-card.js';
import { CardError } from '../errors.js';
import type { BackendChoice } from '../crypto/backend.js';
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
 * card's zone keys, never its binding key, and the mounted card anchors every change there).
 *
 * @example
 * ```ts
 * const source = await keySource({ sim: 'sim.json' });
 * const card = await source.mount(device, cid, 'auto');
 * ```
 */
export interface KeySource {
  /** The card's keys. */
  keys(cid: Uint8Array): Promise<CardKeys>;
  /** The generations the SIM anchored for this card (none for a key file). */
  anchors(cid: Uint8Array): Promise<Partial<Record<Zone, number>>>;
  /** Mount the card; with a SIM, every change is anchored there as it is made. */
  mount(device: BlockDevice, cid: Uint8Array, backend: BackendChoice): Promise<Card>;
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
 * The SIM takes a whole 16-byte CID; an image header records only the 15-byte identity, which is
 * sent in the CRC-stripped form (last byte 00) that hosts commonly report.
 *
 * @example
 * ```ts
 * fullCid(new Uint8Array(15)).length; // 16
 * ```
 */
export function fullCid(cid: Uint8Array): Uint8Array {
  return cid.length === 15 ? new Uint8Array([...cid, 0]) : cid;
}

/**
 * An emulated SIM from its state file, selected. With `save`, every change is written back to
 * the file atomically as the SIM commits it; without, the caller saves `card.state` when done.
 *
 * @example
 * ```ts
 * const { client } = await openSim('sim.json', true);
 * ```
 */
export async function openSim(
  path: string,
  save: boolean,
): Promise<{ card: SimCard; client: SimClient }> {
  const card = new SimCard(
    await loadSimState(path),
    save ? { commit: (state) => saveSimState(path, state) } : {},
  );
  const client = new SimClient(card);
  await client.select();
  return { card, client };
}

/** Say which SIM file does not hold the card, and how to bind it. */
async function bound<T>(path: string, cid: Uint8Array, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof SimError && e.code === 'SIM_CARD_NOT_BOUND')
      throw new SimError(
        'SIM_CARD_NOT_BOUND',
        `card ${toHex(cid)} is not bound to the SIM in ${path}: bind it with 'simvault card bind IMAGE --sim ${path}'`,
        { cause: e },
      );
    throw e;
  }
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
    const { client } = await openSim(path, true);
    return {
      keys: (cid) => bound(path, cid, () => client.cardKeys(fullCid(cid))),
      anchors: (cid) => bound(path, cid, () => client.readAnchors(fullCid(cid))),
      mount: (device, cid, backend) =>
        bound(path, cid, () => mountBoundCard({ device, cid: fullCid(cid), sim: client, backend })),
    };
  }
  const binding = await loadBindingKey(values);
  return {
    keys: (cid) => Promise.resolve(deriveCardKeys(binding, cid)),
    anchors: () => Promise.resolve({}),
    mount: (device, cid, backend) =>
      mountCard(device, { cid, keys: deriveCardKeys(binding, cid), backend }),
  };
}

/**
 * The keys to format a new card with, and how to record it: from a key file, nothing to record;
 * from a SIM state file, the card is bound to that SIM (offline, as `card bind` does) and its
 * first generations anchored — written to the file only by `commit`, once the card exists.
 *
 * @example
 * ```ts
 * const { keys, commit } = await newCardKeys({ sim: 'sim.json' }, cid);
 * await formatCard(device, { cid, keys });
 * await commit({ user: 1 });
 * ```
 */
export async function newCardKeys(
  values: CardOptionValues,
  cid: Uint8Array,
): Promise<{
  keys: CardKeys;
  commit: (generations: Partial<Record<Zone, number>>) => Promise<void>;
}> {
  if (values.sim === undefined || values.key !== undefined) {
    const source = await keySource(values);
    return { keys: await source.keys(cid), commit: () => Promise.resolve() };
  }
  const path = values.sim;
  const full = fullCid(cid);
  const { card, client } = await openSim(path, false);
  if ((await card.bindOffline(full)) === 'existing') {
    const held = Object.entries(await client.readAnchors(full)).filter(([, g]) => g > 1);
    if (held.length)
      throw new CardError(
        'CARD_ROLLED_BACK',
        `the SIM in ${path} already anchors card ${toHex(cid)} beyond generation 1 (${held.map(([z, g]) => `${z} ${g}`).join(', ')}): a card created anew would read as rolled back`,
      );
  }
  return {
    keys: await client.cardKeys(full),
    commit: async (generations) => {
      await client.updateAnchors(full, generations);
      await saveSimState(path, card.state);
    },
  };
}

/**
 * Bind the card of an image to the SIM of a state file, offline: the card the image header names
 * (or `cid`), checked against the keys the SIM derives for it (an image formatted for another
 * SIM is `CARD_WRONG_SIM` and nothing is saved), its current generations anchored.
 *
 * @example
 * ```ts
 * await bindImage(device, 'sim.json'); // 'new' or 'existing'
 * ```
 */
export async function bindImage(
  device: BlockDevice,
  path: string,
  cid: Uint8Array,
): Promise<'new' | 'existing'> {
  const full = fullCid(cid);
  const { card, client } = await openSim(path, false);
  const outcome = await card.bindOffline(full);
  const keys = await client.cardKeys(full);
  const info = await readCardInfo(device);
  if (info.cardKeyIdentifier !== toHex(keys.cardKeyIdentifier))
    throw new CardError(
      'CARD_WRONG_SIM',
      `the image was formatted with another SIM's keys than the SIM in ${path} derives for card ${toHex(cid)}; nothing was bound`,
    );
  const held = await client.readAnchors(full);
  const mounted = keepAnchors(
    await mountCard(device, { cid: full, keys, anchors: held }),
    client,
    full,
    held,
  );
  try {
    await mounted.anchor();
  } finally {
    // Releases this process's writer claim; the caller closes the device.
    await mounted.card.unmount({ keepDeviceOpen: true });
  }
  await saveSimState(path, card.state);
  return outcome;
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
 * Mount the card of an image with the command line's key source and run `fn` on it. With a SIM,
 * the card anchors every change there as it is made (even by a command that then fails).
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
    const card = await source.mount(device, cid, backendOption(values.backend));
    try {
      return await fn(card);
    } finally {
      // Releases this process's writer claim; withDevice closes the device.
      await card.unmount({ keepDeviceOpen: true });
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
