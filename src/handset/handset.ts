/**
 * The handset: the one layer that knows all the others. It holds nothing persistent of its own;
 * it relays between the SIM (APDUs), the memory card (a block device and, optionally, its secure
 * chip) and the two operator servers (HTTP), and runs each flow of the patent end to end: bind
 * (301-311), launch and download (501-505), delete (601-606), unbind (401-405) and RFM updates of
 * the STK list (claim 3). After every change to the card it moves the SIM's rollback anchors.
 *
 * The handset sees the SIM as a real phone does: it answers proactive commands (the user's
 * choices go through {@link HandsetOptions.user}), sends every SEND SHORT MESSAGE to the OTA
 * server, and hands every queued SMS-DELIVER to the SIM as an SMS-PP download. It never reads the
 * secured packets it carries: it learns the outcome from the SIM (its binding status, its
 * menu, its notices, its handset mailbox).
 *
 * @module
 */
import { fromHex, toHex } from '../bytes.js';
import { formatCard, mountCard, readCardInfo, type Card, type CardCapacity } from '../card/card.js';
import type { BlockDevice } from '../card/device.js';
import type { FileKeyProvider } from '../card/file-keys.js';
import { ZONES, type Zone } from '../crypto/keys.js';
import { SimvaultError } from '../errors.js';
import type { DeleteCommand, DownloadResourceInfo, SimvaultMessage } from '../protocol/messages.js';
import { decodeSmsTpdu } from '../protocol/sms.js';
import { TOOLKIT_RESULT } from '../protocol/toolkit-terminal.js';
import { ChipClient } from '../sim/chip-client.js';
import { SimClient, type ProactiveAnswer, type SimResponse } from '../sim/applet/sim-client.js';
import { cardLabel } from '../sim/applet/proactive.js';
import type { ApduTransport } from '../sim/transport.js';
import { storeResource } from './download.js';
import { HandsetError } from './errors.js';
import { ServerLink, type FetchLike, type MoAnswer } from './server-link.js';

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

const MO_STEPS: Record<string, string> = {
  bindRequest: '305-307',
  unbindRequest: '401-402',
  launchRequest: '501',
  downloadComplete: '505',
  launchComplete: '505',
  deleteRequest: '601-602',
};

/** The name a downloaded application file gets in its zone: its AID in hex. */
function fileNameOf(aid: Uint8Array): string {
  return toHex(aid);
}

function chipProvider(client: ChipClient): FileKeyProvider {
  return {
    newFileKey: (context) => client.generateFileKey(context),
    unwrapFileKey: (wrapped, context) => client.unwrapFileKey(wrapped, context),
  };
}

function carriesPor(tpdu: Uint8Array): boolean {
  try {
    const sms = decodeSmsTpdu(tpdu);
    return sms.userData.header?.some((e) => e.iei === 0x71) ?? false;
  } catch {
    return false;
  }
}

/**
 * The handset orchestrator.
 *
 * @example
 * ```ts
 * import { Handset } from 'simvault/handset';
 * import { SimCard } from 'simvault/sim';
 * import { MemoryDevice } from 'simvault/card';
 * declare const simState: import('simvault/sim').SimState, cid: Uint8Array;
 * const phone = new Handset({ sim: new SimCard(simState), iccid: simState.iccid, otaUrl: 'http://127.0.0.1:8081',
 *   cardAppUrl: 'http://127.0.0.1:8080', card: { device: new MemoryDevice(32 << 20), cid } });
 * await phone.insertCard();
 * const stored = await phone.launch('Mobile TV');
 * await phone.deleteApp('Mobile TV');
 * await phone.unbind();
 * ```
 */
export class Handset {
  /** The handset's HTTP link to the two servers. */
  readonly link: ServerLink;
  /** The SIM client. */
  readonly sim: SimClient;
  readonly #options: HandsetOptions;
  readonly #user: HandsetUser;
  readonly #timeout: number;
  readonly #pollWait: number;
  #slot: CardSlot | undefined;
  #after: number;
  #poweredOn = false;
  #menu: { id: number; text: string }[] = [];
  #notices: string[] = [];
  #mailbox: SimvaultMessage[] = [];
  #card: Card | undefined;
  #cid: Uint8Array | undefined;
  #chip: ChipClient | undefined;

