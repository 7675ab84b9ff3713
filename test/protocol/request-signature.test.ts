// The signed-request format: the vectors published in docs/server.md, checked against the code
// and against node:crypto, and the headers a signer writes.
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex } from '../../src/bytes.js';
import {
  canonicalRequest,
  SIGNATURE_HEADERS,
  signatureHeaders,
} from '../../src/protocol/request-signature.js';

function docRows(): string[][] {
  const doc = readFileSync(new URL('../../docs/server.md', import.meta.url), 'utf8');
  const section = doc.slice(
    doc.indexOf('## Signed requests'),
    doc.indexOf('## Handset credential'),
  );
  const cell = '`?([^|`]*)`?';
  const row = new RegExp(`^\\| ${Array(8).fill(cell).join(' \\| ')} \\|$`, 'gm');
  return [...section.matchAll(row)]
    .map((m) => m.slice(1))
    .filter((r) => /^[0-9a-f]{64}$/.test(r[7]!));
}

function nodeSignature(
  secret: Uint8Array,
  method: string,
  path: string,
  ts: string,
  nonce: string,
  body: Uint8Array,
): string {
  const text = [
    'SIMVAULT-HMAC-SHA256',
    method,
    path,
    ts,
    nonce,
    createHash('sha256').update(body).digest('hex'),
  ].join('\n');
  return createHmac('sha256', secret).update(text, 'utf8').digest('hex');
}

describe('signed request vectors (docs/server.md)', () => {
  const rows = docRows();

  it('publishes two vectors', () => {
    expect(rows).toHaveLength(2);
  });

  it.each(rows)('key %s', (keyId, secretHex, method, path, ts, nonce, bodyText, signature) => {
    const secret = fromHex(secretHex);
    const body = new TextEncoder().encode(bodyText === '(none)' ? '' : bodyText);
    const headers = signatureHeaders(keyId, secret, method, `http://host.example${path}`, body, {
      timestamp: Number(ts),
      nonce: nonce,
    });
    expect(headers).toEqual({
      [SIGNATURE_HEADERS.key]: keyId,
      [SIGNATURE_HEADERS.timestamp]: ts,
      [SIGNATURE_HEADERS.nonce]: nonce,
      [SIGNATURE_HEADERS.signature]: signature,
    });
    expect(nodeSignature(secret, method, path, ts, nonce, body)).toBe(signature);
  });
});

describe('signatureHeaders', () => {
  it('signs the path and query, not the host, with the method in upper case', () => {
    const secret = new Uint8Array(16).fill(9);
    const fixed = { timestamp: 1, nonce: 'abcdefghijklmnop' };
    const a = signatureHeaders('k', secret, 'get', 'http://a.example/x?y=1', undefined, fixed);
    const b = signatureHeaders(
      'k',
      secret,
      'GET',
      'https://b.example:8443/x?y=1',
      undefined,
      fixed,
    );
    expect(a).toEqual(b);
    const c = signatureHeaders('k', secret, 'GET', 'http://a.example/x?y=2', undefined, fixed);
    expect(c[SIGNATURE_HEADERS.signature]).not.toBe(a[SIGNATURE_HEADERS.signature]);
    expect(canonicalRequest('get', '/x', '1', 'n', new Uint8Array()).split('\n')[1]).toBe('GET');
  });

  it('makes a fresh nonce in the nonce alphabet for every request', () => {
    const nonces = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const n = signatureHeaders('k', new Uint8Array(16), 'GET', 'http://a/')[
        SIGNATURE_HEADERS.nonce
      ]!;
      expect(n).toMatch(/^[A-Za-z0-9_-]{24}$/);
      nonces.add(n);
    }
    expect(nonces.size).toBe(200);
  });
});
