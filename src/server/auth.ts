/**
 * Signed requests between servers: the OTA server (and the operator's tools) sign each request to
 * the card application server with an HMAC-SHA256 over its method, path and query, a timestamp, a
 * nonce and the SHA-256 of its body, under a shared secret. The receiver refuses a request that
 * is unsigned or names an unknown key (`SERVER_UNAUTHENTICATED`), whose signature does not verify
 * (`SERVER_BAD_SIGNATURE`), whose timestamp is outside the window (`SERVER_STALE_REQUEST`), or
 * whose nonce it has seen (`SERVER_REPLAYED`).
 *
 * Headers: `x-simvault-key` (key id), `x-simvault-timestamp` (ms since the epoch),
 * `x-simvault-nonce` (16-64 of `A-Z a-z 0-9 _ -`), `x-simvault-signature` (64 hex digits).
 *
 * @module
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ArgumentError } from '../errors.js';
import {
  canonicalRequest,
  SIGNATURE_HEADERS,
  signatureHeaders,
} from '../protocol/request-signature.js';
import { isOneOf } from '../validate.js';
import { ServerError } from './errors.js';

export { canonicalRequest, SIGNATURE_HEADERS };

/**
 * What a key may call: `ota` the SIM message endpoints, `operator` the provisioning endpoints,
 * `handset` a SIM's queue (a key derived per SIM from its keyset, never configured).
 *
 * @example
 * ```ts
 * import type { KeyRole } from './auth.js';
 * const role: KeyRole = 'ota';
 * ```
 */
export type KeyRole = 'ota' | 'operator' | 'handset';

/**
 * A shared signing key.
 *
 * @example
 * ```ts
 * import { randomBytes } from 'node:crypto';
 * import type { SigningKey } from './auth.js';
 * const key: SigningKey = { id: 'ota', secret: randomBytes(32), role: 'ota' };
 * ```
 */
export interface SigningKey {
  /** Key id sent in `x-simvault-key`: 1-64 of `A-Z a-z 0-9 . _ -`. */
  id: string;
  /** The shared secret: at least 16 bytes. */
  secret: Uint8Array;
  /** What the key may call. */
  role: KeyRole;
}

/**
 * Default accepted clock difference between signer and receiver: 5 minutes either way.
 *
 * @example
 * ```ts
 * import { DEFAULT_WINDOW_MS } from './auth.js';
 * DEFAULT_WINDOW_MS; // 300000
 * ```
 */
export const DEFAULT_WINDOW_MS = 5 * 60_000;

const NONCE = /^[A-Za-z0-9_-]{16,64}$/;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

function mac(secret: Uint8Array, text: string): Buffer {
  return createHmac('sha256', secret).update(text, 'utf8').digest();
}

/**
 * Check a key before use: a valid id and a secret of at least 16 bytes.
 *
 * @example
 * ```ts
 * import { randomBytes } from 'node:crypto';
 * import { checkSigningKey } from './auth.js';
 * checkSigningKey({ id: 'ota', secret: randomBytes(32), role: 'ota' });
 * ```
 */
export function checkSigningKey(key: SigningKey): SigningKey {
  if (!KEY_ID.test(key.id))
    throw new ArgumentError(`signing key id '${key.id}' must be 1-64 of A-Z a-z 0-9 . _ -`);
  if (!(key.secret instanceof Uint8Array) || key.secret.length < 16)
    throw new ArgumentError(`signing key '${key.id}' needs a secret of at least 16 bytes`);
  // Keys come from configuration files too: the type alone does not hold at runtime.
  if (!isOneOf<unknown>(key.role, ['ota', 'operator']))
    throw new ArgumentError(`signing key '${key.id}' has an unknown role`);
  return key;
}

/**
 * The headers that sign a request to `url` (its path and query are signed, not its host).
 *
 * @example
 * ```ts
 * import { randomBytes } from 'node:crypto';
 * import { signRequest } from './auth.js';
 * const body = new Uint8Array([1, 2, 3]);
 * const headers = signRequest({ id: 'ota', secret: randomBytes(32), role: 'ota' }, 'POST', 'http://127.0.0.1:8080/v1/sim/bind', body);
 * await fetch('http://127.0.0.1:8080/v1/sim/bind', { method: 'POST', body, headers: { ...headers, 'content-type': 'application/octet-stream' } });
 * ```
 */
