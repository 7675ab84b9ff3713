/**
 * The emulated SIM: the simvault toolkit applet behind an {@link ApduTransport}. Every SIM step
 * of the patent runs through APDUs only — CARD INSERTED (303-305), SMS-PP download of bind and
 * unbind responses and RFM list updates (310-311, 405, claim 3), MENU SELECTION with SELECT ITEM
 * and TERMINAL RESPONSE (401, 501, 601), LAUNCH COMPLETE (505), GET ZONE KEYS and ROLLBACK
 * ANCHOR (504) — with the proactive commands it raises fetched by FETCH after `91xx`.
 *
 * Each command runs on a copy of the state; the copy replaces the state (and is handed to the
 * `commit` hook, e.g. an atomic state-file write) only when the command succeeded. A command
 * that fails for any reason leaves the state as it was, and `transmit` never throws: every
 * problem is a status word.
 *
 * @module
 */
import { concatBytes, equalBytes, utf8 } from '../../bytes.js';
import { deriveCardKeys, ZONES } from '../../crypto/keys.js';
import { ArgumentError, SimvaultError } from '../../errors.js';
import { SimError } from '../errors.js';
import { decodeCommandApdu, encodeResponseApdu, type CommandApdu } from '../../protocol/apdu.js';
import { decodeCid } from '../../protocol/cid.js';
import { deriveHandsetCredential } from '../../protocol/handset-credential.js';
import {
  APP_STATE_CODES,
  decodeMessage,
  encodeMessage,
  RESULT_CODES,
  ZONE_CODES,
  type SimvaultMessage,
  type Zone,
} from '../../protocol/messages.js';
import { ConcatReassembler } from '../../protocol/sms-concat.js';
import { decodeSmsTpdu, dcsCountsSeptets, encodeUserDataHeader } from '../../protocol/sms.js';
import { decodeEnvelope, type MenuSelection } from '../../protocol/toolkit-envelope.js';
import { decodeTerminalResponse, TOOLKIT_RESULT } from '../../protocol/toolkit-terminal.js';
import type { ApduTransport } from '../transport.js';
import {
  CARD_INSERTED_MODE,
  CARD_STATUS,
  MENU_ACTION,
  MENU_ITEM,
  OUTCOME_FLOW,
  SIM_INS,
  SIM_OUTCOME,
  SIMVAULT_APPLET_AID,
  SW,
} from './apdu-table.js';
import {
  findBoundCard,
  findCard,
  planBinding,
  releaseBinding,
  removeCard,
  sameCard,
  storeBinding,
  touchCard,
  applyStkList,
} from './binding-list.js';
import {
  buildPor,
  counterPorData,
  openIncomingPacket,
  porWanted,
  receivePor,
  sendPorBySms,
  sendSecuredMessage,
} from './ota-link.js';
import {
  cardLabel,
  MAX_PROACTIVE_QUEUE,
  queueChoice,
  queueMenuPage,
  queueNotice,
  queueSetUpMenu,
  queueSubMenu,
  menuPath,
} from './proactive.js';
import { clearOutcome, findOutcome, recordOutcome } from './outcomes.js';
import type { BoundApplication, MenuAction, PendingRequest, SimState } from './state.js';
import { simStateToJSON } from './state-json.js';

/** Most requests waiting for an answer; the oldest is forgotten beyond it. */
const MAX_PENDING = 32;
/** Most messages waiting for the handset; the oldest is dropped beyond it. */
const MAX_MAILBOX = 16;

/**
 * Options of a {@link SimCard}.
 *
 * @example
 * ```ts
 * import type { SimCardOptions } from 'simvault/sim';
 * const opts: SimCardOptions = { commit: async (state) => { void state; } };
 * ```
 */
export interface SimCardOptions {
  /**
   * Called with the new state after every command that changed it, before the response is
   * returned (a real SIM writes its EEPROM before answering). If it throws, the change is
   * dropped and the command answers `6F00`.
   */
  commit?: (state: SimState) => void | Promise<void>;
  /** Clock for concatenated-SMS timeouts (default `Date.now`). */
  now?: () => number;
}

interface Reply {
  data?: Uint8Array;
  sw: number;
}

const ok = (data?: Uint8Array): Reply => (data ? { data, sw: SW.ok } : { sw: SW.ok });
const status = (sw: number): Reply => ({ sw });

function nextTransactionId(state: SimState): number {
  const id = state.nextTransactionId;
  state.nextTransactionId = id >= 0xffffffff ? 0 : id + 1;
  return id;
}

function addPending(state: SimState, p: PendingRequest): void {
  state.pending.push(p);
  while (state.pending.length > MAX_PENDING) state.pending.shift();
}

function takePending(
  state: SimState,
  match: (p: PendingRequest) => boolean,
): PendingRequest | undefined {
  const i = state.pending.findIndex(match);
  return i < 0 ? undefined : state.pending.splice(i, 1)[0];
}

