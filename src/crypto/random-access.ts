/**
 * Random-access decryption: read any byte range of a chunked-encryption message while touching
 * only the chunks that hold it. The commitment is checked when the reader opens, before any chunk
 * is decrypted.
 *
 * @module
 */
import { ArgumentError, CryptoError } from '../errors.js';
import {
  CHUNK_SIZE,
  ChunkBatch,
  HEADER_LENGTH,
  SALT_LENGTH,
  openMessageCipher,
  plaintextLength,
  type ChunkedOptions,
  type MessageCipher,
} from './chunked.js';
import { uninitializedBytes } from './alloc.js';

const SEALED_CHUNK = CHUNK_SIZE + 16;

/**
 * Where a ciphertext lives: a size and positional reads (a file, a zone on a card, a buffer).
 *
 * @example
 * ```ts
 * import type { RandomAccessSource } from 'simvault/crypto';
 * const bytes = new Uint8Array(100);
 * const source: RandomAccessSource = { size: bytes.length, read: (off, len) => bytes.subarray(off, off + len) };
 * ```
 */
export interface RandomAccessSource {
  /** Total ciphertext bytes. */
  readonly size: number;
  /** Read `length` bytes at `offset`; must return exactly that many. */
  read(offset: number, length: number): Uint8Array | Promise<Uint8Array>;
}

/**
 * A source over bytes in memory.
 *
 * @example
 * ```ts
 * import { bytesSource } from 'simvault/crypto';
 * const source = bytesSource(new Uint8Array(72));
 * ```
 */
export function bytesSource(bytes: Uint8Array): RandomAccessSource {
  return { size: bytes.length, read: (offset, length) => bytes.subarray(offset, offset + length) };
}

/**
 * Decrypts byte ranges of one message.
 *
 * @example
 * ```ts
 * import { encrypt, RandomAccessDecryptor, bytesSource } from 'simvault/crypto';
 * const key = new Uint8Array(32);
 * const ct = await encrypt(key, new Uint8Array(100_000).fill(7));
 * const reader = await RandomAccessDecryptor.open(key, bytesSource(ct));
 * const slice = await reader.read(50_000, 50_010); // 10 bytes, from one chunk
 * ```
 */
export class RandomAccessDecryptor {
  /**
   * The plaintext length implied by the ciphertext length. It is authenticated only once the
   * final chunk has been decrypted ({@link RandomAccessDecryptor.verifyLength}).
   */
  readonly length: number;
  private readonly cipher: MessageCipher;
  private readonly source: RandomAccessSource;
  private readonly lastChunk: number;

  private constructor(cipher: MessageCipher, source: RandomAccessSource, length: number) {
    this.cipher = cipher;
    this.source = source;
    this.length = length;
    this.lastChunk = Math.floor(length / CHUNK_SIZE);
  }

  /**
   * Read the header, check the commitment and the ciphertext length's structure.
   *
   * @param inputKey - the input key
   * @param source - the ciphertext
   * @param options - suite, context and backend used to encrypt
   */
  static async open(
    inputKey: Uint8Array,
    source: RandomAccessSource,
    options: ChunkedOptions = {},
  ): Promise<RandomAccessDecryptor> {
    if (source.size < HEADER_LENGTH) {
      throw new CryptoError(
        'CRYPTO_TRUNCATED',
        `ciphertext of ${source.size} bytes ends inside the header`,
      );
    }
    const header = await readExact(source, 0, HEADER_LENGTH);
    const { cipher } = await openMessageCipher(
      inputKey,
      header.slice(0, SALT_LENGTH),
      options,
      header.subarray(SALT_LENGTH, HEADER_LENGTH),
    );
    return new RandomAccessDecryptor(cipher, source, plaintextLength(source.size));
  }

  /** Number of chunks in the message. */
  get chunkCount(): number {
    return this.lastChunk + 1;
  }

