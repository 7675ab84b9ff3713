// Signed requests, nonce stores, keys files and token buckets.
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  canonicalRequest,
  checkSigningKey,
  memoryNonceStore,
  signRequest,
  verifySignedRequest,
  type SigningKey,
} from '../../src/server/auth.js';
import { formatKeysFile, loadOrCreateKeys, parseKeysFile } from '../../src/server/keys.js';
import { TokenBuckets } from '../../src/server/rate-limit.js';

const KEY: SigningKey = { id: 'ota', role: 'ota', secret: new Uint8Array(32).fill(1) };
const NOW = 1_700_000_000_000;

function received(
  headers: Record<string, string>,
  body: Uint8Array,
  pathAndQuery = '/v1/sim/bind?brand=x',
  method = 'POST',
) {
  return { method, pathAndQuery, header: (n: string) => headers[n], body };
}

describe('signed requests', () => {
  it('has a fixed canonical form', () => {
    expect(canonicalRequest('post', '/a?b=1', '1', 'nonce', new Uint8Array())).toBe(
      'SIMVAULT-HMAC-SHA256\nPOST\n/a?b=1\n1\nnonce\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });

  it('verifies what it signs, for any body, path and nonce', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 300 }),
        fc.webPath(),
        fc.stringMatching(/^[A-Za-z0-9_-]{16,64}$/),
        async (body, path, nonce) => {
          const url = new URL(`http://h${path.startsWith('/') ? path : `/${path}`}`);
          const headers = signRequest(KEY, 'POST', url, body, { timestamp: NOW, nonce });
          const key = await verifySignedRequest(
            received(headers, body, `${url.pathname}${url.search}`),
            { keys: [KEY], nonces: memoryNonceStore(), now: () => NOW },
          );
          expect(key.id).toBe('ota');
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses each kind of bad request with its own code', async () => {
    const body = new Uint8Array([1, 2, 3]);
    const nonces = memoryNonceStore();
    const opts = { keys: [KEY], nonces, now: () => NOW, windowMs: 60_000 };
    const good = signRequest(KEY, 'POST', 'http://h/v1/sim/bind?brand=x', body, { timestamp: NOW });
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: unknown) => (e as { code: string }).code,
      );
    expect(await code(verifySignedRequest(received({}, body), opts))).toBe(
      'SERVER_UNAUTHENTICATED',
    );
    expect(
      await code(verifySignedRequest(received({ ...good, 'x-simvault-key': 'other' }, body), opts)),
    ).toBe('SERVER_UNAUTHENTICATED');
    expect(await code(verifySignedRequest(received(good, new Uint8Array([1, 2, 4])), opts))).toBe(
      'SERVER_BAD_SIGNATURE',
    );
    expect(await code(verifySignedRequest(received(good, body, '/v1/sim/bind'), opts))).toBe(
      'SERVER_BAD_SIGNATURE',
    );
    expect(await code(verifySignedRequest(received(good, body, undefined, 'PUT'), opts))).toBe(
      'SERVER_BAD_SIGNATURE',
    );
    expect(
      await code(
        verifySignedRequest(received({ ...good, 'x-simvault-signature': 'zz' }, body), opts),
      ),
    ).toBe('SERVER_BAD_SIGNATURE');
    expect(
      await code(
        verifySignedRequest(received({ ...good, 'x-simvault-timestamp': '-1' }, body), opts),
      ),
    ).toBe('SERVER_BAD_SIGNATURE');
    expect(
      await code(
        verifySignedRequest(
          received({ ...good, 'x-simvault-timestamp': String(NOW + 1) }, body),
          opts,
        ),
      ),
    ).toBe('SERVER_BAD_SIGNATURE');
    const old = signRequest(KEY, 'POST', 'http://h/v1/sim/bind?brand=x', body, {
      timestamp: NOW - 60_001,
    });
    expect(await code(verifySignedRequest(received(old, body), opts))).toBe('SERVER_STALE_REQUEST');
    const edge = signRequest(KEY, 'POST', 'http://h/v1/sim/bind?brand=x', body, {
      timestamp: NOW - 60_000,
    });
    expect(await code(verifySignedRequest(received(edge, body), opts))).toBe('ok');
    expect(await code(verifySignedRequest(received(good, body), opts))).toBe('ok');
    expect(await code(verifySignedRequest(received(good, body), opts))).toBe('SERVER_REPLAYED');
  });

  it('does not let a bad signature burn a nonce', async () => {
    const body = new Uint8Array([5]);
    const opts = { keys: [KEY], nonces: memoryNonceStore(), now: () => NOW };
    const good = signRequest(KEY, 'POST', 'http://h/v1/sim/bind?brand=x', body, { timestamp: NOW });
    const forged = { ...good, 'x-simvault-signature': '00'.repeat(32) };
    await expect(verifySignedRequest(received(forged, body), opts)).rejects.toMatchObject({
      code: 'SERVER_BAD_SIGNATURE',
    });
    await expect(verifySignedRequest(received(good, body), opts)).resolves.toBe(KEY);
  });

  it('checks keys', () => {
    expect(() => checkSigningKey({ ...KEY, secret: new Uint8Array(8) })).toThrow(/16 bytes/);
    expect(() => checkSigningKey({ ...KEY, id: 'a b' })).toThrow(/id/);
    expect(() => checkSigningKey({ ...KEY, role: 'admin' as 'ota' })).toThrow(/role/);
  });

  it('forgets expired nonces in memory', async () => {
    const nonces = memoryNonceStore();
    expect(await nonces.claimNonce('k', 'n', 10, 0)).toBe(true);
    expect(await nonces.claimNonce('k', 'n', 10, 5)).toBe(false);
    expect(await nonces.claimNonce('k', 'n', 30, 20)).toBe(true);
  });
});

