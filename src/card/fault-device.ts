/**
 * A block device that fails on purpose, for crash tests in the spirit of SQLite's crash tests and
 * Linux dm-log-writes. A {@link FaultDevice} wraps a durable {@link MemoryDevice}, "the platter".
 * Writes wait in a volatile write cache until `flush` applies them to the platter in order. A
 * {@link PowerCutPlan} says during which write power fails and what becomes of the writes still in
 * the cache; after the cut every call throws {@link PowerCutError}, and
 * {@link FaultDevice.afterPowerCut} shows the platter as the power-cycled card would.
 *
 * Writes are numbered from 0 in call order; {@link FaultDevice.writeCount} is the number issued so
 * far. A test first runs an operation without a cut to learn its write count `n`, then re-runs it
 * once per `atWrite` in `0..n-1` (and once cutting after the operation via `afterPowerCut`).
 *
 * Optional faults: a read or write touching a chosen sector fails with `DEVICE_IO`, and chosen
 * bits read flipped. Portable: no `node:` imports.
 *
 * @module
 */
import { ArgumentError } from '../errors.js';
import type { BlockDevice } from './device.js';
import { assertAccess, assertWriteData, settle } from './device-access.js';
import { DeviceError, PowerCutError } from './device-error.js';
import { MemoryDevice } from './memory-device.js';

/**
 * What happens at a power cut to the writes that completed but were not yet flushed:
 * - `drop-all`: none reaches the platter;
 * - `keep-all`: all reach it, in issue order;
 * - `keep-random-subset`: a random subset reaches it, in issue order;
 * - `reorder`: a random subset reaches it in a random order (the worst a write cache may do:
 *   where two of them overlap, the earlier one may land last).
 *
 * Random choices come from the plan's seed, so a failing case replays exactly.
 *
 * @example
 * ```ts
 * import type { PowerCutMode } from 'simvault/card';
 * const modes: PowerCutMode[] = ['drop-all', 'keep-all', 'keep-random-subset', 'reorder'];
 * ```
 */
export type PowerCutMode = 'drop-all' | 'keep-all' | 'keep-random-subset' | 'reorder';

/**
 * When power fails and what survives.
 *
 * @example
 * ```ts
 * import type { PowerCutPlan } from 'simvault/card';
 * // Power fails during the fourth write (index 3); half of it may land; the cache is lost.
 * const plan: PowerCutPlan = { atWrite: 3, mode: 'drop-all', tear: true, seed: 42 };
 * ```
 */
export interface PowerCutPlan {
  /**
   * 0-based index of the write call during which power fails: that write throws
   * {@link PowerCutError} and lands only as `tear` allows. Omitted, or larger than the number of
   * writes made, power fails only when {@link FaultDevice.afterPowerCut} is called.
   */
  readonly atWrite?: number;
  /** What becomes of completed but unflushed writes; see {@link PowerCutMode}. */
  readonly mode: PowerCutMode;
  /**
   * When true, the write being cut lands partly: a prefix of whole sectors, from none up to all
   * but one, chosen by the seed, applied after the cached writes. When false it is lost.
   * Default false.
   */
  readonly tear?: boolean;
  /** Seed of every random choice of the cut (a 32-bit integer). Default 1. */
  readonly seed?: number;
}

/**
 * One bit that reads flipped (the platter keeps the true value).
 *
 * @example
 * ```ts
 * import type { BitFlip } from 'simvault/card';
 * const flip: BitFlip = { offset: 4096, bit: 0 };
 * ```
 */
export interface BitFlip {
  /** Absolute byte offset on the device. */
  readonly offset: number;
  /** Bit within the byte, 0 (least significant) to 7. */
  readonly bit: number;
}

/**
 * Options of {@link FaultDevice}.
 *
 * @example
 * ```ts
 * import { FaultDevice, MemoryDevice, type FaultDeviceOptions } from 'simvault/card';
 * const options: FaultDeviceOptions = { powerCut: { atWrite: 5, mode: 'reorder', seed: 7 }, readErrorSectors: [100] };
 * const dev = new FaultDevice(new MemoryDevice(1 << 20), options);
 * ```
 */
