/**
 * The handset's side of the simvault applet: typed calls over any {@link ApduTransport} (the
 * emulated {@link SimCard} or a real SIM behind a reader). Builds the APDUs of
 * `docs/sim-apdus.md`, checks status words, decodes the answers, and runs proactive sessions
 * (FETCH, then a TERMINAL RESPONSE for each command).
 *
 * @module
 */
import { concatBytes } from '../../bytes.js';
import {
  cardIdentity,
  deriveContentKey,
  deriveMetadataKey,
  keyIdentifier,
  type CardKeys,
  type ZoneKeys,
} from '../../crypto/keys.js';
import { DEFAULT_SUITE, type SuiteName } from '../../crypto/suites.js';
import {
  decodeResponseApdu,
  encodeCommandApdu,
  formatStatusWord,
  statusWordName,
} from '../../protocol/apdu.js';
import {
  APP_STATE_CODES,
  decodeMessage,
  encodeMessage,
  RESULT_CODES,
  ZONE_CODES,
  type AppState,
  type LaunchComplete,
  type ResultCode,
  type SimvaultMessage,
  type Zone,
} from '../../protocol/messages.js';
import {
  COMMAND_TYPE,
  decodeProactiveCommand,
  type ProactiveCommand,
} from '../../protocol/toolkit.js';
import { encodeEnvelopeApdu } from '../../protocol/toolkit-envelope.js';
import {
  encodeTerminalResponseApdu,
  encodeFetchApdu,
  TOOLKIT_RESULT,
} from '../../protocol/toolkit-terminal.js';
import type { ApduTransport } from '../transport.js';
import {
  CARD_INSERTED_MODE,
  CARD_STATUS,
  MENU_ACTION,
  OUTCOME_FLOW,
  SIM_INS,
  SIM_OUTCOME,
  SIMVAULT_APPLET_AID,
  simStatusWordName,
  SW,
} from './apdu-table.js';
import { ArgumentError } from '../../errors.js';
import {
  HANDSET_CREDENTIAL_LENGTH,
  type HandsetCredential,
} from '../../protocol/handset-credential.js';
import { SimError } from '../errors.js';
import type { OutcomeResult } from './state.js';

/**
 * A command answered with an error status word, with the word: code `SIM_CARD_NOT_BOUND` when a
 * command about a memory card was refused because the card is not bound to this SIM (`6982`),
 * `SIM_STATUS_WORD` for any other word.
 *
 * @example
 * ```ts
 * import { SimStatusError } from 'simvault/sim';
 * new SimStatusError('GET ZONE KEYS', 0x6a80).sw; // 0x6a80
 * ```
 */
export class SimStatusError extends SimError {
  /** The status word, e.g. `0x6982`. */
  readonly sw: number;

  /**
   * Create the error for a command and its status word.
   *
   * @param command - name of the command
   * @param sw - the status word
   * @param notBound - the command was about a card, so `6982` means "not bound"
   */
  constructor(command: string, sw: number, notBound = false) {
    const name = statusWordName(sw) ?? simStatusWordName(sw) ?? 'unknown status';
    if (notBound && sw === SW.securityNotSatisfied)
      super(
        'SIM_CARD_NOT_BOUND',
        `${command}: the card is not bound to this SIM (${formatStatusWord(sw)})`,
      );
    else super('SIM_STATUS_WORD', `${command} answered ${formatStatusWord(sw)} (${name})`);
    this.sw = sw;
  }
}

/**
 * A response: data and status word, and the length of a pending proactive command (`91xx`).
 *
 * @example
 * ```ts
 * import type { SimResponse } from 'simvault/sim';
 * const r: SimResponse = { data: new Uint8Array(0), sw: 0x911c, proactivePending: 28 };
 * ```
 */
export interface SimResponse {
  /** Response data. */
  data: Uint8Array;
  /** SW1 SW2. */
  sw: number;
  /** Length of the proactive command waiting, when SW1 is `91`. */
  proactivePending?: number;
}

