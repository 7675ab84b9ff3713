/**
 * The registry of card information (patent claim 4) behind one interface, whatever the database:
 * cards and their lifecycle, bindings to SIMs, the application catalog, offers and each card's
 * customized applications, and in-card file records with download and delete counts.
 *
 * Cards are keyed by their CID identity (bytes 0-14 of the CID register, 30 lower-case hex
 * digits), applications by their AID in lower-case hex. The store checks nothing the service
 * layer validates; it keeps the invariants that need the database: one binding per card,
 * counters that never lose an increment, imports that land completely or not at all.
 *
 * @module
 */
import type { Zone } from '../../protocol/messages.js';
import type { NonceClaim } from '../auth.js';

/**
 * The lifecycle states of a card: `issued` (registered, never bound), `active` (bound at least
 * once), `blocked` (refused until unblocked), `retired` (refused for good).
 *
 * @example
 * ```ts
 * import type { LifecycleState } from './store.js';
 * const s: LifecycleState = 'blocked';
 * ```
 */
export type LifecycleState = 'issued' | 'active' | 'blocked' | 'retired';

/**
 * Every lifecycle state, in lifecycle order.
 *
 * @example
 * ```ts
 * import { LIFECYCLE_STATES } from './store.js';
 * LIFECYCLE_STATES.includes('retired'); // true
 * ```
 */
export const LIFECYCLE_STATES: readonly LifecycleState[] = [
  'issued',
  'active',
  'blocked',
  'retired',
];

/**
 * 1. Card application info: a registered memory card.
 *
 * @example
 * ```ts
 * import type { CardRecord } from './store.js';
 * const c: CardRecord = { cid: '035344535530314780401c75130063', state: 'issued', stage: 'warehouse', offer: null, createdAt: 0, updatedAt: 0 };
 * ```
 */
export interface CardRecord {
  /** CID identity: bytes 0-14 of the CID register as 30 lower-case hex digits. */
  cid: string;
  /** Lifecycle state. */
  state: LifecycleState;
  /** The operator's label for the current lifecycle stage, e.g. `warehouse`, `retail`, `sold`. */
  stage: string;
  /** The offer the card's applications came from, if any. */
  offer: string | null;
  /** Registration time, ms since the epoch. */
  createdAt: number;
  /** Last change of state or stage, ms since the epoch. */
  updatedAt: number;
}

/**
 * The SIM a card is bound to.
 *
 * @example
 * ```ts
 * import type { SimIdentity } from './store.js';
 * const sim: SimIdentity = { iccid: '89860012345678901234', imsi: '460001234567890', brand: 'GoTone' };
 * ```
 */
export interface SimIdentity {
  /** ICCID, 10-20 decimal digits. */
  iccid: string;
  /** IMSI, 6-15 decimal digits, when known. */
  imsi?: string;
  /** The subscriber's brand, when the OTA server knows it. */
  brand?: string;
}

/**
 * 2. Card binding info: which SIM a card is bound to.
 *
 * @example
 * ```ts
 * import type { BindingRecord } from './store.js';
 * const b: BindingRecord = { cid: '035344535530314780401c75130063', iccid: '89860012345678901234', imsi: null, brand: null, boundAt: 0 };
 * ```
 */
export interface BindingRecord {
  /** CID identity. */
  cid: string;
  /** The SIM's ICCID. */
  iccid: string;
  /** The subscriber's IMSI, if the bind request carried it. */
  imsi: string | null;
  /** The subscriber's brand, if known. */
  brand: string | null;
  /** When the binding was made, ms since the epoch. */
  boundAt: number;
}

/**
 * Where an application file is downloaded from.
 *
 * @example
 * ```ts
 * import type { ResourceRecord } from './store.js';
 * const r: ResourceRecord = { url: 'https://ota.example/tv.bin', digest: '00'.repeat(32), size: 4096 };
 * ```
 */
export interface ResourceRecord {
  /** Download URL, printable ASCII. */
  url: string;
  /** SHA-256 of the file, 64 lower-case hex digits. */
  digest: string;
  /** File size in bytes. */
  size: number;
}

/**
 * An application of the catalog.
 *
 * @example
 * ```ts
 * import type { ApplicationRecord } from './store.js';
 * const a: ApplicationRecord = { aid: 'a0000000871001', name: 'TV', zone: 'multimedia', size: 2097152, version: '2.1', resource: null };
 * ```
 */
