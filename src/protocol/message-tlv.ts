/**
 * The TLV layer under the simvault messages (see `docs/protocol.md`): one-byte tags whose top bit
 * says "comprehension required", short definite lengths, fields in ascending tag order, and the
 * value codecs the message schemas are built from. Every value is checked twice: on encode (the
 * error names the field, offset `-1`) and on decode (the error names the field and the offset).
 *
 * @module
 */
import { ProtocolError, type ErrorCode } from '../errors.js';
import { ByteReader } from './reader.js';

/**
 * The structure name every simvault message error carries.
 *
 * @example
 * ```ts
 * import { MESSAGE_STRUCTURE } from 'simvault/protocol';
 * // e instanceof ProtocolError && e.structure === MESSAGE_STRUCTURE
 * ```
 */
export const MESSAGE_STRUCTURE = 'SimvaultMessage';

/** Top bit of a tag byte: the receiver must understand the field or reject the message. */
const CR_BIT = 0x80;
/** Longest value the length encoding can express (`82 FF FF`). */
const MAX_LENGTH = 0xffff;

function encodeFail(code: ErrorCode, field: string, detail: string): never {
  throw new ProtocolError(code, MESSAGE_STRUCTURE, field, -1, detail);
}

/**
 * How one field value is validated, written and read.
 *
 * @example
 * ```ts
 * import { uintCodec } from './message-tlv.js';
 * const codec = uintCodec(0xffff);
 * codec.encode(300, 'size'); // Uint8Array [0x01, 0x2c]
 * ```
 */
export interface ValueCodec<T> {
  /**
   * Check a value handed to the encoder and return its bytes; throws a {@link ProtocolError}
   * naming `field` (offset `-1`) when the value is out of range or of the wrong type.
   */
  encode(value: unknown, field: string): Uint8Array;
  /** Read a value from a reader that covers exactly the bytes of one TLV value. */
  decode(r: ByteReader, field: string): T;
}

/**
 * The encoding of a TLV length: one byte below `0x80`, `81 xx` for 128-255, `82 xx xx` for
 * 256-65535; always the shortest form.
 *
 * @example
 * ```ts
 * import { encodeTlvLength } from './message-tlv.js';
 * encodeTlvLength(200, 'body'); // Uint8Array [0x81, 0xc8]
 * ```
 */
export function encodeTlvLength(n: number, field: string): Uint8Array {
  const out = new Uint8Array(lengthSize(n, field));
  writeTlvLength(out, 0, n);
  return out;
}

/** Bytes {@link encodeTlvLength} uses for `n`, or an encode error when `n` is too long. */
function lengthSize(n: number, field: string): number {
  if (n > MAX_LENGTH)
    encodeFail(
      'PROTOCOL_BAD_LENGTH',
      field,
      `${n} bytes exceed the longest TLV value (${MAX_LENGTH})`,
    );
  return n < 0x80 ? 1 : n <= 0xff ? 2 : 3;
}

/** Write the length `n` (already checked by {@link lengthSize}) at `off`; returns the next offset. */
function writeTlvLength(out: Uint8Array, off: number, n: number): number {
  if (n < 0x80) {
    out[off] = n;
    return off + 1;
  }
  if (n <= 0xff) {
    out[off] = 0x81;
    out[off + 1] = n;
    return off + 2;
  }
  out[off] = 0x82;
  out[off + 1] = n >>> 8;
  out[off + 2] = n & 0xff;
  return off + 3;
}

/**
 * Read a TLV length written by {@link encodeTlvLength}. Non-shortest forms and the indefinite or
 * longer forms are rejected, so every length has exactly one encoding.
 *
 * @example
 * ```ts
 * import { ByteReader } from 'simvault/protocol';
 * import { readTlvLength } from './message-tlv.js';
 * readTlvLength(new ByteReader(new Uint8Array([0x81, 0xc8]), 'Example'), 'body'); // 200
 * ```
 */