function zoneOfCode(code: number): Zone | undefined {
  return (Object.keys(ZONE_CODES) as Zone[]).find((z) => ZONE_CODES[z] === code);
}

/**
 * The simvault SIM applet as an APDU transport.
 *
 * @example
 * ```ts
 * import { SimCard, personalizeSim, SIMVAULT_APPLET_AID } from 'simvault/sim';
 * const sim = new SimCard(personalizeSim({ iccid: '89860012345678901234' }).state);
 * const rsp = await sim.transmit(new Uint8Array([0x00, 0xa4, 0x04, 0x00, SIMVAULT_APPLET_AID.length, ...SIMVAULT_APPLET_AID]));
 * rsp.at(-2); // 0x90
 * ```
 */
export class SimCard implements ApduTransport {
  private simState: SimState;
  private selectedApplet = false;
  private readonly commit: SimCardOptions['commit'];
  private readonly now: () => number;
  // Segments of concatenated SMS live in RAM only, as on a real card: a reset loses them.
  private readonly reassembler = new ConcatReassembler({ maxPending: 4 });

  /**
   * Power up a SIM with a state (loaded from a file, or fresh from {@link personalizeSim}).
   *
   * @param state - the SIM's state; the card keeps its own copy
   * @param options - commit hook and clock
   */
  constructor(state: SimState, options: SimCardOptions = {}) {
    this.simState = structuredClone(state);
    this.commit = options.commit;
    this.now = options.now ?? Date.now;
  }

  /**
   * A copy of the current state.
   *
   * @example
   * ```ts
   * import { SimCard, personalizeSim } from 'simvault/sim';
   * new SimCard(personalizeSim({ iccid: '89860012345678901234' }).state).state.iccid; // '89860012345678901234'
   * ```
   */
  get state(): SimState {
    return structuredClone(this.simState);
  }

  /**
   * Whether the applet is selected (a reset or another SELECT deselects it).
   *
   * @example
   * ```ts
   * import { SimCard, SimClient, personalizeSim } from 'simvault/sim';
   * const sim = new SimCard(personalizeSim({ iccid: '89860012345678901234' }).state);
   * await new SimClient(sim).select();
   * sim.selected; // true
   * ```
   */
  get selected(): boolean {
    return this.selectedApplet;
  }

  /**
   * Development and tests only: bind a card to this SIM without the servers, as if the card
   * application server had granted the bind with `applications` (none by default), and commit
   * the state (through the `commit` hook, e.g. to its state file). A card already bound stays as
   * it is. A real SIM binds only through the secured bind flow; use this where no servers run.
   *
   * @param cid - the card's 16-byte CID (its CRC byte may be `00`)
   * @param applications - the card's applications, as a bind response would list them
   * @returns `new`, or `existing` when the card was already bound
   * @throws `SIM_BINDING_LIST_FULL` when the card does not fit the SIM's threshold
   *
   * @example
   * ```ts
   * import { SimCard, personalizeSim } from 'simvault/sim';
   * import { fromHex } from 'simvault';
   * const sim = new SimCard(personalizeSim({ iccid: '89860012345678901234' }).state);
   * await sim.bindOffline(fromHex('035344535530314780401c751300637d')); // 'new'
   * ```
   */
  async bindOffline(
    cid: Uint8Array,
    applications: readonly BoundApplication[] = [],
  ): Promise<'new' | 'existing'> {
    if (!(cid instanceof Uint8Array) || cid.length !== 16)
      throw new ArgumentError('cid must be the 16-byte CID register');
    try {
      decodeCid(cid);
    } catch (e) {
      throw new ArgumentError(`cid is not a CID: ${(e as Error).message}`, 'INVALID_ARGUMENT', {
        cause: e,
      });
    }
    const work = structuredClone(this.simState);
    if (findBoundCard(work, cid)) return 'existing';
    const plan = planBinding(work, cid, applications);
    if (plan.kind !== 'fits')
      throw new SimError(
        'SIM_BINDING_LIST_FULL',
        `the card does not fit the SIM's threshold (${plan.kind === 'impossible' ? 'it is larger than the whole capacity' : 'unbind a card first'})`,
      );
    storeBinding(work, cid, applications);
    recordOutcome(work, 'bind', cid, 0, 'ok');
    await this.commit?.(structuredClone(work));
    this.simState = work;
    return 'new';
  }

