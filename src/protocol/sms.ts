/**
 * SMS TPDUs (3GPP TS 23.040) as the SIM OTA flows use them: SMS-DELIVER (service centre → phone,
 * carrying secured command packets with TP-PID 7F and TP-DCS F6) and SMS-SUBMIT (phone → service
 * centre, e.g. a PoR), with semi-octet addresses, time stamps, validity periods and the user data
 * header. The user data is kept as octets: 7-bit text is not unpacked here, only its septet count
 * is carried so the TPDU round-trips.
 *
 * `decodeSmsTpdu` reads TP-MTI `00` as SMS-DELIVER and `01` as SMS-SUBMIT (their meaning in the
 * direction each travels); other message types are refused.
 *
 * @module
 */
import { ProtocolError } from '../errors.js';
import { ByteReader, ByteWriter } from './reader.js';

/**
 * A TP-OA/TP-DA address. `digits` uses `0-9 * # a b c` for the semi-octets 0-E of a numeric
 * address; for TON 5 (alphanumeric, GSM 7-bit packed) it holds the raw semi-octets as lower-case
 * hex nibbles in transmission order (`0-9a-f`).
 *
 * @example
 * ```ts
 * import type { SmsAddress } from 'simvault/protocol';
 * const sc: SmsAddress = { ton: 1, npi: 1, digits: '8613800000000' }; // international, E.164
 * ```
 */
export interface SmsAddress {
  /** Type of number, 0-7 (0 unknown, 1 international, 2 national, 5 alphanumeric). */
  ton: number;
  /** Numbering plan identification, 0-15 (1 = ISDN/E.164). */
  npi: number;
  /** The address semi-octets (see above). */
  digits: string;
}

/**
 * A service-centre time stamp or absolute validity period (7 semi-octet BCD bytes).
 *
 * @example
 * ```ts
 * import type { SmsTimestamp } from 'simvault/protocol';
 * const t: SmsTimestamp = { year: 22, month: 7, day: 25, hour: 0, minute: 0, second: 0, timezoneQuarters: 32 };
 * ```
 */
export interface SmsTimestamp {
  /** Two-digit year, 0-99. */
  year: number;
  /** Month, 1-12. */
  month: number;
  /** Day, 1-31. */
  day: number;
  /** Hour, 0-23. */
  hour: number;
  /** Minute, 0-59. */
  minute: number;
  /** Second, 0-59. */
  second: number;
  /** Offset from GMT in quarters of an hour, -79..79 (negative zero is not representable). */
  timezoneQuarters: number;
}

/**
 * One user-data-header information element: IEI and its data (unknown IEIs are kept as they are,
 * as TS 23.040 tells a receiver to skip them).
 *
 * @example
 * ```ts
 * import type { UdhElement } from 'simvault/protocol';
 * const securedPacketMark: UdhElement = { iei: 0x70, data: new Uint8Array(0) };
 * ```
 */
export interface UdhElement {
  /** Information element identifier. */
  iei: number;
  /** Information element data. */
  data: Uint8Array;
}

/**
 * TP-UD with its header: `header` present means TP-UDHI is set. For a 7-bit DCS, `septets` is
 * TP-UDL (the septet count, header and fill bits included); for 8-bit and UCS2 it is absent and
 * TP-UDL is the octet count.
 *
 * @example
 * ```ts
 * import type { SmsUserData } from 'simvault/protocol';
 * const ud: SmsUserData = { header: [{ iei: 0x70, data: new Uint8Array(0) }], data: new Uint8Array([0, 13]) };
 * ```
 */
export interface SmsUserData {
  /** The user data header elements, when TP-UDHI is set. */
  header?: UdhElement[];
  /** The user data after the header, as octets. */
  data: Uint8Array;
  /** TP-UDL in septets, for a 7-bit DCS only. */
  septets?: number;
}

/**
 * TP-VP of an SMS-SUBMIT, by TP-VPF.
 *
 * @example
 * ```ts
 * import type { SmsValidity } from 'simvault/protocol';
 * const vp: SmsValidity = { format: 'relative', value: 0xa7 }; // 24 hours
 * ```
 */
