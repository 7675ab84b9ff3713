/**
 * COMPREHENSION-TLV (ETSI TS 101 220 7.1.1), the inner data objects of SIM Toolkit commands.
 *
 * Tag: one byte `01-7E`, whose top bit is the comprehension-required (CR) flag — so `81` is tag
 * `01` with CR set — or the three-byte form `7F hh ll`, where the top bit of `hh` is CR and the
 * other 15 bits the tag value. `00`, `80` and `FF` are illegal first bytes. Length: `00-7F` in one
 * byte, `81 80-FF` for 128-255 (SIM Toolkit objects never exceed 255 bytes).
 *
 * The three-byte form is accepted only for tag values `007F-7FFF`; a value that fits the one-byte
 * form has one encoding, so decoded objects encode back to the same bytes.
 *
 * @module
 */
import { ProtocolError } from '../errors.js';
import { ByteReader, ByteWriter } from './reader.js';
import { isRecord } from '../validate.js';

const STRUCTURE = 'COMPREHENSION-TLV';

/**
 * One COMPREHENSION-TLV data object.
 *
 * @example
 * ```ts
 * import type { ComprehensionTlv } from 'simvault/protocol';
 * // 82 02 81 82: device identities, UICC to terminal, comprehension required
 * const ids: ComprehensionTlv = { tag: 0x02, cr: true, value: new Uint8Array([0x81, 0x82]) };
 * ```
 */
export interface ComprehensionTlv {
  /** Tag value without the CR flag: `0x01-0x7E` (one-byte form) or `0x7F-0x7FFF` (three-byte form). */
  tag: number;
  /** Comprehension required: the receiver must reject the command if it does not know the tag. */
  cr: boolean;
  /** The value bytes, at most 255. */
  value: Uint8Array;
}

/**
 * Read one COMPREHENSION-TLV object at the reader's offset. The value is a view into the
 * reader's bytes.
 *
 * @example
 * ```ts
 * import { ByteReader, readComprehensionTlv } from 'simvault/protocol';
 * const r = new ByteReader(new Uint8Array([0x90, 0x01, 0x02]), 'Example');
 * readComprehensionTlv(r); // { tag: 0x10, cr: true, value: [0x02] }
 * ```
 */
export function readComprehensionTlv(r: ByteReader): ComprehensionTlv {
  const start = r.offset;
  const first = r.u8('tag');
  let tag: number;
  let cr: boolean;
  if (first === 0x00 || first === 0x80 || first === 0xff) {
    r.fail(
      'PROTOCOL_BAD_VALUE',
      'tag',
      `0x${first.toString(16).padStart(2, '0')} is an illegal tag`,
      start,
    );
  }
  if (first === 0x7f) {
    const word = r.u16('tag');
    cr = (word & 0x8000) !== 0;
    tag = word & 0x7fff;
    if (tag < 0x7f) {
      r.fail(
        'PROTOCOL_BAD_VALUE',
        'tag',
        `three-byte form for tag 0x${tag.toString(16)}, which has a one-byte form`,
        start,
      );
    }
  } else {
    cr = (first & 0x80) !== 0;
    tag = first & 0x7f;
  }
  const lengthAt = r.offset;
  let length = r.u8('length');
  if (length === 0x81) {
    length = r.u8('length');
    if (length < 0x80)
      r.fail(
        'PROTOCOL_BAD_LENGTH',
        'length',
        `81 ${length.toString(16)} is not the shortest length form`,
        lengthAt,
      );
  } else if (length >= 0x80) {
    r.fail(
      'PROTOCOL_BAD_LENGTH',
      'length',
      `length byte 0x${length.toString(16)} is not 00-7F or 81`,
      lengthAt,
    );
  }
  const value = r.bytesView(length, 'value');
  return { tag, cr, value };
}

/**
 * Append one COMPREHENSION-TLV object to a writer.
 *
 * @example
 * ```ts
 * import { ByteWriter, writeComprehensionTlv } from 'simvault/protocol';
 * const w = new ByteWriter();
 * writeComprehensionTlv(w, { tag: 0x10, cr: true, value: new Uint8Array([2]) });
 * w.finish(); // Uint8Array [0x90, 0x01, 0x02]
 * ```
 */
