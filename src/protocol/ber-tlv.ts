/**
 * BER-TLV as ISO/IEC 7816-4 uses it: tags of one to three bytes, definite lengths of one to three
 * bytes (`00-7F`, `81 xx`, `82 xx xx`), and the constructed bit (bit 6 of the first tag byte).
 *
 * Only the shortest length form is accepted and produced, so a decoded object encodes back to
 * the same bytes. The indefinite length `80` and the `00`/`FF` filler bytes ISO 7816-4 tolerates
 * between objects are rejected: nothing simvault speaks uses them, and skipping them would make
 * two byte strings decode to one value.
 *
 * @module
 */
import { ProtocolError } from '../errors.js';
import { ByteReader, ByteWriter } from './reader.js';
import { isRecord } from '../validate.js';

const STRUCTURE = 'BER-TLV';

/** How deep {@link decodeBerTlvTree} follows constructed objects before it gives up. */
const MAX_DEPTH = 32;

/**
 * One BER-TLV data object. `tag` is the tag bytes read as a big-endian number: `0x6f`,
 * `0x9f27`, `0xbf0c`, `0xdf8101`.
 *
 * @example
 * ```ts
 * import type { BerTlv } from 'simvault/protocol';
 * const aid: BerTlv = { tag: 0x4f, value: new Uint8Array([0xa0, 0, 0, 0, 0x87]) };
 * ```
 */
export interface BerTlv {
  /** The tag, all its bytes as one big-endian number. */
  tag: number;
  /** The value bytes. */
  value: Uint8Array;
}

/**
 * A BER-TLV object with its constructed value parsed into children.
 *
 * @example
 * ```ts
 * import type { BerTlvNode } from 'simvault/protocol';
 * const node: BerTlvNode = { tag: 0x4f, constructed: false, value: new Uint8Array([1, 2, 3, 4, 5]) };
 * ```
 */
export interface BerTlvNode extends BerTlv {
  /** Bit 6 of the first tag byte: the value is a sequence of BER-TLV objects. */
  constructed: boolean;
  /** The objects inside a constructed value, in order. */
  children?: BerTlvNode[];
}

/**
 * Whether a BER tag is constructed (bit 6 of its first byte).
 *
 * @example
 * ```ts
 * import { isConstructedTag } from 'simvault/protocol';
 * isConstructedTag(0x6f); // true
 * isConstructedTag(0x4f); // false
 * ```
 */
export function isConstructedTag(tag: number): boolean {
  return (berTagBytes(tag)[0]! & 0x20) !== 0;
}

/**
 * The bytes of a BER tag, validating it: a first byte other than `00`/`FF`; after a first byte
 * with tag number `1F`, a second byte other than `80`, and at most three bytes in all.
 *
 * @example
 * ```ts
 * import { berTagBytes } from 'simvault/protocol';
 * berTagBytes(0x9f27); // Uint8Array [0x9f, 0x27]
 * ```
 */
export function berTagBytes(tag: number): Uint8Array {
  if (!Number.isInteger(tag) || tag <= 0 || tag > 0xffffff) {
    throw new ProtocolError(
      'PROTOCOL_BAD_VALUE',
      STRUCTURE,
      'tag',
      -1,
      'must be an integer 1-0xffffff',
    );
  }
  const bytes =
    tag > 0xffff
      ? [tag >> 16, (tag >> 8) & 0xff, tag & 0xff]
      : tag > 0xff
        ? [tag >> 8, tag & 0xff]
        : [tag];
  const r = new ByteReader(new Uint8Array(bytes), STRUCTURE);
  try {
    readTag(r);
    r.end();
  } catch (e) {
    if (e instanceof ProtocolError) {
      throw new ProtocolError(
        'PROTOCOL_BAD_VALUE',
        STRUCTURE,
        'tag',
        -1,
        `0x${tag.toString(16)} is not a valid tag: ${e.message}`,
      );
    }
    throw e;
  }
  return new Uint8Array(bytes);
}

