/**
 * The SIM applet's persistent state and its storage form. Everything a real SIM would keep in
 * EEPROM lives here: identity (ICCID, IMSI), the OTA keysets, TAR, minimum security level and
 * counters, the binding key, the binding list (= the STK application list) with its threshold,
 * the per-card rollback anchors, and the in-flight toolkit session (pending proactive commands,
 * requests waiting for their response). The storage form is versioned JSON with bytes as hex;
 * {@link decodeSimState} validates every field so a damaged file is refused, never half-used.
 *
 * @module
 */
import { fromHex, toHex, utf8 } from '../../bytes.js';
import { SimvaultError } from '../../errors.js';
import {
  decodeSpi,
  encodeSpi,
  type CounterMode,
  type IntegrityKind,
  type Spi,
} from '../../protocol/secured-packet.js';
import type { AppState, DownloadResource, Zone } from '../../protocol/messages.js';
import type { SmsAddress } from '../../protocol/sms.js';

/**
 * The storage format version written by {@link encodeSimState}.
 *
 * @example
 * ```ts
 * import { SIM_STATE_VERSION } from 'simvault/sim';
 * SIM_STATE_VERSION; // 1
 * ```
 */
export const SIM_STATE_VERSION = 1;

/** The largest 5-byte secured-packet counter. */
const COUNTER_MAX = 2 ** 40 - 1;

/**
 * A SIM state that cannot be used: unreadable, of another version, or inconsistent. Code
 * `SIM_BAD_STATE`; the message names the field.
 *
 * @example
 * ```ts
 * import { SimStateError } from 'simvault/sim';
 * const e = new SimStateError('keysets[0].kic', 'must be 16 bytes');
 * e.code; // 'SIM_BAD_STATE'
 * ```
 */
export class SimStateError extends SimvaultError {
  /** The field at fault, as a path (`cards[2].cid`). */
  readonly field: string;

  /**
   * Create a state error for a field.
   *
   * @param field - path of the field at fault
   * @param detail - what is wrong with it
   */
  constructor(field: string, detail: string) {
    super('SIM_BAD_STATE', `SIM state ${field}: ${detail}`);
    this.field = field;
  }
}

/**
 * Algorithm of an OTA keyset: AES (CBC + CMAC) or 3DES (CBC + CBC-MAC) with 2 or 3 keys.
 *
 * @example
 * ```ts
 * import type { SimKeysetAlgorithm } from 'simvault/sim';
 * const alg: SimKeysetAlgorithm = 'aes';
 * ```
 */
export type SimKeysetAlgorithm = 'aes' | '3des-2key' | '3des-3key';

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
  algorithm: SimKeysetAlgorithm;
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
export type ThresholdPolicy = 'ask' | 'lru' | 'oldest';

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
export type UnbindRule = 'mask' | 'delete';

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
    /** The weakest integrity check accepted (SPI1 b2-b1), ranked none < RC < CC < DS. */
    integrity: IntegrityKind;
    /** The weakest counter mode accepted (SPI1 b5-b4), ranked none < present-not-checked < must-be-higher < must-be-plus-one. */
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
  /** Logical clock for `boundAt` / `usedAt`. */
  clock: number;
  /** Next transaction id for a request. */
  nextTransactionId: number;
  /** Last proactive command number used. */
  commandNumber: number;
  /** Requests waiting for their answer. */
  pending: PendingRequest[];
  /** A bind waiting for the user to release a card (`ask` policy). */
  pendingBind?: PendingBind;
  /** Messages for the handset (download resource info, delete commands), oldest first. */
  mailbox: Uint8Array[];
  /** Proactive commands queued; the head is the one FETCH returns. */
  proactive: ProactiveEntry[];
  /** The items of the last SET UP MENU. */
  menu: MenuChoice[];
  /** Secured packets sent, newest last. */
  sent: SentPacket[];
}

// ---------------------------------------------------------------------------------------------
// JSON form.

const ZONE_NAMES: readonly Zone[] = ['operator', 'advertising', 'multimedia', 'user'];
const INTEGRITY: readonly IntegrityKind[] = ['none', 'rc', 'cc', 'ds'];
const COUNTER: readonly CounterMode[] = [
  'none',
  'present-not-checked',
  'must-be-higher',
  'must-be-plus-one',
];
const ALGORITHMS: readonly SimKeysetAlgorithm[] = ['aes', '3des-2key', '3des-3key'];
const POLICIES: readonly ThresholdPolicy[] = ['ask', 'lru', 'oldest'];
const UNBIND_RULES: readonly UnbindRule[] = ['mask', 'delete'];
const APP_STATES: readonly AppState[] = ['active', 'masked'];
const ACTION_KINDS = [
  'appMenu',
  'launch',
  'delete',
  'cardMenu',
  'unbind',
  'bind',
  'release',
  'page',
  'cancel',
  'cancelBind',
] as const;

