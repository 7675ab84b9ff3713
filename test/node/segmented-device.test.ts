import { mkdir, mkdtemp, open, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryDevice } from '../../src/card/index.js';
import {
  DEFAULT_SEGMENT_SIZE,
  FileDevice,
  SegmentedDevice,
  openImage,
  segmentPath,
} from '../../src/node/index.js';
import { codeOf, expectBytes, pattern } from '../card/device-test-util.js';

const S = 512;
const SEG = 64 * 1024;
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'simvault-segmented-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function sizes(path: string, count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push((await stat(segmentPath(path, i))).size);
  return out;
}

describe('segment naming and size', () => {
  it('names segments PATH, PATH.001, PATH.002, ...', () => {
    expect(segmentPath('/x/card.img', 0)).toBe('/x/card.img');
    expect(segmentPath('/x/card.img', 1)).toBe('/x/card.img.001');
    expect(segmentPath('card.img', 42)).toBe('card.img.042');
    expect(segmentPath('card.img', 999)).toBe('card.img.999');
    expect(segmentPath('card.img', 1000)).toBe('card.img.1000');
  });

  it('defaults to 4 GiB - 512 rounded down to a whole MiB', () => {
    expect(DEFAULT_SEGMENT_SIZE).toBe(4095 * 1024 * 1024);
    expect(DEFAULT_SEGMENT_SIZE).toBeLessThanOrEqual(4 * 1024 ** 3 - 512);
    expect(DEFAULT_SEGMENT_SIZE % (1024 * 1024)).toBe(0);
  });
});

