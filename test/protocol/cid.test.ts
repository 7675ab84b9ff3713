import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex } from '../../src/bytes.js';
import { ProtocolError } from '../../src/errors.js';
import {
  cidIdentity,
  crc7,
  decodeCid,
  encodeCid,
  formatCidText,
  parseCidText,
  type Cid,
} from '../../src/protocol/cid.js';
import { fuzzDecoder, codeOf } from './fuzz-util.js';

// CIDs of real SanDisk cards as published with card inventories and CID decoders (the CRC byte is
// the card's own, so these pin the CRC7 too).
const REAL: { hex: string; cid: Cid }[] = [
  {
    // SanDisk Ultra II 1 GB microSD, made March 2006; CRC7 0x3E.
    hex: '035344535530314780401c751300637d',
    cid: {
      mid: 3,
      oid: 'SD',
      pnm: 'SU01G',
      prv: { major: 8, minor: 0 },
      psn: 0x401c7513,
      mdt: { year: 2006, month: 3 },
      crc: 'valid',
    },
  },
  {
    // SanDisk Blue 2 GB SD.
    hex: '035344534430324780019acc7600844b',
    cid: {
      mid: 3,
      oid: 'SD',
      pnm: 'SD02G',
      prv: { major: 8, minor: 0 },
      psn: 0x019acc76,
      mdt: { year: 2008, month: 4 },
      crc: 'valid',
    },
  },
  {
    // SanDisk 32 GB microSDHC class 4.
    hex: '035344535533324780718848c800b7fb',
    cid: {
      mid: 3,
      oid: 'SD',
      pnm: 'SU32G',
      prv: { major: 8, minor: 0 },
      psn: 0x718848c8,
      mdt: { year: 2011, month: 7 },
      crc: 'valid',
    },
  },
  {
    // SanDisk 8 GB microSDHC; a public CID decoder's test gives PSN 465093366 for it.
    hex: '0353445355303847801bb8c2f600c82f',
    cid: {
      mid: 3,
      oid: 'SD',
      pnm: 'SU08G',
      prv: { major: 8, minor: 0 },
      psn: 465093366,
      mdt: { year: 2012, month: 8 },
      crc: 'valid',
    },
  },
  {
    // ATP 2 GB, a card with a space in its product name. Its published dump ends in 0x36: the
    // reader lost the end bit; with the end bit set (0x37) its CRC7 0x1B verifies.
    hex: '09415041462055441047b00419007b37',
    cid: {
      mid: 9,
      oid: 'AP',
      pnm: 'AF UD',
      prv: { major: 1, minor: 0 },
      psn: 0x47b00419,
      mdt: { year: 2007, month: 11 },
      crc: 'valid',
    },
  },
];

const cidArb: fc.Arbitrary<Cid> = fc.record({
  mid: fc.integer({ min: 0, max: 255 }),
  oid: fc.string({
    unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)),
    minLength: 2,
    maxLength: 2,
  }),
  pnm: fc.string({
    unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)),
    minLength: 5,
    maxLength: 5,
  }),
  prv: fc.record({ major: fc.integer({ min: 0, max: 9 }), minor: fc.integer({ min: 0, max: 9 }) }),
  psn: fc.integer({ min: 0, max: 0xffffffff }),
  mdt: fc.record({
    year: fc.integer({ min: 2000, max: 2255 }),
    month: fc.integer({ min: 1, max: 12 }),
  }),
  crc: fc.constantFrom('valid' as const, 'absent' as const),
});

describe('CRC7 (x^7 + x^3 + 1)', () => {
  it('matches the CRCs of SD commands', () => {
    // CMD0 40 00000000 95, CMD8 48 000001AA 87, CMD17 51 00000000 55: the CRC is the byte >> 1.
    expect(crc7(fromHex('4000000000'))).toBe(0x95 >> 1);
    expect(crc7(fromHex('48000001aa'))).toBe(0x87 >> 1);
    expect(crc7(fromHex('5100000000'))).toBe(0x55 >> 1);
  });
  it('is zero for no input and fits 7 bits', () => {
    expect(crc7(new Uint8Array(0))).toBe(0);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (b) => crc7(b) >= 0 && crc7(b) < 128));
  });
});

describe('CID known answers', () => {
  for (const { hex, cid } of REAL) {
    it(`decodes and rebuilds ${cid.pnm} ${hex}`, () => {
      expect(decodeCid(fromHex(hex))).toEqual(cid);
      expect(toHex(encodeCid(cid))).toBe(hex);
    });
  }
  it('accepts the CRC-stripped form and reports it', () => {
    const stripped = fromHex('035344535530314780401c7513006300');
    const cid = decodeCid(stripped);
    expect(cid.crc).toBe('absent');
    expect(toHex(encodeCid(cid))).toBe('035344535530314780401c7513006300');
    expect(toHex(cidIdentity(cid))).toBe(toHex(cidIdentity(decodeCid(fromHex(REAL[0]!.hex)))));
  });
  it('identity is bytes 0..14', () => {
    expect(toHex(cidIdentity(REAL[0]!.cid))).toBe('035344535530314780401c75130063');
  });
  it('reads and writes the sysfs text form', () => {
    expect(parseCidText('035344535530314780401c751300637d\n')).toEqual(REAL[0]!.cid);
    expect(parseCidText('035344535530314780401C751300637D')).toEqual(REAL[0]!.cid);
    expect(formatCidText(REAL[0]!.cid)).toBe('035344535530314780401c751300637d\n');
  });
});

