/**
 * What every simvault HTTP server shares: a request id and one structured log line per request,
 * JSON errors with stable codes, `GET /healthz`, body size limits and signed-request checks.
 * Each server (card application server, OTA server) builds its routes on {@link createBaseApp}.
 * hono is an optional package: the servers load it when they start (`loadDriver` in drivers.ts) and hand
 * it to these helpers, so nothing here imports it.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { SimvaultError } from '../errors.js';
import {
  checkSignedRequest,
  replayedError,
  type KeyRole,
  type NonceClaim,
  type SigningKey,
  type VerifierOptions,
} from './auth.js';
import type { HonoKit } from './drivers.js';
import { ServerError, type ErrorBody } from './errors.js';
import type { Logger } from './log.js';
import { rateLimited, type TokenBuckets } from './rate-limit.js';

/**
 * The per-request variables of a simvault hono app.
 *
 * @example
 * ```ts
 * import { loadDriver } from './drivers.js';
 * import type { ServerEnv } from './http.js';
 * const { Hono } = await loadDriver('hono', 'an app');
 * const app = new Hono<ServerEnv>().get('/', (c) => c.text(c.var.requestId));
 * ```
 */
export type ServerEnv = {
  Variables: {
    /** The request id (from `x-request-id` when sane, otherwise fresh). */
    requestId: string;
    /** The stable code of the error answered, for the log line. */
    errorCode: string | undefined;
    /** The key that signed the request, on signed routes. */
    signer: SigningKey | undefined;
    /** The nonce the handler must claim, on signed routes that leave it to the handler. */
    nonce: NonceClaim | undefined;
  };
};

/**
 * Answer a {@link ServerError} (or any error) as JSON `{ "error": { code, message } }`.
 * Unexpected errors become `SERVER_INTERNAL` without their detail, which goes to the log.
 *
 * @example
 * ```ts
 * import { loadDriver } from './drivers.js';
 * import { ServerError } from './errors.js';
 * import { errorResponse, type ServerEnv } from './http.js';
 * import { silentLogger } from './log.js';
 * const hono = await loadDriver('hono', 'an app');
 * const app = new hono.Hono<ServerEnv>().get('/x', (c) => errorResponse(hono, c, new ServerError('SERVER_NOT_FOUND', 'no x'), silentLogger));
 * ```
 */
export function errorResponse(
  hono: HonoKit,
  c: Context<ServerEnv>,
  err: unknown,
  log: Logger,
): Response {
  let e: ServerError;
  if (err instanceof ServerError) e = err;
  else if (err instanceof hono.HTTPException && err.status === 413)
    e = new ServerError('SERVER_BAD_REQUEST', 'the request body is too large');
  else if (err instanceof hono.HTTPException && err.status < 500)
    e = new ServerError('SERVER_BAD_REQUEST', err.message || 'bad request');
  else if (err instanceof SimvaultError && err.code.startsWith('PROTOCOL_'))
    e = new ServerError('SERVER_BAD_REQUEST', err.message);
  else {
    log('error', 'unhandled error', {
      requestId: c.var.requestId,
      error: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
    e = new ServerError('SERVER_INTERNAL', 'the server failed; retry later');
  }
  c.set('errorCode', e.code);
  const body: ErrorBody = { error: { code: e.code, message: e.message } };
  if (e.retryAfter !== undefined) c.header('retry-after', String(e.retryAfter));
  return c.json(body, e.status as 400);
}

/**
 * A hono app with request ids, per-request log lines (fields `time`, `level`, `msg` =
 * `"request"`, `method`, `path`, `status`, `ms`, `requestId`, and `code` on errors), JSON errors
 * and `GET /healthz`.
 *
 * @example
 * ```ts
 * import { loadDriver } from './drivers.js';
 * import { createBaseApp } from './http.js';
 * import { jsonLogger } from './log.js';
 * const hono = await loadDriver('hono', 'an app');
 * const app = createBaseApp(hono, { name: 'card-app', log: jsonLogger((l) => process.stderr.write(l)) });
 * app.get('/v1/hello', (c) => c.json({ hello: 'world' }));
 * ```
 */
export function createBaseApp(
  hono: HonoKit,
  options: { name: string; log: Logger },
): Hono<ServerEnv> {
  const { log } = options;
  const app = new hono.Hono<ServerEnv>();
  app.use(async (c, next) => {
    const t0 = performance.now();
    const given = c.req.header('x-request-id');
    const requestId =
      given !== undefined && /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : randomUUID();
    c.set('requestId', requestId);
    c.set('errorCode', undefined);
    c.set('signer', undefined);
    c.set('nonce', undefined);
    await next();
    c.header('x-request-id', requestId);
    const fields: Record<string, unknown> = {
      server: options.name,
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round((performance.now() - t0) * 100) / 100,
      requestId,
    };
    if (c.var.errorCode !== undefined) fields['code'] = c.var.errorCode;
    if (c.var.signer !== undefined) fields['key'] = c.var.signer.id;
    log(c.res.status >= 500 ? 'error' : 'info', 'request', fields);
  });
  app.onError((err, c) => errorResponse(hono, c, err, log));
  app.notFound((c) =>
    errorResponse(
      hono,
      c,
      new ServerError('SERVER_NOT_FOUND', `no endpoint ${c.req.method} ${c.req.path}`),
      log,
    ),
  );
  app.get('/healthz', (c) => c.json({ status: 'ok', server: options.name }));
  return app;
}

/**
 * The client's address as the socket saw it (`unknown` when the app is not served by Node, as in
 * `app.request()` tests). Proxies are not trusted: behind one, every client shares its address.
 *
 * @example
 * ```ts
 * import { loadDriver } from './drivers.js';
 * import { clientAddress, createBaseApp } from './http.js';
 * import { silentLogger } from './log.js';
 * const app = createBaseApp(await loadDriver('hono', 'an app'), { name: 'x', log: silentLogger });
 * app.get('/whoami', (c) => c.text(clientAddress(c)));
 * ```
 */
export function clientAddress(c: Context<ServerEnv>): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? 'unknown';
}

/**
 * Take one token of anonymous traffic from the client's address, or throw `SERVER_RATE_LIMITED`.
 *
 * @example
 * ```ts
 * import { TokenBuckets } from './rate-limit.js';
 * import { limitAddress } from './http.js';
 * const perAddress = new TokenBuckets({ capacity: 60, refillPerSecond: 10 });
 * app.post('/v1/cards/verify', async (c) => {
 *   limitAddress(c, perAddress, Date.now());
 *   return c.json({});
 * });
 * ```
 */
export function limitAddress(c: Context<ServerEnv>, buckets: TokenBuckets, now: number): void {
  const address = clientAddress(c);
  const wait = buckets.take(`addr:${address}`, now);
  if (wait > 0) throw rateLimited(wait, `address ${address}`);
}

/**
 * Refuse bodies over `maxBytes` with `SERVER_BAD_REQUEST` (status 413 mapped to the stable code).
 *
 * @example
 * ```ts
 * import { loadDriver } from './drivers.js';
 * import { createBaseApp, limitBody } from './http.js';
 * import { silentLogger } from './log.js';
 * const hono = await loadDriver('hono', 'an app');
 * const app = createBaseApp(hono, { name: 'x', log: silentLogger });
 * app.post('/upload', limitBody(hono, 1024), (c) => c.text('ok'));
 * ```
 */
export function limitBody(hono: HonoKit, maxBytes: number): MiddlewareHandler<ServerEnv> {
  return hono.bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ServerError('SERVER_BAD_REQUEST', `the request body exceeds ${maxBytes} bytes`);
    },
  });
}

