// Properties of the chunked format beyond the vectors: round trips in any split, exact lengths,
// and typed errors with no plaintext past the last good chunk under every kind of tampering.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  availableBackends,
  bytesSource,
  ChunkDecryptor,
  ChunkEncryptor,
  ciphertextLength,
  createDecryptStream,
  createEncryptStream,
  decrypt,
  encrypt,
  getBackend,
  plaintextLength,
  RandomAccessDecryptor,
  SUITES,
  type SuiteName,
} from '../../src/crypto/index.js';
import { CHUNK_SIZE, HEADER_LENGTH } from '../../src/crypto/chunked.js';
import { SimvaultError, type ErrorCode } from '../../src/errors.js';
import { errorCodeOf } from '../helpers/errors.js';
import { key32, keyFor, msgOf, SEALED, suites } from './fixtures.js';
import { collect, drain, pieces } from '../helpers/streams.js';

/** Run `check` on 60 random ranges `[s, e)` of `msg`. */
const forRanges = (msg: Uint8Array, check: (s: number, e: number) => Promise<void>) =>
  fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: msg.length }),
      fc.integer({ min: 0, max: msg.length }),
      async (a, b) => {
        const [s, e] = a <= b ? [a, b] : [b, a];
        await check(s, e);
      },
    ),
    { numRuns: 60 },
  );

/** A random-access reader over `msg` encrypted, and the offsets its source was read at. */
async function countedReader(msg: Uint8Array) {
  const ct = await encrypt(key32, msg);
  const reads: number[] = [];
  const source = {
    size: ct.length,
    read: (o: number, n: number) => (reads.push(o), ct.subarray(o, o + n)),
  };
  return { reader: await RandomAccessDecryptor.open(key32, source), reads };
}

describe('lengths', () => {
  it('ciphertextLength and plaintextLength are inverse on every chunk boundary neighbourhood', () => {
    for (const n of [
      0,
      1,
      CHUNK_SIZE - 1,
      CHUNK_SIZE,
      CHUNK_SIZE + 1,
      3 * CHUNK_SIZE,
      2 ** 40 + 5,
    ]) {
      expect(plaintextLength(ciphertextLength(n))).toBe(n);
    }
    expect(ciphertextLength(0)).toBe(72);
    expect(ciphertextLength(CHUNK_SIZE)).toBe(HEADER_LENGTH + SEALED + 16);
  });

  it('lengths no ciphertext can have are CRYPTO_TRUNCATED', () => {
    for (const bad of [0, 55, 56, 71, HEADER_LENGTH + SEALED, HEADER_LENGTH + SEALED + 15]) {
      expect(() => plaintextLength(bad)).toThrow(SimvaultError);
    }
    expect(() => ciphertextLength(-1)).toThrow(SimvaultError);
  });
});

