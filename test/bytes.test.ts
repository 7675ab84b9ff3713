import { describe, expect, it } from 'vitest';
import { randomBytes, toHex } from '../src/bytes.js';
import { errorCodeOf } from './helpers/errors.js';

describe('randomBytes', () => {
  it('gives the asked length, small requests from a pool and large ones straight', () => {
    for (const n of [0, 1, 12, 64, 65, 4096, 65_536, 65_537, 200_000])
      expect(randomBytes(n).length).toBe(n);
    // A large request is not all zero (the loop over 64 KiB calls fills every part of it).
    const big = randomBytes(200_000);
    for (let off = 0; off < big.length; off += 65_536)
      expect(big.subarray(off, off + 65_536).some((b) => b !== 0)).toBe(true);
  });

  it('never hands out the same pooled bytes twice, across refills of the pool', () => {
    // 3,000 nonces of 12 bytes span nine refills of the 4 KiB pool; odd sizes cross its end.
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) seen.add(toHex(randomBytes(12)));
    expect(seen.size).toBe(3000);
    const mixed = new Set<string>();
    for (let i = 0; i < 2000; i++) mixed.add(toHex(randomBytes(7 + (i % 50))));
    expect(mixed.size).toBe(2000);
  });

  it('pooled bytes look uniform: every byte value turns up', () => {
    const counts = new Array<number>(256).fill(0);
    for (let i = 0; i < 4000; i++) for (const b of randomBytes(32)) counts[b]!++;
    // 128,000 bytes: about 500 of each value; below 350 would be a broken pool (p < 1e-10).
    expect(Math.min(...counts)).toBeGreaterThan(350);
  });

  it('refuses a negative, fractional or unsafe length with INVALID_ARGUMENT', async () => {
    for (const n of [-1, 1.5, Number.NaN, 2 ** 53])
      expect(await errorCodeOf(() => randomBytes(n))).toBe('INVALID_ARGUMENT');
  });
});
