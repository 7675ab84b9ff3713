// The handset's HTTP link on a scripted fetch: error mapping (known codes, unknown codes, bodies
// that are not JSON, a network that fails), and 429 answers retried after their Retry-After.
import { describe, expect, it } from 'vitest';
import { ServerLink } from '../../src/handset/server-link.js';
import type { FetchLike } from '../../src/handset/index.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex } from '../../src/bytes.js';
import { canonicalRequest } from '../../src/protocol/request-signature.js';
import { jsonResponse } from './helpers.js';

const credential = { keyVersion: 3, secret: new Uint8Array(32).fill(7) };
const base = {
  otaUrl: 'http://ota.test/',
  cardAppUrl: 'http://cards.test',
  iccid: '89860012345678901234',
  credential: () => Promise.resolve(credential),
};

function scripted(...answers: (Response | Error)[]): {
  fetch: FetchLike;
  calls: { url: string; method: string; headers: Record<string, string> }[];
} {
  const calls: { url: string; method: string; headers: Record<string, string> }[] = [];
  const fetch: FetchLike = (input, init) => {
    calls.push({
      url: String(input),
      method: init?.method ?? 'GET',
      headers: { ...(init?.headers as Record<string, string> | undefined) },
    });
    const next = answers.shift();
    if (next === undefined) throw new Error('no more scripted answers');
    return next instanceof Response ? Promise.resolve(next) : Promise.reject(next);
  };
  return { fetch, calls };
}

describe('ServerLink', () => {
  it('refuses an ICCID that is not 10-20 digits', () => {
    expect(() => new ServerLink({ ...base, iccid: '12ab' })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });

  it("keeps a server's known code and HTTP status; unknown codes are HANDSET_HTTP", async () => {
    const { fetch, calls } = scripted(
      jsonResponse({ error: { code: 'SERVER_UNKNOWN_CARD', message: 'no such card' } }, 404),
      jsonResponse({ error: { code: 'TEAPOT', message: 'short and stout' } }, 418),
      new Response('<html>bad gateway</html>', { status: 502 }),
    );
    const link = new ServerLink({ ...base, fetch });
    await expect(link.verifyCard(new Uint8Array(16))).rejects.toMatchObject({
      code: 'SERVER_UNKNOWN_CARD',
      status: 404,
      message: 'POST /v1/cards/verify: SERVER_UNKNOWN_CARD: no such card',
    });
    await expect(link.postMo(new Uint8Array([1]))).rejects.toMatchObject({
      code: 'HANDSET_HTTP',
      status: 418,
      message: 'POST /v1/sms/mo: TEAPOT: short and stout',
    });
    await expect(link.fetchMt(3, 99)).rejects.toMatchObject({
      code: 'HANDSET_HTTP',
      status: 502,
      message: 'GET /v1/sms/mt: HTTP 502',
    });
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      'POST http://cards.test/v1/cards/verify',
      'POST http://ota.test/v1/sms/mo?iccid=89860012345678901234',
      // The long-poll wait is clamped to 60 seconds.
      'GET http://ota.test/v1/sms/mt?iccid=89860012345678901234&after=3&wait=60',
    ]);
  });

  it('a network failure is HANDSET_HTTP with the cause', async () => {
    const cause = new TypeError('fetch failed');
    const { fetch } = scripted(cause, new Error('socket hang up'));
    const link = new ServerLink({ ...base, fetch });
    await expect(link.fetchMt(0, 0)).rejects.toMatchObject({
      code: 'HANDSET_HTTP',
      status: undefined,
      cause,
    });
    await expect(link.request('http://ota.test/x', { method: 'PUT' })).rejects.toMatchObject({
      code: 'HANDSET_HTTP',
      message: 'PUT http://ota.test/x: socket hang up',
    });
  });

  it('retries a 429 after its Retry-After, and gives up after the retries allowed', async () => {
    const limited = (after: string | null) =>
      new Response('{}', { status: 429, headers: after === null ? {} : { 'retry-after': after } });
    const { fetch, calls } = scripted(
      limited('0.01'),
      limited('0.02'),
      jsonResponse({ messages: [], next: 7 }),
      limited('0.01'),
      limited('0.01'),
      limited('0.01'),
    );
    const link = new ServerLink({ ...base, fetch, rateLimitRetries: 1 });
    await expect(link.fetchMt(0, 0)).rejects.toMatchObject({ code: 'HANDSET_HTTP', status: 429 });
    expect(calls).toHaveLength(2);
    // Each attempt is signed afresh: a retry with the same nonce would be refused as a replay.
    const [a, b] = calls.map((c) => c.headers);
    expect(a!['x-simvault-key']).toBe('handset.89860012345678901234.3');
    expect(a!['x-simvault-nonce']).not.toBe(b!['x-simvault-nonce']);
    const patient = new ServerLink({ ...base, fetch, rateLimitRetries: 2 });
    expect(await patient.fetchMt(0, 0)).toEqual({ messages: [], next: 7 });
    await expect(patient.fetchMt(0, 0)).rejects.toMatchObject({ status: 429 });
  });

  it('waits a second for a 429 whose Retry-After is missing or not a positive number', async () => {
    for (const after of [null, 'soon']) {
      const { fetch } = scripted(
        new Response('', { status: 429, headers: after === null ? {} : { 'retry-after': after } }),
        jsonResponse({ messages: [], next: 1 }),
      );
      const started = Date.now();
      await new ServerLink({ ...base, fetch }).fetchMt(0, 0);
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    }
  });

  it('signs reads of the queue with the credential, asked for once; a failed ask is asked again', async () => {
    let asks = 0;
    const flaky = () => {
      asks++;
      return asks === 1 ? Promise.reject(new Error('SIM busy')) : Promise.resolve(credential);
    };
    const url = 'http://ota.test/v1/sms/mt?iccid=89860012345678901234&after=0&wait=0';
    const { fetch, calls } = scripted(
      jsonResponse({ messages: [], next: 0 }),
      jsonResponse({ messages: [], next: 0 }),
    );
    const link = new ServerLink({ ...base, fetch, credential: flaky });
    await expect(link.fetchMt(0, 0)).rejects.toThrow('SIM busy');
    await link.fetchMt(0, 0);
    await link.fetchMt(0, 0);
    expect(asks).toBe(2);
    const h = calls[0]!.headers;
    const text = canonicalRequest(
      'GET',
      new URL(url).pathname + new URL(url).search,
      h['x-simvault-timestamp']!,
      h['x-simvault-nonce']!,
      new Uint8Array(),
    );
    expect(h['x-simvault-signature']).toBe(
      toHex(hmac(sha256, credential.secret, new TextEncoder().encode(text))),
    );
    const bare = new ServerLink({
      otaUrl: base.otaUrl,
      cardAppUrl: base.cardAppUrl,
      iccid: base.iccid,
      fetch,
    });
    await expect(bare.fetchMt(0, 0)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