export type SmsValidity =
  | {
      /** TP-VPF `00`: TP-VP field not present. */
      format: 'none';
    }
  | {
      /** TP-VPF `10`: TP-VP field present, relative format (one octet). */
      format: 'relative';
      /** The TP-VP octet as coded, 0-255 (e.g. `0xA7` is 24 hours). */
      value: number;
    }
  | {
      /** TP-VPF `01`: TP-VP field present, enhanced format (seven octets), kept raw. */
      format: 'enhanced';
      /** The seven TP-VP octets. */
      octets: Uint8Array;
    }
  | {
      /** TP-VPF `11`: TP-VP field present, absolute format (a semi-octet time stamp). */
      format: 'absolute';
      /** The time at which the validity period ends. */
      time: SmsTimestamp;
    };

/**
 * An SMS-DELIVER TPDU.
 *
 * @example
 * ```ts
 * import type { SmsDeliver } from 'simvault/protocol';
 * const d: SmsDeliver = {
 *   type: 'deliver', moreMessages: false, loopPrevention: false, statusReport: false, replyPath: false,
 *   originator: { ton: 0, npi: 1, digits: '12345678' }, pid: 0x7f, dcs: 0xf6,
 *   scts: { year: 22, month: 7, day: 25, hour: 0, minute: 0, second: 0, timezoneQuarters: 0 },
 *   userData: { data: new Uint8Array([1, 2]) },
 * };
 * ```
 */
export interface SmsDeliver {
  /** Message type. */
  type: 'deliver';
  /** TP-MMS clear: more messages are waiting at the service centre. */
  moreMessages: boolean;
  /** TP-LP: loop prevention. */
  loopPrevention: boolean;
  /** TP-SRI: a status report will be returned to the sender. */
  statusReport: boolean;
  /** TP-RP: reply path set. */
  replyPath: boolean;
  /** TP-OA. */
  originator: SmsAddress;
  /** TP-PID (7F = (U)SIM data download). */
  pid: number;
  /** TP-DCS (F6 = 8-bit, class 2: SIM specific). */
  dcs: number;
  /** TP-SCTS. */
  scts: SmsTimestamp;
  /** TP-UD. */
  userData: SmsUserData;
}

/**
 * An SMS-SUBMIT TPDU.
 *
 * @example
 * ```ts
 * import type { SmsSubmit } from 'simvault/protocol';
 * const s: SmsSubmit = {
 *   type: 'submit', rejectDuplicates: false, statusReportRequest: false, replyPath: false,
 *   messageReference: 0, destination: { ton: 1, npi: 1, digits: '12345' }, pid: 0x7f, dcs: 0xf6,
 *   validity: { format: 'none' }, userData: { data: new Uint8Array(0) },
 * };
 * ```
 */
export interface SmsSubmit {
  /** Message type. */
  type: 'submit';
  /** TP-RD: the service centre rejects a duplicate. */
  rejectDuplicates: boolean;
  /** TP-SRR: a status report is requested. */
  statusReportRequest: boolean;
  /** TP-RP: reply path set. */
  replyPath: boolean;
  /** TP-MR, 0-255. */
  messageReference: number;
  /** TP-DA. */
  destination: SmsAddress;
  /** TP-PID. */
  pid: number;
  /** TP-DCS. */
  dcs: number;
  /** TP-VPF and TP-VP. */
  validity: SmsValidity;
  /** TP-UD. */
  userData: SmsUserData;
}

/**
 * An SMS-DELIVER or SMS-SUBMIT TPDU.
 *
 * @example
 * ```ts
 * import { decodeSmsTpdu, type SmsTpdu } from 'simvault/protocol';
 * const t: SmsTpdu = decodeSmsTpdu(new Uint8Array([0x04, 0x02, 0x81, 0x21, 0x7f, 0xf6, 0x22, 0x70, 0x52, 0, 0, 0, 0, 0]));
 * ```
 */
export type SmsTpdu = SmsDeliver | SmsSubmit;

const NUMERIC_DIGITS = '0123456789*#abc';
const HEX_DIGITS = '0123456789abcdef';
const MAX_USER_DATA = 140;

