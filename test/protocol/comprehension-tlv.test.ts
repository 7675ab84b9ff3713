import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex } from '../../src/bytes.js';
import { ProtocolError } from '../../src/errors.js';
import {
  decodeComprehensionTlv,
  decodeComprehensionTlvList,
  encodeComprehensionTlv,
  encodeComprehensionTlvList,
  type ComprehensionTlv,
} from '../../src/protocol/comprehension-tlv.js';
import { fuzzDecoder, codeOf } from './fuzz-util.js';

describe('COMPREHENSION-TLV known answers', () => {
  it('reads the objects of the TERMINAL RESPONSE of the reference', () => {
    // 81 03 01 24 00 | 82 02 82 81 | 83 01 00 | 90 01 02
    const list = decodeComprehensionTlvList(fromHex('810301240082028281830100900102'));
    expect(list).toEqual([
      { tag: 0x01, cr: true, value: fromHex('012400') },
      { tag: 0x02, cr: true, value: fromHex('8281') },
      { tag: 0x03, cr: true, value: fromHex('00') },
      { tag: 0x10, cr: true, value: fromHex('02') },
    ]);
    expect(toHex(encodeComprehensionTlvList(list))).toBe('810301240082028281830100900102');
  });
  it('CR flag clear: 06 address as in an SMS-PP envelope', () => {
    expect(decodeComprehensionTlv(fromHex('0602911a'))).toEqual({
      tag: 0x06,
      cr: false,
      value: fromHex('911a'),
    });
  });
  it('three-byte tags keep CR in the top bit of the second byte', () => {
    expect(decodeComprehensionTlv(fromHex('7f007f01aa'))).toEqual({
      tag: 0x7f,
      cr: false,
      value: fromHex('aa'),
    });
    expect(decodeComprehensionTlv(fromHex('7f807f00'))).toEqual({
      tag: 0x7f,
      cr: true,
      value: new Uint8Array(0),
    });
    expect(toHex(encodeComprehensionTlv({ tag: 0x1234, cr: true, value: fromHex('01') }))).toBe(
      '7f92340101',
    );
  });
  it('length 81 xx for 128-255 bytes', () => {
    const v = new Uint8Array(200).fill(0x41);
    const bytes = encodeComprehensionTlv({ tag: 0x0b, cr: true, value: v });
    expect(toHex(bytes.subarray(0, 3))).toBe('8b81c8');
    expect(decodeComprehensionTlv(bytes).value).toEqual(v);
  });
});

describe('COMPREHENSION-TLV rejects', () => {
  it('illegal tags 00, 80, FF', () => {
    for (const t of ['00', '80', 'ff'])
      expect(codeOf(() => decodeComprehensionTlv(fromHex(`${t}00`)))).toBe(
        'PROTOCOL_BAD_VALUE tag@0',
      );
  });
  it('a three-byte form for a one-byte tag', () => {
    expect(codeOf(() => decodeComprehensionTlv(fromHex('7f000100')))).toBe(
      'PROTOCOL_BAD_VALUE tag@0',
    );
    expect(codeOf(() => decodeComprehensionTlv(fromHex('7f800000')))).toBe(
      'PROTOCOL_BAD_VALUE tag@0',
    );
  });
  it('lengths that are not 00-7F or 81 80-FF', () => {
    expect(codeOf(() => decodeComprehensionTlv(fromHex('0d81050400000000')))).toBe(
      'PROTOCOL_BAD_LENGTH length@1',
    );
    expect(codeOf(() => decodeComprehensionTlv(fromHex('0d820100')))).toBe(
      'PROTOCOL_BAD_LENGTH length@1',
    );
    expect(codeOf(() => decodeComprehensionTlv(fromHex('0d80')))).toBe(
      'PROTOCOL_BAD_LENGTH length@1',
    );
  });
  it('truncation and trailing bytes', () => {
    expect(codeOf(() => decodeComprehensionTlv(fromHex('0d0304')))).toBe(
      'PROTOCOL_TRUNCATED value@2',
    );
    expect(codeOf(() => decodeComprehensionTlv(fromHex('7f80')))).toBe('PROTOCOL_TRUNCATED tag@1');
    expect(codeOf(() => decodeComprehensionTlv(fromHex('100102ff')))).toBe(
      'PROTOCOL_TRAILING_BYTES end@3',
    );
  });
  it('list errors carry the base offset', () => {
    expect(codeOf(() => decodeComprehensionTlvList(fromHex('82020181 9001'), 10))).toBe(
      'PROTOCOL_TRUNCATED value@16',
    );
  });
  it('bad values given to the encoder', () => {
    expect(
      codeOf(() => encodeComprehensionTlv({ tag: 0, cr: true, value: new Uint8Array(0) })),
    ).toBe('PROTOCOL_BAD_VALUE tag@-1');
    expect(
      codeOf(() => encodeComprehensionTlv({ tag: 0x8000, cr: true, value: new Uint8Array(0) })),
    ).toBe('PROTOCOL_BAD_VALUE tag@-1');
    expect(
      codeOf(() => encodeComprehensionTlv({ tag: 1, cr: true, value: new Uint8Array(256) })),
    ).toBe('PROTOCOL_BAD_LENGTH value@-1');
  });
});

const ctlvArb: fc.Arbitrary<ComprehensionTlv> = fc.record({
  tag: fc.oneof(fc.integer({ min: 1, max: 0x7e }), fc.integer({ min: 0x7f, max: 0x7fff })),
  cr: fc.boolean(),
  value: fc.oneof(
    fc.uint8Array({ maxLength: 20 }),
    fc.uint8Array({ minLength: 120, maxLength: 255 }),
  ),
});

describe('COMPREHENSION-TLV properties', () => {
  it('value -> bytes -> value', () => {
    fc.assert(
      fc.property(fc.array(ctlvArb, { maxLength: 6 }), (list) => {
        expect(decodeComprehensionTlvList(encodeComprehensionTlvList(list))).toEqual(list);
      }),
      { numRuns: 500 },
    );
  });
  it('bytes -> value -> bytes for every accepted input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 12 }), (b) => {
        try {
          expect(encodeComprehensionTlvList(decodeComprehensionTlvList(b))).toEqual(b);
        } catch (e) {
          expect(e).toBeInstanceOf(ProtocolError);
        }
      }),
      { numRuns: 3000 },
    );
  });
  it('fuzz: only ProtocolErrors', () => {
    const seeds = ['810301240082028281830100900102', '7f92340101', '0602911a'].map((h) =>
      fromHex(h),
    );
    expect(
      fuzzDecoder(decodeComprehensionTlvList, seeds, { iterations: 20_000, seed: 31 }).accepted,
    ).toBeGreaterThan(0);
  });
});
