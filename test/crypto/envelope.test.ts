// The envelope: header parsing, compression recorded with the file, streams, and tampering of the
// header itself (it is bound into the key derivation).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createOpenStream,
  createSealStream,
  ENVELOPE_HEADER_LENGTH,
  openEnvelope,
  parseEnvelopeHeader,
  sealEnvelope,
  SUITES,
  type SuiteName,
} from '../../src/crypto/index.js';
import { errorCodeOf } from '../helpers/errors.js';
import { collect, pieces } from '../helpers/streams.js';

const fileKey = new Uint8Array(32).fill(5);

describe('envelope', () => {
  it('one-shot and streaming interoperate for every suite, with and without compression', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...(Object.keys(SUITES) as SuiteName[])),
        fc.boolean(),
        fc.integer({ min: 0, max: 70_000 }),
        fc.integer({ min: 1, max: 9000 }),
        async (suite, compress, length, split) => {
          const msg = new Uint8Array(length).map((_, i) => (i % 251 < 100 ? 0 : i & 0xff));
          const sealed = await sealEnvelope(fileKey, msg, { suite, compress });
          expect(parseEnvelopeHeader(sealed)).toEqual({ version: 1, suite, compressed: compress });
          const streamed = await collect(
            pieces(msg, split).pipeThrough(createSealStream(fileKey, { suite, compress })),
          );
          expect(parseEnvelopeHeader(streamed).compressed).toBe(compress);
          expect(Buffer.from(await openEnvelope(fileKey, streamed)).equals(Buffer.from(msg))).toBe(
            true,
          );
          const opened = await collect(
            pieces(sealed, split).pipeThrough(createOpenStream(fileKey)),
          );
          expect(Buffer.from(opened).equals(Buffer.from(msg))).toBe(true);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('compression shrinks compressible data and is off by default', async () => {
    const msg = new Uint8Array(100_000);
    expect((await sealEnvelope(fileKey, msg, { compress: true })).length).toBeLessThan(2000);
    expect((await sealEnvelope(fileKey, msg)).length).toBeGreaterThan(100_000);
  });

  it('a changed header byte, foreign bytes, a wrong key or context are typed errors', async () => {
    const sealed = await sealEnvelope(fileKey, new Uint8Array(1000).fill(1), { compress: true });
    expect(await errorCodeOf(openEnvelope(fileKey, new Uint8Array([1, 2, 3])))).toBe(
      'CRYPTO_BAD_ENVELOPE',
    );
    const badMagic = sealed.slice();
    badMagic[0] = 0;
    expect(await errorCodeOf(openEnvelope(fileKey, badMagic))).toBe('CRYPTO_BAD_ENVELOPE');
    // Turning compression off in the header changes the context: the commitment fails.
    const flipped = sealed.slice();
    flipped[6] = 0;
    expect(await errorCodeOf(openEnvelope(fileKey, flipped))).toBe('CRYPTO_COMMITMENT_MISMATCH');
    const otherSuite = sealed.slice();
    otherSuite[5] = SUITES['cobblestone-chacha20poly1305'].id;
    expect(await errorCodeOf(openEnvelope(fileKey, otherSuite))).toBe('CRYPTO_COMMITMENT_MISMATCH');
    expect(await errorCodeOf(openEnvelope(new Uint8Array(32), sealed))).toBe(
      'CRYPTO_COMMITMENT_MISMATCH',
    );
    expect(await errorCodeOf(openEnvelope(fileKey, sealed, { context: new Uint8Array([1]) }))).toBe(
      'CRYPTO_COMMITMENT_MISMATCH',
    );
    const body = sealed.slice();
    body[ENVELOPE_HEADER_LENGTH + 60]! ^= 1;
    expect(await errorCodeOf(openEnvelope(fileKey, body))).toBe('CRYPTO_AUTH_FAILED');
    expect(
      await errorCodeOf(collect(pieces(body, 100).pipeThrough(createOpenStream(fileKey)))),
    ).toBe('CRYPTO_AUTH_FAILED');
    expect(
      await errorCodeOf(
        collect(pieces(sealed.subarray(0, 5), 100).pipeThrough(createOpenStream(fileKey))),
      ),
    ).toBe('CRYPTO_BAD_ENVELOPE');
  });
});