/**
 * How {@link SimClient.runProactive} answers a proactive command: the general result and, for
 * SELECT ITEM, the item chosen. Returning `undefined` answers "performed successfully".
 *
 * @example
 * ```ts
 * import type { ProactiveAnswer } from 'simvault/sim';
 * const chooseFirst: ProactiveAnswer = (cmd) => (cmd.kind === 'selectItem' ? { general: 0, itemId: cmd.items[0]!.id } : undefined);
 * ```
 */
export type ProactiveAnswer = (command: ProactiveCommand) =>
  | {
      /** General result of the TERMINAL RESPONSE (TS 102 223 8.12), e.g. `0x00` performed successfully or `0x10` terminated by the user. */
      general: number;
      /** For SELECT ITEM: the item identifier of the item chosen (TS 102 223 8.10). */
      itemId?: number;
    }
  | undefined;

function isSuccess(sw: number): boolean {
  return sw === 0x9000 || sw >> 8 === 0x91;
}

/**
 * Typed handset calls to the simvault SIM applet.
 *
 * @example
 * ```ts
 * import { SimClient, SimCard, personalizeSim } from 'simvault/sim';
 * const client = new SimClient(new SimCard(personalizeSim({ iccid: '89860012345678901234' }).state));
 * await client.select();
 * ```
 */
export class SimClient {
  /** The transport to the SIM. */
  readonly transport: ApduTransport;

  /**
   * Wrap a transport.
   *
   * @param transport - the SIM's APDU transport
   */
  constructor(transport: ApduTransport) {
    this.transport = transport;
  }

  /**
   * Send one APDU; resolve to the decoded response (error status words included).
   *
   * @param apdu - command APDU bytes
   *
   * @example
   * ```ts
   * import { SimClient, SimCard, personalizeSim, SIMVAULT_APPLET_AID } from 'simvault/sim';
   * const client = new SimClient(new SimCard(personalizeSim({ iccid: '89860012345678901234' }).state));
   * const r = await client.send(new Uint8Array([0x00, 0xa4, 0x04, 0x0c, SIMVAULT_APPLET_AID.length, ...SIMVAULT_APPLET_AID]));
   * r.sw; // 0x9000
   * ```
   */
  async send(apdu: Uint8Array): Promise<SimResponse> {
    const { data, sw } = decodeResponseApdu(await this.transport.transmit(apdu));
    const r: SimResponse = { data, sw };
    if (sw >> 8 === 0x91) r.proactivePending = sw & 0xff || 256;
    return r;
  }

  private async expect(name: string, apdu: Uint8Array, aboutCard = false): Promise<SimResponse> {
    const r = await this.send(apdu);
    if (!isSuccess(r.sw)) throw new SimStatusError(name, r.sw, aboutCard);
    return r;
  }

  private proprietary(ins: number, p1: number, data: Uint8Array, le?: number): Uint8Array {
    return encodeCommandApdu({
      cla: 0x80,
      ins,
      p1,
      p2: 0,
      data,
      ...(le !== undefined ? { le } : {}),
    });
  }

  /**
   * SELECT the applet.
   *
   * @example
   * ```ts
   * import { SimClient, SimCard, personalizeSim } from 'simvault/sim';
   * const client = new SimClient(new SimCard(personalizeSim({ iccid: '89860012345678901234' }).state));
   * (await client.select()).sw; // 0x9000
   * ```
   */
  async select(): Promise<SimResponse> {
    return this.expect(
      'SELECT',
      encodeCommandApdu({
        cla: 0x00,
        ins: SIM_INS.select,
        p1: 0x04,
        p2: 0x0c,
        data: SIMVAULT_APPLET_AID,
      }),
    );
  }