export interface ApplicationRecord {
  /** AID, 5-16 bytes as lower-case hex. */
  aid: string;
  /** Menu name. */
  name: string;
  /** The card zone its file goes to. */
  zone: Zone;
  /** Installed size in bytes. */
  size: number;
  /** Version text. */
  version: string;
  /** Download resource; `null` for applications preloaded on the card. */
  resource: ResourceRecord | null;
}

/**
 * The state of an application file on a card: `pending` (download launched), `stored` (the card
 * reported it stored), `failed` (the download or its integrity check failed), `deleted`.
 *
 * @example
 * ```ts
 * import type { FileStatus } from './store.js';
 * const s: FileStatus = 'stored';
 * ```
 */
export type FileStatus = 'pending' | 'stored' | 'failed' | 'deleted';

/**
 * 4. In-card application file management info: one application file on one card.
 *
 * @example
 * ```ts
 * import type { FileRecord } from './store.js';
 * const f: FileRecord = { cid: '035344535530314780401c75130063', aid: 'a0000000871001', status: 'stored', downloads: 1, deletes: 0, storedSize: 4096, storedDigest: null, updatedAt: 0 };
 * ```
 */
export interface FileRecord {
  /** CID identity. */
  cid: string;
  /** AID. */
  aid: string;
  /** Current state of the file. */
  status: FileStatus;
  /** How many downloads were launched. */
  downloads: number;
  /** How many deletions were commanded. */
  deletes: number;
  /** Size the card reported storing, if it did. */
  storedSize: number | null;
  /** SHA-256 the card reported storing (hex), if it did. */
  storedDigest: string | null;
  /** Last change, ms since the epoch. */
  updatedAt: number;
}

/**
 * One validated row of a card import.
 *
 * @example
 * ```ts
 * import type { CardImportRow } from './store.js';
 * const row: CardImportRow = { cid: '035344535530314780401c75130063', state: 'issued', stage: 'warehouse', offer: 'basic' };
 * ```
 */
export interface CardImportRow {
  /** CID identity. */
  cid: string;
  /** Initial lifecycle state. */
  state: LifecycleState;
  /** Initial lifecycle stage label. */
  stage: string;
  /** The offer whose applications the card gets, if any. */
  offer?: string;
}

/**
 * Why the store refused an import row: the CID is already registered (or appears earlier in the
 * same import), or the offer is not defined.
 *
 * @example
 * ```ts
 * import type { ImportRefusal } from './store.js';
 * const r: ImportRefusal = { index: 3, reason: 'duplicate' };
 * ```
 */
export interface ImportRefusal {
  /** Index of the row in the import. */
  index: number;
  /** Why. */
  reason: 'duplicate' | 'unknownOffer';
}

/**
 * The outcome of {@link RegistryStore.bind}: `bound` (new binding), `alreadyBound` (this SIM
 * already holds it: a retried request), `otherSim`, `unknownCard`, `blocked`, `replayed` (the
 * nonce given with it was already claimed: nothing was done).
 *
 * @example
 * ```ts
 * import type { BindOutcome } from './store.js';
 * const o: BindOutcome = 'otherSim';
 * ```
 */
export type BindOutcome =
  'bound' | 'alreadyBound' | 'otherSim' | 'unknownCard' | 'blocked' | 'replayed';

/**
 * Downloads, stored files and deletions of one application over every card.
 *
 * @example
 * ```ts
 * import type { DownloadReportRow } from './store.js';
 * const r: DownloadReportRow = { aid: 'a0000000871001', name: 'TV', downloads: 12, stored: 10, deletes: 1 };
 * ```
 */
export interface DownloadReportRow {
  /** AID. */
  aid: string;
  /** Menu name. */
  name: string;
  /** Downloads launched. */
  downloads: number;
  /** Cards holding the file now. */
  stored: number;
  /** Deletions commanded. */
  deletes: number;
}

/**
 * The registry store. Every method is atomic; the SQLite and PostgreSQL implementations pass the
 * same test suite.
 *
 * @example
 * ```ts
 * import type { RegistryStore } from './store.js';
 * async function show(store: RegistryStore, cid: string) {
 *   return { card: await store.getCard(cid), binding: await store.getBinding(cid) };
 * }
 * ```
 */