function hex(b: Uint8Array): string {
  return toHex(b);
}

function actionJson(a: MenuAction): Record<string, unknown> {
  const out: Record<string, unknown> = { kind: a.kind };
  if ('cid' in a) out['cid'] = hex(a.cid);
  if ('aid' in a) out['aid'] = hex(a.aid);
  if ('page' in a) out['page'] = a.page;
  return out;
}

function pendingJson(p: PendingRequest): Record<string, unknown> {
  const out: Record<string, unknown> = {
    kind: p.kind,
    transactionId: p.transactionId,
    cid: hex(p.cid),
  };
  if ('aid' in p) out['aid'] = hex(p.aid);
  if (p.kind === 'download') {
    out['zone'] = p.zone;
    out['resource'] = {
      url: p.resource.url,
      digest: hex(p.resource.digest),
      size: p.resource.size,
    };
  }
  return out;
}

function appJson(a: BoundApplication): Record<string, unknown> {
  return {
    aid: hex(a.aid),
    name: a.name,
    zone: a.zone,
    size: a.size,
    version: a.version,
    state: a.state,
    installed: a.installed,
  };
}

/**
 * The JSON-safe form of a state (bytes as hex), as stored in a state file.
 *
 * @example
 * ```ts
 * import { personalizeSim, simStateToJSON } from 'simvault/sim';
 * simStateToJSON(personalizeSim({ iccid: '89860012345678901234' }).state)['version']; // 1
 * ```
 */
export function simStateToJSON(s: SimState): Record<string, unknown> {
  return {
    version: SIM_STATE_VERSION,
    iccid: s.iccid,
    ...(s.imsi !== undefined ? { imsi: s.imsi } : {}),
    otaAddress: { ton: s.otaAddress.ton, npi: s.otaAddress.npi, digits: s.otaAddress.digits },
    tar: hex(s.tar),
    keysets: s.keysets.map((k) => ({
      version: k.version,
      algorithm: k.algorithm,
      kic: hex(k.kic),
      kid: hex(k.kid),
    })),
    minimumSecurity: { ...s.minimumSecurity },
    ...(s.maxCounterStep !== undefined ? { maxCounterStep: s.maxCounterStep } : {}),
    mo: { spi: hex(encodeSpi(s.mo.spi)), keyVersion: s.mo.keyVersion },
    mtCounters: [...s.mtCounters],
    moCounters: [...s.moCounters],
    bindingKey: hex(s.bindingKey),
    threshold: { ...s.threshold },
    cards: s.cards.map((c) => ({
      cid: hex(c.cid),
      bound: c.bound,
      boundAt: c.boundAt,
      usedAt: c.usedAt,
      applications: c.applications.map(appJson),
      anchors: { ...c.anchors },
    })),
    listVersion: s.listVersion,
    clock: s.clock,
    nextTransactionId: s.nextTransactionId,
    commandNumber: s.commandNumber,
    pending: s.pending.map(pendingJson),
    ...(s.pendingBind
      ? {
          pendingBind: {
            transactionId: s.pendingBind.transactionId,
            cid: hex(s.pendingBind.cid),
            applications: s.pendingBind.applications.map(appJson),
          },
        }
      : {}),
    mailbox: s.mailbox.map(hex),
    proactive: s.proactive.map((p) => ({
      command: hex(p.command),
      commandNumber: p.commandNumber,
      commandType: p.commandType,
      choices: p.choices.map((c) => ({ id: c.id, action: actionJson(c.action) })),
      ...(p.onCancel ? { onCancel: actionJson(p.onCancel) } : {}),
    })),
    menu: s.menu.map((c) => ({ id: c.id, action: actionJson(c.action) })),
    sent: s.sent.map((p) => ({ ...p, spi: hex(p.spi), message: hex(p.message) })),
  };
}