  /**
   * TERMINAL PROFILE; the SIM answers with its SET UP MENU pending.
   *
   * @param profile - the terminal's profile bytes
   *
   * @example
   * ```ts
   * import { SimClient, SimCard, personalizeSim } from 'simvault/sim';
   * const client = new SimClient(new SimCard(personalizeSim({ iccid: '89860012345678901234' }).state));
   * await client.select();
   * (await client.terminalProfile()).proactivePending; // 23: length of the SET UP MENU to fetch
   * ```
   */
  async terminalProfile(
    profile: Uint8Array = new Uint8Array([0xff, 0xff, 0xff, 0xff]),
  ): Promise<SimResponse> {
    return this.expect(
      'TERMINAL PROFILE',
      encodeCommandApdu({ cla: 0x80, ins: SIM_INS.terminalProfile, p1: 0, p2: 0, data: profile }),
    );
  }

  /**
   * CARD INSERTED (steps 303-305): is the card bound, and if not, start binding it as `mode` says.
   *
   * @param cid - the card's 16-byte CID
   * @param mode - lookup only, ask the user, or bind now
   *
   * @example
   * ```ts
   * import { SimClient, SimCard, personalizeSim } from 'simvault/sim';
   * import { fromHex } from 'simvault';
   * const client = new SimClient(new SimCard(personalizeSim({ iccid: '89860012345678901234' }).state));
   * await client.select();
   * (await client.cardInserted(fromHex('035344535530314780401c751300637d'))).status; // 'unbound'
   * ```
   */
  async cardInserted(
    cid: Uint8Array,
    mode: 'lookup' | 'askUser' | 'bindNow' = 'lookup',
  ): Promise<{
    /** The card's binding status, as the CARD STATUS byte the SIM answered names it. */
    status: 'unbound' | 'bound' | 'bindPending';
    /** The raw response; `proactivePending` is set when a bind request or prompt was queued. */
    response: SimResponse;
  }> {
    const r = await this.expect(
      'CARD INSERTED',
      this.proprietary(SIM_INS.cardInserted, CARD_INSERTED_MODE[mode], cid),
    );
    const code = r.data[0];
    const found = (Object.keys(CARD_STATUS) as (keyof typeof CARD_STATUS)[]).find(
      (k) => CARD_STATUS[k] === code,
    );
    if (found === undefined || r.data.length !== 1)
      throw new SimStatusError('CARD INSERTED (bad answer)', 0x6f00);
    return { status: found, response: r };
  }

  /**
   * FETCH the pending proactive command.
   *
   * @param length - its length, from `91xx`
   *
   * @example
   * ```ts
   * import { SimClient, SimCard, personalizeSim } from 'simvault/sim';
   * const client = new SimClient(new SimCard(personalizeSim({ iccid: '89860012345678901234' }).state));
   * await client.select();
   * const { command } = await client.fetch((await client.terminalProfile()).proactivePending!);
   * command.kind; // 'setUpMenu'
   * ```
   */
  async fetch(length: number): Promise<{
    /** The proactive command, decoded. */
    command: ProactiveCommand;
    /** The proactive command as fetched, `D0 ...` (BER-TLV). */
    bytes: Uint8Array;
    /** The FETCH response itself: the command's bytes and the status word. */
    response: SimResponse;
  }> {
    const r = await this.expect('FETCH', encodeFetchApdu(length));
    return { command: decodeProactiveCommand(r.data), bytes: r.data, response: r };
  }