export interface FaultDeviceOptions {
  /** When power fails; without one, power fails only at {@link FaultDevice.afterPowerCut}, dropping the cache. */
  readonly powerCut?: PowerCutPlan;
  /** Sector numbers (offset / sector size) on which every read fails with `DEVICE_IO`. */
  readonly readErrorSectors?: readonly number[];
  /** Sector numbers on which every write fails with `DEVICE_IO` (the write is not cached). */
  readonly writeErrorSectors?: readonly number[];
  /** Bits that read flipped. */
  readonly bitFlips?: readonly BitFlip[];
}

/**
 * What the power cut did, for a test to check or print.
 *
 * @example
 * ```ts
 * import { FaultDevice, MemoryDevice } from 'simvault/card';
 * const dev = new FaultDevice(new MemoryDevice(4096), { powerCut: { mode: 'keep-all' } });
 * await dev.write(0, new Uint8Array(512));
 * dev.afterPowerCut();
 * dev.cutReport; // { cutAtWrite: null, pending: [0], applied: [0], tornSectors: 0 }
 * ```
 */
export interface PowerCutReport {
  /** Index of the write during which power failed, or null when it failed between calls. */
  readonly cutAtWrite: number | null;
  /** Indexes of the completed, unflushed writes at the cut, in issue order. */
  readonly pending: readonly number[];
  /** The subset of `pending` that reached the platter, in the order applied. */
  readonly applied: readonly number[];
  /** Leading sectors of the cut write that reached the platter, after `applied`. */
  readonly tornSectors: number;
}

interface CachedWrite {
  readonly index: number;
  readonly offset: number;
  readonly data: Uint8Array;
}

/**
 * A fault-injecting {@link BlockDevice} over a durable {@link MemoryDevice}. Reads see the cached
 * writes (read-your-writes); the platter sees them only at `flush` or, as the plan says, at the
 * cut. `close` flushes but leaves the platter open.
 *
 * @example
 * ```ts
 * import { FaultDevice, MemoryDevice, PowerCutError } from 'simvault/card';
 * const platter = new MemoryDevice(1 << 20);
 * const dev = new FaultDevice(platter, { powerCut: { atWrite: 1, mode: 'drop-all' } });
 * await dev.write(0, new Uint8Array(512).fill(1));
 * await dev.write(512, new Uint8Array(512).fill(2)).catch((e) => {
 *   if (!(e instanceof PowerCutError)) throw e;
 * });
 * const after = dev.afterPowerCut();
 * after.readSync(0, 512)[0]; // 0: the first write was never flushed
 * ```
 */
export class FaultDevice implements BlockDevice {
  /** Bytes per sector, the platter's. */
  readonly sectorSize: number;
  /** Capacity in bytes, the platter's. */
  readonly size: number;
  private readonly platter: MemoryDevice;
  private readonly plan: PowerCutPlan;
  private readonly readErrors: ReadonlySet<number>;
  private readonly writeErrors: ReadonlySet<number>;
  private readonly flips: readonly BitFlip[];
  private cache: CachedWrite[] = [];
  private writes = 0;
  private flushes = 0;
  private report: PowerCutReport | undefined;
  private closed = false;

  /**
   * A fault device over `platter`, with an empty write cache and power on.
   *
   * @param platter - the durable medium; it is written only by `flush` and the cut
   * @param options - see {@link FaultDeviceOptions}
   */
  constructor(platter: MemoryDevice, options: FaultDeviceOptions = {}) {
    if (!(platter instanceof MemoryDevice) || platter.closed) {
      throw new ArgumentError('the platter must be an open MemoryDevice');
    }
    this.platter = platter;
    this.sectorSize = platter.sectorSize;
    this.size = platter.size;
    this.plan = checkPlan(options.powerCut ?? { mode: 'drop-all' });
    const sectors = platter.size / platter.sectorSize;
    this.readErrors = checkSectors(options.readErrorSectors ?? [], sectors, 'readErrorSectors');
    this.writeErrors = checkSectors(options.writeErrorSectors ?? [], sectors, 'writeErrorSectors');
    this.flips = checkFlips(options.bitFlips ?? [], platter.size);
  }

