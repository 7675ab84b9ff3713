/**
 * Text in SIM Toolkit commands: the GSM default alphabet (3GPP TS 23.038 6.2.1, with its
 * extension table), 7-bit packing, the three text-string codings of ETSI TS 102 223 8.15
 * (DCS `00` packed, `04` 8-bit, `08` UCS2) and the alpha-identifier coding of ETSI TS 102 221
 * annex A (GSM 8-bit, or `80` followed by UCS2) used for menu titles and items — the form
 * Chinese menus need.
 *
 * Decoders return {@link ProtocolError}s naming the structure, field and offset their caller
 * gives, so a bad character inside a proactive command points at its byte in the command.
 *
 * @module
 */
import { ProtocolError } from '../errors.js';
import { isOneOf, isRecord } from '../validate.js';

// GSM 03.38 default alphabet, one character per septet value; 0x1B (ESC) selects the extension table.
const BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const ESC = 0x1b;
const EXTENSION: ReadonlyMap<number, string> = new Map([
  [0x0a, '\f'],
  [0x14, '^'],
  [0x28, '{'],
  [0x29, '}'],
  [0x2f, '\\'],
  [0x3c, '['],
  [0x3d, '~'],
  [0x3e, ']'],
  [0x40, '|'],
  [0x65, '€'],
]);
const TO_GSM: ReadonlyMap<string, number[]> = (() => {
  const m = new Map<string, number[]>();
  for (let i = 0; i < BASIC.length; i++) if (i !== ESC) m.set(BASIC[i]!, [i]);
  for (const [code, ch] of EXTENSION) m.set(ch, [ESC, code]);
  return m;
})();

/**
 * Where a text codec reports its errors: the enclosing structure and field, and the offset of
 * the text's first byte in the caller's input (`-1` when encoding).
 *
 * @example
 * ```ts
 * import type { TextSite } from 'simvault/protocol';
 * const site: TextSite = { structure: 'ProactiveCommand', field: 'textString', offset: 12 };
 * ```
 */
export interface TextSite {
  /** Structure named in errors. */
  structure: string;
  /** Field named in errors. */
  field: string;
  /** Offset of the first byte of the text in the caller's input, or `-1` when encoding. */
  offset: number;
}

const ENCODING: TextSite = { structure: 'Text', field: 'text', offset: -1 };

function fail(
  code: ConstructorParameters<typeof ProtocolError>[0],
  at: TextSite,
  detail: string,
  delta = 0,
): never {
  throw new ProtocolError(
    code,
    at.structure,
    at.field,
    at.offset < 0 ? -1 : at.offset + delta,
    detail,
  );
}

/**
 * Data coding schemes of a toolkit text string: `0x00` GSM 7-bit packed, `0x04` 8-bit (GSM
 * alphabet, one character per byte), `0x08` UCS2.
 *
 * @example
 * ```ts
 * import type { TextDcs } from 'simvault/protocol';
 * const dcs: TextDcs = 0x08;
 * ```
 */
export type TextDcs = 0x00 | 0x04 | 0x08;

/**
 * A toolkit text string (tag `0D`): a DCS and the text it codes.
 *
 * @example
 * ```ts
 * import type { TextString } from 'simvault/protocol';
 * const hello: TextString = { dcs: 0x08, text: '你好' };
 * ```
 */
export interface TextString {
  /** The data coding scheme. */
  dcs: TextDcs;
  /** The text. */
  text: string;
}

/**
 * How an alpha identifier or menu item text is coded (ETSI TS 102 221 annex A): `gsm` is the
 * GSM default alphabet one character per byte; `ucs2` is `80` followed by UCS2 big-endian.
 *
 * @example
 * ```ts
 * import type { AlphaCoding } from 'simvault/protocol';
 * const coding: AlphaCoding = 'ucs2';
 * ```
 */
export type AlphaCoding = 'gsm' | 'ucs2';

/**
 * Whether every character of `text` is in the GSM default alphabet or its extension table.
 *
 * @example
 * ```ts
 * import { isGsmText } from 'simvault/protocol';
 * isGsmText('Menu {1}'); // true
 * isGsmText('菜单'); // false
 * ```
 */
