/**
 * The SIM applet's persistent state: everything a real SIM would keep in EEPROM — identity
 * (ICCID, IMSI), the OTA keysets, TAR, minimum security level and counters, the binding key, the
 * binding list (= the STK application list) with its threshold, the per-card rollback anchors,
 * and the in-flight toolkit session (pending proactive commands, requests waiting for their
 * response). Its storage form, versioned JSON, is `state-json.ts`.
 *
 * @module
 */
import type { Zone } from '../../crypto/keys.js';
import type {
  CounterMode,
  IntegrityKind,
  KeysetAlgorithm,
  Spi,
} from '../../protocol/secured-packet.js';
import type { AppState, DownloadResource, ResultCode } from '../../protocol/messages.js';
import type { SmsAddress } from '../../protocol/sms.js';

/**
 * Every threshold policy.
 *
 * @example
 * ```ts
 * THRESHOLD_POLICIES; // ['ask', 'lru', 'oldest']
 * ```
 */
export const THRESHOLD_POLICIES = ['ask', 'lru', 'oldest'] as const;

/**
 * Every unbind rule.
 *
 * @example
 * ```ts
 * UNBIND_RULES; // ['mask', 'delete']
 * ```
 */
export const UNBIND_RULES = ['mask', 'delete'] as const;

/**
 * One OTA keyset of the SIM: the KIc (ciphering) and KID (checksum) keys of one key version.
 *
 * @example
 * ```ts
 * import type { SimKeyset } from 'simvault/sim';
 * const ks: SimKeyset = { version: 1, algorithm: 'aes', kic: new Uint8Array(16), kid: new Uint8Array(16) };
 * ```
 */
export interface SimKeyset {
  /** Key version 1-15: the high nibble of KIc/KID. */
  version: number;
  /** Algorithm of both keys. */
  algorithm: KeysetAlgorithm;
  /** Ciphering key. */
  kic: Uint8Array;
  /** Checksum key. */
  kid: Uint8Array;
}

/**
 * What the SIM does when a new binding would exceed its threshold (patent step 311): ask the user
 * to release a card, or evict the least recently used or the oldest binding.
 *
 * @example
 * ```ts
 * import type { ThresholdPolicy } from 'simvault/sim';
 * const p: ThresholdPolicy = 'lru';
 * ```
 */
export type ThresholdPolicy = (typeof THRESHOLD_POLICIES)[number];

/**
 * How an unbound card leaves the list below the threshold (step 405): `mask` hides its
 * applications so a re-bind restores them, `delete` removes it. At the threshold it is always
 * deleted.
 *
 * @example
 * ```ts
 * import type { UnbindRule } from 'simvault/sim';
 * const r: UnbindRule = 'mask';
 * ```
 */
export type UnbindRule = (typeof UNBIND_RULES)[number];

/**
 * The binding threshold: at most `maxCards` bound cards and/or `maxBytes` of bound application
 * capacity (sum of the application sizes of bound cards).
 *
 * @example
 * ```ts
 * import type { SimThreshold } from 'simvault/sim';
 * const t: SimThreshold = { maxCards: 2, policy: 'lru', unbindRule: 'mask' };
 * ```
 */
export interface SimThreshold {
  /** Most bound cards, 1-64; absent: no limit (but the list never holds more than 64 entries). */
  maxCards?: number;
  /** Most bound capacity in bytes; absent: no limit. */
  maxBytes?: number;
  /** What to do at the threshold. */
  policy: ThresholdPolicy;
  /** Mask or delete an unbound card below the threshold. */
  unbindRule: UnbindRule;
}

/**
 * An application of a bound card, as the SIM lists it.
 *
 * @example
 * ```ts
 * import type { BoundApplication } from 'simvault/sim';
 * const app: BoundApplication = { aid: new Uint8Array(7), name: '手机电视', zone: 'multimedia', size: 2048,
 *   version: '1.0', state: 'active', installed: false };
 * ```
 */
export interface BoundApplication {
  /** Application identifier, 5-16 bytes. */
  aid: Uint8Array;
  /** Menu name, 1-64 UTF-8 bytes. */
  name: string;
  /** The zone it is stored in. */
  zone: Zone;
  /** Installed size in bytes (0 when unknown). */
  size: number;
  /** Version text, 0-16 bytes (empty when unknown). */
  version: string;
  /** Shown (`active`) or hidden but kept (`masked`). */
  state: AppState;
  /** Its file is on the card: set by launch-complete (505), cleared by a delete command (606). */
  installed: boolean;
}