  /**
   * Fetch and answer proactive commands until none is pending; returns them in order.
   *
   * @param first - the response that said `91xx`
   * @param answer - how to answer each (default: success, first item of a SELECT ITEM)
   *
   * @example
   * ```ts
   * import { SimClient, SimCard, personalizeSim } from 'simvault/sim';
   * const client = new SimClient(new SimCard(personalizeSim({ iccid: '89860012345678901234' }).state));
   * await client.select();
   * const session = await client.runProactive(await client.terminalProfile());
   * session.map((p) => p.command.kind); // ['setUpMenu']
   * ```
   */
  async runProactive(
    first: SimResponse,
    answer?: ProactiveAnswer,
  ): Promise<
    {
      /** The proactive command, decoded. */
      command: ProactiveCommand;
      /** The proactive command as fetched, `D0 ...`. */
      bytes: Uint8Array;
    }[]
  > {
    const seen: { command: ProactiveCommand; bytes: Uint8Array }[] = [];
    let pending = first.proactivePending;
    while (pending !== undefined) {
      if (seen.length > 64) throw new SimStatusError('FETCH (endless proactive session)', 0x6f00);
      const { command, bytes } = await this.fetch(pending);
      seen.push({ command, bytes });
      const chosen =
        answer?.(command) ??
        (command.kind === 'selectItem'
          ? { general: TOOLKIT_RESULT.ok, itemId: command.items[0]!.id }
          : { general: TOOLKIT_RESULT.ok });
      const r = await this.expect(
        'TERMINAL RESPONSE',
        encodeTerminalResponseApdu({
          commandNumber: command.commandNumber,
          commandType: COMMAND_TYPE[command.kind],
          qualifier: command.qualifier,
          result: { general: chosen.general },
          ...(chosen.itemId !== undefined ? { itemId: chosen.itemId } : {}),
        }),
      );
      pending = r.proactivePending;
    }
    return seen;
  }

  /**
   * ENVELOPE SMS-PP download of one SMS-DELIVER TPDU. Resolves even to `6200` (a refused secured
   * packet, PoR in the data); other errors throw.
   *
   * @param tpdu - the SMS-DELIVER TPDU
   *
   * @example
   * ```ts
   * import { SimClient, SimCard, personalizeSim } from 'simvault/sim';
   * import { encodeSmsTpdu } from 'simvault/protocol';
   * const client = new SimClient(new SimCard(personalizeSim({ iccid: '89860012345678901234' }).state));
   * await client.select();
   * const tpdu = encodeSmsTpdu({ type: 'deliver', moreMessages: false, loopPrevention: false, statusReport: false, replyPath: false,
   *   originator: { ton: 1, npi: 1, digits: '8613800000000' }, pid: 0x7f, dcs: 0xf6,
   *   scts: { year: 24, month: 1, day: 1, hour: 0, minute: 0, second: 0, timezoneQuarters: 32 },
   *   userData: { header: [{ iei: 0x70, data: new Uint8Array(0) }], data: new Uint8Array([0x00, 0x0d, 0x0d, 0x16, 0x09, 0x12, 0x12, 0xb0, 0x00, 0x10, 0, 0, 0, 0, 1]) } });
   * (await client.smsPpDownload(tpdu)).sw; // 0x6200: the secured packet was refused
   * ```
   */
  async smsPpDownload(tpdu: Uint8Array): Promise<SimResponse> {
    const r = await this.send(encodeEnvelopeApdu({ kind: 'smsPpDownload', tpdu }));
    if (!isSuccess(r.sw) && r.sw !== 0x6200)
      throw new SimStatusError('ENVELOPE (SMS-PP download)', r.sw);
    return r;
  }

  /**
   * ENVELOPE MENU SELECTION of a main-menu item.
   *
   * @param itemId - the item identifier
   *
   * @example
   * ```ts
   * import { SimClient, SimCard, personalizeSim, storeBinding } from 'simvault/sim';
   * import { fromHex } from 'simvault';
   * const { state } = personalizeSim({ iccid: '89860012345678901234' });
   * const cid = fromHex('035344535530314780401c751300637d');
   * storeBinding(state, cid, [{ aid: new Uint8Array(7), name: 'TV', zone: 'multimedia', size: 0, version: '', state: 'active', installed: false }]);
   * const client = new SimClient(new SimCard(state));
   * await client.select();
   * await client.runProactive(await client.terminalProfile());
   * (await client.menuSelection(1)).proactivePending; // 24: the application's SELECT ITEM sub-menu
   * ```
   */
  async menuSelection(itemId: number): Promise<SimResponse> {
    return this.expect(
      'ENVELOPE (menu selection)',
      encodeEnvelopeApdu({ kind: 'menuSelection', itemId }),
    );
  }

