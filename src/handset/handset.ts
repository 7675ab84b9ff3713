/**
 * The handset: the one layer that knows all the others. It holds nothing persistent of its own;
 * it relays between the SIM (APDUs), the memory card (a block device and, optionally, its secure
 * chip) and the two operator servers (HTTP), and runs each flow of the patent end to end: bind
 * (301-311), launch and download (501-505), delete (601-606), unbind (401-405) and RFM updates of
 * the STK list (claim 3). It reads the card's rollback anchors from the SIM once per insertion
 * and moves them after every change to the card.
 *
 * The handset sees the SIM as a real phone does: it answers proactive commands (the user's
 * choices go through {@link HandsetOptions.user}), sends every SEND SHORT MESSAGE to the OTA
 * server, and hands every queued SMS-DELIVER to the SIM as an SMS-PP download. It never reads the
 * secured packets it carries, nor the texts the SIM displays: it learns outcomes from typed SIM
 * answers (CARD INSERTED, LAST OUTCOME, the handset mailbox) and finds menu items by identifier
 * (MENU PATH).
 *
 * @module
 */
import { equalBytes, fromHex, toHex } from '../bytes.js';
import { formatCard, mountCard, readCardInfo, type Card } from '../card/card.js';
import type { FileKeyProvider } from '../card/file-keys.js';
import { ZONES, type Zone } from '../crypto/keys.js';
import { ArgumentError, SimvaultError } from '../errors.js';
import type { DeleteCommand, DownloadResourceInfo, SimvaultMessage } from '../protocol/messages.js';
import { decodeSmsTpdu } from '../protocol/sms.js';
import { TOOLKIT_RESULT } from '../protocol/toolkit-terminal.js';
import { SW } from '../sim/applet/apdu-table.js';
import { sameCard } from '../sim/applet/binding-list.js';
import {
  SimClient,
  type ProactiveAnswer,
  type SimApplication,
  type SimResponse,
} from '../sim/applet/sim-client.js';
import { ChipClient } from '../sim/chip-client.js';
import { keepAnchors, type AnchoredMount } from './bound-card.js';
import { storeResource } from './download.js';
import { HandsetError, refusal } from './errors.js';
import { ServerLink, type MoAnswer } from './server-link.js';
import type {
  CardSlot,
  DeleteResult,
  HandsetApplication,
  HandsetOptions,
  HandsetUser,
  InsertResult,
  LaunchResult,
  MtResult,
  UnbindResult,
} from './types.js';

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
    return sms.userData.header?.some((e) => e.iei === 0x71) === true;
  } catch {
    return false;
  }
}

function applicationOf(a: SimApplication): HandsetApplication {
  return { aid: toHex(a.aid), name: a.name, zone: a.zone, installed: a.installed };
}

/** The option values a handset uses when it is given none. */
const DEFAULTS = {
  timeoutMs: 20_000,
  pollWaitSeconds: 2,
  mtAfter: 0,
  checkpointBytes: 1 << 20,
  downloadAttempts: 5,
};

/** The card in the slot once it is mounted, with the SIM anchors it keeps moving. */
interface Mounted extends AnchoredMount {
  cid: Uint8Array;
}

/**
 * The handset orchestrator.
 *
 * @example
 * ```ts
 * import { Handset } from 'simvault/handset';
 * import { MemoryDevice } from 'simvault/card';
 * import { SimCard, type SimState } from 'simvault/sim';
 * declare const simState: SimState, cid: Uint8Array;
 * const phone = new Handset({ sim: new SimCard(simState), iccid: simState.iccid, otaUrl: 'http://127.0.0.1:8081',
 *   cardAppUrl: 'http://127.0.0.1:8080', card: { device: new MemoryDevice(32 << 20), cid } });
 * await phone.insertCard();
 * const stored = await phone.launch('Mobile TV');
 * await phone.deleteApp(stored.aid);
 * await phone.unbind();
 * ```
 */
export class Handset {
  /**
   * The handset's HTTP link to the two servers.
   *
   * @internal
   */
  readonly link: ServerLink;
  /** The SIM client. */
  readonly sim: SimClient;
  private readonly options: HandsetOptions & typeof DEFAULTS;
  private readonly user: HandsetUser;
  private slot: CardSlot | undefined;
  private after: number;
  private poweredOn = false;
  private menuItems: { id: number; text: string }[] = [];
  private noticeList: string[] = [];
  private mailbox: SimvaultMessage[] = [];
  private mounted: Mounted | undefined;
  private chip: ChipClient | undefined;

