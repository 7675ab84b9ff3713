/**
 * The handset's HTTP side: the card application server's handset endpoint (step 302) and the OTA
 * server's SMS and file endpoints (306, 309, 503), over an injected `fetch` so the same code runs
 * in Node, a browser or a test harness. Errors become {@link HandsetError}s carrying the server's
 * stable code; `429` answers are retried after their `Retry-After`.
 *
 * @module
 */
import { toHex } from '../bytes.js';
import { ArgumentError, errorMessage } from '../errors.js';
import { handsetKeyId, type HandsetCredential } from '../protocol/handset-credential.js';
import { signatureHeaders } from '../protocol/request-signature.js';
import { HandsetError, knownCode } from './errors.js';

/**
 * The part of WHATWG `fetch` the handset uses.
 *
 * @example
 * ```ts
 * import type { FetchLike } from 'simvault/handset';
 * const f: FetchLike = (input, init) => fetch(input, init);
 * ```
 */
export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

/**
 * One SMS-DELIVER the OTA server queued for the SIM (`GET /v1/sms/mt`).
 *
 * @example
 * ```ts
 * import type { MtMessage } from 'simvault/handset';
 * const m: MtMessage = { seq: 1, tpdu: '0405...', kind: 'command', counter: 1, part: 1, parts: 1 };
 * ```
 */
export interface MtMessage {
  /** Queue position: the next poll asks for messages after it. */
  seq: number;
  /** The SMS-DELIVER TPDU, hex. */
  tpdu: string;
  /** `command` (a secured command packet) or `por` (a proof of receipt for the SIM). */
  kind: string;
  /** Counter of the packet it carries. */
  counter: number;
  /** Segment number, 1-based. */
  part: number;
  /** Segments of the packet. */
  parts: number;
}

/**
 * What the OTA server made of one mobile-originated SMS (`POST /v1/sms/mo`), as JSON.
 *
 * @example
 * ```ts
 * import type { MoAnswer } from 'simvault/handset';
 * const a: MoAnswer = { status: 'accepted', kind: 'command', message: { type: 'bindRequest', transactionId: 1 } };
 * ```
 */
export interface MoAnswer {
  /** `incomplete` while segments are missing, else `accepted`. */
  status: 'incomplete' | 'accepted';
  /** `command` for a SIM's message, `por` for a SIM's proof of receipt. */
  kind?: 'command' | 'por';
  /** The message the SIM sent (command packets). */
  message?: {
    /** Its message type, e.g. `bindRequest`. */
    type: string;
    /** Its transaction id. */
    transactionId: number;
  };
  /** What the card application server recorded for a completion notice (step 505). */
  outcome?: {
    /** The card's registry key. */
    cid: string;
    /** The application's AID, hex. */
    aid: string;
    /** `stored` or `failed`. */
    status: string;
  } | null;
  /** The SIM's status in a proof of receipt. */
  porStatus?: string;
}

/**
 * Where the servers are and who the handset speaks for.
 *
 * @example
 * ```ts
 * import type { ServerLinkOptions } from 'simvault/handset';
 * const o: ServerLinkOptions = { otaUrl: 'http://127.0.0.1:8081', cardAppUrl: 'http://127.0.0.1:8080', iccid: '89860012345678901234' };
 * ```
 */
export interface ServerLinkOptions {
  /** Base URL of the OTA server. */
  otaUrl: string;
  /** Base URL of the card application server. */
  cardAppUrl: string;
  /** The SIM's ICCID: the handset names its SIM with it to the OTA server. */
  iccid: string;
  /** The `fetch` to use (default the global one). */
  fetch?: FetchLike;
  /** How many times a `429` is retried (default 5). */
  rateLimitRetries?: number;
  /**
   * The SIM's handset credential, which reading the SIM's queue needs (`SimClient.handsetCredential`);
   * asked for once, on the first read.
   */
  credential?: () => Promise<HandsetCredential>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * HTTP calls of the handset to the two servers.
 *
 * @example
 * ```ts
 * import { ServerLink } from 'simvault/handset';
 * const link = new ServerLink({ otaUrl: 'http://127.0.0.1:8081', cardAppUrl: 'http://127.0.0.1:8080', iccid: '89860012345678901234' });
 * const { messages } = await link.fetchMt(0, 0);
 * ```
 */
export class ServerLink {
  /** Base URL of the OTA server. */
  readonly otaUrl: string;
  /** Base URL of the card application server. */
  readonly cardAppUrl: string;
  /** The SIM's ICCID. */
  readonly iccid: string;
  private readonly fetch: FetchLike;
  private readonly retries: number;
  private readonly credentialSource: (() => Promise<HandsetCredential>) | undefined;
  private credential: Promise<HandsetCredential> | undefined;

  /**
   * Create the link.
   *
   * @param options - server URLs, the SIM's ICCID and the `fetch` to use
   */
  constructor(options: ServerLinkOptions) {
    if (!/^\d{10,20}$/.test(options.iccid)) throw new ArgumentError('iccid must be 10-20 digits');
    this.otaUrl = options.otaUrl.replace(/\/+$/, '');
    this.cardAppUrl = options.cardAppUrl.replace(/\/+$/, '');
    this.iccid = options.iccid;
    this.fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.retries = options.rateLimitRetries ?? 5;
    this.credentialSource = options.credential;
  }