describe('SegmentedDevice', () => {
  it('splits a new image into full segments and a shorter last one', async () => {
    const path = join(dir, 'card.img');
    const dev = await SegmentedDevice.open(path, { create: 4 * SEG + 8192, segmentSize: SEG });
    expect(dev.size).toBe(4 * SEG + 8192);
    expect(dev.segmentCount).toBe(5);
    expect(dev.segmentSize).toBe(SEG);
    await dev.close();
    expect(await sizes(path, 5)).toEqual([SEG, SEG, SEG, SEG, 8192]);
    expect((await readdir(dir)).sort()).toEqual([
      'card.img',
      'card.img.001',
      'card.img.002',
      'card.img.003',
      'card.img.004',
    ]);
  });

  it('ends an image of exactly k segments with an empty segment', async () => {
    const path = join(dir, 'card.img');
    const dev = await SegmentedDevice.open(path, { create: 2 * SEG, segmentSize: SEG });
    expect(dev.segmentCount).toBe(3);
    await dev.write(2 * SEG - S, pattern(S, 1));
    expect(await codeOf(dev.read(2 * SEG, S))).toBe('DEVICE_OUT_OF_RANGE');
    await dev.close();
    expect(await sizes(path, 3)).toEqual([SEG, SEG, 0]);
    const again = await SegmentedDevice.open(path);
    expect(again.size).toBe(2 * SEG);
    expectBytes(await again.read(2 * SEG - S, S), pattern(S, 1));
    await again.close();
  });

  it('splits accesses that straddle segment boundaries', async () => {
    const path = join(dir, 'card.img');
    const dev = await SegmentedDevice.open(path, { create: 3 * SEG + 4096, segmentSize: SEG });
    const data = pattern(SEG + 8192, 7); // from 4 KiB before boundary 1 to 4 KiB past boundary 2
    await dev.write(SEG - 4096, data);
    expectBytes(await dev.read(SEG - 4096, data.length), data);
    await dev.close();
    const seg0 = await FileDevice.open(path, { readOnly: true });
    expectBytes(await seg0.read(SEG - 4096, 4096), data.subarray(0, 4096));
    await seg0.close();
    const seg2 = await FileDevice.open(segmentPath(path, 2), { readOnly: true });
    expectBytes(await seg2.read(0, 4096), data.subarray(SEG + 4096));
    await seg2.close();
  });

  it('behaves exactly like one MemoryDevice for random aligned operations, and survives reopen (property)', async () => {
    const segment = 8 * S;
    const size = 5 * segment + 3 * S;
    const sectors = size / S;
    type Op =
      | { kind: 'write'; sector: number; count: number; seed: number }
      | { kind: 'read'; sector: number; count: number }
      | { kind: 'flush' };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      fc.record({
        kind: fc.constant('write' as const),
        sector: fc.nat(sectors - 1),
        count: fc.integer({ min: 0, max: 20 }),
        seed: fc.nat(255),
      }),
      fc.record({
        kind: fc.constant('read' as const),
        sector: fc.nat(sectors - 1),
        count: fc.integer({ min: 0, max: 20 }),
      }),
      fc.record({ kind: fc.constant('flush' as const) }),
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 20 }), async (ops) => {
        const path = join(dir, `p${run++}.img`);
        const dev = await SegmentedDevice.open(path, { create: size, segmentSize: segment });
        const model = new MemoryDevice(size);
        try {
          for (const op of ops) {
            if (op.kind === 'flush') {
              await dev.flush();
              continue;
            }
            const length = Math.min(op.count, sectors - op.sector) * S;
            if (op.kind === 'write') {
              const data = pattern(length, op.seed);
              await dev.write(op.sector * S, data);
              await model.write(op.sector * S, data);
            } else {
              const expected = await model.read(op.sector * S, length);
              expectBytes(await dev.read(op.sector * S, length), expected);
              const into = new Uint8Array(length).fill(0xee);
              await dev.readInto(op.sector * S, into);
              expectBytes(into, expected);
            }
          }
        } finally {
          await dev.close();
        }
        const again = await SegmentedDevice.open(path);
        expect(again.size).toBe(size);
        expectBytes(await again.read(0, size), model.snapshot());
        await again.close();
      }),
      { numRuns: 60 },
    );
  });

  it('flush syncs exactly the segments written since the last flush', async () => {
    const probe = await open(join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
    await probe.close();
    const spy = vi.spyOn(proto, 'datasync');
    try {
      const dev = await SegmentedDevice.open(join(dir, 'card.img'), {
        create: 4 * SEG,
        segmentSize: SEG,
      });
      await dev.write(0, pattern(S, 1));
      await dev.write(3 * SEG - S, pattern(2 * S, 2)); // segments 2 and 3
      await dev.write(S, pattern(S, 3));
      spy.mockClear();
      await dev.flush();
      expect(spy).toHaveBeenCalledTimes(3);
      spy.mockClear();
      await dev.flush();
      expect(spy).not.toHaveBeenCalled();
      await dev.write(SEG, pattern(S, 4));
      await dev.close();
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
  });

  it('infers the segment size when reopening, and rejects a wrong one', async () => {
    const path = join(dir, 'card.img');
    await (await SegmentedDevice.open(path, { create: 3 * SEG, segmentSize: SEG })).close();
    const dev = await SegmentedDevice.open(path);
    expect(dev.segmentSize).toBe(SEG);
    await dev.close();
    expect(await codeOf(SegmentedDevice.open(path, { segmentSize: SEG / 2 }))).toBe(
      'DEVICE_BAD_IMAGE',
    );
    expect(await codeOf(SegmentedDevice.open(path, { segmentSize: 2 * SEG }))).toBe(
      'DEVICE_BAD_IMAGE',
    );
  });

  it('detects a missing middle segment', async () => {
    const path = join(dir, 'card.img');
    await (await SegmentedDevice.open(path, { create: 3 * SEG + S, segmentSize: SEG })).close();
    await rm(segmentPath(path, 2));
    const err = await SegmentedDevice.open(path).catch((e: unknown) => e);
    expect((err as { code: string }).code).toBe('DEVICE_BAD_IMAGE');
    expect((err as Error).message).toContain('card.img.002');
  });

  it('detects a missing last segment, even an empty one', async () => {
    for (const [size, last] of [
      [3 * SEG + S, 3],
      [2 * SEG, 2],
    ] as const) {
      const path = join(dir, `card-${size}.img`);
      await (await SegmentedDevice.open(path, { create: size, segmentSize: SEG })).close();
      await rm(segmentPath(path, last));
      const err = await SegmentedDevice.open(path).catch((e: unknown) => e);
      expect((err as { code: string }).code).toBe('DEVICE_BAD_IMAGE');
      expect((err as Error).message).toContain(segmentPath(path, last));
    }
  });

  it('detects a segment of the wrong size and a missing image', async () => {
    const path = join(dir, 'card.img');
    await (await SegmentedDevice.open(path, { create: 3 * SEG + S, segmentSize: SEG })).close();
    await truncate(segmentPath(path, 1), SEG - S);
    expect(await codeOf(SegmentedDevice.open(path))).toBe('DEVICE_BAD_IMAGE');
    await truncate(segmentPath(path, 1), SEG);
    await truncate(segmentPath(path, 3), 100);
    expect(await codeOf(SegmentedDevice.open(path))).toBe('DEVICE_BAD_IMAGE');
    expect(await codeOf(SegmentedDevice.open(join(dir, 'none.img')))).toBe('DEVICE_BAD_IMAGE');
  });

  it('refuses to create over any existing file of the image, creating nothing', async () => {
    const path = join(dir, 'card.img');
    await writeFile(segmentPath(path, 2), new Uint8Array(0));
    expect(await codeOf(SegmentedDevice.open(path, { create: 3 * SEG, segmentSize: SEG }))).toBe(
      'DEVICE_BAD_IMAGE',
    );
    expect(await readdir(dir)).toEqual(['card.img.002']);
    await rm(segmentPath(path, 2));
    await writeFile(path, new Uint8Array(0));
    expect(await codeOf(SegmentedDevice.open(path, { create: 3 * SEG, segmentSize: SEG }))).toBe(
      'DEVICE_BAD_IMAGE',
    );
  });

  it('ignores unrelated files beside the image', async () => {
    const path = join(dir, 'card.img');
    await (await SegmentedDevice.open(path, { create: SEG + S, segmentSize: SEG })).close();
    await writeFile(join(dir, 'card.img.bak'), 'x');
    await writeFile(join(dir, 'card.img.01'), 'x');
    await writeFile(join(dir, 'other.img.002'), 'x');
    await mkdir(join(dir, 'card.img.d'));
    const dev = await SegmentedDevice.open(path);
    expect(dev.segmentCount).toBe(2);
    await dev.close();
  });

  it('validates options and every access', async () => {
    const path = join(dir, 'card.img');
    expect(await codeOf(SegmentedDevice.open(path, { create: SEG, segmentSize: 1000 }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(await codeOf(SegmentedDevice.open(path, { create: SEG, segmentSize: 0 }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(await codeOf(SegmentedDevice.open(path, { create: 1000, segmentSize: SEG }))).toBe(
      'DEVICE_BAD_ALIGNMENT',
    );
    expect(await codeOf(SegmentedDevice.open(path, { create: SEG, readOnly: true }))).toBe(
      'INVALID_ARGUMENT',
    );
    const dev = await SegmentedDevice.open(path, { create: 2 * SEG + S, segmentSize: SEG });
    expect(await codeOf(dev.read(SEG - 1, S))).toBe('DEVICE_BAD_ALIGNMENT');
    expect(await codeOf(dev.write(SEG, new Uint8Array(S - 1)))).toBe('DEVICE_BAD_ALIGNMENT');
    expect(await codeOf(dev.read(2 * SEG, 2 * S))).toBe('DEVICE_OUT_OF_RANGE');
    await dev.close();
    await dev.close();
    expect(await codeOf(dev.read(0, S))).toBe('DEVICE_CLOSED');
    expect(await codeOf(dev.flush())).toBe('DEVICE_CLOSED');
  });

  it('opens read-only', async () => {
    const path = join(dir, 'card.img');
    const w = await SegmentedDevice.open(path, { create: SEG + 4096, segmentSize: SEG });
    await w.write(SEG - S, pattern(2 * S, 4));
    await w.close();
    const dev = await SegmentedDevice.open(path, { readOnly: true });
    expect(dev.readOnly).toBe(true);
    expectBytes(await dev.read(SEG - S, 2 * S), pattern(2 * S, 4));
    expect(await codeOf(dev.write(0, new Uint8Array(S)))).toBe('DEVICE_READ_ONLY');
    await dev.close();
  });
});

describe('openImage', () => {
  it('creates a single file below the segment size and segments at or above it', async () => {
    const small = await openImage(join(dir, 'small.img'), { create: SEG - S, segmentSize: SEG });
    expect(small).toBeInstanceOf(FileDevice);
    await small.close();
    const big = await openImage(join(dir, 'big.img'), { create: SEG, segmentSize: SEG });
    expect(big).toBeInstanceOf(SegmentedDevice);
    await big.close();
    const forced = await openImage(join(dir, 'forced.img'), {
      create: 4 * SEG,
      segmentSize: SEG,
      layout: 'file',
    });
    expect(forced).toBeInstanceOf(FileDevice);
    expect(forced.size).toBe(4 * SEG);
    await forced.close();
  });

  it('picks the layout of an existing image by its files', async () => {
    await (await openImage(join(dir, 'a.img'), { create: 3 * SEG, segmentSize: SEG })).close();
    await (await openImage(join(dir, 'b.img'), { create: 4 * SEG, layout: 'file' })).close();
    const a = await openImage(join(dir, 'a.img'));
    expect(a).toBeInstanceOf(SegmentedDevice);
    expect(a.size).toBe(3 * SEG);
    await a.close();
    const b = await openImage(join(dir, 'b.img'), { readOnly: true });
    expect(b).toBeInstanceOf(FileDevice);
    expect(b.size).toBe(4 * SEG);
    await b.close();
    const forced = await openImage(join(dir, 'b.img'), {
      layout: 'segmented',
      segmentSize: 8 * SEG,
    });
    expect(forced).toBeInstanceOf(SegmentedDevice);
    await forced.close();
    expect(await codeOf(openImage(join(dir, 'missing.img')))).toBe('DEVICE_BAD_IMAGE');
    expect(await codeOf(openImage(join(dir, 'b.img'), { layout: 'weird' as 'file' }))).toBe(
      'INVALID_ARGUMENT',
    );
  });
});
