import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FaultDevice,
  MemoryDevice,
  PowerCutError,
  type PowerCutMode,
  type PowerCutPlan,
} from '../../src/card/index.js';
import { codeOf, expectBytes, pattern } from './device-test-util.js';

const S = 512;
const MODES: PowerCutMode[] = ['drop-all', 'keep-all', 'keep-random-subset', 'reorder'];

function block(fill: number, sectors = 1): Uint8Array {
  return new Uint8Array(sectors * S).fill(fill);
}

/** Run `op` on a FaultDevice, swallowing only the power cut. */
async function runUntilCut(
  dev: FaultDevice,
  op: (dev: FaultDevice) => Promise<void>,
): Promise<boolean> {
  try {
    await op(dev);
    return false;
  } catch (e) {
    if (e instanceof PowerCutError) return true;
    throw e;
  }
}

describe('FaultDevice basics', () => {
  it('caches writes until flush, with read-your-writes', async () => {
    const platter = new MemoryDevice(16 * S);
    const dev = new FaultDevice(platter);
    await dev.write(0, block(1, 2));
    expect(dev.pendingCount).toBe(1);
    expectBytes(await dev.read(0, 2 * S), block(1, 2));
    expectBytes(platter.readSync(0, 2 * S), block(0, 2));
    await dev.write(S, block(2)); // overlaps the first
    expectBytes(await dev.read(0, 2 * S), new Uint8Array([...block(1), ...block(2)]));
    await dev.flush();
    expect(dev.pendingCount).toBe(0);
    expect(dev.flushCount).toBe(1);
    expect(dev.writeCount).toBe(2);
    expectBytes(platter.readSync(0, 2 * S), new Uint8Array([...block(1), ...block(2)]));
  });

  it('checks alignment and range like every device', async () => {
    const dev = new FaultDevice(new MemoryDevice(8 * S));
    expect(await codeOf(dev.write(1, block(0)))).toBe('DEVICE_BAD_ALIGNMENT');
    expect(await codeOf(dev.read(0, 100))).toBe('DEVICE_BAD_ALIGNMENT');
    expect(await codeOf(dev.write(8 * S, block(0)))).toBe('DEVICE_OUT_OF_RANGE');
    expect(await codeOf(dev.read(7 * S, 2 * S))).toBe('DEVICE_OUT_OF_RANGE');
    expect(dev.writeCount).toBe(0); // rejected calls never reach the device
  });

  it('validates its options', async () => {
    const p = new MemoryDevice(8 * S);
    expect(
      await codeOf(() => new FaultDevice(p, { powerCut: { mode: 'nope' as PowerCutMode } })),
    ).toBe('INVALID_ARGUMENT');
    expect(
      await codeOf(() => new FaultDevice(p, { powerCut: { mode: 'drop-all', atWrite: -1 } })),
    ).toBe('INVALID_ARGUMENT');
    expect(
      await codeOf(() => new FaultDevice(p, { powerCut: { mode: 'drop-all', seed: 1.5 } })),
    ).toBe('INVALID_ARGUMENT');
    expect(await codeOf(() => new FaultDevice(p, { readErrorSectors: [8] }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(await codeOf(() => new FaultDevice(p, { writeErrorSectors: [-1] }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(await codeOf(() => new FaultDevice(p, { bitFlips: [{ offset: 0, bit: 8 }] }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(await codeOf(() => new FaultDevice(p, { bitFlips: [{ offset: 8 * S, bit: 0 }] }))).toBe(
      'INVALID_ARGUMENT',
    );
    await p.close();
    expect(await codeOf(() => new FaultDevice(p))).toBe('INVALID_ARGUMENT');
  });

  it('cuts power at the planned write and refuses every later call', async () => {
    const dev = new FaultDevice(new MemoryDevice(8 * S), {
      powerCut: { atWrite: 1, mode: 'keep-all' },
    });
    await dev.write(0, block(1));
    const err = await dev.write(S, block(2)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PowerCutError);
    expect((err as PowerCutError).code).toBe('DEVICE_POWER_CUT');
    expect(dev.poweredOff).toBe(true);
    expect(dev.writeCount).toBe(2);
    expect(await codeOf(dev.read(0, S))).toBe('DEVICE_POWER_CUT');
    expect(await codeOf(dev.write(0, block(3)))).toBe('DEVICE_POWER_CUT');
    expect(await codeOf(dev.flush())).toBe('DEVICE_POWER_CUT');
    expect(await codeOf(dev.close())).toBe('DEVICE_POWER_CUT');
    expect(dev.cutReport).toEqual({ cutAtWrite: 1, pending: [0], applied: [0], tornSectors: 0 });
    const after = dev.afterPowerCut();
    expectBytes(after.readSync(0, 2 * S), new Uint8Array([...block(1), ...block(0)]));
    // Each call gives an independent copy.
    after.writeSync(0, block(9));
    expect(dev.afterPowerCut().readSync(0, S)[0]).toBe(1);
  });

  it('drop-all loses the cache; keep-all keeps it, both with a cut between calls', async () => {
    for (const [mode, expected] of [
      ['drop-all', 0],
      ['keep-all', 7],
    ] as const) {
      const dev = new FaultDevice(new MemoryDevice(8 * S), { powerCut: { mode } });
      await dev.write(0, block(7));
      expect(dev.afterPowerCut().readSync(0, S)[0]).toBe(expected);
      expect(dev.cutReport?.cutAtWrite).toBeNull();
    }
  });

  it('tears the cut write at a sector boundary, reproducibly from the seed', async () => {
    const seen = new Set<number>();
    for (let seed = 0; seed < 64; seed++) {
      const plan: PowerCutPlan = { atWrite: 0, mode: 'drop-all', tear: true, seed };
      const results: Uint8Array[] = [];
      for (let run = 0; run < 2; run++) {
        const dev = new FaultDevice(new MemoryDevice(16 * S), { powerCut: plan });
        expect(await runUntilCut(dev, (d) => d.write(4 * S, block(0xee, 8)))).toBe(true);
        const torn = dev.cutReport!.tornSectors;
        expect(torn).toBeGreaterThanOrEqual(0);
        expect(torn).toBeLessThan(8);
        seen.add(torn);
        const after = dev.afterPowerCut().snapshot();
        const expected = new Uint8Array(16 * S);
        expected.fill(0xee, 4 * S, (4 + torn) * S);
        expectBytes(after, expected);
        results.push(after);
      }
      expectBytes(results[0]!, results[1]!);
    }
    expect(seen.size).toBeGreaterThan(4); // the seed really varies the tear
  });

  it('without tear the cut write is lost entirely', async () => {
    const dev = new FaultDevice(new MemoryDevice(8 * S), {
      powerCut: { atWrite: 0, mode: 'keep-all' },
    });
    expect(await runUntilCut(dev, (d) => d.write(0, block(5, 8)))).toBe(true);
    expectBytes(dev.afterPowerCut().snapshot(), new Uint8Array(8 * S));
  });

  it('reorder can land an earlier overlapping write after a later one', async () => {
    const outcomes = new Set<number>();
    for (let seed = 0; seed < 200; seed++) {
      const dev = new FaultDevice(new MemoryDevice(8 * S), { powerCut: { mode: 'reorder', seed } });
      await dev.write(0, block(1));
      await dev.write(0, block(2));
      outcomes.add(dev.afterPowerCut().readSync(0, S)[0]!);
    }
    expect([...outcomes].sort()).toEqual([0, 1, 2]);
  });

  it('keep-random-subset keeps some and drops some, always in order', async () => {
    const outcomes = new Set<string>();
    for (let seed = 0; seed < 100; seed++) {
      const dev = new FaultDevice(new MemoryDevice(8 * S), {
        powerCut: { mode: 'keep-random-subset', seed },
      });
      await dev.write(0, block(1));
      await dev.write(0, block(2));
      await dev.write(S, block(3));
      const after = dev.afterPowerCut();
      const applied = dev.cutReport!.applied;
      expect([...applied].sort()).toEqual(applied);
      outcomes.add(applied.join(','));
      const want0 = applied.includes(1) ? 2 : applied.includes(0) ? 1 : 0;
      expect(after.readSync(0, S)[0]).toBe(want0);
      expect(after.readSync(S, S)[0]).toBe(applied.includes(2) ? 3 : 0);
    }
    expect(outcomes.size).toBe(8);
  });

  it('walks every cut point of an operation learned from a clean run', async () => {
    // A toy commit protocol: data, flush, superblock, flush.
    const op = async (d: FaultDevice) => {
      await d.write(8 * S, block(0xd1, 8));
      await d.write(16 * S, block(0xd2, 8));
      await d.flush();
      await d.write(0, block(0x5b));
      await d.flush();
    };
    const clean = new FaultDevice(new MemoryDevice(32 * S));
    await op(clean);
    expect(clean.writeCount).toBe(3);
    for (let atWrite = 0; atWrite <= clean.writeCount; atWrite++) {
      for (const mode of MODES) {
        const dev = new FaultDevice(new MemoryDevice(32 * S), {
          powerCut: { atWrite, mode, tear: true, seed: atWrite },
        });
        const cut = await runUntilCut(dev, op);
        expect(cut).toBe(atWrite < clean.writeCount);
        const after = dev.afterPowerCut();
        // The invariant the protocol buys: a superblock on the platter implies both data blocks.
        if (after.readSync(0, S)[0] === 0x5b) {
          expect(after.readSync(8 * S, 8 * S).every((b) => b === 0xd1)).toBe(true);
          expect(after.readSync(16 * S, 8 * S).every((b) => b === 0xd2)).toBe(true);
        }
      }
    }
  });

  it('close flushes and then refuses calls, leaving the platter open', async () => {
    const platter = new MemoryDevice(8 * S);
    const dev = new FaultDevice(platter);
    await dev.write(0, block(4));
    await dev.close();
    await dev.close();
    expect(platter.readSync(0, S)[0]).toBe(4);
    expect(platter.closed).toBe(false);
    expect(await codeOf(dev.read(0, S))).toBe('DEVICE_CLOSED');
    expect(await codeOf(dev.write(0, block(1)))).toBe('DEVICE_CLOSED');
    expect(await codeOf(dev.flush())).toBe('DEVICE_CLOSED');
  });
});

describe('FaultDevice injected faults', () => {
  it('fails reads and writes that touch a chosen sector with DEVICE_IO', async () => {
    const dev = new FaultDevice(new MemoryDevice(16 * S), {
      readErrorSectors: [3],
      writeErrorSectors: [9],
    });
    expect(await codeOf(dev.read(0, 8 * S))).toBe('DEVICE_IO');
    expect(await codeOf(dev.read(3 * S, S))).toBe('DEVICE_IO');
    expect((await dev.read(4 * S, 4 * S)).length).toBe(4 * S);
    expect((await dev.read(0, 3 * S)).length).toBe(3 * S);
    expect(await codeOf(dev.write(8 * S, block(1, 8)))).toBe('DEVICE_IO');
    expect(dev.pendingCount).toBe(0);
    expect(dev.writeCount).toBe(1);
    await dev.write(10 * S, block(1, 2));
    expect(dev.pendingCount).toBe(1);
  });

  it('flips chosen bits on read without touching the platter', async () => {
    const platter = new MemoryDevice(8 * S);
    const dev = new FaultDevice(platter, {
      bitFlips: [
        { offset: S + 3, bit: 7 },
        { offset: 2 * S, bit: 0 },
      ],
    });
    await dev.write(S, block(0x0f, 2));
    const got = await dev.read(S, 2 * S);
    expect(got[3]).toBe(0x8f);
    expect(got[S]).toBe(0x0e);
    expect(got.filter((b) => b !== 0x0f).length).toBe(2);
    await dev.flush();
    expect(platter.readSync(S, S)[3]).toBe(0x0f);
    expect((await dev.read(2 * S, S))[0]).toBe(0x0e);
    expect((await dev.read(0, S))[0]).toBe(0);
  });
});

describe('FaultDevice power-cut property', () => {
  const SECTORS = 24;
  type Op = { kind: 'write'; sector: number; count: number; seed: number } | { kind: 'flush' };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('write' as const),
        sector: fc.nat({ max: SECTORS - 1 }),
        count: fc.integer({ min: 1, max: 8 }),
        seed: fc.nat(255),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('flush' as const) }) },
  );

  it('leaves the flushed state plus a mode-consistent subset of the cache, torn only at sector boundaries', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { maxLength: 25 }),
        fc.nat(30),
        fc.constantFrom(...MODES),
        fc.boolean(),
        fc.integer(),
        async (ops, atWrite, mode, tear, seed) => {
          const dev = new FaultDevice(new MemoryDevice(SECTORS * S), {
            powerCut: { atWrite, mode, tear, seed },
          });
          const flushed = new Uint8Array(SECTORS * S);
          let pending: { index: number; offset: number; data: Uint8Array }[] = [];
          let cutWrite: { offset: number; data: Uint8Array } | undefined;
          let index = 0;
          for (const op of ops) {
            if (op.kind === 'flush') {
              await dev.flush();
              for (const w of pending) flushed.set(w.data, w.offset);
              pending = [];
              continue;
            }
            const offset = op.sector * S;
            const data = pattern(Math.min(op.count, SECTORS - op.sector) * S, op.seed);
            if (index === atWrite) {
              await expect(dev.write(offset, data)).rejects.toBeInstanceOf(PowerCutError);
              cutWrite = { offset, data };
              break;
            }
            await dev.write(offset, data);
            pending.push({ index: index++, offset, data });
            // Read-your-writes: the device shows flushed + cache in order.
            const view = flushed.slice();
            for (const w of pending) view.set(w.data, w.offset);
            expectBytes(await dev.read(0, SECTORS * S), view);
          }
          const after = dev.afterPowerCut().snapshot();
          const report = dev.cutReport!;
          expect(report.cutAtWrite).toBe(cutWrite ? atWrite : null);
          expect(report.pending).toEqual(pending.map((w) => w.index));
          const applied = report.applied;
          expect(new Set(applied).size).toBe(applied.length);
          for (const i of applied) expect(report.pending).toContain(i);
          if (mode === 'drop-all') expect(applied).toEqual([]);
          if (mode === 'keep-all') expect(applied).toEqual(report.pending);
          if (mode === 'keep-random-subset')
            expect([...applied].sort((a, b) => a - b)).toEqual(applied);
          if (!tear || !cutWrite) expect(report.tornSectors).toBe(0);
          else expect(report.tornSectors).toBeLessThan(cutWrite.data.length / S);

          // Exactly the reported outcome...
          const expected = flushed.slice();
          for (const i of applied) {
            const w = pending.find((p) => p.index === i)!;
            expected.set(w.data, w.offset);
          }
          if (cutWrite)
            expected.set(cutWrite.data.subarray(0, report.tornSectors * S), cutWrite.offset);
          expectBytes(after, expected);

          // ...and, independently of the report, every sector holds a value some write could have left.
          for (let s = 0; s < SECTORS; s++) {
            const got = after.subarray(s * S, (s + 1) * S);
            const candidates: Uint8Array[] = [flushed.subarray(s * S, (s + 1) * S)];
            for (const w of pending) {
              if (s * S >= w.offset && s * S < w.offset + w.data.length)
                candidates.push(w.data.subarray(s * S - w.offset, s * S - w.offset + S));
            }
            if (
              cutWrite &&
              tear &&
              s * S >= cutWrite.offset &&
              s * S < cutWrite.offset + cutWrite.data.length
            ) {
              candidates.push(
                cutWrite.data.subarray(s * S - cutWrite.offset, s * S - cutWrite.offset + S),
              );
            }
            expect(candidates.some((c) => c.every((b, i) => b === got[i]))).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