/**
 * Encode a state for storage: UTF-8 JSON of {@link simStateToJSON}, newline-terminated.
 *
 * @example
 * ```ts
 * import { encodeSimState, decodeSimState, personalizeSim } from 'simvault/sim';
 * const { state } = personalizeSim({ iccid: '89860012345678901234' });
 * decodeSimState(encodeSimState(state)).iccid; // '89860012345678901234'
 * ```
 */
export function encodeSimState(state: SimState): Uint8Array {
  // Validate on the way out too: a state that would not load again is never written.
  const json = simStateToJSON(state);
  parseSimStateJSON(json);
  return utf8(`${JSON.stringify(json, null, 2)}\n`);
}

/**
 * Decode and validate a stored state. Any defect — bad JSON, another version, a missing field,
 * a value out of range, an inconsistency between fields — is a {@link SimStateError}.
 *
 * @example
 * ```ts
 * import { decodeSimState } from 'simvault/sim';
 * try { decodeSimState(new TextEncoder().encode('{}')); } catch (e) { (e as Error).name; } // 'SimStateError'
 * ```
 */
export function decodeSimState(bytes: Uint8Array): SimState {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new SimStateError('file', `not UTF-8 JSON (${(e as Error).message})`);
  }
  return parseSimStateJSON(value);
}

// ---------------------------------------------------------------------------------------------
// Validation.

type Obj = Record<string, unknown>;

function fail(path: string, detail: string): never {
  throw new SimStateError(path, detail);
}

function obj(
  v: unknown,
  path: string,
  keys: readonly string[],
  optional: readonly string[] = [],
): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'must be an object');
  const o = v as Obj;
  const child = (k: string): string => (path === 'state' ? k : `${path}.${k}`);
  for (const k of Object.keys(o))
    if (!keys.includes(k) && !optional.includes(k)) fail(child(k), 'unknown field');
  for (const k of keys) if (!Object.hasOwn(o, k)) fail(child(k), 'is missing');
  return o;
}

function int(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max)
    fail(path, `must be an integer ${min}..${max}`);
  return v;
}

function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') fail(path, 'must be a boolean');
  return v;
}

function oneOf<T extends string>(v: unknown, path: string, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !allowed.includes(v as T))
    fail(path, `must be one of ${allowed.join(', ')}`);
  return v as T;
}

function bytes(v: unknown, path: string, min: number, max: number): Uint8Array {
  if (typeof v !== 'string' || !/^([0-9a-f]{2})*$/.test(v)) fail(path, 'must be lower-case hex');
  const b = fromHex(v);
  if (b.length < min || b.length > max)
    fail(path, min === max ? `must be ${min} bytes` : `must be ${min}-${max} bytes`);
  return b;
}

function digits(v: unknown, path: string, min: number, max: number): string {
  if (typeof v !== 'string' || !new RegExp(`^\\d{${min},${max}}$`).test(v))
    fail(path, `must be ${min}-${max} decimal digits`);
  return v;
}

function text(v: unknown, path: string, min: number, max: number): string {
  if (typeof v !== 'string') fail(path, 'must be a string');
  const n = utf8(v).length;
  if (n < min || n > max || /\p{Cc}/u.test(v))
    fail(path, `must be ${min}-${max} UTF-8 bytes without control characters`);
  return v;
}

function list(v: unknown, path: string, max: number): unknown[] {
  if (!Array.isArray(v)) fail(path, 'must be an array');
  if (v.length > max) fail(path, `holds at most ${max} entries`);
  return v;
}

function counters(v: unknown, path: string): number[] {
  const l = list(v, path, 16);
  if (l.length !== 16) fail(path, 'must hold 16 counters (key versions 0-15)');
  return l.map((c, i) => int(c, `${path}[${i}]`, 0, COUNTER_MAX));
}

function keyLengths(algorithm: SimKeysetAlgorithm): readonly number[] {
  return algorithm === 'aes' ? [16, 24, 32] : algorithm === '3des-2key' ? [16] : [24];
}

function parseKeyset(v: unknown, path: string): SimKeyset {
  const o = obj(v, path, ['version', 'algorithm', 'kic', 'kid']);
  const algorithm = oneOf(o['algorithm'], `${path}.algorithm`, ALGORITHMS);
  const lengths = keyLengths(algorithm);
  const key = (name: 'kic' | 'kid'): Uint8Array => {
    const k = bytes(o[name], `${path}.${name}`, 16, 32);
    if (!lengths.includes(k.length))
      fail(`${path}.${name}`, `must be ${lengths.join(' or ')} bytes for ${algorithm}`);
    return k;
  };
  return {
    version: int(o['version'], `${path}.version`, 1, 15),
    algorithm,
    kic: key('kic'),
    kid: key('kid'),
  };
}

