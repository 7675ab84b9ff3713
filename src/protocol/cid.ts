/**
 * The SD card CID register (SD Physical Layer spec, 5.2): the 16-byte identity a handset reads
 * from the memory card and the SIM binds to. Parse and build it, check its CRC7, and read and
 * write the text form Linux shows in `/sys/block/mmcblkN/device/cid`.
 *
 * Many host controllers strip the CRC and report the last byte as `00`, so a CID is accepted
 * either with a valid `CRC7 << 1 | 1` or with `00` there, and a card is identified by bytes
 * 0..14 only ({@link cidIdentity}). A CID is an identity, not a secret: some cards can be
 * reprogrammed.
 *
 * OID and PNM are meant to be ASCII, but cards with binary OEM ids exist and a card we cannot
 * parse is a card the user cannot bind, so both are kept as Latin-1 strings (one character per
 * byte, any byte value), which round-trip exactly.
 *
 * @module
 */
import { ProtocolError } from '../errors.js';
import { toHex } from '../bytes.js';
import { ByteReader } from './reader.js';
import { isInt, isOneOf, isRecord } from '../validate.js';

const STRUCTURE = 'CID';

/** Length of the CID register in bytes. */
const CID_LENGTH = 16;

/**
 * A decoded SD card CID register.
 *
 * @example
 * ```ts
 * import type { Cid } from 'simvault/protocol';
 * const cid: Cid = {
 *   mid: 0x03, oid: 'SD', pnm: 'SU01G', prv: { major: 8, minor: 0 },
 *   psn: 0x401c7513, mdt: { year: 2006, month: 3 }, crc: 'valid',
 * };
 * ```
 */
export interface Cid {
  /** Manufacturer id, 0-255 (0x03 SanDisk, 0x1B Samsung, 0x28 Lexar, 0x74 Transcend). */
  mid: number;
  /** OEM/application id: 2 characters, one per byte (Latin-1). */
  oid: string;
  /** Product name: 5 characters, one per byte (Latin-1). */
  pnm: string;
  /** Product revision, BCD `n.m`: each digit 0-9. */
  prv: {
    /** The major revision `n`: the high BCD digit of PRV, 0-9. */
    major: number;
    /** The minor revision `m`: the low BCD digit of PRV, 0-9. */
    minor: number;
  };
  /** Product serial number, unsigned 32-bit. */
  psn: number;
  /** Manufacturing date: year 2000-2255, month 1-12. */
  mdt: {
    /** The year, 2000-2255: 2000 plus the MDT year field `y`. */
    year: number;
    /** The month, 1-12: the MDT month field `m`. */
    month: number;
  };
  /** `valid`: the last byte is `CRC7 << 1 | 1`; `absent`: the host stripped it to `00`. */
  crc: 'valid' | 'absent';
}

/**
 * CRC7 with G(x) = x^7 + x^3 + 1 and a zero initial value, as the SD spec uses for the CID and
 * command frames. Returns the 7-bit CRC (0-127).
 *
 * @example
 * ```ts
 * import { crc7 } from 'simvault/protocol';
 * crc7(new Uint8Array([0x40, 0, 0, 0, 0])); // 0x4a (CMD0's CRC)
 * ```
 */
export function crc7(bytes: Uint8Array): number {
  let crc = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    for (let bit = 7; bit >= 0; bit--) {
      const feedback = ((byte >> bit) & 1) ^ (crc >> 6);
      crc = (crc << 1) & 0x7f;
      if (feedback) crc ^= 0x09;
    }
  }
  return crc;
}

function latin1(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += String.fromCharCode(bytes[i]!);
  return out;
}

/**
 * Decode a 16-byte CID register. Rejects a wrong length, non-BCD revision, non-zero reserved
 * bits, a month outside 1-12, a clear end bit and a wrong CRC7.
 *
 * @example
 * ```ts
 * import { decodeCid } from 'simvault/protocol';
 * import { fromHex } from 'simvault';
 * const cid = decodeCid(fromHex('035344535530314780401c751300637d'));
 * cid.pnm; // 'SU01G'
 * ```
 */
