import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex } from '../../src/bytes.js';
import { ProtocolError } from '../../src/errors.js';
import {
  decodeAlphaText,
  decodeGsmSeptets,
  decodeTextString,
  encodeAlphaText,
  encodeGsmSeptets,
  encodeTextString,
  isGsmText,
  packSeptets,
  unpackSeptets,
  type TextString,
} from '../../src/protocol/toolkit-text.js';
import { fuzzDecoder, codeOf } from './fuzz-util.js';

// Every character of the GSM default alphabet and its extension table (ESC itself excluded).
const GSM_CHARS = [
  ...Array.from(
    '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
  ),
  ...Array.from('\f^{}\\[~]|€'),
];

describe('GSM default alphabet', () => {
  it('has 127 basic characters and 10 extension characters, each coded once', () => {
    expect(GSM_CHARS.length).toBe(137);
    expect(new Set(GSM_CHARS).size).toBe(137);
    for (const ch of GSM_CHARS) expect(decodeGsmSeptets(encodeGsmSeptets(ch))).toBe(ch);
  });
  it('codes the characters that differ from ASCII', () => {
    expect(toHex(encodeGsmSeptets('@$_'))).toBe('000211');
    expect(toHex(encodeGsmSeptets('€[]'))).toBe('1b651b3c1b3e');
    expect(isGsmText('Menu 1')).toBe(true);
    expect(isGsmText('菜单')).toBe(false);
    expect(isGsmText('`')).toBe(false);
  });
  it('rejects characters outside it, bit 8 (after an escape too) and a bare escape at the end', () => {
    expect(codeOf(() => encodeGsmSeptets('a`'))).toBe('PROTOCOL_BAD_VALUE text@-1');
    expect(codeOf(() => decodeGsmSeptets(fromHex('4180')))).toBe('PROTOCOL_BAD_VALUE text@1');
    expect(codeOf(() => decodeGsmSeptets(fromHex('411b')))).toBe('PROTOCOL_BAD_VALUE text@1');
    expect(codeOf(() => decodeGsmSeptets(fromHex('1b80')))).toBe('PROTOCOL_BAD_VALUE text@1');
  });
  it('TS 23.038 §6.2.1.1: ESC and a code without an extension character is the main-table character', () => {
    // Note to the extension table: "In the event that an MS receives a code where a symbol is
    // not represented in the above table then the MS shall display ... the character shown in
    // the main GSM 7 bit default alphabet table".
    expect(decodeGsmSeptets(fromHex('1b41'))).toBe('A');
    expect(decodeGsmSeptets(fromHex('481b611b65'))).toBe('Ha€');
    expect(decodeGsmSeptets(fromHex('1b00'))).toBe('@');
    expect(decodeGsmSeptets(fromHex('1b0d'))).toBe('\r'); // CR2 is reserved: shown as CR
    // 1B in the extension table is reserved for another extension table: displayed as a space.
    expect(decodeGsmSeptets(fromHex('1b1b41'))).toBe(' A');
    // So do text strings (TS 102 223 §8.15), packed (DCS 00) and unpacked (DCS 04).
    const septets = Uint8Array.of(0x1b, 0x41, 0x1b, 0x3c);
    expect(decodeTextString(Uint8Array.of(0x00, ...packSeptets(septets)))).toEqual({
      dcs: 0,
      text: 'A[',
    });
    expect(decodeTextString(Uint8Array.of(0x04, ...septets))).toEqual({ dcs: 4, text: 'A[' });
  });
});

describe('7-bit packing', () => {
  it('packs "hello" as in every SMS tutorial', () => {
    expect(toHex(packSeptets(encodeGsmSeptets('hello')))).toBe('e8329bfd06');
    expect(decodeGsmSeptets(unpackSeptets(fromHex('e8329bfd06')))).toBe('hello');
  });
  it('fills 7 spare bits with CR and drops it again (TS 23.038 6.1.2.3.1)', () => {
    const packed = packSeptets(encodeGsmSeptets('1234567'));
    expect(packed.length).toBe(7);
    expect(packed[6]! >> 1).toBe(0x0d);
    expect(decodeGsmSeptets(unpackSeptets(packed))).toBe('1234567');
    // Zero-filled spare bits are an '@', as the standard says.
    expect(decodeGsmSeptets(unpackSeptets(fromHex('31d98c56b3dd00')))).toBe('1234567@');
  });
  it('refuses a CR that would end on an octet boundary', () => {
    expect(codeOf(() => packSeptets(encodeGsmSeptets('1234567\r')))).toBe(
      'PROTOCOL_BAD_VALUE text@-1',
    );
  });
});

describe('text strings (DCS 00, 04, 08)', () => {
  it('decodes the packed DISPLAY TEXT of a public STK test', () => {
    const value = fromHex('00d3309bfc06c95c301aa8e80259c3ec34b9ac07c9602f58ed159bb940');
    expect(decodeTextString(value)).toEqual({ dcs: 0, text: 'Saldo 2.04 E. Validez 20/05/13. ' });
    expect(encodeTextString({ dcs: 0, text: 'Saldo 2.04 E. Validez 20/05/13. ' })).toEqual(value);
  });
  it('8-bit and UCS2', () => {
    expect(toHex(encodeTextString({ dcs: 4, text: 'Toolkit' }))).toBe('04546f6f6c6b6974');
    expect(toHex(encodeTextString({ dcs: 8, text: '你好' }))).toBe('084f60597d');
    expect(decodeTextString(fromHex('08041704140420'))).toEqual({ dcs: 8, text: 'ЗДР' });
  });
  it('rejects an empty value, unknown DCS, odd UCS2, surrogates', () => {
    expect(codeOf(() => decodeTextString(new Uint8Array(0)))).toBe('PROTOCOL_BAD_LENGTH text@0');
    expect(codeOf(() => decodeTextString(fromHex('f441')))).toBe('PROTOCOL_BAD_VALUE text@0');
    expect(codeOf(() => decodeTextString(fromHex('084f6059')))).toBe('PROTOCOL_BAD_LENGTH text@1');
    expect(codeOf(() => decodeTextString(fromHex('08d83dde00')))).toBe('PROTOCOL_BAD_VALUE text@1');
    expect(codeOf(() => encodeTextString({ dcs: 8, text: '😀' }))).toBe(
      'PROTOCOL_BAD_VALUE text@-1',
    );
    expect(codeOf(() => encodeTextString({ dcs: 4, text: '你' }))).toBe(
      'PROTOCOL_BAD_VALUE text@-1',
    );
    expect(codeOf(() => encodeTextString({ dcs: 1 as 0, text: 'a' }))).toBe(
      'PROTOCOL_BAD_VALUE text@-1',
    );
  });
});