describe('CID rejects', () => {
  it('a wrong CRC', () => {
    expect(codeOf(() => decodeCid(fromHex('035344535530314780401c751300637f')))).toBe(
      'PROTOCOL_BAD_CHECKSUM CRC@15',
    );
    // A real dump whose end bit reads 0: refused rather than guessed at.
    expect(codeOf(() => decodeCid(fromHex('03534453553031478080baf50e009b8c')))).toBe(
      'PROTOCOL_BAD_VALUE CRC@15',
    );
    expect(codeOf(() => decodeCid(fromHex('09415041462055441047b00419007b36')))).toBe(
      'PROTOCOL_BAD_VALUE CRC@15',
    );
  });
  it('wrong lengths', () => {
    expect(codeOf(() => decodeCid(fromHex('035344535530314780401c7513006300aa')))).toBe(
      'PROTOCOL_TRAILING_BYTES cid@16',
    );
    expect(codeOf(() => decodeCid(fromHex('035344535530314780401c75130063')))).toBe(
      'PROTOCOL_TRUNCATED cid@15',
    );
  });
  it('non-BCD revision, reserved bits, bad month', () => {
    expect(codeOf(() => decodeCid(fromHex('0353445355303147a0401c7513006300')))).toBe(
      'PROTOCOL_BAD_VALUE PRV@8',
    );
    expect(codeOf(() => decodeCid(fromHex('035344535530314780401c7513106300')))).toBe(
      'PROTOCOL_BAD_VALUE reserved@13',
    );
    expect(codeOf(() => decodeCid(fromHex('035344535530314780401c7513006d00')))).toBe(
      'PROTOCOL_BAD_VALUE MDT@14',
    );
    expect(codeOf(() => decodeCid(fromHex('035344535530314780401c7513006000')))).toBe(
      'PROTOCOL_BAD_VALUE MDT@14',
    );
  });
  it('bad text forms', () => {
    expect(codeOf(() => parseCidText('035344535530314780401c751300637d\n\n'))).toBe(
      'PROTOCOL_BAD_VALUE text@16',
    );
    expect(codeOf(() => parseCidText('0353'))).toBe('PROTOCOL_BAD_LENGTH text@2');
    expect(codeOf(() => parseCidText('035344535530314780401c751300637z'))).toBe(
      'PROTOCOL_BAD_VALUE text@15',
    );
  });
  it('bad values given to the encoder, naming the field at offset -1', () => {
    const base = REAL[0]!.cid;
    expect(codeOf(() => encodeCid({ ...base, mid: 256 }))).toBe('PROTOCOL_BAD_VALUE MID@-1');
    expect(codeOf(() => encodeCid({ ...base, oid: 'S' }))).toBe('PROTOCOL_BAD_VALUE OID@-1');
    expect(codeOf(() => encodeCid({ ...base, pnm: 'SU01€' }))).toBe('PROTOCOL_BAD_VALUE PNM@-1');
    expect(codeOf(() => encodeCid({ ...base, prv: { major: 10, minor: 0 } }))).toBe(
      'PROTOCOL_BAD_VALUE PRV@-1',
    );
    expect(codeOf(() => encodeCid({ ...base, psn: -1 }))).toBe('PROTOCOL_BAD_VALUE PSN@-1');
    expect(codeOf(() => encodeCid({ ...base, mdt: { year: 1999, month: 1 } }))).toBe(
      'PROTOCOL_BAD_VALUE MDT@-1',
    );
    expect(codeOf(() => encodeCid({ ...base, mdt: { year: 2010, month: 13 } }))).toBe(
      'PROTOCOL_BAD_VALUE MDT@-1',
    );
    expect(codeOf(() => encodeCid({ ...base, crc: 'maybe' as 'valid' }))).toBe(
      'PROTOCOL_BAD_VALUE CRC@-1',
    );
  });
});

describe('CID properties', () => {
  it('value -> bytes -> value', () => {
    fc.assert(
      fc.property(cidArb, (cid) => {
        expect(decodeCid(encodeCid(cid))).toEqual(cid);
      }),
      { numRuns: 500 },
    );
  });
  it('bytes -> value -> bytes for every accepted input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
        let cid: Cid;
        try {
          cid = decodeCid(b);
        } catch (e) {
          expect(e).toBeInstanceOf(ProtocolError);
          return;
        }
        expect(encodeCid(cid)).toEqual(b);
      }),
      { numRuns: 2000 },
    );
  });
  it('text form round-trips', () => {
    fc.assert(
      fc.property(cidArb, (cid) => {
        expect(parseCidText(formatCidText(cid))).toEqual(cid);
      }),
      { numRuns: 200 },
    );
  });
  it('fuzz: only ProtocolErrors, and valid CIDs get through', () => {
    const seeds = REAL.map((r) => fromHex(r.hex));
    const { accepted } = fuzzDecoder(decodeCid, seeds, { iterations: 20_000, seed: 7, maxLen: 20 });
    expect(accepted).toBeGreaterThan(0);
  });
});