export function readTlvLength(r: ByteReader, field: string): number {
  const at = r.offset;
  const first = r.u8(`${field}.length`);
  if (first < 0x80) return first;
  if (first === 0x81) {
    const n = r.u8(`${field}.length`);
    if (n < 0x80)
      r.fail(
        'PROTOCOL_BAD_LENGTH',
        `${field}.length`,
        `81 ${hex2(n)} is not the shortest form`,
        at,
      );
    return n;
  }
  if (first === 0x82) {
    const n = r.u16(`${field}.length`);
    if (n < 0x100)
      r.fail(
        'PROTOCOL_BAD_LENGTH',
        `${field}.length`,
        `82 form for ${n} is not the shortest form`,
        at,
      );
    return n;
  }
  return r.fail(
    'PROTOCOL_BAD_LENGTH',
    `${field}.length`,
    `length byte ${hex2(first)} is not 00-7F, 81 or 82`,
    at,
  );
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

function expectLength(r: ByteReader, field: string, min: number, max: number): number {
  const n = r.remaining;
  if (n < min || n > max) {
    const range = min === max ? `${min}` : `${min}-${max}`;
    r.fail('PROTOCOL_BAD_LENGTH', field, `value is ${n} byte(s), expected ${range}`);
  }
  return n;
}

/**
 * Opaque bytes of `min` to `max` bytes (an AID, a CID, a digest, input data). Decoded values are
 * copies, never views into the input.
 *
 * @example
 * ```ts
 * import { bytesCodec } from './message-tlv.js';
 * const aid = bytesCodec(5, 16);
 * aid.encode(new Uint8Array(5), 'aid').length; // 5
 * ```
 */
export function bytesCodec(min: number, max: number): ValueCodec<Uint8Array> {
  return {
    encode(value, field) {
      if (!(value instanceof Uint8Array))
        return encodeFail('PROTOCOL_BAD_VALUE', field, 'must be a Uint8Array');
      if (value.length < min || value.length > max) {
        const range = min === max ? `${min}` : `${min}-${max}`;
        return encodeFail(
          'PROTOCOL_BAD_LENGTH',
          field,
          `is ${value.length} byte(s), expected ${range}`,
        );
      }
      // No copy: the structure encoder copies every value into its own buffer.
      return value;
    },
    decode(r, field) {
      return r.take(expectLength(r, field, min, max), field);
    },
  };
}

/**
 * A non-negative integer up to `max` (at most `Number.MAX_SAFE_INTEGER`), written big-endian in
 * the fewest bytes (1 to 7; zero is one `00` byte). A leading zero byte is rejected so each value
 * has one encoding.
 *
 * @example
 * ```ts
 * import { uintCodec } from './message-tlv.js';
 * uintCodec().encode(0x010000, 'size'); // Uint8Array [0x01, 0x00, 0x00]
 * ```
 */
export function uintCodec(max: number = Number.MAX_SAFE_INTEGER): ValueCodec<number> {
  return {
    encode(value, field) {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > max) {
        return encodeFail(
          'PROTOCOL_BAD_VALUE',
          field,
          `must be an integer in 0..${max}, got ${String(value)}`,
        );
      }
      let n = 1;
      while (n < 7 && value >= 2 ** (8 * n)) n++;
      const out = new Uint8Array(n);
      let v = value;
      for (let i = n - 1; i >= 0; i--) {
        out[i] = v % 256;
        v = Math.floor(v / 256);
      }
      return out;
    },
    decode(r, field) {
      const n = expectLength(r, field, 1, 7);
      const bytes = r.bytesView(n, field);
      if (n > 1 && bytes[0] === 0)
        r.fail('PROTOCOL_BAD_VALUE', field, 'integer has a leading zero byte', 0);
      let v = 0;
      for (const b of bytes) v = v * 256 + b;
      if (v > max) r.fail('PROTOCOL_BAD_VALUE', field, `${v} exceeds ${max}`, 0);
      return v;
    },
  };
}

