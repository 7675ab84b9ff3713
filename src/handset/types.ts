/**
 * The handset's vocabulary: the card slot, the person at the phone, progress events, the options
 * of a {@link Handset} and what each flow returns.
 *
 * @module
 */
import type { CardCapacity } from '../card/card.js';
import type { BlockDevice } from '../card/device.js';
import type { Zone } from '../crypto/keys.js';
import type { ApduTransport } from '../sim/transport.js';
import type { FetchLike } from './server-link.js';

/**
 * A memory card in the slot: its storage and the CID register the handset reads from it.
 *
 * @example
 * ```ts
 * import type { CardSlot } from 'simvault/handset';
 * import { MemoryDevice } from 'simvault/card';
 * const slot: CardSlot = { device: new MemoryDevice(16 << 20), cid: new Uint8Array(16) };
 * ```
 */
export interface CardSlot {
  /** The card's storage. */
  device: BlockDevice;
  /** The card's 16-byte CID register. */
  cid: Uint8Array;
}

/**
 * What the user is asked (a SELECT ITEM the handset has no scripted answer for).
 *
 * @example
 * ```ts
 * import type { UserPrompt } from 'simvault/handset';
 * const p: UserPrompt = { title: 'Bind this memory card?', items: ['Bind', 'Not now'] };
 * ```
 */
export interface UserPrompt {
  /** The prompt's title. */
  title: string;
  /** The texts of the items offered, in order. */
  items: string[];
}

/**
 * The person at the phone: returns the text of the item chosen, or `undefined` to back out.
 *
 * @example
 * ```ts
 * import type { HandsetUser } from 'simvault/handset';
 * const alwaysFirst: HandsetUser = (p) => p.items[0];
 * ```
 */
export type HandsetUser = (prompt: UserPrompt) => string | undefined;

/**
 * One thing the handset did, with the patent step it belongs to (`301`…`606`, `claim 3`), for
 * progress output.
 *
 * @example
 * ```ts
 * import type { HandsetEvent } from 'simvault/handset';
 * const print = (e: HandsetEvent) => console.log(`[${e.step}] ${e.text}`);
 * ```
 */
export interface HandsetEvent {
  /** The patent step, e.g. `302` or `309-310`. */
  step: string;
  /** What happened. */
  text: string;
}

/**
 * Options of a {@link Handset}.
 *
 * @example
 * ```ts
 * import type { HandsetOptions } from 'simvault/handset';
 * declare const sim: import('simvault/sim').ApduTransport;
 * const o: HandsetOptions = { sim, iccid: '89860012345678901234', otaUrl: 'http://127.0.0.1:8081', cardAppUrl: 'http://127.0.0.1:8080' };
 * ```
 */
export interface HandsetOptions {
  /** The SIM. */
  sim: ApduTransport;
  /** The SIM's ICCID, as the handset reads it from EF ICCID: it names the SIM to the OTA server. */
  iccid: string;
  /** Base URL of the OTA server. */
  otaUrl: string;
  /** Base URL of the card application server. */
  cardAppUrl: string;
  /** The card in the slot (or give one to {@link Handset.insertCard}). */
  card?: CardSlot;
  /** The card's secure chip and its PIN: secure-chip zones get their file keys from it. */
  chip?: {
    /** The chip's APDU transport. */
    transport: ApduTransport;
    /** The PIN the user entered. */
    pin: string;
  };
  /** `fetch` for both servers (default the global one). */
  fetch?: FetchLike;
  /** Answers SELECT ITEM prompts with no scripted answer (default: the first item). */
  user?: HandsetUser;
  /** How an unbound card is bound: `ask` lets the SIM ask the user (default); `now` binds at once. */
  bindMode?: 'ask' | 'now';
  /** Told about every step. */
  onEvent?: (event: HandsetEvent) => void;
  /** Longest wait for the SIM's or the servers' answer in one flow step (default 20 000 ms). */
  timeoutMs?: number;
  /** Long-poll wait of each MT queue read, seconds (default 2). */
  pollWaitSeconds?: number;
  /** Queue position of the last SMS-DELIVER already handed to the SIM (default 0: all). */
  mtAfter?: number;
  /** How a blank card is formatted: zone quotas, secure-chip zones, fill. */
  format?: {
    /** Bytes per zone. */
    zones?: Partial<Record<Zone, number>>;
    /** Zones whose file keys come from the secure chip (needs {@link HandsetOptions.chip}). */
    secureChipZones?: Zone[];
    /** Free-space fill (default `random`). */
    fill?: 'random' | 'zero';
  };
  /** Checkpoint interval of downloads into the card: how much an interruption can cost (default 1 MiB). */
  checkpointBytes?: number;
  /** Attempts per download before giving up (default 5). */
  downloadAttempts?: number;
}

