// The test vectors of docs/card-format.md: every row checked against the library and against an
// independent computation from node:crypto (HKDF, HMAC, SHA-256, AES-GCM), so a reader written
// from the doc alone can trust them.
import { createCipheriv, createHash, createHmac, hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/bytes.js';
import { deriveCardKeys, ZONES, type Zone } from '../../src/crypto/index.js';
import { ZONE_IDS } from '../../src/crypto/keys.js';
import { getSuite, suiteById } from '../../src/crypto/suites.js';
import { decodeHeader, encodeHeader, zoneBinding, type CardHeader } from '../../src/card/header.js';
import { cardHeaderKey, zoneInstanceKeyBytes } from '../../src/card/zone-keys.js';
import { chipContentKey } from '../../src/card/file-keys.js';
import { FileTable } from '../../src/card/file-table.js';
import { Kind, ZoneBlocks } from '../../src/card/sealed-blocks.js';
import { MemoryDevice } from '../../src/card/index.js';
import { getBackend } from '../../src/crypto/backend.js';
import { crc32 } from './helpers.js';

const doc = readFileSync(new URL('../../docs/card-format.md', import.meta.url), 'utf8');
const rows = new Map<string, string>();
for (const m of doc.matchAll(/^\| ([^|]+?) \| ([0-9a-f]{16,}) \|$/gm)) rows.set(m[1]!, m[2]!);
const row = (name: string): string => {
  const v = rows.get(name);
  expect(v, `docs/card-format.md has no vector '${name}'`).toBeDefined();
  return v!;
};

const keys = deriveCardKeys(
  fromHex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'),
  fromHex('03534453443038478012345678014b7d'),
);
const seq = (start: number, n: number) =>
  Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);
const EXAMPLE: CardHeader = {
  version: 2,
  generation: 1,
  suiteId: 1,
  cardIdentity: keys.cardIdentity,
  cardKeyIdentifier: keys.cardKeyIdentifier,
  zones: ZONES.map((zone, i) => ({
    zone,
    flags: [0, 0, 1, 0][i]!,
    suiteId: [1, 1, 2, 3][i]!,
    startBlock: [2, 18, 34, 66][i]!,
    blockCount: [16, 16, 32, 64][i]!,
    salt: seq(i * 0x20, 32),
    keyIdentifier: keys.zones[zone].keyIdentifier,
  })),
};
const entry = (zone: Zone) => EXAMPLE.zones.find((z) => z.zone === zone)!;
const hkdf = (ikm: Uint8Array, salt: Uint8Array | string, info: Uint8Array | string, n: number) =>
  Buffer.from(hkdfSync('sha256', ikm, salt, info, n));
const label = (text: string) => Buffer.concat([Buffer.from(text), Buffer.from([0])]);

// Independently: the hierarchy's content key for a suite, then the card's instance derivation.
function independentInstance(zone: Zone) {
  const e = entry(zone);
  const suite = suiteById(e.suiteId);
  const zk = keys.zones[zone];
  const content = hkdf(
    zk.zoneKey,
    'simvault/v1 key hierarchy',
    Buffer.concat([label('simvault/v1 content'), Buffer.from(suite.aead)]),
    suite.keyLength,
  );
  const inst = (key: Uint8Array, what: string, n: number) =>
    hkdf(key, e.salt, label(`simvault/v2 card-zone ${what}`), n);
  return {
    contentKey: inst(content, `content ${suite.aead}`, suite.keyLength),
    metadataKey: inst(zk.metadataKey, `metadata ${suite.aead}`, suite.keyLength),
    nameKey: inst(zk.metadataKey, 'names', 32),
  };
}

function independentBinding(zone: Zone): Buffer {
  const e = entry(zone);
  const fixed = Buffer.alloc(14);
  fixed.writeUInt16BE(2, 0);
  fixed[2] = 12;
  fixed[3] = ZONE_IDS[zone];
  fixed[4] = e.flags & 0x7f;
  fixed[5] = e.suiteId;
  fixed.writeUInt32BE(e.startBlock, 6);
  fixed.writeUInt32BE(e.blockCount, 10);
  return createHash('sha256')
    .update(Buffer.from('simvault/v2 zone binding'))
    .update(keys.cardIdentity)
    .update(keys.cardKeyIdentifier)
    .update(fixed)
    .update(e.salt)
    .update(e.keyIdentifier)
    .digest();
}