/**
 * Whether a TP-DCS counts TP-UDL in septets (GSM 7-bit default alphabet, including the reserved
 * codings a receiver must treat as such; TS 23.038) rather than octets.
 *
 * @example
 * ```ts
 * import { dcsCountsSeptets } from 'simvault/protocol';
 * dcsCountsSeptets(0x00); // true
 * dcsCountsSeptets(0xf6); // false
 * ```
 */
export function dcsCountsSeptets(dcs: number): boolean {
  const group = dcs >> 4;
  if (group <= 7) {
    if (dcs & 0x20) return false; // compressed: octets
    const alphabet = (dcs >> 2) & 3;
    return alphabet === 0 || alphabet === 3;
  }
  if (group === 0xe) return false;
  if (group === 0xf) return (dcs & 4) === 0;
  return true;
}

/**
 * Encode a user data header (UDHL and its elements).
 *
 * @example
 * ```ts
 * import { encodeUserDataHeader } from 'simvault/protocol';
 * encodeUserDataHeader([{ iei: 0x70, data: new Uint8Array(0) }]); // Uint8Array [0x02, 0x70, 0x00]
 * ```
 */
export function encodeUserDataHeader(elements: readonly UdhElement[]): Uint8Array {
  const bad = (field: string, detail: string): never => {
    throw new ProtocolError('PROTOCOL_BAD_VALUE', 'UserDataHeader', field, -1, detail);
  };
  if (!Array.isArray(elements)) bad('elements', 'must be an array');
  const w = new ByteWriter();
  w.u8(0);
  for (const e of elements) {
    const element: unknown = e;
    if (typeof element !== 'object' || element === null) bad('IEI', 'must be a byte');
    if (!Number.isInteger(e.iei) || e.iei < 0 || e.iei > 255) bad('IEI', 'must be a byte');
    if (!(e.data instanceof Uint8Array) || e.data.length > 255)
      bad('IEDL', 'data must be a Uint8Array of at most 255 bytes');
    checkElement(e.iei, e.data.length, (detail) => bad('IEDL', detail));
    w.u8(e.iei).u8(e.data.length).bytes(e.data);
  }
  const out = w.finish();
  if (out.length - 1 > MAX_USER_DATA - 1) {
    throw new ProtocolError(
      'PROTOCOL_BAD_LENGTH',
      'UserDataHeader',
      'UDHL',
      -1,
      `header of ${out.length - 1} bytes does not fit an SMS`,
    );
  }
  out[0] = out.length - 1;
  return out;
}

/** Known elements whose length is fixed by TS 23.040 / TS 31.115. */
function checkElement(iei: number, length: number, fail: (detail: string) => never): void {
  const fixed: Record<number, number> = { 0x00: 3, 0x08: 4, 0x70: 0, 0x71: 0 };
  const want = fixed[iei];
  if (want !== undefined && want !== length)
    fail(`element ${iei.toString(16).padStart(2, '0')} has ${want} data byte(s), got ${length}`);
}

/**
 * Decode a user data header from the start of `bytes`; returns the elements and the offset just
 * past the header. Throws {@link ProtocolError} when the elements do not fill UDHL exactly.
 *
 * @example
 * ```ts
 * import { decodeUserDataHeader } from 'simvault/protocol';
 * const { elements, end } = decodeUserDataHeader(new Uint8Array([0x02, 0x70, 0x00, 0xaa]));
 * elements[0]!.iei; // 0x70
 * end; // 3
 * ```
 */
export function decodeUserDataHeader(
  bytes: Uint8Array,
  base = 0,
): {
  /** The information elements of the header, in order: each its IEI and its data. */
  elements: UdhElement[];
  /** Offset in `bytes` just past the header: UDHL + 1. */
  end: number;
} {
  const r = new ByteReader(bytes, 'UserDataHeader', 0, base);
  const udhl = r.u8('UDHL');
  r.need(udhl, 'UDHL');
  const end = 1 + udhl;
  const elements: UdhElement[] = [];
  while (r.offset < end) {
    const at = r.offset;
    const iei = r.u8('IEI');
    if (r.offset >= end) r.fail('PROTOCOL_BAD_LENGTH', 'IEDL', 'element runs past UDHL', at);
    const len = r.u8('IEDL');
    if (r.offset + len > end)
      r.fail('PROTOCOL_BAD_LENGTH', 'IEDL', `element of ${len} byte(s) runs past UDHL`, at + 1);
    checkElement(iei, len, (detail) => r.fail('PROTOCOL_BAD_LENGTH', 'IEDL', detail, at + 1));
    elements.push({ iei, data: r.take(len, 'IE data') });
  }
  return { elements, end };
}