  /**
   * One request; resolves to a 2xx (or 206/304) response, else throws the server's error.
   *
   * @param url - absolute URL
   * @param init - the request
   *
   * @example
   * ```ts
   * import { ServerLink } from 'simvault/handset';
   * declare const link: ServerLink;
   * const res = await link.request(`${link.otaUrl}/healthz`);
   * ```
   */
  async request(url: string | URL, init: RequestInit = {}): Promise<Response> {
    return this.send(url, init, undefined);
  }

  /** {@link ServerLink.request}, each attempt signed afresh with `key` when given (a retry with the same nonce would be refused as a replay). */
  private async send(
    url: string | URL,
    init: RequestInit,
    key: { id: string; secret: Uint8Array } | undefined,
  ): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        const signed = key
          ? {
              ...init,
              headers: {
                ...(init.headers as Record<string, string> | undefined),
                ...signatureHeaders(key.id, key.secret, init.method ?? 'GET', url),
              },
            }
          : init;
        res = await this.fetch(url, signed);
      } catch (e) {
        throw new HandsetError(
          'HANDSET_HTTP',
          `${init.method ?? 'GET'} ${String(url)}: ${errorMessage(e)}`,
          { cause: e },
        );
      }
      if (res.ok || res.status === 304) return res;
      if (res.status === 429 && attempt < this.retries) {
        await res.body?.cancel();
        const after = Number(res.headers.get('retry-after') ?? '1');
        await sleep(Math.min(Number.isFinite(after) && after > 0 ? after : 1, 5) * 1000);
        continue;
      }
      throw await errorOf(res, `${init.method ?? 'GET'} ${new URL(url).pathname}`);
    }
  }

  /**
   * Step 301-302: ask the card application server whether the card is legitimate. Resolves to its
   * registry key and lifecycle; an unknown card is `SERVER_UNKNOWN_CARD`, a blocked one
   * `SERVER_CARD_BLOCKED`.
   *
   * @param cid - the card's 16-byte CID register
   *
   * @example
   * ```ts
   * import { ServerLink } from 'simvault/handset';
   * declare const link: ServerLink, cid: Uint8Array;
   * (await link.verifyCard(cid)).state; // 'active'
   * ```
   */
  async verifyCard(cid: Uint8Array): Promise<{
    /** The card's registry key: CID bytes 0-14, hex. */
    cid: string;
    /** Lifecycle state. */
    state: string;
    /** Lifecycle stage label. */
    stage: string;
  }> {
    const res = await this.request(`${this.cardAppUrl}/v1/cards/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cid: toHex(cid), iccid: this.iccid }),
    });
    return (await res.json()) as { cid: string; state: string; stage: string };
  }

  /**
   * Step 306 (and every SIM message): post one SMS-SUBMIT TPDU the SIM asked to send.
   *
   * @param tpdu - the TPDU of a SEND SHORT MESSAGE
   *
   * @example
   * ```ts
   * import { ServerLink } from 'simvault/handset';
   * declare const link: ServerLink, tpdu: Uint8Array;
   * (await link.postMo(tpdu)).status; // 'accepted'
   * ```
   */
  async postMo(tpdu: Uint8Array): Promise<MoAnswer> {
    const res = await this.request(`${this.otaUrl}/v1/sms/mo?iccid=${this.iccid}`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: tpdu.slice().buffer,
    });
    return (await res.json()) as MoAnswer;
  }

  /**
   * Step 309: the SMS-DELIVERs queued for the SIM after queue position `after`, long-polling up to
   * `wait` seconds while there are none.
   *
   * @param after - the last position already delivered
   * @param wait - seconds to wait for a message (0-60)
   *
   * @example
   * ```ts
   * import { ServerLink } from 'simvault/handset';
   * declare const link: ServerLink;
   * const { messages, next } = await link.fetchMt(0, 5);
   * ```
   */
  async fetchMt(
    after: number,
    wait: number,
  ): Promise<{
    /** The queued TPDUs in order. */
    messages: MtMessage[];
    /** The position to ask after next time. */
    next: number;
  }> {
    const res = await this.send(
      `${this.otaUrl}/v1/sms/mt?iccid=${this.iccid}&after=${after}&wait=${Math.max(0, Math.min(60, Math.floor(wait)))}`,
      {},
      await this.handsetKey(),
    );
    const body = (await res.json()) as { messages: MtMessage[]; next: number };
    return { messages: body.messages, next: body.next };
  }

  /** The key the handset signs its reads of the SIM's queue with. */
  private async handsetKey(): Promise<{ id: string; secret: Uint8Array }> {
    if (!this.credentialSource)
      throw new ArgumentError(
        "reading the SIM's queue needs the SIM's handset credential: give ServerLink a credential source",
      );
    this.credential ??= this.credentialSource();
    let c: HandsetCredential;
    try {
      c = await this.credential;
    } catch (e) {
      // A failed SIM read is not remembered: the next poll asks again.
      this.credential = undefined;
      throw e;
    }
    return { id: handsetKeyId(this.iccid, c.keyVersion), secret: c.secret };
  }
}

async function errorOf(res: Response, what: string): Promise<HandsetError> {
  let code: unknown;
  let message = `HTTP ${res.status}`;
  try {
    const body = (await res.json()) as { error?: { code?: unknown; message?: unknown } };
    code = body.error?.code;
    if (typeof body.error?.message === 'string') message = body.error.message;
  } catch {
    // Not a JSON error body: the status line is all there is.
  }
  return new HandsetError(
    knownCode(code),
    `${what}: ${typeof code === 'string' ? `${code}: ` : ''}${message}`,
    { status: res.status },
  );
}