  /** Write calls issued so far (including a failed or cut one; not counting rejected arguments). */
  get writeCount(): number {
    return this.writes;
  }

  /** Flushes completed so far. */
  get flushCount(): number {
    return this.flushes;
  }

  /** Completed writes waiting in the volatile cache. */
  get pendingCount(): number {
    return this.cache.length;
  }

  /** Whether power has failed. */
  get poweredOff(): boolean {
    return this.report !== undefined;
  }

  /** What the cut did, once power has failed. */
  get cutReport(): PowerCutReport | undefined {
    return this.report;
  }

  /**
   * Read through the cache: the platter overlaid with cached writes, then the bit flips.
   *
   * @param offset - byte offset, a multiple of the sector size
   * @param length - byte count, a multiple of the sector size
   * @returns a fresh copy of the bytes
   *
   * @example
   * ```ts
   * import { FaultDevice, MemoryDevice } from 'simvault/card';
   * const dev = new FaultDevice(new MemoryDevice(4096));
   * await dev.write(0, new Uint8Array(512).fill(3));
   * (await dev.read(0, 512))[0]; // 3, though not flushed
   * ```
   */
  read(offset: number, length: number): Promise<Uint8Array> {
    return settle(() => {
      this.assertUsable();
      assertAccess(this, offset, length);
      const hit = this.touched(this.readErrors, offset, length);
      if (hit !== undefined)
        throw new DeviceError('DEVICE_IO', `injected read error on sector ${hit}`);
      const out = this.platter.readSync(offset, length);
      for (const w of this.cache) overlay(out, offset, w);
      for (const f of this.flips) {
        if (f.offset >= offset && f.offset < offset + length) out[f.offset - offset]! ^= 1 << f.bit;
      }
      return out;
    });
  }

  /**
   * Put a write in the volatile cache, or, if this is the planned write, cut the power.
   *
   * @param offset - byte offset, a multiple of the sector size
   * @param data - bytes to write, a multiple of the sector size long (copied)
   *
   * @example
   * ```ts
   * import { FaultDevice, MemoryDevice } from 'simvault/card';
   * const dev = new FaultDevice(new MemoryDevice(4096));
   * await dev.write(0, new Uint8Array(512));
   * dev.writeCount; // 1
   * ```
   */
  write(offset: number, data: Uint8Array): Promise<void> {
    return settle(() => {
      this.assertUsable();
      assertAccess(this, offset, assertWriteData(data).length);
      const index = this.writes++;
      if (this.plan.atWrite === index) {
        this.cut(index, offset, data);
        throw new PowerCutError(`power failed during write #${index}`);
      }
      const hit = this.touched(this.writeErrors, offset, data.length);
      if (hit !== undefined)
        throw new DeviceError('DEVICE_IO', `injected write error on sector ${hit}`);
      this.cache.push({ index, offset, data: data.slice() });
    });
  }

  /**
   * Apply every cached write to the platter, in issue order.
   *
   * @example
   * ```ts
   * import { FaultDevice, MemoryDevice } from 'simvault/card';
   * const platter = new MemoryDevice(4096);
   * const dev = new FaultDevice(platter);
   * await dev.write(0, new Uint8Array(512).fill(1));
   * await dev.flush();
   * platter.readSync(0, 512)[0]; // 1
   * ```
   */
  flush(): Promise<void> {
    return settle(() => {
      this.assertUsable();
      for (const w of this.cache) this.platter.writeSync(w.offset, w.data);
      this.cache = [];
      this.flushes++;
    });
  }

  /**
   * Flush, then refuse further calls with `DEVICE_CLOSED`. The platter stays open. Closing twice is
   * harmless; closing after the cut throws {@link PowerCutError}.
   *
   * @example
   * ```ts
   * import { FaultDevice, MemoryDevice } from 'simvault/card';
   * const dev = new FaultDevice(new MemoryDevice(4096));
   * await dev.close();
   * ```
   */
  async close(): Promise<void> {
    if (this.report) throw new PowerCutError('power has failed');
    if (this.closed) return;
    await this.flush();
    this.closed = true;
  }

