/**
 * The card application server's logic, one method per flow step of the patent, independent of
 * HTTP and of the database: verify a card (302), bind (308), unbind (403), launch (502), record a
 * finished download (505), delete (603), and the operator's provisioning and reports.
 *
 * Outcomes a reply message can carry (bind and unbind responses have a result code) are answered
 * in the message, because the SIM needs them; outcomes a reply cannot carry (download resource
 * info and delete command have none) are {@link ServerError}s with stable codes.
 *
 * @module
 */
import { fromHex, toHex } from '../../bytes.js';
import { decodeCid, encodeCid } from '../../protocol/cid.js';
import type {
  BindRequest,
  BindResponse,
  DeleteCommand,
  DeleteRequest,
  DownloadComplete,
  DownloadResourceInfo,
  LaunchComplete,
  LaunchRequest,
  ResultCode,
  UnbindRequest,
  UnbindResponse,
} from '../../protocol/messages.js';
import { replayedError, type NonceClaim } from '../auth.js';
import { ServerError } from '../errors.js';
import type {
  ApplicationRecord,
  BindingRecord,
  CardRecord,
  DownloadReportRow,
  FileRecord,
  LifecycleState,
  RegistryStore,
} from '../store/store.js';
import type { ImportReport, ParsedImport } from './import.js';
import { parseCidRegister, toCustomized } from './validate.js';

/**
 * Everything the registry knows about one card: the four kinds of card information of claim 4.
 *
 * @example
 * ```ts
 * import type { CardInfo } from './service.js';
 * function summary(info: CardInfo) {
 *   return `${info.card.cid} ${info.card.state} bound to ${info.binding?.iccid ?? 'nothing'}`;
 * }
 * ```
 */
export interface CardInfo {
  /** 1. Card application info. */
  card: CardRecord;
  /** 2. Card binding info. */
  binding: BindingRecord | null;
  /** 3. User application customization info. */
  applications: ApplicationRecord[];
  /** 4. In-card application file management info. */
  files: FileRecord[];
}

/**
 * The outcome of a finished download as recorded: `stored` or `failed` (the card reported a size
 * or digest other than the resource's, or the SIM reported a failure).
 *
 * @example
 * ```ts
 * import type { CompletionOutcome } from './service.js';
 * const o: CompletionOutcome = { cid: '035344535530314780401c75130063', aid: 'a0000000871001', status: 'stored' };
 * ```
 */
export interface CompletionOutcome {
  /** CID identity. */
  cid: string;
  /** AID, hex. */
  aid: string;
  /** What was recorded. */
  status: 'stored' | 'failed';
}

function refusedState(state: LifecycleState): boolean {
  return state === 'blocked' || state === 'retired';
}

/** The full 16-byte register of a CID identity, with its CRC7. */
function cidRegister(identity: string): Uint8Array {
  return encodeCid({ ...decodeCid(fromHex(`${identity}00`)), crc: 'valid' });
}

/**
 * The card application server, over a {@link RegistryStore}.
 *
 * @example
 * ```ts
 * import { CardAppService } from './service.js';
 * import { openStore } from '../store/open.js';
 * const service = new CardAppService(await openStore({ dataDir: './simvault-data' }));
 * await service.verifyCard('035344535530314780401c75130063');
 * ```
 */
export class CardAppService {
  /** The registry. */
  readonly store: RegistryStore;
  private readonly now: () => number;

  /**
   * @param store - the registry
   * @param now - the clock, ms since the epoch (tests pass a fixed one)
   */
  constructor(store: RegistryStore, now: () => number = Date.now) {
    this.store = store;
    this.now = now;
  }

  private async usableCard(cid: string): Promise<CardRecord> {
    const card = await this.store.getCard(cid);
    if (!card) throw new ServerError('SERVER_UNKNOWN_CARD', `card ${cid} is not registered`);
    if (refusedState(card.state))
      throw new ServerError('SERVER_CARD_BLOCKED', `card ${cid} is ${card.state}`);
    return card;
  }

  private async boundTo(cid: string, iccid: string): Promise<void> {
    const binding = await this.store.getBinding(cid);
    if (binding?.iccid !== iccid)
      throw new ServerError('SERVER_NOT_BOUND', `card ${cid} is not bound to SIM ${iccid}`);
  }

  private async offered(cid: string, aid: string): Promise<ApplicationRecord> {
    const app = (await this.store.customizedApplications(cid)).find((a) => a.aid === aid);
    if (!app)
      throw new ServerError(
        'SERVER_UNKNOWN_APP',
        `application ${aid} is not offered for card ${cid}`,
      );
    return app;
  }