  /**
   * Process one command APDU; resolves to the response APDU. Never rejects.
   *
   * @param command - the command APDU bytes
   *
   * @example
   * ```ts
   * import { SimCard, SIM_INS, personalizeSim } from 'simvault/sim';
   * const sim = new SimCard(personalizeSim({ iccid: '89860012345678901234' }).state);
   * await sim.transmit(new Uint8Array([0x80, SIM_INS.handsetMessage, 0x00, 0x00, 0x00])); // Uint8Array [0x69, 0x85]: applet not selected
   * ```
   */
  async transmit(command: Uint8Array): Promise<Uint8Array> {
    const reply = await this.process(command);
    return encodeResponseApdu({ data: reply.data ?? new Uint8Array(0), sw: reply.sw });
  }

  private async process(raw: Uint8Array): Promise<Reply> {
    if (!(raw instanceof Uint8Array) || raw.length < 4) return status(SW.wrongLength);
    let apdu: CommandApdu;
    try {
      apdu = decodeCommandApdu(raw);
    } catch (e) {
      if (e instanceof SimvaultError && (e as { field?: string }).field === 'INS')
        return status(SW.insNotSupported);
      return status(SW.wrongLength);
    }
    const work = structuredClone(this.simState);
    const selectedBefore = this.selectedApplet;
    let reply: Reply;
    try {
      reply = this.dispatch(work, apdu);
    } catch (e) {
      this.selectedApplet = selectedBefore;
      return status(e instanceof SimvaultError ? SW.incorrectData : SW.technicalProblem);
    }
    const success = reply.sw === SW.ok || reply.sw === SW.securityRefused;
    if (!success) return reply;
    if (apdu.le !== undefined && reply.data && reply.data.length > apdu.le) {
      this.selectedApplet = selectedBefore;
      return status(0x6c00 | (reply.data.length & 0xff));
    }
    const before = JSON.stringify(simStateToJSON(this.simState));
    const after = JSON.stringify(simStateToJSON(work));
    if (before !== after) {
      try {
        await this.commit?.(structuredClone(work));
      } catch {
        return status(SW.technicalProblem);
      }
      this.simState = work;
    }
    // FETCH itself answers 9000: the command it returned is out, and the next one can only
    // follow its TERMINAL RESPONSE.
    const head = this.simState.proactive[0];
    if (head && reply.sw === SW.ok && !(apdu.cla === 0x80 && apdu.ins === SIM_INS.fetch)) {
      return { ...reply, sw: 0x9100 | (head.command.length & 0xff) };
    }
    return reply;
  }

  private dispatch(state: SimState, apdu: CommandApdu): Reply {
    if (apdu.cla === 0x00) {
      if (apdu.ins === SIM_INS.select) return this.select(apdu);
      return status(SW.insNotSupported);
    }
    if (apdu.cla !== 0x80) return status(SW.claNotSupported);
    switch (apdu.ins) {
      case SIM_INS.terminalProfile:
        return this.terminalProfile(state, apdu);
      case SIM_INS.fetch:
        return fetchCommand(state, apdu);
      case SIM_INS.terminalResponse:
        return terminalResponse(state, apdu);
      case SIM_INS.envelope:
        return this.envelope(state, apdu);
      case SIM_INS.select:
        return status(SW.claNotSupported);
    }
    const proprietary: Record<number, (s: SimState, a: CommandApdu) => Reply> = {
      [SIM_INS.cardInserted]: cardInserted,
      [SIM_INS.getZoneKeys]: getZoneKeys,
      [SIM_INS.rollbackAnchor]: rollbackAnchor,
      [SIM_INS.launchComplete]: launchComplete,
      [SIM_INS.handsetMessage]: handsetMessage,
      [SIM_INS.getApplications]: getApplications,
      [SIM_INS.menuPath]: menuPathCommand,
      [SIM_INS.lastOutcome]: lastOutcome,
      [SIM_INS.handsetCredential]: handsetCredential,
    };
    const handler = proprietary[apdu.ins];
    if (!handler) return status(SW.insNotSupported);
    if (!this.selectedApplet) return status(SW.conditionsNotSatisfied);
    return handler(state, apdu);
  }

  private select(apdu: CommandApdu): Reply {
    if (apdu.p1 !== 0x04 || (apdu.p2 !== 0x00 && apdu.p2 !== 0x0c)) return status(SW.wrongP1P2);
    if (apdu.data.length < 5 || apdu.data.length > 16) return status(SW.wrongLength);
    if (!equalBytes(apdu.data, SIMVAULT_APPLET_AID)) {
      this.selectedApplet = false;
      return status(SW.notFound);
    }
    this.selectedApplet = true;
    if (apdu.p2 === 0x0c) return ok();
    const aid = SIMVAULT_APPLET_AID;
    return ok(new Uint8Array([0x6f, aid.length + 2, 0x84, aid.length, ...aid]));
  }

  private terminalProfile(state: SimState, apdu: CommandApdu): Reply {
    if (apdu.p1 !== 0 || apdu.p2 !== 0) return status(SW.wrongP1P2);
    if (apdu.data.length === 0) return status(SW.wrongLength);
    queueSetUpMenu(state);
    return ok();
  }

