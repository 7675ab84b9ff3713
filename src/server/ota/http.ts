/**
 * The OTA server's HTTP API (hono), built on the shared base app (request ids, structured request
 * logs, JSON errors, `GET /healthz`).
 *
 * Handset endpoints (the SIM is named by `iccid=` or `msisdn=`):
 * - `POST /v1/sms/mo?iccid=N`: one mobile-originated SMS-SUBMIT TPDU as the raw body
 *   (`application/octet-stream`); 200 with the outcome, 202 while segments are missing. Unsigned
 *   (the secured packet proves itself), rate limited per source address;
 * - `GET /v1/sms/mt?iccid=N&after=SEQ&wait=S`, signed with the SIM's handset credential (see
 *   `handset-auth.ts`), rate limited per SIM: the queued SMS-DELIVER TPDUs after `after`,
 *   long-polling up to `wait` seconds (at most 60) while there are none;
 * - `GET /v1/sms/mt/stream?iccid=N&after=SEQ`: the same as server-sent events (`event: sms`,
 *   `id: SEQ`; `Last-Event-ID` resumes);
 * - `GET|HEAD /v1/files/:name`: application files with `Range`, strong `ETag`, `If-None-Match`,
 *   `If-Range`, and `Repr-Digest` / `Digest` (SHA-256).
 *
 * Operator endpoints, signed by an `operator` key (see `auth.ts`):
 * - `PUT|GET|DELETE /v1/admin/sims/:iccid`: provision, inspect (with counters), forget a SIM;
 * - `POST /v1/admin/sims/:iccid/stk-list`: RFM push of the SIM's STK application list;
 * - `PUT /v1/admin/files/:name?sha256=HEX`: upload, streamed to disk. The request is signed over an
 *   empty body; the signed query's `sha256` authenticates the content, checked while it streams;
 * - `GET /v1/admin/files`, `DELETE /v1/admin/files/:name`.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from 'hono';
import { fromHex } from '../../bytes.js';
import {
  ZONE_CODES,
  APP_STATE_CODES,
  type StkCard,
  type Zone,
  type AppState,
} from '../../protocol/messages.js';
import {
  checkSigningKey,
  DEFAULT_WINDOW_MS,
  memoryNonceStore,
  SIGNATURE_HEADERS,
  verifySignedRequest,
  type NonceStore,
  type SigningKey,
} from '../auth.js';
import { loadDriver } from '../drivers.js';
import { ServerError } from '../errors.js';
import {
  bodyOf,
  clientAddress,
  createBaseApp,
  errorResponse,
  jsonOf,
  limitAddress,
  limitBody,
  requireSignature,
  type ServerEnv,
} from '../http.js';
import { silentLogger, type Logger } from '../log.js';
import {
  DEFAULT_ANONYMOUS_RATE_LIMIT,
  DEFAULT_RATE_LIMIT,
  rateLimited,
  TokenBuckets,
  type RateLimitOptions,
} from '../rate-limit.js';
import { OtaError } from './errors.js';
import { verifyHandsetRequest, type HandsetVerifier } from './handset-auth.js';
import { etagOf, fileNameOf, reprDigestOf, type FileInfo, type FileStore } from './files.js';
import { decideRange, ifRangeHolds, noneMatch } from './http-range.js';
import type { OtaRelay } from './relay.js';
import { parseIccid, parseMsisdn } from '../request-fields.js';
import { parseSimConfig, simConfigToJSON } from './sim-config.js';
import type { MtRecord } from './store.js';

/**
 * Options of {@link createOtaApp}.
 *
 * @example
 * ```ts
 * import type { OtaHttpOptions } from './http.js';
 * const o: OtaHttpOptions = { keys: [], rateLimit: { capacity: 30, refillPerSecond: 5 }, maxUploadBytes: 1 << 30 };
 * ```
 */
