/**
 * ISO/IEC 7816-4 APDUs: command APDUs in the four cases, short and extended length, and
 * response APDUs (data + SW1 SW2) with the status words simvault meets named.
 *
 * The case and the length form are carried in the value (`data`, `le`, `extended`), so every
 * accepted encoding decodes to a value that encodes back to the same bytes.
 *
 * @module
 */
import { ProtocolError } from '../errors.js';
import { toHex } from '../bytes.js';
import { ByteReader, ByteWriter } from './reader.js';
import { isByte, isRecord } from '../validate.js';

const COMMAND = 'CommandAPDU';
const RESPONSE = 'ResponseAPDU';

/**
 * A command APDU. `data` empty and `le` absent is case 1; `le` only is case 2; `data` only is
 * case 3; both is case 4.
 *
 * @example
 * ```ts
 * import type { CommandApdu } from 'simvault/protocol';
 * const fetch: CommandApdu = { cla: 0x80, ins: 0x12, p1: 0, p2: 0, data: new Uint8Array(0), le: 0x20 };
 * ```
 */
export interface CommandApdu {
  /** Class byte. */
  cla: number;
  /** Instruction byte; ISO 7816-3 makes `6X` and `9X` invalid. */
  ins: number;
  /** Parameter 1. */
  p1: number;
  /** Parameter 2. */
  p2: number;
  /** Command data (Nc bytes; empty when there is no Lc field). Up to 255 short, 65535 extended. */
  data: Uint8Array;
  /**
   * Maximum response length Ne, when an Le field is present: 1-256 short (`00` means 256),
   * 1-65536 extended (`0000` means 65536).
   */
  le?: number;
  /**
   * Extended length fields. Encoding uses the extended form when this is `true` or when the
   * lengths need it; decoding sets it to tell which form the input used.
   */
  extended?: boolean;
}

/**
 * A response APDU: the response data and the two status bytes as one 16-bit number.
 *
 * @example
 * ```ts
 * import type { ResponseApdu } from 'simvault/protocol';
 * const ok: ResponseApdu = { data: new Uint8Array(0), sw: 0x9000 };
 * ```
 */
export interface ResponseApdu {
  /** Response data. */
  data: Uint8Array;
  /** SW1 SW2, e.g. `0x9000`. */
  sw: number;
}

function checkInsAt(r: ByteReader, ins: number): void {
  const high = ins & 0xf0;
  if (high === 0x60 || high === 0x90) {
    r.fail(
      'PROTOCOL_BAD_VALUE',
      'INS',
      `INS 0x${ins.toString(16)} is invalid (6X and 9X are reserved for status bytes)`,
      1,
    );
  }
}

/**
 * Decode a command APDU, telling the case and the length form from the bytes (ISO 7816-3
 * 12.1.3). Rejects an Lc that disagrees with the data present, Lc `0000` in extended form, and
 * an invalid INS.
 *
 * @example
 * ```ts
 * import { decodeCommandApdu } from 'simvault/protocol';
 * import { fromHex } from 'simvault';
 * const apdu = decodeCommandApdu(fromHex('80c20000 09 d30782020181900102'));
 * apdu.data.length; // 9
 * ```
 */