function parseApp(v: unknown, path: string): BoundApplication {
  const o = obj(v, path, ['aid', 'name', 'zone', 'size', 'version', 'state', 'installed']);
  return {
    aid: bytes(o['aid'], `${path}.aid`, 5, 16),
    name: text(o['name'], `${path}.name`, 1, 64),
    zone: oneOf(o['zone'], `${path}.zone`, ZONE_NAMES),
    size: int(o['size'], `${path}.size`, 0, Number.MAX_SAFE_INTEGER),
    version: text(o['version'], `${path}.version`, 0, 16),
    state: oneOf(o['state'], `${path}.state`, APP_STATES),
    installed: bool(o['installed'], `${path}.installed`),
  };
}

function parseAnchors(v: unknown, path: string): Partial<Record<Zone, number>> {
  const o = obj(v, path, [], ZONE_NAMES);
  const out: Partial<Record<Zone, number>> = {};
  for (const z of ZONE_NAMES)
    if (o[z] !== undefined) out[z] = int(o[z], `${path}.${z}`, 0, 0xffffffff);
  return out;
}

function parseCard(v: unknown, path: string): BindingEntry {
  const o = obj(v, path, ['cid', 'bound', 'boundAt', 'usedAt', 'applications', 'anchors']);
  const applications = list(o['applications'], `${path}.applications`, 64).map((a, i) =>
    parseApp(a, `${path}.applications[${i}]`),
  );
  return {
    cid: bytes(o['cid'], `${path}.cid`, 16, 16),
    bound: bool(o['bound'], `${path}.bound`),
    boundAt: int(o['boundAt'], `${path}.boundAt`, 0, Number.MAX_SAFE_INTEGER),
    usedAt: int(o['usedAt'], `${path}.usedAt`, 0, Number.MAX_SAFE_INTEGER),
    applications,
    anchors: parseAnchors(o['anchors'], `${path}.anchors`),
  };
}

function parseAction(v: unknown, path: string): MenuAction {
  const raw = obj(v, path, ['kind'], ['cid', 'aid', 'page']);
  const kind = oneOf(raw['kind'], `${path}.kind`, ACTION_KINDS);
  const cid = (): Uint8Array => bytes(raw['cid'], `${path}.cid`, 16, 16);
  const aid = (): Uint8Array => bytes(raw['aid'], `${path}.aid`, 5, 16);
  const only = (keys: string[]): void => {
    for (const k of Object.keys(raw))
      if (k !== 'kind' && !keys.includes(k))
        fail(`${path}.${k}`, `not a field of a ${kind} action`);
  };
  switch (kind) {
    case 'appMenu':
    case 'launch':
    case 'delete':
      only(['cid', 'aid']);
      return { kind, cid: cid(), aid: aid() };
    case 'cardMenu':
    case 'unbind':
    case 'bind':
    case 'release':
      only(['cid']);
      return { kind, cid: cid() };
    case 'page':
      only(['page']);
      return { kind, page: int(raw['page'], `${path}.page`, 0, 255) };
    case 'cancel':
    case 'cancelBind':
      only([]);
      return { kind };
  }
}

function parseChoices(v: unknown, path: string): MenuChoice[] {
  const choices = list(v, path, 255).map((c, i) => {
    const o = obj(c, `${path}[${i}]`, ['id', 'action']);
    return {
      id: int(o['id'], `${path}[${i}].id`, 1, 255),
      action: parseAction(o['action'], `${path}[${i}].action`),
    };
  });
  if (new Set(choices.map((c) => c.id)).size !== choices.length)
    fail(path, 'item identifiers must be distinct');
  return choices;
}

