// ZoneBlocks starts sealed writes without waiting for them: reads wait for the writes they
// overlap, writes to one block land in order, and a failed write is reported once, by the next
// settle or flush, unless its changes were discarded.
import { describe, expect, it } from 'vitest';
import { getBackend } from '../../src/crypto/index.js';
import { DeviceError } from '../../src/card/device-error.js';
import { MemoryDevice } from '../../src/card/index.js';
import { BODY_SIZE, Kind, ZoneBlocks } from '../../src/card/sealed-blocks.js';
import { errorCodeOf } from '../helpers/errors.js';

const BLOCK = 4096;

/** A device whose writes wait until released, and fail where asked. */
class GatedDevice extends MemoryDevice {
  private gates: Array<() => void> = [];
  readonly landed: number[] = [];
  failAt = new Set<number>();

  override async write(offset: number, data: Uint8Array): Promise<void> {
    await new Promise<void>((r) => this.gates.push(r));
    if (this.failAt.has(offset / BLOCK))
      throw new DeviceError('DEVICE_IO', `write of block ${offset / BLOCK} failed (injected)`);
    await super.write(offset, data);
    this.landed.push(offset / BLOCK);
  }

  /** Let every write waiting so far go on, and give them time to land. */
  async release(): Promise<void> {
    for (let round = 0; round < 5; round++) {
      const g = this.gates;
      this.gates = [];
      g.forEach((r) => {
        r();
      });
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  get waiting(): number {
    return this.gates.length;
  }
}

async function setup(): Promise<{ dev: GatedDevice; blocks: ZoneBlocks }> {
  const dev = new GatedDevice(64 * BLOCK);
  const aead = await getBackend('noble').importKey('AEAD_AES_256_GCM', new Uint8Array(32).fill(9));
  return { dev, blocks: new ZoneBlocks(dev, 8, 32, aead, new Uint8Array(32), 4) };
}

const body = (fill: number) => new Uint8Array(100).fill(fill);
/** What a sealed block holding `body(fill)` opens to: the body, zero-padded to the block. */
const padded = (fill: number) => {
  const out = new Uint8Array(BODY_SIZE);
  out.set(body(fill));
  return out;
};

describe('ZoneBlocks: sealed writes behind', () => {
  it('returns before the write lands; a read of that block waits for it', async () => {
    const { dev, blocks } = await setup();
    const ptr = await blocks.writeSealed(3, Kind.TrieNode, body(1));
    const ptr2 = await blocks.writeSealed(4, Kind.TrieNode, body(2));
    await new Promise((r) => setTimeout(r, 1));
    expect(dev.waiting).toBe(2); // both started, neither landed
    const read = blocks.readSealed(3, Kind.TrieNode, ptr);
    await dev.release();
    expect(await read).toEqual(padded(1));
    expect(await blocks.readSealed(4, Kind.TrieNode, ptr2)).toEqual(padded(2));
    expect(dev.landed.sort()).toEqual([8 + 3, 8 + 4]);
  });

  it('two writes of one block land in the order they were made', async () => {
    const { dev, blocks } = await setup();
    await blocks.writeSealed(5, Kind.Extents, body(1));
    const last = await blocks.writeSealed(5, Kind.Extents, body(2));
    const settled = blocks.settle();
    await dev.release();
    await settled;
    expect(dev.landed).toEqual([13, 13]);
    expect(await blocks.readSealed(5, Kind.Extents, last)).toEqual(padded(2));
  });

  it('a failed write is thrown once by settle, and flush does not flush after it', async () => {
    const { dev, blocks } = await setup();
    dev.failAt.add(8 + 6);
    let flushes = 0;
    const flush = dev.flush.bind(dev);
    dev.flush = () => {
      flushes++;
      return flush();
    };
    await blocks.writeSealed(6, Kind.Bitmap, body(1));
    await blocks.writeSealed(7, Kind.Bitmap, body(2));
    const f = errorCodeOf(blocks.flush());
    await dev.release();
    expect(await f).toBe('DEVICE_IO');
    expect(flushes).toBe(0);
    expect(dev.landed).toEqual([15]); // the other write still landed
    await blocks.settle(); // reported once
  });

  it('discarded writes are waited for but their failures are nobody’s error', async () => {
    const { dev, blocks } = await setup();
    dev.failAt.add(8 + 2);
    await blocks.writeSealed(2, Kind.Extents, body(1));
    blocks.discard();
    const ptr = await blocks.writeSealed(9, Kind.TrieNode, body(3));
    const f = blocks.flush();
    await dev.release();
    await f;
    expect(dev.landed).toEqual([17]);
    expect(await blocks.readSealed(9, Kind.TrieNode, ptr)).toEqual(padded(3));
  });

  it('checks the address before starting anything', async () => {
    const { dev, blocks } = await setup();
    expect(await errorCodeOf(blocks.writeSealed(32, Kind.TrieNode, body(1)))).toBe('CARD_CORRUPT');
    expect(dev.waiting).toBe(0);
  });
});
