/**
 * The signed-request format every simvault HTTP client and server share: an HMAC-SHA256 over a
 * canonical text of the request (method, path and query, timestamp, nonce, SHA-256 of the body)
 * under a shared secret, carried in four headers. Portable (noble hashes, no `node:`), so the
 * handset signs with the same code the servers verify with. Layout and vectors:
 * `docs/server.md`, "Signed requests".
 *
 * @module
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes, toHex, utf8 } from '../bytes.js';

/**
 * The header names of a signed request.
 *
 * @example
 * ```ts
 * import { SIGNATURE_HEADERS } from './request-signature.js';
 * SIGNATURE_HEADERS.nonce; // 'x-simvault-nonce'
 * ```
 */
export const SIGNATURE_HEADERS = {
  /** Key id. */
  key: 'x-simvault-key',
  /** Milliseconds since the epoch, decimal. */
  timestamp: 'x-simvault-timestamp',
  /** A fresh random value per request. */
  nonce: 'x-simvault-nonce',
  /** HMAC-SHA256 of the canonical request, hex. */
  signature: 'x-simvault-signature',
} as const;

/**
 * The string that is signed: a fixed label, then method, path with query, timestamp, nonce and
 * body SHA-256 (hex), one per line.
 *
 * @example
 * ```ts
 * import { canonicalRequest } from './request-signature.js';
 * canonicalRequest('POST', '/v1/sim/bind', '1700000000000', 'abcdefghijklmnop', new Uint8Array());
 * ```
 */
export function canonicalRequest(
  method: string,
  pathAndQuery: string,
  timestamp: string,
  nonce: string,
  body: Uint8Array,
): string {
  return [
    'SIMVAULT-HMAC-SHA256',
    method.toUpperCase(),
    pathAndQuery,
    timestamp,
    nonce,
    toHex(sha256(body)),
  ].join('\n');
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** 18 random bytes as 24 base64url characters: no padding, inside the nonce alphabet. */
function freshNonce(): string {
  const b = randomBytes(18);
  let out = '';
  for (let i = 0; i < b.length; i += 3) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
    out += BASE64URL[n >>> 18]! + BASE64URL[(n >>> 12) & 63]! + BASE64URL[(n >>> 6) & 63]!;
    out += BASE64URL[n & 63]!;
  }
  return out;
}

/**
 * The four headers that sign a request to `url` with key `keyId` (its path and query are signed,
 * not its host).
 *
 * @param keyId - the key id the receiver looks the secret up by
 * @param secret - the shared secret
 * @param method - HTTP method
 * @param url - the full URL
 * @param body - the exact body bytes (empty for none)
 * @param options - a fixed timestamp or nonce (tests and vectors); fresh ones by default
 *
 * @example
 * ```ts
 * import { signatureHeaders } from './request-signature.js';
 * const headers = signatureHeaders('ota', new Uint8Array(32), 'GET', 'http://127.0.0.1:8081/v1/sms/mt?iccid=1');
 * ```
 */
export function signatureHeaders(
  keyId: string,
  secret: Uint8Array,
  method: string,
  url: string | URL,
  body: Uint8Array = new Uint8Array(),
  options: { timestamp?: number; nonce?: string } = {},
): Record<string, string> {
  const u = typeof url === 'string' ? new URL(url) : url;
  const timestamp = String(options.timestamp ?? Date.now());
  const nonce = options.nonce ?? freshNonce();
  const text = canonicalRequest(method, `${u.pathname}${u.search}`, timestamp, nonce, body);
  return {
    [SIGNATURE_HEADERS.key]: keyId,
    [SIGNATURE_HEADERS.timestamp]: timestamp,
    [SIGNATURE_HEADERS.nonce]: nonce,
    [SIGNATURE_HEADERS.signature]: toHex(hmac(sha256, secret, utf8(text))),
  };
}
