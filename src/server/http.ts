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
import { Readable } from 'node:stream';
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { concatBytes } from '../bytes.js';
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
    /** The request body, once read by {@link limitBody} or {@link bodyOf}. */
    body: Uint8Array | undefined;
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
    c.set('body', undefined);
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

/** The largest body read on a route that sets no limit of its own (signed GETs and DELETEs). */
const DEFAULT_BODY_LIMIT = 64 * 1024;

function tooLarge(maxBytes: number): ServerError {
  return new ServerError('SERVER_BAD_REQUEST', `the request body exceeds ${maxBytes} bytes`);
}

/**
 * Read a Node request's body straight off its stream, at most `maxBytes`. This skips building
 * a WHATWG `Request` (abort signal, headers, a web stream over the socket) for a body of a
 * hundred bytes: binds per second rose by about a fifth (`npm run bench -- server`).
 */
function readIncoming(incoming: Readable, maxBytes: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const stop = () => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
      incoming.off('close', onClose);
    };
    const onData = (part: Buffer) => {
      size += part.length;
      if (size > maxBytes) {
        // The rest is drained (or the connection closed) by the server once the answer is sent.
        stop();
        incoming.pause();
        reject(tooLarge(maxBytes));
        return;
      }
      parts.push(part);
    };
    const onEnd = () => {
      stop();
      const whole = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
      resolve(new Uint8Array(whole.buffer, whole.byteOffset, whole.length));
    };
    const onError = (e: Error) => {
      stop();
      reject(e);
    };
    const onClose = () => {
      stop();
      reject(new ServerError('SERVER_BAD_REQUEST', 'the request body was cut short'));
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
    incoming.on('close', onClose);
  });
}

/** Read the body once, at most `maxBytes`: off the Node stream when nothing else has touched it. */
async function readBody(c: Context<ServerEnv>, maxBytes: number): Promise<Uint8Array> {
  const declared = c.req.header('content-length');
  if (declared !== undefined && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  const incoming = (c.env as { incoming?: unknown } | undefined)?.incoming;
  if (
    incoming instanceof Readable &&
    !incoming.readableDidRead &&
    incoming.listenerCount('data') === 0
  )
    return readIncoming(incoming, maxBytes);
  // Not served by Node (app.request() in tests), or the web Request already owns the stream.
  const body = c.req.raw.body;
  if (body === null) return new Uint8Array();
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const part of body as unknown as AsyncIterable<Uint8Array>) {
    size += part.length;
    if (size > maxBytes) throw tooLarge(maxBytes);
    parts.push(part);
  }
  return concatBytes(...parts);
}

/**
 * Read the request body, at most `maxBytes` (over it: `SERVER_BAD_REQUEST`), before the route
 * runs; the route and {@link requireSignature} then take it from {@link bodyOf}.
 *
 * @example
 * ```ts
 * import { loadDriver } from './drivers.js';
 * import { bodyOf, createBaseApp, limitBody } from './http.js';
 * import { silentLogger } from './log.js';
 * const hono = await loadDriver('hono', 'an app');
 * const app = createBaseApp(hono, { name: 'x', log: silentLogger });
 * app.post('/upload', limitBody(1024), async (c) => c.text(String((await bodyOf(c)).length)));
 * ```
 */
export function limitBody(maxBytes: number): MiddlewareHandler<ServerEnv> {
  return async (c, next) => {
    c.set('body', await readBody(c, maxBytes));
    await next();
  };
}

/**
 * The request body: as {@link limitBody} read it, or read now (at most 64 KiB) on a route without
 * a limit of its own. Read once; every later call answers the same bytes.
 *
 * @example
 * ```ts
 * app.post('/echo', async (c) => c.body(await bodyOf(c)));
 * ```
 */
export async function bodyOf(c: Context<ServerEnv>): Promise<Uint8Array> {
  let body = c.var.body;
  if (body === undefined) {
    body = await readBody(c, DEFAULT_BODY_LIMIT);
    c.set('body', body);
  }
  return body;
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
        body: await bodyOf(c),
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
  const body = await bodyOf(c);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch (e) {
    throw new ServerError('SERVER_BAD_REQUEST', `json: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ServerError('SERVER_BAD_REQUEST', 'json: expected an object');
  return value as Record<string, unknown>;
}