export interface OtaHttpOptions {
  /** Keys accepted on operator endpoints (only `operator` keys may call them). */
  keys: readonly SigningKey[];
  /** Where request nonces are remembered (default: in memory). */
  nonces?: NonceStore;
  /** Accepted clock difference of signed requests (default 5 minutes). */
  windowMs?: number;
  /** Per-SIM token buckets of requests signed by the SIM's handset (default 20 requests, then 5 per second). */
  rateLimit?: RateLimitOptions;
  /** Per-address token buckets of anonymous requests and failed signatures (default 60 requests, then 10 per second). */
  anonymousRateLimit?: RateLimitOptions;
  /** Largest uploaded file (default 1 GiB). */
  maxUploadBytes?: number;
  /** Longest long-poll wait in seconds (default 60). */
  maxWaitSeconds?: number;
  /** How often a waiting long-poll or stream re-reads the queue (default 1000 ms): the fallback for SMS queued by other processes that no notification announced. */
  pollIntervalMs?: number;
  /** Comment lines keeping an idle event stream open (default every 15 000 ms). */
  heartbeatMs?: number;
  /** Ends every long-poll and event stream (the server is stopping). */
  shutdown?: AbortSignal;
  /** Structured log sink (default silent). */
  log?: Logger;
  /** The clock (default `Date.now`). */
  now?: () => number;
}

const OCTETS = new Set(['application/octet-stream', 'application/vnd.3gpp.sms']);
/** A TPDU is at most 176 octets; anything much larger is not one. */
const TPDU_LIMIT = 512;
const JSON_LIMIT = 256 * 1024;
const MT_LIMIT = 100;

function intParam(c: Context<ServerEnv>, name: string, fallback: number, max: number): number {
  const text = c.req.query(name);
  if (text === undefined) return fallback;
  if (!/^\d{1,15}$/.test(text) || Number(text) > max)
    throw new ServerError('SERVER_BAD_REQUEST', `${name}: must be an integer 0..${max}`);
  return Number(text);
}

function mtJSON(r: MtRecord) {
  return {
    seq: r.seq,
    tpdu: r.tpdu,
    kind: r.kind,
    counter: r.counter,
    part: r.part,
    parts: r.parts,
    expiresAt: r.expiresAt,
  };
}

function stkCardsOf(value: unknown): StkCard[] {
  const bad = (field: string, detail: string): never => {
    throw new ServerError('SERVER_BAD_REQUEST', `${field}: ${detail}`);
  };
  if (!Array.isArray(value) || value.length > 64)
    bad('cards', 'must be a list of at most 64 cards');
  return (value as unknown[]).map((raw, i) => {
    const card = (
      typeof raw === 'object' && raw !== null ? raw : bad(`cards[${i}]`, 'must be an object')
    ) as Record<string, unknown>;
    const cid = card['cid'];
    if (typeof cid !== 'string' || !/^[0-9a-fA-F]{32}$/.test(cid))
      bad(`cards[${i}].cid`, 'must be the 16-byte CID register in hex');
    const apps = card['applications'] ?? [];
    if (!Array.isArray(apps) || apps.length > 64)
      bad(`cards[${i}].applications`, 'must be a list of at most 64 applications');
    return {
      cid: fromHex(cid as string),
      applications: (apps as unknown[]).map((a, j) => {
        const f = `cards[${i}].applications[${j}]`;
        const app = (
          typeof a === 'object' && a !== null ? a : bad(f, 'must be an object')
        ) as Record<string, unknown>;
        const aid = app['aid'];
        if (typeof aid !== 'string' || !/^([0-9a-fA-F]{2}){5,16}$/.test(aid))
          bad(`${f}.aid`, 'must be 5-16 bytes of hex');
        if (typeof app['name'] !== 'string') bad(`${f}.name`, 'must be a string');
        const zone = app['zone'];
        if (typeof zone !== 'string' || !Object.hasOwn(ZONE_CODES, zone))
          bad(`${f}.zone`, `must be one of ${Object.keys(ZONE_CODES).join(', ')}`);
        const state = app['state'] ?? 'active';
        if (typeof state !== 'string' || !Object.hasOwn(APP_STATE_CODES, state))
          bad(`${f}.state`, `must be one of ${Object.keys(APP_STATE_CODES).join(', ')}`);
        return {
          aid: fromHex(aid as string),
          name: app['name'] as string,
          zone: zone as Zone,
          state: state as AppState,
        };
      }),
    };
  });
}

