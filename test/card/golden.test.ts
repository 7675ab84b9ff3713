// The golden images, each written once by the format version it is named for (version 1 by the
// version-1 code; version 2 by test/fixtures/make-golden-card.ts). Every later version must open
// them and read every file back: version 1 read-only, version 2 read-write.
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { fsck, MemoryDevice, mountCard, readCardInfo } from '../../src/card/index.js';
import { deriveCardKeys } from '../../src/crypto/index.js';
import { GOLDEN, GOLDEN_V2, goldenChip } from '../fixtures/golden-card.js';
import { decodeHeader } from '../../src/card/header.js';
import { zoneInstanceKeyBytes } from '../../src/card/zone-keys.js';
import { getSuite } from '../../src/crypto/suites.js';
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

const imageV2 = () =>
  MemoryDevice.from(
    gunzipSync(readFileSync(new URL('../fixtures/card-v2.img.gz', import.meta.url))),
  );
const G = GOLDEN_V2;
const keysV2 = deriveCardKeys(G.bindingKey, G.cid);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('golden card image, format version 2', () => {
  it('says what it holds: a suite per zone, a secure-chip zone, an erased zone', async () => {
    const info = await readCardInfo(imageV2());
    expect(info.version).toBe(2);
    expect(info.writable).toBe(true);
    expect(info.generation).toBe(3); // format, then the erase's two header writes
    expect(Object.fromEntries(info.zones.map((z) => [z.zone, z.suite]))).toEqual(G.zoneSuites);
    expect(info.zones.filter((z) => z.secureChip).map((z) => z.zone)).toEqual(['multimedia']);
    expect(info.zones.find((z) => z.zone === 'user')!.capacity).toBe(33_000 * 4096);
  });

  it('every file reads back bit-exact; each feature is there; fsck is clean', async () => {
    const dev = imageV2();
    const card = await mountCard(dev, { cid: G.cid, keys: keysV2, chip: goldenChip() });
    // The erased zone: empty, its generation carried on past the erase.
    expect(await card.zone('operator').list()).toEqual([]);
    expect(card.zone('operator').generation).toBeGreaterThan(2);
    // The secure-chip zone: its file needs the chip.
    const c = G.chipFile;
    expect(sha(await card.zone('multimedia').readFile(c.name))).toBe(
      sha(G.content(c.seed, c.size)),
    );
    // The interrupted upload.
    const [pending] = await card.zone('advertising').pending();
    expect(pending).toMatchObject({
      name: G.pending.name,
      size: G.pending.size,
      sourceTag: G.pending.tag,
    });
    expect(pending!.durableBytes).toBeGreaterThan(0);
    // The user zone: the fragmented file and its extent list, small files, the deep names.
    const user = card.zone('user');
    const f = G.fragmented;
    expect(sha(await user.readFile(f.name))).toBe(sha(G.content(f.seed, f.size)));
    const view = user.checkView();
    const records = await view.records();
    const fragmented = records.find((r) => r.name === f.name)!;
    expect(fragmented.extentList!.count).toBeGreaterThan(32);
    expect((await view.extentsOf(fragmented)).listBlocks).toHaveLength(1);
    for (let i = 0; i < G.smallFiles; i++) {
      const name = `small/${String(i).padStart(4, '0')}`;
      expect(sha(await user.readFile(name))).toBe(sha(G.content(100 + i, 100)));
    }
    // Names whose keyed hashes share their first 12 bits, more than a leaf holds: internal nodes
    // at depths 0, 1 and 2.
    const deep = records.filter((r) => r.name.startsWith('deep/'));
    expect(deep).toHaveLength(G.deepNames);
    expect(deep.reduce((n, r) => n + Buffer.byteLength(r.name) + 90, 0)).toBeGreaterThan(4068);
    const header = decodeHeader(await dev.read(0, 4096));
    if (header.kind !== 'valid') throw new Error('the golden header does not decode');
    const salt = header.header.zones.find((z) => z.zone === 'user')!.salt;
    const { nameKey } = zoneInstanceKeyBytes(
      2,
      keysV2.zones.user,
      salt,
      getSuite('cobblestone-256'),
    );
    for (const r of deep) {
      const h = createHmac('sha256', nameKey)
        .update(Buffer.from([0]))
        .update(r.name)
        .digest();
      expect([h[0], h[1]! >> 4]).toEqual([0, 0]);
      expect((await user.stat(r.name)).size).toBe(10);
    }
    expect(view.map().metadataBlocks().length).toBe(3); // one index block, two pages
    const report = await fsck(dev, {
      cid: G.cid,
      keys: keysV2,
      chip: goldenChip(),
      readOnly: true,
    });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it('accepts changes: the interrupted upload resumes, new files are written', async () => {
    const dev = imageV2();
    const card = await mountCard(dev, { cid: G.cid, keys: keysV2, chip: goldenChip() });
    const p = G.pending;
    const data = G.content(p.seed, p.size);
    const put = await card
      .zone('advertising')
      .put(p.name, { size: p.size, sourceTag: p.tag, resume: true });
    expect(put.offset).toBeGreaterThan(0);
    const w = put.writable.getWriter();
    await w.write(data.subarray(put.offset));
    await w.close();
    expect(sha(await card.zone('advertising').readFile(p.name))).toBe(sha(data));
    await card.zone('multimedia').writeFile('new.flac', new Uint8Array([1, 2, 3]));
    await card.zone('operator').writeFile('new', new Uint8Array([4]));
    await card.unmount({ keepDeviceOpen: true });
    expect((await fsck(dev, { cid: G.cid, keys: keysV2, chip: goldenChip() })).ok).toBe(true);
  });
});