/**
 * One entry of the binding list: a card, its applications and its rollback anchor.
 *
 * @example
 * ```ts
 * import type { BindingEntry } from 'simvault/sim';
 * const e: BindingEntry = { cid: new Uint8Array(16), bound: true, boundAt: 1, usedAt: 1, applications: [], anchors: {} };
 * ```
 */
export interface BindingEntry {
  /** The card's CID as given at binding; cards are matched on bytes 0-14. */
  cid: Uint8Array;
  /** Bound (`true`), or unbound but kept with its applications masked. */
  bound: boolean;
  /** Logical time of the binding (for the `oldest` policy). */
  boundAt: number;
  /** Logical time of the last use (for the `lru` policy). */
  usedAt: number;
  /** The card's applications, in menu order. */
  applications: BoundApplication[];
  /** Zone generations anchored for this card (rollback protection). */
  anchors: Partial<Record<Zone, number>>;
}

/**
 * A request the SIM sent and whose answer it waits for, or a download it waits to see completed.
 *
 * @example
 * ```ts
 * import type { PendingRequest } from 'simvault/sim';
 * const p: PendingRequest = { kind: 'bind', transactionId: 7, cid: new Uint8Array(16) };
 * ```
 */
export type PendingRequest =
  | {
      /** A bind request (step 305) or an unbind request (step 401), waiting for its response. */
      kind: 'bind' | 'unbind';
      /** Transaction id of the request; the response must carry the same one. */
      transactionId: number;
      /** CID of the card to bind or unbind, 16 bytes. */
      cid: Uint8Array;
    }
  | {
      /** A launch request (step 501) waiting for the download resource info, or a delete request (step 601) waiting for the delete command. */
      kind: 'launch' | 'delete';
      /** Transaction id of the request; the answer must carry the same one. */
      transactionId: number;
      /** CID of the bound card that holds the application, 16 bytes. */
      cid: Uint8Array;
      /** AID of the application to launch or delete, 5-16 bytes. */
      aid: Uint8Array;
    }
  | {
      /** A download the OTA server was told about (steps 502-503), waiting for LAUNCH COMPLETE from the handset (step 505). */
      kind: 'download';
      /** Transaction id of the launch request the download answers. */
      transactionId: number;
      /** CID of the card the file is written to, 16 bytes. */
      cid: Uint8Array;
      /** AID of the application being downloaded, 5-16 bytes. */
      aid: Uint8Array;
      /** The encrypted zone of the card the file goes to. */
      zone: Zone;
      /** The download resource info (URL, SHA-256 digest, size) the completed file is checked against. */
      resource: DownloadResource;
    };

/**
 * What choosing a menu or SELECT ITEM entry does.
 *
 * @example
 * ```ts
 * import type { MenuAction } from 'simvault/sim';
 * const a: MenuAction = { kind: 'launch', cid: new Uint8Array(16), aid: new Uint8Array(7) };
 * ```
 */
export type MenuAction =
  | {
      /** Open the SELECT ITEM sub-menu of an application (Launch, and Delete when its file is on the card). */
      kind: 'appMenu';
      /** CID of the bound card that holds the application, 16 bytes. */
      cid: Uint8Array;
      /** AID of the application, 5-16 bytes. */
      aid: Uint8Array;
    }
  | {
      /** Send a launch request for the application (step 501). */
      kind: 'launch';
      /** CID of the bound card that holds the application, 16 bytes. */
      cid: Uint8Array;
      /** AID of the application to launch, 5-16 bytes. */
      aid: Uint8Array;
    }
  | {
      /** Send a delete request for the application's file (step 601). */
      kind: 'delete';
      /** CID of the bound card that holds the file, 16 bytes. */
      cid: Uint8Array;
      /** AID of the application to delete, 5-16 bytes. */
      aid: Uint8Array;
    }
  | {
      /** Open the SELECT ITEM sub-menu of a bound card (Unbind). */
      kind: 'cardMenu';
      /** CID of the card, 16 bytes. */
      cid: Uint8Array;
    }
  | {
      /** Send an unbind request for the card (step 401). */
      kind: 'unbind';
      /** CID of the card to unbind, 16 bytes. */
      cid: Uint8Array;
    }
  | {
      /** Send a bind request for the card the user agreed to bind (step 305). */
      kind: 'bind';
      /** CID of the card to bind, 16 bytes. */
      cid: Uint8Array;
    }
  | {
      /** Release this bound card to make room for the pending bind (`ask` policy, step 311). */
      kind: 'release';
      /** CID of the bound card to release, 16 bytes. */
      cid: Uint8Array;
    }
  | {
      /** Show a continuation page of the main menu (the "More..." item). */
      kind: 'page';
      /** Index of the page to show; 0 is the SET UP MENU itself. */
      page: number;
    }
  | {
      /** Do nothing: the user backed out or declined. */
      kind: 'cancel';
    }
  | {
      /** Drop the pending bind at the threshold and tell the server the card was not kept (unbind request). */
      kind: 'cancelBind';
    }
  | {
      /** The user declined to bind the card ("Not now"): nothing is sent; the outcome is recorded. */
      kind: 'declineBind';
      /** CID of the card the user declined to bind, 16 bytes. */
      cid: Uint8Array;
    };

