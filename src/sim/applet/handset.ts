/**
 * The handset's side of the simvault applet: typed calls over any {@link ApduTransport} (the
 * emulated {@link SimCard} or a real SIM behind a reader). Builds the APDUs of
 * `docs/sim-apdus.md`, checks status words, decodes the answers, and runs proactive sessions
 * (FETCH, then a TERMINAL RESPONSE for each command).
 *
 * @module
 */
import { concatBytes } from '../../bytes.js';
import { cardIdentity, deriveContentKey, deriveMetadataKey, keyIdentifier, type CardKeys, type ZoneKeys } from '../../crypto/keys.js';
import { DEFAULT_SUITE, type SuiteName } from '../../crypto/suites.js';
import { SimvaultError } from '../../errors.js';
import { decodeResponseApdu, encodeCommandApdu, formatStatusWord, statusWordName } from '../../protocol/apdu.js';
import { decodeMessage, encodeMessage, ZONE_CODES, type LaunchComplete, type SimvaultMessage, type Zone } from '../../protocol/messages.js';
import { decodeProactiveCommand, type ProactiveCommand } from '../../protocol/toolkit.js';
import { encodeEnvelopeApdu } from '../../protocol/toolkit-envelope.js';
import { encodeTerminalResponseApdu, encodeFetchApdu, TOOLKIT_RESULT } from '../../protocol/toolkit-terminal.js';
import type { ApduTransport } from '../transport.js';
import { CARD_INSERTED_MODE, CARD_STATUS, SIM_INS, SIMVAULT_APPLET_AID, simStatusWordName } from './apdu-table.js';

/**
 * A command answered with an error status word: code `SIM_STATUS_WORD`, with the word.
 *
 * @example
 * ```ts
 * import { SimStatusError } from 'simvault/sim';
 * new SimStatusError('GET ZONE KEYS', 0x6982).sw; // 0x6982
 * ```
 */
export class SimStatusError extends SimvaultError {
  /** The status word, e.g. `0x6982`. */
  readonly sw: number;

  /**
   * Create the error for a command and its status word.
   *
   * @param command - name of the command
   * @param sw - the status word
   */
  constructor(command: string, sw: number) {
    const name = statusWordName(sw) ?? simStatusWordName(sw) ?? 'unknown status';
    super('SIM_STATUS_WORD', `${command} answered ${formatStatusWord(sw)} (${name})`);
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
export type ProactiveAnswer = (command: ProactiveCommand) => { general: number; itemId?: number } | undefined;

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
   */
  async send(apdu: Uint8Array): Promise<SimResponse> {
    const { data, sw } = decodeResponseApdu(await this.transport.transmit(apdu));
    const r: SimResponse = { data, sw };
    if (sw >> 8 === 0x91) r.proactivePending = sw & 0xff || 256;
    return r;
  }

  async #expect(name: string, apdu: Uint8Array): Promise<SimResponse> {
    const r = await this.send(apdu);
    if (!isSuccess(r.sw)) throw new SimStatusError(name, r.sw);
    return r;
  }