  /**
   * Create a handset; nothing is sent until the first flow.
   *
   * @param options - the SIM, the servers, the card slot and how to behave
   */
  constructor(options: HandsetOptions) {
    // Options given as `undefined` (from plain JavaScript) keep their defaults too.
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.options = { ...DEFAULTS, ...(given as HandsetOptions) };
    this.link = new ServerLink({
      otaUrl: options.otaUrl,
      cardAppUrl: options.cardAppUrl,
      iccid: options.iccid,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      credential: async () => {
        await this.powerOn();
        return this.sim.handsetCredential();
      },
    });
    this.sim = new SimClient(options.sim);
    this.user = options.user ?? ((p) => p.items[0]);
    this.slot = options.card;
    this.after = this.options.mtAfter;
  }

  /**
   * The mounted card, once {@link Handset.insertCard} succeeded. Every change made through it
   * moves the SIM's rollback anchors by itself.
   *
   * @example
   * ```ts
   * import type { Handset } from 'simvault/handset';
   * declare const phone: Handset;
   * await phone.card?.zone('user').writeFile('notes.txt', new TextEncoder().encode('hi')); // anchored
   * ```
   */
  get card(): Card | undefined {
    return this.mounted?.anchored;
  }

  /**
   * The SIM's main menu as last shown (SET UP MENU item texts), for display.
   *
   * @example
   * ```ts
   * import type { Handset } from 'simvault/handset';
   * declare const phone: Handset;
   * phone.menu; // ['Mobile TV', 'Card 00000001']
   * ```
   */
  get menu(): string[] {
    return this.menuItems.map((i) => i.text);
  }

  /**
   * Every DISPLAY TEXT the SIM showed, oldest first, for display (outcomes come typed; see
   * `HandsetError.result`).
   *
   * @example
   * ```ts
   * import type { Handset } from 'simvault/handset';
   * declare const phone: Handset;
   * phone.notices.at(-1); // 'Card 00000001 bound'
   * ```
   */
  get notices(): string[] {
    return [...this.noticeList];
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
    return this.after;
  }

  private event(step: string, text: string): void {
    this.options.onEvent?.({ step, text });
  }

  /** SELECT the applet and send the TERMINAL PROFILE once; the SIM answers with its menu. */
  private async powerOn(): Promise<void> {
    if (this.poweredOn) return;
    await this.sim.select();
    await this.session(await this.sim.terminalProfile());
    this.poweredOn = true;
  }

  /**
   * Run a proactive session: answer every command — SELECT ITEMs with the scripted item
   * identifiers first (`script`, in order), then by asking the user — and post the SIM's short
   * messages.
   */
  private async session(
    first: SimResponse,
    script: readonly number[] = [],
  ): Promise<{ sent: MoAnswer[]; prompts: number }> {
    const wanted = [...script];
    const outgoing: Uint8Array[] = [];
    let prompts = 0;
    let lost: number | undefined;
    const answer: ProactiveAnswer = (cmd) => {
      switch (cmd.kind) {
        case 'setUpMenu':
          this.menuItems = cmd.items.map((i) => ({ id: i.id, text: i.text }));
          return undefined;
        case 'displayText':
          this.noticeList.push(cmd.text.text);
          this.event('sim', `SIM shows "${cmd.text.text}"`);
          return undefined;
        case 'sendShortMessage':
          outgoing.push(cmd.tpdu);
          return undefined;
        case 'refresh':
          return undefined;
        case 'selectItem': {
          const title = cmd.title ?? '';
          const next = wanted.shift();
          if (next !== undefined) {
            if (cmd.items.some((i) => i.id === next))
              return { general: TOOLKIT_RESULT.ok, itemId: next };
            lost = next;
            wanted.length = 0;
            return { general: TOOLKIT_RESULT.terminatedByUser };
          }
          prompts++;
          const chosen = this.user({ title, items: cmd.items.map((i) => i.text) });
          const hit = chosen === undefined ? undefined : cmd.items.find((i) => i.text === chosen);
          this.event('user', `"${title}": ${hit ? `chose "${hit.text}"` : 'backed out'}`);
          return hit
            ? { general: TOOLKIT_RESULT.ok, itemId: hit.id }
            : { general: TOOLKIT_RESULT.terminatedByUser };
        }
      }
    };
    if (first.proactivePending !== undefined) await this.sim.runProactive(first, answer);
    const sent: MoAnswer[] = [];
    for (const tpdu of outgoing) {
      const a = await this.sendMo(tpdu);
      if (a) sent.push(a);
    }
    if (lost !== undefined || wanted.length)
      throw new HandsetError(
        'HANDSET_REFUSED',
        `the SIM menu changed under the handset: it offers no item ${lost ?? wanted[0]} where MENU PATH led`,
      );
    return { sent, prompts };
  }

