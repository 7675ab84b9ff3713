import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex } from '../../src/bytes.js';
import { ProtocolError } from '../../src/errors.js';
import {
  apduCase,
  decodeCommandApdu,
  decodeResponseApdu,
  encodeCommandApdu,
  encodeResponseApdu,
  formatStatusWord,
  statusWordName,
  type CommandApdu,
} from '../../src/protocol/apdu.js';
import { fuzzDecoder, codeOf } from './fuzz-util.js';

const empty = new Uint8Array(0);

describe('command APDU known answers', () => {
  const cases: [string, CommandApdu, 1 | 2 | 3 | 4][] = [
    // SELECT MF by FID, case 1-ish with no Le: 00 A4 00 00
    ['00a40000', { cla: 0, ins: 0xa4, p1: 0, p2: 0, data: empty, extended: false }, 1],
    // FETCH 27 bytes after SW 911B
    ['801200001b', { cla: 0x80, ins: 0x12, p1: 0, p2: 0, data: empty, le: 27, extended: false }, 2],
    // GET RESPONSE for 256 bytes: Le 00
    ['00c0000000', { cla: 0, ins: 0xc0, p1: 0, p2: 0, data: empty, le: 256, extended: false }, 2],
    // ENVELOPE MENU SELECTION from standards.md
    [
      '80c2000009d30782020181900102',
      { cla: 0x80, ins: 0xc2, p1: 0, p2: 0, data: fromHex('d30782020181900102'), extended: false },
      3,
    ],
    // SELECT by AID with Le 00
    [
      '00a4040005a00000008700',
      { cla: 0, ins: 0xa4, p1: 4, p2: 0, data: fromHex('a000000087'), le: 256, extended: false },
      4,
    ],
    // case 2E: Le 0000 means 65536
    [
      '00b0000000 0000',
      { cla: 0, ins: 0xb0, p1: 0, p2: 0, data: empty, le: 65536, extended: true },
      2,
    ],
    [
      '00b0000000 0100',
      { cla: 0, ins: 0xb0, p1: 0, p2: 0, data: empty, le: 256, extended: true },
      2,
    ],
    // case 3E and 4E
    [
      '00d6000000 0002 abcd',
      { cla: 0, ins: 0xd6, p1: 0, p2: 0, data: fromHex('abcd'), extended: true },
      3,
    ],
    [
      '00a4040000 0005 a000000087 0000',
      { cla: 0, ins: 0xa4, p1: 4, p2: 0, data: fromHex('a000000087'), le: 65536, extended: true },
      4,
    ],
  ];
  for (const [hex, apdu, kase] of cases) {
    it(`${hex} is case ${kase}${apdu.extended ? 'E' : ''}`, () => {
      expect(decodeCommandApdu(fromHex(hex))).toEqual(apdu);
      expect(toHex(encodeCommandApdu(apdu))).toBe(hex.replace(/ /g, ''));
      expect(apduCase(apdu)).toBe(kase);
    });
  }
  it('picks the extended form when the lengths need it', () => {
    const long = new Uint8Array(300).fill(7);
    const bytes = encodeCommandApdu({ cla: 0, ins: 0xd6, p1: 0, p2: 0, data: long });
    expect(toHex(bytes.subarray(0, 7))).toBe('00d6000000012c');
    expect(bytes.length).toBe(307);
    expect(
      toHex(encodeCommandApdu({ cla: 0, ins: 0xb0, p1: 0, p2: 0, data: empty, le: 257 })),
    ).toBe('00b00000000101');
  });
});

describe('command APDU rejects', () => {
  it('inconsistent lengths', () => {
    expect(codeOf(() => decodeCommandApdu(fromHex('00a404')))).toBe('PROTOCOL_TRUNCATED P2@3');
    expect(codeOf(() => decodeCommandApdu(fromHex('00a4040005a000')))).toBe(
      'PROTOCOL_BAD_LENGTH Lc@4',
    );
    expect(codeOf(() => decodeCommandApdu(fromHex('00a4040002a0000000')))).toBe(
      'PROTOCOL_BAD_LENGTH Lc@4',
    );
    expect(codeOf(() => decodeCommandApdu(fromHex('00a404000000')))).toBe(
      'PROTOCOL_BAD_LENGTH Lc@5',
    );
    expect(codeOf(() => decodeCommandApdu(fromHex('00a40400000000aa')))).toBe(
      'PROTOCOL_BAD_LENGTH Lc@5',
    );
    expect(codeOf(() => decodeCommandApdu(fromHex('00a40400000003aabb')))).toBe(
      'PROTOCOL_BAD_LENGTH Lc@5',
    );
    expect(codeOf(() => decodeCommandApdu(fromHex('00a40400000001aabbccdd')))).toBe(
      'PROTOCOL_BAD_LENGTH Lc@5',
    );
  });
  it('INS 6X and 9X', () => {
    expect(codeOf(() => decodeCommandApdu(fromHex('00610000')))).toBe('PROTOCOL_BAD_VALUE INS@1');
    expect(codeOf(() => decodeCommandApdu(fromHex('00900000')))).toBe('PROTOCOL_BAD_VALUE INS@1');
    expect(codeOf(() => encodeCommandApdu({ cla: 0, ins: 0x6c, p1: 0, p2: 0, data: empty }))).toBe(
      'PROTOCOL_BAD_VALUE INS@-1',
    );
  });
  it('bad values given to the encoder', () => {
    expect(codeOf(() => encodeCommandApdu({ cla: 256, ins: 0, p1: 0, p2: 0, data: empty }))).toBe(
      'PROTOCOL_BAD_VALUE CLA@-1',
    );
    expect(
      codeOf(() => encodeCommandApdu({ cla: 0, ins: 0, p1: 0, p2: 0, data: empty, le: 0 })),
    ).toBe('PROTOCOL_BAD_VALUE Le@-1');
    expect(
      codeOf(() => encodeCommandApdu({ cla: 0, ins: 0, p1: 0, p2: 0, data: empty, le: 65537 })),
    ).toBe('PROTOCOL_BAD_VALUE Le@-1');
    expect(
      codeOf(() =>
        encodeCommandApdu({ cla: 0, ins: 0, p1: 0, p2: 0, data: new Uint8Array(65536) }),
      ),
    ).toBe('PROTOCOL_BAD_LENGTH data@-1');
    expect(
      codeOf(() =>
        encodeCommandApdu({ cla: 0, ins: 0, p1: 0, p2: 0, data: empty, extended: true }),
      ),
    ).toBe('PROTOCOL_BAD_VALUE extended@-1');
  });
});

