import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex } from '../../src/bytes.js';
import { ProtocolError } from '../../src/errors.js';
import {
  berTagBytes,
  decodeBerTlv,
  decodeBerTlvList,
  decodeBerTlvTree,
  encodeBerTlv,
  encodeBerTlvList,
  isConstructedTag,
  type BerTlv,
} from '../../src/protocol/ber-tlv.js';
import { fuzzDecoder, codeOf } from './fuzz-util.js';

describe('BER-TLV known answers', () => {
  it('one-byte tag, short length: the MENU SELECTION envelope of the reference', () => {
    const tlv = decodeBerTlv(fromHex('d30782020181900102'));
    expect(tlv.tag).toBe(0xd3);
    expect(toHex(tlv.value)).toBe('82020181900102');
    expect(isConstructedTag(0xd3)).toBe(false);
  });
  it('two- and three-byte tags', () => {
    expect(decodeBerTlv(fromHex('9f2701aa'))).toEqual({ tag: 0x9f27, value: fromHex('aa') });
    expect(decodeBerTlv(fromHex('bf0c00'))).toEqual({ tag: 0xbf0c, value: new Uint8Array(0) });
    expect(decodeBerTlv(fromHex('df810102beef'))).toEqual({
      tag: 0xdf8101,
      value: fromHex('beef'),
    });
    expect(toHex(berTagBytes(0xdf8101))).toBe('df8101');
    expect(isConstructedTag(0xbf0c)).toBe(true);
  });
  it('length forms 81 and 82', () => {
    const v200 = new Uint8Array(200).fill(1);
    expect(toHex(encodeBerTlv({ tag: 0xd0, value: v200 }).subarray(0, 3))).toBe('d081c8');
    const v300 = new Uint8Array(300).fill(2);
    const e300 = encodeBerTlv({ tag: 0x53, value: v300 });
    expect(toHex(e300.subarray(0, 4))).toBe('5382012c');
    expect(decodeBerTlv(e300).value).toEqual(v300);
  });
  it('parses constructed values into a tree (an FCI template)', () => {
    const [fci] = decodeBerTlvTree(fromHex('6f0e 8405a000000087 a5055003414243'));
    expect(fci!.constructed).toBe(true);
    expect(fci!.children!.map((c) => c.tag)).toEqual([0x84, 0xa5]);
    expect(fci!.children![1]!.children![0]).toEqual({
      tag: 0x50,
      constructed: false,
      value: fromHex('414243'),
    });
  });
  it('lists', () => {
    const list: BerTlv[] = [
      { tag: 0x4f, value: fromHex('a000000087') },
      { tag: 0x50, value: fromHex('41') },
    ];
    expect(toHex(encodeBerTlvList(list))).toBe('4f05a000000087500141');
    expect(decodeBerTlvList(fromHex('4f05a000000087500141'))).toEqual(list);
    expect(decodeBerTlvList(new Uint8Array(0))).toEqual([]);
  });
});