  /** Post one SMS-SUBMIT to the OTA server. A refused PoR is logged; a refused message throws. */
  private async sendMo(tpdu: Uint8Array): Promise<MoAnswer | undefined> {
    const por = carriesPor(tpdu);
    let a: MoAnswer;
    try {
      a = await this.link.postMo(tpdu);
    } catch (e) {
      if (por && e instanceof HandsetError) {
        this.event('PoR', `OTA server refused the SIM's proof of receipt: ${e.message}`);
        return undefined;
      }
      throw e;
    }
    // An incomplete concatenated SMS has neither kind nor message yet: nothing to tell.
    if (a.kind === 'por')
      this.event('PoR', `SIM's proof of receipt relayed (status ${a.porStatus ?? '?'})`);
    else if (a.message) {
      const step = MO_STEPS[a.message.type] ?? 'SMS';
      this.event(
        step,
        `SIM's ${a.message.type} (transaction ${a.message.transactionId}) sent by SMS to the OTA server and relayed`,
      );
    }
    return a;
  }

  /** Hand the queued SMS-DELIVERs to the SIM (309-310), waiting up to `wait` seconds for one. */
  private async deliverMt(wait: number): Promise<number> {
    const { messages, next } = await this.link.fetchMt(this.after, wait);
    for (const m of messages) {
      this.after = Math.max(this.after, m.seq);
      const r = await this.sim.smsPpDownload(fromHex(m.tpdu));
      if (r.sw === SW.securityRefused)
        this.event(
          'security',
          `SIM refused a secured packet (counter ${m.counter}); nothing changed`,
        );
      else
        this.event(
          '309-310',
          `SMS-PP download to the SIM: ${m.kind} packet, counter ${m.counter}, part ${m.part}/${m.parts}`,
        );
      await this.session(r);
    }
    this.after = Math.max(this.after, next);
    return messages.length;
  }

