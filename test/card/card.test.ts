// The card engine's operations: format, mount, put/get/range/list/stat/rename/delete, capacity,
// identity checks, rollback anchors, crypto-erase, resume.
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { CHUNK_SIZE, ciphertextLength, HEADER_LENGTH } from '../../src/crypto/chunked.js';
import { streamScratchBytes } from '../../src/card/zone.js';
import { deriveCardKeys, getBackend } from '../../src/crypto/index.js';
import {
  FaultDevice,
  fsck,
  MemoryDevice,
  mountCard,
  PowerCutError,
  readCardInfo,
  type Card,
  type CardZone,
} from '../../src/card/index.js';
import { DeviceError } from '../../src/card/device-error.js';
import { errorCodeOf } from '../helpers/errors.js';
import { collect, pieces } from '../helpers/streams.js';
import { BINDING, bytes, CID, formatted, KEYS, mount } from './helpers.js';

/** Put the first `upto` bytes of `data` with checkpoints every 64 KiB, then abort. */
async function interrupt(
  zone: CardZone,
  name: string,
  data: Uint8Array,
  tag: string,
  upto: number,
) {
  const put = await zone.put(name, {
    size: data.length,
    sourceTag: tag,
    checkpointBytes: 64 << 10,
  });
  const w = put.writable.getWriter();
  await w.write(data.subarray(0, upto));
  await w.abort();
}

/** Resume (or restart) a put of `data` and finish it; the offset the source was taken from. */
async function finish(zone: CardZone, name: string, data: Uint8Array, tag: string) {
  const put = await zone.put(name, { size: data.length, sourceTag: tag, resume: true });
  const w = put.writable.getWriter();
  await w.write(data.subarray(put.offset));
  await w.close();
  return put.offset;
}

