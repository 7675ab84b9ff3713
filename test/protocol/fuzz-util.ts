// Seeded, reproducible fuzzing of a decoder: random inputs plus mutations of valid seeds. The only
// acceptable failure is a ProtocolError (or, where a decoder also verifies crypto, another
// SimvaultError); anything else — a TypeError, a RangeError, a hang — fails the test.
import { ProtocolError, SimvaultError } from '../../src/errors.js';

/** xorshift32: tiny, fast, reproducible from the seed. */
export function prng(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** One mutated variant of `seed`: bit flips, byte sets, truncation, insertion, duplication. */
export function mutate(seed: Uint8Array, next: () => number): Uint8Array {
  let out = seed.slice();
  const rounds = 1 + (next() % 4);
  for (let r = 0; r < rounds; r++) {
    const op = next() % 6;
    const pos = out.length ? next() % out.length : 0;
    if (op === 0 && out.length) out[pos]! ^= 1 << (next() % 8);
    else if (op === 1 && out.length) out[pos] = next() & 0xff;
    else if (op === 2) out = out.slice(0, pos);
    else if (op === 3) {
      const ins = new Uint8Array(1 + (next() % 8)).map(() => next() & 0xff);
      out = new Uint8Array([...out.subarray(0, pos), ...ins, ...out.subarray(pos)]);
    } else if (op === 4 && out.length) out[pos] = [0x00, 0x7f, 0x80, 0x81, 0x82, 0xff][next() % 6]!;
    else if (op === 5 && out.length) {
      const end = Math.min(out.length, pos + 1 + (next() % 16));
      out = new Uint8Array([...out, ...out.subarray(pos, end)]);
    }
  }
  return out;
}

/**
 * Feed `iterations` inputs to `decode`; half random (length 0..maxLen), half mutations of the seeds.
 * Returns how many were accepted, so a test can check the fuzzer also reaches the valid path.
 */
export function fuzzDecoder(
  decode: (bytes: Uint8Array) => unknown,
  seeds: Uint8Array[],
  {
    iterations = 20_000,
    seed = 1,
    maxLen = 300,
  }: { iterations?: number; seed?: number; maxLen?: number } = {},
): { accepted: number; rejected: number } {
  const next = prng(seed);
  let accepted = 0;
  let rejected = 0;
  for (let i = 0; i < iterations; i++) {
    let input: Uint8Array;
    if (seeds.length && i % 2 === 1) input = mutate(seeds[next() % seeds.length]!, next);
    else input = new Uint8Array(next() % (maxLen + 1)).map(() => next() & 0xff);
    try {
      decode(input);
      accepted++;
    } catch (e) {
      if (!(e instanceof SimvaultError)) {
        throw new Error(
          `decoder threw ${String(e)} on input ${Buffer.from(input).toString('hex')} (iteration ${i}, seed ${seed})`,
          { cause: e },
        );
      }
      rejected++;
    }
  }
  return { accepted, rejected };
}

/** `CODE field@offset` of the ProtocolError `f` throws; fails if it throws nothing. */
export function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof ProtocolError) return `${e.code} ${e.field}@${e.offset}`;
    throw e;
  }
  throw new Error('did not throw');
}