function parsePending(v: unknown, path: string): PendingRequest {
  const head = obj(v, path, ['kind', 'transactionId', 'cid'], ['aid', 'zone', 'resource']);
  const kind = oneOf(head['kind'], `${path}.kind`, [
    'bind',
    'unbind',
    'launch',
    'delete',
    'download',
  ] as const);
  const transactionId = int(head['transactionId'], `${path}.transactionId`, 0, 0xffffffff);
  const cid = bytes(head['cid'], `${path}.cid`, 16, 16);
  if (kind === 'bind' || kind === 'unbind') {
    obj(v, path, ['kind', 'transactionId', 'cid']);
    return { kind, transactionId, cid };
  }
  const aid = bytes(head['aid'], `${path}.aid`, 5, 16);
  if (kind === 'launch' || kind === 'delete') {
    obj(v, path, ['kind', 'transactionId', 'cid', 'aid']);
    return { kind, transactionId, cid, aid };
  }
  obj(v, path, ['kind', 'transactionId', 'cid', 'aid', 'zone', 'resource']);
  const r = obj(head['resource'], `${path}.resource`, ['url', 'digest', 'size']);
  const url = text(r['url'], `${path}.resource.url`, 1, 255);
  return {
    kind,
    transactionId,
    cid,
    aid,
    zone: oneOf(head['zone'], `${path}.zone`, ZONE_NAMES),
    resource: {
      url,
      digest: bytes(r['digest'], `${path}.resource.digest`, 32, 32),
      size: int(r['size'], `${path}.resource.size`, 0, Number.MAX_SAFE_INTEGER),
    },
  };
}

function parseAddress(v: unknown, path: string): SmsAddress {
  const o = obj(v, path, ['ton', 'npi', 'digits']);
  return {
    ton: int(o['ton'], `${path}.ton`, 0, 7),
    npi: int(o['npi'], `${path}.npi`, 0, 15),
    digits: digits(o['digits'], `${path}.digits`, 1, 20),
  };
}

const TOP_KEYS = [
  'version',
  'iccid',
  'otaAddress',
  'tar',
  'keysets',
  'minimumSecurity',
  'mo',
  'mtCounters',
  'moCounters',
  'bindingKey',
  'threshold',
  'cards',
  'listVersion',
  'clock',
  'nextTransactionId',
  'commandNumber',
  'pending',
  'mailbox',
  'proactive',
  'menu',
  'sent',
] as const;

/**
 * Validate the JSON form of a state (as {@link simStateToJSON} writes it) and build the state.
 * Throws {@link SimStateError} naming the first bad field.
 *
 * @example
 * ```ts
 * import { parseSimStateJSON, personalizeSim, simStateToJSON } from 'simvault/sim';
 * const json = simStateToJSON(personalizeSim({ iccid: '89860012345678901234' }).state);
 * parseSimStateJSON(json).listVersion; // 0
 * ```
 */
