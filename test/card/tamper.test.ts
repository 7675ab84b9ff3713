// Flipping, zeroing or swapping any sector of a card image: never a wrong byte of plaintext, a
// typed error wherever damaged data is touched, undamaged files still readable, and fsck reports
// damage in any block in use.
import { describe, expect, it } from 'vitest';
import { fsck, MemoryDevice, type Card } from '../../src/card/index.js';
import { SimvaultError } from '../../src/errors.js';
import type { Zone } from '../../src/crypto/index.js';
import { bytes, CID, formatted, KEYS, mount } from './helpers.js';

const SECTOR = 512;
const BLOCK = 4096;

interface Original {
  zone: Zone;
  name: string;
  data: Uint8Array;
}

async function build(): Promise<{
  image: Uint8Array;
  files: Original[];
  anchors: Record<string, number>;
  usedBlocks: Set<number>;
  obsolete: Set<number>;
  padding: Set<number>;
}> {
  const dev = await formatted(
    2 << 20,
    { operator: 64 << 10, advertising: 64 << 10, multimedia: 256 << 10, user: 1 << 20 },
    'zero',
  );
  const card = await mount(dev);
  const files: Original[] = [
    { zone: 'user', name: 'big', data: bytes(60_000, 1) },
    { zone: 'user', name: 'small', data: bytes(300, 2) },
    { zone: 'user', name: 'mid', data: bytes(20_000, 3) },
    { zone: 'multimedia', name: 'song', data: bytes(9_000, 4) },
    { zone: 'operator', name: 'client', data: bytes(1_000, 5) },
  ];
  for (const f of files) await card.zone(f.zone).writeFile(f.name, f.data);
  // Blocks in use, on the device: both header copies and every used block of every zone.
  const usedBlocks = new Set<number>([0, 1]);
  // The superblock slot holding the previous generation is obsolete: nothing reads it.
  const obsolete = new Set<number>();
  const info = card.info();
  let start = 2;
  // Sectors of a file's last block past its ciphertext hold random padding nothing reads.
  const padding = new Set<number>();
  for (const z of info.zones) {
    const zone = card.zone(z.zone);
    const view = zone.checkView();
    for (const b of await view.map().usedBlocks()) usedBlocks.add(start + b);
    obsolete.add(start + ((zone.generation + 1) % 2));
    for (const r of await view.records()) {
      const { extents } = await view.extentsOf(r);
      const blocks = extents.flatMap((e) => Array.from({ length: e.count }, (_, i) => e.start + i));
      const last = blocks[Math.ceil(r.ctLength / BLOCK) - 1]!;
      for (let sec = Math.ceil((r.ctLength % BLOCK || BLOCK) / SECTOR); sec < BLOCK / SECTOR; sec++)
        padding.add((start + last) * (BLOCK / SECTOR) + sec);
    }
    start += z.capacity / BLOCK;
  }
  return {
    image: dev.snapshot(),
    files,
    anchors: card.generations(),
    usedBlocks,
    obsolete,
    padding,
  };
}

/** Read every file; each must be exactly the original or a typed error. Returns the files that failed. */
async function check(card: Card | undefined, files: Original[]): Promise<string[]> {
  const failed: string[] = [];
  for (const f of files) {
    try {
      if (!card) throw new SimvaultError('CARD_CORRUPT', 'mount failed');
      const got = await card.zone(f.zone).readFile(f.name);
      expect(
        Buffer.from(got).equals(Buffer.from(f.data)),
        `${f.zone}/${f.name} returned wrong bytes`,
      ).toBe(true);
    } catch (e) {
      if (!(e instanceof SimvaultError)) throw e;
      failed.push(`${f.zone}/${f.name}`);
    }
  }
  return failed;
}

describe('tamper evidence', () => {
  it('every damaged sector: no wrong plaintext, typed errors, fsck reports damage in used blocks', async () => {
    const { image, files, anchors, usedBlocks, obsolete, padding } = await build();
    const sectors = image.length / SECTOR;
    let detected = 0;
    let runs = 0;
    for (let s = 0; s < sectors; s++) {
      const block = Math.floor((s * SECTOR) / BLOCK);
      const used = usedBlocks.has(block) && !padding.has(s);
      // Every sector of a used block; a sample of free ones.
      if (!used && s % 37 !== 0) continue;
      for (const kind of ['flip', 'zero', 'swap'] as const) {
        const bad = image.slice();
        const at = s * SECTOR;
        // The first byte of a sector in use is always meaningful (padding only ends a file's last block).
        if (kind === 'flip') bad[at]! ^= 1 << (s % 8);
        else if (kind === 'zero') bad.fill(0, at, at + SECTOR);
        else {
          // Swap with a sector of another used block.
          const others = [...usedBlocks].filter((b) => b !== block);
          const t = others[s % others.length]! * (BLOCK / SECTOR) + (s % (BLOCK / SECTOR));
          const tmp = bad.slice(at, at + SECTOR);
          bad.copyWithin(at, t * SECTOR, t * SECTOR + SECTOR);
          bad.set(tmp, t * SECTOR);
        }
        if (Buffer.from(bad).equals(Buffer.from(image))) continue; // zeroing a zero sector changes nothing
        runs++;
        let card: Card | undefined;
        try {
          card = await mount(MemoryDevice.from(bad), anchors);
        } catch (e) {
          expect(e, `sector ${s} ${kind}: mount threw an untyped error`).toBeInstanceOf(
            SimvaultError,
          );
        }
        const failed = await check(card, files);
        let reported = failed.length > 0 || card === undefined || card.damaged.length > 0;
        try {
          const report = await fsck(MemoryDevice.from(bad), { cid: CID, keys: KEYS, anchors });
          if (!report.ok) reported = true;
          // A clean fsck must mean every file is intact.
          if (report.ok)
            expect(failed, `sector ${s} ${kind}: fsck ok but files failed`).toEqual([]);
        } catch (e) {
          expect(e).toBeInstanceOf(SimvaultError);
          reported = true;
        }
        if (used && reported) detected++;
        // Header copies are redundant, and an older superblock slot is obsolete: damage there is
        // healed or irrelevant. Everywhere else in use, damage must be reported.
        if (used && block >= 2 && !obsolete.has(block) && !reported) {
          expect.fail(
            `sector ${s} (block ${block}, ${kind}): damage in a used block went unreported`,
          );
        }
      }
    }
    expect(runs).toBeGreaterThan(500);
    expect(detected).toBeGreaterThan(runs / 2);
  }, 300_000);

  it('damage to one file leaves the others readable', async () => {
    const { image, files } = await build();
    const card = await mount(MemoryDevice.from(image));
    const view = card.zone('user').checkView();
    const { extents } = await view.extentsOf((await view.records()).find((r) => r.name === 'big')!);
    const zoneStart = 2 + (64 << 10) / BLOCK + (64 << 10) / BLOCK + (256 << 10) / BLOCK; // user is the 4th zone
    const bad = image.slice();
    bad[(zoneStart + extents[0]!.start + 5) * BLOCK + 100]! ^= 0x10;
    const failed = await check(await mount(MemoryDevice.from(bad)), files);
    expect(failed).toEqual(['user/big']);
    const report = await fsck(MemoryDevice.from(bad), { cid: CID, keys: KEYS });
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.kind)).toEqual(['file']);
    expect(report.problems[0]!.detail).toContain("'big'");
  });
});