/**
 * One byte naming a member of a closed set, given as `name → code`. Codes outside the set are
 * rejected: a new member needs a new format version or a new tag.
 *
 * @example
 * ```ts
 * import { enumCodec } from './message-tlv.js';
 * const state = enumCodec({ active: 1, masked: 2 });
 * state.encode('masked', 'state'); // Uint8Array [0x02]
 * ```
 */
export function enumCodec<K extends string>(codes: Readonly<Record<K, number>>): ValueCodec<K> {
  const byCode = new Map<number, K>();
  for (const [name, code] of Object.entries(codes) as [K, number][]) byCode.set(code, name);
  const names = Object.keys(codes).join(', ');
  return {
    encode(value, field) {
      if (typeof value !== 'string' || !Object.hasOwn(codes, value)) {
        return encodeFail(
          'PROTOCOL_BAD_VALUE',
          field,
          `must be one of ${names}, got ${String(value)}`,
        );
      }
      return Uint8Array.of(codes[value as K]);
    },
    decode(r, field) {
      expectLength(r, field, 1, 1);
      const code = r.u8(field);
      const name = byCode.get(code);
      if (name === undefined)
        return r.fail('PROTOCOL_BAD_VALUE', field, `code ${hex2(code)} is not one of ${names}`, 0);
      return name;
    },
  };
}

/** C0 and C1 control characters and DEL: they have no place in a menu line or a version string. */
const CONTROL = /\p{Cc}/u;
/** A lone surrogate cannot be UTF-8 encoded; TextEncoder would silently replace it. */
const LONE_SURROGATE = /\p{Cs}/u;
const URL_CHARS = /^[\x21-\x7e]*$/;
const utf8Encoder = new TextEncoder();
// fatal: malformed UTF-8 is an error, not U+FFFD; ignoreBOM: a leading BOM stays in the string so
// decoding then encoding gives back the same bytes.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The bytes of an all-ASCII string without TextEncoder (much faster for short strings), else undefined. */
function asciiBytes(text: string): Uint8Array | undefined {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) return undefined;
    out[i] = c;
  }
  return out;
}

/**
 * Text of `min` to `max` bytes. `display` text is UTF-8 (Chinese application names included)
 * without control characters; `url` text is printable ASCII without spaces.
 *
 * @example
 * ```ts
 * import { textCodec } from './message-tlv.js';
 * textCodec(1, 64, 'display').encode('手机电视', 'name').length; // 12
 * ```
 */
export function textCodec(min: number, max: number, kind: 'display' | 'url'): ValueCodec<string> {
  return {
    encode(value, field) {
      if (typeof value !== 'string')
        return encodeFail('PROTOCOL_BAD_VALUE', field, 'must be a string');
      if (kind === 'url') {
        if (!URL_CHARS.test(value))
          return encodeFail('PROTOCOL_BAD_VALUE', field, 'must be printable ASCII without spaces');
      } else {
        if (LONE_SURROGATE.test(value))
          return encodeFail('PROTOCOL_BAD_VALUE', field, 'has a lone surrogate');
        if (CONTROL.test(value))
          return encodeFail('PROTOCOL_BAD_VALUE', field, 'has a control character');
      }
      const bytes = asciiBytes(value) ?? utf8Encoder.encode(value);
      if (bytes.length < min || bytes.length > max) {
        return encodeFail(
          'PROTOCOL_BAD_LENGTH',
          field,
          `is ${bytes.length} UTF-8 byte(s), expected ${min}-${max}`,
        );
      }
      return bytes;
    },
    decode(r, field) {
      const bytes = r.bytesView(expectLength(r, field, min, max), field);
      let text: string;
      if (kind === 'url') {
        for (let i = 0; i < bytes.length; i++) {
          const b = bytes[i]!;
          if (b < 0x21 || b > 0x7e)
            r.fail('PROTOCOL_BAD_VALUE', field, `byte ${hex2(b)} is not printable ASCII`, i);
        }
        text = String.fromCharCode(...bytes);
      } else {
        try {
          text = utf8Decoder.decode(bytes);
        } catch {
          return r.fail('PROTOCOL_BAD_VALUE', field, 'is not well-formed UTF-8', 0);
        }
        if (CONTROL.test(text)) r.fail('PROTOCOL_BAD_VALUE', field, 'has a control character', 0);
      }
      return text;
    },
  };
}