describe('card: files', () => {
  it('writes, reads, lists, renames and deletes, and survives a remount', async () => {
    const dev = await formatted();
    const card = await mount(dev);
    const user = card.zone('user');
    const a = bytes(50_000, 1);
    await user.writeFile('apps/tv.apk', a);
    await user.writeFile('empty', new Uint8Array(0));
    await user.writeFile('音乐.mp3', bytes(20_000, 2));
    expect((await user.list()).map((f) => f.name)).toEqual(['apps/tv.apk', 'empty', '音乐.mp3']);
    expect(Buffer.from(await user.readFile('apps/tv.apk')).equals(Buffer.from(a))).toBe(true);
    expect(
      Buffer.from(await user.readFile('apps/tv.apk', 16380, 16400)).equals(
        Buffer.from(a.subarray(16380, 16400)),
      ),
    ).toBe(true);
    expect((await user.readFile('empty')).length).toBe(0);
    expect((await user.stat('apps/tv.apk')).size).toBe(50_000);
    await user.rename('apps/tv.apk', 'tv.apk');
    await user.delete('empty');
    expect(await errorCodeOf(user.stat('apps/tv.apk'))).toBe('CARD_NOT_FOUND');
    const gen = user.generation;

    // One writable mount per device in a process: a second is refused until the first ends.
    expect(await errorCodeOf(mount(dev))).toBe('CARD_ALREADY_MOUNTED');
    await card.unmount({ keepDeviceOpen: true });
    const again = await mount(dev);
    const z = again.zone('user');
    expect(z.generation).toBe(gen);
    expect((await z.list()).map((f) => f.name)).toEqual(['tv.apk', '音乐.mp3']);
    expect(Buffer.from(await z.readFile('tv.apk')).equals(Buffer.from(a))).toBe(true);
    expect((await fsck(dev, { cid: CID, keys: KEYS })).ok).toBe(true);
  });

  it('streams a put in arbitrary pieces and a get by range, in every zone', async () => {
    const dev = await formatted(4 << 20, {
      operator: 256 << 10,
      advertising: 256 << 10,
      multimedia: 1 << 20,
      user: 2 << 20,
    });
    const card = await mount(dev);
    for (const zone of ['operator', 'advertising', 'multimedia', 'user'] as const) {
      const data = bytes(100_000 + zone.length, zone.length);
      const put = await card.zone(zone).put('f', { size: data.length });
      await pieces(data, 7777).pipeTo(put.writable);
      expect((await collect(await card.zone(zone).get('f'))).equals(data)).toBe(true);
      expect(
        (await collect(await card.zone(zone).get('f', 30_000, 70_001))).equals(
          Buffer.from(data.subarray(30_000, 70_001)),
        ),
      ).toBe(true);
    }
  });

  it('streams a fragmented file over several windows, with or without device reads into its buffers', async () => {
    for (const faulty of [false, true]) {
      const mem = await formatted(12 << 20, {
        operator: 64 << 10,
        advertising: 64 << 10,
        multimedia: 64 << 10,
        user: 11 << 20,
      });
      // FaultDevice has no readInto: the stream reads each window into a fresh buffer instead.
      const dev = faulty ? new FaultDevice(mem) : mem;
      const into = vi.spyOn(mem, 'readInto');
      const card = await mount(dev);
      const user = card.zone('user');
      // Holes of 3 blocks between small files, so a large file lands in many extents.
      for (let i = 0; i < 400; i++) await user.writeFile(`s${i}`, bytes(3 * 4096 - 200, i));
      for (let i = 0; i < 400; i += 2) await user.delete(`s${i}`);
      const data = bytes(2_600_000, 5);
      await user.writeFile('big', data);
      const ranges: [number, number][] = [
        [0, data.length],
        [1, data.length - 1],
        [1_048_570, 2_097_160],
        [16_383, 16_385],
        [data.length, data.length],
      ];
      const read = vi.spyOn(mem, 'read');
      for (const [s, e] of ranges) {
        // collect() keeps every chunk until the end: a chunk written over by a later window's
        // read would show here.
        const got = await collect(await user.get('big', s, e));
        expect(got.equals(Buffer.from(data.subarray(s, e))), `${faulty} [${s}, ${e})`).toBe(true);
      }
      expect(into.mock.calls.length > 0).toBe(!faulty);
      // With readInto, every range fits the stream's buffers: only metadata (table nodes, this
      // file's 4-block extent list) is read into fresh buffers. Reading any of these ranges'
      // ciphertext into a fresh one would take at least 9 blocks.
      if (!faulty) expect(read.mock.calls.filter(([, n]) => n > 8 * 4096)).toEqual([]);
      await card.unmount();
    }
  });

  it("a stream's read buffers hold every window of any range, and little more (property)", () => {
    const BS = 4096;
    const SEALED = CHUNK_SIZE + 16;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5_000_000 }), fc.nat(), fc.nat(), (size, a, b) => {
        const [start, end] = [a % (size + 1), b % (size + 1)].sort((x, y) => x - y) as [
          number,
          number,
        ];
        const scratch = streamScratchBytes(size, start, end);
        const ct = ciphertextLength(size);
        const lastChunk = Math.floor(size / CHUNK_SIZE);
        // The windows a stream reads, as docs/card-format.md lays a file's ciphertext on blocks.
        for (let from = start; from < end;) {
          const to = Math.min(end, (Math.floor(from / CHUNK_SIZE) + 64) * CHUNK_SIZE);
          const first = Math.floor(from / CHUNK_SIZE);
          const last = to === size ? lastChunk : Math.floor((to - 1) / CHUNK_SIZE);
          const lo = HEADER_LENGTH + first * SEALED;
          const hi = last === lastChunk ? ct : HEADER_LENGTH + (last + 1) * SEALED;
          const blocks = Math.floor((hi - 1) / BS) - Math.floor(lo / BS) + 1;
          expect(blocks * BS).toBeLessThanOrEqual(scratch);
          from = to;
        }
      }),
      { numRuns: 500 },
    );
    expect(streamScratchBytes(1e9, 100, 200)).toBeLessThan(64 * 1024);
    expect(streamScratchBytes(1e9, 0, 1e9)).toBeLessThan(1.1 * 1024 * 1024);
  });

  it('many files: the table splits and stays consistent', async () => {
    const dev = await formatted(8 << 20, {
      operator: 64 << 10,
      advertising: 64 << 10,
      multimedia: 64 << 10,
      user: 7 << 20,
    });
    const card = await mount(dev);
    const user = card.zone('user');
    for (let i = 0; i < 300; i++) await user.writeFile(`file-${i}`, bytes(10 + i, i));
    for (let i = 0; i < 300; i += 3) await user.delete(`file-${i}`);
    await card.unmount({ keepDeviceOpen: true });
    const again = (await mount(dev)).zone('user');
    const names = (await again.list()).map((f) => f.name);
    expect(names.length).toBe(200);
    for (let i = 1; i < 300; i += 7) {
      if (i % 3 === 0) continue;
      expect(
        Buffer.from(await again.readFile(`file-${i}`)).equals(Buffer.from(bytes(10 + i, i))),
      ).toBe(true);
    }
    const report = await fsck(dev, { cid: CID, keys: KEYS });
    expect(report.problems).toEqual([]);
    expect(report.zones.find((z) => z.zone === 'user')!.files).toBe(200);
  });

  it('capacity: a put that cannot fit is refused before any byte is written', async () => {
    const dev = await formatted();
    const card = await mount(dev);
    const adv = card.zone('advertising');
    const before = adv.capacity();
    expect(before.capacity).toBe(64 << 10);
    const gen = adv.generation;
    expect(await errorCodeOf(adv.put('big', { size: 1 << 20 }))).toBe('CARD_NO_SPACE');
    expect(adv.generation).toBe(gen);
    // Without a declared size the put fails when the zone fills, and leaves nothing behind.
    const put = await adv.put('big');
    const w = put.writable.getWriter();
    expect(await errorCodeOf(w.write(new Uint8Array(1 << 20)))).toBe('CARD_NO_SPACE');
    expect(adv.capacity()).toEqual(before);
    expect(await adv.list()).toEqual([]);
    const total = card.capacity();
    expect(total.capacity).toBe((64 << 10) * 2 + (512 << 10) + (1 << 20));
  });

  it('wrong byte counts and bad names are typed errors', async () => {
    const card = await mount(await formatted());
    const user = card.zone('user');
    const put = await user.put('x', { size: 10 });
    const w = put.writable.getWriter();
    await w.write(new Uint8Array(5));
    expect(await errorCodeOf(w.close())).toBe('CARD_SIZE_MISMATCH');
    expect(await errorCodeOf(user.stat('x'))).toBe('CARD_NOT_FOUND');
    expect(await errorCodeOf(user.writeFile('', new Uint8Array(1)))).toBe('CARD_BAD_NAME');
    expect(await errorCodeOf(user.writeFile('a\u0000b', new Uint8Array(1)))).toBe('CARD_BAD_NAME');
    expect(await errorCodeOf(user.writeFile('x'.repeat(256), new Uint8Array(1)))).toBe(
      'CARD_BAD_NAME',
    );
    await user.writeFile('a', new Uint8Array(1));
    await user.writeFile('b', new Uint8Array(2));
    expect(await errorCodeOf(user.rename('a', 'b'))).toBe('CARD_EXISTS');
    await user.rename('a', 'b', { overwrite: true });
    expect((await user.stat('b')).size).toBe(1);
    expect(await errorCodeOf(user.writeFile('b', new Uint8Array(3), { overwrite: false }))).toBe(
      'CARD_EXISTS',
    );
  });

  it('argument faults are INVALID_ARGUMENT; CARD_SIZE_MISMATCH only for a byte count', async () => {
    const card = await mount(await formatted());
    const user = card.zone('user');
    await user.writeFile('f', new Uint8Array(100));
    expect(await errorCodeOf(user.get('f', 50, 101))).toBe('INVALID_ARGUMENT');
    expect(await errorCodeOf(user.get('f', 60, 50))).toBe('INVALID_ARGUMENT');
    expect(await errorCodeOf(user.put('g', { size: -1 }))).toBe('INVALID_ARGUMENT');
    expect(await errorCodeOf(user.put('g', { size: 1.5 }))).toBe('INVALID_ARGUMENT');
    expect(await errorCodeOf(user.put('g', { checkpointBytes: 1024 }))).toBe('INVALID_ARGUMENT');
    const put = await user.put('g');
    const w = put.writable.getWriter();
    expect(await errorCodeOf(w.write('text' as unknown as Uint8Array))).toBe('INVALID_ARGUMENT');
    // Nothing was stored, and the zone goes on working.
    expect(await errorCodeOf(user.stat('g'))).toBe('CARD_NOT_FOUND');
    await user.writeFile('h', new Uint8Array(3));
    expect((await user.stat('h')).size).toBe(3);
  });
});