export function decodeCommandApdu(bytes: Uint8Array): CommandApdu {
  const r = new ByteReader(bytes, COMMAND);
  const cla = r.u8('CLA');
  const ins = r.u8('INS');
  checkInsAt(r, ins);
  const p1 = r.u8('P1');
  const p2 = r.u8('P2');
  const n = bytes.length;
  if (n === 4) return { cla, ins, p1, p2, data: new Uint8Array(0), extended: false };
  const b4 = r.u8('Lc');
  if (n === 5)
    return { cla, ins, p1, p2, data: new Uint8Array(0), le: b4 === 0 ? 256 : b4, extended: false };
  if (b4 !== 0) {
    // Short Lc: the rest is exactly Lc data bytes, plus one Le byte in case 4.
    const lc = b4;
    if (n !== 5 + lc && n !== 6 + lc) {
      r.fail('PROTOCOL_BAD_LENGTH', 'Lc', `Lc ${lc} does not match ${n - 5} byte(s) after it`, 4);
    }
    const data = r.take(lc, 'data');
    if (r.remaining === 0) return { cla, ins, p1, p2, data, extended: false };
    const le = r.u8('Le');
    return { cla, ins, p1, p2, data, le: le === 0 ? 256 : le, extended: false };
  }
  // b4 = 00 and more bytes follow: extended lengths.
  if (n === 7) {
    const le = r.u16('Le');
    return { cla, ins, p1, p2, data: new Uint8Array(0), le: le === 0 ? 65536 : le, extended: true };
  }
  if (n < 7)
    r.fail('PROTOCOL_BAD_LENGTH', 'Lc', `extended length needs 2 more bytes, ${n - 5} present`, 5);
  const lc = r.u16('Lc');
  if (lc === 0) r.fail('PROTOCOL_BAD_LENGTH', 'Lc', 'extended Lc 0000 is not allowed', 5);
  if (n !== 7 + lc && n !== 9 + lc) {
    r.fail(
      'PROTOCOL_BAD_LENGTH',
      'Lc',
      `extended Lc ${lc} does not match ${n - 7} byte(s) after it`,
      5,
    );
  }
  const data = r.take(lc, 'data');
  if (r.remaining === 0) return { cla, ins, p1, p2, data, extended: true };
  const le = r.u16('Le');
  return { cla, ins, p1, p2, data, le: le === 0 ? 65536 : le, extended: true };
}

function badCommand(field: string, detail: string): never {
  throw new ProtocolError('PROTOCOL_BAD_VALUE', COMMAND, field, -1, detail);
}

/**
 * Encode a command APDU. Short form unless `extended` is set or the data exceeds 255 bytes or
 * `le` exceeds 256.
 *
 * @example
 * ```ts
 * import { encodeCommandApdu } from 'simvault/protocol';
 * import { toHex } from 'simvault';
 * toHex(encodeCommandApdu({ cla: 0x80, ins: 0x12, p1: 0, p2: 0, data: new Uint8Array(0), le: 0x1b }));
 * // '801200001b'
 * ```
 */
export function encodeCommandApdu(apdu: CommandApdu): Uint8Array {
  if (!isRecord(apdu)) badCommand('apdu', 'must be an object');
  for (const f of ['cla', 'ins', 'p1', 'p2'] as const) {
    if (!isByte(apdu[f])) badCommand(f.toUpperCase(), 'must be an integer 0-255');
  }
  const high = apdu.ins & 0xf0;
  if (high === 0x60 || high === 0x90) badCommand('INS', '6X and 9X are invalid');
  if (!(apdu.data instanceof Uint8Array)) badCommand('data', 'must be a Uint8Array');
  const nc = apdu.data.length;
  const le = apdu.le;
  if (le !== undefined && !(Number.isInteger(le) && le >= 1 && le <= 65536))
    badCommand('Le', 'must be an integer 1-65536');
  if (nc > 65535)
    throw new ProtocolError(
      'PROTOCOL_BAD_LENGTH',
      COMMAND,
      'data',
      -1,
      `at most 65535 bytes, got ${nc}`,
    );
  if (apdu.extended !== undefined && typeof apdu.extended !== 'boolean')
    badCommand('extended', 'must be a boolean');
  const extended = apdu.extended === true || nc > 255 || (le !== undefined && le > 256);
  if (extended && nc === 0 && le === undefined)
    badCommand('extended', 'a case 1 APDU has no length fields to extend');
  const w = new ByteWriter();
  w.u8(apdu.cla).u8(apdu.ins).u8(apdu.p1).u8(apdu.p2);
  if (!extended) {
    if (nc > 0) w.u8(nc).bytes(apdu.data);
    if (le !== undefined) w.u8(le === 256 ? 0 : le);
  } else {
    if (nc > 0) w.u8(0).u16(nc).bytes(apdu.data);
    // Case 2E has its own 00 marker; in case 4E the marker before Lc covers Le too.
    if (le !== undefined) {
      if (nc === 0) w.u8(0);
      w.u16(le === 65536 ? 0 : le);
    }
  }
  return w.finish();
}

/**
 * Decode a response APDU: everything but the last two bytes is data.
 *
 * @example
 * ```ts
 * import { decodeResponseApdu } from 'simvault/protocol';
 * import { fromHex } from 'simvault';
 * decodeResponseApdu(fromHex('911b')).sw; // 0x911b
 * ```
 */