export function parseSimStateJSON(value: unknown): SimState {
  if (
    typeof value === 'object' &&
    value !== null &&
    'version' in value &&
    (value as Obj)['version'] !== SIM_STATE_VERSION
  ) {
    fail(
      'version',
      `format version ${String((value as Obj)['version'])} is not supported (expected ${SIM_STATE_VERSION})`,
    );
  }
  const o = obj(value, 'state', TOP_KEYS, ['imsi', 'maxCounterStep', 'pendingBind']);
  const keysets = list(o['keysets'], 'keysets', 15).map((k, i) => parseKeyset(k, `keysets[${i}]`));
  if (keysets.length === 0) fail('keysets', 'needs at least one keyset');
  if (new Set(keysets.map((k) => k.version)).size !== keysets.length)
    fail('keysets', 'key versions must be distinct');
  const msl = obj(o['minimumSecurity'], 'minimumSecurity', ['ciphering', 'integrity', 'counter']);
  const mo = obj(o['mo'], 'mo', ['spi', 'keyVersion']);
  let moSpi: Spi;
  try {
    moSpi = decodeSpi(bytes(mo['spi'], 'mo.spi', 2, 2));
  } catch (e) {
    if (e instanceof SimStateError) throw e;
    fail('mo.spi', (e as Error).message);
  }
  const moKeyVersion = int(mo['keyVersion'], 'mo.keyVersion', 1, 15);
  if (!keysets.some((k) => k.version === moKeyVersion))
    fail('mo.keyVersion', 'must name one of the keysets');
  const th = obj(o['threshold'], 'threshold', ['policy', 'unbindRule'], ['maxCards', 'maxBytes']);
  const threshold: SimThreshold = {
    policy: oneOf(th['policy'], 'threshold.policy', POLICIES),
    unbindRule: oneOf(th['unbindRule'], 'threshold.unbindRule', UNBIND_RULES),
  };
  if (th['maxCards'] !== undefined)
    threshold.maxCards = int(th['maxCards'], 'threshold.maxCards', 1, 64);
  if (th['maxBytes'] !== undefined)
    threshold.maxBytes = int(th['maxBytes'], 'threshold.maxBytes', 1, Number.MAX_SAFE_INTEGER);
  const cards = list(o['cards'], 'cards', 64).map((c, i) => parseCard(c, `cards[${i}]`));
  const ids = new Set(cards.map((c) => toHex(c.cid.subarray(0, 15))));
  if (ids.size !== cards.length) fail('cards', 'a card is listed twice');
  const state: SimState = {
    iccid: digits(o['iccid'], 'iccid', 10, 20),
    otaAddress: parseAddress(o['otaAddress'], 'otaAddress'),
    tar: bytes(o['tar'], 'tar', 3, 3),
    keysets,
    minimumSecurity: {
      ciphering: bool(msl['ciphering'], 'minimumSecurity.ciphering'),
      integrity: oneOf(msl['integrity'], 'minimumSecurity.integrity', INTEGRITY),
      counter: oneOf(msl['counter'], 'minimumSecurity.counter', COUNTER),
    },
    mo: { spi: moSpi, keyVersion: moKeyVersion },
    mtCounters: counters(o['mtCounters'], 'mtCounters'),
    moCounters: counters(o['moCounters'], 'moCounters'),
    bindingKey: bytes(o['bindingKey'], 'bindingKey', 32, 32),
    threshold,
    cards,
    listVersion: int(o['listVersion'], 'listVersion', 0, 0xffffffff),
    clock: int(o['clock'], 'clock', 0, Number.MAX_SAFE_INTEGER),
    nextTransactionId: int(o['nextTransactionId'], 'nextTransactionId', 0, 0xffffffff),
    commandNumber: int(o['commandNumber'], 'commandNumber', 0, 254),
    pending: list(o['pending'], 'pending', 64).map((p, i) => parsePending(p, `pending[${i}]`)),
    mailbox: list(o['mailbox'], 'mailbox', 16).map((m, i) => bytes(m, `mailbox[${i}]`, 1, 4096)),
    proactive: list(o['proactive'], 'proactive', 16).map((p, i) => {
      const path = `proactive[${i}]`;
      const e = obj(p, path, ['command', 'commandNumber', 'commandType', 'choices'], ['onCancel']);
      const entry: ProactiveEntry = {
        command: bytes(e['command'], `${path}.command`, 2, 258),
        commandNumber: int(e['commandNumber'], `${path}.commandNumber`, 1, 254),
        commandType: int(e['commandType'], `${path}.commandType`, 0, 255),
        choices: parseChoices(e['choices'], `${path}.choices`),
      };
      if (e['onCancel'] !== undefined)
        entry.onCancel = parseAction(e['onCancel'], `${path}.onCancel`);
      return entry;
    }),
    menu: parseChoices(o['menu'], 'menu'),
    sent: list(o['sent'], 'sent', 16).map((p, i) => {
      const path = `sent[${i}]`;
      const e = obj(p, path, ['keyVersion', 'counter', 'spi', 'kic', 'kid', 'message', 'attempt']);
      return {
        keyVersion: int(e['keyVersion'], `${path}.keyVersion`, 0, 15),
        counter: int(e['counter'], `${path}.counter`, 0, COUNTER_MAX),
        spi: bytes(e['spi'], `${path}.spi`, 2, 2),
        kic: int(e['kic'], `${path}.kic`, 0, 255),
        kid: int(e['kid'], `${path}.kid`, 0, 255),
        message: bytes(e['message'], `${path}.message`, 1, 4096),
        attempt: int(e['attempt'], `${path}.attempt`, 1, 255),
      };
    }),
  };
  if (o['imsi'] !== undefined) state.imsi = digits(o['imsi'], 'imsi', 6, 15);
  if (o['maxCounterStep'] !== undefined)
    state.maxCounterStep = int(o['maxCounterStep'], 'maxCounterStep', 1, COUNTER_MAX);
  if (o['pendingBind'] !== undefined) {
    const pb = obj(o['pendingBind'], 'pendingBind', ['transactionId', 'cid', 'applications']);
    state.pendingBind = {
      transactionId: int(pb['transactionId'], 'pendingBind.transactionId', 0, 0xffffffff),
      cid: bytes(pb['cid'], 'pendingBind.cid', 16, 16),
      applications: list(pb['applications'], 'pendingBind.applications', 64).map((a, i) =>
        parseApp(a, `pendingBind.applications[${i}]`),
      ),
    };
  }
  return state;
}