/**
 * Require a request signed by a key of one of `roles` (see `auth.ts`); a valid signature by a key
 * of another role is `SERVER_FORBIDDEN`. With `{ claimNonce: false }` the nonce is not claimed
 * here but left in `c.var.nonce` for the handler, which must claim it before (or in the same
 * transaction as) the request's effect: a route whose write can carry the nonce saves a commit.
 *
 * @example
 * ```ts
 * import { loadDriver } from './drivers.js';
 * import { createBaseApp, requireSignature } from './http.js';
 * import { memoryNonceStore } from './auth.js';
 * import { silentLogger } from './log.js';
 * const app = createBaseApp(await loadDriver('hono', 'an app'), { name: 'x', log: silentLogger });
 * app.post('/v1/secret', requireSignature(['operator'], { keys: [], nonces: memoryNonceStore() }), (c) => c.text('ok'));
 * ```
 */
export function requireSignature(
  roles: readonly KeyRole[],
  verifier: VerifierOptions,
  options: { claimNonce?: boolean } = {},
): MiddlewareHandler<ServerEnv> {
  return async (c, next) => {
    const url = new URL(c.req.url);
    const { key, nonce } = checkSignedRequest(
      {
        method: c.req.method,
        pathAndQuery: `${url.pathname}${url.search}`,
        header: (name) => c.req.header(name),
        body: new Uint8Array(await c.req.arrayBuffer()),
      },
      verifier,
    );
    c.set('signer', key);
    if (!roles.includes(key.role))
      throw new ServerError(
        'SERVER_FORBIDDEN',
        `key '${key.id}' (${key.role}) may not call this endpoint`,
      );
    if (options.claimNonce === false) c.set('nonce', nonce);
    else if (
      !(await verifier.nonces.claimNonce(nonce.keyId, nonce.nonce, nonce.expiresAt, nonce.now))
    )
      throw replayedError();
    await next();
  };
}

/**
 * The JSON object body of a request, or `SERVER_BAD_REQUEST` (wrong content type, bad JSON, not an
 * object).
 *
 * @example
 * ```ts
 * app.post('/v1/admin/x', async (c) => c.json(await jsonOf(c)));
 * ```
 */
export async function jsonOf(c: Context<ServerEnv>): Promise<Record<string, unknown>> {
  const type = c.req.header('content-type')?.split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json')
    throw new ServerError('SERVER_BAD_REQUEST', 'content-type must be application/json');
  let value: unknown;
  try {
    value = JSON.parse(await c.req.text());
  } catch (e) {
    throw new ServerError('SERVER_BAD_REQUEST', `json: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ServerError('SERVER_BAD_REQUEST', 'json: expected an object');
  return value as Record<string, unknown>;
}
