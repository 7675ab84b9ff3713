// The async-iterable adapters: the same bytes as the one-shot and WHATWG paths for every suite,
// backend and piece split; typed errors with no plaintext past the last good chunk; abort and
// early exit that stop reading the source.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  availableBackends,
  createEncryptStream,
  decrypt,
  decryptIterable,
  encrypt,
  encryptIterable,
  getBackend,
  SUITES,
} from '../../src/crypto/index.js';
import { CHUNK_SIZE, HEADER_LENGTH } from '../../src/crypto/chunked.js';
import { SimvaultError } from '../../src/errors.js';
import { errorCodeOf } from '../helpers/errors.js';
import { key32, keyFor, msgOf, SEALED, suites } from './fixtures.js';
import { collect, pieces } from '../helpers/streams.js';

/** `data` cut at the given sizes (cycled), delivered asynchronously. */
async function* cut(data: Uint8Array, sizes: readonly number[]): AsyncGenerator<Uint8Array> {
  function* pieces() {
    for (let off = 0, k = 0; off < data.length; k++) {
      const n = Math.max(1, sizes[k % sizes.length]!);
      yield data.subarray(off, off + n);
      off += n;
    }
  }
  for (const piece of pieces()) yield await Promise.resolve(piece);
}

/** Everything an iteration yields, and the error it ends with (if any). */
async function drainIter(it: AsyncIterable<Uint8Array>) {
  const parts: Uint8Array[] = [];
  try {
    for await (const p of it) parts.push(p);
    return { out: Buffer.concat(parts), error: undefined };
  } catch (error) {
    return { out: Buffer.concat(parts), error: error as SimvaultError };
  }
}