export function decodeResponseApdu(bytes: Uint8Array): ResponseApdu {
  const r = new ByteReader(bytes, RESPONSE);
  r.need(2, 'SW1');
  const data = r.take(bytes.length - 2, 'data');
  const sw = r.u16('SW1');
  return { data, sw };
}

/**
 * Encode a response APDU (data then SW1 SW2). SW1 must be `6X` or `9X` (ISO 7816-4 5.6).
 *
 * @example
 * ```ts
 * import { encodeResponseApdu } from 'simvault/protocol';
 * import { toHex } from 'simvault';
 * toHex(encodeResponseApdu({ data: new Uint8Array([1]), sw: 0x9000 })); // '019000'
 * ```
 */
export function encodeResponseApdu(response: ResponseApdu): Uint8Array {
  if (!isRecord(response)) {
    throw new ProtocolError('PROTOCOL_BAD_VALUE', RESPONSE, 'response', -1, 'must be an object');
  }
  if (!(response.data instanceof Uint8Array)) {
    throw new ProtocolError('PROTOCOL_BAD_VALUE', RESPONSE, 'data', -1, 'must be a Uint8Array');
  }
  if (response.data.length > 65536) {
    throw new ProtocolError(
      'PROTOCOL_BAD_LENGTH',
      RESPONSE,
      'data',
      -1,
      `at most 65536 bytes, got ${response.data.length}`,
    );
  }
  const sw = response.sw;
  if (!(
    Number.isInteger(sw) &&
    sw >= 0x6000 &&
    sw <= 0x9fff &&
    (sw >> 12 === 6 || sw >> 12 === 9)
  )) {
    throw new ProtocolError('PROTOCOL_BAD_VALUE', RESPONSE, 'SW1', -1, 'SW1 must be 6X or 9X');
  }
  return new ByteWriter().bytes(response.data).u16(sw).finish();
}

const STATUS_WORDS: ReadonlyMap<number, string> = new Map([
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
]);

/**
 * A readable name for a status word, or `undefined` for one simvault does not know. Covers the
 * fixed words of `docs/standards` and the families that carry a count in SW2 (`91xx` proactive
 * command pending, `61xx` response bytes available, `6Cxx` wrong Le, `9Fxx` GSM response
 * length).
 *
 * @example
 * ```ts
 * import { statusWordName } from 'simvault/protocol';
 * statusWordName(0x9000); // 'normal ending'
 * statusWordName(0x911b); // 'normal ending, proactive command pending (27 bytes)'
 * ```
 */
export function statusWordName(sw: number): string | undefined {
  const fixed = STATUS_WORDS.get(sw);
  if (fixed !== undefined) return fixed;
  if (!Number.isInteger(sw) || sw < 0 || sw > 0xffff) return undefined;
  const sw1 = sw >> 8;
  const sw2 = sw & 0xff;
  if (sw1 === 0x91)
    return `normal ending, proactive command pending (${sw2 === 0 ? 256 : sw2} bytes)`;
  if (sw1 === 0x61) return `normal ending, ${sw2 === 0 ? 256 : sw2} response bytes available`;
  if (sw1 === 0x9f) return `normal ending, ${sw2 === 0 ? 256 : sw2} response bytes available (GSM)`;
  if (sw1 === 0x6c) return `wrong Le, exact length is ${sw2 === 0 ? 256 : sw2}`;
  return undefined;
}

/**
 * The ISO 7816-4 case of a command APDU: 1 (no data, no Le), 2 (Le), 3 (data) or 4 (both).
 *
 * @example
 * ```ts
 * import { apduCase } from 'simvault/protocol';
 * apduCase({ cla: 0x80, ins: 0x14, p1: 0, p2: 0, data: new Uint8Array([1]) }); // 3
 * ```
 */
export function apduCase(apdu: CommandApdu): 1 | 2 | 3 | 4 {
  const hasData = apdu.data.length > 0;
  const hasLe = apdu.le !== undefined;
  return hasData ? (hasLe ? 4 : 3) : hasLe ? 2 : 1;
}

/**
 * Lower-case hex of the status word, four digits (`'9000'`), for messages and JSON.
 *
 * @example
 * ```ts
 * import { formatStatusWord } from 'simvault/protocol';
 * formatStatusWord(0x6a82); // '6a82'
 * ```
 */
export function formatStatusWord(sw: number): string {
  return toHex(new Uint8Array([(sw >> 8) & 0xff, sw & 0xff]));
}
