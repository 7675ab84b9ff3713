import { createCipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex, utf8 } from '../../src/bytes.js';
import { ArgumentError } from '../../src/errors.js';
import { aesCmac, crc16X25, crc32, tdesCbcMac } from '../../src/protocol/checksums.js';

interface MacTest {
  tcId: number;
  key: string;
  msg: string;
  tag: string;
  result: 'valid' | 'invalid';
  flags: string[];
}
interface MacGroup {
  keySize: number;
  tagSize: number;
  tests: MacTest[];
}
const wycheproof = JSON.parse(
  readFileSync(new URL('../vectors/aes_cmac_test.json', import.meta.url), 'utf8'),
) as {
  testGroups: MacGroup[];
};

describe('CRC check values ("123456789")', () => {
  it('CRC-16/X-25 is 906E', () => {
    expect(crc16X25(utf8('123456789'))).toBe(0x906e);
  });
  it('CRC-32 (zlib) is CBF43926', () => {
    expect(crc32(utf8('123456789'))).toBe(0xcbf43926);
  });
  it('empty input', () => {
    expect(crc16X25(new Uint8Array(0))).toBe(0x0000);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
  it('CRC-32 agrees with zlib on random data', async () => {
    const { crc32: zlibCrc32 } = await import('node:zlib');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (d) => {
        expect(crc32(d)).toBe(zlibCrc32(d));
      }),
      { numRuns: 200 },
    );
  });
});

describe('AES-CMAC against Wycheproof aes_cmac_test.json', () => {
  it('every test vector: valid tags match, modified tags differ, bad key sizes throw', () => {
    let valid = 0;
    let invalid = 0;
    let badKeys = 0;
    for (const group of wycheproof.testGroups) {
      for (const t of group.tests) {
        const key = fromHex(t.key);
        const msg = fromHex(t.msg);
        if (![16, 24, 32].includes(key.length)) {
          badKeys++;
          expect(() => aesCmac(key, msg), `tcId ${t.tcId}`).toThrow(ArgumentError);
          continue;
        }
        const tag = toHex(aesCmac(key, msg, group.tagSize / 8));
        if (t.result === 'valid') {
          valid++;
          expect(tag, `tcId ${t.tcId}`).toBe(t.tag);
        } else {
          invalid++;
          expect(tag, `tcId ${t.tcId}`).not.toBe(t.tag);
        }
      }
    }
    expect(valid).toBe(63);
    expect(invalid).toBe(243);
    expect(badKeys).toBe(5);
  });
  it('RFC 4493 example 2 truncated to the 8 and 4 bytes secured packets use', () => {
    const key = fromHex('2b7e151628aed2a6abf7158809cf4f3c');
    const msg = fromHex('6bc1bee22e409f96e93d7e117393172a');
    expect(toHex(aesCmac(key, msg))).toBe('070a16b46b4d4144f79bdd9dd04a287c');
    expect(toHex(aesCmac(key, msg, 8))).toBe('070a16b46b4d4144');
    expect(toHex(aesCmac(key, msg, 4))).toBe('070a16b4');
  });
});

describe('3DES CBC-MAC', () => {
  it('is the last block of 3DES-CBC over the zero-padded input (OpenSSL)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ minLength: 16, maxLength: 16 }),
          fc.uint8Array({ minLength: 24, maxLength: 24 }),
        ),
        fc.uint8Array({ minLength: 1, maxLength: 80 }),
        (key, data) => {
          const padded = new Uint8Array(Math.ceil(data.length / 8) * 8);
          padded.set(data);
          const c = createCipheriv(
            key.length === 16 ? 'des-ede-cbc' : 'des-ede3-cbc',
            key,
            new Uint8Array(8),
          );
          c.setAutoPadding(false);
          const ct = Buffer.concat([c.update(padded), c.final()]);
          expect(toHex(tdesCbcMac(key, data))).toBe(
            toHex(new Uint8Array(ct.subarray(ct.length - 8))),
          );
        },
      ),
      { numRuns: 150 },
    );
  });
  it('treats the empty input as one zero block', () => {
    const key = new Uint8Array(16).fill(3);
    expect(toHex(tdesCbcMac(key, new Uint8Array(0)))).toBe(
      toHex(tdesCbcMac(key, new Uint8Array(8))),
    );
  });
});
