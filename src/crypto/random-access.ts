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
const NO_BYTES = new Uint8Array(0);

/** One chunk of a range: its sealed bytes and the part `[from, to)` of its plaintext in range. */
interface ChunkSpan {
  index: number;
  sealed: Uint8Array;
  from: number;
  to: number;
  /** Where that part starts in the range. */
  at: number;
}

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
  /**
   * Read `length` bytes at `offset`; must return exactly that many. When `scratch` is given and
   * long enough, a source may read into it and return a view of it: the caller is done with those
   * bytes once the call it passed `scratch` to has settled, and then writes over them.
   */
  read(offset: number, length: number, scratch?: Uint8Array): Uint8Array | Promise<Uint8Array>;
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
    const spans = await this.spans(start, end);
    // Filled exactly by the chunks of its range, or dropped when one fails (no zero fill).
    const out = uninitializedBytes(end - start);
    const batch = new ChunkBatch();
    // Chunks wholly inside the range open straight into their place; the partial ones at either
    // end through a chunk-sized buffer each, copied once they have authenticated.
    const edges: { span: ChunkSpan; plain: Uint8Array }[] = [];
    for (const span of spans) {
      const length = span.sealed.length - 16;
      let target: Uint8Array;
      if (span.from === 0 && span.to === length) {
        target = out.subarray(span.at, span.at + length);
      } else {
        target = new Uint8Array(length);
        edges.push({ span, plain: target });
      }
      const wait = batch.add(this.cipher.openInto(span.index, span.sealed, target));
      if (wait) await wait;
    }
    await batch.settle();
    for (const { span, plain } of edges) out.set(plain.subarray(span.from, span.to), span.at);
    return out;
  }

  /**
   * @internal Plaintext bytes `[start, end)` as one buffer per chunk: the backend's own, handed
   * on without a copy (the first and last are copies of the part in range, if partial). The
   * ciphertext is read in one read, into `scratch` when the source can: a stream re-uses
   * `scratch` for its next window once this call has settled. Empty chunks are left out.
   */
  async readChunks(start: number, end: number, scratch?: Uint8Array): Promise<Uint8Array[]> {
    const spans = await this.spans(start, end, scratch);
    const out: Uint8Array[] = [];
    const batch = new ChunkBatch();
    for (const { index, sealed, from, to } of spans) {
      const slot = out.push(NO_BYTES) - 1;
      // A chunk the range covers only in part is copied: a view would hand the consumer the
      // rest of the chunk's plaintext through its `buffer`.
      const keep = (plain: Uint8Array) => {
        out[slot] = from === 0 && to === plain.length ? plain : plain.slice(from, to);
      };
      const plain = this.cipher.open(index, sealed);
      if (plain instanceof Promise) {
        const wait = batch.add(plain.then(keep));
        if (wait) await wait;
      } else keep(plain);
    }
    await batch.settle();
    return out.filter((p) => p.length > 0);
  }

  /**
   * The sealed chunks `[start, end)` lies in, from one read of the source, each with the part of
   * its plaintext in range. A range that reaches the end of the message also takes the final
   * chunk (which may be empty), so the message length is never taken on trust.
   */
  private async spans(start: number, end: number, scratch?: Uint8Array): Promise<ChunkSpan[]> {
    const { first, last } = this.chunksOf(start, end);
    if (start === end && end !== this.length) return [];
    const sealed = await this.readSealed(first, last, scratch);
    const spans: ChunkSpan[] = [];
    for (let index = first; index <= last; index++) {
      const at = (index - first) * SEALED_CHUNK;
      const chunk = sealed.subarray(at, Math.min(sealed.length, at + SEALED_CHUNK));
      const base = index * CHUNK_SIZE;
      const from = Math.max(0, start - base);
      const to = Math.max(from, Math.min(chunk.length - 16, end - base));
      spans.push({ index, sealed: chunk, from, to, at: base + from - start });
    }
    return spans;
  }

  /** The first and last chunk a range lies in (the final chunk when it reaches the end). */
  private chunksOf(start: number, end: number): { first: number; last: number } {
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
    const first = Math.floor(start / CHUNK_SIZE);
    const last = end === this.length ? this.lastChunk : Math.floor((end - 1) / CHUNK_SIZE);
    return { first, last };
  }

  /** The sealed chunks `first..last`, in one read of the source. */
  private readSealed(first: number, last: number, scratch?: Uint8Array): Promise<Uint8Array> {
    const sealedEnd =
      last === this.lastChunk ? this.source.size : HEADER_LENGTH + (last + 1) * SEALED_CHUNK;
    const sealedStart = HEADER_LENGTH + first * SEALED_CHUNK;
    return readExact(this.source, sealedStart, sealedEnd - sealedStart, scratch);
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
  scratch?: Uint8Array,
): Promise<Uint8Array> {
  const bytes = await source.read(offset, length, scratch);
  if (bytes.length !== length) {
    throw new CryptoError(
      'CRYPTO_TRUNCATED',
      `source returned ${bytes.length} of ${length} bytes at offset ${offset}`,
    );
  }
  return bytes;
}
