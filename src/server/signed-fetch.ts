/**
 * The HTTP plumbing the servers' clients share: sign a request when a key is given, send it, and
 * turn every failure into a typed error — an answer's JSON `{ "error": { code, message } }` into
 * an {@link OtaError} or {@link ServerError} with the server's stable code, a server that cannot
 * be reached into an {@link IoError} `IO_UNREACHABLE`.
 *
 * @module
 */
import { ERROR_CODES, IoError, type SimvaultError } from '../errors.js';
import { signRequest, type SigningKey } from './auth.js';
import { ServerError, type ServerErrorCode } from './errors.js';
import { OtaError, type OtaErrorCode } from './ota/errors.js';
import { POR_STATUS, type PorStatus } from '../protocol/secured-packet.js';

/**
 * One request of a client.
 *
 * @example
 * ```ts
 * import type { ClientRequest } from './signed-fetch.js';
 * const r: ClientRequest = { method: 'GET', url: 'http://127.0.0.1:8080/v1/admin/files' };
 * ```
 */
export interface ClientRequest {
  /** HTTP method. */
  method: string;
  /** Full URL. */
  url: string;
  /** The body, when there is one. */
  body?: Uint8Array;
  /** Its media type. */
  contentType?: string;
  /** The key that signs the request; unsigned without one. */
  key?: SigningKey | undefined;
  /**
   * Sign over an empty body although one is sent (streamed uploads, whose signed query carries
   * the content's digest instead).
   */
  signEmptyBody?: boolean;
}

function knownCode(code: unknown, prefix: 'OTA_' | 'SERVER_'): boolean {
  return typeof code === 'string' && code.startsWith(prefix) && Object.hasOwn(ERROR_CODES, code);
}

/**
 * The typed error of a failed answer: `OTA_*` codes become {@link OtaError}s (with the PoR status
 * when the body carries one), `SERVER_*` codes {@link ServerError}s (with `retry-after`), and an
 * answer without a known code `SERVER_INTERNAL` naming the status.
 *
 * @param what - the request, for a message when the answer carries none (e.g. `PUT /v1/admin/files/x`)
 * @param res - the answer
 *
 * @example
 * ```ts
 * import { errorOfResponse } from './signed-fetch.js';
 * const res = new Response('{"error":{"code":"OTA_UNKNOWN_SIM","message":"no SIM 1"}}', { status: 404 });
 * (await errorOfResponse('GET /x', res)).code; // 'OTA_UNKNOWN_SIM'
 * ```
 */
export async function errorOfResponse(what: string, res: Response): Promise<SimvaultError> {
  const text = await res.text();
  let error: { code?: unknown; message?: unknown; porStatus?: unknown } | undefined;
  try {
    error = (JSON.parse(text) as { error?: typeof error }).error;
  } catch {
    // Not a JSON error body (a proxy's page): the status is all there is.
  }
  // The server's own message is kept as it is (a relay passes it on to its client); only an
  // answer without one is described by the request.
  const message =
    typeof error?.message === 'string' ? error.message : `${what}: HTTP ${res.status}`;
  if (knownCode(error?.code, 'OTA_'))
    return new OtaError(
      error?.code as OtaErrorCode,
      message,
      typeof error?.porStatus === 'string' && Object.hasOwn(POR_STATUS, error.porStatus)
        ? { porStatus: error.porStatus as PorStatus }
        : {},
    );
  const retry = res.headers.get('retry-after');
  return new ServerError(
    knownCode(error?.code, 'SERVER_') ? (error?.code as ServerErrorCode) : 'SERVER_INTERNAL',
    message,
    retry !== null && Number.isFinite(Number(retry)) ? { retryAfter: Number(retry) } : {},
  );
}

/**
 * Send one request, signed when it carries a key; resolve to the answer when it is a success.
 *
 * @example
 * ```ts
 * import { sendRequest } from './signed-fetch.js';
 * const res = await sendRequest({ method: 'GET', url: 'http://127.0.0.1:8080/healthz' });
 * await res.json(); // { status: 'ok', server: 'card-app' }
 * ```
 */
export async function sendRequest(request: ClientRequest): Promise<Response> {
  const { method, url, body, key } = request;
  const headers: Record<string, string> = {};
  if (request.contentType !== undefined) headers['content-type'] = request.contentType;
  if (key !== undefined)
    Object.assign(
      headers,
      signRequest(key, method, url, request.signEmptyBody ? new Uint8Array() : body),
    );
  const what = `${method} ${new URL(url).pathname}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers,
      ...(body !== undefined ? { body: body as Uint8Array<ArrayBuffer> } : {}),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: unknown; message?: unknown } }).cause;
    const reason = typeof cause?.message === 'string' ? cause.message : String(e);
    throw new IoError('IO_UNREACHABLE', `${what}: ${new URL(url).origin} unreachable: ${reason}`, {
      path: new URL(url).origin,
      ...(typeof cause?.code === 'string' ? { errno: cause.code } : {}),
      cause: e,
    });
  }
  if (!res.ok) throw await errorOfResponse(what, res);
  return res;
}