function readTag(r: ByteReader): number {
  const start = r.offset;
  const first = r.u8('tag');
  if (first === 0x00 || first === 0xff)
    r.fail('PROTOCOL_BAD_VALUE', 'tag', `0x${first.toString(16)} cannot start a tag`, start);
  if ((first & 0x1f) !== 0x1f) return first;
  const second = r.u8('tag');
  // X.690 would also refuse 00-1E here, but EMV and GlobalPlatform tags such as 9F02 and BF0C use
  // them; the tag number keeps every byte, so accepting them costs no round-trip exactness.
  if (second === 0x80)
    r.fail('PROTOCOL_BAD_VALUE', 'tag', 'second tag byte 0x80 is not allowed', start + 1);
  if ((second & 0x80) === 0) return (first << 8) | second;
  const third = r.u8('tag');
  if ((third & 0x80) !== 0)
    r.fail(
      'PROTOCOL_BAD_VALUE',
      'tag',
      'tags longer than three bytes are not supported',
      start + 2,
    );
  return (first << 16) | (second << 8) | third;
}

function readLength(r: ByteReader): number {
  const start = r.offset;
  const first = r.u8('length');
  if (first < 0x80) return first;
  if (first === 0x81) {
    const n = r.u8('length');
    if (n < 0x80)
      r.fail(
        'PROTOCOL_BAD_LENGTH',
        'length',
        `81 ${n.toString(16)} is not the shortest length form`,
        start,
      );
    return n;
  }
  if (first === 0x82) {
    const n = r.u16('length');
    if (n < 0x100)
      r.fail(
        'PROTOCOL_BAD_LENGTH',
        'length',
        `82 form for ${n} is not the shortest length form`,
        start,
      );
    return n;
  }
  return r.fail(
    'PROTOCOL_BAD_LENGTH',
    'length',
    `length byte 0x${first.toString(16)} is not 00-7F, 81 or 82`,
    start,
  );
}

/**
 * Read one BER-TLV object at the reader's offset (for codecs that embed BER-TLV in a larger
 * structure). The value is a view into the reader's bytes.
 *
 * @example
 * ```ts
 * import { ByteReader, readBerTlv } from 'simvault/protocol';
 * const r = new ByteReader(new Uint8Array([0x4f, 1, 0xaa, 0x90, 0x00]), 'Example');
 * readBerTlv(r).tag; // 0x4f
 * r.remaining; // 2
 * ```
 */
export function readBerTlv(r: ByteReader): BerTlv {
  const tag = readTag(r);
  const length = readLength(r);
  const value = r.bytesView(length, 'value');
  return { tag, value };
}

/**
 * Append one BER-TLV object to a writer.
 *
 * @example
 * ```ts
 * import { ByteWriter, writeBerTlv } from 'simvault/protocol';
 * const w = new ByteWriter();
 * writeBerTlv(w, { tag: 0x4f, value: new Uint8Array([0xaa]) });
 * w.finish(); // Uint8Array [0x4f, 0x01, 0xaa]
 * ```
 */
export function writeBerTlv(w: ByteWriter, tlv: BerTlv): ByteWriter {
  if (!isRecord(tlv))
    throw new ProtocolError('PROTOCOL_BAD_VALUE', STRUCTURE, 'tlv', -1, 'must be an object');
  const tag = berTagBytes(tlv.tag);
  if (!(tlv.value instanceof Uint8Array))
    throw new ProtocolError('PROTOCOL_BAD_VALUE', STRUCTURE, 'value', -1, 'must be a Uint8Array');
  const n = tlv.value.length;
  w.bytes(tag);
  if (n < 0x80) w.u8(n);
  else if (n <= 0xff) w.u8(0x81).u8(n);
  else if (n <= 0xffff) w.u8(0x82).u16(n);
  else
    throw new ProtocolError(
      'PROTOCOL_BAD_LENGTH',
      STRUCTURE,
      'value',
      -1,
      `at most 65535 bytes, got ${n}`,
    );
  return w.bytes(tlv.value);
}