describe('card: flush behind a large put', () => {
  // A put flushes what it has written every 8 MiB while it seals the next batches. A flush that
  // fails there must fail the put: after a failed fdatasync the pages may be gone, and the
  // commit's own flush could succeed without them.
  it('flushes while the put runs, and a failed flush fails the put and commits nothing', async () => {
    const dev = await formatted(48 << 20, { user: 40 << 20 });
    const card = await mount(dev);
    const user = card.zone('user');
    const kept = bytes(5000, 3);
    await user.writeFile('kept', kept);
    const big = bytes(20 << 20, 4);

    const flush = dev.flush.bind(dev);
    let flushes = 0;
    // Only the first flush fails: the commit's own flush then succeeds, and the put must still fail.
    const failing = vi.spyOn(dev, 'flush').mockImplementation(async () => {
      if (++flushes === 1) throw new DeviceError('DEVICE_IO', 'flush failed (injected)');
      return flush();
    });
    const w = (await user.put('big', { size: big.length })).writable.getWriter();
    for (let off = 0; off < big.length; off += 1 << 20)
      await w.write(big.subarray(off, off + (1 << 20)));
    // Flushed behind the put before it was closed.
    expect(flushes).toBeGreaterThan(0);
    expect(await errorCodeOf(w.close())).toBe('DEVICE_IO');
    failing.mockRestore();

    expect((await user.list()).map((f) => f.name)).toEqual(['kept']);
    expect(Buffer.from(await user.readFile('kept')).equals(Buffer.from(kept))).toBe(true);
    // The zone goes on working, and a put with flushes that succeed stores the file.
    let good = 0;
    vi.spyOn(dev, 'flush').mockImplementation(() => {
      good++;
      return flush();
    });
    await pieces(big, 1 << 20).pipeTo((await user.put('big', { size: big.length })).writable);
    expect(good).toBeGreaterThan(1);
    expect(Buffer.from(await user.readFile('big')).equals(Buffer.from(big))).toBe(true);
    await card.unmount();
  });
});

