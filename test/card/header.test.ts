// The version-2 header: every bit is authenticated. An edit by someone without the keys — a flag,
// the zone count, the block size, a suite, a reserved byte, anything — with its CRC made right is
// CARD_TAMPERED (or a more precise code), nothing is written, and the files read back once the
// original bytes are back. Unknown values are refused even without keys.
import { describe, expect, it } from 'vitest';
import { fsck, MemoryDevice, readCardInfo, type Card } from '../../src/card/index.js';
import { V2_MAC_OFFSET } from '../../src/card/header.js';
import { errorCodeOf } from '../helpers/errors.js';
import { bytes, CID, crc32, formatted, KEYS, mount } from './helpers.js';

const BLOCK = 4096;
const CRC_OFFSET = V2_MAC_OFFSET + 32;

/** Flip one bit of the header in both copies and make their CRCs right again: no key needed. */
function edit(image: Uint8Array, offset: number, bit: number): Uint8Array {
  const out = image.slice();
  for (const copy of [0, BLOCK]) {
    out[copy + offset]! ^= 1 << bit;
    if (offset < CRC_OFFSET)
      new DataView(out.buffer).setUint32(
        copy + CRC_OFFSET,
        crc32(out.subarray(copy, copy + CRC_OFFSET)),
      );
  }
  return out;
}

async function cardWithFiles(): Promise<{ image: Uint8Array; files: Map<string, Uint8Array> }> {
  const dev = await formatted(512 << 10, {
    operator: 64 << 10,
    advertising: 64 << 10,
    multimedia: 64 << 10,
    user: 256 << 10,
  });
  const card = await mount(dev);
  const files = new Map([
    ['user/a', bytes(30_000, 1)],
    ['operator/b', bytes(500, 2)],
  ]);
  for (const [path, data] of files) {
    const [zone, name] = path.split('/') as ['user' | 'operator', string];
    await card.zone(zone).writeFile(name, data);
  }
  await card.unmount({ keepDeviceOpen: true });
  return { image: dev.snapshot(), files };
}

async function readsBack(card: Card, files: Map<string, Uint8Array>): Promise<void> {
  for (const [path, data] of files) {
    const [zone, name] = path.split('/') as ['user' | 'operator', string];
    expect(Buffer.from(await card.zone(zone).readFile(name)).equals(Buffer.from(data))).toBe(true);
  }
}

describe('card header, format version 2', () => {
  it('the erase flag set without keys (the reported attack) is CARD_TAMPERED; nothing is written; files read back after restoring', async () => {
    const { image, files } = await cardWithFiles();
    // Flags byte of the user zone (entry 3): bit 7 = erase in progress.
    const bad = edit(image, 64 + 3 * 64 + 1, 7);
    const dev = MemoryDevice.from(bad);
    expect(await errorCodeOf(mount(dev))).toBe('CARD_TAMPERED');
    expect(await errorCodeOf(fsck(dev, { cid: CID, keys: KEYS, repair: true }))).toBe(
      'CARD_TAMPERED',
    );
    expect(Buffer.from(dev.snapshot()).equals(Buffer.from(bad))).toBe(true);
    await dev.write(0, image.subarray(0, 2 * BLOCK));
    const card = await mount(dev);
    await readsBack(card, files);
  });

  it('every one-bit edit of either copy, CRC fixed, is refused with a typed error and writes nothing', async () => {
    const { image, files } = await cardWithFiles();
    const codes = new Map<string, number>();
    for (let offset = 0; offset < CRC_OFFSET; offset++) {
      // Every bit of the flag bytes; the lowest and highest of every other byte.
      const flags = offset >= 64 && offset < V2_MAC_OFFSET && (offset - 64) % 64 === 1;
      for (const bit of flags ? [0, 1, 2, 3, 4, 5, 6, 7] : [0, 7]) {
        const bad = edit(image, offset, bit);
        const dev = MemoryDevice.from(bad);
        const code = await errorCodeOf(mount(dev));
        // The magic and the version say what the device is; the identity and key identifiers are
        // checked against the SIM's before the MAC; everything else fails the MAC or the values.
        const expected =
          offset < 8
            ? ['CARD_NOT_FORMATTED']
            : offset < 10
              ? ['CARD_UNSUPPORTED_VERSION', 'CARD_CORRUPT', 'CARD_TAMPERED']
              : offset >= 18 && offset < 33
                ? ['CARD_CID_MISMATCH']
                : offset >= 33 && offset < 49
                  ? ['CARD_WRONG_SIM']
                  : (offset - 64) % 64 >= 44 &&
                      (offset - 64) % 64 < 60 &&
                      offset >= 64 &&
                      offset < V2_MAC_OFFSET
                    ? ['CARD_WRONG_SIM']
                    : ['CARD_TAMPERED'];
        expect(expected, `offset ${offset} bit ${bit}`).toContain(code);
        codes.set(code!, (codes.get(code!) ?? 0) + 1);
        expect(Buffer.from(dev.snapshot()).equals(Buffer.from(bad))).toBe(true);
      }
    }
    expect(codes.get('CARD_TAMPERED')).toBeGreaterThan(500);
    // An edit of one copy only is tampering too: the mount does not "heal" it away.
    const one = image.slice();
    one.set(edit(image, 64 + 1, 0).subarray(0, BLOCK), 0);
    expect(await errorCodeOf(mount(MemoryDevice.from(one)))).toBe('CARD_TAMPERED');
    const card = await mount(MemoryDevice.from(image));
    await readsBack(card, files);
  });

  it('values this version does not know are refused even without keys', async () => {
    const { image } = await cardWithFiles();
    const cases: Array<[string, number, number]> = [
      ['zone count', 16, 0],
      ['block size log2', 15, 0],
      ['default suite', 14, 3],
      ['a reserved header byte', 17, 0],
      ['a reserved header byte', 50, 4],
      ['a zone flag bit', 64 + 1, 3],
      ['a zone suite', 64 + 2, 4],
      ['a reserved zone byte', 64 + 3, 0],
      ['a reserved zone byte', 64 + 61, 1],
      ['zone geometry', 64 + 8, 1],
      ['a byte after the CRC', CRC_OFFSET + 4, 0],
    ];
    for (const [what, offset, bit] of cases) {
      const bad = edit(image, offset, bit);
      expect(await errorCodeOf(readCardInfo(MemoryDevice.from(bad))), what).toBe('CARD_TAMPERED');
    }
  });

  it('both copies damaged is CARD_CORRUPT; one damaged copy is healed from the other', async () => {
    const { image, files } = await cardWithFiles();
    const torn = image.slice();
    torn[BLOCK + 100]! ^= 1; // CRC no longer holds: damage, not tampering
    const dev = MemoryDevice.from(torn);
    const card = await mount(dev);
    await readsBack(card, files);
    expect(Buffer.from(dev.snapshot().subarray(BLOCK, 2 * BLOCK))).toEqual(
      Buffer.from(image.subarray(0, BLOCK)),
    );
    const both = torn.slice();
    both[100]! ^= 1;
    expect(await errorCodeOf(mount(MemoryDevice.from(both)))).toBe('CARD_CORRUPT');
  });
});