export function decodeCid(bytes: Uint8Array): Cid {
  const r = new ByteReader(bytes, STRUCTURE);
  if (bytes.length !== CID_LENGTH) {
    r.fail(
      bytes.length < CID_LENGTH ? 'PROTOCOL_TRUNCATED' : 'PROTOCOL_TRAILING_BYTES',
      'cid',
      `a CID is ${CID_LENGTH} bytes, got ${bytes.length}`,
      Math.min(bytes.length, CID_LENGTH),
    );
  }
  const mid = r.u8('MID');
  const oid = latin1(r.bytesView(2, 'OID'));
  const pnm = latin1(r.bytesView(5, 'PNM'));
  const prvByte = r.u8('PRV');
  const major = prvByte >> 4;
  const minor = prvByte & 0x0f;
  if (major > 9 || minor > 9)
    r.fail('PROTOCOL_BAD_VALUE', 'PRV', `0x${toHex(bytes.subarray(8, 9))} is not BCD n.m`, 8);
  const psn = r.u32('PSN');
  const mdtHigh = r.u8('MDT');
  if (mdtHigh >> 4 !== 0) r.fail('PROTOCOL_BAD_VALUE', 'reserved', 'bits 23:20 must be 0', 13);
  const mdtLow = r.u8('MDT');
  const year = 2000 + (((mdtHigh & 0x0f) << 4) | (mdtLow >> 4));
  const month = mdtLow & 0x0f;
  if (month < 1 || month > 12)
    r.fail('PROTOCOL_BAD_VALUE', 'MDT', `month ${month} is not 1-12`, 14);
  const last = r.u8('CRC');
  let crc: Cid['crc'];
  if (last === 0) {
    crc = 'absent';
  } else {
    if ((last & 1) === 0) r.fail('PROTOCOL_BAD_VALUE', 'CRC', 'end bit 0 must be 1', 15);
    const want = crc7(bytes.subarray(0, 15));
    if (last >> 1 !== want) {
      r.fail(
        'PROTOCOL_BAD_CHECKSUM',
        'CRC',
        `CRC7 is 0x${(last >> 1).toString(16)}, expected 0x${want.toString(16)}`,
        15,
      );
    }
    crc = 'valid';
  }
  return { mid, oid, pnm, prv: { major, minor }, psn, mdt: { year, month }, crc };
}

function bad(field: string, detail: string): never {
  throw new ProtocolError('PROTOCOL_BAD_VALUE', STRUCTURE, field, -1, detail);
}

function latin1Bytes(text: unknown, length: number, field: string): Uint8Array {
  if (typeof text !== 'string' || text.length !== length)
    bad(field, `must be a string of ${length} characters`);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff)
      bad(field, `character ${i} is not a single byte (U+${c.toString(16).padStart(4, '0')})`);
    out[i] = c;
  }
  return out;
}

/**
 * Build the 16-byte CID register from its fields; the last byte is `CRC7 << 1 | 1` when
 * `crc` is `valid` and `00` when it is `absent`.
 *
 * @example
 * ```ts
 * import { encodeCid, decodeCid } from 'simvault/protocol';
 * import { fromHex } from 'simvault';
 * const bytes = fromHex('035344535530314780401c751300637d');
 * encodeCid(decodeCid(bytes)); // the same 16 bytes
 * ```
 */
