/**
 * The card application server's HTTP API (hono).
 *
 * SIM message endpoints take and answer simvault message bytes (`application/octet-stream`):
 * - `POST /v1/sim/bind[?brand=B]`, signed by an `ota` key: bind request → bind response (308);
 * - `POST /v1/sim/unbind?iccid=N`, signed: unbind request → unbind response (403);
 * - `POST /v1/sim/launch?iccid=N`, signed: launch request → download resource info (502);
 * - `POST /v1/sim/complete?iccid=N`, signed: launch complete or download complete → JSON (505);
 * - `POST /v1/sim/delete?iccid=N`, signed: delete request → delete command (603). The SIM's
 *   request reaches it through the OTA server as a secured packet, so a forged or replayed delete
 *   never arrives unauthenticated.
 *
 * `POST /v1/cards/verify` (handset, JSON `{ cid, iccid? }`) answers step 302. Operator endpoints
 * under `/v1/admin/`, signed by an `operator` key, are JSON. Signed SIM message endpoints are rate
 * limited per CID and per SIM; the anonymous verify endpoint per source address, so that nobody
 * can exhaust a card's or a SIM's allowance by naming it.
 *
 * @module
 */
import type { Context } from 'hono';
import { ProtocolError } from '../../errors.js';
import {
  decodeMessage,
  encodeMessage,
  type MessageType,
  type SimvaultMessage,
} from '../../protocol/messages.js';
import { DEFAULT_WINDOW_MS, type NonceStore, type SigningKey, checkSigningKey } from '../auth.js';
import { loadDriver } from '../drivers.js';
import { ServerError } from '../errors.js';
import {
  bodyOf,
  createBaseApp,
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
import { parseIccid } from '../request-fields.js';
import { parseCardImport } from './import.js';
import type { CardAppService } from './service.js';
import {
  parseAid,
  parseApplication,
  parseCidRegister,
  parseCidKey,
  parseLabel,
  parseLifecycleState,
  parseOfferName,
} from './validate.js';

/**
 * Options of {@link createCardAppApp}.
 *
 * @example
 * ```ts
 * import { randomBytes } from 'node:crypto';
 * import type { CardAppHttpOptions } from './http.js';
 * const o: CardAppHttpOptions = { keys: [{ id: 'ota', secret: randomBytes(32), role: 'ota' }], rateLimit: { capacity: 10, refillPerSecond: 2 } };
 * ```
 */
export interface CardAppHttpOptions {
  /** Keys accepted on signed endpoints. */
  keys: readonly SigningKey[];
  /** Where request nonces are remembered (default: the service's registry store). */
  nonces?: NonceStore;
  /** Accepted clock difference of signed requests (default 5 minutes). */
  windowMs?: number;
  /** Per-CID and per-SIM token buckets of signed SIM messages (default 20 requests, then 5 per second). */
  rateLimit?: RateLimitOptions;
  /** Per-address token buckets of anonymous requests (default 60 requests, then 10 per second). */
  anonymousRateLimit?: RateLimitOptions;
  /** Largest card import body in bytes (default 32 MiB). */
  maxImportBytes?: number;
  /** Structured log sink (default silent). */
  log?: Logger;
  /** The clock (default `Date.now`). */
  now?: () => number;
}

const OCTETS = 'application/octet-stream';
const MESSAGE_LIMIT = 4096;
const JSON_LIMIT = 256 * 1024;

async function messageOf<T extends MessageType>(
  c: Context<ServerEnv>,
  types: readonly T[],
): Promise<Extract<SimvaultMessage, { type: T }>> {
  const type = c.req.header('content-type')?.split(';')[0]?.trim().toLowerCase();
  if (type !== OCTETS)
    throw new ServerError('SERVER_BAD_REQUEST', `content-type must be ${OCTETS}`);
  let message: SimvaultMessage;
  try {
    message = decodeMessage(await bodyOf(c));
  } catch (e) {
    if (e instanceof ProtocolError)
      throw new ServerError('SERVER_BAD_REQUEST', `message: ${e.message}`);
    throw e;
  }
  if (!(types as readonly string[]).includes(message.type)) {
    throw new ServerError(
      'SERVER_BAD_REQUEST',
      `message: expected ${types.join(' or ')}, got ${message.type}`,
    );
  }
  return message as Extract<SimvaultMessage, { type: T }>;
}

function messageResponse(
  c: Context<ServerEnv>,
  message: SimvaultMessage,
  result?: string,
): Response {
  if (result !== undefined) c.header('x-simvault-result', result);
  return c.body(encodeMessage(message) as Uint8Array<ArrayBuffer>, 200, { 'content-type': OCTETS });
}

function queryIccid(c: Context<ServerEnv>): string {
  const iccid = c.req.query('iccid');
  if (iccid === undefined)
    throw new ServerError('SERVER_BAD_REQUEST', 'iccid: the query parameter is required');
  return parseIccid(iccid);
}

/**
 * The card application server as a hono app over a {@link CardAppService}.
 *
 * @example
 * ```ts
 * import { randomBytes } from 'node:crypto';
 * import { createCardAppApp } from './http.js';
 * import { CardAppService } from './service.js';
 * import { listen } from '../listen.js';
 * import { openStore } from '../store/open.js';
 * const service = new CardAppService(await openStore({ dataDir: './simvault-data' }));
 * const app = await createCardAppApp(service, { keys: [{ id: 'ota', secret: randomBytes(32), role: 'ota' }] });
 * const server = await listen(app.fetch);
 * console.log(server.url);
 * ```
 */
export async function createCardAppApp(service: CardAppService, options: CardAppHttpOptions) {
  const hono = await loadDriver('hono', 'the card application server');
  const keys = options.keys.map(checkSigningKey);
  const log = options.log ?? silentLogger;
  const now = options.now ?? Date.now;
  const verifier = {
    keys,
    nonces: options.nonces ?? service.store,
    windowMs: options.windowMs ?? DEFAULT_WINDOW_MS,
    now,
  };
  const buckets = new TokenBuckets(options.rateLimit ?? DEFAULT_RATE_LIMIT);
  const limit = (cid: string | undefined, iccid: string | undefined) => {
    const keysToTake = [
      ...(cid !== undefined ? [`cid:${cid}`] : []),
      ...(iccid !== undefined ? [`sim:${iccid}`] : []),
    ];
    const wait = buckets.takeAll(keysToTake, now());
    if (wait > 0) throw rateLimited(wait, keysToTake.join(' / '));
  };
  const perAddress = new TokenBuckets(options.anonymousRateLimit ?? DEFAULT_ANONYMOUS_RATE_LIMIT);
  const ota = requireSignature(['ota'], verifier);
  // A bind claims its nonce in its own transaction, when the nonces live in the registry.
  const claimInBind = options.nonces === undefined;
  const otaBind = requireSignature(['ota'], verifier, { claimNonce: !claimInBind });
  const operator = requireSignature(['operator'], verifier);
  const small = limitBody(MESSAGE_LIMIT);
  const json = limitBody(JSON_LIMIT);

  const app = createBaseApp(hono, { name: 'card-app', log });

  // Step 302: the handset asks whether the card it found is legitimate.
  app.post('/v1/cards/verify', json, async (c) => {
    // Anonymous: limited per address, never per the CID or SIM it names.
    limitAddress(c, perAddress, now());
    const body = await jsonOf(c);
    const cid = parseCidKey(body['cid']);
    if (body['iccid'] !== undefined) parseIccid(body['iccid']);
    const card = await service.verifyCard(cid);
    return c.json({ cid: card.cid, state: card.state, stage: card.stage });
  });

  app.post('/v1/sim/bind', small, otaBind, async (c) => {
    const request = await messageOf(c, ['bindRequest']);
    const brandText = c.req.query('brand');
    const brand = brandText === undefined ? undefined : parseLabel(brandText, 'brand');
    const iccid = c.req.query('iccid');
    if (iccid !== undefined && iccid !== request.iccid)
      throw new ServerError('SERVER_BAD_REQUEST', 'iccid: the query and the bind request disagree');
    limit(parseCidRegister(request.cid), request.iccid);
    const response = await service.bind(request, brand, c.var.nonce);
    return messageResponse(c, response, response.result);
  });

  app.post('/v1/sim/unbind', small, ota, async (c) => {
    const iccid = queryIccid(c);
    const request = await messageOf(c, ['unbindRequest']);
    limit(parseCidRegister(request.cid), iccid);
    const response = await service.unbind(request, iccid);
    return messageResponse(c, response, response.result);
  });

  app.post('/v1/sim/launch', small, ota, async (c) => {
    const iccid = queryIccid(c);
    const request = await messageOf(c, ['launchRequest']);
    limit(parseCidRegister(request.cid), iccid);
    return messageResponse(c, await service.launch(request, iccid));
  });

  app.post('/v1/sim/complete', small, ota, async (c) => {
    const iccid = queryIccid(c);
    const notice = await messageOf(c, ['launchComplete', 'downloadComplete']);
    limit(parseCidRegister(notice.cid), iccid);
    return c.json(await service.complete(notice, iccid));
  });

  // Step 602: the handset forwards the SIM's delete request itself.
  app.post('/v1/sim/delete', small, ota, async (c) => {
    const iccid = queryIccid(c);
    const request = await messageOf(c, ['deleteRequest']);
    limit(request.cid === undefined ? undefined : parseCidRegister(request.cid), iccid);
    return messageResponse(c, await service.delete(request, iccid));
  });

  app.post(
    '/v1/admin/cards/import',
    limitBody(options.maxImportBytes ?? 32 * 1024 * 1024),
    operator,
    async (c) => {
      const type = c.req.header('content-type')?.split(';')[0]?.trim().toLowerCase();
      const format = type === 'text/csv' ? 'csv' : type === 'application/json' ? 'json' : undefined;
      if (format === undefined)
        throw new ServerError(
          'SERVER_BAD_REQUEST',
          'content-type must be text/csv or application/json',
        );
      const report = await service.importCards(
        parseCardImport(new TextDecoder().decode(await bodyOf(c)), format),
      );
      log('info', 'cards imported', {
        requestId: c.var.requestId,
        rows: report.rows,
        accepted: report.accepted,
        rejected: report.rejected.length,
      });
      return c.json(report);
    },
  );

  app.get('/v1/admin/cards/:cid', operator, async (c) =>
    c.json(await service.cardInfo(parseCidKey(c.req.param('cid')))),
  );

  app.post('/v1/admin/cards/:cid/lifecycle', json, operator, async (c) => {
    const body = await jsonOf(c);
    const stage = body['stage'] === undefined ? undefined : parseLabel(body['stage'], 'stage');
    return c.json(
      await service.setLifecycle(
        parseCidKey(c.req.param('cid')),
        parseLifecycleState(body['state']),
        stage,
      ),
    );
  });

  app.put('/v1/admin/applications/:aid', json, operator, async (c) => {
    const aid = parseAid(c.req.param('aid'));
    const body = await jsonOf(c);
    if (body['aid'] !== undefined && parseAid(body['aid']) !== aid)
      throw new ServerError('SERVER_BAD_REQUEST', 'aid: the path and the body disagree');
    return c.json(await service.defineApplication(parseApplication({ ...body, aid })));
  });

  app.get('/v1/admin/applications', operator, async (c) =>
    c.json(await service.store.listApplications()),
  );

  app.put('/v1/admin/offers/:name', json, operator, async (c) => {
    const name = parseOfferName(c.req.param('name'));
    const aids = (await jsonOf(c))['aids'];
    if (!Array.isArray(aids) || aids.length === 0 || aids.length > 64)
      throw new ServerError('SERVER_BAD_REQUEST', 'aids: must be a list of 1-64 AIDs');
    return c.json(
      await service.defineOffer(
        name,
        aids.map((a, i) => parseAid(a, `aids[${i}]`)),
      ),
    );
  });

  app.post('/v1/admin/offers/:name/apply', json, operator, async (c) => {
    const name = parseOfferName(c.req.param('name'));
    const cids = (await jsonOf(c))['cids'];
    if (!Array.isArray(cids) || cids.length === 0 || cids.length > 10_000)
      throw new ServerError('SERVER_BAD_REQUEST', 'cids: must be a list of 1-10000 CIDs');
    return c.json(
      await service.applyOffer(
        name,
        cids.map((v, i) => parseCidKey(v, `cids[${i}]`)),
      ),
    );
  });

  app.get('/v1/admin/reports/downloads', operator, async (c) =>
    c.json(await service.downloadReport()),
  );

  return app;
}
