// Every Wycheproof C2SP chunked-encryption vector, through the one-shot, push-streaming,
// WHATWG-stream and random-access interfaces, on every backend this runtime has.
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { unzlibSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import {
  availableBackends,
  bytesSource,
  ChunkDecryptor,
  createDecryptStream,
  decrypt,
  encrypt,
  RandomAccessDecryptor,
  type SuiteName,
} from '../../src/crypto/index.js';
import { fromHex } from '../../src/bytes.js';
import { SimvaultError } from '../../src/errors.js';
import { drain, pieces } from '../helpers/streams.js';

interface Vector {
  tcId: number;
  comment: string;
  key: string;
  ctx: string;
  ct: string;
  msgLength?: number;
  msgSha512?: string;
  result: 'valid' | 'invalid';
  flags: string[];
}

const FILES: Array<[SuiteName, string]> = [
  ['cobblestone-128', 'c2sp_chunked_encryption_aes_128_gcm_test.json'],
  ['cobblestone-256', 'c2sp_chunked_encryption_aes_256_gcm_test.json'],
];

const sha512 = (b: Uint8Array) => createHash('sha512').update(b).digest('hex');

function load(file: string): Vector[] {
  const json = JSON.parse(readFileSync(new URL(`../vectors/${file}`, import.meta.url), 'utf8')) as {
    testGroups: { tests: Vector[] }[];
  };
  return json.testGroups.flatMap((g) => g.tests);
}

async function expectTyped(p: Promise<unknown>): Promise<SimvaultError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, 'expected a typed error').toBeInstanceOf(SimvaultError);
  return e as SimvaultError;
}

// Feed the ciphertext in uneven pieces, collecting what is released before the error.
async function pushDecrypt(
  dec: ChunkDecryptor,
  ct: Uint8Array,
): Promise<{ out: Uint8Array; error: unknown }> {
  const parts: Uint8Array[] = [];
  const sizes = [1, 55, 7, 16399, 16400, 16401, 3000];
  let off = 0;
  let i = 0;
  try {
    while (off < ct.length) {
      const n = sizes[i++ % sizes.length]!;
      parts.push(...(await dec.update(ct.subarray(off, off + n))));
      off += n;
    }
    parts.push(await dec.final());
    return { out: Buffer.concat(parts), error: undefined };
  } catch (error) {
    return { out: Buffer.concat(parts), error };
  }
}

for (const [suite, file] of FILES) {
  const vectors = load(file);
  for (const backend of availableBackends()) {
    describe(`${suite} Wycheproof on ${backend}`, () => {
      for (const v of vectors) {
        const name = `#${v.tcId} ${v.comment} [${v.flags.join(',')}]`;
        const key = fromHex(v.key);
        const context = fromHex(v.ctx);
        const opts = { suite, backend, context };

        it(name, async () => {
          const ct = unzlibSync(fromHex(v.ct));
          if (v.flags.includes('InvalidKeySize')) {
            expect((await expectTyped(decrypt(key, ct, opts))).code).toBe('CRYPTO_BAD_KEY');
            expect(() => ChunkDecryptor.create(key, opts)).toThrow(SimvaultError);
            expect(
              (await expectTyped(RandomAccessDecryptor.open(key, bytesSource(ct), opts))).code,
            ).toBe('CRYPTO_BAD_KEY');
            return;
          }

          // One-shot.
          if (v.result === 'valid') {
            const msg = await decrypt(key, ct, opts);
            expect(msg.length).toBe(v.msgLength);
            expect(sha512(msg)).toBe(v.msgSha512);
            // Encryption with the vector's salt reproduces the ciphertext exactly.
            const again = await encrypt(key, msg, { ...opts, salt: ct.subarray(0, 24) });
            expect(Buffer.from(again).equals(Buffer.from(ct))).toBe(true);
          } else {
            await expectTyped(decrypt(key, ct, opts));
          }

          // Push streaming: at most the valid prefix, then a sticky error.
          const dec = ChunkDecryptor.create(key, opts);
          const { out, error } = await pushDecrypt(dec, ct);
          if (v.result === 'valid') {
            expect(error).toBeUndefined();
            expect(sha512(out)).toBe(v.msgSha512);
          } else {
            expect(error).toBeInstanceOf(SimvaultError);
            expect(out.length).toBeLessThanOrEqual(v.msgLength ?? 0);
            if (out.length === v.msgLength) expect(sha512(out)).toBe(v.msgSha512);
            if (v.flags.includes('HeaderFailure')) expect(out.length).toBe(0);
            await expectTyped(dec.update(new Uint8Array(1)));
            await expectTyped(dec.final());
          }

          // WHATWG stream.
          const { out: got, error: streamed } = await drain(
            pieces(ct, 5000).pipeThrough(createDecryptStream(key, opts)),
          );
          if (v.result === 'valid') {
            expect(streamed).toBeUndefined();
            expect(sha512(got)).toBe(v.msgSha512);
          } else {
            expect(streamed).toBeInstanceOf(SimvaultError);
            expect(got.length).toBeLessThanOrEqual(v.msgLength ?? 0);
          }

          // Random access: whole read and length authentication.
          const opened = await RandomAccessDecryptor.open(key, bytesSource(ct), opts).then(
            (r) => r,
            (e: unknown) => e,
          );
          if (v.result === 'valid') {
            expect(opened).toBeInstanceOf(RandomAccessDecryptor);
            const r = opened as RandomAccessDecryptor;
            expect(await r.verifyLength()).toBe(v.msgLength);
            expect(sha512(await r.read())).toBe(v.msgSha512);
            if ((v.msgLength ?? 0) > 20000) {
              const mid = await r.read(16380, 16390);
              const whole = await decrypt(key, ct, opts);
              expect(Buffer.from(mid).equals(Buffer.from(whole.subarray(16380, 16390)))).toBe(true);
            }
          } else if (opened instanceof RandomAccessDecryptor) {
            await expectTyped(opened.read());
            if (!v.flags.includes('ValidFinalChunk')) await expectTyped(opened.verifyLength());
          } else {
            expect(opened).toBeInstanceOf(SimvaultError);
          }
        });
      }
    });
  }
}
