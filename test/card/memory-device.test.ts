import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryDevice } from '../../src/card/index.js';
import { codeOf, expectBytes, pattern } from './device-test-util.js';

const MiB = 1 << 20;

describe('MemoryDevice', () => {
  it('round-trips writes and reads zeros where nothing was written', async () => {
    const dev = new MemoryDevice(64 * 1024);
    expect(dev.sectorSize).toBe(512);
    expect(dev.size).toBe(64 * 1024);
    const block = pattern(4096, 0);
    await dev.write(8192, block);
    expectBytes(await dev.read(8192, 4096), block);
    expectBytes(await dev.read(8192 + 512, 512), block.subarray(512, 1024));
    expectBytes(await dev.read(0, 8192), new Uint8Array(8192));
    expectBytes(await dev.read(12288, 512), new Uint8Array(512));
    expect((await dev.read(0, 0)).length).toBe(0);
  });

  it('copies on write and on read', async () => {
    const dev = new MemoryDevice(4096);
    const data = new Uint8Array(512).fill(1);
    await dev.write(0, data);
    data.fill(2);
    const got = await dev.read(0, 512);
    expect(got[0]).toBe(1);
    got.fill(3);
    expect((await dev.read(0, 512))[0]).toBe(1);
  });

  it('rejects misaligned, out-of-range and malformed accesses with typed errors', async () => {
    const dev = new MemoryDevice(8192);
    expect(await codeOf(dev.read(1, 512))).toBe('DEVICE_BAD_ALIGNMENT');
    expect(await codeOf(dev.read(0, 100))).toBe('DEVICE_BAD_ALIGNMENT');
    expect(await codeOf(dev.write(0, new Uint8Array(511)))).toBe('DEVICE_BAD_ALIGNMENT');
    expect(await codeOf(dev.read(8192, 512))).toBe('DEVICE_OUT_OF_RANGE');
    expect(await codeOf(dev.write(7680, new Uint8Array(1024)))).toBe('DEVICE_OUT_OF_RANGE');
    expect(await codeOf(dev.read(-512, 512))).toBe('DEVICE_OUT_OF_RANGE');
    expect(await codeOf(dev.read(Number.NaN, 512))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(dev.read(0.5, 512))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(dev.write(0, [1, 2] as unknown as Uint8Array))).toBe('INVALID_ARGUMENT');
  });

  it('accepts an empty access at the very end', async () => {
    const dev = new MemoryDevice(8192);
    expect((await dev.read(8192, 0)).length).toBe(0);
    await dev.write(8192, new Uint8Array(0));
  });

  it('validates size and sector size', async () => {
    expect(await codeOf(() => new MemoryDevice(1000))).toBe('DEVICE_BAD_ALIGNMENT');
    expect(await codeOf(() => new MemoryDevice(-512))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(() => new MemoryDevice(4096, { sectorSize: 500 }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(await codeOf(() => new MemoryDevice(4096, { sectorSize: 0 }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(() => MemoryDevice.from(new Uint8Array(100)))).toBe('DEVICE_BAD_ALIGNMENT');
    const dev = new MemoryDevice(8192, { sectorSize: 4096 });
    expect(await codeOf(dev.read(512, 4096))).toBe('DEVICE_BAD_ALIGNMENT');
    await dev.write(4096, new Uint8Array(4096).fill(1));
  });

  it('is sparse: a 4 GiB device allocates only the pages written with non-zero bytes', async () => {
    const dev = new MemoryDevice(4 * 1024 * MiB);
    expect(dev.allocatedBytes).toBe(0);
    await dev.write(dev.size - 4096, new Uint8Array(4096).fill(0xaa));
    await dev.write(3 * MiB - 512, new Uint8Array(1024).fill(0x55)); // straddles two pages
    await dev.write(100 * MiB, new Uint8Array(MiB)); // zeros into a missing page
    expect(dev.allocatedBytes).toBe(3 * MiB);
    expect((await dev.read(dev.size - 4096, 4096)).every((b) => b === 0xaa)).toBe(true);
    const across = await dev.read(3 * MiB - 1024, 2048);
    expect(across.subarray(0, 512).every((b) => b === 0)).toBe(true);
    expect(across.subarray(512, 1536).every((b) => b === 0x55)).toBe(true);
    expect(across.subarray(1536).every((b) => b === 0)).toBe(true);
    // Zeros over an allocated page still overwrite.
    await dev.write(dev.size - 4096, new Uint8Array(512));
    expect((await dev.read(dev.size - 4096, 1024)).subarray(0, 512).every((b) => b === 0)).toBe(
      true,
    );
  });

  it('snapshot, from and clone copy the content', async () => {
    const bytes = pattern(2 * MiB + 4096, 1);
    const dev = MemoryDevice.from(bytes);
    expectBytes(dev.snapshot(), bytes);
    const copy = dev.clone();
    await copy.write(0, new Uint8Array(512));
    expectBytes(dev.snapshot(), bytes);
    expectBytes(copy.snapshot().subarray(512), bytes.subarray(512));
    expectBytes(copy.snapshot().subarray(0, 512), new Uint8Array(512));
    expect(dev.allocatedBytes).toBe(2 * MiB + 4096);
  });

  it('readInto fills the whole buffer as read would, zeros included, and checks it', async () => {
    const dev = new MemoryDevice(4 * MiB);
    const block = pattern(4096, 5);
    await dev.write(MiB - 2048, block); // across a page of the sparse store
    // Stale bytes in the buffer must not survive where nothing was written.
    const out = new Uint8Array(MiB + 8192).fill(0xaa);
    await dev.readInto(MiB - 8192, out);
    expectBytes(out, await dev.read(MiB - 8192, MiB + 8192));
    expectBytes(out.subarray(6144, 10240), block);
    expect(await codeOf(dev.readInto(0, new Uint8Array(100)))).toBe('DEVICE_BAD_ALIGNMENT');
    expect(await codeOf(dev.readInto(4 * MiB - 512, new Uint8Array(1024)))).toBe(
      'DEVICE_OUT_OF_RANGE',
    );
    expect(await codeOf(dev.readInto(0, [0] as unknown as Uint8Array))).toBe('INVALID_ARGUMENT');
    await dev.close();
    expect(await codeOf(dev.readInto(0, new Uint8Array(512)))).toBe('DEVICE_CLOSED');
  });

  it('refuses calls once closed but still snapshots and clones', async () => {
    const dev = new MemoryDevice(4096);
    dev.writeSync(0, new Uint8Array(512).fill(4));
    await dev.close();
    await dev.close();
    expect(dev.closed).toBe(true);
    expect(await codeOf(dev.read(0, 512))).toBe('DEVICE_CLOSED');
    expect(await codeOf(dev.write(0, new Uint8Array(512)))).toBe('DEVICE_CLOSED');
    expect(await codeOf(dev.flush())).toBe('DEVICE_CLOSED');
    expect(dev.snapshot()[0]).toBe(4);
    expect(dev.clone().readSync(0, 512)[0]).toBe(4);
  });

  it('behaves like a flat array for random aligned writes (property)', () => {
    const sectors = 64;
    const op = fc.record({
      sector: fc.nat({ max: sectors - 1 }),
      count: fc.integer({ min: 0, max: 8 }),
      fill: fc.integer({ min: 0, max: 255 }),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const dev = new MemoryDevice(sectors * 512);
        const model = new Uint8Array(sectors * 512);
        for (const { sector, count, fill } of ops) {
          const n = Math.min(count, sectors - sector) * 512;
          const data = pattern(n, fill);
          dev.writeSync(sector * 512, data);
          model.set(data, sector * 512);
        }
        expectBytes(dev.snapshot(), model);
      }),
      { numRuns: 200 },
    );
  });
});