  /**
   * Power-cycle: if power has not failed yet, it fails now (between calls, per the plan's mode);
   * then return a fresh copy of the platter, as the card shows it after power comes back.
   *
   * @returns an open {@link MemoryDevice} with the surviving content
   *
   * @example
   * ```ts
   * import { FaultDevice, MemoryDevice } from 'simvault/card';
   * const dev = new FaultDevice(new MemoryDevice(4096), { powerCut: { mode: 'keep-all' } });
   * await dev.write(0, new Uint8Array(512).fill(5));
   * dev.afterPowerCut().readSync(0, 512)[0]; // 5: the cache survived
   * ```
   */
  afterPowerCut(): MemoryDevice {
    if (!this.report) this.cut(null, 0, new Uint8Array(0));
    return this.platter.clone();
  }

  private assertUsable(): void {
    if (this.report) throw new PowerCutError('power has failed');
    if (this.closed) throw new DeviceError('DEVICE_CLOSED', 'the fault device is closed');
  }

  private touched(
    sectors: ReadonlySet<number>,
    offset: number,
    length: number,
  ): number | undefined {
    const first = offset / this.sectorSize;
    const end = (offset + length) / this.sectorSize;
    for (const s of sectors) if (s >= first && s < end) return s;
    return undefined;
  }

  private cut(cutAtWrite: number | null, offset: number, data: Uint8Array): void {
    const random = mulberry32(this.plan.seed ?? 1);
    const pending = this.cache.map((w) => w.index);
    let kept: CachedWrite[];
    switch (this.plan.mode) {
      case 'drop-all':
        kept = [];
        break;
      case 'keep-all':
        kept = this.cache;
        break;
      case 'keep-random-subset':
        kept = this.cache.filter(() => random() < 0.5);
        break;
      case 'reorder':
        kept = shuffle(
          this.cache.filter(() => random() < 0.5),
          random,
        );
        break;
    }
    for (const w of kept) this.platter.writeSync(w.offset, w.data);
    let tornSectors = 0;
    if (cutAtWrite !== null && this.plan.tear === true) {
      tornSectors = Math.floor(random() * (data.length / this.sectorSize));
      this.platter.writeSync(offset, data.subarray(0, tornSectors * this.sectorSize));
    }
    this.cache = [];
    this.report = { cutAtWrite, pending, applied: kept.map((w) => w.index), tornSectors };
  }
}

function overlay(out: Uint8Array, offset: number, w: CachedWrite): void {
  const start = Math.max(offset, w.offset);
  const end = Math.min(offset + out.length, w.offset + w.data.length);
  if (start < end) out.set(w.data.subarray(start - w.offset, end - w.offset), start - offset);
}

function checkPlan(plan: PowerCutPlan): PowerCutPlan {
  const modes: readonly string[] = ['drop-all', 'keep-all', 'keep-random-subset', 'reorder'];
  if (!modes.includes(plan.mode))
    throw new ArgumentError(`power-cut mode must be one of ${modes.join(', ')}`);
  if (plan.atWrite !== undefined && (!Number.isSafeInteger(plan.atWrite) || plan.atWrite < 0)) {
    throw new ArgumentError('powerCut.atWrite must be a non-negative integer');
  }
  if (plan.seed !== undefined && !Number.isSafeInteger(plan.seed))
    throw new ArgumentError('powerCut.seed must be an integer');
  return plan;
}

function checkSectors(list: readonly number[], sectors: number, name: string): ReadonlySet<number> {
  for (const s of list) {
    if (!Number.isSafeInteger(s) || s < 0 || s >= sectors)
      throw new ArgumentError(`${name}: ${s} is not a sector of the device`);
  }
  return new Set(list);
}

function checkFlips(flips: readonly BitFlip[], size: number): readonly BitFlip[] {
  for (const f of flips) {
    if (
      !Number.isSafeInteger(f.offset) ||
      f.offset < 0 ||
      f.offset >= size ||
      !Number.isInteger(f.bit) ||
      f.bit < 0 ||
      f.bit > 7
    ) {
      throw new ArgumentError(`bit flip at ${f.offset}:${f.bit} is outside the device or the byte`);
    }
  }
  return flips.map((f) => ({ offset: f.offset, bit: f.bit }));
}

// mulberry32: tiny, fast and good enough to pick subsets and orders reproducibly.
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
