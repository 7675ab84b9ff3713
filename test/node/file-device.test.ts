import { mkdir, mkdtemp, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileDevice } from '../../src/node/index.js';
import { formatCard, mountCard } from '../../src/card/index.js';
import { CID, KEYS, SMALL_ZONES } from '../card/helpers.js';
import { codeOf, expectBytes, pattern } from '../card/device-test-util.js';

const S = 512;
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'simvault-file-device-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('FileDevice', () => {
  it('creates a sparse image of the asked size and round-trips across reopen', async () => {
    const path = join(dir, 'card.img');
    const size = 64 * 1024 * 1024;
    const dev = await FileDevice.open(path, { create: size });
    expect(dev.size).toBe(size);
    expect(dev.sectorSize).toBe(S);
    expect(dev.readOnly).toBe(false);
    expect(dev.path).toBe(path);
    const data = pattern(8192, 3);
    await dev.write(size - 8192, data);
    await dev.write(4096, data.subarray(0, 4096));
    expectBytes(await dev.read(size - 8192, 8192), data);
    expectBytes(await dev.read(0, 4096), new Uint8Array(4096));
    await dev.flush();
    await dev.close();

    const st = await stat(path);
    expect(st.size).toBe(size);
    if (process.platform !== 'win32') expect(st.blocks * 512).toBeLessThan(size / 2);

    const again = await FileDevice.open(path);
    expect(again.size).toBe(size);
    expectBytes(await again.read(size - 8192, 8192), data);
    expectBytes(await again.read(4096, 4096), data.subarray(0, 4096));
    await again.close();
  });

  it('returns plain Uint8Arrays and reads its own unflushed writes', async () => {
    const dev = await FileDevice.open(join(dir, 'a.img'), { create: 16 * S });
    await dev.write(S, pattern(2 * S, 9));
    const got = await dev.read(S, 2 * S);
    expect(Object.getPrototypeOf(got)).toBe(Uint8Array.prototype);
    expectBytes(got, pattern(2 * S, 9));
    await dev.close();
  });

  it('checks alignment and range on every call', async () => {
    const dev = await FileDevice.open(join(dir, 'a.img'), { create: 8 * S });
    expect(await codeOf(dev.read(100, S))).toBe('DEVICE_BAD_ALIGNMENT');
    expect(await codeOf(dev.read(0, 100))).toBe('DEVICE_BAD_ALIGNMENT');
    expect(await codeOf(dev.write(0, new Uint8Array(S + 1)))).toBe('DEVICE_BAD_ALIGNMENT');
    expect(await codeOf(dev.read(8 * S, S))).toBe('DEVICE_OUT_OF_RANGE');
    expect(await codeOf(dev.write(7 * S, new Uint8Array(2 * S)))).toBe('DEVICE_OUT_OF_RANGE');
    expect(await codeOf(dev.read(-S, S))).toBe('DEVICE_OUT_OF_RANGE');
    expect(await codeOf(dev.write(0, 'x' as unknown as Uint8Array))).toBe('INVALID_ARGUMENT');
    await dev.close();
    expect((await stat(join(dir, 'a.img'))).size).toBe(8 * S); // nothing grew the file
  });

  it('refuses bad images and bad options with typed errors', async () => {
    const path = join(dir, 'x.img');
    expect(await codeOf(FileDevice.open(path))).toBe('DEVICE_BAD_IMAGE');
    expect(await codeOf(FileDevice.open(path, { create: 1000 }))).toBe('DEVICE_BAD_ALIGNMENT');
    expect(await codeOf(FileDevice.open(path, { create: 4096, readOnly: true }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(await codeOf(FileDevice.open(path, { create: 4096, sectorSize: 3 }))).toBe(
      'INVALID_ARGUMENT',
    );
    await writeFile(path, new Uint8Array(1000));
    expect(await codeOf(FileDevice.open(path))).toBe('DEVICE_BAD_IMAGE');
    expect(await codeOf(FileDevice.open(path, { create: 4096 }))).toBe('DEVICE_BAD_IMAGE'); // exists
    expect((await stat(path)).size).toBe(1000); // and was not clobbered
    const sub = join(dir, 'sub');
    await mkdir(sub);
    expect(await codeOf(FileDevice.open(sub))).toBe('DEVICE_BAD_IMAGE');
    expect(await codeOf(FileDevice.open(sub, { readOnly: true }))).toBe('DEVICE_BAD_IMAGE');
    expect(
      await codeOf(FileDevice.open(join(dir, 'no', 'such', 'dir.img'), { create: 4096 })),
    ).toBe('DEVICE_IO');
  });

  it('honours a larger sector size', async () => {
    const path = join(dir, 'big-sector.img');
    await writeFile(path, new Uint8Array(8192 + 512));
    expect(await codeOf(FileDevice.open(path, { sectorSize: 4096 }))).toBe('DEVICE_BAD_IMAGE');
    await truncate(path, 8192);
    const dev = await FileDevice.open(path, { sectorSize: 4096 });
    expect(await codeOf(dev.read(512, 4096))).toBe('DEVICE_BAD_ALIGNMENT');
    await dev.write(4096, pattern(4096, 1));
    await dev.close();
  });

  it('opens read-only: reads work, writes throw DEVICE_READ_ONLY', async () => {
    const path = join(dir, 'ro.img');
    const w = await FileDevice.open(path, { create: 4 * S });
    await w.write(0, pattern(S, 5));
    await w.close();
    const dev = await FileDevice.open(path, { readOnly: true });
    expect(dev.readOnly).toBe(true);
    expectBytes(await dev.read(0, S), pattern(S, 5));
    expect(await codeOf(dev.write(0, new Uint8Array(S)))).toBe('DEVICE_READ_ONLY');
    await dev.flush();
    await dev.close();
  });

  it('refuses calls once closed; closing twice is harmless', async () => {
    const dev = await FileDevice.open(join(dir, 'c.img'), { create: 4 * S });
    await dev.close();
    await dev.close();
    expect(await codeOf(dev.read(0, S))).toBe('DEVICE_CLOSED');
    expect(await codeOf(dev.write(0, new Uint8Array(S)))).toBe('DEVICE_CLOSED');
    expect(await codeOf(dev.flush())).toBe('DEVICE_CLOSED');
  });

  it('reports a file that shrank under it as DEVICE_IO', async () => {
    const path = join(dir, 'shrink.img');
    const dev = await FileDevice.open(path, { create: 8 * S });
    await truncate(path, 2 * S);
    expect(await codeOf(dev.read(4 * S, S))).toBe('DEVICE_IO');
    expect(await codeOf(dev.readInto(S, new Uint8Array(2 * S)))).toBe('DEVICE_IO');
    await dev.close();
  });

  it("readInto fills the caller's buffer as read would, and checks it", async () => {
    const dev = await FileDevice.open(join(dir, 'r.img'), { create: 16 * S });
    await dev.write(2 * S, pattern(3 * S, 4));
    const out = new Uint8Array(6 * S).fill(0xaa);
    await dev.readInto(S, out);
    expectBytes(out, await dev.read(S, 6 * S));
    expectBytes(out.subarray(S, 4 * S), pattern(3 * S, 4));
    expect(await codeOf(dev.readInto(100, new Uint8Array(S)))).toBe('DEVICE_BAD_ALIGNMENT');
    expect(await codeOf(dev.readInto(0, new Uint8Array(S + 1)))).toBe('DEVICE_BAD_ALIGNMENT');
    expect(await codeOf(dev.readInto(15 * S, new Uint8Array(2 * S)))).toBe('DEVICE_OUT_OF_RANGE');
    expect(await codeOf(dev.readInto(0, 'x' as unknown as Uint8Array))).toBe('INVALID_ARGUMENT');
    await dev.close();
    expect(await codeOf(dev.readInto(0, new Uint8Array(S)))).toBe('DEVICE_CLOSED');
  });

  it('two opens of one image have one identity, so a card refuses a second writable mount', async () => {
    const path = join(dir, 'twice.img');
    const first = await FileDevice.open(path, { create: 2 << 20 });
    await formatCard(first, { cid: CID, keys: KEYS, fill: 'zero', zones: SMALL_ZONES });
    const second = await FileDevice.open(path);
    const other = await FileDevice.open(join(dir, 'other.img'), { create: 4096 });
    expect(second.identity).toBe(first.identity);
    expect(other.identity).not.toBe(first.identity);
    const card = await mountCard(first, { cid: CID, keys: KEYS });
    expect(await codeOf(mountCard(second, { cid: CID, keys: KEYS }))).toBe('CARD_ALREADY_MOUNTED');
    // A read-only mount needs no claim; once the first mount ends, the second may write.
    await (
      await mountCard(second, { cid: CID, keys: KEYS, readOnly: true })
    ).unmount({
      keepDeviceOpen: true,
    });
    await card.unmount();
    await (await mountCard(second, { cid: CID, keys: KEYS })).unmount();
    await other.close();
  });
});