  private envelope(state: SimState, apdu: CommandApdu): Reply {
    if (apdu.p1 !== 0 || apdu.p2 !== 0) return status(SW.wrongP1P2);
    if (apdu.data.length === 0) return status(SW.wrongLength);
    if (state.proactive.length >= MAX_PROACTIVE_QUEUE) return status(SW.toolkitBusy);
    let env;
    try {
      env = decodeEnvelope(apdu.data);
    } catch {
      return status(SW.incorrectData);
    }
    if (env.kind === 'menuSelection') return menuSelection(state, env);
    return this.smsPpDownload(state, env.tpdu);
  }

  private smsPpDownload(state: SimState, tpdu: Uint8Array): Reply {
    let userData: Uint8Array;
    let source: string;
    try {
      const sms = decodeSmsTpdu(tpdu);
      if (
        sms.type !== 'deliver' ||
        sms.pid !== 0x7f ||
        dcsCountsSeptets(sms.dcs) ||
        !sms.userData.header
      )
        return status(SW.incorrectData);
      userData = new Uint8Array([
        ...encodeUserDataHeader(sms.userData.header),
        ...sms.userData.data,
      ]);
      source = sms.originator.digits;
    } catch {
      return status(SW.incorrectData);
    }
    let piece;
    try {
      piece = this.reassembler.add(userData, this.now(), source);
    } catch {
      return status(SW.incorrectData);
    }
    if (piece.status === 'incomplete') return ok();
    const command = piece.elements.some((e) => e.iei === 0x70);
    const response = piece.elements.some((e) => e.iei === 0x71);
    if (command === response) return status(SW.incorrectData);
    if (response)
      return receivePor(state, new Uint8Array([0x02, 0x71, 0x00, ...piece.data]))
        ? ok()
        : status(SW.securityRefused);
    return securedCommand(state, piece.data);
  }
}

// ---------------------------------------------------------------------------------------------
// Toolkit session.

function fetchCommand(state: SimState, apdu: CommandApdu): Reply {
  if (apdu.p1 !== 0 || apdu.p2 !== 0) return status(SW.wrongP1P2);
  if (apdu.data.length !== 0 || apdu.le === undefined) return status(SW.wrongLength);
  const head = state.proactive[0];
  if (!head) return status(SW.conditionsNotSatisfied);
  // The command stays at the head until its TERMINAL RESPONSE: a repeated FETCH gets it again.
  return ok(head.command.slice());
}

function terminalResponse(state: SimState, apdu: CommandApdu): Reply {
  if (apdu.p1 !== 0 || apdu.p2 !== 0) return status(SW.wrongP1P2);
  if (apdu.data.length === 0) return status(SW.wrongLength);
  const head = state.proactive[0];
  if (!head) return status(SW.conditionsNotSatisfied);
  let tr;
  try {
    tr = decodeTerminalResponse(apdu.data);
  } catch {
    return status(SW.incorrectData);
  }
  if (tr.commandNumber !== head.commandNumber || tr.commandType !== head.commandType)
    return status(SW.incorrectData);
  state.proactive.shift();
  if (head.commandType !== 0x24) return ok();
  // 0x0X results are successes (some with a qualification); the user chose an item.
  const chosen =
    tr.result.general < TOOLKIT_RESULT.terminatedByUser && tr.itemId !== undefined
      ? head.choices.find((c) => c.id === tr.itemId)
      : undefined;
  const action = chosen?.action ?? head.onCancel;
  if (action) runAction(state, action);
  return ok();
}

function menuSelection(state: SimState, env: MenuSelection): Reply {
  const choice = state.menu.find((c) => c.id === env.itemId);
  if (!choice) return status(SW.dataNotFound);
  if (env.helpRequested) {
    queueNotice(state, 'Choose an application to launch or delete it; choose a card to unbind it.');
    return ok();
  }
  return runAction(state, choice.action) ? ok() : status(SW.dataNotFound);
}