describe('response APDU', () => {
  it('splits data and status word', () => {
    expect(decodeResponseApdu(fromHex('d0019000'))).toEqual({ data: fromHex('d001'), sw: 0x9000 });
    expect(decodeResponseApdu(fromHex('911b'))).toEqual({ data: empty, sw: 0x911b });
    expect(toHex(encodeResponseApdu({ data: fromHex('01'), sw: 0x6a82 }))).toBe('016a82');
  });
  it('rejects a missing status word and an SW1 that is not 6X/9X', () => {
    expect(codeOf(() => decodeResponseApdu(fromHex('90')))).toBe('PROTOCOL_TRUNCATED SW1@0');
    expect(codeOf(() => encodeResponseApdu({ data: empty, sw: 0x1234 }))).toBe(
      'PROTOCOL_BAD_VALUE SW1@-1',
    );
  });
  it('names the status words of the reference', () => {
    const named: [number, string][] = [
      [0x9000, 'normal ending'],
      [0x9300, 'SIM toolkit busy'],
      [0x6700, 'wrong length'],
      [0x6982, 'security status not satisfied'],
      [0x6985, 'conditions of use not satisfied'],
      [0x6a80, 'incorrect parameters in the data field'],
      [0x6a82, 'file or application not found'],
      [0x6a84, 'not enough memory space in the file'],
      [0x6a86, 'incorrect parameters P1-P2'],
      [0x6a88, 'referenced data not found'],
      [0x6d00, 'instruction code not supported or invalid'],
      [0x6e00, 'class not supported'],
      [0x6f00, 'technical problem, no precise diagnosis'],
      [0x911b, 'normal ending, proactive command pending (27 bytes)'],
      [0x6110, 'normal ending, 16 response bytes available'],
      [0x6c20, 'wrong Le, exact length is 32'],
    ];
    for (const [sw, name] of named) expect(statusWordName(sw)).toBe(name);
    expect(statusWordName(0x6283)).toBeUndefined();
    expect(formatStatusWord(0x911b)).toBe('911b');
  });
});

const apduArb: fc.Arbitrary<CommandApdu> = fc
  .record({
    cla: fc.integer({ min: 0, max: 255 }),
    ins: fc.integer({ min: 0, max: 255 }).filter((i) => (i & 0xf0) !== 0x60 && (i & 0xf0) !== 0x90),
    p1: fc.integer({ min: 0, max: 255 }),
    p2: fc.integer({ min: 0, max: 255 }),
    data: fc.oneof(
      fc.uint8Array({ maxLength: 20 }),
      fc.uint8Array({ minLength: 250, maxLength: 400 }),
    ),
    le: fc.option(fc.oneof(fc.integer({ min: 1, max: 256 }), fc.integer({ min: 1, max: 65536 })), {
      nil: undefined,
    }),
    extended: fc.boolean(),
  })
  .map((a) => {
    const needs = a.data.length > 255 || (a.le !== undefined && a.le > 256);
    const hasLength = a.data.length > 0 || a.le !== undefined;
    const { le, ...rest } = a;
    const out: CommandApdu = { ...rest, extended: hasLength && (a.extended || needs) };
    if (le !== undefined) out.le = le;
    return out;
  });

describe('APDU properties', () => {
  it('command: value -> bytes -> value', () => {
    fc.assert(
      fc.property(apduArb, (apdu) => {
        expect(decodeCommandApdu(encodeCommandApdu(apdu))).toEqual(apdu);
      }),
      { numRuns: 1000 },
    );
  });
  it('command: bytes -> value -> bytes for every accepted input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 12 }), (b) => {
        try {
          expect(encodeCommandApdu(decodeCommandApdu(b))).toEqual(b);
        } catch (e) {
          expect(e).toBeInstanceOf(ProtocolError);
        }
      }),
      { numRuns: 3000 },
    );
  });
  it('response: round trip', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.integer({ min: 0x6000, max: 0x6fff }),
        (data, sw) => {
          expect(decodeResponseApdu(encodeResponseApdu({ data, sw }))).toEqual({ data, sw });
        },
      ),
    );
  });
  it('fuzz: only ProtocolErrors', () => {
    const seeds = [
      '801200001b',
      '80c2000009d30782020181900102',
      '00a4040000 0005 a000000087 0000',
    ].map((h) => fromHex(h));
    const { accepted } = fuzzDecoder(decodeCommandApdu, seeds, { iterations: 20_000, seed: 11 });
    expect(accepted).toBeGreaterThan(0);
    fuzzDecoder(decodeResponseApdu, [fromHex('9000')], { iterations: 2000, seed: 12 });
  });
});