export function isGsmText(text: string): boolean {
  for (const ch of text) if (!TO_GSM.has(ch)) return false;
  return true;
}

/**
 * The GSM default alphabet septets of `text`, one per byte (extension characters take two:
 * `1B` and the code).
 *
 * @example
 * ```ts
 * import { encodeGsmSeptets } from 'simvault/protocol';
 * encodeGsmSeptets('A€'); // Uint8Array [0x41, 0x1b, 0x65]
 * ```
 */
export function encodeGsmSeptets(text: string): Uint8Array {
  return gsmSeptets(text, ENCODING);
}

function gsmSeptets(text: unknown, at: TextSite): Uint8Array {
  if (typeof text !== 'string') fail('PROTOCOL_BAD_VALUE', at, 'must be a string');
  const out: number[] = [];
  let i = 0;
  for (const ch of text) {
    const codes = TO_GSM.get(ch);
    if (codes === undefined) {
      fail(
        'PROTOCOL_BAD_VALUE',
        at,
        `character ${i} (U+${ch.codePointAt(0)!.toString(16).padStart(4, '0')}) is not in the GSM alphabet`,
      );
    }
    out.push(...codes);
    i++;
  }
  return new Uint8Array(out);
}

/**
 * Decode GSM default alphabet septets, one per byte (bit 8 must be 0). `ESC` and a code of the
 * extension table make one character; `ESC` and a code the table does not have decode as that
 * code's main-table character, and `ESC ESC` as a space, as TS 23.038 §6.2.1.1 tells a receiver
 * to display them. A text may not end in `ESC`.
 *
 * @example
 * ```ts
 * import { decodeGsmSeptets } from 'simvault/protocol';
 * decodeGsmSeptets(new Uint8Array([0x48, 0x69])); // 'Hi'
 * ```
 */
export function decodeGsmSeptets(septets: Uint8Array): string {
  return gsmText(septets, { structure: 'Text', field: 'text', offset: 0 });
}

// `byteOf` maps a septet index to the offset of its byte: the identity for unpacked text, 7/8 for packed.
function gsmText(
  septets: Uint8Array,
  at: TextSite,
  byteOf: (i: number) => number = (i) => i,
): string {
  let out = '';
  for (let i = 0; i < septets.length; i++) {
    const s = septets[i]!;
    if (s > 0x7f)
      fail(
        'PROTOCOL_BAD_VALUE',
        at,
        `byte 0x${s.toString(16)} is not a GSM character (bit 8 set)`,
        byteOf(i),
      );
    if (s !== ESC) {
      out += BASIC[s]!;
      continue;
    }
    if (i + 1 >= septets.length)
      fail('PROTOCOL_BAD_VALUE', at, 'escape at the end of the text', byteOf(i));
    const code = septets[++i]!;
    if (code > 0x7f)
      fail(
        'PROTOCOL_BAD_VALUE',
        at,
        `byte 0x${code.toString(16)} is not a GSM character (bit 8 set)`,
        byteOf(i),
      );
    // TS 23.038 §6.2.1.1, notes to the extension table: a code with no extension character is
    // shown as its main-table character; 1B (reserved for another extension table) as a space.
    out += EXTENSION.get(code) ?? (code === ESC ? ' ' : BASIC[code]!);
  }
  return out;
}

/**
 * Pack septets 8 to 7 bytes, least significant bits first (TS 23.038 6.1.2.1.1). When the last
 * byte would hold 7 spare bits they carry `CR` (TS 23.038 6.1.2.3.1), so the receiver does not
 * read a trailing `@`.
 *
 * @example
 * ```ts
 * import { packSeptets, encodeGsmSeptets } from 'simvault/protocol';
 * packSeptets(encodeGsmSeptets('hello')); // Uint8Array [0xe8, 0x32, 0x9b, 0xfd, 0x06]
 * ```
 */
export function packSeptets(septets: Uint8Array): Uint8Array {
  return pack(septets, ENCODING);
}