describe('keys file', () => {
  it('is created once with an ota and an operator key, mode 0600, and read back', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'simvault-keys-')), 'keys.json');
    const [a, b] = await Promise.all([loadOrCreateKeys(path), loadOrCreateKeys(path)]);
    expect(a.map((k) => [k.id, k.role])).toEqual([
      ['ota', 'ota'],
      ['operator', 'operator'],
    ]);
    expect(b).toEqual(a);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(parseKeysFile(readFileSync(path, 'utf8'))).toEqual(a);
    expect(parseKeysFile(formatKeysFile(a))).toEqual(a);
  });

  it('refuses malformed files', async () => {
    expect(() => parseKeysFile('{')).toThrow(/keys file/);
    expect(() => parseKeysFile('{}')).toThrow(/array/);
    expect(() => parseKeysFile('[{"id":"a","role":"root","secret":"00"}]')).toThrow(/role/);
    expect(() =>
      parseKeysFile(
        `[{"id":"a","role":"ota","secret":"${'11'.repeat(16)}"},{"id":"a","role":"ota","secret":"${'11'.repeat(16)}"}]`,
      ),
    ).toThrow(/twice/);
    const path = join(mkdtempSync(join(tmpdir(), 'simvault-keys-')), 'keys.json');
    writeFileSync(path, '[{"id":"a","role":"ota","secret":"00"}]');
    await expect(loadOrCreateKeys(path)).rejects.toThrow(/16 bytes/);
  });
});

describe('token buckets', () => {
  it('allows a burst, then the refill rate, per key', () => {
    const b = new TokenBuckets({ capacity: 3, refillPerSecond: 2 });
    expect([b.take('a', 0), b.take('a', 0), b.take('a', 0)]).toEqual([0, 0, 0]);
    expect(b.take('a', 0)).toBe(1);
    expect(b.take('b', 0)).toBe(0);
    expect(b.take('a', 500)).toBe(0);
    expect(b.take('a', 500)).toBe(1);
    expect(b.take('a', 10_000)).toBe(0);
  });

  it('takes from several keys only when every one has a token', () => {
    const b = new TokenBuckets({ capacity: 1, refillPerSecond: 0.1 });
    expect(b.takeAll(['cid:1', 'sim:1'], 0)).toBe(0);
    expect(b.takeAll(['cid:2', 'sim:1'], 0)).toBe(10);
    // cid:2 kept its token, since the request was refused.
    expect(b.takeAll(['cid:2', 'sim:2'], 0)).toBe(0);
  });

  it('never allows more than capacity + rate × time, whatever the request times', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 200 }),
        (gaps) => {
          const b = new TokenBuckets({ capacity: 5, refillPerSecond: 3 });
          let t = 0;
          let allowed = 0;
          for (const g of gaps) {
            t += g;
            if (b.take('k', t) === 0) allowed++;
          }
          expect(allowed).toBeLessThanOrEqual(5 + Math.floor((t / 1000) * 3));
        },
      ),
    );
  });

  it('bounds its memory by dropping idle buckets', () => {
    const b = new TokenBuckets({ capacity: 2, refillPerSecond: 1, maxKeys: 100 });
    for (let i = 0; i < 1000; i++) b.take(`k${i}`, i * 10);
    expect(b.size).toBeLessThanOrEqual(100);
    expect(() => new TokenBuckets({ capacity: 0, refillPerSecond: 1 })).toThrow();
  });
});