/**
 * What {@link Handset.insertCard} found and did.
 *
 * @example
 * ```ts
 * import type { InsertResult } from 'simvault/handset';
 * const line = (r: InsertResult) => `${r.cid} ${r.binding}${r.formatted ? ', formatted' : ''}`;
 * ```
 */
export interface InsertResult {
  /** The card's CID, hex. */
  cid: string;
  /** The card's applications as the SIM lists them. */
  applications: HandsetApplication[];
  /** Its lifecycle state at the card application server. */
  lifecycle: string;
  /** `existing` when the SIM already had it (304), `new` when it was bound now (305-311). */
  binding: 'existing' | 'new';
  /** Whether the card was blank and got formatted. */
  formatted: boolean;
  /** Zone generations now anchored in the SIM. */
  anchors: Partial<Record<Zone, number>>;
  /** The card's capacity: the SIM's virtual extended capacity. */
  capacity: CardCapacity;
  /** The SIM's main menu. */
  menu: string[];
}

/**
 * An application of the inserted card, as the SIM lists it.
 *
 * @example
 * ```ts
 * import type { HandsetApplication } from 'simvault/handset';
 * const line = (a: HandsetApplication) => `${a.name} (${a.aid}) → ${a.zone}${a.installed ? ', on the card' : ''}`;
 * ```
 */
export interface HandsetApplication {
  /** Its AID, hex. */
  aid: string;
  /** Its menu name. */
  name: string;
  /** The card zone its file goes to. */
  zone: Zone;
  /** Whether its file is on the card. */
  installed: boolean;
}

/**
 * What {@link Handset.deleteApp} did.
 *
 * @example
 * ```ts
 * import type { DeleteResult } from 'simvault/handset';
 * const line = (r: DeleteResult) => (r.zone ? `deleted ${r.file} from ${r.zone}` : 'not on the card');
 * ```
 */
export interface DeleteResult {
  /** The application's AID, hex. */
  aid: string;
  /** The file deleted. */
  file: string;
  /** The zone it was in (`null` when the card did not hold it). */
  zone: Zone | null;
  /** Zone generations now anchored in the SIM. */
  anchors: Partial<Record<Zone, number>>;
}

/**
 * What {@link Handset.unbind} did.
 *
 * @example
 * ```ts
 * import type { UnbindResult } from 'simvault/handset';
 * const line = (r: UnbindResult) => `${r.cid} unbound${r.erased ? ' and erased' : ''}`;
 * ```
 */
export interface UnbindResult {
  /** The card's CID, hex. */
  cid: string;
  /** Whether the card was crypto-erased. */
  erased: boolean;
}

/**
 * What {@link Handset.launch} stored.
 *
 * @example
 * ```ts
 * import type { LaunchResult } from 'simvault/handset';
 * const line = (r: LaunchResult) => `${r.name} → ${r.zone}/${r.file} (${r.size} bytes)`;
 * ```
 */
export interface LaunchResult {
  /** The application's AID, hex. */
  aid: string;
  /** Its menu name. */
  name: string;
  /** The zone it went to. */
  zone: Zone;
  /** The file's name in the zone. */
  file: string;
  /** Bytes stored. */
  size: number;
  /** SHA-256 of the file as read back from the card, hex. */
  digest: string;
  /** Whether that digest and size match the download resource info. */
  intact: boolean;
  /** Download attempts. */
  attempts: number;
  /** Offsets later attempts resumed from. */
  resumedFrom: number[];
  /** What the card application server recorded for the download (`stored`, `failed`), when it said. */
  serverOutcome: string | null;
  /** Zone generations now anchored in the SIM. */
  anchors: Partial<Record<Zone, number>>;
}

/**
 * What {@link Handset.processMt} did.
 *
 * @example
 * ```ts
 * import type { MtResult } from 'simvault/handset';
 * const line = (r: MtResult) => `${r.delivered} SMS, menu: ${r.menu.join(', ')}`;
 * ```
 */
export interface MtResult {
  /** SMS-DELIVERs handed to the SIM. */
  delivered: number;
  /** DISPLAY TEXT notices the SIM showed meanwhile. */
  notices: string[];
  /** The SIM's main menu afterwards. */
  menu: string[];
  /** Messages from the SIM's handset mailbox acted on (e.g. `deleteCommand`). */
  handled: string[];
}