/**
 * A string of `min` to `max` decimal digits (ICCID, IMSI) packed as BCD, first digit in the high
 * nibble, an odd count padded with `F` in the last low nibble.
 *
 * @example
 * ```ts
 * import { digitsCodec } from './message-tlv.js';
 * digitsCodec(6, 15).encode('46000123', 'imsi'); // Uint8Array [0x46, 0x00, 0x01, 0x23]
 * ```
 */
export function digitsCodec(min: number, max: number): ValueCodec<string> {
  const digits = new RegExp(`^[0-9]{${min},${max}}$`);
  return {
    encode(value, field) {
      if (typeof value !== 'string' || !digits.test(value)) {
        return encodeFail('PROTOCOL_BAD_VALUE', field, `must be ${min}-${max} decimal digits`);
      }
      const out = new Uint8Array(Math.ceil(value.length / 2)).fill(0xff);
      for (let i = 0; i < value.length; i++) {
        const d = value.charCodeAt(i) - 0x30;
        const j = i >> 1;
        out[j] = i % 2 === 0 ? (d << 4) | 0x0f : (out[j]! & 0xf0) | d;
      }
      return out;
    },
    decode(r, field) {
      const bytes = r.bytesView(
        expectLength(r, field, Math.ceil(min / 2), Math.ceil(max / 2)),
        field,
      );
      let text = '';
      for (let i = 0; i < bytes.length; i++) {
        const b = bytes[i]!;
        const hi = b >> 4;
        const lo = b & 0x0f;
        if (hi > 9)
          r.fail('PROTOCOL_BAD_VALUE', field, `nibble ${hi.toString(16)} is not a digit`, i);
        text += String.fromCharCode(0x30 + hi);
        if (lo === 0x0f && i === bytes.length - 1) break;
        if (lo > 9)
          r.fail('PROTOCOL_BAD_VALUE', field, `nibble ${lo.toString(16)} is not a digit`, i);
        text += String.fromCharCode(0x30 + lo);
      }
      if (text.length < min || text.length > max) {
        r.fail(
          'PROTOCOL_BAD_LENGTH',
          field,
          `has ${text.length} digit(s), expected ${min}-${max}`,
          0,
        );
      }
      return text;
    },
  };
}

/**
 * One field of a TLV structure. `required`: must be present, tag sent with the CR bit.
 * `optional`: may be absent, tag sent without the CR bit. `list`: zero or more consecutive
 * occurrences (absent means empty), tag sent with the CR bit.
 *
 * @example
 * ```ts
 * import { bytesCodec, type FieldDef } from './message-tlv.js';
 * const aid: FieldDef<Uint8Array> = { tag: 0x05, presence: 'required', codec: bytesCodec(5, 16) };
 * ```
 */
export type FieldDef<V> = undefined extends V
  ? { tag: number; presence: 'optional'; codec: ValueCodec<Exclude<V, undefined>> }
  : [V] extends [readonly (infer E)[]]
    ? { tag: number; presence: 'list'; codec: ValueCodec<E> }
    : { tag: number; presence: 'required'; codec: ValueCodec<V> };

/**
 * The schema of a TLV structure: one {@link FieldDef} per property of `T`, so the compiler checks
 * that schema and type agree.
 *
 * @example
 * ```ts
 * import { bytesCodec, type StructSchema } from './message-tlv.js';
 * const schema: StructSchema<{ cid: Uint8Array }> = {
 *   cid: { tag: 0x01, presence: 'required', codec: bytesCodec(16, 16) },
 * };
 * ```
 */
export type StructSchema<T> = { [K in keyof T]-?: FieldDef<T[K]> };

interface Field {
  key: string;
  tag: number;
  presence: 'required' | 'optional' | 'list';
  codec: ValueCodec<unknown>;
  tagByte: number;
}