describe('BER-TLV rejects', () => {
  it('truncation and trailing bytes', () => {
    expect(codeOf(() => decodeBerTlv(fromHex('4f05a0')))).toBe('PROTOCOL_TRUNCATED value@2');
    expect(codeOf(() => decodeBerTlv(fromHex('4f01a000')))).toBe('PROTOCOL_TRAILING_BYTES end@3');
    expect(codeOf(() => decodeBerTlv(fromHex('9f')))).toBe('PROTOCOL_TRUNCATED tag@1');
    expect(codeOf(() => decodeBerTlv(new Uint8Array(0)))).toBe('PROTOCOL_TRUNCATED tag@0');
  });
  it('non-minimal, indefinite and over-long lengths', () => {
    expect(codeOf(() => decodeBerTlv(fromHex('4f8101aa')))).toBe('PROTOCOL_BAD_LENGTH length@1');
    expect(codeOf(() => decodeBerTlv(fromHex('4f820001aa')))).toBe('PROTOCOL_BAD_LENGTH length@1');
    expect(codeOf(() => decodeBerTlv(fromHex('4f800000')))).toBe('PROTOCOL_BAD_LENGTH length@1');
    expect(codeOf(() => decodeBerTlv(fromHex('4f8300000100')))).toBe(
      'PROTOCOL_BAD_LENGTH length@1',
    );
  });
  it('illegal tags', () => {
    expect(codeOf(() => decodeBerTlv(fromHex('0000')))).toBe('PROTOCOL_BAD_VALUE tag@0');
    expect(codeOf(() => decodeBerTlv(fromHex('ff00')))).toBe('PROTOCOL_BAD_VALUE tag@0');
    // EMV-style second bytes below 1F are accepted (9F02 amount, BF0C FCI discretionary data).
    expect(decodeBerTlv(fromHex('9f0200')).tag).toBe(0x9f02);
    expect(codeOf(() => decodeBerTlv(fromHex('9f800100')))).toBe('PROTOCOL_BAD_VALUE tag@1');
    expect(codeOf(() => decodeBerTlv(fromHex('9f81818100')))).toBe('PROTOCOL_BAD_VALUE tag@2');
    expect(codeOf(() => encodeBerTlv({ tag: 0x1f, value: new Uint8Array(0) }))).toBe(
      'PROTOCOL_BAD_VALUE tag@-1',
    );
    expect(codeOf(() => encodeBerTlv({ tag: 0x9f80, value: new Uint8Array(0) }))).toBe(
      'PROTOCOL_BAD_VALUE tag@-1',
    );
    expect(codeOf(() => encodeBerTlv({ tag: 0x4f00, value: new Uint8Array(0) }))).toBe(
      'PROTOCOL_BAD_VALUE tag@-1',
    );
    expect(codeOf(() => encodeBerTlv({ tag: 0x4f, value: new Uint8Array(65536) }))).toBe(
      'PROTOCOL_BAD_LENGTH value@-1',
    );
  });
  it('errors inside a tree carry offsets into the whole input', () => {
    expect(codeOf(() => decodeBerTlvTree(fromHex('6f06 8405a0000000')))).toBe(
      'PROTOCOL_TRUNCATED value@4',
    );
  });
  it('nesting beyond 32 levels', () => {
    let deep = fromHex('5000');
    for (let i = 0; i < 40; i++) deep = encodeBerTlv({ tag: 0x70, value: deep });
    expect(codeOf(() => decodeBerTlvTree(deep))).toMatch(/^PROTOCOL_BAD_VALUE value@/);
  });
});

// Valid tags of each form: one byte (not x1F, 00, FF), two bytes (second 00-7F), three bytes.
const tagArb = fc.oneof(
  fc.integer({ min: 1, max: 0xfe }).filter((t) => (t & 0x1f) !== 0x1f),
  fc
    .tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 0x7f }))
    .map(([c, s]) => (((c << 5) | 0x1f) << 8) | s),
  fc
    .tuple(
      fc.integer({ min: 0, max: 6 }),
      fc.integer({ min: 0x81, max: 0xff }),
      fc.integer({ min: 0, max: 0x7f }),
    )
    .map(([c, s, t]) => (((c << 5) | 0x1f) << 16) | (s << 8) | t),
);
const tlvArb: fc.Arbitrary<BerTlv> = fc.record({
  tag: tagArb,
  value: fc.oneof(
    fc.uint8Array({ maxLength: 20 }),
    fc.uint8Array({ minLength: 120, maxLength: 300 }),
  ),
});

describe('BER-TLV properties', () => {
  it('value -> bytes -> value', () => {
    fc.assert(
      fc.property(tlvArb, (tlv) => {
        expect(decodeBerTlv(encodeBerTlv(tlv))).toEqual(tlv);
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.array(tlvArb, { maxLength: 5 }), (list) => {
        expect(decodeBerTlvList(encodeBerTlvList(list))).toEqual(list);
      }),
      { numRuns: 300 },
    );
  });
  it('bytes -> value -> bytes for every accepted input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 12 }), (b) => {
        try {
          expect(encodeBerTlvList(decodeBerTlvList(b))).toEqual(b);
        } catch (e) {
          expect(e).toBeInstanceOf(ProtocolError);
        }
      }),
      { numRuns: 3000 },
    );
  });
  it('fuzz: only ProtocolErrors', () => {
    const seeds = ['d30782020181900102', '6f0e8405a000000087a5055003414243', 'df810102beef'].map(
      (h) => fromHex(h),
    );
    expect(
      fuzzDecoder(decodeBerTlv, seeds, { iterations: 10_000, seed: 21 }).accepted,
    ).toBeGreaterThan(0);
    expect(
      fuzzDecoder(decodeBerTlvTree, seeds, { iterations: 10_000, seed: 22 }).accepted,
    ).toBeGreaterThan(0);
  });
});