describe('encryptIterable / decryptIterable: round trips', () => {
  it('agree with the one-shot functions for every suite, backend and split', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...suites),
        fc.integer({ min: 0, max: 3 * CHUNK_SIZE + 300 }),
        fc.array(fc.integer({ min: 1, max: 2 * SEALED }), { minLength: 1, maxLength: 5 }),
        async (suite, size, sizes) => {
          const msg = msgOf(size, size);
          const key = keyFor(suite);
          for (const backend of availableBackends()) {
            if (!getBackend(backend).supports(SUITES[suite].aead)) continue;
            const ct = (await drainIter(encryptIterable(key, cut(msg, sizes), { suite, backend })))
              .out;
            expect(ct.length).toBe((await encrypt(key, msg, { suite })).length);
            expect(Buffer.from(await decrypt(key, ct, { suite })).equals(Buffer.from(msg))).toBe(
              true,
            );
            const back = await drainIter(decryptIterable(key, cut(ct, sizes), { suite, backend }));
            expect(back.error).toBeUndefined();
            expect(back.out.equals(Buffer.from(msg))).toBe(true);
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it('reads what the WHATWG encrypt stream wrote, from a synchronous iterable', async () => {
    const msg = msgOf(5 * CHUNK_SIZE + 17, 4);
    const ct = await collect(pieces(msg, 70_000).pipeThrough(createEncryptStream(key32)));
    const { out, error } = await drainIter(
      decryptIterable(key32, [ct.subarray(0, 9), ct.subarray(9)]),
    );
    expect(error).toBeUndefined();
    expect(out.equals(Buffer.from(msg))).toBe(true);
  });

  it('runs in a Node stream pipeline from a Readable to a Writable', async () => {
    const msg = msgOf(300_000, 9);
    const sealed: Buffer[] = [];
    await pipeline(
      Readable.from([msg.subarray(0, 100_000), msg.subarray(100_000)]),
      (src: AsyncIterable<Uint8Array>) => encryptIterable(key32, src),
      async (src: AsyncIterable<Uint8Array>) => {
        for await (const c of src) sealed.push(Buffer.from(c));
      },
    );
    expect(Buffer.from(await decrypt(key32, Buffer.concat(sealed))).equals(Buffer.from(msg))).toBe(
      true,
    );
  });

  it('emits the header, one buffer per 256 KiB of a piece, and the final chunk', async () => {
    const parts = (await drainIter(encryptIterable(key32, [new Uint8Array(20 * CHUNK_SIZE)]))).out;
    expect(parts.length).toBe(HEADER_LENGTH + 20 * SEALED + 16);
    const lengths: number[] = [];
    for await (const p of encryptIterable(key32, [new Uint8Array(20 * CHUNK_SIZE)]))
      lengths.push(p.length);
    // 20 full chunks in two parts; the final chunk is then empty (its tag only).
    expect(lengths).toEqual([HEADER_LENGTH, 16 * SEALED, 4 * SEALED, 16]);
  });

  it('yields no empty buffer for an empty final chunk', async () => {
    const ct = await encrypt(key32, msgOf(2 * CHUNK_SIZE));
    const lengths: number[] = [];
    for await (const p of decryptIterable(key32, [ct])) lengths.push(p.length);
    expect(lengths).toEqual([CHUNK_SIZE, CHUNK_SIZE]);
    const none: number[] = [];
    for await (const p of decryptIterable(key32, [await encrypt(key32, new Uint8Array(0))]))
      none.push(p.length);
    expect(none).toEqual([]);
  });
});

describe('encryptIterable / decryptIterable: errors', () => {
  const msg = msgOf(3 * CHUNK_SIZE + 500, 3);
  const ready = encrypt(key32, msg);

  it('a flipped byte stops at that chunk on every backend, nothing of it released', async () => {
    const ct = await ready;
    for (const backend of availableBackends()) {
      if (!getBackend(backend).supports('AEAD_AES_256_GCM')) continue;
      for (const chunk of [0, 2, 3]) {
        const bad = ct.slice();
        bad[HEADER_LENGTH + chunk * SEALED + 5]! ^= 0x10;
        const r = await drainIter(decryptIterable(key32, cut(bad, [4099]), { backend }));
        expect(r.error?.code).toBe('CRYPTO_AUTH_FAILED');
        expect(r.out.length).toBeLessThanOrEqual(chunk * CHUNK_SIZE);
        expect(r.out.equals(Buffer.from(msg.subarray(0, r.out.length)))).toBe(true);
      }
    }
  });

  it('truncation, a wrong key and a wrong context are typed', async () => {
    const ct = await ready;
    const noChunk = await drainIter(decryptIterable(key32, [ct.subarray(0, HEADER_LENGTH)]));
    expect(noChunk.error?.code).toBe('CRYPTO_TRUNCATED');
    // Cut inside the final chunk, the length fits a shorter message: its tag fails instead.
    const cutShort = await drainIter(decryptIterable(key32, [ct.subarray(0, ct.length - 1)]));
    expect(cutShort.error?.code).toBe('CRYPTO_AUTH_FAILED');
    expect(cutShort.out.equals(Buffer.from(msg.subarray(0, 3 * CHUNK_SIZE)))).toBe(true);
    const wrong = await drainIter(decryptIterable(new Uint8Array(32).fill(2), [ct]));
    expect(wrong.error?.code).toBe('CRYPTO_COMMITMENT_MISMATCH');
    expect(wrong.out.length).toBe(0);
    const ctx = await drainIter(decryptIterable(key32, [ct], { context: new Uint8Array([1]) }));
    expect(ctx.error?.code).toBe('CRYPTO_COMMITMENT_MISMATCH');
  });

  it('bad arguments: a short key at once, a bad source at once, a bad piece when reached', async () => {
    expect(await errorCodeOf(() => decryptIterable(new Uint8Array(5), []))).toBe('CRYPTO_BAD_KEY');
    // Key derivation is asynchronous: its error comes with the first step.
    expect((await drainIter(encryptIterable(new Uint8Array(5), []))).error?.code).toBe(
      'CRYPTO_BAD_KEY',
    );
    for (const bad of [null, 42, new Uint8Array(4), {}] as unknown[])
      expect(await errorCodeOf(() => encryptIterable(key32, bad as Iterable<Uint8Array>))).toBe(
        'INVALID_ARGUMENT',
      );
    const r = await drainIter(encryptIterable(key32, ['text'] as unknown as Uint8Array[]));
    expect(r.error?.code).toBe('INVALID_ARGUMENT');
  });

  it('an aborted signal stops both directions with ABORTED between pieces', async () => {
    const ac = new AbortController();
    let pulled = 0;
    async function* endless() {
      for (;;) {
        if (++pulled === 3) ac.abort(new Error('user cancelled'));
        yield await Promise.resolve(new Uint8Array(CHUNK_SIZE));
      }
    }
    const r = await drainIter(encryptIterable(key32, endless(), { signal: ac.signal }));
    expect(r.error?.code).toBe('ABORTED');
    expect(pulled).toBe(3);
    const d = await drainIter(
      decryptIterable(key32, [await ready], { signal: AbortSignal.abort() }),
    );
    expect(d.error?.code).toBe('ABORTED');
    expect(d.out.length).toBe(0);
  });

  it('a consumer that stops early closes the source', async () => {
    let closed = false;
    async function* source() {
      try {
        for (;;) yield await Promise.resolve(new Uint8Array(CHUNK_SIZE * 20));
      } finally {
        closed = true;
      }
    }
    for await (const p of encryptIterable(key32, source())) if (p.length > HEADER_LENGTH) break;
    expect(closed).toBe(true);
  });

  it('closes the source however the iteration ends early, and only then', async () => {
    // A source that counts how often it is closed (what destroys a file stream's fd).
    const counted = (pieces: Uint8Array[]) => {
      const state = { closed: 0 };
      const iterable: AsyncIterable<Uint8Array> = {
        [Symbol.asyncIterator]() {
          let i = 0;
          return {
            next: () =>
              Promise.resolve(
                i < pieces.length
                  ? { value: pieces[i++]!, done: false as const }
                  : { value: undefined, done: true as const },
              ),
            return: () => {
              state.closed++;
              return Promise.resolve({ value: undefined, done: true as const });
            },
          };
        },
      };
      return { iterable, state };
    };
    const msg = msgOf(3 * CHUNK_SIZE, 2);
    const afterHeader = counted([msg]);
    // eslint-disable-next-line @typescript-eslint/no-unused-vars
    for await (const _ of encryptIterable(key32, afterHeader.iterable)) break;
    expect(afterHeader.state.closed).toBe(1);
    const badKey = counted([msg]);
    const k = await drainIter(encryptIterable(new Uint8Array(5), badKey.iterable));
    expect(k.error?.code).toBe('CRYPTO_BAD_KEY');
    expect(badKey.state.closed).toBe(1);
    const aborted = counted([msg]);
    const a = await drainIter(
      encryptIterable(key32, aborted.iterable, { signal: AbortSignal.abort() }),
    );
    expect(a.error?.code).toBe('ABORTED');
    expect(aborted.state.closed).toBe(1);
    const whole = counted([msg, msg]);
    const ct = await drainIter(encryptIterable(key32, whole.iterable));
    expect(ct.error).toBeUndefined();
    expect(whole.state.closed).toBe(0);
    const reading = counted([ct.out]);
    // eslint-disable-next-line @typescript-eslint/no-unused-vars
    for await (const _ of decryptIterable(key32, reading.iterable)) break;
    expect(reading.state.closed).toBe(1);
  });
});