  #proprietary(ins: number, p1: number, data: Uint8Array, le?: number): Uint8Array {
    return encodeCommandApdu({ cla: 0x80, ins, p1, p2: 0, data, ...(le !== undefined ? { le } : {}) });
  }

  /** SELECT the applet. */
  async select(): Promise<SimResponse> {
    return this.#expect('SELECT', encodeCommandApdu({ cla: 0x00, ins: SIM_INS.select, p1: 0x04, p2: 0x0c, data: SIMVAULT_APPLET_AID }));
  }

  /**
   * TERMINAL PROFILE; the SIM answers with its SET UP MENU pending.
   *
   * @param profile - the terminal's profile bytes
   */
  async terminalProfile(profile: Uint8Array = new Uint8Array([0xff, 0xff, 0xff, 0xff])): Promise<SimResponse> {
    return this.#expect('TERMINAL PROFILE', encodeCommandApdu({ cla: 0x80, ins: SIM_INS.terminalProfile, p1: 0, p2: 0, data: profile }));
  }

  /**
   * CARD INSERTED (steps 303-305): is the card bound, and if not, start binding it as `mode` says.
   *
   * @param cid - the card's 16-byte CID
   * @param mode - lookup only, ask the user, or bind now
   */
  async cardInserted(cid: Uint8Array, mode: keyof typeof CARD_INSERTED_MODE = 'lookup'): Promise<{ status: keyof typeof CARD_STATUS; response: SimResponse }> {
    const r = await this.#expect('CARD INSERTED', this.#proprietary(SIM_INS.cardInserted, CARD_INSERTED_MODE[mode], cid));
    const code = r.data[0];
    const found = (Object.keys(CARD_STATUS) as (keyof typeof CARD_STATUS)[]).find((k) => CARD_STATUS[k] === code);
    if (found === undefined || r.data.length !== 1) throw new SimStatusError('CARD INSERTED (bad answer)', 0x6f00);
    return { status: found, response: r };
  }

  /**
   * FETCH the pending proactive command.
   *
   * @param length - its length, from `91xx`
   */
  async fetch(length: number): Promise<{ command: ProactiveCommand; bytes: Uint8Array; response: SimResponse }> {
    const r = await this.#expect('FETCH', encodeFetchApdu(length));
    return { command: decodeProactiveCommand(r.data), bytes: r.data, response: r };
  }

  /**
   * Fetch and answer proactive commands until none is pending; returns them in order.
   *
   * @param first - the response that said `91xx`
   * @param answer - how to answer each (default: success, first item of a SELECT ITEM)
   */
  async runProactive(first: SimResponse, answer?: ProactiveAnswer): Promise<{ command: ProactiveCommand; bytes: Uint8Array }[]> {
    const seen: { command: ProactiveCommand; bytes: Uint8Array }[] = [];
    let pending = first.proactivePending;
    while (pending !== undefined) {
      if (seen.length > 64) throw new SimStatusError('FETCH (endless proactive session)', 0x6f00);
      const { command, bytes } = await this.fetch(pending);
      seen.push({ command, bytes });
      const chosen = answer?.(command) ?? (command.kind === 'selectItem' ? { general: TOOLKIT_RESULT.ok, itemId: command.items[0]!.id } : { general: TOOLKIT_RESULT.ok });
      const typeByKind = { refresh: 0x01, sendShortMessage: 0x13, displayText: 0x21, selectItem: 0x24, setUpMenu: 0x25 } as const;
      const r = await this.#expect(
        'TERMINAL RESPONSE',
        encodeTerminalResponseApdu({
          commandNumber: command.commandNumber,
          commandType: typeByKind[command.kind],
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
   */
  async smsPpDownload(tpdu: Uint8Array): Promise<SimResponse> {
    const r = await this.send(encodeEnvelopeApdu({ kind: 'smsPpDownload', tpdu }));
    if (!isSuccess(r.sw) && r.sw !== 0x6200) throw new SimStatusError('ENVELOPE (SMS-PP download)', r.sw);
    return r;
  }

  /**
   * ENVELOPE MENU SELECTION of a main-menu item.
   *
   * @param itemId - the item identifier
   */
  async menuSelection(itemId: number): Promise<SimResponse> {
    return this.#expect('ENVELOPE (menu selection)', encodeEnvelopeApdu({ kind: 'menuSelection', itemId }));
  }

  /**
   * GET ZONE KEYS for a bound card, as the card engine takes them.
   *
   * @param cid - the card's CID
   * @param suite - the content suite the keys are for
   */
  async cardKeys(cid: Uint8Array, suite: SuiteName = DEFAULT_SUITE): Promise<CardKeys> {
    const r = await this.#expect('GET ZONE KEYS', this.#proprietary(SIM_INS.getZoneKeys, 0, cid, 256));
    return cardKeysFromResponse(cid, r.data, suite);
  }

  /**
   * Read the rollback anchors (zone generations) of a bound card.
   *
   * @param cid - the card's CID
   */
  async readAnchors(cid: Uint8Array): Promise<Partial<Record<Zone, number>>> {
    const r = await this.#expect('ROLLBACK ANCHOR (read)', this.#proprietary(SIM_INS.rollbackAnchor, 0, cid, 256));
    const out: Partial<Record<Zone, number>> = {};
    for (let i = 0; i + 5 <= r.data.length; i += 5) {
      const zone = (Object.keys(ZONE_CODES) as Zone[]).find((z) => ZONE_CODES[z] === r.data[i]);
      if (zone) out[zone] = ((r.data[i + 1]! << 24) >>> 0) + (r.data[i + 2]! << 16) + (r.data[i + 3]! << 8) + r.data[i + 4]!;
    }
    return out;
  }

  /**
   * Move rollback anchors forward (never back: the SIM answers `6985`).
   *
   * @param cid - the card's CID
   * @param anchors - new generations by zone
   */
  async updateAnchors(cid: Uint8Array, anchors: Partial<Record<Zone, number>>): Promise<void> {
    const parts = (Object.entries(anchors) as [Zone, number][]).map(([z, g]) => new Uint8Array([ZONE_CODES[z], g >>> 24, (g >>> 16) & 0xff, (g >>> 8) & 0xff, g & 0xff]));
    await this.#expect('ROLLBACK ANCHOR (update)', this.#proprietary(SIM_INS.rollbackAnchor, 1, concatBytes(cid, ...parts)));
  }

  /**
   * LAUNCH COMPLETE (step 505): the card stored the file.
   *
   * @param message - the launch-complete message
   */
  async launchComplete(message: LaunchComplete): Promise<SimResponse> {
    return this.#expect('LAUNCH COMPLETE', this.#proprietary(SIM_INS.launchComplete, 0, encodeMessage(message)));
  }

  /** Read and remove the oldest message the SIM holds for the handset, if any. */
  async takeHandsetMessage(): Promise<SimvaultMessage | undefined> {
    const r = await this.send(this.#proprietary(SIM_INS.handsetMessage, 0, new Uint8Array(0), 256));
    if (r.sw === 0x6a88) return undefined;
    if (!isSuccess(r.sw)) throw new SimStatusError('GET HANDSET MESSAGE', r.sw);
    const message = decodeMessage(r.data);
    await this.#expect('GET HANDSET MESSAGE (remove)', this.#proprietary(SIM_INS.handsetMessage, 1, new Uint8Array(0)));
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
export function cardKeysFromResponse(cid: Uint8Array, data: Uint8Array, suite: SuiteName = DEFAULT_SUITE): CardKeys {
  if (data.length !== 16 + 4 * 33) throw new SimStatusError('GET ZONE KEYS (answer of the wrong length)', 0x6700);
  const zones = {} as Record<Zone, ZoneKeys>;
  for (let i = 16; i < data.length; i += 33) {
    const zone = (Object.keys(ZONE_CODES) as Zone[]).find((z) => ZONE_CODES[z] === data[i]);
    if (!zone || zones[zone]) throw new SimStatusError('GET ZONE KEYS (unknown zone in the answer)', 0x6a80);
    const zoneKey = data.slice(i + 1, i + 33);
    zones[zone] = { zone, zoneKey, contentKey: deriveContentKey(zoneKey, suite), metadataKey: deriveMetadataKey(zoneKey), keyIdentifier: keyIdentifier(zoneKey) };
  }
  return { cardIdentity: cardIdentity(cid), cardKeyIdentifier: data.slice(0, 16), zones };
}