describe('round trips', () => {
  it('one-shot, push in any split, and streams agree for every suite', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...suites),
        fc.integer({ min: 0, max: 3 * CHUNK_SIZE + 100 }),
        fc.array(fc.integer({ min: 1, max: 20_000 }), { minLength: 1, maxLength: 8 }),
        fc.uint8Array({ maxLength: 40 }),
        async (suite, length, splits, context) => {
          const key = keyFor(suite);
          const msg = msgOf(length);
          const ct = await encrypt(key, msg, { suite, context });
          expect(ct.length).toBe(ciphertextLength(length));
          expect(await decrypt(key, ct, { suite, context })).toEqual(msg);

          // Push encryption with arbitrary splits gives a valid ciphertext of the same length.
          const enc = await ChunkEncryptor.create(key, { suite, context });
          const parts: Uint8Array[] = [enc.header];
          let off = 0;
          for (let i = 0; off < length; i++) {
            const n = splits[i % splits.length]!;
            parts.push(...(await enc.update(msg.subarray(off, off + n))));
            off += n;
          }
          parts.push(await enc.final());
          const ct2 = Buffer.concat(parts);
          expect(ct2.length).toBe(ct.length);

          // Push decryption with the same splits.
          const dec = ChunkDecryptor.create(key, { suite, context });
          const out: Uint8Array[] = [];
          off = 0;
          for (let i = 0; off < ct2.length; i++) {
            const n = splits[i % splits.length]!;
            out.push(...(await dec.update(ct2.subarray(off, off + n))));
            off += n;
          }
          out.push(await dec.final());
          expect(Buffer.concat(out).equals(Buffer.from(msg))).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('WHATWG streams round-trip and random access reads any range', async () => {
    const msg = msgOf(5 * CHUNK_SIZE + 123);
    const piped = pieces(msg)
      .pipeThrough(createEncryptStream(key32))
      .pipeThrough(createDecryptStream(key32));
    const { out, error } = await drain(piped);
    expect(error).toBeUndefined();
    expect(out.equals(msg)).toBe(true);

    const { reader: r, reads } = await countedReader(msg);
    await forRanges(msg, async (s, e) => {
      expect(Buffer.from(await r.read(s, e)).equals(Buffer.from(msg.subarray(s, e)))).toBe(true);
    });
    // A range inside one chunk touches only that chunk.
    reads.length = 0;
    await r.read(2 * CHUNK_SIZE + 10, 2 * CHUNK_SIZE + 20);
    expect(reads).toEqual([HEADER_LENGTH + 2 * SEALED]);
  });
});

describe('tampering gives typed errors and no plaintext past the last good chunk', () => {
  const msg = msgOf(3 * CHUNK_SIZE + 500, 3);
  let ct: Uint8Array;
  const ready = encrypt(key32, msg).then((c) => (ct = c));

  async function pushAll(data: Uint8Array) {
    await ready;
    const dec = ChunkDecryptor.create(key32);
    const parts: Uint8Array[] = [];
    try {
      for (let off = 0; off < data.length; off += 5000)
        parts.push(...(await dec.update(data.subarray(off, off + 5000))));
      parts.push(await dec.final());
      return { out: Buffer.concat(parts), code: undefined as ErrorCode | undefined };
    } catch (e) {
      // Sticky: the decryptor keeps failing.
      await expect(dec.final()).rejects.toBe(e);
      return { out: Buffer.concat(parts), code: (e as SimvaultError).code };
    }
  }

  it('a flipped byte in any chunk', async () => {
    await ready;
    for (const chunk of [0, 1, 3]) {
      const bad = ct.slice();
      bad[HEADER_LENGTH + chunk * SEALED + 7]! ^= 0x40;
      const { out, code } = await pushAll(bad);
      expect(code).toBe('CRYPTO_AUTH_FAILED');
      expect(out.length).toBeLessThanOrEqual(chunk * CHUNK_SIZE);
      expect(out.equals(Buffer.from(msg.subarray(0, out.length)))).toBe(true);
    }
  });

  it('a flipped byte in the salt or commitment is a commitment mismatch before any chunk', async () => {
    await ready;
    for (const at of [0, 23, 24, 55]) {
      const bad = ct.slice();
      bad[at]! ^= 1;
      const { out, code } = await pushAll(bad);
      expect(code).toBe('CRYPTO_COMMITMENT_MISMATCH');
      expect(out.length).toBe(0);
    }
  });

  it('truncation at and inside a chunk boundary', async () => {
    await ready;
    for (const cut of [
      HEADER_LENGTH,
      HEADER_LENGTH + SEALED,
      HEADER_LENGTH + 2 * SEALED,
      HEADER_LENGTH + SEALED + 100,
      ct.length - 1,
    ]) {
      const { out, code } = await pushAll(ct.subarray(0, cut));
      expect(['CRYPTO_TRUNCATED', 'CRYPTO_AUTH_FAILED']).toContain(code);
      expect(out.equals(Buffer.from(msg.subarray(0, out.length)))).toBe(true);
      // Cutting inside the final chunk leaves a length that is valid for a shorter message: it
      // fails authentication instead of the length check.
      expect(['CRYPTO_TRUNCATED', 'CRYPTO_AUTH_FAILED']).toContain(
        await errorCodeOf(decrypt(key32, ct.subarray(0, cut))),
      );
    }
  });

  it('reordered chunks and a chunk from another file', async () => {
    await ready;
    const swapped = ct.slice();
    swapped.set(ct.subarray(HEADER_LENGTH + SEALED, HEADER_LENGTH + 2 * SEALED), HEADER_LENGTH);
    swapped.set(ct.subarray(HEADER_LENGTH, HEADER_LENGTH + SEALED), HEADER_LENGTH + SEALED);
    const r1 = await pushAll(swapped);
    expect(r1.code).toBe('CRYPTO_AUTH_FAILED');
    expect(r1.out.length).toBe(0);

    const other = await encrypt(key32, msgOf(msg.length, 99));
    const spliced = ct.slice();
    spliced.set(
      other.subarray(HEADER_LENGTH + SEALED, HEADER_LENGTH + 2 * SEALED),
      HEADER_LENGTH + SEALED,
    );
    const r2 = await pushAll(spliced);
    expect(r2.code).toBe('CRYPTO_AUTH_FAILED');
    expect(r2.out.length).toBe(CHUNK_SIZE);
  });

  it('wrong key and wrong context are commitment mismatches, everywhere', async () => {
    await ready;
    const wrongKey = new Uint8Array(32).fill(2);
    expect(await errorCodeOf(decrypt(wrongKey, ct))).toBe('CRYPTO_COMMITMENT_MISMATCH');
    expect(await errorCodeOf(decrypt(key32, ct, { context: new Uint8Array([1]) }))).toBe(
      'CRYPTO_COMMITMENT_MISMATCH',
    );
    expect(await errorCodeOf(RandomAccessDecryptor.open(wrongKey, bytesSource(ct)))).toBe(
      'CRYPTO_COMMITMENT_MISMATCH',
    );
    expect(await errorCodeOf(decrypt(key32, ct, { suite: 'cobblestone-chacha20poly1305' }))).toBe(
      'CRYPTO_COMMITMENT_MISMATCH',
    );
    expect(await errorCodeOf(decrypt(new Uint8Array(16), ct))).toBe('CRYPTO_BAD_KEY');
  });

  // The decrypt stream enqueues each chunk in the backend's own buffer: on every backend (the
  // asynchronous one included) it releases the good chunks in order, nothing of a bad one.
  it('the decrypt stream on every backend and piece size stops at the first bad chunk', async () => {
    await ready;
    for (const backend of availableBackends()) {
      if (!getBackend(backend).supports('AEAD_AES_256_GCM')) continue;
      for (const size of [1, 4099, SEALED, SEALED + 1, 65536, ct.length]) {
        const good = await drain(
          pieces(ct, size).pipeThrough(createDecryptStream(key32, { backend })),
        );
        expect(good.error).toBeUndefined();
        expect(good.out.equals(Buffer.from(msg))).toBe(true);
        for (const chunk of [0, 2, 3]) {
          const bad = ct.slice();
          bad[HEADER_LENGTH + chunk * SEALED + 5]! ^= 0x10;
          const r = await drain(
            pieces(bad, size).pipeThrough(createDecryptStream(key32, { backend })),
          );
          expect((r.error as SimvaultError).code).toBe('CRYPTO_AUTH_FAILED');
          expect(r.out.length).toBeLessThanOrEqual(chunk * CHUNK_SIZE);
          expect(r.out.equals(Buffer.from(msg.subarray(0, r.out.length)))).toBe(true);
        }
      }
    }
  });

  it('random access releases nothing from a damaged chunk but still reads undamaged ones', async () => {
    await ready;
    const bad = ct.slice();
    bad[HEADER_LENGTH + SEALED + 3]! ^= 1;
    const r = await RandomAccessDecryptor.open(key32, bytesSource(bad));
    expect(await errorCodeOf(r.read(CHUNK_SIZE, CHUNK_SIZE + 10))).toBe('CRYPTO_AUTH_FAILED');
    expect(Buffer.from(await r.read(0, 100)).equals(Buffer.from(msg.subarray(0, 100)))).toBe(true);
    expect(await r.verifyLength()).toBe(msg.length);
  });
});

describe('abort', () => {
  it('an aborted signal errors the encrypt stream with ABORTED', async () => {
    const ac = new AbortController();
    let pulls = 0;
    const source = new ReadableStream<Uint8Array>({
      pull(c) {
        if (++pulls === 3) ac.abort(new Error('user cancelled'));
        c.enqueue(new Uint8Array(CHUNK_SIZE));
      },
    });
    const { error } = await drain(
      source.pipeThrough(createEncryptStream(key32, { signal: ac.signal })),
    );
    expect((error as SimvaultError).code).toBe('ABORTED');
  });

  it('an already-aborted signal stops decryption before it starts', async () => {
    const ct = await encrypt(key32, msgOf(10));
    const { out, error } = await drain(
      pieces(ct).pipeThrough(createDecryptStream(key32, { signal: AbortSignal.abort() })),
    );
    expect((error as SimvaultError).code).toBe('ABORTED');
    expect(out.length).toBe(0);
  });
});

describe('sealing and opening into caller buffers', () => {
  const backendsFor = (suite: SuiteName) =>
    availableBackends().filter((b) => getBackend(b).supports(SUITES[suite].aead));
  const SENTINEL = 0xee;

  it('updateInto writes exactly what update would, where asked, and nothing else', async () => {
    // `bytes` cut into pieces of the given sizes in turn.
    const cut = (bytes: Uint8Array, sizes: number[]) => {
      const out: Uint8Array[] = [];
      for (let i = 0, off = 0; off < bytes.length; i++) {
        const n = sizes[i % sizes.length]!;
        out.push(bytes.subarray(off, off + n));
        off += n;
      }
      return out;
    };
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...suites),
        fc.integer({ min: 0, max: 4 * CHUNK_SIZE + 100 }),
        fc.array(fc.integer({ min: 1, max: 40_000 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 0, max: 50 }),
        fc.uint8Array({ minLength: 24, maxLength: 24 }),
        async (suite, length, splits, gap, salt) => {
          const key = keyFor(suite);
          const msg = msgOf(length);
          const expected = await encrypt(key, msg, { suite, salt });
          for (const backend of backendsFor(suite)) {
            // Each call's output lands `gap` bytes after the previous one; the gaps stay untouched.
            const enc = await ChunkEncryptor.create(key, { suite, salt, backend });
            const plainPieces = cut(msg, splits);
            const out = new Uint8Array(expected.length + gap * (plainPieces.length + 1));
            out.fill(SENTINEL);
            const sealed: Uint8Array[] = [enc.header];
            let w = 0;
            for (const piece of plainPieces) {
              const predicted = enc.sealedLength(piece.length);
              w += gap;
              const n = await enc.updateInto(piece, out, w);
              expect(n).toBe(predicted);
              expect(n % SEALED).toBe(0);
              sealed.push(out.slice(w, w + n));
              w += n;
            }
            expect(out.subarray(w).every((b) => b === SENTINEL)).toBe(true);
            sealed.push(await enc.final());
            expect(Buffer.concat(sealed).equals(Buffer.from(expected))).toBe(true);

            const dec = ChunkDecryptor.create(key, { suite, backend });
            const ctPieces = cut(expected, [...splits.slice(1), splits[0]!]);
            const plain = new Uint8Array(length + gap * (ctPieces.length + 1)).fill(SENTINEL);
            const opened: Uint8Array[] = [];
            w = 0;
            for (const piece of ctPieces) {
              const predicted = dec.openedLength(piece.length);
              if (gap) expect(plain[w + gap - 1]).toBe(SENTINEL);
              w += gap;
              const n = await dec.updateInto(piece, plain, w);
              expect(n).toBe(predicted);
              opened.push(plain.slice(w, w + n));
              w += n;
            }
            expect(plain.subarray(w).every((b) => b === SENTINEL)).toBe(true);
            opened.push(await dec.final());
            expect(Buffer.concat(opened).equals(Buffer.from(msg))).toBe(true);
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  it('a buffer without room is INVALID_ARGUMENT and leaves the encryptor and decryptor usable', async () => {
    const msg = msgOf(3 * CHUNK_SIZE + 7);
    const enc = await ChunkEncryptor.create(key32);
    const need = enc.sealedLength(msg.length);
    expect(need).toBe(3 * SEALED);
    expect(await errorCodeOf(enc.updateInto(msg, new Uint8Array(need - 1)))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(await errorCodeOf(enc.updateInto(msg, new Uint8Array(need), 1))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(await errorCodeOf(enc.updateInto(msg, new Uint8Array(need), -1))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(() => enc.sealedLength(-1)).toThrow(SimvaultError);
    const out = new Uint8Array(need);
    expect(await enc.updateInto(msg, out)).toBe(need);
    const ct = Buffer.concat([enc.header, out, await enc.final()]);

    const dec = ChunkDecryptor.create(key32);
    expect(dec.openedLength(ct.length)).toBe(3 * CHUNK_SIZE);
    expect(await errorCodeOf(dec.updateInto(ct, new Uint8Array(3 * CHUNK_SIZE - 1)))).toBe(
      'INVALID_ARGUMENT',
    );
    const plain = new Uint8Array(3 * CHUNK_SIZE);
    expect(await dec.updateInto(ct, plain)).toBe(3 * CHUNK_SIZE);
    expect(Buffer.concat([plain, await dec.final()]).equals(Buffer.from(msg))).toBe(true);
  });

  it('a failed updateInto reports the first bad chunk and leaves its part of the buffer zeroed', async () => {
    const msg = msgOf(8 * CHUNK_SIZE + 100, 5);
    for (const backend of backendsFor('cobblestone-256')) {
      const ct = await encrypt(key32, msg, { backend });
      // Two damaged chunks: an asynchronous backend opens both at once, and the first must win.
      for (const chunk of [2, 5]) ct[HEADER_LENGTH + chunk * SEALED + 9]! ^= 1;
      const dec = ChunkDecryptor.create(key32, { backend });
      const out = new Uint8Array(dec.openedLength(ct.length) + 10).fill(SENTINEL);
      const failure = dec.updateInto(ct, out, 10);
      await expect(failure).rejects.toThrow(/chunk 2 /);
      expect(await errorCodeOf(failure)).toBe('CRYPTO_AUTH_FAILED');
      expect(out.subarray(0, 10).every((b) => b === SENTINEL)).toBe(true);
      expect(out.subarray(10).every((b) => b === 0)).toBe(true);
      // Sticky: the same error again.
      await expect(dec.final()).rejects.toThrow(/chunk 2 /);
    }
  });

  it('streams emit one buffer per piece written', async () => {
    const msg = msgOf(10 * CHUNK_SIZE + 5);
    const piece = 3 * CHUNK_SIZE + 1000;
    const sizes: number[] = [];
    const counting = new TransformStream<Uint8Array, Uint8Array>({
      transform(c, controller) {
        sizes.push(c.length);
        controller.enqueue(c);
      },
    });
    const out = await collect(
      pieces(msg, piece)
        .pipeThrough(createEncryptStream(key32))
        .pipeThrough(counting)
        .pipeThrough(createDecryptStream(key32)),
    );
    expect(out.equals(msg)).toBe(true);
    // The header, one buffer per piece (each sealing what that piece completed), the final chunk.
    const pieceCount = Math.ceil(msg.length / piece);
    expect(sizes.length).toBe(pieceCount + 2);
    expect(sizes[0]).toBe(HEADER_LENGTH);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(ciphertextLength(msg.length));
  });

  it('a piece larger than 256 KiB comes out in parts of at most 16 chunks, in order', async () => {
    const msg = msgOf(40 * CHUNK_SIZE + 7, 5);
    const sealedSizes: number[] = [];
    const plainSizes: number[] = [];
    const counting = (sizes: number[]) =>
      new TransformStream<Uint8Array, Uint8Array>({
        transform(c, controller) {
          sizes.push(c.length);
          controller.enqueue(c);
        },
      });
    const out = await collect(
      pieces(msg, msg.length)
        .pipeThrough(createEncryptStream(key32))
        .pipeThrough(counting(sealedSizes))
        .pipeThrough(createDecryptStream(key32))
        .pipeThrough(counting(plainSizes)),
    );
    expect(out.equals(msg)).toBe(true);
    // Header, 16 + 16 + 8 full chunks, the final chunk.
    expect(sealedSizes).toEqual([HEADER_LENGTH, 16 * SEALED, 16 * SEALED, 8 * SEALED, 7 + 16]);
    // The ciphertext arrives as those buffers; the decryptor splits each at most once more.
    expect(Math.max(...plainSizes)).toBeLessThanOrEqual(16 * CHUNK_SIZE);
  });

  it('random access by chunk: the same bytes, one buffer per chunk, none of them in the scratch', async () => {
    const msg = msgOf(9 * CHUNK_SIZE + 300, 11);
    for (const backend of backendsFor('cobblestone-256')) {
      const ct = await encrypt(key32, msg, { backend });
      const reads: number[] = [];
      let intoScratch = 0;
      // A source that reads into the caller's scratch when it is long enough, as a card does.
      const source = {
        size: ct.length,
        read: (o: number, n: number, scratch?: Uint8Array) => {
          reads.push(o);
          if (!scratch || scratch.length < n) return ct.subarray(o, o + n);
          intoScratch++;
          scratch.set(ct.subarray(o, o + n));
          return scratch.subarray(0, n);
        },
      };
      const r = await RandomAccessDecryptor.open(key32, source, { backend });
      const scratch = new Uint8Array(ct.length);
      await forRanges(msg, async (s, e) => {
        reads.length = 0;
        const chunks = await r.readChunks(s, e, scratch);
        // Writing over the scratch (as a stream does for its next window) changes nothing given out.
        scratch.fill(0xee);
        expect(Buffer.concat(chunks).equals(Buffer.from(msg.subarray(s, e)))).toBe(true);
        expect(reads.length).toBeLessThanOrEqual(1);
        // A partly covered chunk comes as a copy of the part in range: nothing outside [s, e) is
        // reachable through a buffer handed out.
        if (chunks.length && s % CHUNK_SIZE)
          expect(chunks[0]!.buffer.byteLength).toBe(chunks[0]!.length);
        const lastOne = chunks[chunks.length - 1];
        if (lastOne && e % CHUNK_SIZE && e < msg.length)
          expect(lastOne.buffer.byteLength).toBe(lastOne.length);
        let pos = s;
        for (const c of chunks) {
          expect(c.length).toBeGreaterThan(0);
          // No buffer crosses a chunk boundary.
          expect(Math.floor(pos / CHUNK_SIZE)).toBe(Math.floor((pos + c.length - 1) / CHUNK_SIZE));
          pos += c.length;
        }
      });
      expect(intoScratch).toBeGreaterThan(0);
      // Without a scratch the source gives fresh bytes; the result is the same.
      expect(
        Buffer.concat(await r.readChunks(100, 3 * CHUNK_SIZE)).equals(
          Buffer.from(msg.subarray(100, 3 * CHUNK_SIZE)),
        ),
      ).toBe(true);
      expect(await errorCodeOf(r.readChunks(10, 5))).toBe('INVALID_ARGUMENT');
      expect(await errorCodeOf(r.readChunks(0, msg.length + 1))).toBe('INVALID_ARGUMENT');
    }
  });

  it('random access by chunk stops at a damaged chunk with CRYPTO_AUTH_FAILED', async () => {
    const msg = msgOf(5 * CHUNK_SIZE, 12);
    for (const backend of backendsFor('cobblestone-256')) {
      const ct = await encrypt(key32, msg, { backend });
      ct[HEADER_LENGTH + 3 * SEALED + 7]! ^= 1;
      const r = await RandomAccessDecryptor.open(key32, bytesSource(ct), { backend });
      expect((await r.readChunks(0, 3 * CHUNK_SIZE)).length).toBe(3);
      expect(await errorCodeOf(r.readChunks(0, msg.length))).toBe('CRYPTO_AUTH_FAILED');
    }
  });

  it('random access reads the same bytes on every backend', async () => {
    const msg = msgOf(6 * CHUNK_SIZE + 77, 9);
    for (const backend of backendsFor('cobblestone-256')) {
      const ct = await encrypt(key32, msg, { backend });
      const r = await RandomAccessDecryptor.open(key32, bytesSource(ct), { backend });
      for (const [s, e] of [
        [0, msg.length],
        [1, CHUNK_SIZE - 1],
        [CHUNK_SIZE - 3, 3 * CHUNK_SIZE + 3],
        [2 * CHUNK_SIZE, 4 * CHUNK_SIZE],
        [msg.length - 5, msg.length],
        [msg.length, msg.length],
      ] as const) {
        expect(Buffer.from(await r.read(s, e)).equals(Buffer.from(msg.subarray(s, e)))).toBe(true);
      }
    }
  });
});