/**
 * The OTA server as a hono app over a relay and a file store. Errors are JSON
 * `{ "error": { code, message, porStatus? } }`.
 *
 * @example
 * ```ts
 * import { createOtaApp } from './http.js';
 * import { OtaRelay } from './relay.js';
 * import { FileStore } from './files.js';
 * import { openOtaStore } from './store.js';
 * import { CardAppClient } from '../card-app/client.js';
 * import { listen } from '../listen.js';
 * const relay = new OtaRelay(await openOtaStore({ dataDir: './d' }), new CardAppClient({ baseUrl: 'http://127.0.0.1:8080', otaKey }));
 * const app = await createOtaApp(relay, new FileStore('./d/files'), { keys });
 * const server = await listen(app.fetch);
 * ```
 */
export async function createOtaApp(relay: OtaRelay, files: FileStore, options: OtaHttpOptions) {
  const hono = await loadDriver('hono', 'the OTA server');
  const keys = options.keys.map(checkSigningKey);
  const log = options.log ?? silentLogger;
  const now = options.now ?? Date.now;
  const verifier = {
    keys,
    nonces: options.nonces ?? memoryNonceStore(),
    windowMs: options.windowMs ?? DEFAULT_WINDOW_MS,
    now,
  };
  const buckets = new TokenBuckets(options.rateLimit ?? DEFAULT_RATE_LIMIT);
  const perAddress = new TokenBuckets(options.anonymousRateLimit ?? DEFAULT_ANONYMOUS_RATE_LIMIT);
  const handsetVerifier: HandsetVerifier = {
    sim: (iccid) => relay.store.getSim(iccid),
    nonces: verifier.nonces,
    windowMs: verifier.windowMs,
    now,
  };
  const maxWait = options.maxWaitSeconds ?? 60;
  const pollMs = options.pollIntervalMs ?? 1000;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const maxUpload = options.maxUploadBytes ?? 1024 ** 3;
  const operator = requireSignature(['operator'], verifier);

  const app = createBaseApp(hono, { name: 'ota', log });
  app.onError((err, c) => {
    if (!(err instanceof OtaError)) return errorResponse(hono, c, err, log);
    c.set('errorCode', err.code);
    for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
    const error: Record<string, string> = { code: err.code, message: err.message };
    if (err.porStatus !== undefined) error['porStatus'] = err.porStatus;
    return c.json({ error }, err.status as 400);
  });

  /** The ICCID a handset request names (`iccid=` or `msisdn=`); `undefined` for an unknown MSISDN. */
  const namedSim = async (
    c: Context<ServerEnv>,
  ): Promise<{ iccid: string | undefined; named: string }> => {
    const iccidText = c.req.query('iccid');
    const msisdnText = c.req.query('msisdn');
    if ((iccidText === undefined) === (msisdnText === undefined)) {
      throw new ServerError(
        'SERVER_BAD_REQUEST',
        'name the SIM with exactly one of the query parameters iccid or msisdn',
      );
    }
    if (iccidText !== undefined) {
      const iccid = parseIccid(iccidText);
      return { iccid, named: iccid };
    }
    const msisdn = parseMsisdn(msisdnText);
    return { iccid: await relay.store.iccidOfMsisdn(msisdn), named: `MSISDN ${msisdn}` };
  };

  /**
   * The SIM of a mobile-originated SMS. Anyone may post one (the secured packet inside proves
   * itself), so the post is limited per source address: a stranger's flood can slow only itself,
   * never the SIM it names.
   */
  const moSim = async (c: Context<ServerEnv>): Promise<string> => {
    limitAddress(c, perAddress, now());
    const { iccid, named } = await namedSim(c);
    if (iccid === undefined) throw new OtaError('OTA_UNKNOWN_SIM', `no SIM has ${named}`);
    return iccid;
  };

  /**
   * The SIM whose queue a request may read: it must be signed with that SIM's handset credential.
   * Refusals are charged to the source address; an address out of tokens gets 429 at once for an
   * unsigned request and after the check for a signed one, so a stranger sharing the handset's
   * address (a carrier NAT) cannot lock it out. Only a proven handset draws on its SIM's bucket.
   */
  const mtSim = async (c: Context<ServerEnv>): Promise<string> => {
    const address = `addr:${clientAddress(c)}`;
    const blocked = perAddress.peek(address, now());
    const refuse = (e: unknown): never => {
      perAddress.take(address, now());
      throw blocked > 0 ? rateLimited(blocked, `address ${clientAddress(c)}`) : e;
    };
    if (blocked > 0 && c.req.header(SIGNATURE_HEADERS.signature) === undefined) refuse(undefined);
    const { iccid: named } = await namedSim(c);
    const url = new URL(c.req.url);
    let iccid: string;
    try {
      iccid = await verifyHandsetRequest(
        {
          method: c.req.method,
          pathAndQuery: `${url.pathname}${url.search}`,
          header: (name) => c.req.header(name),
          body: new Uint8Array(),
        },
        named,
        handsetVerifier,
      );
    } catch (e) {
      return refuse(e);
    }
    const wait = buckets.take(`sim:${iccid}`, now());
    if (wait > 0) throw rateLimited(wait, `SIM ${iccid}`);
    return iccid;
  };

  const signal = (c: Context<ServerEnv>): AbortSignal =>
    options.shutdown ? AbortSignal.any([c.req.raw.signal, options.shutdown]) : c.req.raw.signal;

  app.post('/v1/sms/mo', limitBody(TPDU_LIMIT), async (c) => {
    const type = c.req.header('content-type')?.split(';')[0]?.trim().toLowerCase();
    if (type === undefined || !OCTETS.has(type))
      throw new ServerError('SERVER_BAD_REQUEST', 'content-type must be application/octet-stream');
    const iccid = await moSim(c);
    const tpdu = await bodyOf(c);
    if (tpdu.length === 0)
      throw new ServerError('SERVER_BAD_REQUEST', 'the body must be an SMS-SUBMIT TPDU');
    const outcome = await relay.receiveMo(iccid, tpdu);
    return c.json(outcome, outcome.status === 'incomplete' ? 202 : 200);
  });

  app.get('/v1/sms/mt', async (c) => {
    const iccid = await mtSim(c);
    const after = intParam(c, 'after', 0, Number.MAX_SAFE_INTEGER);
    const wait = intParam(c, 'wait', 0, maxWait);
    const limit = intParam(c, 'limit', MT_LIMIT, MT_LIMIT) || MT_LIMIT;
    await relay.sim(iccid);
    const deadline = now() + wait * 1000;
    const abort = signal(c);
    for (;;) {
      const rows = await relay.store.fetchMt(iccid, after, limit, now());
      const left = deadline - now();
      if (rows.length > 0 || left <= 0 || abort.aborted) {
        // A stopping server must not keep the connection alive for the next poll.
        if (options.shutdown?.aborted) c.header('connection', 'close');
        return c.json({ iccid, messages: rows.map(mtJSON), next: rows.at(-1)?.seq ?? after });
      }
      await relay.notifier.wait(iccid, Math.min(left, pollMs), abort);
    }
  });

  app.get('/v1/sms/mt/stream', async (c) => {
    const iccid = await mtSim(c);
    const lastEventId = c.req.header('last-event-id');
    let after = intParam(c, 'after', 0, Number.MAX_SAFE_INTEGER);
    if (lastEventId !== undefined) {
      if (!/^\d{1,15}$/.test(lastEventId))
        throw new ServerError('SERVER_BAD_REQUEST', 'last-event-id: must be a queue position');
      after = Math.max(after, Number(lastEventId));
    }
    await relay.sim(iccid);
    const abort = signal(c);
    const res = hono.streamSSE(c, async (stream) => {
      const ended = new AbortController();
      stream.onAbort(() => {
        ended.abort();
      });
      const done = AbortSignal.any([abort, ended.signal]);
      let idleSince = now();
      await stream.writeSSE({
        event: 'ready',
        data: JSON.stringify({ iccid, after }),
        retry: 2000,
      });
      while (!done.aborted) {
        const rows = await relay.store.fetchMt(iccid, after, MT_LIMIT, now());
        for (const r of rows) {
          await stream.writeSSE({
            event: 'sms',
            id: String(r.seq),
            data: JSON.stringify(mtJSON(r)),
          });
          after = r.seq;
        }
        if (rows.length > 0) idleSince = now();
        else if (now() - idleSince >= heartbeatMs) {
          await stream.write(': keep-alive\n\n');
          idleSince = now();
        }
        if (rows.length < MT_LIMIT)
          await relay.notifier.wait(iccid, Math.min(pollMs, heartbeatMs), done);
      }
    });
    // An event stream is the connection's one and only response: when it ends, so does the connection.
    res.headers.set('connection', 'close');
    return res;
  });

  const serveFile = async (c: Context<ServerEnv>, head: boolean) => {
    const name = fileNameOf(c.req.param('name'));
    const info = await files.stat(name);
    if (!info) throw new OtaError('OTA_UNKNOWN_FILE', `no file ${name}`);
    const etag = etagOf(info);
    const common: Record<string, string> = {
      etag,
      'accept-ranges': 'bytes',
      'repr-digest': reprDigestOf(info),
      digest: `sha-256=${Buffer.from(info.sha256, 'hex').toString('base64')}`,
      'last-modified': new Date(info.storedAt).toUTCString(),
      'cache-control': 'no-cache',
    };
    if (noneMatch(c.req.header('if-none-match'), etag)) return c.body(null, 304, common);
    let range = decideRange(c.req.header('range'), info.size);
    if (range.kind !== 'full' && !ifRangeHolds(c.req.header('if-range'), etag))
      range = { kind: 'full' };
    if (range.kind === 'unsatisfiable') {
      throw new OtaError('OTA_RANGE_NOT_SATISFIABLE', `the file has ${info.size} bytes`, {
        headers: { ...common, 'content-range': `bytes */${info.size}` },
      });
    }
    const [start, end] = range.kind === 'partial' ? [range.start, range.end] : [0, info.size - 1];
    const headers: Record<string, string> = {
      ...common,
      'content-type': info.contentType,
      'content-length': String(end - start + 1),
    };
    const status = range.kind === 'partial' ? 206 : 200;
    if (status === 206) headers['content-range'] = `bytes ${start}-${end}/${info.size}`;
    if (head) return c.body(null, status, headers);
    return c.body(await files.open(info, start, end), status, headers);
  };
  app.on('HEAD', '/v1/files/:name', (c) => serveFile(c, true));
  app.get('/v1/files/:name', (c) => serveFile(c, false));

  app.put('/v1/admin/sims/:iccid', limitBody(JSON_LIMIT), operator, async (c) => {
    const iccid = parseIccid(c.req.param('iccid'));
    const sim = parseSimConfig(iccid, await jsonOf(c));
    if (sim.msisdn !== null) {
      const holder = await relay.store.iccidOfMsisdn(sim.msisdn);
      if (holder !== undefined && holder !== iccid)
        throw new ServerError('SERVER_BAD_REQUEST', `msisdn: already belongs to SIM ${holder}`);
    }
    const { created } = await relay.store.putSim(sim, now());
    log('info', created ? 'sim provisioned' : 'sim updated', { requestId: c.var.requestId, iccid });
    return c.json(simConfigToJSON(sim), created ? 201 : 200);
  });

  app.get('/v1/admin/sims/:iccid', operator, async (c) => {
    const iccid = parseIccid(c.req.param('iccid'));
    const sim = await relay.sim(iccid);
    return c.json({
      ...simConfigToJSON(sim),
      counters: await relay.store.counters(iccid),
      lastSeq: await relay.store.lastSeq(iccid),
    });
  });

  app.delete('/v1/admin/sims/:iccid', operator, async (c) => {
    const iccid = parseIccid(c.req.param('iccid'));
    if (!(await relay.store.deleteSim(iccid)))
      throw new OtaError('OTA_UNKNOWN_SIM', `SIM ${iccid} is not provisioned`);
    return c.json({ iccid, deleted: true });
  });

  app.post('/v1/admin/sims/:iccid/stk-list', limitBody(JSON_LIMIT), operator, async (c) => {
    const iccid = parseIccid(c.req.param('iccid'));
    const body = await jsonOf(c);
    const cards = stkCardsOf(body['cards']);
    const tx = body['transactionId'];
    if (
      tx !== undefined &&
      (typeof tx !== 'number' || !Number.isInteger(tx) || tx < 0 || tx > 0xffffffff)
    ) {
      throw new ServerError('SERVER_BAD_REQUEST', 'transactionId: must be 0..2^32-1');
    }
    return c.json(await relay.pushStkList(iccid, cards, tx), 202);
  });

  // Uploads are signed over an empty body so they can stream: the signed query carries the digest.
  const uploadSignature: MiddlewareHandler<ServerEnv> = async (c, next) => {
    const url = new URL(c.req.url);
    const key = await verifySignedRequest(
      {
        method: c.req.method,
        pathAndQuery: `${url.pathname}${url.search}`,
        header: (n) => c.req.header(n),
        body: new Uint8Array(),
      },
      verifier,
    );
    c.set('signer', key);
    if (key.role !== 'operator')
      throw new ServerError(
        'SERVER_FORBIDDEN',
        `key '${key.id}' (${key.role}) may not call this endpoint`,
      );
    await next();
  };

  app.put('/v1/admin/files/:name', uploadSignature, async (c) => {
    const name = fileNameOf(c.req.param('name'));
    const sha256 = c.req.query('sha256');
    if (sha256 === undefined || !/^[0-9a-fA-F]{64}$/.test(sha256))
      throw new ServerError(
        'SERVER_BAD_REQUEST',
        'sha256: the query must carry the content SHA-256 (64 hex digits)',
      );
    const declared = c.req.header('content-length');
    if (declared !== undefined && Number(declared) > maxUpload)
      throw new OtaError('OTA_TOO_LARGE', `the file exceeds ${maxUpload} bytes`);
    const body = c.req.raw.body;
    if (body === null) throw new ServerError('SERVER_BAD_REQUEST', 'the body must be the file');
    const contentType =
      c.req.header('content-type')?.split(';')[0]?.trim() || 'application/octet-stream';
    const info: FileInfo = await files.put(name, body as unknown as AsyncIterable<Uint8Array>, {
      contentType,
      expectedSha256: sha256,
      maxBytes: maxUpload,
      now: now(),
    });
    log('info', 'file stored', {
      requestId: c.var.requestId,
      name,
      size: info.size,
      sha256: info.sha256,
    });
    return c.json({ ...info, path: `/v1/files/${name}` }, 201);
  });

  app.get('/v1/admin/files', operator, async (c) => c.json(await files.list()));

  app.delete('/v1/admin/files/:name', operator, async (c) => {
    const name = fileNameOf(c.req.param('name'));
    if (!(await files.remove(name))) throw new OtaError('OTA_UNKNOWN_FILE', `no file ${name}`);
    return c.json({ name, deleted: true });
  });

  return app;
}