/** Do what a menu item says. Returns false when its card or application is gone. */
function runAction(state: SimState, action: MenuAction): boolean {
  switch (action.kind) {
    case 'appMenu':
    case 'cardMenu':
      return queueSubMenu(state, action);
    case 'page':
      return queueMenuPage(state, action.page);
    case 'cancel':
      return true;
    case 'bind':
      if (findBoundCard(state, action.cid)) return true;
      sendBindRequest(state, action.cid);
      return true;
    case 'launch':
    case 'delete': {
      const card = findBoundCard(state, action.cid);
      if (!card || !card.applications.some((a) => equalBytes(a.aid, action.aid))) return false;
      const transactionId = nextTransactionId(state);
      const message: SimvaultMessage =
        action.kind === 'launch'
          ? { type: 'launchRequest', transactionId, cid: card.cid, aid: action.aid }
          : { type: 'deleteRequest', transactionId, cid: card.cid, aid: action.aid };
      sendSecuredMessage(state, message);
      addPending(state, { kind: action.kind, transactionId, cid: card.cid, aid: action.aid });
      touchCard(state, card.cid);
      return true;
    }
    case 'unbind': {
      const card = findBoundCard(state, action.cid);
      if (!card) return false;
      sendUnbindRequest(state, card.cid);
      return true;
    }
    case 'release':
      return releaseForPendingBind(state, action.cid);
    case 'cancelBind': {
      const pb = state.pendingBind;
      if (!pb) return true;
      delete state.pendingBind;
      // The server bound the card; tell it the SIM did not keep it.
      sendUnbindRequest(state, pb.cid);
      recordOutcome(state, 'bind', pb.cid, pb.transactionId, 'thresholdReached');
      queueNotice(state, 'Card not bound: the card limit is reached');
      return true;
    }
    case 'declineBind':
      if (!findBoundCard(state, action.cid))
        recordOutcome(state, 'bind', action.cid, 0, 'declined');
      return true;
  }
}

function sendBindRequest(state: SimState, cid: Uint8Array): void {
  clearOutcome(state, 'bind', cid);
  const transactionId = nextTransactionId(state);
  sendSecuredMessage(state, {
    type: 'bindRequest',
    transactionId,
    cid,
    iccid: state.iccid,
    ...(state.imsi !== undefined ? { imsi: state.imsi } : {}),
  });
  addPending(state, { kind: 'bind', transactionId, cid: cid.slice() });
}

function sendUnbindRequest(state: SimState, cid: Uint8Array): void {
  clearOutcome(state, 'unbind', cid);
  const transactionId = nextTransactionId(state);
  sendSecuredMessage(state, { type: 'unbindRequest', transactionId, cid });
  addPending(state, { kind: 'unbind', transactionId, cid: cid.slice() });
}

// ---------------------------------------------------------------------------------------------
// Secured packets from the OTA server.

function securedCommand(state: SimState, bytes: Uint8Array): Reply {
  const opened = openIncomingPacket(state, bytes);
  if (opened.kind === 'refused') {
    const header = opened.header;
    if (!header || !porWanted(header.spi, opened.status)) return status(SW.securityRefused);
    const last = opened.keyVersion !== undefined ? (state.mtCounters[opened.keyVersion] ?? 0) : 0;
    const data = opened.status.startsWith('counter-') ? counterPorData(last) : new Uint8Array(0);
    const por = buildPor(state, header, opened.status, data);
    if (!por) return status(SW.securityRefused);
    if (header.spi.porViaSubmit) {
      sendPorBySms(state, por, Number(header.counter & 0xffn));
      return ok();
    }
    return { data: por, sw: SW.securityRefused };
  }
  const { packet } = opened;
  let result: number;
  try {
    result = handleServerMessage(state, decodeMessage(packet.data));
  } catch (e) {
    if (!(e instanceof SimvaultError)) throw e;
    result = SW.incorrectData;
  }
  const header = {
    spi: packet.spi,
    kic: packet.kic.raw,
    kid: packet.kid.raw,
    tar: packet.tar,
    counter: packet.counter,
  };
  if (!porWanted(packet.spi, 'ok')) return ok();
  // PoR data as for remote file management: commands run (1) and the last status word.
  const por = buildPor(state, header, 'ok', new Uint8Array([0x01, result >> 8, result & 0xff]));
  if (!por) return ok();
  if (packet.spi.porViaSubmit) {
    sendPorBySms(state, por, Number(packet.counter & 0xffn));
    return ok();
  }
  return ok(por);
}