  /**
   * GET ZONE KEYS for a bound card, as the card engine takes them.
   *
   * @param cid - the card's CID
   * @param suite - the content suite the keys are for
   *
   * @example
   * ```ts
   * import { SimClient, SimCard, personalizeSim, storeBinding } from 'simvault/sim';
   * import { fromHex } from 'simvault';
   * const { state } = personalizeSim({ iccid: '89860012345678901234' });
   * const cid = fromHex('035344535530314780401c751300637d');
   * storeBinding(state, cid, [{ aid: new Uint8Array(7), name: 'TV', zone: 'multimedia', size: 0, version: '', state: 'active', installed: false }]);
   * const client = new SimClient(new SimCard(state));
   * await client.select();
   * (await client.cardKeys(cid)).zones.user.zoneKey.length; // 32
   * ```
   */
  async cardKeys(cid: Uint8Array, suite: SuiteName = DEFAULT_SUITE): Promise<CardKeys> {
    const r = await this.expect(
      'GET ZONE KEYS',
      this.proprietary(SIM_INS.getZoneKeys, 0, cid, 256),
      true,
    );
    return cardKeysFromResponse(cid, r.data, suite);
  }

  /**
   * Read the rollback anchors (zone generations) of a bound card.
   *
   * @param cid - the card's CID
   *
   * @example
   * ```ts
   * import { SimClient, SimCard, personalizeSim, storeBinding } from 'simvault/sim';
   * import { fromHex } from 'simvault';
   * const { state } = personalizeSim({ iccid: '89860012345678901234' });
   * const cid = fromHex('035344535530314780401c751300637d');
   * storeBinding(state, cid, [{ aid: new Uint8Array(7), name: 'TV', zone: 'multimedia', size: 0, version: '', state: 'active', installed: false }]);
   * const client = new SimClient(new SimCard(state));
   * await client.select();
   * await client.readAnchors(cid); // {}: no zone anchored yet
   * ```
   */
  async readAnchors(cid: Uint8Array): Promise<Partial<Record<Zone, number>>> {
    const r = await this.expect(
      'ROLLBACK ANCHOR (read)',
      this.proprietary(SIM_INS.rollbackAnchor, 0, cid, 256),
      true,
    );
    const out: Partial<Record<Zone, number>> = {};
    for (let i = 0; i + 5 <= r.data.length; i += 5) {
      const zone = (Object.keys(ZONE_CODES) as Zone[]).find((z) => ZONE_CODES[z] === r.data[i]);
      if (zone)
        out[zone] =
          ((r.data[i + 1]! << 24) >>> 0) +
          (r.data[i + 2]! << 16) +
          (r.data[i + 3]! << 8) +
          r.data[i + 4]!;
    }
    return out;
  }

  /**
   * Move rollback anchors forward (never back: the SIM answers `6985`).
   *
   * @param cid - the card's CID
   * @param anchors - new generations by zone
   *
   * @example
   * ```ts
   * import { SimClient, SimCard, personalizeSim, storeBinding } from 'simvault/sim';
   * import { fromHex } from 'simvault';
   * const { state } = personalizeSim({ iccid: '89860012345678901234' });
   * const cid = fromHex('035344535530314780401c751300637d');
   * storeBinding(state, cid, [{ aid: new Uint8Array(7), name: 'TV', zone: 'multimedia', size: 0, version: '', state: 'active', installed: false }]);
   * const client = new SimClient(new SimCard(state));
   * await client.select();
   * await client.updateAnchors(cid, { user: 1 });
   * await client.readAnchors(cid); // { user: 1 }
   * ```
   */
  async updateAnchors(cid: Uint8Array, anchors: Partial<Record<Zone, number>>): Promise<void> {
    const parts = (Object.entries(anchors) as [Zone, number][]).map(
      ([z, g]) =>
        new Uint8Array([ZONE_CODES[z], g >>> 24, (g >>> 16) & 0xff, (g >>> 8) & 0xff, g & 0xff]),
    );
    await this.expect(
      'ROLLBACK ANCHOR (update)',
      this.proprietary(SIM_INS.rollbackAnchor, 1, concatBytes(cid, ...parts)),
      true,
    );
  }