/**
 * One menu or SELECT ITEM entry: its item identifier and its action.
 *
 * @example
 * ```ts
 * import type { MenuChoice } from 'simvault/sim';
 * const c: MenuChoice = { id: 1, action: { kind: 'cancel' } };
 * ```
 */
export interface MenuChoice {
  /** Item identifier, 1-255. */
  id: number;
  /** What choosing it does. */
  action: MenuAction;
}

/**
 * A proactive command waiting to be fetched or answered.
 *
 * @example
 * ```ts
 * import type { ProactiveEntry } from 'simvault/sim';
 * const e: ProactiveEntry = { command: new Uint8Array([0xd0, 0x00]), commandNumber: 1, commandType: 0x13, choices: [] };
 * ```
 */
export interface ProactiveEntry {
  /** The whole proactive command, `D0 ...`. */
  command: Uint8Array;
  /** Its command number, 1-254. */
  commandNumber: number;
  /** Its command type (`0x13`, `0x24`, ...). */
  commandType: number;
  /** For SELECT ITEM: what each item does. */
  choices: MenuChoice[];
  /** For SELECT ITEM: what a user who backs out or does not answer triggers. */
  onCancel?: MenuAction;
}

/**
 * A secured packet the SIM sent, kept until its proof of receipt arrives (or newer ones push it
 * out), so a PoR can be verified and a "counter low" answered by resending.
 *
 * @example
 * ```ts
 * import type { SentPacket } from 'simvault/sim';
 * const s: SentPacket = { keyVersion: 1, counter: 5, spi: new Uint8Array([0x16, 0x09]), kic: 0x12, kid: 0x12,
 *   message: new Uint8Array(0), attempt: 1 };
 * ```
 */
export interface SentPacket {
  /** Key version the packet used. */
  keyVersion: number;
  /** Its counter. */
  counter: number;
  /** Its SPI. */
  spi: Uint8Array;
  /** Its KIc byte. */
  kic: number;
  /** Its KID byte. */
  kid: number;
  /** The simvault message it carried. */
  message: Uint8Array;
  /** 1 for a first sending. */
  attempt: number;
}

/**
 * A bind whose response arrived at the threshold under the `ask` policy: kept until the user
 * releases a card or declines.
 *
 * @example
 * ```ts
 * import type { PendingBind } from 'simvault/sim';
 * const p: PendingBind = { transactionId: 3, cid: new Uint8Array(16), applications: [] };
 * ```
 */
export interface PendingBind {
  /** The bind's transaction id. */
  transactionId: number;
  /** The card to bind. */
  cid: Uint8Array;
  /** Its applications. */
  applications: BoundApplication[];
}

/**
 * The most outcomes the SIM keeps; the oldest is forgotten beyond it.
 *
 * @example
 * ```ts
 * MAX_OUTCOMES; // 16
 * ```
 */
export const MAX_OUTCOMES = 16;

/**
 * Every flow whose outcome the SIM records for the handset.
 *
 * @example
 * ```ts
 * OUTCOME_FLOWS; // ['bind', 'unbind']
 * ```
 */
export const OUTCOME_FLOWS = ['bind', 'unbind'] as const;

/**
 * A flow whose outcome the SIM records: a bind (steps 305-311) or an unbind (401-405).
 *
 * @example
 * ```ts
 * const f: OutcomeFlow = 'bind';
 * ```
 */