export interface RegistryStore {
  /** Which database backs the store. */
  readonly kind: 'sqlite' | 'postgres';
  /** The schema version of the database. */
  schemaVersion(): Promise<number>;
  /** Release the database. */
  close(): Promise<void>;

  /** Register cards in one transaction; rows refused are listed, the others all land. */
  importCards(
    rows: readonly CardImportRow[],
    now: number,
  ): Promise<{
    /** Cards registered. */ accepted: number;
    /** Rows refused, with why. */ refused: ImportRefusal[];
  }>;
  /** A card, or `undefined`. */
  getCard(cid: string): Promise<CardRecord | undefined>;
  /** Number of registered cards. */
  countCards(): Promise<number>;
  /** Change a card's state (and stage, when given); `undefined` when the card is unknown. */
  setLifecycle(
    cid: string,
    state: LifecycleState,
    stage: string | undefined,
    now: number,
  ): Promise<CardRecord | undefined>;

  /** Define or replace an application of the catalog. */
  putApplication(app: ApplicationRecord, now: number): Promise<void>;
  /** An application, or `undefined`. */
  getApplication(aid: string): Promise<ApplicationRecord | undefined>;
  /** The catalog, by AID. */
  listApplications(): Promise<ApplicationRecord[]>;
  /** Define or replace an offer; resolves to the AIDs not in the catalog (then nothing changed). */
  defineOffer(
    name: string,
    aids: readonly string[],
  ): Promise<{
    /** AIDs not in the catalog. */
    unknownApps: string[];
  }>;
  /** The AIDs of an offer in order, or `undefined`. */
  getOffer(name: string): Promise<string[] | undefined>;
  /** Give cards an offer's applications (replacing theirs); `undefined` when the offer is unknown. */
  applyOffer(
    name: string,
    cids: readonly string[],
    now: number,
  ): Promise<
    | {
        /** Cards given the offer. */ applied: number;
        /** CIDs not in the registry. */ unknownCards: string[];
      }
    | undefined
  >;
  /** The applications customized for a card, in menu order. */
  customizedApplications(cid: string): Promise<ApplicationRecord[]>;

  /**
   * Bind a card to a SIM: exactly one binding per card, whatever the concurrency. With `nonce`,
   * the request's nonce is claimed in the same transaction (`replayed`, and nothing else done,
   * when it was already claimed). Resolves only once the outcome is durable.
   */
  bind(
    cid: string,
    sim: SimIdentity,
    now: number,
    nonce?: NonceClaim,
  ): Promise<{
    /** What became of the request. */ outcome: BindOutcome;
    /** The card's binding after it, when it has one. */ binding?: BindingRecord;
    /**
     * The card's customized applications, read with a new binding (`bound`), so that the
     * caller need not read them again.
     */
    applications?: ApplicationRecord[];
  }>;
  /** Remove the binding of a card to this SIM; `false` when the card is not bound to it. */
  unbind(cid: string, iccid: string): Promise<boolean>;
  /** A card's binding, or `undefined`. */
  getBinding(cid: string): Promise<BindingRecord | undefined>;
  /** The bindings of a SIM. */
  bindingsOfSim(iccid: string): Promise<BindingRecord[]>;
  /** Number of bindings. */
  countBindings(): Promise<number>;

  /** Record a launched download (status `pending`); resolves to the card's download count for the app. */
  recordLaunch(cid: string, aid: string, now: number): Promise<number>;
  /** Record the end of a download; `false` when no download was launched. */
  recordCompletion(
    cid: string,
    aid: string,
    outcome: { status: 'stored' | 'failed'; size?: number; digest?: string },
    now: number,
  ): Promise<boolean>;
  /** Record a commanded deletion; resolves to the card's delete count for the app. */
  recordDelete(cid: string, aid: string, now: number): Promise<number>;
  /** The file records of a card, by AID. */
  fileRecords(cid: string): Promise<FileRecord[]>;
  /** Downloads, stored files and deletions per application. */
  downloadReport(): Promise<DownloadReportRow[]>;

  /** Remember a request nonce until `expiresAt`; `false` when it was already seen (a replay). */
  claimNonce(keyId: string, nonce: string, expiresAt: number, now: number): Promise<boolean>;
}
