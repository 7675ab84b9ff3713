/**
 * An HTTP client of the card application server, for the OTA server, the handset and the
 * operator's tools: SIM messages go as simvault message bytes, signed where the server wants a
 * signature; error answers come back as {@link ServerError}s with the server's stable code.
 *
 * @module
 */
import {
  decodeMessage,
  encodeMessage,
  type BindRequest,
  type BindResponse,
  type DeleteCommand,
  type DeleteRequest,
  type DownloadComplete,
  type DownloadResourceInfo,
  type LaunchComplete,
  type LaunchRequest,
  type SimvaultMessage,
  type UnbindRequest,
  type UnbindResponse,
} from '../../protocol/messages.js';
import type { SigningKey } from '../auth.js';
import { ServerError } from '../errors.js';
import { sendRequest } from '../signed-fetch.js';
import type {
  ApplicationRecord,
  CardRecord,
  DownloadReportRow,
  LifecycleState,
} from '../store/store.js';
import type { ImportReport } from './import.js';
import type { CardInfo, CompletionOutcome } from './service.js';

/**
 * Options of {@link CardAppClient}.
 *
 * @example
 * ```ts
 * import type { CardAppClientOptions } from './client.js';
 * const o: CardAppClientOptions = { baseUrl: 'http://127.0.0.1:8080' };
 * ```
 */
export interface CardAppClientOptions {
  /** The server's base URL. */
  baseUrl: string;
  /** The key signing SIM message requests (an `ota` key). */
  otaKey?: SigningKey;
  /** The key signing operator requests (an `operator` key). */
  operatorKey?: SigningKey;
}

/**
 * A client of the card application server.
 *
 * @example
 * ```ts
 * import { CardAppClient } from './client.js';
 * const client = new CardAppClient({ baseUrl: 'http://127.0.0.1:8080', otaKey });
 * const response = await client.bind({ type: 'bindRequest', transactionId: 1, cid, iccid: '89860012345678901234' });
 * response.result; // 'ok'
 * ```
 */
export class CardAppClient {
  private readonly base: string;
  private readonly otaKey: SigningKey | undefined;
  private readonly operatorKey: SigningKey | undefined;

  /**
   * Create a client; it signs SIM message requests with `otaKey` and admin requests with
   * `operatorKey`, and sends unsigned what has no key.
   *
   * @param options - server URL and keys
   */
  constructor(options: CardAppClientOptions) {
    this.base = options.baseUrl.replace(/\/+$/, '');
    this.otaKey = options.otaKey;
    this.operatorKey = options.operatorKey;
  }

  private send(
    method: string,
    path: string,
    body: Uint8Array | undefined,
    contentType: string | undefined,
    key: SigningKey | undefined,
  ): Promise<Response> {
    return sendRequest({
      method,
      url: `${this.base}${path}`,
      key,
      ...(body !== undefined ? { body } : {}),
      ...(contentType !== undefined ? { contentType } : {}),
    });
  }

  private async message<T extends SimvaultMessage['type']>(
    path: string,
    message: SimvaultMessage,
    expect: T,
    key: SigningKey | undefined,
  ) {
    const res = await this.send(
      'POST',
      path,
      encodeMessage(message),
      'application/octet-stream',
      key,
    );
    const reply = decodeMessage(new Uint8Array(await res.arrayBuffer()));
    if (reply.type !== expect)
      throw new ServerError(
        'SERVER_INTERNAL',
        `expected ${expect} from the server, got ${reply.type}`,
      );
    return reply as Extract<SimvaultMessage, { type: T }>;
  }

  private json<T>(
    method: string,
    path: string,
    value: unknown,
    key: SigningKey | undefined,
  ): Promise<T> {
    const body = value === undefined ? undefined : new TextEncoder().encode(JSON.stringify(value));
    return this.send(method, path, body, body ? 'application/json' : undefined, key).then(
      (r) => r.json() as Promise<T>,
    );
  }

  /** Step 302: is the card legitimate? */
  verifyCard(cid: string, iccid?: string): Promise<Pick<CardRecord, 'cid' | 'state' | 'stage'>> {
    return this.json(
      'POST',
      '/v1/cards/verify',
      { cid, ...(iccid !== undefined ? { iccid } : {}) },
      undefined,
    );
  }