describe('card: metadata writes behind the commit', () => {
  // The sealed blocks of a commit are written without waiting for each other; the commit's
  // flush waits for all of them. A slow device shows them overlapping, and everything reads
  // back (also mid-commit, by later operations) as written.
  it('overlaps the sealed writes of a commit and reads back what they wrote', async () => {
    const dev = await formatted();
    const card = await mount(dev);
    const user = card.zone('user');
    const write = dev.write.bind(dev);
    let inFlight = 0;
    let most = 0;
    vi.spyOn(dev, 'write').mockImplementation(async (offset, data) => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 2));
      try {
        await write(offset, data);
      } finally {
        inFlight--;
      }
    });
    const files = Array.from({ length: 40 }, (_, i) => bytes(100 + i * 97, i + 1));
    for (const [i, f] of files.entries()) await user.writeFile(`f${i}`, f);
    await user.rename('f3', 'g3');
    await user.delete('f4');
    expect(most).toBeGreaterThan(1);
    const check = async (z: CardZone) => {
      expect((await z.list()).length).toBe(39);
      for (const [i, f] of files.entries()) {
        if (i === 4) continue;
        const got = await z.readFile(i === 3 ? 'g3' : `f${i}`);
        expect(Buffer.from(got).equals(Buffer.from(f)), `file ${i}`).toBe(true);
      }
    };
    await check(user);
    vi.restoreAllMocks();
    await card.unmount({ keepDeviceOpen: true });
    await check((await mount(dev)).zone('user'));
  });

  it('a sealed write that fails fails its commit with the device error, and commits nothing', async () => {
    const dev = await formatted();
    const card = await mount(dev);
    const user = card.zone('user');
    const kept = bytes(5000, 7);
    await user.writeFile('kept', kept);
    const write = dev.write.bind(dev);
    let sealed = 0;
    // Content of a 5000-byte file is two blocks; metadata blocks are one each.
    vi.spyOn(dev, 'write').mockImplementation(async (offset, data) => {
      if (data.length === 4096 && ++sealed === 2)
        throw new DeviceError('DEVICE_IO', 'write failed (injected)');
      return write(offset, data);
    });
    expect(await errorCodeOf(user.writeFile('lost', bytes(5000, 8)))).toBe('DEVICE_IO');
    vi.restoreAllMocks();
    // Whether anything reached the card is unknown to the zone: it asks for a remount.
    expect(await errorCodeOf(user.writeFile('after', bytes(10)))).toBe('CARD_NOT_MOUNTED');
    await card.unmount({ keepDeviceOpen: true });
    const again = (await mount(dev)).zone('user');
    expect((await again.list()).map((f) => f.name)).toEqual(['kept']);
    expect(Buffer.from(await again.readFile('kept')).equals(Buffer.from(kept))).toBe(true);
    await again.writeFile('after', bytes(10));
    expect((await again.list()).map((f) => f.name).sort()).toEqual(['after', 'kept']);
    expect((await fsck(dev, { cid: CID, keys: KEYS })).ok).toBe(true);
  });
});