  /**
   * Create a handset; nothing is sent until the first flow.
   *
   * @param options - the SIM, the servers, the card slot and how to behave
   */
  constructor(options: HandsetOptions) {
    this.#options = options;
    this.link = new ServerLink({
      otaUrl: options.otaUrl,
      cardAppUrl: options.cardAppUrl,
      iccid: options.iccid,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    this.sim = new SimClient(options.sim);
    this.#user = options.user ?? ((p) => p.items[0]);
    this.#timeout = options.timeoutMs ?? 20_000;
    this.#pollWait = options.pollWaitSeconds ?? 2;
    this.#slot = options.card;
    this.#after = options.mtAfter ?? 0;
  }

  /**
   * The mounted card, once {@link Handset.insertCard} succeeded.
   *
   * @example
   * ```ts
   * import type { Handset } from 'simvault/handset';
   * declare const phone: Handset;
   * await phone.card?.zone('user').list();
   * ```
   */
  get card(): Card | undefined {
    return this.#card;
  }

  /**
   * The SIM's main menu as last shown (SET UP MENU item texts).
   *
   * @example
   * ```ts
   * import type { Handset } from 'simvault/handset';
   * declare const phone: Handset;
   * phone.menu; // ['Mobile TV', 'Card 00000001']
   * ```
   */
  get menu(): string[] {
    return this.#menu.map((i) => i.text);
  }

  /**
   * Every DISPLAY TEXT the SIM showed, oldest first.
   *
   * @example
   * ```ts
   * import type { Handset } from 'simvault/handset';
   * declare const phone: Handset;
   * phone.notices.at(-1); // 'Card 00000001 bound'
   * ```
   */
  get notices(): string[] {
    return [...this.#notices];
  }

  /**
   * Queue position of the last SMS-DELIVER handed to the SIM (persist it to resume after a restart).
   *
   * @example
   * ```ts
   * import type { Handset } from 'simvault/handset';
   * declare const phone: Handset;
   * const cursor = phone.mtCursor;
   * ```
   */
  get mtCursor(): number {
    return this.#after;
  }

  #event(step: string, text: string): void {
    this.#options.onEvent?.({ step, text });
  }

  /** SELECT the applet and send the TERMINAL PROFILE once; the SIM answers with its menu. */
  async #powerOn(): Promise<void> {
    if (this.#poweredOn) return;
    await this.sim.select();
    await this.#session(await this.sim.terminalProfile());
    this.#poweredOn = true;
  }

  /**
   * Run a proactive session: answer every command, scripted SELECT ITEM choices first (`script`,
   * by item text, following "More..." pages), then post the SIM's short messages.
   */
  async #session(
    first: SimResponse,
    script: readonly string[] = [],
  ): Promise<{ sent: MoAnswer[]; prompts: number }> {
    const wanted = [...script];
    const outgoing: Uint8Array[] = [];
    let prompts = 0;
    const answer: ProactiveAnswer = (cmd) => {
      switch (cmd.kind) {
        case 'setUpMenu':
          this.#menu = cmd.items.map((i) => ({ id: i.id, text: i.text }));
          return undefined;
        case 'displayText':
          this.#notices.push(cmd.text.text);
          this.#event('sim', `SIM shows "${cmd.text.text}"`);
          return undefined;
        case 'sendShortMessage':
          outgoing.push(cmd.tpdu);
          return undefined;
        case 'refresh':
          return undefined;
        case 'selectItem': {
          const next = wanted[0];
          if (next !== undefined) {
            const hit = cmd.items.find((i) => i.text === next);
            if (hit) {
              wanted.shift();
              return { general: TOOLKIT_RESULT.ok, itemId: hit.id };
            }
            const more = cmd.items.find((i) => i.text === 'More...');
            if (more) return { general: TOOLKIT_RESULT.ok, itemId: more.id };
            return { general: TOOLKIT_RESULT.terminatedByUser };
          }
          prompts++;
          const chosen = this.#user({
            title: cmd.title ?? '',
            items: cmd.items.map((i) => i.text),
          });
          const hit = chosen === undefined ? undefined : cmd.items.find((i) => i.text === chosen);
          this.#event(
            'user',
            `"${cmd.title ?? ''}": ${hit ? `chose "${hit.text}"` : 'backed out'}`,
          );
          return hit
            ? { general: TOOLKIT_RESULT.ok, itemId: hit.id }
            : { general: TOOLKIT_RESULT.terminatedByUser };
        }
      }
    };
    if (first.proactivePending !== undefined) await this.sim.runProactive(first, answer);
    const sent: MoAnswer[] = [];
    for (const tpdu of outgoing) {
      const a = await this.#sendMo(tpdu);
      if (a) sent.push(a);
    }
    if (wanted.length)
      throw new HandsetError('HANDSET_REFUSED', `the SIM menu offers no item "${wanted[0]}"`);
    return { sent, prompts };
  }

  /** Post one SMS-SUBMIT to the OTA server. A refused PoR is logged; a refused message throws. */
  async #sendMo(tpdu: Uint8Array): Promise<MoAnswer | undefined> {
    const por = carriesPor(tpdu);
    let a: MoAnswer;
    try {
      a = await this.link.postMo(tpdu);
    } catch (e) {
      if (por && e instanceof HandsetError) {
        this.#event('PoR', `OTA server refused the SIM's proof of receipt: ${e.message}`);
        return undefined;
      }
      throw e;
    }
    if (a.status === 'incomplete') return a;
    if (a.kind === 'por')
      this.#event('PoR', `SIM's proof of receipt relayed (status ${a.porStatus ?? '?'})`);
    else if (a.message) {
      const step = MO_STEPS[a.message.type] ?? 'SMS';
      this.#event(
        step,
        `SIM's ${a.message.type} (transaction ${a.message.transactionId}) sent by SMS to the OTA server and relayed`,
      );
    }
    return a;
  }

  /** Hand the queued SMS-DELIVERs to the SIM (309-310), waiting up to `wait` seconds for one. */
  async #deliverMt(wait: number): Promise<number> {
    const { messages, next } = await this.link.fetchMt(this.#after, wait);
    for (const m of messages) {
      this.#after = Math.max(this.#after, m.seq);
      const r = await this.sim.smsPpDownload(fromHex(m.tpdu));
      if (r.sw === 0x6200)
        this.#event(
          'security',
          `SIM refused a secured packet (counter ${m.counter}); nothing changed`,
        );
      else
        this.#event(
          '309-310',
          `SMS-PP download to the SIM: ${m.kind} packet, counter ${m.counter}, part ${m.part}/${m.parts}`,
        );
      await this.#session(r);
    }
    this.#after = Math.max(this.#after, next);
    return messages.length;
  }

  /** Deliver MT messages until `check` resolves to something other than `undefined`. */
  async #until<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + this.#timeout;
    for (;;) {
      const got = await check();
      if (got !== undefined) return got;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new HandsetError('HANDSET_TIMEOUT', `${what}: no answer within ${this.#timeout} ms`);
      await this.#deliverMt(Math.max(0, Math.min(this.#pollWait, Math.floor(left / 1000))));
    }
  }

  /** Move the SIM's mailbox into the handset's queue; take the first message `match` accepts. */
  async #takeMessage<T extends SimvaultMessage>(
    match: (m: SimvaultMessage) => m is T,
  ): Promise<T | undefined> {
    for (
      let m = await this.sim.takeHandsetMessage();
      m !== undefined;
      m = await this.sim.takeHandsetMessage()
    )
      this.#mailbox.push(m);
    const i = this.#mailbox.findIndex(match);
    return i < 0 ? undefined : (this.#mailbox.splice(i, 1)[0] as T);
  }

  #refusalSince(mark: number, pattern: RegExp): string | undefined {
    return this.#notices.slice(mark).find((n) => pattern.test(n));
  }

  /** Choose a main-menu item, then the sub-menu items of `path`, following "More..." pages. */
  async #choose(path: readonly string[]): Promise<{ sent: MoAnswer[]; prompts: number }> {
    await this.#powerOn();
    const [first, ...rest] = path;
    const direct = this.#menu.find((i) => i.text === first);
    const more = this.#menu.find((i) => i.text === 'More...');
    const item = direct ?? more;
    if (!item)
      throw new HandsetError(
        'HANDSET_REFUSED',
        `the SIM menu has no item "${first}" (menu: ${this.menu.join(', ') || 'empty'})`,
      );
    return this.#session(await this.sim.menuSelection(item.id), direct ? rest : path);
  }

  #mounted(): { card: Card; cid: Uint8Array } {
    if (!this.#card || !this.#cid)
      throw new HandsetError('HANDSET_REFUSED', 'no bound card is mounted: insert one first');
    return { card: this.#card, cid: this.#cid };
  }

  /** Anchor every zone generation that moved forward in the SIM. */
  async #anchor(): Promise<Partial<Record<Zone, number>>> {
    const { card, cid } = this.#mounted();
    const now = card.generations();
    const stored = await this.sim.readAnchors(cid);
    const forward: Partial<Record<Zone, number>> = {};
    for (const z of ZONES) {
      const g = now[z];
      if (g !== undefined && g > (stored[z] ?? 0)) forward[z] = g;
    }
    if (Object.keys(forward).length) await this.sim.updateAnchors(cid, forward);
    return { ...stored, ...forward };
  }

  async #chipProvider(): Promise<FileKeyProvider | undefined> {
    const chip = this.#options.chip;
    if (!chip) return undefined;
    this.#chip ??= new ChipClient(chip.transport);
    await this.#chip.selectChip();
    await this.#chip.verifyPin(chip.pin);
    return chipProvider(this.#chip);
  }

  /**
   * Steps 301-311: read the card's CID, verify it with the card application server, pass it to the
   * SIM and, if the SIM does not have it, relay the bind request and response; then get the zone
   * keys and anchors from the SIM and mount the card (formatting it if it is blank).
   *
   * @param slot - the card (default the one given to the constructor)
   *
   * @example
   * ```ts
   * import type { Handset } from 'simvault/handset';
   * declare const phone: Handset;
   * const r = await phone.insertCard();
   * r.binding; // 'new' the first time, 'existing' afterwards
   * ```
   */
  async insertCard(slot: CardSlot | undefined = this.#slot): Promise<InsertResult> {
    if (!slot) throw new HandsetError('INVALID_ARGUMENT', 'no card in the slot');
    if (!(slot.cid instanceof Uint8Array) || slot.cid.length !== 16)
      throw new HandsetError('INVALID_ARGUMENT', 'the CID register is 16 bytes');
    if (this.#card) await this.#release();
    this.#slot = slot;
    const cid = slot.cid;
    await this.#powerOn();
    this.#event(
      '301',
      `card inserted; CID ${toHex(cid)} read and sent to the card application server`,
    );
    const verified = await this.link.verifyCard(cid);
    this.#event(
      '302',
      `card application server knows the card (${verified.state}, ${verified.stage}): it is legitimate`,
    );
    const mode = this.#options.bindMode === 'now' ? 'bindNow' : 'askUser';
    const inserted = await this.sim.cardInserted(cid, mode);
    this.#event('303', `CID passed to the SIM (CARD INSERTED): ${inserted.status}`);
    let binding: InsertResult['binding'] = 'existing';
    if (inserted.status === 'bound') {
      this.#event('304', 'the SIM has the card in its binding list: already bound');
    } else {
      this.#event('304', 'the card is not in the SIM binding list: binding it');
      const mark = this.#notices.length;
      const session = await this.#session(inserted.response);
      const asked = session.sent.some((a) => a.message?.type === 'bindRequest');
      if (!asked && session.prompts > 0)
        throw new HandsetError('HANDSET_REFUSED', 'the user declined to bind the card');
      await this.#until('bind response (308-311)', async () => {
        if ((await this.sim.cardInserted(cid, 'lookup')).status === 'bound') return true;
        const refusal = this.#refusalSince(mark, /^(Bind refused|Card not bound)/);
        if (refusal)
          throw new HandsetError('HANDSET_REFUSED', `the SIM did not bind the card: ${refusal}`);
        return undefined;
      });
      this.#event('311', 'the SIM stored the card and its applications in its binding list');
      binding = 'new';
    }
    const keys = await this.sim.cardKeys(cid);
    const anchors = await this.sim.readAnchors(cid);
    this.#event(
      '504',
      `zone keys of the card received from the SIM (card key ${toHex(keys.cardKeyIdentifier).slice(0, 16)}…)`,
    );
    let formatted = false;
    try {
      await readCardInfo(slot.device);
    } catch (e) {
      if (!(e instanceof SimvaultError && e.code === 'CARD_NOT_FORMATTED')) throw e;
      const f = this.#options.format ?? {};
      await formatCard(slot.device, {
        cid,
        keys,
        ...(f.zones ? { zones: f.zones } : {}),
        ...(f.secureChipZones ? { secureChipZones: f.secureChipZones } : {}),
        ...(f.fill ? { fill: f.fill } : {}),
      });
      formatted = true;
      this.#event(
        '504',
        `blank card formatted: operator, advertising, multimedia and user zones, each under its own key`,
      );
    }
    const chip = await this.#chipProvider();
    this.#card = await mountCard(slot.device, { cid, keys, anchors, ...(chip ? { chip } : {}) });
    this.#cid = cid;
    const anchored = await this.#anchor();
    this.#event('anchor', `zone generations anchored in the SIM: ${JSON.stringify(anchored)}`);
    return {
      cid: toHex(cid),
      lifecycle: verified.state,
      binding,
      formatted,
      anchors: anchored,
      capacity: this.#card.capacity(),
      menu: this.menu,
    };
  }

  /**
   * Steps 501-505 for the application the SIM menu shows as `name`: the SIM's launch request goes
   * to the card application server, whose download resource info comes back through the SIM; the
   * handset downloads the file from the OTA server into the application's zone (resuming after
   * interruptions), reads it back and hashes it, reports LAUNCH COMPLETE to the SIM, and relays
   * the SIM's download-complete notice. With `aid`, the resource info must be for that AID.
   *
   * @param name - the application's STK menu item
   * @param options - the AID expected
   *
   * @example
   * ```ts
   * import type { Handset } from 'simvault/handset';
   * declare const phone: Handset;
   * const r = await phone.launch('Mobile TV');
   * r.intact; // true: the card holds exactly the file announced
   * ```
   */
  async launch(name: string, options: { aid?: Uint8Array } = {}): Promise<LaunchResult> {
    const { card, cid } = this.#mounted();
    this.#event('501', `user chooses "${name}" → Launch in the STK menu`);
    await this.#choose([name, 'Launch']);
    const isInfo = (m: SimvaultMessage): m is DownloadResourceInfo =>
      m.type === 'downloadResourceInfo' && toHex(m.cid).slice(0, 30) === toHex(cid).slice(0, 30);
    const info = await this.#until('download resource info (502)', () => this.#takeMessage(isInfo));
    if (options.aid && toHex(options.aid) !== toHex(info.aid)) {
      throw new HandsetError(
        'HANDSET_REFUSED',
        `"${name}" is application ${toHex(info.aid)}, not ${toHex(options.aid)}`,
      );
    }
    this.#event(
      '502',
      `download resource info: ${info.resource.url}, ${info.resource.size} bytes, zone ${info.zone}`,
    );
    const file = fileNameOf(info.aid);
    const url = new URL(info.resource.url, `${this.link.otaUrl}/`);
    const stored = await storeResource({
      link: this.link,
      url,
      zone: card.zone(info.zone),
      name: file,
      size: info.resource.size,
      checkpointBytes: this.#options.checkpointBytes ?? 1 << 20,
      maxAttempts: this.#options.downloadAttempts ?? 5,
      onAttempt: (a) => {
        this.#event(
          '503',
          a.error
            ? `download interrupted at ${a.from} bytes: ${a.error}`
            : `downloaded from the OTA server (HTTP ${a.status}${a.from ? `, resumed at ${a.from}` : ''})`,
        );
      },
    });
    const secure = card.info().zones.find((z) => z.zone === info.zone)?.secureChip ?? false;
    this.#event(
      '504',
      `stored in the ${info.zone} zone as ${file}, encrypted ${secure ? 'with per-file keys from the secure chip' : "under the SIM's zone key"}`,
    );
    const anchors = await this.#anchor();
    const intact =
      stored.size === info.resource.size && toHex(stored.digest) === toHex(info.resource.digest);
    const complete = await this.sim.launchComplete({
      type: 'launchComplete',
      transactionId: info.transactionId,
      cid: info.cid,
      aid: info.aid,
      size: stored.size,
      digest: stored.digest,
    });
    this.#event(
      '505',
      `launch complete reported to the SIM (sha256 ${toHex(stored.digest).slice(0, 16)}…)`,
    );
    const session = await this.#session(complete);
    const notice = session.sent.find((a) => a.message?.type === 'downloadComplete');
    const serverOutcome = notice?.outcome?.status ?? null;
    if (serverOutcome)
      this.#event('505', `card application server recorded the download: ${serverOutcome}`);
    if (!intact) {
      await card.zone(info.zone).delete(file);
      await this.#anchor();
      throw new HandsetError(
        'HANDSET_DOWNLOAD_FAILED',
        `${file}: the card holds ${stored.size} bytes with another digest than announced; deleted`,
      );
    }
    return {
      aid: toHex(info.aid),
      name,
      zone: info.zone,
      file,
      size: stored.size,
      digest: toHex(stored.digest),
      intact,
      attempts: stored.attempts,
      resumedFrom: stored.resumedFrom,
      serverOutcome,
      anchors,
    };
  }

  /** Steps 605-606: the card deletes the file a delete command names, in whichever zone holds it. */
  async #applyDelete(command: DeleteCommand): Promise<Zone | null> {
    const { card } = this.#mounted();
    const file = fileNameOf(command.aid);
    let found: Zone | null = null;
    for (const z of ZONES) {
      const zone = card.zone(z);
      if (await zone.exists(file)) {
        await zone.delete(file);
        found = z;
      }
      if ((await zone.pending()).some((p) => p.name === file)) await zone.abandon(file);
    }
    return found;
  }

  /**
   * Steps 601-606 for the application the SIM menu shows as `name`: the SIM's delete request goes
   * to the card application server, its delete command comes back through the SIM, and the card
   * deletes the file.
   *
   * @param name - the application's STK menu item
   *
   * @example
   * ```ts
   * import type { Handset } from 'simvault/handset';
   * declare const phone: Handset;
   * (await phone.deleteApp('Mobile TV')).zone; // 'multimedia'
   * ```
   */
  async deleteApp(name: string): Promise<{
    /** The application's AID, hex. */
    aid: string;
    /** The file deleted. */
    file: string;
    /** The zone it was in (`null` when the card did not hold it). */
    zone: Zone | null;
    /** Zone generations now anchored in the SIM. */
    anchors: Partial<Record<Zone, number>>;
  }> {
    const { cid } = this.#mounted();
    this.#event('601', `user chooses "${name}" → Delete in the STK menu`);
    await this.#choose([name, 'Delete']);
    const isDelete = (m: SimvaultMessage): m is DeleteCommand =>
      m.type === 'deleteCommand' && toHex(m.cid).slice(0, 30) === toHex(cid).slice(0, 30);
    const command = await this.#until('delete command (603-604)', () =>
      this.#takeMessage(isDelete),
    );
    this.#event('603-605', `delete command for ${toHex(command.aid)} received through the SIM`);
    const zone = await this.#applyDelete(command);
    this.#event(
      '606',
      zone
        ? `the card deleted ${fileNameOf(command.aid)} from the ${zone} zone`
        : 'the card did not hold the file',
    );
    return {
      aid: toHex(command.aid),
      file: fileNameOf(command.aid),
      zone,
      anchors: await this.#anchor(),
    };
  }

  /**
   * Steps 401-405: the user picks the card in the SIM menu and unbinds it; the SIM sends the
   * unbind request, the card application server releases the binding, and the SIM masks or
   * deletes the card's entry. The card's contents stay sealed under this SIM's keys (a re-bind to
   * it restores them); with `erase`, the handset crypto-erases every zone after the SIM confirmed.
   *
   * @param options - whether to crypto-erase the card
   *
   * @example
   * ```ts
   * import type { Handset } from 'simvault/handset';
   * declare const phone: Handset;
   * await phone.unbind({ erase: true });
   * ```
   */
  async unbind(options: { erase?: boolean } = {}): Promise<{
    /** The card's CID, hex. */
    cid: string;
    /** Whether the card was crypto-erased. */
    erased: boolean;
  }> {
    const { card, cid } = this.#mounted();
    const mark = this.#notices.length;
    this.#event('401', `user chooses "${cardLabel(cid)}" → Unbind in the STK menu`);
    await this.#choose([cardLabel(cid), 'Unbind']);
    await this.#until('unbind response (403-405)', async () => {
      const refusal = this.#refusalSince(mark, /^Unbind refused/);
      if (refusal) throw new HandsetError('HANDSET_REFUSED', `the SIM kept the card: ${refusal}`);
      return (await this.sim.cardInserted(cid, 'lookup')).status === 'bound' ? undefined : true;
    });
    this.#event('405', 'the SIM released the binding');
    // Erase with the keys the mount holds: the SIM no longer hands them out.
    if (options.erase) {
      await card.erase();
      this.#event(
        '405',
        'the card was crypto-erased: every zone has a new salt, the old contents are unrecoverable',
      );
    }
    await this.#release();
    return { cid: toHex(cid), erased: options.erase === true };
  }

  /** Forget the mount, the card staying in the slot: flush, but keep the device open. */
  async #release(): Promise<void> {
    const card = this.#card;
    this.#card = undefined;
    this.#cid = undefined;
    if (card) await card.unmount({ keepDeviceOpen: true });
  }

  /**
   * The card leaves the phone: unmount it and close its device.
   *
   * @example
   * ```ts
   * import type { Handset } from 'simvault/handset';
   * declare const phone: Handset;
   * await phone.removeCard();
   * ```
   */
  async removeCard(): Promise<void> {
    const card = this.#card;
    this.#card = undefined;
    this.#cid = undefined;
    if (card) await card.unmount();
  }

  /**
   * Hand every SMS-DELIVER the OTA server queued for the SIM to it (RFM STK list updates of claim
   * 3, late answers), waiting up to `wait` seconds for the first; then act on the SIM's handset
   * mailbox (a delete command deletes its file from the mounted card).
   *
   * @param wait - seconds to long-poll (default 0)
   *
   * @example
   * ```ts
   * import type { Handset } from 'simvault/handset';
   * declare const phone: Handset;
   * (await phone.processMt(5)).menu; // the SIM menu after the STK list update
   * ```
   */
  async processMt(wait = 0): Promise<MtResult> {
    await this.#powerOn();
    const mark = this.#notices.length;
    let delivered = await this.#deliverMt(wait);
    for (let n = delivered; n > 0; delivered += n) n = await this.#deliverMt(0);
    if (delivered)
      this.#event(
        'claim 3',
        `${delivered} SMS handed to the SIM; menu now: ${this.menu.join(', ') || 'empty'}`,
      );
    const handled: string[] = [];
    for (
      let m = await this.sim.takeHandsetMessage();
      m !== undefined;
      m = await this.sim.takeHandsetMessage()
    )
      this.#mailbox.push(m);
    const keep: SimvaultMessage[] = [];
    for (const m of this.#mailbox) {
      if (
        m.type === 'deleteCommand' &&
        this.#card &&
        this.#cid &&
        toHex(m.cid).slice(0, 30) === toHex(this.#cid).slice(0, 30)
      ) {
        await this.#applyDelete(m);
        await this.#anchor();
        handled.push(m.type);
      } else keep.push(m);
    }
    this.#mailbox = keep;
    return { delivered, notices: this.#notices.slice(mark), menu: this.menu, handled };
  }
}