function pack(septets: Uint8Array, at: TextSite): Uint8Array {
  let count = septets.length;
  if (count % 8 === 0 && count > 0 && septets[count - 1] === 0x0d) {
    fail('PROTOCOL_BAD_VALUE', at, 'a CR ending on an octet boundary would read as padding');
  }
  const padded = count % 8 === 7;
  if (padded) count++;
  const out = new Uint8Array(Math.ceil((count * 7) / 8));
  for (let i = 0; i < count; i++) {
    const s = i < septets.length ? septets[i]! : 0x0d;
    if (s > 0x7f) fail('PROTOCOL_BAD_VALUE', at, `septet ${i} is over 0x7f`);
    const bit = i * 7;
    const byte = bit >> 3;
    const shift = bit & 7;
    out[byte]! |= (s << shift) & 0xff;
    if (shift > 1) out[byte + 1]! |= s >> (8 - shift);
  }
  return out;
}

/**
 * Unpack 7-bit packed bytes to septets. A final septet of `CR` that fills exactly the 7 spare
 * bits of the last byte is padding and is dropped; other fill bits must be 0. `at` names the
 * structure, field and offset of the bytes for errors.
 *
 * @example
 * ```ts
 * import { unpackSeptets, decodeGsmSeptets } from 'simvault/protocol';
 * decodeGsmSeptets(unpackSeptets(new Uint8Array([0xe8, 0x32, 0x9b, 0xfd, 0x06]))); // 'hello'
 * ```
 */
export function unpackSeptets(
  packed: Uint8Array,
  at: TextSite = { structure: 'Text', field: 'text', offset: 0 },
): Uint8Array {
  let count = Math.floor((packed.length * 8) / 7);
  const spare = packed.length * 8 - count * 7;
  // Fill bits must be 0, or a second byte string would decode to the same text.
  if (spare > 0 && packed[packed.length - 1]! >> (8 - spare) !== 0) {
    fail('PROTOCOL_BAD_VALUE', at, 'fill bits after the last septet are not 0', packed.length - 1);
  }
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const bit = i * 7;
    const byte = bit >> 3;
    const shift = bit & 7;
    let s = packed[byte]! >> shift;
    if (shift > 1) s |= packed[byte + 1]! << (8 - shift);
    out[i] = s & 0x7f;
  }
  if (packed.length % 7 === 0 && count > 0 && out[count - 1] === 0x0d) count--;
  return out.subarray(0, count);
}

function ucs2Bytes(text: unknown, at: TextSite): Uint8Array {
  if (typeof text !== 'string') fail('PROTOCOL_BAD_VALUE', at, 'must be a string');
  const out = new Uint8Array(text.length * 2);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff)
      fail('PROTOCOL_BAD_VALUE', at, `character ${i} is outside the BMP; UCS2 cannot code it`);
    out[i * 2] = c >> 8;
    out[i * 2 + 1] = c & 0xff;
  }
  return out;
}

function ucs2Text(bytes: Uint8Array, at: TextSite): string {
  if (bytes.length % 2 !== 0)
    fail('PROTOCOL_BAD_LENGTH', at, `UCS2 text has an odd length (${bytes.length})`);
  let out = '';
  for (let i = 0; i < bytes.length; i += 2) {
    const c = (bytes[i]! << 8) | bytes[i + 1]!;
    if (c >= 0xd800 && c <= 0xdfff)
      fail('PROTOCOL_BAD_VALUE', at, `0x${c.toString(16)} is a surrogate, not a UCS2 character`, i);
    out += String.fromCharCode(c);
  }
  return out;
}

/**
 * Encode a text string value (tag `0D`): the DCS byte then the coded text.
 *
 * @example
 * ```ts
 * import { encodeTextString } from 'simvault/protocol';
 * encodeTextString({ dcs: 0x04, text: 'Hi' }); // Uint8Array [0x04, 0x48, 0x69]
 * ```
 */
export function encodeTextString(value: TextString, at: TextSite = ENCODING): Uint8Array {
  if (!isRecord(value)) fail('PROTOCOL_BAD_VALUE', at, 'must be an object');
  let body: Uint8Array;
  if (value.dcs === 0x00) body = pack(gsmSeptets(value.text, at), at);
  else if (value.dcs === 0x04) body = gsmSeptets(value.text, at);
  else if (isOneOf(value.dcs, [0x08])) body = ucs2Bytes(value.text, at);
  else fail('PROTOCOL_BAD_VALUE', at, 'dcs must be 0x00, 0x04 or 0x08');
  const out = new Uint8Array(1 + body.length);
  out[0] = value.dcs;
  out.set(body, 1);
  return out;
}