/** Handle a message from the OTA server; returns the status word of its processing. */
function handleServerMessage(state: SimState, message: SimvaultMessage): number {
  switch (message.type) {
    case 'bindResponse':
      return bindResponse(state, message);
    case 'unbindResponse': {
      const p = takePending(
        state,
        (q) =>
          q.kind === 'unbind' &&
          q.transactionId === message.transactionId &&
          sameCard(q.cid, message.cid),
      );
      if (!p) return SW.dataNotFound;
      recordOutcome(state, 'unbind', p.cid, p.transactionId, message.result);
      if (message.result === 'ok' || message.result === 'notBound') {
        if (releaseBinding(state, message.cid) !== undefined) {
          queueSetUpMenu(state);
          queueNotice(state, `${cardLabel(message.cid)} unbound`);
        }
      } else {
        queueNotice(state, `Unbind refused: ${message.result}`);
      }
      return SW.ok;
    }
    case 'downloadResourceInfo': {
      const p = takePending(
        state,
        (q) =>
          q.kind === 'launch' &&
          q.transactionId === message.transactionId &&
          sameCard(q.cid, message.cid) &&
          equalBytes(q.aid, message.aid),
      );
      if (!p) return SW.dataNotFound;
      addPending(state, {
        kind: 'download',
        transactionId: message.transactionId,
        cid: p.cid,
        aid: message.aid,
        zone: message.zone,
        resource: message.resource,
      });
      pushMailbox(state, encodeMessage(message));
      return SW.ok;
    }
    case 'deleteCommand': {
      const p = takePending(
        state,
        (q) =>
          q.kind === 'delete' &&
          q.transactionId === message.transactionId &&
          sameCard(q.cid, message.cid) &&
          equalBytes(q.aid, message.aid),
      );
      if (!p) return SW.dataNotFound;
      const app = findCard(state, message.cid)?.applications.find((a) =>
        equalBytes(a.aid, message.aid),
      );
      if (app) app.installed = false;
      pushMailbox(state, encodeMessage(message));
      return SW.ok;
    }
    case 'stkListUpdate':
      if (message.listVersion <= state.listVersion) return SW.conditionsNotSatisfied;
      applyStkList(state, message.cards, message.listVersion);
      if (state.pendingBind && findBoundCard(state, state.pendingBind.cid))
        delete state.pendingBind;
      queueSetUpMenu(state);
      return SW.ok;
    default:
      return SW.incorrectData;
  }
}

function pushMailbox(state: SimState, bytes: Uint8Array): void {
  state.mailbox.push(bytes);
  while (state.mailbox.length > MAX_MAILBOX) state.mailbox.shift();
}

function bindResponse(
  state: SimState,
  message: Extract<SimvaultMessage, { type: 'bindResponse' }>,
): number {
  const p = takePending(
    state,
    (q) =>
      q.kind === 'bind' &&
      q.transactionId === message.transactionId &&
      sameCard(q.cid, message.cid),
  );
  if (!p) return SW.dataNotFound;
  if (message.result !== 'ok') {
    recordOutcome(state, 'bind', p.cid, p.transactionId, message.result);
    queueNotice(state, `Bind refused: ${message.result}`);
    return SW.ok;
  }
  const apps: BoundApplication[] = message.applications.map((a) => ({
    aid: a.aid,
    name: a.name,
    zone: a.zone,
    size: a.size,
    version: a.version,
    state: 'active',
    installed: false,
  }));
  return placeBinding(state, {
    transactionId: message.transactionId,
    cid: p.cid,
    applications: apps,
  });
}

/** Store a binding the server confirmed, checking the threshold first (step 311). */
function placeBinding(
  state: SimState,
  bind: { transactionId: number; cid: Uint8Array; applications: BoundApplication[] },
): number {
  const plan = planBinding(state, bind.cid, bind.applications);
  switch (plan.kind) {
    case 'impossible':
      sendUnbindRequest(state, bind.cid);
      recordOutcome(state, 'bind', bind.cid, bind.transactionId, 'thresholdReached');
      queueNotice(state, 'Card not bound: it exceeds the capacity of this SIM');
      return SW.notEnoughMemory;
    case 'ask': {
      const old = state.pendingBind;
      if (old && !sameCard(old.cid, bind.cid)) sendUnbindRequest(state, old.cid);
      state.pendingBind = {
        transactionId: bind.transactionId,
        cid: bind.cid.slice(),
        applications: bind.applications,
      };
      queueReleasePrompt(state);
      return SW.ok;
    }
    case 'evict':
      for (const card of plan.cards) {
        removeCard(state, card.cid);
        sendUnbindRequest(state, card.cid);
      }
      break;
    case 'fits':
      break;
  }
  storeBinding(state, bind.cid, bind.applications);
  recordOutcome(state, 'bind', bind.cid, bind.transactionId, 'ok');
  queueSetUpMenu(state);
  queueNotice(state, `${cardLabel(bind.cid)} bound`);
  return SW.ok;
}

function queueReleasePrompt(state: SimState): void {
  const lines: { id: number; text: string; action: MenuAction }[] = state.cards
    .filter((c) => c.bound && !(state.pendingBind && sameCard(c.cid, state.pendingBind.cid)))
    .map((c, i) => ({
      id: MENU_ITEM.firstCard + i,
      text: cardLabel(c.cid),
      action: { kind: 'release', cid: c.cid },
    }));
  lines.push({ id: MENU_ITEM.cancel, text: 'Cancel', action: { kind: 'cancelBind' } });
  queueChoice(state, 'Card limit reached: release a card', lines, { kind: 'cancelBind' });
}