  /** Decrypt and authenticate chunk `index` alone. */
  async readChunk(index: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(index) || index < 0 || index > this.lastChunk) {
      throw new ArgumentError(`chunk index ${index} outside 0..${this.lastChunk}`);
    }
    const size = index === this.lastChunk ? (this.length % CHUNK_SIZE) + 16 : SEALED_CHUNK;
    const sealed = await readExact(this.source, HEADER_LENGTH + index * SEALED_CHUNK, size);
    return this.cipher.open(index, sealed);
  }

  /**
   * Plaintext bytes `[start, end)`; decrypts only the chunks they lie in (plus the final chunk
   * when the range reaches the end of the message).
   *
   * @param start - first byte (default 0)
   * @param end - one past the last byte (default the message length)
   */
  async read(start = 0, end = this.length): Promise<Uint8Array> {
    return (await this.decryptRange(start, end, 0))[0]!;
  }

  /**
   * @internal Plaintext bytes `[start, end)` as consecutive buffers split at multiples of `part`
   * bytes (a multiple of {@link CHUNK_SIZE}), from one read of the source: a stream hands them
   * on one by one. Fresh buffers of a few hundred KiB are recycled by the allocator; one of
   * 1 MiB is mapped in page by page each time.
   */
  async readParts(start: number, end: number, part: number): Promise<Uint8Array[]> {
    if (!Number.isSafeInteger(part) || part <= 0 || part % CHUNK_SIZE !== 0)
      throw new ArgumentError(`part size must be a positive multiple of ${CHUNK_SIZE}`);
    return this.decryptRange(start, end, part);
  }

  // `part` 0: the whole range in one buffer.
  private async decryptRange(start: number, end: number, part: number): Promise<Uint8Array[]> {
    if (
      !Number.isSafeInteger(start) ||
      !Number.isSafeInteger(end) ||
      start < 0 ||
      end < start ||
      end > this.length
    ) {
      throw new ArgumentError(
        `range [${start}, ${end}) is outside the message of ${this.length} bytes`,
      );
    }
    // Each filled exactly by the chunks of its range, or dropped when one fails (no zero fill).
    // Split at chunk boundaries, so the bytes any one chunk gives lie in one buffer.
    const parts: Uint8Array[] = [];
    const partStarts: number[] = [];
    for (let p = start; p < end || parts.length === 0;) {
      const q = part ? Math.min(end, (Math.floor(p / part) + 1) * part) : end;
      parts.push(uninitializedBytes(q - p));
      partStarts.push(p);
      p = q;
    }
    // A read that reaches the end of the message also authenticates the final chunk (which may
    // be empty), so the message length is never taken on trust.
    const toEnd = end === this.length;
    if (start === end && !toEnd) return parts;
    const first = Math.floor(start / CHUNK_SIZE);
    const last = toEnd ? this.lastChunk : Math.floor((end - 1) / CHUNK_SIZE);
    // One read of the sealed chunks the range needs, then one AEAD open per chunk.
    const sealedEnd =
      last === this.lastChunk ? this.source.size : HEADER_LENGTH + (last + 1) * SEALED_CHUNK;
    const sealedStart = HEADER_LENGTH + first * SEALED_CHUNK;
    const sealed = await readExact(this.source, sealedStart, sealedEnd - sealedStart);
    const batch = new ChunkBatch();
    // Chunks wholly inside the range open straight into their buffer; the partial ones at either
    // end through a chunk-sized buffer each, copied once they have authenticated.
    const edges: { out: Uint8Array; at: number; from: number; to: number; plain: Uint8Array }[] =
      [];
    let k = 0;
    for (let i = first; i <= last; i++) {
      const at = (i - first) * SEALED_CHUNK;
      const chunk = sealed.subarray(at, Math.min(sealed.length, at + SEALED_CHUNK));
      const base = i * CHUNK_SIZE;
      const from = Math.max(0, start - base);
      const to = Math.min(chunk.length - 16, end - base);
      const pos = base + from;
      while (k < parts.length - 1 && partStarts[k + 1]! <= pos) k++;
      const out = parts[k]!;
      const offset = pos - partStarts[k]!;
      let target: Uint8Array;
      if (from === 0 && to === chunk.length - 16) {
        target = out.subarray(offset, offset + to);
      } else {
        target = new Uint8Array(chunk.length - 16);
        edges.push({ out, at: offset, from, to: Math.max(from, to), plain: target });
      }
      const wait = batch.add(this.cipher.openInto(i, chunk, target));
      if (wait) await wait;
    }
    await batch.settle();
    for (const e of edges) e.out.set(e.plain.subarray(e.from, e.to), e.at);
    return parts;
  }

  /**
   * Authenticate the message length by decrypting the final chunk; needed before trusting
   * {@link RandomAccessDecryptor.length} for seeks relative to the end.
   */
  async verifyLength(): Promise<number> {
    await this.readChunk(this.lastChunk);
    return this.length;
  }
}

async function readExact(
  source: RandomAccessSource,
  offset: number,
  length: number,
): Promise<Uint8Array> {
  const bytes = await source.read(offset, length);
  if (bytes.length !== length) {
    throw new CryptoError(
      'CRYPTO_TRUNCATED',
      `source returned ${bytes.length} of ${length} bytes at offset ${offset}`,
    );
  }
  return bytes;
}
