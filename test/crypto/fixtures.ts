// Keys and messages shared by the chunked-encryption tests.
import { SUITES, type SuiteName } from '../../src/crypto/index.js';
import { CHUNK_SIZE } from '../../src/crypto/chunked.js';

/** Bytes of a full sealed chunk. */
export const SEALED = CHUNK_SIZE + 16;
export const key32 = new Uint8Array(32).fill(1);
export const suites = Object.keys(SUITES) as SuiteName[];
export const keyFor = (suite: SuiteName) => new Uint8Array(SUITES[suite].keyLength).fill(1);
/** `n` bytes of a pattern that differs per `seed`. */
export const msgOf = (n: number, seed = 0) =>
  new Uint8Array(n).map((_, i) => (i * 7 + seed) & 0xff);