function releaseForPendingBind(state: SimState, cid: Uint8Array): boolean {
  const pb = state.pendingBind;
  if (!pb || !findBoundCard(state, cid)) return false;
  removeCard(state, cid);
  sendUnbindRequest(state, cid);
  delete state.pendingBind;
  placeBinding(state, pb);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Proprietary commands.

function cardInserted(state: SimState, apdu: CommandApdu): Reply {
  const modes: number[] = Object.values(CARD_INSERTED_MODE);
  if (!modes.includes(apdu.p1) || apdu.p2 !== 0) return status(SW.wrongP1P2);
  if (apdu.data.length !== 16) return status(SW.wrongLength);
  try {
    decodeCid(apdu.data);
  } catch {
    return status(SW.incorrectData);
  }
  const cid = apdu.data;
  if (touchCard(state, cid)) return ok(new Uint8Array([CARD_STATUS.bound]));
  if (apdu.p1 === CARD_INSERTED_MODE.lookup) return ok(new Uint8Array([CARD_STATUS.unbound]));
  const asked = state.pending.some((p) => p.kind === 'bind' && sameCard(p.cid, cid));
  if (!asked) {
    if (state.proactive.length >= MAX_PROACTIVE_QUEUE) return status(SW.toolkitBusy);
    if (apdu.p1 === CARD_INSERTED_MODE.bindNow) sendBindRequest(state, cid);
    else {
      clearOutcome(state, 'bind', cid);
      queueChoice(
        state,
        'Bind this memory card?',
        [
          { id: MENU_ITEM.bind, text: 'Bind', action: { kind: 'bind', cid } },
          { id: MENU_ITEM.notNow, text: 'Not now', action: { kind: 'declineBind', cid } },
        ],
        { kind: 'declineBind', cid },
      );
    }
  }
  return ok(new Uint8Array([CARD_STATUS.bindPending]));
}

function getZoneKeys(state: SimState, apdu: CommandApdu): Reply {
  if (apdu.p1 > 4 || apdu.p2 !== 0) return status(SW.wrongP1P2);
  if (apdu.data.length !== 16) return status(SW.wrongLength);
  const card = findBoundCard(state, apdu.data);
  if (!card) return status(SW.securityNotSatisfied);
  touchCard(state, card.cid);
  const keys = deriveCardKeys(state.bindingKey, card.cid);
  const zones = apdu.p1 === 0 ? ZONES : ZONES.filter((z) => ZONE_CODES[z] === apdu.p1);
  const out = new Uint8Array(16 + zones.length * 33);
  out.set(keys.cardKeyIdentifier, 0);
  zones.forEach((z, i) => {
    out[16 + i * 33] = ZONE_CODES[z];
    out.set(keys.zones[z].zoneKey, 17 + i * 33);
  });
  return ok(out);
}

function rollbackAnchor(state: SimState, apdu: CommandApdu): Reply {
  if ((apdu.p1 !== 0 && apdu.p1 !== 1) || apdu.p2 !== 0) return status(SW.wrongP1P2);
  if (apdu.data.length < 16) return status(SW.wrongLength);
  const card = findBoundCard(state, apdu.data.subarray(0, 16));
  if (apdu.p1 === 0) {
    if (apdu.data.length !== 16) return status(SW.wrongLength);
    if (!card) return status(SW.securityNotSatisfied);
    const zones = ZONES.filter((z) => card.anchors[z] !== undefined);
    const out = new Uint8Array(zones.length * 5);
    zones.forEach((z, i) => {
      const g = card.anchors[z]!;
      out.set([ZONE_CODES[z], g >>> 24, (g >>> 16) & 0xff, (g >>> 8) & 0xff, g & 0xff], i * 5);
    });
    return ok(out);
  }
  const body = apdu.data.subarray(16);
  if (body.length === 0 || body.length % 5 !== 0) return status(SW.wrongLength);
  if (!card) return status(SW.securityNotSatisfied);
  const updates = new Map<Zone, number>();
  for (let i = 0; i < body.length; i += 5) {
    const zone = zoneOfCode(body[i]!);
    if (!zone || updates.has(zone)) return status(SW.incorrectData);
    const g =
      ((body[i + 1]! << 24) >>> 0) + (body[i + 2]! << 16) + (body[i + 3]! << 8) + body[i + 4]!;
    // An anchor only moves forward: going back would let a rolled-back card pass.
    if (g < (card.anchors[zone] ?? 0)) return status(SW.conditionsNotSatisfied);
    updates.set(zone, g);
  }
  for (const [zone, g] of updates) card.anchors[zone] = g;
  return ok();
}

function launchComplete(state: SimState, apdu: CommandApdu): Reply {
  if (apdu.p1 !== 0 || apdu.p2 !== 0) return status(SW.wrongP1P2);
  if (apdu.data.length === 0) return status(SW.wrongLength);
  let message;
  try {
    message = decodeMessage(apdu.data);
  } catch {
    return status(SW.incorrectData);
  }
  if (message.type !== 'launchComplete') return status(SW.incorrectData);
  const m = message;
  const p = takePending(
    state,
    (q) =>
      q.kind === 'download' &&
      q.transactionId === m.transactionId &&
      sameCard(q.cid, m.cid) &&
      equalBytes(q.aid, m.aid),
  );
  if (!p || p.kind !== 'download') return status(SW.dataNotFound);
  if (state.proactive.length >= MAX_PROACTIVE_QUEUE) return status(SW.toolkitBusy);
  const intact = m.size === p.resource.size && equalBytes(m.digest, p.resource.digest);
  const app = findBoundCard(state, p.cid)?.applications.find((a) => equalBytes(a.aid, p.aid));
  if (intact && app) {
    app.installed = true;
    touchCard(state, p.cid);
  }
  const result = !intact ? 'integrityFailed' : app ? 'ok' : 'notBound';
  sendSecuredMessage(state, {
    type: 'downloadComplete',
    transactionId: m.transactionId,
    cid: p.cid,
    aid: p.aid,
    result,
  });
  if (!intact) queueNotice(state, 'Download damaged: the file does not match');
  return ok();
}

function handsetMessage(state: SimState, apdu: CommandApdu): Reply {
  if ((apdu.p1 !== 0 && apdu.p1 !== 1) || apdu.p2 !== 0) return status(SW.wrongP1P2);
  if (apdu.data.length !== 0) return status(SW.wrongLength);
  const head = state.mailbox[0];
  if (!head) return status(SW.dataNotFound);
  if (apdu.p1 === 0) return ok(head.slice());
  state.mailbox.shift();
  return ok();
}

function getApplications(state: SimState, apdu: CommandApdu): Reply {
  if (apdu.p2 !== 0) return status(SW.wrongP1P2);
  if (apdu.data.length !== 16) return status(SW.wrongLength);
  const card = findBoundCard(state, apdu.data);
  if (!card) return status(SW.securityNotSatisfied);
  const app = card.applications[apdu.p1];
  if (!app) return status(SW.dataNotFound);
  return ok(
    new Uint8Array([
      app.aid.length,
      ...app.aid,
      ZONE_CODES[app.zone],
      APP_STATE_CODES[app.state],
      app.installed ? 1 : 0,
      ...utf8(app.name),
    ]),
  );
}

function menuPathCommand(state: SimState, apdu: CommandApdu): Reply {
  const action = (Object.keys(MENU_ACTION) as (keyof typeof MENU_ACTION)[]).find(
    (k) => MENU_ACTION[k] === apdu.p1,
  );
  if (action === undefined || apdu.p2 !== 0) return status(SW.wrongP1P2);
  const aidLength = apdu.data.length - 16;
  if (action === 'unbind' ? aidLength !== 0 : aidLength < 5 || aidLength > 16)
    return status(SW.wrongLength);
  const cid = apdu.data.subarray(0, 16);
  if (!findBoundCard(state, cid)) return status(SW.securityNotSatisfied);
  const path = menuPath(state, action, cid, aidLength ? apdu.data.subarray(16) : undefined);
  // The path starts at the SET UP MENU the terminal was last given.
  if (!path || !state.menu.some((c) => c.id === path[0])) return status(SW.dataNotFound);
  return ok(new Uint8Array(path));
}

function lastOutcome(state: SimState, apdu: CommandApdu): Reply {
  const flow = (Object.keys(OUTCOME_FLOW) as (keyof typeof OUTCOME_FLOW)[]).find(
    (k) => OUTCOME_FLOW[k] === apdu.p1,
  );
  if (flow === undefined || apdu.p2 !== 0) return status(SW.wrongP1P2);
  if (apdu.data.length !== 16) return status(SW.wrongLength);
  const o = findOutcome(state, flow, apdu.data);
  if (!o) return status(SW.dataNotFound);
  const result = o.result === 'declined' ? SIM_OUTCOME.declined : RESULT_CODES[o.result];
  const t = o.transactionId;
  return ok(new Uint8Array([result, t >>> 24, (t >>> 16) & 0xff, (t >>> 8) & 0xff, t & 0xff]));
}

/**
 * The handset's proof that it holds this SIM, for reading its queue at the OTA server: derived
 * one way from a keyset, so the handset learns nothing of KIc or KID.
 */
function handsetCredential(state: SimState, apdu: CommandApdu): Reply {
  if (apdu.p1 > 15 || apdu.p2 !== 0) return status(SW.wrongP1P2);
  if (apdu.data.length !== 0) return status(SW.wrongLength);
  const version = apdu.p1 === 0 ? state.mo.keyVersion : apdu.p1;
  const keyset = state.keysets.find((k) => k.version === version);
  if (!keyset) return status(SW.dataNotFound);
  const secret = deriveHandsetCredential(state.iccid, version, keyset.kic, keyset.kid);
  return ok(concatBytes(new Uint8Array([version]), secret));
}