export function writeComprehensionTlv(w: ByteWriter, tlv: ComprehensionTlv): ByteWriter {
  if (!isRecord(tlv))
    throw new ProtocolError('PROTOCOL_BAD_VALUE', STRUCTURE, 'tlv', -1, 'must be an object');
  const { tag, cr, value } = tlv;
  if (!Number.isInteger(tag) || tag < 1 || tag > 0x7fff) {
    throw new ProtocolError(
      'PROTOCOL_BAD_VALUE',
      STRUCTURE,
      'tag',
      -1,
      'must be an integer 0x01-0x7fff',
    );
  }
  if (typeof cr !== 'boolean')
    throw new ProtocolError('PROTOCOL_BAD_VALUE', STRUCTURE, 'cr', -1, 'must be a boolean');
  if (!(value instanceof Uint8Array))
    throw new ProtocolError('PROTOCOL_BAD_VALUE', STRUCTURE, 'value', -1, 'must be a Uint8Array');
  if (value.length > 0xff) {
    throw new ProtocolError(
      'PROTOCOL_BAD_LENGTH',
      STRUCTURE,
      'value',
      -1,
      `at most 255 bytes, got ${value.length}`,
    );
  }
  if (tag < 0x7f) w.u8(tag | (cr ? 0x80 : 0));
  else w.u8(0x7f).u16(tag | (cr ? 0x8000 : 0));
  if (value.length >= 0x80) w.u8(0x81);
  return w.u8(value.length).bytes(value);
}

/**
 * Decode exactly one COMPREHENSION-TLV object; the value is a copy.
 *
 * @example
 * ```ts
 * import { decodeComprehensionTlv } from 'simvault/protocol';
 * import { fromHex } from 'simvault';
 * decodeComprehensionTlv(fromHex('8103012400')); // { tag: 1, cr: true, value: [1, 0x24, 0] }
 * ```
 */
export function decodeComprehensionTlv(bytes: Uint8Array): ComprehensionTlv {
  const r = new ByteReader(bytes, STRUCTURE);
  const { tag, cr, value } = readComprehensionTlv(r);
  r.end();
  return { tag, cr, value: value.slice() };
}

/**
 * Encode one COMPREHENSION-TLV object.
 *
 * @example
 * ```ts
 * import { encodeComprehensionTlv } from 'simvault/protocol';
 * encodeComprehensionTlv({ tag: 0x02, cr: true, value: new Uint8Array([0x01, 0x81]) }); // [0x82, 2, 1, 0x81]
 * ```
 */
export function encodeComprehensionTlv(tlv: ComprehensionTlv): Uint8Array {
  return writeComprehensionTlv(new ByteWriter(), tlv).finish();
}

/**
 * Decode a sequence of COMPREHENSION-TLV objects filling the input exactly, as found inside a
 * proactive command or an envelope. `base` is added to error offsets when the input is a slice
 * of a larger structure.
 *
 * @example
 * ```ts
 * import { decodeComprehensionTlvList } from 'simvault/protocol';
 * import { fromHex } from 'simvault';
 * decodeComprehensionTlvList(fromHex('82020181 900102')).map((t) => t.tag); // [2, 0x10]
 * ```
 */
export function decodeComprehensionTlvList(bytes: Uint8Array, base = 0): ComprehensionTlv[] {
  const r = new ByteReader(bytes, STRUCTURE, 0, base);
  const out: ComprehensionTlv[] = [];
  while (r.remaining > 0) {
    const { tag, cr, value } = readComprehensionTlv(r);
    out.push({ tag, cr, value: value.slice() });
  }
  return out;
}

/**
 * Encode a sequence of COMPREHENSION-TLV objects back to back.
 *
 * @example
 * ```ts
 * import { encodeComprehensionTlvList } from 'simvault/protocol';
 * encodeComprehensionTlvList([{ tag: 0x10, cr: true, value: new Uint8Array([2]) }]); // [0x90, 1, 2]
 * ```
 */
export function encodeComprehensionTlvList(list: readonly ComprehensionTlv[]): Uint8Array {
  if (!Array.isArray(list))
    throw new ProtocolError('PROTOCOL_BAD_VALUE', STRUCTURE, 'list', -1, 'must be an array');
  const w = new ByteWriter();
  for (const tlv of list as readonly ComprehensionTlv[]) writeComprehensionTlv(w, tlv);
  return w.finish();
}