function encodeAddress(w: ByteWriter, a: SmsAddress, field: string, structure: string): void {
  const bad = (detail: string): never => {
    throw new ProtocolError('PROTOCOL_BAD_VALUE', structure, field, -1, detail);
  };
  const address: unknown = a;
  if (typeof address !== 'object' || address === null || typeof a.digits !== 'string')
    bad('address must have digits');
  if (!Number.isInteger(a.ton) || a.ton < 0 || a.ton > 7) bad('TON must be 0..7');
  if (!Number.isInteger(a.npi) || a.npi < 0 || a.npi > 15) bad('NPI must be 0..15');
  const alphabet = a.ton === 5 ? HEX_DIGITS : NUMERIC_DIGITS;
  const nibbles = Array.from(a.digits, (c) => alphabet.indexOf(c));
  if (nibbles.some((n) => n < 0)) bad(`digits may only use ${alphabet}`);
  if (nibbles.length > 20) bad('an address has at most 20 semi-octets');
  w.u8(nibbles.length).u8(0x80 | (a.ton << 4) | a.npi);
  for (let i = 0; i < nibbles.length; i += 2) {
    const fill = a.ton === 5 ? 0 : 0xf;
    w.u8(nibbles[i]! | ((nibbles[i + 1] ?? fill) << 4));
  }
}

function decodeAddress(r: ByteReader, field: string): SmsAddress {
  const at = r.offset;
  const len = r.u8(`${field} length`);
  if (len > 20) r.fail('PROTOCOL_BAD_LENGTH', field, `${len} semi-octets exceed 20`, at);
  const toa = r.u8(`${field} TOA`);
  if ((toa & 0x80) === 0)
    r.fail('PROTOCOL_BAD_VALUE', field, 'type-of-address bit 8 must be 1', at + 1);
  const ton = (toa >> 4) & 7;
  const npi = toa & 15;
  const bytes = r.bytesView((len + 1) >> 1, field);
  const alpha = ton === 5;
  let digits = '';
  for (let i = 0; i < len; i++) {
    const b = bytes[i >> 1]!;
    const n = i & 1 ? b >> 4 : b & 15;
    if (!alpha && n === 15)
      r.fail('PROTOCOL_BAD_VALUE', field, 'semi-octet F is only a filler', at + 2 + (i >> 1));
    digits += alpha ? HEX_DIGITS[n]! : NUMERIC_DIGITS[n]!;
  }
  if (len & 1) {
    const filler = bytes[len >> 1]! >> 4;
    if (filler !== (alpha ? 0 : 15))
      r.fail(
        'PROTOCOL_BAD_VALUE',
        field,
        `odd-length filler must be ${alpha ? '0' : 'F'}`,
        at + 2 + (len >> 1),
      );
  }
  return { ton, npi, digits };
}

const TIME_FIELDS = [
  ['year', 0, 99],
  ['month', 1, 12],
  ['day', 1, 31],
  ['hour', 0, 23],
  ['minute', 0, 59],
  ['second', 0, 59],
] as const;

function encodeTimestamp(w: ByteWriter, t: SmsTimestamp, field: string, structure: string): void {
  const bad = (detail: string): never => {
    throw new ProtocolError('PROTOCOL_BAD_VALUE', structure, field, -1, detail);
  };
  const stamp: unknown = t;
  if (typeof stamp !== 'object' || stamp === null) bad('must be a time stamp');
  for (const [name, lo, hi] of TIME_FIELDS) {
    const v = t[name];
    if (!Number.isInteger(v) || v < lo || v > hi) bad(`${name} must be ${lo}..${hi}`);
    w.u8(((v % 10) << 4) | Math.floor(v / 10));
  }
  const tz = t.timezoneQuarters;
  if (!Number.isInteger(tz) || tz < -79 || tz > 79) bad('timezoneQuarters must be -79..79');
  const q = Math.abs(tz);
  w.u8(((q % 10) << 4) | Math.floor(q / 10) | (tz < 0 ? 8 : 0));
}

