/**
 * The storage form of the SIM applet's state: versioned JSON with bytes as hex.
 * {@link parseSimStateJSON} validates every field of any JSON value, so a damaged or hand-edited
 * file is refused with a {@link SimStateError} naming the field, never half-used.
 *
 * @module
 */
import { toHex, utf8 } from '../../bytes.js';
import { ZONES, type Zone } from '../../crypto/keys.js';
import type { AppState } from '../../protocol/messages.js';
import {
  COUNTER_MODES,
  decodeSpi,
  encodeSpi,
  INTEGRITY_KINDS,
  KEYSET_ALGORITHMS,
  keysetKeyLengths,
  type Spi,
} from '../../protocol/secured-packet.js';
import type { SmsAddress } from '../../protocol/sms.js';
import { RESULT_CODES } from '../../protocol/messages.js';
import { fieldsOf, isRecord } from '../../validate.js';
import { SimError } from '../errors.js';
import {
  MAX_OUTCOMES,
  OUTCOME_FLOWS,
  THRESHOLD_POLICIES,
  UNBIND_RULES,
  type BindingEntry,
  type BoundApplication,
  type MenuAction,
  type MenuChoice,
  type OutcomeResult,
  type PendingRequest,
  type ProactiveEntry,
  type SimKeyset,
  type SimState,
  type SimThreshold,
} from './state.js';

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
export class SimStateError extends SimError {
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

// ---------------------------------------------------------------------------------------------
// JSON form.

const APP_STATES: readonly AppState[] = ['active', 'masked'];
const OUTCOME_RESULTS: readonly OutcomeResult[] = [
  ...(Object.keys(RESULT_CODES) as (keyof typeof RESULT_CODES)[]),
  'declined',
];
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
  'declineBind',
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
    outcomes: s.outcomes.map((o) => ({ ...o, cid: hex(o.cid) })),
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

const fields = fieldsOf(fail);
const { int, bool, oneOf, digits, text, list } = fields;

/** The top-level object is named `state` in messages; its fields go by their bare names. */
function obj(
  v: unknown,
  path: string,
  keys: readonly string[],
  optional: readonly string[] = [],
): Obj {
  if (path !== 'state') return fields.record(v, path, keys, optional);
  if (!isRecord(v)) fail(path, 'must be an object');
  return fields.record(v, '', keys, optional);
}

function bytes(v: unknown, path: string, min: number, max: number): Uint8Array {
  return fields.hex(v, path, min, max, { lowerOnly: true });
}

function counters(v: unknown, path: string): number[] {
  const l = list(v, path, 16);
  if (l.length !== 16) fail(path, 'must hold 16 counters (key versions 0-15)');
  return l.map((c, i) => int(c, `${path}[${i}]`, 0, COUNTER_MAX));
}

function parseKeyset(v: unknown, path: string): SimKeyset {
  const o = obj(v, path, ['version', 'algorithm', 'kic', 'kid']);
  const algorithm = oneOf(o['algorithm'], `${path}.algorithm`, KEYSET_ALGORITHMS);
  const lengths = keysetKeyLengths(algorithm);
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
    zone: oneOf(o['zone'], `${path}.zone`, ZONES),
    size: int(o['size'], `${path}.size`, 0, Number.MAX_SAFE_INTEGER),
    version: text(o['version'], `${path}.version`, 0, 16),
    state: oneOf(o['state'], `${path}.state`, APP_STATES),
    installed: bool(o['installed'], `${path}.installed`),
  };
}

function parseAnchors(v: unknown, path: string): Partial<Record<Zone, number>> {
  const o = obj(v, path, [], ZONES);
  const out: Partial<Record<Zone, number>> = {};
  for (const z of ZONES) if (o[z] !== undefined) out[z] = int(o[z], `${path}.${z}`, 0, 0xffffffff);
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
    case 'declineBind':
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
    zone: oneOf(head['zone'], `${path}.zone`, ZONES),
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
    // The value is any JSON: a number says which version it is, anything else is not one.
    const version = (value as Obj)['version'];
    fail(
      'version',
      typeof version === 'number'
        ? `format version ${version} is not supported (expected ${SIM_STATE_VERSION})`
        : `must be the number ${SIM_STATE_VERSION}`,
    );
  }
  // `outcomes` came after version 1 was first written: a state without it has recorded none.
  const o = obj(value, 'state', TOP_KEYS, ['imsi', 'maxCounterStep', 'pendingBind', 'outcomes']);
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
    policy: oneOf(th['policy'], 'threshold.policy', THRESHOLD_POLICIES),
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
      integrity: oneOf(msl['integrity'], 'minimumSecurity.integrity', INTEGRITY_KINDS),
      counter: oneOf(msl['counter'], 'minimumSecurity.counter', COUNTER_MODES),
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
    outcomes: [],
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
  if (o['outcomes'] !== undefined)
    state.outcomes = list(o['outcomes'], 'outcomes', MAX_OUTCOMES).map((v, i) => {
      const path = `outcomes[${i}]`;
      const e = obj(v, path, ['flow', 'cid', 'transactionId', 'result']);
      return {
        flow: oneOf(e['flow'], `${path}.flow`, OUTCOME_FLOWS),
        cid: bytes(e['cid'], `${path}.cid`, 16, 16),
        transactionId: int(e['transactionId'], `${path}.transactionId`, 0, 0xffffffff),
        result: oneOf(e['result'], `${path}.result`, OUTCOME_RESULTS),
      };
    });
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