describe('card: content writes in flight during a put', () => {
  const ZONES = {
    operator: 64 << 10,
    advertising: 64 << 10,
    multimedia: 512 << 10,
    user: 10 << 20,
  };
  const slow = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
  // Counts the writes in flight; `plan` may delay or fail a write (by call number, offset, size).
  function watchWrites(
    dev: MemoryDevice,
    plan: (call: number, offset: number, data: Uint8Array) => Promise<void> = () => slow(0),
  ) {
    const write = dev.write.bind(dev);
    const seen = { inFlight: 0, calls: 0 };
    vi.spyOn(dev, 'write').mockImplementation(async (offset, data) => {
      const call = seen.calls++;
      seen.inFlight++;
      try {
        await plan(call, offset, data);
        await write(offset, data);
      } finally {
        seen.inFlight--;
      }
    });
    return seen;
  }
  // The device as it is, without the spies, mounted afresh: the user zone.
  async function remount(card: Card, dev: MemoryDevice): Promise<CardZone> {
    vi.restoreAllMocks();
    await card.unmount({ keepDeviceOpen: true });
    return (await mount(dev)).zone('user');
  }

  it('writes landing late and out of order read back as put, across checkpoints', async () => {
    const dev = await formatted(12 << 20, ZONES);
    const card = await mount(dev);
    const user = card.zone('user');
    // Batches (writes longer than a block) land after uneven delays, metadata sooner.
    const seen = watchWrites(dev, (call, _offset, data) =>
      slow([3, 1, 5, 2][call % 4]! * (data.length > 4096 ? 10 : 1)),
    );
    const data = bytes(5 * 1024 * 1024 + 12345, 3);
    // Checkpoints between batches: each leaves a partial block that the next batch rewrites.
    const put = await user.put('big', { sourceTag: 'sha256:x', checkpointBytes: 1536 * 1024 });
    await pieces(data, 300_000).pipeTo(put.writable);
    expect(seen.inFlight).toBe(0);
    vi.restoreAllMocks();
    expect(Buffer.from(await user.readFile('big')).equals(Buffer.from(data))).toBe(true);
    const again = await remount(card, dev);
    expect(Buffer.from(await again.readFile('big')).equals(Buffer.from(data))).toBe(true);
    expect((await fsck(dev, { cid: CID, keys: KEYS })).ok).toBe(true);
  });

  it('a batch whose first write fails reports only once its other writes have landed', async () => {
    const dev = await formatted(12 << 20, ZONES);
    const card = await mount(dev);
    const user = card.zone('user');
    const kept = bytes(70_000, 5);
    await user.writeFile('kept', kept);
    // After a checkpoint the next batch is two writes: the partial block rewritten in place (one
    // block inside an earlier batch), then the rest. The rewrite fails at once; the rest is slow.
    const batches: [number, number][] = [];
    const inBatch = (o: number) => batches.some(([a, b]) => o >= a && o < b);
    const seen = watchWrites(dev, async (_call, offset, data) => {
      if (data.length === 4096 && inBatch(offset))
        throw new DeviceError('DEVICE_IO', 'write failed (injected)');
      if (data.length > 4096) {
        batches.push([offset, offset + data.length]);
        await slow(30);
      }
    });
    const put = await user.put('big', { sourceTag: 'sha256:y', checkpointBytes: 1536 * 1024 });
    const error = await errorCodeOf(pieces(bytes(4 << 20, 6), 1 << 20).pipeTo(put.writable));
    expect(error).toBe('DEVICE_IO');
    expect(seen.inFlight).toBe(0);
    const again = await remount(card, dev);
    expect((await again.list()).map((f) => f.name)).toEqual(['kept']);
    expect(Buffer.from(await again.readFile('kept')).equals(Buffer.from(kept))).toBe(true);
    expect((await fsck(dev, { cid: CID, keys: KEYS })).ok).toBe(true);
  });

  it('a resume that fails while sealing the prefix again reports once its writes have landed', async () => {
    const dev = await formatted(12 << 20, ZONES);
    const card = await mount(dev);
    const user = card.zone('user');
    const data = bytes(4 << 20, 9);
    const put = await user.put('movie', {
      size: data.length,
      sourceTag: 'sha256:z',
      checkpointBytes: 1 << 20,
    });
    const w = put.writable.getWriter();
    await w.write(data.subarray(0, 3 << 20));
    await w.abort(new Error('network lost'));
    expect((await user.pending())[0]!.durableBytes).toBeGreaterThanOrEqual(2 << 20);
    // The resume reads the stored prefix back 1 MiB at a time and seals it again; its first
    // batch lands slowly and the prefix's second read fails meanwhile.
    const seen = watchWrites(dev, (_call, _offset, d) => slow(d.length > 4096 ? 30 : 0));
    let bigReads = 0;
    for (const m of ['read', 'readInto'] as const) {
      const original = dev[m].bind(dev) as (...a: unknown[]) => Promise<unknown>;
      vi.spyOn(dev, m).mockImplementation(((...args: unknown[]) => {
        const length = m === 'read' ? (args[1] as number) : (args[1] as Uint8Array).length;
        if (length >= 512 << 10 && ++bigReads === 2)
          return Promise.reject(new DeviceError('DEVICE_IO', 'read failed (injected)'));
        return original(...args);
      }) as never);
    }
    const resumed = user.put('movie', { size: data.length, sourceTag: 'sha256:z', resume: true });
    expect(await errorCodeOf(resumed)).toBe('DEVICE_IO');
    expect(seen.inFlight).toBe(0);
    // The zone asks for a remount; the checkpoint is still there and resumes.
    const again = await remount(card, dev);
    expect(await finish(again, 'movie', data, 'sha256:z')).toBeGreaterThanOrEqual(2 << 20);
    expect(Buffer.from(await again.readFile('movie')).equals(Buffer.from(data))).toBe(true);
    expect((await fsck(dev, { cid: CID, keys: KEYS })).ok).toBe(true);
  });
});

