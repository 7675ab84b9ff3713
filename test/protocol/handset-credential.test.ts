// The handset credential: the vectors published in docs/server.md, checked against the code and
// against an independent HKDF (node:crypto), the key id's grammar, and argument validation.
import { hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/bytes.js';
import {
  deriveHandsetCredential,
  handsetKeyId,
  parseHandsetKeyId,
} from '../../src/protocol/handset-credential.js';

function nodeCredential(iccid: string, version: number, kic: Uint8Array, kid: Uint8Array): string {
  const info = Buffer.concat([Buffer.from(iccid, 'ascii'), Buffer.from([version])]);
  const ikm = Buffer.concat([kic, kid]);
  const salt = Buffer.from('simvault handset credential v1');
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, 32)).toString('hex');
}

function docRows(): string[][] {
  const doc = readFileSync(new URL('../../docs/server.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('## Handset credential'));
  return [
    ...section.matchAll(
      /^\| `(\d+)` \| (\d+) \| `([0-9a-f]+)` \| `([0-9a-f]+)` \| `([0-9a-f]{64})` \|$/gm,
    ),
  ].map((m) => m.slice(1));
}

describe('handset credential vectors (docs/server.md)', () => {
  const rows = docRows();

  it('publishes three vectors', () => {
    expect(rows).toHaveLength(3);
  });

  it.each(rows)('ICCID %s, key version %s', (iccid, version, kic, kid, credential) => {
    const v = Number(version);
    expect(toHex(deriveHandsetCredential(iccid, v, fromHex(kic), fromHex(kid)))).toBe(credential);
    expect(nodeCredential(iccid, v, fromHex(kic), fromHex(kid))).toBe(credential);
  });
});

describe('handset credential', () => {
  it('agrees with an independent HKDF on any input', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^\d{10,20}$/),
        fc.integer({ min: 1, max: 15 }),
        fc.uint8Array({ minLength: 1, maxLength: 32 }),
        fc.uint8Array({ minLength: 1, maxLength: 32 }),
        (iccid, v, kic, kid) =>
          toHex(deriveHandsetCredential(iccid, v, kic, kid)) === nodeCredential(iccid, v, kic, kid),
      ),
      { seed: 20261205, numRuns: 200 },
    );
  });

  it('differs per SIM, per key version and per key', () => {
    const kic = new Uint8Array(16).fill(1);
    const kid = new Uint8Array(16).fill(2);
    const base = toHex(deriveHandsetCredential('89860012345678901234', 1, kic, kid));
    expect(toHex(deriveHandsetCredential('89860012345678901235', 1, kic, kid))).not.toBe(base);
    expect(toHex(deriveHandsetCredential('89860012345678901234', 2, kic, kid))).not.toBe(base);
    expect(toHex(deriveHandsetCredential('89860012345678901234', 1, kid, kic))).not.toBe(base);
  });

  it('writes and reads key ids, and reads nothing else', () => {
    expect(handsetKeyId('89860012345678901234', 15)).toBe('handset.89860012345678901234.15');
    expect(parseHandsetKeyId('handset.89860012345678901234.15')).toEqual({
      iccid: '89860012345678901234',
      keyVersion: 15,
    });
    for (const bad of [
      'ota',
      'handset.89860012345678901234.0',
      'handset.89860012345678901234.16',
      'handset.89860012345678901234.01',
      'handset.123.1',
      'handset.89860012345678901234.1.x',
      'Handset.89860012345678901234.1',
    ])
      expect(parseHandsetKeyId(bad)).toBeUndefined();
  });

  it('refuses bad arguments with INVALID_ARGUMENT', () => {
    const k = new Uint8Array(16);
    const bad = [
      () => deriveHandsetCredential('12ab', 1, k, k),
      () => deriveHandsetCredential('89860012345678901234', 0, k, k),
      () => deriveHandsetCredential('89860012345678901234', 16, k, k),
      () => deriveHandsetCredential('89860012345678901234', 1.5, k, k),
      () => deriveHandsetCredential('89860012345678901234', 1, new Uint8Array(), k),
      () => deriveHandsetCredential('89860012345678901234', 1, k, 'key' as unknown as Uint8Array),
      () => handsetKeyId('89860012345678901234', 0),
    ];
    for (const f of bad) expect(f).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
