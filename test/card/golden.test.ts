// The golden image: a card written by on-card format version 1 (test/fixtures/card-v1.img.gz,
// made once by test/fixtures/make-golden-card.ts). Every later version must open it and read
// every file back.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { fsck, MemoryDevice, mountCard, readCardInfo } from '../../src/card/index.js';
import { deriveCardKeys } from '../../src/crypto/index.js';
import { GOLDEN } from '../fixtures/golden-card.js';
import { errorCodeOf } from '../helpers/errors.js';

const EXPECTED: Record<string, string> = {
  'operator/promo.apk': '5153cd786316e5911e361aeb1a6ae34837c3897683de83a108316a380102badf',
  '广告.png': 'c31dd20a8edc69f5aab2fcaa820978c0e43c5c960448e4f28294df82f0a7b8e0',
  'music/track01.mp3': 'c42d4aeb8a6b8e75228929e13e67ea279a25d830c037caf41dfd95f7c4230eee',
  'banking-client.apk': '68f327984256116686d82f528e787f1b7112a872d314d03f04c37c188b61d69a',
  empty: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
};

const image = () =>
  MemoryDevice.from(
    gunzipSync(readFileSync(new URL('../fixtures/card-v1.img.gz', import.meta.url))),
  );
const keys = deriveCardKeys(GOLDEN.bindingKey, GOLDEN.cid);

describe('golden card image, format version 1', () => {
  it('opens, lists and reads every file bit-exact', async () => {
    const dev = image();
    const info = await readCardInfo(dev);
    expect(info.version).toBe(1);
    expect(info.suite).toBe('cobblestone-256');
    expect(info.zones.map((z) => [z.zone, z.capacity])).toEqual(Object.entries(GOLDEN.zones));
    const card = await mountCard(dev, { cid: GOLDEN.cid, keys });
    for (const f of GOLDEN.files) {
      const zone = card.zone(f.zone);
      const stat = await zone.stat(f.name);
      expect(stat.size).toBe(f.size);
      expect(stat.mtime).toBe(1_700_000_000_000);
      expect(
        createHash('sha256')
          .update(await zone.readFile(f.name))
          .digest('hex'),
      ).toBe(EXPECTED[f.name]);
    }
    expect((await card.zone('user').list()).map((f) => f.name)).toEqual([
      'banking-client.apk',
      'empty',
    ]);
  });

  it('passes fsck, and is read-only with a clear message: nothing is written', async () => {
    const dev = image();
    const before = dev.snapshot();
    expect((await fsck(dev, { cid: GOLDEN.cid, keys })).problems).toEqual([]);
    expect((await readCardInfo(dev)).writable).toBe(false);
    const card = await mountCard(dev, { cid: GOLDEN.cid, keys });
    expect(card.readOnly).toContain('format version 1 is read-only');
    for (const attempt of [
      () => card.zone('user').writeFile('new', new Uint8Array([1, 2, 3])),
      () => card.zone('user').delete('empty'),
      () => card.zone('user').rename('empty', 'full'),
      () => card.erase(['user']),
    ])
      expect(await errorCodeOf(attempt())).toBe('CARD_READ_ONLY');
    expect((await fsck(dev, { cid: GOLDEN.cid, keys, repair: true })).ok).toBe(true);
    expect(Buffer.from(dev.snapshot()).equals(Buffer.from(before))).toBe(true);
  });
});