  /** Deliver MT messages until `check` resolves to something other than `undefined`. */
  private async until<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
    const timeout = this.options.timeoutMs;
    const deadline = Date.now() + timeout;
    for (;;) {
      const got = await check();
      if (got !== undefined) return got;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new HandsetError('HANDSET_TIMEOUT', `${what}: no answer within ${timeout} ms`);
      const wait = Math.min(this.options.pollWaitSeconds, Math.floor(left / 1000));
      await this.deliverMt(Math.max(0, wait));
    }
  }

  /** Move the SIM's mailbox into the handset's queue; take the first message `match` accepts. */
  private async takeMessage<T extends SimvaultMessage>(
    match: (m: SimvaultMessage) => m is T,
  ): Promise<T | undefined> {
    for (
      let m = await this.sim.takeHandsetMessage();
      m !== undefined;
      m = await this.sim.takeHandsetMessage()
    )
      this.mailbox.push(m);
    const i = this.mailbox.findIndex(match);
    return i < 0 ? undefined : (this.mailbox.splice(i, 1)[0] as T);
  }

  /**
   * Choose an action in the SIM's menus by item identifier: MENU PATH gives the main-menu item
   * and the SELECT ITEM answers that lead to it.
   */
  private async choose(
    action: 'launch' | 'delete' | 'unbind',
    cid: Uint8Array,
    aid?: Uint8Array,
  ): Promise<{ sent: MoAnswer[]; prompts: number }> {
    await this.powerOn();
    const path = await this.sim.menuPath(action, cid, aid);
    const [first, ...rest] = path ?? [];
    if (first === undefined)
      throw new HandsetError(
        'HANDSET_REFUSED',
        `the SIM menu offers no ${action} of ${aid ? `application ${toHex(aid)}` : `card ${toHex(cid)}`}`,
      );
    return this.session(await this.sim.menuSelection(first), rest);
  }

  private require(): Mounted {
    if (!this.mounted)
      throw new HandsetError('HANDSET_REFUSED', 'no bound card is mounted: insert one first');
    return this.mounted;
  }

  private async chipProvider(): Promise<FileKeyProvider | undefined> {
    const chip = this.options.chip;
    if (!chip) return undefined;
    this.chip ??= new ChipClient(chip.transport);
    await this.chip.selectChip();
    await this.chip.verifyPin(chip.pin);
    return chipProvider(this.chip);
  }

  /** The AID of an application of the mounted card, by AID or by the name the SIM lists. */
  private async application(m: Mounted, app: string | Uint8Array): Promise<SimApplication> {
    const apps = await this.sim.applications(m.cid);
    const hit =
      typeof app === 'string'
        ? apps.find((a) => a.name === app)
        : apps.find((a) => equalBytes(a.aid, app));
    if (!hit)
      throw new HandsetError(
        'HANDSET_REFUSED',
        `the card has no application ${typeof app === 'string' ? `"${app}"` : toHex(app)} (it has: ${apps.map((a) => a.name).join(', ') || 'none'})`,
      );
    return hit;
  }

  /**
   * Steps 301-311: read the card's CID, verify it with the card application server, pass it to the
   * SIM and, if the SIM does not have it, relay the bind request and response; then get the zone
   * keys and anchors from the SIM and mount the card (formatting it if it is blank). A refused
   * bind is a {@link HandsetError} whose `result` is the SIM's LAST OUTCOME (the server's result
   * code, `thresholdReached` or `declined`).
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
  async insertCard(slot: CardSlot | undefined = this.slot): Promise<InsertResult> {
    if (!slot) throw new ArgumentError('no card in the slot: give insertCard a CardSlot');
    if (!(slot.cid instanceof Uint8Array) || slot.cid.length !== 16)
      throw new ArgumentError('the CID register is 16 bytes');
    if (this.mounted) await this.release();
    this.slot = slot;
    const cid = slot.cid;
    await this.powerOn();
    this.event(
      '301',
      `card inserted; CID ${toHex(cid)} read and sent to the card application server`,
    );
    const verified = await this.link.verifyCard(cid);
    this.event(
      '302',
      `card application server knows the card (${verified.state}, ${verified.stage}): it is legitimate`,
    );
    const mode = this.options.bindMode === 'now' ? 'bindNow' : 'askUser';
    const inserted = await this.sim.cardInserted(cid, mode);
    this.event('303', `CID passed to the SIM (CARD INSERTED): ${inserted.status}`);
    let binding: InsertResult['binding'] = 'existing';
    if (inserted.status === 'bound') {
      this.event('304', 'the SIM has the card in its binding list: already bound');
    } else {
      this.event('304', 'the card is not in the SIM binding list: binding it');
      await this.session(inserted.response);
      await this.until('bind response (308-311)', async () => {
        if ((await this.sim.cardInserted(cid, 'lookup')).status === 'bound') return true;
        const outcome = await this.sim.lastOutcome('bind', cid);
        if (outcome && outcome.result !== 'ok') throw refusal('bind', outcome.result);
        return undefined;
      });
      this.event('311', 'the SIM stored the card and its applications in its binding list');
      binding = 'new';
    }
    const keys = await this.sim.cardKeys(cid);
    const anchors = await this.sim.readAnchors(cid);
    this.event(
      '504',
      `zone keys of the card received from the SIM (card key ${toHex(keys.cardKeyIdentifier).slice(0, 16)}…)`,
    );
    let formatted = false;
    try {
      await readCardInfo(slot.device);
    } catch (e) {
      if (!(e instanceof SimvaultError && e.code === 'CARD_NOT_FORMATTED')) throw e;
      const f = this.options.format ?? {};
      await formatCard(slot.device, {
        cid,
        keys,
        ...(f.zones ? { zones: f.zones } : {}),
        ...(f.secureChipZones ? { secureChipZones: f.secureChipZones } : {}),
        ...(f.fill ? { fill: f.fill } : {}),
      });
      formatted = true;
      this.event(
        '504',
        `blank card formatted: operator, advertising, multimedia and user zones, each under its own key`,
      );
    }
    const chip = await this.chipProvider();
    const card = await mountCard(slot.device, { cid, keys, anchors, ...(chip ? { chip } : {}) });
    const mounted: Mounted = { ...keepAnchors(card, this.sim, cid, anchors), cid };
    this.mounted = mounted;
    const anchored = await mounted.anchor();
    this.event('anchor', `zone generations anchored in the SIM: ${JSON.stringify(anchored)}`);
    return {
      cid: toHex(cid),
      applications: (await this.sim.applications(cid)).map(applicationOf),
      lifecycle: verified.state,
      binding,
      formatted,
      anchors: anchored,
      capacity: card.capacity(),
      menu: this.menu,
    };
  }

  /**
   * Steps 501-505 for an application of the card — by AID, or by its name as the SIM lists it:
   * the SIM's launch request goes to the card application server, whose download resource info
   * comes back through the SIM; the handset downloads the file from the OTA server into the
   * application's zone (resuming after interruptions), reads it back and hashes it, reports
   * LAUNCH COMPLETE to the SIM, and relays the SIM's download-complete notice.
   *
   * @param app - the application's AID, or its name
   *
   * @example
   * ```ts
   * import type { Handset } from 'simvault/handset';
   * declare const phone: Handset;
   * const r = await phone.launch('Mobile TV');
   * r.intact; // true: the card holds exactly the file announced
   * ```
   */
  async launch(app: string | Uint8Array): Promise<LaunchResult> {
    const m = this.require();
    const { card, cid } = m;
    const target = await this.application(m, app);
    this.event('501', `user chooses "${target.name}" → Launch in the STK menu`);
    await this.choose('launch', cid, target.aid);
    const isInfo = (x: SimvaultMessage): x is DownloadResourceInfo =>
      x.type === 'downloadResourceInfo' && sameCard(x.cid, cid) && equalBytes(x.aid, target.aid);
    const info = await this.until('download resource info (502)', () => this.takeMessage(isInfo));
    this.event(
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
      checkpointBytes: this.options.checkpointBytes,
      maxAttempts: this.options.downloadAttempts,
      onAttempt: (a) => {
        this.event(
          '503',
          a.error
            ? `download interrupted at ${a.from} bytes: ${a.error}`
            : `downloaded from the OTA server (HTTP ${a.status}${a.from ? `, resumed at ${a.from}` : ''})`,
        );
      },
    });
    const secure = card.info().zones.find((z) => z.zone === info.zone)?.secureChip === true;
    this.event(
      '504',
      `stored in the ${info.zone} zone as ${file}, encrypted ${secure ? 'with per-file keys from the secure chip' : "under the SIM's zone key"}`,
    );
    const anchors = await m.anchor();
    const intact =
      stored.size === info.resource.size && equalBytes(stored.digest, info.resource.digest);
    const complete = await this.sim.launchComplete({
      type: 'launchComplete',
      transactionId: info.transactionId,
      cid: info.cid,
      aid: info.aid,
      size: stored.size,
      digest: stored.digest,
    });
    this.event(
      '505',
      `launch complete reported to the SIM (sha256 ${toHex(stored.digest).slice(0, 16)}…)`,
    );
    const session = await this.session(complete);
    const notice = session.sent.find((a) => a.message?.type === 'downloadComplete');
    const serverOutcome = notice?.outcome?.status ?? null;
    if (serverOutcome)
      this.event('505', `card application server recorded the download: ${serverOutcome}`);
    if (!intact) {
      await card.zone(info.zone).delete(file);
      await m.anchor();
      throw new HandsetError(
        'HANDSET_DOWNLOAD_FAILED',
        `${file}: the card holds ${stored.size} bytes with another digest than announced; deleted`,
      );
    }
    return {
      aid: toHex(info.aid),
      name: target.name,
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
  private async applyDelete(m: Mounted, command: DeleteCommand): Promise<Zone | null> {
    const file = fileNameOf(command.aid);
    let found: Zone | null = null;
    for (const z of ZONES) {
      const zone = m.card.zone(z);
      if (await zone.exists(file)) {
        await zone.delete(file);
        found = z;
      }
      if ((await zone.pending()).some((p) => p.name === file)) await zone.abandon(file);
    }
    return found;
  }

  /**
   * Steps 601-606 for an application of the card (by AID, or by its name as the SIM lists it):
   * the SIM's delete request goes to the card application server, its delete command comes back
   * through the SIM, and the card deletes the file.
   *
   * @param app - the application's AID, or its name
   *
   * @example
   * ```ts
   * import type { Handset } from 'simvault/handset';
   * declare const phone: Handset;
   * (await phone.deleteApp('Mobile TV')).zone; // 'multimedia'
   * ```
   */
  async deleteApp(app: string | Uint8Array): Promise<DeleteResult> {
    const m = this.require();
    const target = await this.application(m, app);
    this.event('601', `user chooses "${target.name}" → Delete in the STK menu`);
    await this.choose('delete', m.cid, target.aid);
    const isDelete = (x: SimvaultMessage): x is DeleteCommand =>
      x.type === 'deleteCommand' && sameCard(x.cid, m.cid) && equalBytes(x.aid, target.aid);
    const command = await this.until('delete command (603-604)', () => this.takeMessage(isDelete));
    this.event('603-605', `delete command for ${toHex(command.aid)} received through the SIM`);
    const zone = await this.applyDelete(m, command);
    this.event(
      '606',
      zone
        ? `the card deleted ${fileNameOf(command.aid)} from the ${zone} zone`
        : 'the card did not hold the file',
    );
    return {
      aid: toHex(command.aid),
      file: fileNameOf(command.aid),
      zone,
      anchors: await m.anchor(),
    };
  }

  /**
   * Steps 401-405: the user picks the card in the SIM menu and unbinds it; the SIM sends the
   * unbind request, the card application server releases the binding, and the SIM masks or
   * deletes the card's entry. The card's contents stay sealed under this SIM's keys (a re-bind to
   * it restores them); with `erase`, the handset crypto-erases every zone after the SIM confirmed.
   * A refused unbind is a {@link HandsetError} whose `result` is the server's result code.
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
  async unbind(options: { erase?: boolean } = {}): Promise<UnbindResult> {
    const m = this.require();
    this.event('401', `user chooses the card ${toHex(m.cid)} → Unbind in the STK menu`);
    await this.choose('unbind', m.cid);
    await this.until('unbind response (403-405)', async () => {
      const outcome = await this.sim.lastOutcome('unbind', m.cid);
      if (outcome && outcome.result !== 'ok' && outcome.result !== 'notBound')
        throw refusal('unbind', outcome.result);
      return (await this.sim.cardInserted(m.cid, 'lookup')).status === 'bound' ? undefined : true;
    });
    this.event('405', 'the SIM released the binding');
    // Erase with the keys the mount holds: the SIM no longer hands them out.
    if (options.erase) {
      await m.card.erase();
      this.event(
        '405',
        'the card was crypto-erased: every zone has a new salt, the old contents are unrecoverable',
      );
    }
    await this.release();
    return { cid: toHex(m.cid), erased: options.erase === true };
  }

  /** Forget the mount, the card staying in the slot: flush, but keep the device open. */
  private async release(): Promise<void> {
    const m = this.mounted;
    this.mounted = undefined;
    // Unmounting releases this process's writer claim on the device; the device stays open.
    if (m) await m.card.unmount({ keepDeviceOpen: true });
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
    const m = this.mounted;
    this.mounted = undefined;
    if (m) await m.card.unmount();
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
    await this.powerOn();
    const mark = this.noticeList.length;
    let delivered = await this.deliverMt(wait);
    for (let n = delivered; n > 0; delivered += n) n = await this.deliverMt(0);
    if (delivered)
      this.event(
        'claim 3',
        `${delivered} SMS handed to the SIM; menu now: [${this.menu.join(', ')}]`,
      );
    const handled: string[] = [];
    for (
      let x = await this.sim.takeHandsetMessage();
      x !== undefined;
      x = await this.sim.takeHandsetMessage()
    )
      this.mailbox.push(x);
    const keep: SimvaultMessage[] = [];
    const m = this.mounted;
    for (const x of this.mailbox) {
      if (x.type === 'deleteCommand' && m && sameCard(x.cid, m.cid)) {
        const zone = await this.applyDelete(m, x);
        await m.anchor();
        this.event(
          '606',
          zone
            ? `delete command: the card deleted ${fileNameOf(x.aid)} from the ${zone} zone`
            : `delete command for ${fileNameOf(x.aid)}: the card did not hold the file`,
        );
        handled.push(x.type);
      } else keep.push(x);
    }
    this.mailbox = keep;
    return { delivered, notices: this.noticeList.slice(mark), menu: this.menu, handled };
  }
}
