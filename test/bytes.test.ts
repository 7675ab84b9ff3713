import { describe, expect, it } from 'vitest';
import { randomBytes, randomPublicBytes, toHex } from '../src/bytes.js';
import { errorCodeOf } from './helpers/errors.js';

describe('randomBytes', () => {
  it('gives the asked length, in parts of 64 KiB for large requests', () => {
    for (const n of [0, 1, 12, 64, 65, 4096, 65_536, 65_537, 200_000])
      expect(randomBytes(n).length).toBe(n);
    // Not all zero in any 64 KiB part: the loop fills every one of them.
    const big = randomBytes(200_000);
    for (let off = 0; off < big.length; off += 65_536)
      expect(big.subarray(off, off + 65_536).some((b) => b !== 0)).toBe(true);
  });

  it('refuses a negative, fractional or unsafe length with INVALID_ARGUMENT', async () => {
    for (const n of [-1, 1.5, Number.NaN, 2 ** 53])
      expect(await errorCodeOf(() => randomBytes(n))).toBe('INVALID_ARGUMENT');
  });
});

describe('randomPublicBytes (pooled, for nonces, salts and ids)', () => {
  it('never hands out the same bytes twice, across refills of the pool', () => {
    // 3,000 nonces of 12 bytes span nine refills of the 4 KiB pool; odd sizes cross its end.
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) seen.add(toHex(randomPublicBytes(12)));
    expect(seen.size).toBe(3000);
    const mixed = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const b = randomPublicBytes(7 + (i % 58));
      expect(b.length).toBe(7 + (i % 58));
      mixed.add(toHex(b));
    }
    expect(mixed.size).toBe(2000);
    expect(randomPublicBytes(0).length).toBe(0);
  });

  it('looks uniform: every byte value turns up', () => {
    const counts = new Array<number>(256).fill(0);
    for (let i = 0; i < 4000; i++) for (const b of randomPublicBytes(32)) counts[b]!++;
    // 128,000 bytes: about 500 of each value; below 350 would be a broken pool (p < 1e-10).
    expect(Math.min(...counts)).toBeGreaterThan(350);
  });

  it('gives a buffer of its own, not a view of the pool', () => {
    const a = randomPublicBytes(16);
    expect(a.buffer.byteLength).toBe(16);
  });

  it('refuses more than 64 bytes and bad lengths with INVALID_ARGUMENT', async () => {
    for (const n of [65, -1, 1.5, Number.NaN])
      expect(await errorCodeOf(() => randomPublicBytes(n))).toBe('INVALID_ARGUMENT');
  });
});