  /**
   * Step 302: is this a legitimate card? Resolves to its record; an unknown CID is
   * `SERVER_UNKNOWN_CARD`, a blocked or retired card `SERVER_CARD_BLOCKED`.
   */
  async verifyCard(cid: string): Promise<CardRecord> {
    return this.usableCard(cid);
  }

  /**
   * Step 308: bind the card to the requesting SIM and answer with its customized applications.
   * A retried bind from the SIM that holds the binding answers `ok` again. With `nonce` (of the
   * signed request that carried it), the nonce is claimed in the bind's own transaction; an
   * already claimed one is `SERVER_REPLAYED`.
   */
  async bind(request: BindRequest, brand?: string, nonce?: NonceClaim): Promise<BindResponse> {
    const cid = parseCidRegister(request.cid);
    const sim = {
      iccid: request.iccid,
      ...(request.imsi !== undefined ? { imsi: request.imsi } : {}),
      ...(brand !== undefined ? { brand } : {}),
    };
    const { outcome, applications: read } = await this.store.bind(cid, sim, this.now(), nonce);
    if (outcome === 'replayed') throw replayedError();
    const results: Record<Exclude<typeof outcome, 'replayed'>, ResultCode> = {
      bound: 'ok',
      alreadyBound: 'ok',
      otherSim: 'alreadyBound',
      unknownCard: 'unknownCard',
      blocked: 'cardBlocked',
    };
    const result = results[outcome];
    const applications =
      result === 'ok'
        ? (read ?? (await this.store.customizedApplications(cid))).map(toCustomized)
        : [];
    return {
      type: 'bindResponse',
      transactionId: request.transactionId,
      cid: request.cid,
      result,
      applications,
    };
  }

  /** Step 403: release the card from the requesting SIM. */
  async unbind(request: UnbindRequest, iccid: string): Promise<UnbindResponse> {
    const cid = parseCidRegister(request.cid);
    let result: ResultCode = 'ok';
    if (!(await this.store.getCard(cid))) result = 'unknownCard';
    else if (!(await this.store.unbind(cid, iccid))) result = 'notBound';
    return {
      type: 'unbindResponse',
      transactionId: request.transactionId,
      cid: request.cid,
      result,
    };
  }

  /**
   * Step 502: where to download an application the card is offered, counting the download. The
   * card must be usable and bound to the requesting SIM, the application offered to it with a
   * download resource.
   */
  async launch(request: LaunchRequest, iccid: string): Promise<DownloadResourceInfo> {
    const cid = parseCidRegister(request.cid);
    const aid = toHex(request.aid);
    await this.usableCard(cid);
    await this.boundTo(cid, iccid);
    const app = await this.offered(cid, aid);
    if (!app.resource)
      throw new ServerError(
        'SERVER_UNKNOWN_APP',
        `application ${aid} is preloaded: it has no download resource`,
      );
    await this.store.recordLaunch(cid, aid, this.now());
    const { resource } = toCustomized(app);
    return {
      type: 'downloadResourceInfo',
      transactionId: request.transactionId,
      cid: request.cid,
      aid: request.aid,
      zone: app.zone,
      resource: resource!,
    };
  }

  /**
   * Step 505: the card stored the file (launch complete, checked against the resource's size and
   * digest) or the SIM reports the download's result (download complete).
   */
  async complete(
    notice: LaunchComplete | DownloadComplete,
    iccid: string,
  ): Promise<CompletionOutcome> {
    const cid = parseCidRegister(notice.cid);
    const aid = toHex(notice.aid);
    await this.boundTo(cid, iccid);
    const app = await this.store.getApplication(aid);
    if (!app) throw new ServerError('SERVER_UNKNOWN_APP', `application ${aid} is not defined`);
    let outcome: { status: 'stored' | 'failed'; size?: number; digest?: string };
    if (notice.type === 'launchComplete') {
      const digest = toHex(notice.digest);
      const matches =
        app.resource !== null &&
        app.resource.size === notice.size &&
        app.resource.digest === digest;
      outcome = { status: matches ? 'stored' : 'failed', size: notice.size, digest };
    } else {
      outcome = { status: notice.result === 'ok' ? 'stored' : 'failed' };
    }
    if (!(await this.store.recordCompletion(cid, aid, outcome, this.now()))) {
      throw new ServerError(
        'SERVER_UNKNOWN_APP',
        `no download of ${aid} was launched for card ${cid}`,
      );
    }
    return { cid, aid, status: outcome.status };
  }