  /** Step 307: forward a bind request; resolves to the bind response. */
  bind(request: BindRequest, brand?: string): Promise<BindResponse> {
    const q = brand === undefined ? '' : `?brand=${encodeURIComponent(brand)}`;
    return this.message(`/v1/sim/bind${q}`, request, 'bindResponse', this.otaKey);
  }

  /** Step 402: forward an unbind request from the SIM `iccid`. */
  unbind(request: UnbindRequest, iccid: string): Promise<UnbindResponse> {
    return this.message(`/v1/sim/unbind?iccid=${iccid}`, request, 'unbindResponse', this.otaKey);
  }

  /** Step 501: forward a launch request; resolves to the download resource info. */
  launch(request: LaunchRequest, iccid: string): Promise<DownloadResourceInfo> {
    return this.message(
      `/v1/sim/launch?iccid=${iccid}`,
      request,
      'downloadResourceInfo',
      this.otaKey,
    );
  }

  /** Step 505: report a stored file or a finished download. */
  async complete(
    notice: LaunchComplete | DownloadComplete,
    iccid: string,
  ): Promise<CompletionOutcome> {
    const res = await this.send(
      'POST',
      `/v1/sim/complete?iccid=${iccid}`,
      encodeMessage(notice),
      'application/octet-stream',
      this.otaKey,
    );
    return (await res.json()) as CompletionOutcome;
  }

  /** Step 602: forward a delete request from the SIM `iccid`; resolves to the delete command. */
  delete(request: DeleteRequest, iccid: string): Promise<DeleteCommand> {
    return this.message(`/v1/sim/delete?iccid=${iccid}`, request, 'deleteCommand', this.otaKey);
  }

  /** Import cards from CSV or JSON text. */
  importCards(text: string, format: 'csv' | 'json'): Promise<ImportReport> {
    const body = new TextEncoder().encode(text);
    return this.send(
      'POST',
      '/v1/admin/cards/import',
      body,
      format === 'csv' ? 'text/csv' : 'application/json',
      this.operatorKey,
    ).then((r) => r.json() as Promise<ImportReport>);
  }

  /** The four kinds of card information of one card. */
  cardInfo(cid: string): Promise<CardInfo> {
    return this.json('GET', `/v1/admin/cards/${cid}`, undefined, this.operatorKey);
  }

  /** Change a card's lifecycle state (and stage). */
  setLifecycle(cid: string, state: LifecycleState, stage?: string): Promise<CardRecord> {
    return this.json(
      'POST',
      `/v1/admin/cards/${cid}/lifecycle`,
      { state, ...(stage !== undefined ? { stage } : {}) },
      this.operatorKey,
    );
  }

  /** Define or replace an application. */
  defineApplication(app: ApplicationRecord): Promise<ApplicationRecord> {
    return this.json('PUT', `/v1/admin/applications/${app.aid}`, app, this.operatorKey);
  }

  /** The application catalog. */
  listApplications(): Promise<ApplicationRecord[]> {
    return this.json('GET', '/v1/admin/applications', undefined, this.operatorKey);
  }

  /** Define or replace an offer. */
  defineOffer(
    name: string,
    aids: readonly string[],
  ): Promise<{
    /** The offer. */
    name: string;
    /** Its AIDs. */
    aids: string[];
  }> {
    return this.json('PUT', `/v1/admin/offers/${name}`, { aids }, this.operatorKey);
  }

  /** Give cards an offer's applications. */
  applyOffer(
    name: string,
    cids: readonly string[],
  ): Promise<{
    /** Cards given the offer. */ applied: number;
    /** CIDs not in the registry. */ unknownCards: string[];
  }> {
    return this.json('POST', `/v1/admin/offers/${name}/apply`, { cids }, this.operatorKey);
  }

  /** Downloads per application. */
  downloadReport(): Promise<DownloadReportRow[]> {
    return this.json('GET', '/v1/admin/reports/downloads', undefined, this.operatorKey);
  }
}
