// Shared helpers of the block-device tests. Large byte arrays are compared with a plain loop:
// vitest's deep equality walks typed arrays element by element and takes seconds per megabyte.
import { expect } from 'vitest';
import { SimvaultError } from '../../src/errors.js';

/** Assert two byte arrays are equal, reporting the first differing offset. */
export function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.length, 'length').toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i])
      expect(`byte ${i} = ${actual[i]}`).toBe(`byte ${i} = ${expected[i]}`);
  }
}

/** The SimvaultError code a promise rejects with, or a function throws; fails on anything else. */
export async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(SimvaultError);
    return (e as SimvaultError).code;
  }
  throw new Error('expected a SimvaultError');
}

/** Bytes with a recognisable pattern. */
export function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (seed * 31 + i * 7 + (i >> 9)) & 0xff;
  return out;
}