/**
 * Decode exactly one BER-TLV object; the value is a copy.
 *
 * @example
 * ```ts
 * import { decodeBerTlv } from 'simvault/protocol';
 * import { fromHex } from 'simvault';
 * decodeBerTlv(fromHex('9f2701aa')).tag; // 0x9f27
 * ```
 */
export function decodeBerTlv(bytes: Uint8Array): BerTlv {
  const r = new ByteReader(bytes, STRUCTURE);
  const { tag, value } = readBerTlv(r);
  r.end();
  return { tag, value: value.slice() };
}

/**
 * Encode one BER-TLV object with the shortest length form.
 *
 * @example
 * ```ts
 * import { encodeBerTlv } from 'simvault/protocol';
 * encodeBerTlv({ tag: 0xd3, value: new Uint8Array(200) }).subarray(0, 3); // [0xd3, 0x81, 0xc8]
 * ```
 */
export function encodeBerTlv(tlv: BerTlv): Uint8Array {
  return writeBerTlv(new ByteWriter(), tlv).finish();
}

/**
 * Decode a sequence of BER-TLV objects filling the input exactly (an empty input is an empty
 * list).
 *
 * @example
 * ```ts
 * import { decodeBerTlvList } from 'simvault/protocol';
 * import { fromHex } from 'simvault';
 * decodeBerTlvList(fromHex('4f01aa5001bb')).length; // 2
 * ```
 */
export function decodeBerTlvList(bytes: Uint8Array): BerTlv[] {
  const r = new ByteReader(bytes, STRUCTURE);
  const out: BerTlv[] = [];
  while (r.remaining > 0) {
    const { tag, value } = readBerTlv(r);
    out.push({ tag, value: value.slice() });
  }
  return out;
}

/**
 * Encode a sequence of BER-TLV objects back to back.
 *
 * @example
 * ```ts
 * import { encodeBerTlvList } from 'simvault/protocol';
 * encodeBerTlvList([{ tag: 0x4f, value: new Uint8Array([0xaa]) }]); // [0x4f, 0x01, 0xaa]
 * ```
 */
export function encodeBerTlvList(list: readonly BerTlv[]): Uint8Array {
  if (!Array.isArray(list))
    throw new ProtocolError('PROTOCOL_BAD_VALUE', STRUCTURE, 'list', -1, 'must be an array');
  const w = new ByteWriter();
  for (const tlv of list as readonly BerTlv[]) writeBerTlv(w, tlv);
  return w.finish();
}

function readTree(bytes: Uint8Array, base: number, depth: number): BerTlvNode[] {
  const r = new ByteReader(bytes, STRUCTURE, 0, base);
  const out: BerTlvNode[] = [];
  while (r.remaining > 0) {
    const { tag, value } = readBerTlv(r);
    const valueOffset = r.offset - value.length;
    const constructed = (berTagBytes(tag)[0]! & 0x20) !== 0;
    const node: BerTlvNode = { tag, constructed, value: value.slice() };
    if (constructed) {
      if (depth >= MAX_DEPTH)
        r.fail(
          'PROTOCOL_BAD_VALUE',
          'value',
          `nesting deeper than ${MAX_DEPTH} levels`,
          valueOffset,
        );
      node.children = readTree(value, base + valueOffset, depth + 1);
    }
    out.push(node);
  }
  return out;
}

/**
 * Decode a sequence of BER-TLV objects and parse every constructed value into its children,
 * up to 32 levels deep. Offsets in errors are offsets into the whole input.
 *
 * @example
 * ```ts
 * import { decodeBerTlvTree } from 'simvault/protocol';
 * import { fromHex } from 'simvault';
 * const [fci] = decodeBerTlvTree(fromHex('6f07 8405a000000087'));
 * fci!.children![0]!.tag; // 0x84
 * ```
 */
export function decodeBerTlvTree(bytes: Uint8Array): BerTlvNode[] {
  return readTree(bytes, 0, 0);
}