describe('card: mount options', () => {
  it('the backend asked for at mount runs file contents too', async () => {
    const dev = await formatted();
    const card = await mountCard(dev, { cid: CID, keys: KEYS, backend: 'noble' });
    const spy = vi.spyOn(getBackend('noble'), 'importKey');
    await card.zone('user').writeFile('a', new Uint8Array(100));
    await card.zone('user').readFile('a');
    expect(spy.mock.calls.length).toBeGreaterThanOrEqual(2);
    spy.mockRestore();
  });

  it('a read-only mount reads, writes nothing, and refuses changes', async () => {
    const dev = await formatted();
    await (await mount(dev)).zone('user').writeFile('a', bytes(1000));
    const image = dev.snapshot();
    const ro = await mountCard(dev, { cid: CID, keys: KEYS, readOnly: true });
    expect((await ro.zone('user').readFile('a')).length).toBe(1000);
    expect(await errorCodeOf(ro.zone('user').writeFile('b', new Uint8Array(1)))).toBe(
      'CARD_READ_ONLY',
    );
    expect(await errorCodeOf(ro.zone('user').delete('a'))).toBe('CARD_READ_ONLY');
    expect(await errorCodeOf(ro.erase(['user']))).toBe('CARD_READ_ONLY');
    expect(Buffer.from(dev.snapshot()).equals(Buffer.from(image))).toBe(true);
  });
});

