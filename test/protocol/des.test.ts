import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex } from '../../src/bytes.js';
import { ArgumentError } from '../../src/errors.js';
import {
  tdesCbcDecrypt,
  tdesCbcEncrypt,
  tdesEcbDecrypt,
  tdesEcbEncrypt,
} from '../../src/protocol/des.js';

// FIPS 81 appendix B: "Now is the time for all " under key 0123456789abcdef.
const FIPS81_KEY = fromHex('0123456789abcdef');
const FIPS81_IV = fromHex('1234567890abcdef');
const FIPS81_PT = fromHex('4e6f772069732074 68652074696d6520 666f7220616c6c20');

describe('DES / 3DES known answers', () => {
  it('FIPS 81 ECB example (single DES as K1=K2=K3)', () => {
    expect(toHex(tdesEcbEncrypt(FIPS81_KEY, FIPS81_PT))).toBe(
      '3fa40e8a984d48156a271787ab8883f9893d51ec4b563b53',
    );
    expect(
      toHex(
        tdesEcbDecrypt(FIPS81_KEY, fromHex('3fa40e8a984d48156a271787ab8883f9893d51ec4b563b53')),
      ),
    ).toBe(toHex(FIPS81_PT));
  });

  it('FIPS 81 CBC example', () => {
    const ct = tdesCbcEncrypt(FIPS81_KEY, FIPS81_PT, FIPS81_IV);
    expect(toHex(ct)).toBe('e5c7cdde872bf27c43e934008c389c0f683788499a7c05f6');
    expect(toHex(tdesCbcDecrypt(FIPS81_KEY, ct, FIPS81_IV))).toBe(toHex(FIPS81_PT));
  });

  it('the classic single-block example (key 133457799bbcdff1)', () => {
    expect(toHex(tdesEcbEncrypt(fromHex('133457799bbcdff1'), fromHex('0123456789abcdef')))).toBe(
      '85e813540f0ab405',
    );
  });

  it('NIST SP 800-67 three-key TDEA ECB example', () => {
    const key = fromHex('0123456789abcdef 23456789abcdef01 456789abcdef0123');
    const pt = fromHex('5468652071756663 6b2062726f776e20 666f78206a756d70'); // "The qufck brown fox jump", spelled as in the standard
    const ct = tdesEcbEncrypt(key, pt);
    expect(toHex(ct)).toBe('a826fd8ce53b855fcce21c8112256fe668d5c05dd9b6b900');
    expect(toHex(tdesEcbDecrypt(key, ct))).toBe(toHex(pt));
  });

  it('two-key 3DES is three-key 3DES with K3 = K1', () => {
    const k2 = fromHex('0123456789abcdef fedcba9876543210');
    const k3 = fromHex('0123456789abcdef fedcba9876543210 0123456789abcdef');
    const pt = new Uint8Array(24).map((_, i) => i);
    expect(toHex(tdesCbcEncrypt(k2, pt))).toBe(toHex(tdesCbcEncrypt(k3, pt)));
  });
});

describe('3DES-CBC agrees with OpenSSL (node:crypto)', () => {
  const openssl = (key: Uint8Array, iv: Uint8Array, data: Uint8Array) => {
    const c = createCipheriv(key.length === 16 ? 'des-ede-cbc' : 'des-ede3-cbc', key, iv);
    c.setAutoPadding(false);
    return toHex(new Uint8Array(Buffer.concat([c.update(data), c.final()])));
  };
  it('on random keys, IVs and data (2- and 3-key)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ minLength: 16, maxLength: 16 }),
          fc.uint8Array({ minLength: 24, maxLength: 24 }),
        ),
        fc.uint8Array({ minLength: 8, maxLength: 8 }),
        fc
          .integer({ min: 0, max: 8 })
          .chain((n) => fc.uint8Array({ minLength: n * 8, maxLength: n * 8 })),
        (key, iv, data) => {
          const ct = tdesCbcEncrypt(key, data, iv);
          expect(toHex(ct)).toBe(openssl(key, iv, data));
          expect(toHex(tdesCbcDecrypt(key, ct, iv))).toBe(toHex(data));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('argument checks', () => {
  it('rejects bad key, data and IV lengths with ArgumentError', () => {
    expect(() => tdesCbcEncrypt(new Uint8Array(15), new Uint8Array(8))).toThrow(ArgumentError);
    expect(() => tdesCbcEncrypt(new Uint8Array(16), new Uint8Array(7))).toThrow(ArgumentError);
    expect(() => tdesCbcDecrypt(new Uint8Array(16), new Uint8Array(8), new Uint8Array(7))).toThrow(
      ArgumentError,
    );
    expect(() => tdesEcbEncrypt(new Uint8Array(32), new Uint8Array(8))).toThrow(ArgumentError);
  });
  it('does not modify its input', () => {
    const data = new Uint8Array(16).fill(5);
    tdesCbcEncrypt(new Uint8Array(24).fill(1), data);
    expect([...data]).toEqual(new Array(16).fill(5));
  });
});
