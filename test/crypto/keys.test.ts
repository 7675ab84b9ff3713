// The key hierarchy: the published vectors in docs/key-hierarchy.md, an independent HKDF
// (Node's hkdfSync) for every derivation, Wycheproof for the HKDF underneath, and independence.
import { hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/bytes.js';
import { deriveCardKeys, ZONES, type SuiteName, type Zone } from '../../src/crypto/index.js';
import {
  cardIdentity,
  deriveCardKey,
  deriveContentKey,
  deriveMetadataKey,
  deriveZoneKey,
  keyIdentifier,
  ZONE_IDS,
} from '../../src/crypto/keys.js';
import { SimvaultError } from '../../src/errors.js';

const BINDING = fromHex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
const CID = fromHex('03534453443038478012345678014b7d');

function independent(
  parent: Uint8Array,
  label: string,
  context: Uint8Array,
  length: number,
): string {
  const info = Buffer.concat([Buffer.from(`simvault/v1 ${label}`), Buffer.from([0]), context]);
  return Buffer.from(
    hkdfSync('sha256', parent, Buffer.from('simvault/v1 key hierarchy'), info, length),
  ).toString('hex');
}

function docVectors(): Map<string, string> {
  const doc = readFileSync(new URL('../../docs/key-hierarchy.md', import.meta.url), 'utf8');
  const rows = new Map<string, string>();
  for (const m of doc.matchAll(/^\| ([^|]+?) \| ([0-9a-f]{32,64}) \|$/gm)) rows.set(m[1]!, m[2]!);
  return rows;
}

describe('key hierarchy vectors (docs/key-hierarchy.md)', () => {
  const rows = docVectors();
  const card = deriveCardKey(BINDING, CID);

  it('publishes every derivation', () => {
    expect(rows.size).toBe(2 + ZONES.length * 6);
  });

  it('card key and identifier match the doc and an independent HKDF', () => {
    expect(toHex(card)).toBe(rows.get('card key'));
    expect(toHex(card)).toBe(independent(BINDING, 'card', CID.subarray(0, 15), 32));
    expect(toHex(keyIdentifier(card))).toBe(rows.get('card key identifier'));
    expect(rows.get('card key identifier')).toBe(
      independent(card, 'key-identifier', new Uint8Array(), 16),
    );
  });

  for (const zone of ZONES) {
    it(`${zone} zone keys match the doc and an independent HKDF`, () => {
      const zk = deriveZoneKey(card, zone);
      expect(toHex(zk)).toBe(rows.get(`${zone} zone key`));
      expect(toHex(zk)).toBe(independent(card, 'zone', new Uint8Array([ZONE_IDS[zone]]), 32));
      expect(toHex(keyIdentifier(zk))).toBe(rows.get(`${zone} key identifier`));
      expect(toHex(deriveMetadataKey(zk))).toBe(rows.get(`${zone} metadata key`));
      expect(toHex(deriveMetadataKey(zk))).toBe(independent(zk, 'metadata', new Uint8Array(), 32));
      const suites: Array<[SuiteName, string, number]> = [
        ['cobblestone-256', 'AEAD_AES_256_GCM', 32],
        ['cobblestone-chacha20poly1305', 'AEAD_CHACHA20_POLY1305', 32],
        ['cobblestone-128', 'AEAD_AES_128_GCM', 16],
      ];
      for (const [suite, aead, len] of suites) {
        const ck = toHex(deriveContentKey(zk, suite));
        expect(ck).toBe(rows.get(`${zone} content key (${suite})`));
        expect(ck).toBe(independent(zk, 'content', Buffer.from(aead), len));
      }
    });
  }
});

describe('independence and binding', () => {
  it('all keys of a card, and of two cards, are distinct', () => {
    const other = CID.slice();
    other[12]! ^= 1; // another serial number
    const seen = new Set<string>();
    for (const cid of [CID, other]) {
      const keys = deriveCardKeys(BINDING, cid);
      seen.add(toHex(keys.cardKeyIdentifier));
      for (const z of ZONES) {
        const k = keys.zones[z];
        for (const v of [k.zoneKey, k.contentKey, k.metadataKey, k.keyIdentifier])
          seen.add(toHex(v));
      }
    }
    expect(seen.size).toBe(2 * (1 + ZONES.length * 4));
  });

  it('another SIM gives other identifiers; the CRC byte does not matter', () => {
    const a = deriveCardKeys(BINDING, CID);
    const b = deriveCardKeys(new Uint8Array(32).fill(7), CID);
    expect(toHex(a.zones.user.keyIdentifier)).not.toBe(toHex(b.zones.user.keyIdentifier));
    const stripped = CID.slice();
    stripped[15] = 0;
    expect(toHex(deriveCardKey(BINDING, stripped))).toBe(toHex(deriveCardKey(BINDING, CID)));
    expect(toHex(deriveCardKey(BINDING, cardIdentity(CID)))).toBe(
      toHex(deriveCardKey(BINDING, CID)),
    );
  });

  it('bad inputs are typed errors', () => {
    expect(() => deriveCardKey(new Uint8Array(31), CID)).toThrow(SimvaultError);
    expect(() => deriveCardKey(BINDING, new Uint8Array(14))).toThrow(SimvaultError);
    expect(() => deriveZoneKey(new Uint8Array(32), 'sd' as Zone)).toThrow(SimvaultError);
  });
});

describe('HKDF-SHA-256 under the hierarchy: Wycheproof', () => {
  interface Wycheproof {
    testGroups: Array<{
      tests: Array<{
        tcId: number;
        ikm: string;
        salt: string;
        info: string;
        size: number;
        okm: string;
        result: string;
      }>;
    }>;
  }
  const json = JSON.parse(
    readFileSync(new URL('../vectors/hkdf_sha256_test.json', import.meta.url), 'utf8'),
  ) as Wycheproof;
  it('every vector', () => {
    let n = 0;
    for (const g of json.testGroups) {
      for (const t of g.tests) {
        const run = () =>
          toHex(hkdf(sha256, fromHex(t.ikm), fromHex(t.salt), fromHex(t.info), t.size));
        if (t.result === 'valid') expect(run(), `tcId ${t.tcId}`).toBe(t.okm);
        else expect(run, `tcId ${t.tcId}`).toThrow();
        n++;
      }
    }
    expect(n).toBeGreaterThan(50);
  });
});