  /**
   * The applications of a bound card as the SIM lists them (GET APPLICATIONS, one per call).
   *
   * @param cid - the card's CID
   *
   * @example
   * ```ts
   * import { SimClient, SimCard, personalizeSim } from 'simvault/sim';
   * import { fromHex } from 'simvault';
   * const cid = fromHex('035344535530314780401c751300637d');
   * const sim = new SimCard(personalizeSim({ iccid: '89860012345678901234' }).state);
   * await sim.bindOffline(cid, [{ aid: fromHex('a0000000871001'), name: 'TV', zone: 'multimedia', size: 0, version: '', state: 'active', installed: false }]);
   * const client = new SimClient(sim);
   * await client.select();
   * (await client.applications(cid))[0]?.name; // 'TV'
   * ```
   */
  async applications(cid: Uint8Array): Promise<SimApplication[]> {
    const out: SimApplication[] = [];
    for (let i = 0; i < 256; i++) {
      const r = await this.send(this.proprietary(SIM_INS.getApplications, i, cid, 256));
      if (r.sw === SW.dataNotFound) break;
      if (!isSuccess(r.sw)) throw new SimStatusError('GET APPLICATIONS', r.sw, true);
      out.push(decodeApplication(r.data));
    }
    return out;
  }

  /**
   * The item identifiers that lead to an action in the SIM's menus (MENU PATH): the MENU
   * SELECTION item first, then one SELECT ITEM answer per step. `undefined` when the menu offers
   * no such action (an application not shown, a delete of a file not on the card).
   *
   * @param action - launch or delete an application, or unbind the card
   * @param cid - the card's CID
   * @param aid - the application's AID (launch, delete)
   *
   * @example
   * ```ts
   * import type { SimClient } from 'simvault/sim';
   * declare const client: SimClient, cid: Uint8Array;
   * await client.menuPath('unbind', cid); // e.g. [2, 3]: item 2 of the main menu, then Unbind
   * ```
   */
  async menuPath(
    action: 'launch' | 'delete' | 'unbind',
    cid: Uint8Array,
    aid?: Uint8Array,
  ): Promise<number[] | undefined> {
    const r = await this.send(
      this.proprietary(
        SIM_INS.menuPath,
        MENU_ACTION[action],
        concatBytes(cid, aid ?? new Uint8Array(0)),
        256,
      ),
    );
    if (r.sw === SW.dataNotFound) return undefined;
    if (!isSuccess(r.sw)) throw new SimStatusError('MENU PATH', r.sw, true);
    return [...r.data];
  }