describe('alpha identifiers (TS 102 221 annex A)', () => {
  it('GSM 8-bit for text the alphabet holds, 80 + UCS2 for the rest', () => {
    expect(toHex(encodeAlphaText('Toolkit Menu'))).toBe('546f6f6c6b6974204d656e75');
    expect(toHex(encodeAlphaText('菜单'))).toBe('8083dc5355');
    expect(toHex(encodeAlphaText('Menu', 'ucs2'))).toBe('80004d0065006e0075');
    expect(decodeAlphaText(fromHex('80041704140420041004120421042204120423041904220415'))).toEqual({
      text: 'ЗДРАВСТВУЙТЕ',
      coding: 'ucs2',
    });
    expect(decodeAlphaText(new Uint8Array(0))).toEqual({ text: '', coding: 'gsm' });
    expect(decodeAlphaText(fromHex('80'))).toEqual({ text: '', coding: 'ucs2' });
  });
  it('rejects the 81/82 forms and a GSM text forced onto non-GSM characters', () => {
    expect(codeOf(() => decodeAlphaText(fromHex('810c089794a09092a1a292a399a295')))).toBe(
      'PROTOCOL_BAD_VALUE alpha@0',
    );
    expect(codeOf(() => decodeAlphaText(fromHex('820430a03832cb32')))).toBe(
      'PROTOCOL_BAD_VALUE alpha@0',
    );
    expect(codeOf(() => encodeAlphaText('菜单', 'gsm'))).toBe('PROTOCOL_BAD_VALUE text@-1');
  });
});

const gsmTextArb = fc
  .array(fc.constantFrom(...GSM_CHARS), { maxLength: 40 })
  .map((a) => a.join(''));
const bmpTextArb = fc.string({
  unit: fc
    .integer({ min: 0, max: 0xffff })
    .filter((c) => c < 0xd800 || c > 0xdfff)
    .map((c) => String.fromCharCode(c)),
  maxLength: 30,
});

describe('text properties', () => {
  it('text strings: value -> bytes -> value', () => {
    const arb: fc.Arbitrary<TextString> = fc.oneof(
      gsmTextArb
        .filter((t) => !(encodeGsmSeptets(t).length % 8 === 0 && t.endsWith('\r')))
        .map((text) => ({ dcs: 0 as const, text })),
      gsmTextArb.map((text) => ({ dcs: 4 as const, text })),
      bmpTextArb.map((text) => ({ dcs: 8 as const, text })),
    );
    fc.assert(
      fc.property(arb, (v) => {
        expect(decodeTextString(encodeTextString(v))).toEqual(v);
      }),
      { numRuns: 1000 },
    );
  });
  it('text strings: bytes -> value -> bytes for every accepted input', () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 4, 8), fc.uint8Array({ maxLength: 20 }), (dcs, body) => {
        const bytes = new Uint8Array([dcs, ...body]);
        let value;
        try {
          value = decodeTextString(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(ProtocolError);
          return;
        }
        const again = encodeTextString(value);
        // An escape to a code without an extension character decodes as the main-table
        // character (TS 23.038 §6.2.1.1), which encodes without the escape: such text comes
        // back shorter (or as long, packed), and means the same.
        if (toHex(again) === toHex(bytes)) return;
        expect(again.length).toBeLessThanOrEqual(bytes.length);
        expect(decodeTextString(again)).toEqual(value);
        const septets = dcs === 0 ? unpackSeptets(body) : body;
        expect(septets.some((s, i) => s === 0x1b && i + 1 < septets.length)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
  it('alpha: value -> bytes -> value, with the coding chosen or given', () => {
    fc.assert(
      fc.property(fc.oneof(gsmTextArb, bmpTextArb), (text) => {
        const auto = decodeAlphaText(encodeAlphaText(text));
        expect(auto.text).toBe(text);
        expect(auto.coding).toBe(isGsmText(text) ? 'gsm' : 'ucs2');
        expect(decodeAlphaText(encodeAlphaText(text, 'ucs2'))).toEqual({ text, coding: 'ucs2' });
      }),
      { numRuns: 500 },
    );
  });
  it('fuzz: only ProtocolErrors', () => {
    const seeds = [
      '00d3309bfc06c95c301aa8e80259c3ec34b9ac07c9602f58ed159bb940',
      '084f60597d',
      '04546f6f6c',
    ].map((h) => fromHex(h));
    expect(
      fuzzDecoder((b) => decodeTextString(b), seeds, { iterations: 10_000, seed: 41 }).accepted,
    ).toBeGreaterThan(0);
    expect(
      fuzzDecoder((b) => decodeAlphaText(b), seeds, { iterations: 10_000, seed: 42 }).accepted,
    ).toBeGreaterThan(0);
  });
});