function decodeTimestamp(r: ByteReader, field: string): SmsTimestamp {
  const at = r.offset;
  const b = r.bytesView(7, field);
  const values: number[] = [];
  for (let i = 0; i < 6; i++) {
    const lo = b[i]! & 15;
    const hi = b[i]! >> 4;
    if (lo > 9 || hi > 9) r.fail('PROTOCOL_BAD_VALUE', field, 'not BCD', at + i);
    const v = lo * 10 + hi;
    const [name, min, max] = TIME_FIELDS[i]!;
    if (v < min || v > max)
      r.fail('PROTOCOL_BAD_VALUE', field, `${name} ${v} is outside ${min}..${max}`, at + i);
    values.push(v);
  }
  const tzByte = b[6]!;
  const tens = tzByte & 7;
  const units = tzByte >> 4;
  if (units > 9) r.fail('PROTOCOL_BAD_VALUE', field, 'time zone is not BCD', at + 6);
  const q = tens * 10 + units;
  const negative = (tzByte & 8) !== 0;
  if (negative && q === 0)
    r.fail('PROTOCOL_BAD_VALUE', field, 'time zone is negative zero', at + 6);
  return {
    year: values[0]!,
    month: values[1]!,
    day: values[2]!,
    hour: values[3]!,
    minute: values[4]!,
    second: values[5]!,
    timezoneQuarters: negative ? -q : q,
  };
}

function encodeUserData(w: ByteWriter, dcs: number, ud: SmsUserData, structure: string): void {
  const bad = (
    field: string,
    detail: string,
    code: 'PROTOCOL_BAD_VALUE' | 'PROTOCOL_BAD_LENGTH' = 'PROTOCOL_BAD_VALUE',
  ): never => {
    throw new ProtocolError(code, structure, field, -1, detail);
  };
  const userData: unknown = ud;
  if (typeof userData !== 'object' || userData === null || !(ud.data instanceof Uint8Array))
    bad('TP-UD', 'data must be a Uint8Array');
  const header = ud.header ? encodeUserDataHeader(ud.header) : new Uint8Array(0);
  const octets = header.length + ud.data.length;
  if (octets > MAX_USER_DATA)
    bad('TP-UDL', `${octets} octets exceed ${MAX_USER_DATA}`, 'PROTOCOL_BAD_LENGTH');
  let udl = octets;
  if (dcsCountsSeptets(dcs)) {
    const s = ud.septets ?? bad('TP-UDL', 'a 7-bit DCS needs septets 0..160');
    if (!Number.isInteger(s) || s < 0 || s > 160) bad('TP-UDL', 'a 7-bit DCS needs septets 0..160');
    if (Math.ceil((s * 7) / 8) !== octets)
      bad('TP-UDL', `${s} septets do not fill ${octets} octets`, 'PROTOCOL_BAD_LENGTH');
    udl = s;
  } else if (ud.septets !== undefined) {
    bad('TP-UDL', 'septets only apply to a 7-bit DCS');
  }
  w.u8(udl).bytes(header).bytes(ud.data);
}

function decodeUserData(r: ByteReader, dcs: number, udhi: boolean): SmsUserData {
  const at = r.offset;
  const udl = r.u8('TP-UDL');
  const septets = dcsCountsSeptets(dcs);
  if (septets && udl > 160)
    r.fail('PROTOCOL_BAD_LENGTH', 'TP-UDL', `${udl} septets exceed 160`, at);
  const octets = septets ? Math.ceil((udl * 7) / 8) : udl;
  if (octets > MAX_USER_DATA)
    r.fail('PROTOCOL_BAD_LENGTH', 'TP-UDL', `${octets} octets exceed ${MAX_USER_DATA}`, at);
  const body = r.bytesView(octets, 'TP-UD');
  let header: UdhElement[] | undefined;
  let start = 0;
  if (udhi) {
    const h = decodeUserDataHeader(body, r.base + at + 1);
    header = h.elements;
    start = h.end;
  }
  return {
    ...(header ? { header } : {}),
    data: body.slice(start),
    ...(septets ? { septets: udl } : {}),
  };
}