/**
 * A codec for a TLV structure with its field table, usable both as a nested value and as a
 * message body.
 *
 * @example
 * ```ts
 * import { structCodec, bytesCodec } from './message-tlv.js';
 * const s = structCodec<{ cid: Uint8Array }>({ cid: { tag: 0x01, presence: 'required', codec: bytesCodec(16, 16) } });
 * s.encode({ cid: new Uint8Array(16) }, 'card').length; // 18
 * ```
 */
export interface StructCodec<T> extends ValueCodec<T> {
  /**
   * Encode the fields of `value`; properties named in `extra` (e.g. a message's `type`) are
   * allowed and ignored, any other unknown property is an error.
   */
  encodeWith(value: unknown, field: string, extra: ReadonlySet<string>): Uint8Array;
  /** Decode into `into`, so a caller can put its own properties first. */
  decodeInto(r: ByteReader, field: string, into: Record<string, unknown>): T;
  /** The fields in tag order, for documentation and tooling. */
  readonly fields: readonly {
    key: string;
    tag: number;
    presence: 'required' | 'optional' | 'list';
  }[];
}

const NO_EXTRA: ReadonlySet<string> = new Set();

/**
 * Build the codec of a TLV structure from its schema. Encoding writes present fields in ascending
 * tag order; decoding demands that order, rejects duplicates, unknown tags with the CR bit,
 * known tags with the wrong CR bit and missing required fields, and skips unknown tags without
 * the CR bit.
 *
 * @example
 * ```ts
 * import { structCodec, uintCodec } from './message-tlv.js';
 * const s = structCodec<{ size: number; note?: number }>({
 *   size: { tag: 0x09, presence: 'required', codec: uintCodec() },
 *   note: { tag: 0x20, presence: 'optional', codec: uintCodec() },
 * });
 * s.encode({ size: 5 }, 'example'); // Uint8Array [0x89, 0x01, 0x05]
 * ```
 */