export function signRequest(
  key: SigningKey,
  method: string,
  url: string | URL,
  body: Uint8Array = new Uint8Array(),
  options: { timestamp?: number; nonce?: string } = {},
): Record<string, string> {
  return signatureHeaders(key.id, key.secret, method, url, body, options);
}

/**
 * Where seen nonces are remembered. The registry store is one (shared by every process on the
 * database); {@link memoryNonceStore} is another.
 *
 * @example
 * ```ts
 * import type { NonceStore } from './auth.js';
 * const never: NonceStore = { claimNonce: async () => true };
 * ```
 */
export interface NonceStore {
  /** Remember `nonce` of `keyId` until `expiresAt`; `false` if it was already remembered. */
  claimNonce(keyId: string, nonce: string, expiresAt: number, now: number): Promise<boolean>;
}

/**
 * An in-process nonce store, for a single server process without a shared database.
 *
 * @example
 * ```ts
 * import { memoryNonceStore } from './auth.js';
 * const nonces = memoryNonceStore();
 * await nonces.claimNonce('ota', 'n', Date.now() + 1000, Date.now()); // true
 * ```
 */
export function memoryNonceStore(): NonceStore {
  const seen = new Map<string, number>();
  return {
    claimNonce(keyId, nonce, expiresAt, now) {
      if (seen.size > 10_000) for (const [k, exp] of seen) if (exp < now) seen.delete(k);
      const k = `${keyId}\n${nonce}`;
      const exp = seen.get(k);
      if (exp !== undefined && exp >= now) return Promise.resolve(false);
      seen.set(k, expiresAt);
      return Promise.resolve(true);
    },
  };
}

/**
 * How a receiver checks signatures.
 *
 * @example
 * ```ts
 * import { memoryNonceStore, type VerifierOptions } from './auth.js';
 * const options: VerifierOptions = { keys: [], nonces: memoryNonceStore(), windowMs: 60_000 };
 * ```
 */
export interface VerifierOptions {
  /** The keys accepted. */
  keys: readonly SigningKey[];
  /** Where nonces are remembered. */
  nonces: NonceStore;
  /** Accepted clock difference, either way (default {@link DEFAULT_WINDOW_MS}). */
  windowMs?: number;
  /** The clock (default `Date.now`). */
  now?: () => number;
}

/**
 * The parts of a received request a signature covers.
 *
 * @example
 * ```ts
 * import type { ReceivedRequest } from './auth.js';
 * const r: ReceivedRequest = { method: 'POST', pathAndQuery: '/v1/sim/bind', header: () => undefined, body: new Uint8Array() };
 * ```
 */
export interface ReceivedRequest {
  /** HTTP method. */
  method: string;
  /** Path and query string, as sent. */
  pathAndQuery: string;
  /** A header's value by lower-case name. */
  header(name: string): string | undefined;
  /** The raw body. */
  body: Uint8Array;
}

/**
 * A nonce a verified request still has to claim: what the store's `claimNonce` is called
 * with. A receiver that stores the request's effect may claim it in the same transaction, so that
 * the request and its nonce are committed together (see `RegistryStore.bind`).
 *
 * @example
 * ```ts
 * import type { NonceClaim } from './auth.js';
 * const claim: NonceClaim = { keyId: 'ota', nonce: 'abcdefghijklmnop', expiresAt: 1_700_000_301_000, now: 1_700_000_000_000 };
 * ```
 */
export interface NonceClaim {
  /** The signing key's id. */
  keyId: string;
  /** The request's nonce. */
  nonce: string;
  /** Until when it must be remembered (ms since the epoch). */
  expiresAt: number;
  /** The receiver's clock when it checked the request. */
  now: number;
}

/**
 * Check a signed request's key, signature and timestamp, without claiming its nonce: resolves to
 * the key and the {@link NonceClaim} the caller must make before acting on the request, or throws
 * a {@link ServerError} with `SERVER_UNAUTHENTICATED`, `SERVER_BAD_SIGNATURE` or
 * `SERVER_STALE_REQUEST`. {@link verifySignedRequest} is this plus the claim.
 *
 * @example
 * ```ts
 * import { checkSignedRequest, memoryNonceStore } from './auth.js';
 * const nonces = memoryNonceStore();
 * const { key, nonce } = checkSignedRequest(
 *   { method: 'GET', pathAndQuery: '/v1/admin/reports/downloads', header: (n) => headers.get(n) ?? undefined, body: new Uint8Array() },
 *   { keys, nonces },
 * );
 * if (!(await nonces.claimNonce(nonce.keyId, nonce.nonce, nonce.expiresAt, nonce.now))) throw new Error('replayed');
 * ```
 */