function checkByte(v: unknown, structure: string, field: string): asserts v is number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) {
    throw new ProtocolError('PROTOCOL_BAD_VALUE', structure, field, -1, 'must be a byte 0..255');
  }
}

function checkFlags(t: object, names: readonly string[], structure: string): void {
  for (const n of names) {
    if (typeof (t as Record<string, unknown>)[n] !== 'boolean')
      throw new ProtocolError('PROTOCOL_BAD_VALUE', structure, n, -1, 'must be a boolean');
  }
}

/**
 * Encode an SMS-DELIVER or SMS-SUBMIT TPDU. TP-UDHI is set when `userData.header` is present.
 *
 * @example
 * ```ts
 * import { encodeSmsTpdu } from 'simvault/protocol';
 * import { toHex } from 'simvault';
 * toHex(encodeSmsTpdu({
 *   type: 'deliver', moreMessages: true, loopPrevention: false, statusReport: false, replyPath: false,
 *   originator: { ton: 0, npi: 1, digits: '12345678' }, pid: 0x7f, dcs: 0xf6,
 *   scts: { year: 22, month: 7, day: 25, hour: 0, minute: 0, second: 0, timezoneQuarters: 0 },
 *   userData: { header: [{ iei: 0x70, data: new Uint8Array(0) }], data: new Uint8Array([0xaa]) },
 * })); // '400881214365877ff62270520000000004027000aa'
 * ```
 */
export function encodeSmsTpdu(tpdu: SmsTpdu): Uint8Array {
  const w = new ByteWriter();
  // Checked as unknown: callers from JavaScript may pass anything.
  const input: unknown = tpdu;
  const type = typeof input === 'object' && input !== null && 'type' in input ? input.type : null;
  if (type !== 'deliver' && type !== 'submit')
    throw new ProtocolError(
      'PROTOCOL_BAD_VALUE',
      'SmsTpdu',
      'type',
      -1,
      "type must be 'deliver' or 'submit'",
    );
  const userData: unknown = tpdu.userData;
  const udhi =
    typeof userData === 'object' && userData !== null && 'header' in userData && userData.header
      ? 0x40
      : 0;
  if (tpdu.type === 'deliver') {
    const s = 'SmsDeliver';
    checkFlags(tpdu, ['moreMessages', 'loopPrevention', 'statusReport', 'replyPath'], s);
    checkByte(tpdu.pid, s, 'TP-PID');
    checkByte(tpdu.dcs, s, 'TP-DCS');
    w.u8(
      (tpdu.replyPath ? 0x80 : 0) |
        udhi |
        (tpdu.statusReport ? 0x20 : 0) |
        (tpdu.loopPrevention ? 0x08 : 0) |
        (tpdu.moreMessages ? 0 : 0x04),
    );
    encodeAddress(w, tpdu.originator, 'TP-OA', s);
    w.u8(tpdu.pid).u8(tpdu.dcs);
    encodeTimestamp(w, tpdu.scts, 'TP-SCTS', s);
    encodeUserData(w, tpdu.dcs, tpdu.userData, s);
    return w.finish();
  }
  const s = 'SmsSubmit';
  checkFlags(tpdu, ['rejectDuplicates', 'statusReportRequest', 'replyPath'], s);
  checkByte(tpdu.messageReference, s, 'TP-MR');
  checkByte(tpdu.pid, s, 'TP-PID');
  checkByte(tpdu.dcs, s, 'TP-DCS');
  const vp = tpdu.validity;
  const validity: unknown = vp;
  const format =
    typeof validity === 'object' && validity !== null && 'format' in validity
      ? validity.format
      : undefined;
  const formats: Record<string, number | undefined> = {
    none: 0,
    enhanced: 1,
    relative: 2,
    absolute: 3,
  };
  const vpf = typeof format === 'string' ? formats[format] : undefined;
  if (vpf === undefined)
    throw new ProtocolError('PROTOCOL_BAD_VALUE', s, 'TP-VPF', -1, 'unknown validity format');
  w.u8(
    (tpdu.replyPath ? 0x80 : 0) |
      udhi |
      (tpdu.statusReportRequest ? 0x20 : 0) |
      (vpf << 3) |
      (tpdu.rejectDuplicates ? 0x04 : 0) |
      0x01,
  );
  w.u8(tpdu.messageReference);
  encodeAddress(w, tpdu.destination, 'TP-DA', s);
  w.u8(tpdu.pid).u8(tpdu.dcs);
  if (vp.format === 'relative') {
    checkByte(vp.value, s, 'TP-VP');
    w.u8(vp.value);
  } else if (vp.format === 'enhanced') {
    if (!(vp.octets instanceof Uint8Array) || vp.octets.length !== 7)
      throw new ProtocolError('PROTOCOL_BAD_LENGTH', s, 'TP-VP', -1, 'enhanced format is 7 octets');
    w.bytes(vp.octets);
  } else if (vp.format === 'absolute') {
    encodeTimestamp(w, vp.time, 'TP-VP', s);
  }
  encodeUserData(w, tpdu.dcs, tpdu.userData, s);
  return w.finish();
}

