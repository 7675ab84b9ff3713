// The raw AEAD of every backend against Wycheproof (the vectors the formats can use: 96-bit
// nonce, 128-bit tag, with and without AAD), and byte-identical chunked output across backends.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/bytes.js';
import {
  availableBackends,
  encrypt,
  getBackend,
  SUITES,
  type AeadName,
  type SuiteName,
} from '../../src/crypto/index.js';
import { importKeyInto } from '../../src/crypto/backend.js';
import { SimvaultError } from '../../src/errors.js';

interface AeadVector {
  tcId: number;
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
  result: 'valid' | 'invalid' | 'acceptable';
}
interface AeadGroup {
  keySize: number;
  ivSize: number;
  tagSize: number;
  tests: AeadVector[];
}

function load(file: string): AeadGroup[] {
  const json = JSON.parse(readFileSync(new URL(`../vectors/${file}`, import.meta.url), 'utf8')) as {
    testGroups: AeadGroup[];
  };
  return json.testGroups;
}

const SETS: Array<[string, (keySize: number) => AeadName]> = [
  ['aes_gcm_test.json', (k) => (k === 128 ? 'AEAD_AES_128_GCM' : 'AEAD_AES_256_GCM')],
  ['chacha20_poly1305_test.json', () => 'AEAD_CHACHA20_POLY1305'],
];

for (const name of availableBackends()) {
  describe(`backend ${name}: Wycheproof AEAD`, () => {
    for (const [file, aeadFor] of SETS) {
      const groups = load(file).filter(
        (g) => g.ivSize === 96 && g.tagSize === 128 && (g.keySize === 128 || g.keySize === 256),
      );
      it(file, async () => {
        let checked = 0;
        for (const g of groups) {
          const aead = aeadFor(g.keySize);
          const backend = getBackend(name);
          if (!backend.supports(aead)) continue;
          for (const t of g.tests) {
            const key = await importKeyInto(backend, aead, fromHex(t.key));
            const nonce = fromHex(t.iv);
            const sealed = fromHex(t.ct + t.tag);
            const aad = fromHex(t.aad);
            const opened = await key.open(nonce, sealed, aad);
            // The buffer forms take no additional data: checked on the vectors without it.
            const into = aad.length === 0 && sealed.length >= 16;
            const plain = new Uint8Array(Math.max(0, sealed.length - 16)).fill(0xee);
            const verified = into ? await key.openInto(nonce, sealed, plain) : undefined;
            if (t.result === 'valid') {
              expect(toHex(opened!)).toBe(t.msg);
              expect(toHex(await key.seal(nonce, fromHex(t.msg), aad))).toBe(t.ct + t.tag);
              if (into) {
                expect(verified).toBe(true);
                expect(toHex(plain)).toBe(t.msg);
                const out = new Uint8Array(sealed.length);
                await key.sealInto(nonce, fromHex(t.msg), out);
                expect(toHex(out)).toBe(t.ct + t.tag);
              }
            } else {
              expect(opened, `tcId ${t.tcId}`).toBeNull();
              if (into) {
                expect(verified, `tcId ${t.tcId}`).toBe(false);
                // Nothing unauthenticated was written.
                expect(plain.every((b) => b === 0xee)).toBe(true);
              }
            }
            checked++;
          }
        }
        if (name === 'webcrypto' && file.startsWith('chacha')) expect(checked).toBe(0);
        else expect(checked).toBeGreaterThan(40);
      });
    }
  });
}

describe('backend selection', () => {
  it('auto picks native on Node and falls back to noble where native lacks the AEAD', () => {
    expect(getBackend('auto', 'AEAD_AES_256_GCM').name).toBe('node');
    expect(getBackend('native').name).toBe('node');
    expect(getBackend('noble').name).toBe('noble');
  });

  it('an explicit backend that cannot run the AEAD is a typed UNSUPPORTED error', () => {
    expect(() => getBackend('webcrypto', 'AEAD_CHACHA20_POLY1305')).toThrow(SimvaultError);
    try {
      getBackend('bogus' as never);
    } catch (e) {
      expect((e as SimvaultError).code).toBe('UNSUPPORTED');
    }
  });

  it('every backend produces byte-identical chunked ciphertexts', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...(Object.keys(SUITES) as SuiteName[])),
        fc.integer({ min: 0, max: 40_000 }),
        fc.uint8Array({ minLength: 24, maxLength: 24 }),
        async (suite, length, salt) => {
          const key = new Uint8Array(SUITES[suite].keyLength).fill(9);
          const msg = new Uint8Array(length).map((_, i) => i * 31);
          const outs = new Set<string>();
          for (const backend of availableBackends()) {
            if (!getBackend(backend).supports(SUITES[suite].aead)) continue;
            const ct = await encrypt(key, msg, { suite, backend, salt });
            outs.add(Buffer.from(ct).toString('base64'));
          }
          expect(outs.size).toBe(1);
        },
      ),
      { numRuns: 25 },
    );
  });
});