describe('card format vectors (docs/card-format.md)', () => {
  it('header key and header bytes, MAC and CRC', () => {
    const key = cardHeaderKey(keys);
    expect(toHex(key)).toBe(row('header key'));
    expect(
      hkdf(
        Buffer.concat(ZONES.map((z) => keys.zones[z].zoneKey)),
        'simvault/v2 card header',
        keys.cardIdentity,
        32,
      ).toString('hex'),
    ).toBe(row('header key'));
    const bytes = fromHex(row('header bytes 0..355'));
    expect(toHex(encodeHeader(EXAMPLE, key).subarray(0, 356))).toBe(row('header bytes 0..355'));
    expect(createHmac('sha256', key).update(bytes.subarray(0, 320)).digest().toString('hex')).toBe(
      toHex(bytes.subarray(320, 352)),
    );
    expect(Buffer.from(bytes).readUInt32BE(352)).toBe(crc32(bytes.subarray(0, 352)));
    const block = new Uint8Array(4096);
    block.set(bytes);
    const copy = decodeHeader(block);
    expect(copy.kind).toBe('valid');
    if (copy.kind === 'valid') expect(copy.header).toEqual(EXAMPLE);
  });

  it('zone bindings, instance keys, name hashes', async () => {
    for (const zone of ZONES) {
      expect(toHex(zoneBinding(EXAMPLE, entry(zone)))).toBe(row(`${zone} zone binding`));
      expect(independentBinding(zone).toString('hex')).toBe(row(`${zone} zone binding`));
      const lib = zoneInstanceKeyBytes(
        2,
        keys.zones[zone],
        entry(zone).salt,
        suiteById(entry(zone).suiteId),
      );
      const ind = independentInstance(zone);
      for (const [k, name] of [
        ['contentKey', 'content input key'],
        ['metadataKey', 'metadata AEAD key'],
        ['nameKey', 'name key'],
      ] as const) {
        expect(toHex(lib[k])).toBe(row(`${zone} ${name}`));
        expect(ind[k].toString('hex')).toBe(row(`${zone} ${name}`));
      }
    }
    const nameKey = independentInstance('user').nameKey;
    const { metadataKey } = independentInstance('user');
    const aead = await getBackend('auto', 'AEAD_AES_128_GCM').importKey(
      'AEAD_AES_128_GCM',
      metadataKey,
    );
    const blocks = new ZoneBlocks(new MemoryDevice(4096), 0, 1, aead, new Uint8Array(32), 4);
    const table = new FileTable(blocks, nameKey, null, 3);
    for (const [kind, what] of [
      [0, 'file'],
      [1, 'interrupted put'],
    ] as const) {
      const name = `user name hash, ${what} "tv.apk"`;
      expect(toHex(table.hash('tv.apk', kind === 1))).toBe(row(name));
      expect(
        createHmac('sha256', nameKey)
          .update(Buffer.from([kind]))
          .update('tv.apk')
          .digest('hex'),
      ).toBe(row(name));
    }
  });

  it('sealed-block associated data and a sealed block', async () => {
    const binding = independentBinding('user');
    const ad = Buffer.concat([binding, Buffer.from([4, 0, 0, 0, 5, 2])]);
    expect(ad.toString('hex')).toBe(row('user sealed-block associated data, block 5, kind 02'));
    const { metadataKey } = independentInstance('user');
    const nonce = seq(0xa0, 12);
    const body = Buffer.alloc(4068);
    body.write('simvault sealed block');
    const cipher = createCipheriv('aes-128-gcm', metadataKey, nonce).setAAD(ad);
    const block = Buffer.concat([nonce, cipher.update(body), cipher.final(), cipher.getAuthTag()]);
    expect(block.subarray(4080).toString('hex')).toBe(
      row('user sealed block (nonce a0a1…ab, body "simvault sealed block" then zeros): tag'),
    );
    expect(createHash('sha256').update(block).digest('hex')).toBe(
      row('user sealed block: SHA-256 of the 4096 bytes'),
    );
    // The library opens it at block 5 of the user zone as a file table node.
    const device = new MemoryDevice(72 * 4096);
    const aead = await getBackend('auto', 'AEAD_AES_128_GCM').importKey(
      'AEAD_AES_128_GCM',
      metadataKey,
    );
    const zone = new ZoneBlocks(device, 66, 6, aead, zoneBinding(EXAMPLE, entry('user')), 4);
    await device.write((66 + 5) * 4096, block);
    expect(Buffer.from(await zone.readSealed(5, Kind.TrieNode)).equals(body)).toBe(true);
  });

  it('file context and chip content key', () => {
    const context = Buffer.concat([
      label('simvault/v2 card-file'),
      keys.cardIdentity,
      Buffer.from([3]),
      seq(0xc0, 16),
    ]);
    expect(context.toString('hex')).toBe(row('multimedia file context, file id c0c1…cf'));
    const suite = getSuite('cobblestone-chacha20poly1305');
    const name = 'multimedia chip content key, file key e0e1…ff';
    expect(toHex(chipContentKey(2, seq(0xe0, 32), entry('multimedia').salt, suite))).toBe(
      row(name),
    );
    expect(
      hkdf(
        seq(0xe0, 32),
        entry('multimedia').salt,
        label(`simvault/v2 card-zone chip-content ${suite.aead}`),
        32,
      ).toString('hex'),
    ).toBe(row(name));
  });
});