export function encodeCid(cid: Cid): Uint8Array {
  if (!isRecord(cid)) bad('cid', 'must be an object');
  if (!isInt(cid.mid, 0, 0xff)) bad('MID', 'must be an integer 0-255');
  const oid = latin1Bytes(cid.oid, 2, 'OID');
  const pnm = latin1Bytes(cid.pnm, 5, 'PNM');
  if (!isRecord(cid.prv) || !isInt(cid.prv.major, 0, 9) || !isInt(cid.prv.minor, 0, 9)) {
    bad('PRV', 'major and minor must be BCD digits 0-9');
  }
  if (!isInt(cid.psn, 0, 0xffffffff)) bad('PSN', 'must be an unsigned 32-bit integer');
  if (!isRecord(cid.mdt) || !isInt(cid.mdt.year, 2000, 2255)) bad('MDT', 'year must be 2000-2255');
  if (!isInt(cid.mdt.month, 1, 12)) bad('MDT', 'month must be 1-12');
  if (!isOneOf(cid.crc, ['valid', 'absent'] as const)) bad('CRC', "must be 'valid' or 'absent'");
  const out = new Uint8Array(CID_LENGTH);
  out[0] = cid.mid;
  out.set(oid, 1);
  out.set(pnm, 3);
  out[8] = (cid.prv.major << 4) | cid.prv.minor;
  out[9] = cid.psn >>> 24;
  out[10] = cid.psn >>> 16;
  out[11] = cid.psn >>> 8;
  out[12] = cid.psn;
  const y = cid.mdt.year - 2000;
  out[13] = y >> 4;
  out[14] = ((y & 0x0f) << 4) | cid.mdt.month;
  out[15] = cid.crc === 'valid' ? (crc7(out.subarray(0, 15)) << 1) | 1 : 0;
  return out;
}

/**
 * The 15 bytes that identify a card for binding: the CID without its CRC byte, so a card reads
 * the same whether or not the host strips the CRC.
 *
 * @example
 * ```ts
 * import { cidIdentity, decodeCid } from 'simvault/protocol';
 * import { fromHex, toHex } from 'simvault';
 * toHex(cidIdentity(decodeCid(fromHex('035344535530314780401c751300637d'))));
 * // '035344535530314780401c75130063'
 * ```
 */
export function cidIdentity(cid: Cid): Uint8Array {
  return encodeCid(cid).subarray(0, 15).slice();
}

/**
 * Parse the Linux sysfs text form of a CID: exactly 32 hex digits (either case), optionally
 * followed by one newline, as read from `/sys/block/mmcblkN/device/cid`.
 *
 * @example
 * ```ts
 * import { parseCidText } from 'simvault/protocol';
 * parseCidText('035344535530314780401c751300637d\n').psn; // 0x401c7513
 * ```
 */
export function parseCidText(text: string): Cid {
  if (typeof text !== 'string')
    throw new ProtocolError('PROTOCOL_BAD_VALUE', STRUCTURE, 'text', 0, 'must be a string');
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  const badAt = body.search(/[^0-9a-fA-F]/);
  if (badAt >= 0) {
    throw new ProtocolError(
      'PROTOCOL_BAD_VALUE',
      STRUCTURE,
      'text',
      badAt >> 1,
      `character ${badAt} is not a hex digit`,
    );
  }
  if (body.length !== CID_LENGTH * 2) {
    throw new ProtocolError(
      'PROTOCOL_BAD_LENGTH',
      STRUCTURE,
      'text',
      Math.min(body.length, CID_LENGTH * 2) >> 1,
      `the text form is 32 hex digits, got ${body.length}`,
    );
  }
  const bytes = new Uint8Array(CID_LENGTH);
  for (let i = 0; i < CID_LENGTH; i++) bytes[i] = Number.parseInt(body.slice(i * 2, i * 2 + 2), 16);
  return decodeCid(bytes);
}

/**
 * Format a CID as Linux shows it in sysfs: 32 lower-case hex digits and a newline.
 *
 * @example
 * ```ts
 * import { formatCidText, parseCidText } from 'simvault/protocol';
 * formatCidText(parseCidText('035344535530314780401C751300637D')); // '035344535530314780401c751300637d\n'
 * ```
 */
export function formatCidText(cid: Cid): string {
  return `${toHex(encodeCid(cid))}\n`;
}