export function checkSignedRequest(
  request: ReceivedRequest,
  options: VerifierOptions,
): { key: SigningKey; nonce: NonceClaim } {
  const keyId = request.header(SIGNATURE_HEADERS.key);
  const timestamp = request.header(SIGNATURE_HEADERS.timestamp);
  const nonce = request.header(SIGNATURE_HEADERS.nonce);
  const signature = request.header(SIGNATURE_HEADERS.signature);
  if (
    keyId === undefined ||
    timestamp === undefined ||
    nonce === undefined ||
    signature === undefined
  ) {
    throw new ServerError(
      'SERVER_UNAUTHENTICATED',
      'this endpoint needs a signed request (x-simvault-key, -timestamp, -nonce, -signature)',
    );
  }
  const key = options.keys.find((k) => k.id === keyId);
  if (!key)
    throw new ServerError('SERVER_UNAUTHENTICATED', `unknown signing key '${keyId.slice(0, 64)}'`);
  if (!/^[0-9]{1,16}$/.test(timestamp))
    throw new ServerError(
      'SERVER_BAD_SIGNATURE',
      'x-simvault-timestamp must be decimal milliseconds',
    );
  if (!NONCE.test(nonce))
    throw new ServerError(
      'SERVER_BAD_SIGNATURE',
      'x-simvault-nonce must be 16-64 of A-Z a-z 0-9 _ -',
    );
  if (!/^[0-9a-fA-F]{64}$/.test(signature))
    throw new ServerError('SERVER_BAD_SIGNATURE', 'x-simvault-signature must be 64 hex digits');
  const expected = mac(
    key.secret,
    canonicalRequest(request.method, request.pathAndQuery, timestamp, nonce, request.body),
  );
  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) {
    throw new ServerError('SERVER_BAD_SIGNATURE', 'the signature does not match the request');
  }
  const now = (options.now ?? Date.now)();
  const window = options.windowMs ?? DEFAULT_WINDOW_MS;
  const at = Number(timestamp);
  if (Math.abs(now - at) > window) {
    throw new ServerError(
      'SERVER_STALE_REQUEST',
      `the request timestamp is ${Math.round((now - at) / 1000)} s away from the server clock (window ${window / 1000} s)`,
    );
  }
  // Kept past the window's far end, so the nonce is remembered as long as the timestamp is valid.
  return { key, nonce: { keyId: key.id, nonce, expiresAt: at + window + 1000, now } };
}

/**
 * The error of a request whose nonce was already claimed.
 *
 * @example
 * ```ts
 * import { replayedError } from './auth.js';
 * throw replayedError();
 * ```
 */
export function replayedError(): ServerError {
  return new ServerError('SERVER_REPLAYED', 'this nonce was already used: a replayed request');
}

/**
 * Verify a signed request; resolves to the key that signed it, or throws a {@link ServerError}
 * with `SERVER_UNAUTHENTICATED`, `SERVER_BAD_SIGNATURE`, `SERVER_STALE_REQUEST` or
 * `SERVER_REPLAYED`. The nonce is only claimed once the signature verifies, so nobody without the
 * key can burn nonces.
 *
 * @example
 * ```ts
 * import { memoryNonceStore, verifySignedRequest } from './auth.js';
 * const key = await verifySignedRequest(
 *   { method: 'GET', pathAndQuery: '/v1/admin/reports/downloads', header: (n) => headers.get(n) ?? undefined, body: new Uint8Array() },
 *   { keys, nonces: memoryNonceStore() },
 * );
 * ```
 */
export async function verifySignedRequest(
  request: ReceivedRequest,
  options: VerifierOptions,
): Promise<SigningKey> {
  const { key, nonce } = checkSignedRequest(request, options);
  if (!(await options.nonces.claimNonce(nonce.keyId, nonce.nonce, nonce.expiresAt, nonce.now)))
    throw replayedError();
  return key;
}