/**
 * Decode a text string value (tag `0D`): a DCS byte (`00`, `04` or `08`) and the text.
 * `at` names the structure, field and offset of the value for errors.
 *
 * @example
 * ```ts
 * import { decodeTextString } from 'simvault/protocol';
 * import { fromHex } from 'simvault';
 * decodeTextString(fromHex('084f60597d')); // { dcs: 8, text: '你好' }
 * ```
 */
export function decodeTextString(
  bytes: Uint8Array,
  at: TextSite = { structure: 'Text', field: 'text', offset: 0 },
): TextString {
  if (bytes.length === 0) fail('PROTOCOL_BAD_LENGTH', at, 'a text string needs a DCS byte');
  const dcs = bytes[0]!;
  const body = bytes.subarray(1);
  const inner: TextSite = { ...at, offset: at.offset + 1 };
  if (dcs === 0x00)
    return { dcs, text: gsmText(unpackSeptets(body, inner), inner, (i) => (i * 7) >> 3) };
  if (dcs === 0x04) return { dcs, text: gsmText(body, inner) };
  if (dcs === 0x08) return { dcs, text: ucs2Text(body, inner) };
  return fail('PROTOCOL_BAD_VALUE', at, `DCS 0x${dcs.toString(16)} is not 00, 04 or 08`);
}

/**
 * Encode an alpha identifier or item text (ETSI TS 102 221 annex A). Without a `coding`, text
 * the GSM alphabet can hold is coded `gsm`, anything else `ucs2` (`80` + UCS2).
 *
 * @example
 * ```ts
 * import { encodeAlphaText } from 'simvault/protocol';
 * encodeAlphaText('菜单'); // Uint8Array [0x80, 0x83, 0xdc, 0x53, 0x55]
 * encodeAlphaText('Menu'); // Uint8Array [0x4d, 0x65, 0x6e, 0x75]
 * ```
 */
export function encodeAlphaText(
  text: string,
  coding?: AlphaCoding,
  at: TextSite = ENCODING,
): Uint8Array {
  if (typeof text !== 'string') fail('PROTOCOL_BAD_VALUE', at, 'must be a string');
  const chosen: unknown = coding ?? (isGsmText(text) ? 'gsm' : 'ucs2');
  if (chosen === 'gsm') return gsmSeptets(text, at);
  if (!isOneOf(chosen, ['ucs2'])) fail('PROTOCOL_BAD_VALUE', at, "coding must be 'gsm' or 'ucs2'");
  const body = ucs2Bytes(text, at);
  const out = new Uint8Array(1 + body.length);
  out[0] = 0x80;
  out.set(body, 1);
  return out;
}

/**
 * Decode an alpha identifier or item text: `80` followed by UCS2, or GSM default alphabet
 * bytes. The `81` and `82` UCS2 forms are rejected. Empty input is the empty (null) text.
 *
 * @example
 * ```ts
 * import { decodeAlphaText } from 'simvault/protocol';
 * import { fromHex } from 'simvault';
 * decodeAlphaText(fromHex('8083dc5355')); // { text: '菜单', coding: 'ucs2' }
 * ```
 */
export function decodeAlphaText(
  bytes: Uint8Array,
  at: TextSite = { structure: 'Text', field: 'alpha', offset: 0 },
): {
  /** The decoded text (empty for the null alpha identifier). */
  text: string;
  /** How the bytes were coded: GSM default alphabet, or `80` followed by UCS2. */
  coding: AlphaCoding;
} {
  const first = bytes[0];
  if (first === 0x80)
    return { text: ucs2Text(bytes.subarray(1), { ...at, offset: at.offset + 1 }), coding: 'ucs2' };
  if (first === 0x81 || first === 0x82) {
    fail(
      'PROTOCOL_BAD_VALUE',
      at,
      `UCS2 alpha form 0x${first.toString(16)} is not supported (use 0x80)`,
    );
  }
  return { text: gsmText(bytes, at), coding: 'gsm' };
}