describe('card: identity, keys, rollback, erase', () => {
  it('another SIM, another CID, and an unformatted device are reported as exactly that', async () => {
    const dev = await formatted();
    const otherSim = deriveCardKeys(new Uint8Array(32).fill(9), CID);
    expect(await errorCodeOf(mountCard(dev, { cid: CID, keys: otherSim }))).toBe('CARD_WRONG_SIM');
    const otherCid = CID.slice();
    otherCid[10]! ^= 1;
    expect(
      await errorCodeOf(mountCard(dev, { cid: otherCid, keys: deriveCardKeys(BINDING, otherCid) })),
    ).toBe('CARD_CID_MISMATCH');
    expect(await errorCodeOf(readCardInfo(new MemoryDevice(1 << 20)))).toBe('CARD_NOT_FORMATTED');
    const info = await readCardInfo(dev);
    expect(info.suite).toBe('cobblestone-256');
    expect(info.zones.map((z) => z.zone)).toEqual([
      'operator',
      'advertising',
      'multimedia',
      'user',
    ]);
  });

  it('a zone older than its anchor is CARD_ROLLED_BACK', async () => {
    const dev = await formatted();
    const old = dev.snapshot();
    const card = await mount(dev);
    await card.zone('user').writeFile('a', new Uint8Array(10));
    const anchor = card.generations().user!;
    expect(anchor).toBeGreaterThan(1);
    expect(await errorCodeOf(mount(MemoryDevice.from(old), { user: anchor }))).toBe(
      'CARD_ROLLED_BACK',
    );
    await card.unmount({ keepDeviceOpen: true });
    expect((await mount(dev, { user: anchor })).zone('user').generation).toBe(anchor);
  });

  it('a zeroed newest superblock is CARD_ROLLED_BACK against the anchor (and an older state without one)', async () => {
    const dev = await formatted();
    const card = await mount(dev);
    const user = card.zone('user');
    await user.writeFile('a', bytes(100, 1));
    await user.writeFile('b', bytes(100, 2));
    const anchors = card.generations();
    const g = anchors.user!;
    await card.unmount({ keepDeviceOpen: true });
    // The user zone is the last: its first block follows the other three.
    const info = await readCardInfo(dev);
    const start = 2 + info.zones.slice(0, 3).reduce((n, z) => n + z.capacity / 4096, 0);
    await dev.write((start + (g % 2)) * 4096, new Uint8Array(4096));
    expect(await errorCodeOf(mount(dev, anchors))).toBe('CARD_ROLLED_BACK');
    expect(await errorCodeOf(fsck(dev, { cid: CID, keys: KEYS, anchors }))).toBe(
      'CARD_ROLLED_BACK',
    );
    // Without the SIM's anchor the previous commit is all a reader can see.
    const old = await mount(dev);
    expect(old.zone('user').generation).toBe(g - 1);
    expect((await old.zone('user').list()).map((f) => f.name)).toEqual(['a']);
  });

  it('crypto-erase makes a zone empty and its old data unrecoverable; other zones keep theirs', async () => {
    const dev = await formatted();
    const card = await mount(dev);
    await card.zone('user').writeFile('secret', bytes(5000));
    await card.zone('multimedia').writeFile('song', bytes(3000));
    const before = dev.snapshot();
    await card.erase(['user']);
    expect(await card.zone('user').list()).toEqual([]);
    await card.unmount({ keepDeviceOpen: true });
    const again = await mount(dev);
    expect(await again.zone('user').list()).toEqual([]);
    expect((await again.zone('multimedia').list()).map((f) => f.name)).toEqual(['song']);
    // The pre-erase image with the new header's salts cannot be read: the old salt is gone.
    const mixed = MemoryDevice.from(before);
    await mixed.write(0, dev.snapshot().subarray(0, 8192));
    const m = await mount(mixed);
    expect(m.damaged.map((d) => d.zone)).toEqual(['user']);
    expect((await fsck(dev, { cid: CID, keys: KEYS })).ok).toBe(true);
  });

  it('an erased zone keeps counting generations, so the anchors a SIM holds stay valid', async () => {
    const dev = await formatted();
    const card = await mount(dev);
    await card.zone('user').writeFile('a', bytes(100));
    await card.zone('user').writeFile('b', bytes(100));
    const anchor = card.zone('user').generation;
    await card.erase(['user']);
    expect(card.zone('user').generation).toBeGreaterThan(anchor);
    await card.unmount({ keepDeviceOpen: true });
    expect(await (await mount(dev, { user: anchor })).zone('user').list()).toEqual([]);
  });

  it('an erase cut right after its first header write is finished by a mount above the anchored generation', async () => {
    const dev = await formatted();
    const card = await mount(dev);
    await card.zone('user').writeFile('a', bytes(100));
    const anchor = card.zone('user').generation;
    const image = dev.snapshot();
    // Replay the erase on a fault device that loses power at the first write after the header.
    const fault = new FaultDevice(MemoryDevice.from(image), {
      powerCut: { atWrite: 2, mode: 'drop-all' },
    });
    await expect((await mount(fault)).erase(['user'])).rejects.toBeInstanceOf(PowerCutError);
    const after = fault.afterPowerCut();
    const finished = await mount(after, { user: anchor });
    expect(finished.zone('user').generation).toBeGreaterThan(anchor);
    expect(await finished.zone('user').list()).toEqual([]);
    await finished.unmount({ keepDeviceOpen: true });
    expect((await mount(after, { user: anchor })).zone('user').generation).toBeGreaterThan(anchor);
  });

  it('an interrupted put resumes from its checkpoint when the source is unchanged, and restarts otherwise', async () => {
    const dev = await formatted(4 << 20, {
      operator: 64 << 10,
      advertising: 64 << 10,
      multimedia: 64 << 10,
      user: 3 << 20,
    });
    const card = await mount(dev);
    const user = card.zone('user');
    const data = bytes(300_000, 5);
    const put = await user.put('movie', {
      size: data.length,
      sourceTag: 'sha256:abc',
      checkpointBytes: 64 << 10,
    });
    const w = put.writable.getWriter();
    await w.write(data.subarray(0, 200_000));
    await w.abort(new Error('network lost'));
    const pending = await user.pending();
    expect(pending).toHaveLength(1);
    expect(pending[0]!.durableBytes).toBeGreaterThan(0);
    expect(pending[0]!.durableBytes % 16384).toBe(0);
    expect(await user.list()).toEqual([]);

    await card.unmount({ keepDeviceOpen: true });
    const second = await mount(dev);
    const resumed = await second
      .zone('user')
      .put('movie', { size: data.length, sourceTag: 'sha256:abc', resume: true });
    expect(resumed.offset).toBe(pending[0]!.durableBytes);
    const w2 = resumed.writable.getWriter();
    await w2.write(data.subarray(resumed.offset));
    await w2.close();
    await second.unmount({ keepDeviceOpen: true });
    const z = (await mount(dev)).zone('user');
    expect(Buffer.from(await z.readFile('movie')).equals(Buffer.from(data))).toBe(true);
    expect(await z.pending()).toEqual([]);
    expect((await fsck(dev, { cid: CID, keys: KEYS })).ok).toBe(true);

    // A source changed inside the stored prefix but under the same tag: the resume seals the
    // stored prefix again under a fresh salt, so no chunk position is sealed twice under one key
    // and nonce, whatever the source says now.
    await interrupt(z, 'clip', data, 'etag-same', 200_000);
    const interrupted = (await z.checkView().records()).find((r) => r.name === 'clip')!;
    expect(interrupted.pending).toBe(true);
    const changed = data.slice();
    changed[1000]! ^= 0xff;
    changed[250_000]! ^= 0xff;
    const offset = await finish(z, 'clip', changed, 'etag-same');
    expect(offset).toBe(((interrupted.ctLength - 56) / 16400) * 16384);
    const stored = (await z.checkView().records()).find((r) => r.name === 'clip')!;
    expect(stored.pending).toBe(false);
    expect(Buffer.from(stored.salt).equals(Buffer.from(interrupted.salt))).toBe(false);
    expect(Buffer.from(stored.fileId).equals(Buffer.from(interrupted.fileId))).toBe(true);
    // The stored prefix, then the source from the offset on.
    const expected = Buffer.concat([data.subarray(0, offset), changed.subarray(offset)]);
    expect(Buffer.from(await z.readFile('clip')).equals(expected)).toBe(true);
    expect((await fsck(dev, { cid: CID, keys: KEYS })).ok).toBe(true);

    // A different source restarts from zero with a fresh salt.
    await interrupt(z, 'movie2', data, 'etag-1', 150_000);
    expect(await finish(z, 'movie2', data, 'etag-2')).toBe(0);
    expect(Buffer.from(await z.readFile('movie2')).equals(Buffer.from(data))).toBe(true);
    expect((await fsck(dev, { cid: CID, keys: KEYS })).ok).toBe(true);
  });
});
