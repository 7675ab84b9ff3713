// The ISO/IEC 7816-3 §8.2 ATR codec: known ATRs, the thousands of real cards' ATRs that
// pcsc-tools lists (when installed), every rejection a ProtocolError, and value → bytes → value.
import { existsSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/bytes.js';
import { ProtocolError } from '../../src/errors.js';
import {
  atrProtocols,
  decodeAtr,
  encodeAtr,
  type Atr,
  type AtrGroup,
} from '../../src/protocol/atr.js';
import { codeOf, fuzzDecoder } from './fuzz-util.js';

const KNOWN: [string, string, Atr][] = [
  [
    'T=0 only: no TD, so no TCK (ISO 7816-3 §8.2.5)',
    '3b021234',
    { convention: 'direct', groups: [{}], historical: fromHex('1234') },
  ],
  [
    'T=0 and T=1 offered, TCK',
    '3b80800101',
    {
      convention: 'direct',
      groups: [{ protocol: 0 }, { protocol: 1 }, {}],
      historical: new Uint8Array(0),
    },
  ],
  [
    'a UICC: TA1 96, T=0, T=15 with class indicator, historical bytes',
    '3b9f96801fc78031e073fe211b63f100ad830f900094',
    {
      convention: 'direct',
      groups: [{ ta: 0x96, protocol: 0 }, { protocol: 15 }, { ta: 0xc7 }],
      historical: fromHex('8031e073fe211b63f100ad830f9000'),
    },
  ],
  [
    'inverse convention, TC1 guard time, T=0',
    '3f6525082204689000',
    { convention: 'inverse', groups: [{ tb: 0x25, tc: 0x08 }], historical: fromHex('2204689000') },
  ],
];

describe('ATR (ISO 7816-3 §8.2)', () => {
  it.each(KNOWN)('%s', (_, hex, atr) => {
    expect(decodeAtr(fromHex(hex))).toEqual(atr);
    expect(toHex(encodeAtr(atr))).toBe(hex);
  });

  it('names the protocols offered', () => {
    expect(atrProtocols(decodeAtr(fromHex('3b021234')))).toEqual([0]);
    expect(atrProtocols(decodeAtr(fromHex('3b80800101')))).toEqual([0, 1]);
    expect(
      atrProtocols(decodeAtr(fromHex('3b9f96801fc78031e073fe211b63f100ad830f900094'))),
    ).toEqual([0]);
  });

  it('refuses a bad TS, a bad TCK, a short or long ATR, and TD1 naming T=15', () => {
    expect(codeOf(() => decodeAtr(fromHex('3a80800101')))).toBe('PROTOCOL_BAD_VALUE TS@0');
    expect(codeOf(() => decodeAtr(fromHex('3b80800102')))).toBe('PROTOCOL_BAD_CHECKSUM TCK@4');
    expect(codeOf(() => decodeAtr(fromHex('3b808001')))).toBe('PROTOCOL_TRUNCATED TCK@4');
    expect(codeOf(() => decodeAtr(fromHex('3b02123456')))).toBe('PROTOCOL_TRAILING_BYTES end@4');
    expect(codeOf(() => decodeAtr(fromHex('3b0212')))).toBe('PROTOCOL_TRUNCATED historical@2');
    expect(codeOf(() => decodeAtr(fromHex('3b800f0f')))).toBe('PROTOCOL_BAD_VALUE TD1@2');
    expect(
      codeOf(() =>
        encodeAtr({
          convention: 'direct',
          groups: [{ protocol: 15 }, {}],
          historical: new Uint8Array(0),
        }),
      ),
    ).toBe('PROTOCOL_BAD_VALUE TD1@-1');
    expect(
      codeOf(() =>
        encodeAtr({
          convention: 'direct',
          groups: [{ protocol: 0 }],
          historical: new Uint8Array(0),
        }),
      ),
    ).toBe('PROTOCOL_BAD_VALUE TD1@-1');
    expect(
      codeOf(() => encodeAtr({ convention: 'direct', groups: [], historical: new Uint8Array(0) })),
    ).toBe('PROTOCOL_MISSING_FIELD groups@-1');
    expect(
      codeOf(() =>
        encodeAtr({ convention: 'direct', groups: [{}], historical: new Uint8Array(16) }),
      ),
    ).toBe('PROTOCOL_BAD_LENGTH historical@-1');
  });

  it('value → bytes → value for any ATR', () => {
    const byte = fc.integer({ min: 0, max: 255 });
    const group = fc.record({ ta: byte, tb: byte, tc: byte }, { requiredKeys: [] });
    const atrArb = fc
      .tuple(
        fc.constantFrom('direct' as const, 'inverse' as const),
        fc.array(fc.tuple(group, fc.integer({ min: 0, max: 14 })), { maxLength: 3 }),
        group,
        fc.uint8Array({ maxLength: 15 }),
      )
      .map(([convention, middle, last, historical]): Atr => {
        const groups: AtrGroup[] = middle.map(([g, t]) => ({ ...g, protocol: t }));
        return { convention, groups: [...groups, last], historical };
      });
    fc.assert(
      fc.property(atrArb, (atr) => {
        let bytes: Uint8Array;
        try {
          bytes = encodeAtr(atr);
        } catch (e) {
          // Only too long an ATR is refused among these values.
          expect(codeOf(() => encodeAtr(atr))).toBe('PROTOCOL_BAD_LENGTH atr@-1');
          expect(e).toBeInstanceOf(ProtocolError);
          return;
        }
        expect(decodeAtr(bytes)).toEqual(atr);
      }),
    );
  });

  it('fuzz: only ProtocolErrors, and every accepted ATR re-encodes to its bytes', () => {
    const seeds = KNOWN.map(([, hex]) => fromHex(hex));
    const { accepted } = fuzzDecoder(
      (b) => {
        const atr = decodeAtr(b);
        expect(toHex(encodeAtr(atr))).toBe(toHex(b));
        return atr;
      },
      seeds,
      { iterations: 10_000, seed: 71, maxLen: 40 },
    );
    expect(accepted).toBeGreaterThan(0);
  });

  const LIST = '/usr/share/pcsc/smartcard_list.txt';
  it.skipIf(!existsSync(LIST))(
    `decodes the real cards' ATRs of pcsc-tools' ${LIST}${existsSync(LIST) ? '' : ' (skipped: pcsc-tools is not installed)'}`,
    () => {
      const atrs = readFileSync(LIST, 'latin1')
        .split('\n')
        .filter((l) => /^3[BF]( [0-9A-F]{2})+\s*$/.test(l))
        .map((l) => fromHex(l.replace(/\s/g, '').toLowerCase()));
      let accepted = 0;
      const refused = new Map<string, number>();
      for (const b of atrs) {
        try {
          const atr = decodeAtr(b);
          expect(toHex(encodeAtr(atr))).toBe(toHex(b));
          accepted++;
        } catch (e) {
          expect(e).toBeInstanceOf(ProtocolError);
          const code = (e as ProtocolError).code;
          refused.set(code, (refused.get(code) ?? 0) + 1);
        }
      }
      // Real cards get their TCK wrong now and then; the structure of nearly all is sound.
      expect(accepted).toBeGreaterThan(atrs.length * 0.9);
      expect([...refused.keys()].every((c) => c.startsWith('PROTOCOL_'))).toBe(true);
    },
  );
});