  /**
   * How the last bind or unbind of a card ended (LAST OUTCOME), or `undefined` while none has
   * (the flow is still under way, or never ran).
   *
   * @param flow - the flow
   * @param cid - the card's CID
   *
   * @example
   * ```ts
   * import type { SimClient } from 'simvault/sim';
   * declare const client: SimClient, cid: Uint8Array;
   * (await client.lastOutcome('bind', cid))?.result; // 'ok', 'alreadyBound', 'declined', …
   * ```
   */
  async lastOutcome(
    flow: 'bind' | 'unbind',
    cid: Uint8Array,
  ): Promise<
    | {
        /** How the flow ended: the server's result code, or `declined`. */
        result: OutcomeResult;
        /** Transaction id of the request the outcome answers (0 when none was sent). */
        transactionId: number;
      }
    | undefined
  > {
    const r = await this.send(this.proprietary(SIM_INS.lastOutcome, OUTCOME_FLOW[flow], cid, 5));
    if (r.sw === SW.dataNotFound) return undefined;
    if (!isSuccess(r.sw)) throw new SimStatusError('LAST OUTCOME', r.sw);
    const code = r.data[0];
    const result =
      code === SIM_OUTCOME.declined
        ? 'declined'
        : (Object.keys(RESULT_CODES) as ResultCode[]).find((k) => RESULT_CODES[k] === code);
    if (result === undefined || r.data.length !== 5)
      throw new SimStatusError('LAST OUTCOME (bad answer)', SW.technicalProblem);
    const t = r.data;
    return { result, transactionId: ((t[1]! << 24) >>> 0) + (t[2]! << 16) + (t[3]! << 8) + t[4]! };
  }

  /**
   * HANDSET CREDENTIAL: the secret with which the handset signs its reads of the SIM's queue at
   * the OTA server, derived by the SIM from one of its keysets.
   *
   * @param keyVersion - the keyset's key version, or 0 (default) for the one the SIM secures its
   *   own packets with
   *
   * @example
   * ```ts
   * import { SimClient, SimCard, personalizeSim } from 'simvault/sim';
   * const client = new SimClient(new SimCard(personalizeSim({ iccid: '89860012345678901234' }).state));
   * await client.select();
   * const { keyVersion, secret } = await client.handsetCredential();
   * ```
   */
  async handsetCredential(keyVersion = 0): Promise<HandsetCredential> {
    if (!Number.isInteger(keyVersion) || keyVersion < 0 || keyVersion > 15)
      throw new ArgumentError('keyVersion must be an integer 0-15');
    const r = await this.expect(
      'HANDSET CREDENTIAL',
      this.proprietary(
        SIM_INS.handsetCredential,
        keyVersion,
        new Uint8Array(),
        1 + HANDSET_CREDENTIAL_LENGTH,
      ),
    );
    const version = r.data[0] ?? 0;
    if (r.data.length !== 1 + HANDSET_CREDENTIAL_LENGTH || version < 1 || version > 15)
      throw new SimStatusError('HANDSET CREDENTIAL (bad answer)', SW.technicalProblem);
    return { keyVersion: version, secret: r.data.slice(1) };
  }

  /**
   * LAUNCH COMPLETE (step 505): the card stored the file.
   *
   * @param message - the launch-complete message
   *
   * @example
   * ```ts
   * import { SimClient, SimCard, SimStatusError, personalizeSim } from 'simvault/sim';
   * const client = new SimClient(new SimCard(personalizeSim({ iccid: '89860012345678901234' }).state));
   * await client.select();
   * const done = { type: 'launchComplete', transactionId: 1, cid: new Uint8Array(16), aid: new Uint8Array(7), size: 0, digest: new Uint8Array(32) } as const;
   * await client.launchComplete(done).catch((e: SimStatusError) => e.sw); // 0x6a88: no such download pending
   * ```
   */
  async launchComplete(message: LaunchComplete): Promise<SimResponse> {
    return this.expect(
      'LAUNCH COMPLETE',
      this.proprietary(SIM_INS.launchComplete, 0, encodeMessage(message)),
    );
  }