/**
 * Decode an SMS-DELIVER (TP-MTI 00) or SMS-SUBMIT (TP-MTI 01) TPDU. Throws {@link ProtocolError}
 * naming the field and offset on anything malformed, including trailing bytes.
 *
 * @example
 * ```ts
 * import { decodeSmsTpdu } from 'simvault/protocol';
 * import { fromHex } from 'simvault';
 * const t = decodeSmsTpdu(fromHex('0408D0E5759A0E7FF6907090307513000824010101BB400101'));
 * t.type; // 'deliver'
 * ```
 */
export function decodeSmsTpdu(bytes: Uint8Array): SmsTpdu {
  if (!(bytes instanceof Uint8Array))
    throw new ProtocolError('PROTOCOL_BAD_VALUE', 'SmsTpdu', 'input', 0, 'must be a Uint8Array');
  const first = new ByteReader(bytes, 'SmsTpdu').u8('first octet');
  const mti = first & 3;
  if (mti === 0) {
    const r = new ByteReader(bytes, 'SmsDeliver', 1);
    if (first & 0x10)
      r.fail('PROTOCOL_BAD_VALUE', 'first octet', 'bit 5 is unused and must be 0', 0);
    const originator = decodeAddress(r, 'TP-OA');
    const pid = r.u8('TP-PID');
    const dcs = r.u8('TP-DCS');
    const scts = decodeTimestamp(r, 'TP-SCTS');
    const userData = decodeUserData(r, dcs, (first & 0x40) !== 0);
    r.end();
    return {
      type: 'deliver',
      moreMessages: (first & 0x04) === 0,
      loopPrevention: (first & 0x08) !== 0,
      statusReport: (first & 0x20) !== 0,
      replyPath: (first & 0x80) !== 0,
      originator,
      pid,
      dcs,
      scts,
      userData,
    };
  }
  if (mti === 1) {
    const r = new ByteReader(bytes, 'SmsSubmit', 1);
    const messageReference = r.u8('TP-MR');
    const destination = decodeAddress(r, 'TP-DA');
    const pid = r.u8('TP-PID');
    const dcs = r.u8('TP-DCS');
    const vpf = (first >> 3) & 3;
    let validity: SmsValidity;
    if (vpf === 0) validity = { format: 'none' };
    else if (vpf === 2) validity = { format: 'relative', value: r.u8('TP-VP') };
    else if (vpf === 1) validity = { format: 'enhanced', octets: r.take(7, 'TP-VP') };
    else validity = { format: 'absolute', time: decodeTimestamp(r, 'TP-VP') };
    const userData = decodeUserData(r, dcs, (first & 0x40) !== 0);
    r.end();
    return {
      type: 'submit',
      rejectDuplicates: (first & 0x04) !== 0,
      statusReportRequest: (first & 0x20) !== 0,
      replyPath: (first & 0x80) !== 0,
      messageReference,
      destination,
      pid,
      dcs,
      validity,
      userData,
    };
  }
  throw new ProtocolError(
    'PROTOCOL_UNKNOWN_TAG',
    'SmsTpdu',
    'TP-MTI',
    0,
    `message type ${mti} is neither SMS-DELIVER nor SMS-SUBMIT`,
  );
}