export type OutcomeFlow = (typeof OUTCOME_FLOWS)[number];

/**
 * How a flow ended: the card application server's result code (`ok`, `alreadyBound`, …), or
 * `declined` when the user said "Not now". A bind the server granted but the SIM could not keep
 * (its threshold) is `thresholdReached`.
 *
 * @example
 * ```ts
 * const r: OutcomeResult = 'alreadyBound';
 * ```
 */
export type OutcomeResult = ResultCode | 'declined';

/**
 * The recorded outcome of the last bind or unbind of a card.
 *
 * @example
 * ```ts
 * const o: FlowOutcome = { flow: 'bind', cid: new Uint8Array(16), transactionId: 4, result: 'alreadyBound' };
 * ```
 */
export interface FlowOutcome {
  /** The flow. */
  flow: OutcomeFlow;
  /** The card, 16 bytes. */
  cid: Uint8Array;
  /** Transaction id of the request the outcome answers (0 when no request was sent). */
  transactionId: number;
  /** How it ended. */
  result: OutcomeResult;
}

/**
 * The whole state of the SIM applet.
 *
 * @example
 * ```ts
 * import { personalizeSim, type SimState } from 'simvault/sim';
 * const state: SimState = personalizeSim({ iccid: '89860012345678901234' }).state;
 * ```
 */
export interface SimState {
  /** ICCID, 10-20 digits. */
  iccid: string;
  /** IMSI, 6-15 digits, when known. */
  imsi?: string;
  /** Where the SIM's short messages go: the OTA server's address. */
  otaAddress: SmsAddress;
  /** TAR of this applet, 3 bytes. */
  tar: Uint8Array;
  /** OTA keysets, distinct versions. */
  keysets: SimKeyset[];
  /** The least protection an incoming command packet must have. */
  minimumSecurity: {
    /** Whether the packet must be ciphered with its KIc key (SPI1 b3 set). */
    ciphering: boolean;
    /** The weakest integrity check accepted (SPI1 b2-b1), ranked weakest first: none, RC, CC, DS. */
    integrity: IntegrityKind;
    /** The weakest counter mode accepted (SPI1 b5-b4), ranked weakest first: none, present-not-checked, must-be-higher, must-be-plus-one. */
    counter: CounterMode;
  };
  /** Largest accepted counter jump of a `must-be-higher` packet; absent: no bound. */
  maxCounterStep?: number;
  /** How the SIM secures its own packets: SPI and the key version of the keyset used. */
  mo: {
    /** The SPI of the SIM's outgoing command packets (TS 102 225): counter mode, ciphering, integrity and PoR request. */
    spi: Spi;
    /** Key version 1-15 of the keyset whose KIc/KID secure them; names one of `keysets`. */
    keyVersion: number;
  };
  /** Last accepted counter of incoming packets, indexed by key version 0-15. */
  mtCounters: number[];
  /** Last used counter of outgoing packets, indexed by key version 0-15. */
  moCounters: number[];
  /** The binding key, 32 bytes: never leaves the SIM. */
  bindingKey: Uint8Array;
  /** Binding threshold and policy. */
  threshold: SimThreshold;
  /** The binding list (= the STK application list). */
  cards: BindingEntry[];
  /** Version of the list last set by RFM (`stkListUpdate`); only grows. */
  listVersion: number;
  /** Logical clock for `boundAt` / `usedAt`. @internal */
  clock: number;
  /** Next transaction id for a request. @internal */
  nextTransactionId: number;
  /** Last proactive command number used. @internal */
  commandNumber: number;
  /** Requests waiting for their answer. @internal */
  pending: PendingRequest[];
  /** A bind waiting for the user to release a card (`ask` policy). @internal */
  pendingBind?: PendingBind;
  /** Messages for the handset (download resource info, delete commands), oldest first. @internal */
  mailbox: Uint8Array[];
  /** Proactive commands queued; the head is the one FETCH returns. @internal */
  proactive: ProactiveEntry[];
  /** The items of the last SET UP MENU. @internal */
  menu: MenuChoice[];
  /** Secured packets sent, newest last. @internal */
  sent: SentPacket[];
  /** How the last bind and unbind of each card ended, newest last (LAST OUTCOME answers them). @internal */
  outcomes: FlowOutcome[];
}