export function structCodec<T>(schema: StructSchema<T>): StructCodec<T> {
  const fields: Field[] = [];
  for (const [key, def] of Object.entries(schema) as [string, FieldDef<unknown>][]) {
    const { tag, presence, codec } = def as {
      tag: number;
      presence: Field['presence'];
      codec: ValueCodec<unknown>;
    };
    if (!Number.isInteger(tag) || tag < 0x01 || tag > 0x7e)
      throw new RangeError(`tag ${tag} of ${key} is outside 01-7E`);
    if (fields.some((f) => f.tag === tag)) throw new RangeError(`tag ${tag} is used twice`);
    fields.push({
      key,
      tag,
      presence,
      codec,
      tagByte: presence === 'optional' ? tag : tag | CR_BIT,
    });
  }
  fields.sort((a, b) => a.tag - b.tag);
  const indexByTag = new Array<number | undefined>(0x80);
  fields.forEach((f, i) => (indexByTag[f.tag] = i));
  const keys = new Set(fields.map((f) => f.key));

  function encodeWith(value: unknown, path: string, extra: ReadonlySet<string>): Uint8Array {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return encodeFail('PROTOCOL_BAD_VALUE', path || 'value', 'must be an object');
    }
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (!keys.has(key) && !extra.has(key))
        encodeFail('PROTOCOL_BAD_VALUE', join(path, key), 'is not a field of this structure');
    }
    // Values first, then one buffer of the exact size: no intermediate tag or length arrays.
    const tagBytes: number[] = [];
    const bodies: Uint8Array[] = [];
    let total = 0;
    for (const f of fields) {
      const v = record[f.key];
      const field = join(path, f.key);
      if (f.presence === 'list') {
        if (v === undefined) continue;
        if (!Array.isArray(v)) encodeFail('PROTOCOL_BAD_VALUE', field, 'must be an array');
        for (let i = 0; i < v.length; i++) {
          const item = `${field}[${i}]`;
          const body = f.codec.encode(v[i], item);
          total += 1 + lengthSize(body.length, item) + body.length;
          tagBytes.push(f.tagByte);
          bodies.push(body);
        }
      } else if (v === undefined) {
        if (f.presence === 'required') encodeFail('PROTOCOL_MISSING_FIELD', field, 'is required');
      } else {
        const body = f.codec.encode(v, field);
        total += 1 + lengthSize(body.length, field) + body.length;
        tagBytes.push(f.tagByte);
        bodies.push(body);
      }
    }
    const out = new Uint8Array(total);
    let off = 0;
    for (let i = 0; i < bodies.length; i++) {
      const body = bodies[i]!;
      out[off++] = tagBytes[i]!;
      off = writeTlvLength(out, off, body.length);
      // A byte loop beats TypedArray.set for the short values that make up most fields.
      if (body.length < 64) for (let j = 0; j < body.length; j++) out[off + j] = body[j]!;
      else out.set(body, off);
      off += body.length;
    }
    return out;
  }

  function decodeInto(r: ByteReader, path: string, into: Record<string, unknown>): T {
    // Values are collected by field index and assigned in tag order at the end, so a decoded
    // value always has its properties in the documented order.
    const values: unknown[] = new Array(fields.length);
    let lastTag = 0;
    while (r.remaining > 0) {
      const tagAt = r.offset;
      const tagByte = r.u8('tag'); // cannot fail: remaining > 0
      const tag = tagByte & 0x7f;
      if (tag === 0x00 || tag === 0x7f) {
        r.fail(
          'PROTOCOL_UNKNOWN_TAG',
          join(path, 'tag'),
          `tag byte ${hex2(tagByte)} is reserved`,
          tagAt,
        );
      }
      const index = indexByTag[tag] ?? -1;
      const f = fields[index];
      const field = f ? join(path, f.key) : join(path, `tag_${hex2(tag)}`);
      if (tag < lastTag) {
        r.fail(
          'PROTOCOL_BAD_VALUE',
          field,
          `tag ${hex2(tag)} after tag ${hex2(lastTag)}: fields must be in ascending tag order`,
          tagAt,
        );
      }
      if (f && f.tagByte !== tagByte) {
        r.fail(
          'PROTOCOL_BAD_VALUE',
          field,
          `tag byte must be ${hex2(f.tagByte)}, got ${hex2(tagByte)} (comprehension-required bit)`,
          tagAt,
        );
      }
      if (!f && tagByte & CR_BIT)
        r.fail('PROTOCOL_UNKNOWN_TAG', field, 'unknown tag marked comprehension required', tagAt);
      if (f && f.presence !== 'list' && values[index] !== undefined)
        r.fail('PROTOCOL_BAD_VALUE', field, 'field appears twice', tagAt);
      lastTag = tag;
      const len = readTlvLength(r, field);
      const valueAt = r.offset;
      const view = r.bytesView(len, field);
      if (!f) continue;
      const sub = new ByteReader(view, r.structure, 0, r.base + valueAt);
      if (f.presence === 'list') {
        const list = (values[index] ??= []) as unknown[];
        list.push(f.codec.decode(sub, `${field}[${list.length}]`));
      } else {
        values[index] = f.codec.decode(sub, field);
      }
      // Every codec reads its value in full; a shorter read would be a codec bug, not bad input.
      if (sub.remaining !== 0) sub.fail('PROTOCOL_BAD_LENGTH', field, 'value not fully consumed');
    }
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      const v = values[i];
      if (v !== undefined) into[f.key] = v;
      else if (f.presence === 'list') into[f.key] = [];
      else if (f.presence === 'required') {
        r.fail(
          'PROTOCOL_MISSING_FIELD',
          join(path, f.key),
          `required field (tag ${hex2(f.tag)}) is absent`,
        );
      }
    }
    return into as T;
  }

  return {
    fields: fields.map(({ key, tag, presence }) => ({ key, tag, presence })),
    encodeWith,
    decodeInto,
    encode: (value, field) => encodeWith(value, field, NO_EXTRA),
    decode: (r, field) => decodeInto(r, field, {}),
  };
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}
