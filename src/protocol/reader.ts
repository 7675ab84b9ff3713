/**
 * Bounds-checked cursor over input bytes, shared by every decoder: each read either returns a
 * value or throws a {@link ProtocolError} naming the structure, the field and the offset. A
 * length read from the input is always checked against the bytes actually present before
 * anything is allocated, so no field can make a decoder allocate more than its input.
 *
 * @module
 */
import { ProtocolError } from '../errors.js';

/**
 * Reads fields from a byte array, remembering the structure name for its errors.
 *
 * @example
 * ```ts
 * import { ByteReader } from 'simvault/protocol';
 * const r = new ByteReader(new Uint8Array([1, 0, 2]), 'Example');
 * r.u8('tag'); r.u16('value'); r.end();
 * ```
 */
export class ByteReader {
  /** Current offset into {@link ByteReader.bytes}. */
  offset: number;

  /**
   * Create a reader over `bytes`, positioned at `offset`.
   *
   * @param bytes - the input
   * @param structure - name used in errors
   * @param offset - where to start reading
   * @param base - added to offsets in errors, for a reader over a slice of a larger input
   */
  constructor(
    readonly bytes: Uint8Array,
    readonly structure: string,
    offset = 0,
    readonly base = 0,
  ) {
    this.offset = offset;
  }

  /** Bytes left to read. */
  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  /** Throw a {@link ProtocolError} at the current offset (or the one given). */
  fail(
    code: ConstructorParameters<typeof ProtocolError>[0],
    field: string,
    detail: string,
    at = this.offset,
  ): never {
    throw new ProtocolError(code, this.structure, field, this.base + at, detail);
  }

  /** Make sure `n` more bytes are present. */
  need(n: number, field: string): void {
    if (n > this.remaining) {
      this.fail('PROTOCOL_TRUNCATED', field, `needs ${n} byte(s), ${this.remaining} left`);
    }
  }

  /** One unsigned byte. */
  u8(field: string): number {
    this.need(1, field);
    return this.bytes[this.offset++]!;
  }

  /** Big-endian unsigned 16-bit. */
  u16(field: string): number {
    this.need(2, field);
    const v = (this.bytes[this.offset]! << 8) | this.bytes[this.offset + 1]!;
    this.offset += 2;
    return v;
  }

  /** Big-endian unsigned 24-bit. */
  u24(field: string): number {
    this.need(3, field);
    const b = this.bytes;
    const o = this.offset;
    this.offset += 3;
    return (b[o]! << 16) | (b[o + 1]! << 8) | b[o + 2]!;
  }

  /** Big-endian unsigned 32-bit. */
  u32(field: string): number {
    this.need(4, field);
    const b = this.bytes;
    const o = this.offset;
    this.offset += 4;
    return ((b[o]! << 24) >>> 0) + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
  }

  /** `n` bytes as a view into the input (no copy). */
  bytesView(n: number, field: string): Uint8Array {
    this.need(n, field);
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  /** `n` bytes as a fresh copy. */
  take(n: number, field: string): Uint8Array {
    return this.bytesView(n, field).slice();
  }

  /** Everything left, as a copy. */
  rest(): Uint8Array {
    const out = this.bytes.slice(this.offset);
    this.offset = this.bytes.length;
    return out;
  }

  /** Assert the input is fully consumed. */
  end(): void {
    if (this.remaining !== 0) {
      this.fail(
        'PROTOCOL_TRAILING_BYTES',
        'end',
        `${this.remaining} byte(s) after the end of the structure`,
      );
    }
  }
}

/**
 * Appends fields to a growing byte buffer.
 *
 * @example
 * ```ts
 * import { ByteWriter } from 'simvault/protocol';
 * const w = new ByteWriter();
 * w.u8(1).u16(2);
 * w.finish(); // Uint8Array [1, 0, 2]
 * ```
 */
export class ByteWriter {
  private buf = new Uint8Array(64);
  private len = 0;

  private grow(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.len;
  }

  /** Append one byte (masked to 8 bits). */
  u8(v: number): this {
    this.grow(1);
    this.buf[this.len++] = v & 0xff;
    return this;
  }

  /** Append a big-endian 16-bit value. */
  u16(v: number): this {
    return this.u8(v >>> 8).u8(v);
  }

  /** Append a big-endian 24-bit value. */
  u24(v: number): this {
    return this.u8(v >>> 16)
      .u8(v >>> 8)
      .u8(v);
  }

  /** Append a big-endian 32-bit value. */
  u32(v: number): this {
    return this.u8(v >>> 24)
      .u8(v >>> 16)
      .u8(v >>> 8)
      .u8(v);
  }

  /** Append bytes. */
  bytes(b: Uint8Array): this {
    this.grow(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  /** The bytes written, as a new array of exact length. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}