  /**
   * Step 603: record the deletion and answer with the delete command for the card. Without a CID
   * the card is the one bound to the SIM that is offered the application; several such cards is a
   * `SERVER_BAD_REQUEST` (the SIM must name the card).
   */
  async delete(request: DeleteRequest, iccid: string): Promise<DeleteCommand> {
    const aid = toHex(request.aid);
    let cid: string;
    let register: Uint8Array;
    if (request.cid !== undefined) {
      cid = parseCidRegister(request.cid);
      register = request.cid;
      await this.usableCard(cid);
      await this.boundTo(cid, iccid);
      await this.offered(cid, aid);
    } else {
      const holders: string[] = [];
      for (const b of await this.store.bindingsOfSim(iccid)) {
        if ((await this.store.customizedApplications(b.cid)).some((a) => a.aid === aid))
          holders.push(b.cid);
      }
      if (holders.length === 0)
        throw new ServerError(
          'SERVER_UNKNOWN_APP',
          `no card bound to SIM ${iccid} is offered application ${aid}`,
        );
      if (holders.length > 1)
        throw new ServerError(
          'SERVER_BAD_REQUEST',
          `cid: ${holders.length} cards bound to SIM ${iccid} hold ${aid}; name the card`,
        );
      cid = holders[0]!;
      await this.usableCard(cid);
      register = cidRegister(cid);
    }
    await this.store.recordDelete(cid, aid, this.now());
    return {
      type: 'deleteCommand',
      transactionId: request.transactionId,
      cid: register,
      aid: request.aid,
    };
  }

  /** Register the valid rows of a parsed import in one transaction; the report lists every refused row. */
  async importCards(parsed: ParsedImport): Promise<ImportReport> {
    const { accepted, refused } = await this.store.importCards(
      parsed.valid.map((v) => v.card),
      this.now(),
    );
    const rejected = [...parsed.rejected];
    for (const r of refused) {
      const v = parsed.valid[r.index]!;
      rejected.push({
        row: v.row,
        cid: v.cid,
        reason: r.reason,
        message:
          r.reason === 'duplicate'
            ? `card ${v.card.cid} is already registered`
            : `offer ${v.card.offer} is not defined`,
      });
    }
    rejected.sort((a, b) => a.row - b.row);
    return { rows: parsed.rows, accepted, rejected };
  }

  /** Define or replace an application of the catalog (validated with `parseApplication`). */
  async defineApplication(app: ApplicationRecord): Promise<ApplicationRecord> {
    await this.store.putApplication(app, this.now());
    return app;
  }

  /** Define or replace an offer; every AID must be in the catalog (`SERVER_UNKNOWN_APP`). */
  async defineOffer(
    name: string,
    aids: readonly string[],
  ): Promise<{ name: string; aids: string[] }> {
    const unique = [...new Set(aids)];
    const { unknownApps } = await this.store.defineOffer(name, unique);
    if (unknownApps.length)
      throw new ServerError(
        'SERVER_UNKNOWN_APP',
        `application(s) not defined: ${unknownApps.join(', ')}`,
      );
    return { name, aids: unique };
  }

  /** Give cards an offer's applications; an unknown offer is `SERVER_UNKNOWN_OFFER`. */
  async applyOffer(
    name: string,
    cids: readonly string[],
  ): Promise<{ applied: number; unknownCards: string[] }> {
    const result = await this.store.applyOffer(name, cids, this.now());
    if (!result) throw new ServerError('SERVER_UNKNOWN_OFFER', `offer ${name} is not defined`);
    return result;
  }

  /** Change a card's lifecycle state (and stage); an unknown card is `SERVER_UNKNOWN_CARD`. */
  async setLifecycle(cid: string, state: LifecycleState, stage?: string): Promise<CardRecord> {
    const card = await this.store.setLifecycle(cid, state, stage, this.now());
    if (!card) throw new ServerError('SERVER_UNKNOWN_CARD', `card ${cid} is not registered`);
    return card;
  }

  /** The four kinds of card information about one card. */
  async cardInfo(cid: string): Promise<CardInfo> {
    const card = await this.store.getCard(cid);
    if (!card) throw new ServerError('SERVER_UNKNOWN_CARD', `card ${cid} is not registered`);
    const [binding, applications, files] = await Promise.all([
      this.store.getBinding(cid),
      this.store.customizedApplications(cid),
      this.store.fileRecords(cid),
    ]);
    return { card, binding: binding ?? null, applications, files };
  }

  /** Downloads, stored files and deletions per application. */
  downloadReport(): Promise<DownloadReportRow[]> {
    return this.store.downloadReport();
  }
}