  /**
   * Read and remove the oldest message the SIM holds for the handset, if any.
   *
   * @example
   * ```ts
   * import { SimClient, SimCard, personalizeSim } from 'simvault/sim';
   * const client = new SimClient(new SimCard(personalizeSim({ iccid: '89860012345678901234' }).state));
   * await client.select();
   * await client.takeHandsetMessage(); // undefined: the mailbox is empty
   * ```
   */
  async takeHandsetMessage(): Promise<SimvaultMessage | undefined> {
    const r = await this.send(this.proprietary(SIM_INS.handsetMessage, 0, new Uint8Array(0), 256));
    if (r.sw === 0x6a88) return undefined;
    if (!isSuccess(r.sw)) throw new SimStatusError('GET HANDSET MESSAGE', r.sw);
    const message = decodeMessage(r.data);
    await this.expect(
      'GET HANDSET MESSAGE (remove)',
      this.proprietary(SIM_INS.handsetMessage, 1, new Uint8Array(0)),
    );
    return message;
  }
}

/**
 * Build the card engine's {@link CardKeys} from a GET ZONE KEYS answer: the card key identifier
 * (16 bytes), then per zone its code and its 32-byte zone key.
 *
 * @example
 * ```ts
 * import { cardKeysFromResponse } from 'simvault/sim';
 * try { cardKeysFromResponse(new Uint8Array(16), new Uint8Array(3)); } catch (e) { (e as Error).name; } // 'SimStatusError'
 * ```
 */
export function cardKeysFromResponse(
  cid: Uint8Array,
  data: Uint8Array,
  suite: SuiteName = DEFAULT_SUITE,
): CardKeys {
  if (data.length !== 16 + 4 * 33)
    throw new SimStatusError('GET ZONE KEYS (answer of the wrong length)', 0x6700);
  const zones: Partial<Record<Zone, ZoneKeys>> = {};
  for (let i = 16; i < data.length; i += 33) {
    const zone = (Object.keys(ZONE_CODES) as Zone[]).find((z) => ZONE_CODES[z] === data[i]);
    if (!zone || zones[zone])
      throw new SimStatusError('GET ZONE KEYS (unknown zone in the answer)', 0x6a80);
    const zoneKey = data.slice(i + 1, i + 33);
    zones[zone] = {
      zone,
      zoneKey,
      contentKey: deriveContentKey(zoneKey, suite),
      metadataKey: deriveMetadataKey(zoneKey),
      keyIdentifier: keyIdentifier(zoneKey),
    };
  }
  // Four distinct known zone codes in 4 entries: every zone is there.
  return {
    cardIdentity: cardIdentity(cid),
    cardKeyIdentifier: data.slice(0, 16),
    zones: zones as Record<Zone, ZoneKeys>,
  };
}

/**
 * An application of a bound card as GET APPLICATIONS lists it.
 *
 * @example
 * ```ts
 * import type { SimApplication } from 'simvault/sim';
 * const app: SimApplication = { aid: new Uint8Array(7), name: 'TV', zone: 'multimedia', state: 'active', installed: false };
 * ```
 */
export interface SimApplication {
  /** Its AID. */
  aid: Uint8Array;
  /** Its menu name. */
  name: string;
  /** The card zone its file goes to. */
  zone: Zone;
  /** Shown in the menu (`active`) or hidden but kept (`masked`). */
  state: AppState;
  /** Whether its file is on the card. */
  installed: boolean;
}

function decodeApplication(data: Uint8Array): SimApplication {
  const n = data[0] ?? 0;
  const zoneCode = data[1 + n];
  const stateCode = data[2 + n];
  const zone = (Object.keys(ZONE_CODES) as Zone[]).find((z) => ZONE_CODES[z] === zoneCode);
  const state = (Object.keys(APP_STATE_CODES) as AppState[]).find(
    (k) => APP_STATE_CODES[k] === stateCode,
  );
  if (n < 5 || n > 16 || data.length < n + 5 || !zone || !state)
    throw new SimStatusError('GET APPLICATIONS (bad answer)', SW.technicalProblem);
  return {
    aid: data.slice(1, 1 + n),
    zone,
    state,
    installed: data[3 + n] === 1,
    name: new TextDecoder().decode(data.subarray(4 + n)),
  };
}
