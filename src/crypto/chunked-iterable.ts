/**
 * Async-iterable adapters over the chunked-encryption push core, beside the WHATWG streams: for
 * `for await` loops and Node streams (a `fs.ReadStream` is an async iterable of its pieces, and
 * `stream.pipeline` takes a generator). An iteration step costs far less than a web-stream
 * enqueue, so these keep closer to the raw AEAD (see `docs/encryption.md`, Performance).
 *
 * @module
 */
import { ArgumentError, abortError } from '../errors.js';
import {
  ChunkDecryptor,
  ChunkEncryptor,
  type ChunkedOptions,
  type EncryptOptions,
} from './chunked.js';
import { checkChunk, PART_PLAIN, sealPiece, type StreamOptions } from './chunked-stream.js';

// Pieces of bytes, delivered synchronously or not.
type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

function checkSource(source: unknown): ByteSource {
  const s = source as { [Symbol.asyncIterator]?: unknown; [Symbol.iterator]?: unknown } | null;
  if (
    s === null ||
    typeof s !== 'object' ||
    (typeof s[Symbol.asyncIterator] !== 'function' && typeof s[Symbol.iterator] !== 'function')
  )
    throw new ArgumentError('the source must be an iterable or async iterable of Uint8Array');
  // A lone Uint8Array is iterable too, but of numbers: almost surely a mistake.
  if (source instanceof Uint8Array)
    throw new ArgumentError(
      'the source must yield Uint8Array pieces, not be one (wrap it: [bytes])',
    );
  return source as ByteSource;
}

/**
 * Encrypt the pieces of `source` into a chunked-encryption ciphertext: the header first, then for
 * each piece the chunks it completed (one `Uint8Array` per 256 KiB of it), then the final chunk.
 * Memory stays at one chunk of state plus the piece in hand. Key derivation starts at once; its
 * errors, like a piece that is not a `Uint8Array` (`INVALID_ARGUMENT`) or an aborted `signal`
 * (`ABORTED`, checked between pieces), surface from the iteration. Whenever the iteration ends
 * before the source does (an error, or a consumer that stops), the source is closed (`return()`).
 *
 * @param inputKey - `suite.keyLength` uniformly random bytes
 * @param source - the plaintext, in pieces of any size (large pieces, such as 1 MiB, are fastest)
 * @param options - suite, backend, context, and a `signal` that stops the iteration
 *
 * @example
 * ```ts
 * import { decryptIterable, encryptIterable } from 'simvault/crypto';
 * const key = new Uint8Array(32);
 * const sealed = encryptIterable(key, [new TextEncoder().encode('hello')]);
 * for await (const plain of decryptIterable(key, sealed)) console.log(plain.length); // 5
 * ```
 */
export function encryptIterable(
  inputKey: Uint8Array,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: EncryptOptions & StreamOptions = {},
): AsyncGenerator<Uint8Array, void, undefined> {
  const pieces = checkSource(source);
  const started = ChunkEncryptor.create(inputKey, options);
  // Reported by the iteration; never an unhandled rejection when nobody iterates.
  started.catch(() => undefined);
  return encrypting(started, pieces, options.signal);
}

async function* encrypting(
  started: Promise<ChunkEncryptor>,
  source: ByteSource,
  signal: AbortSignal | undefined,
): AsyncGenerator<Uint8Array, void, undefined> {
  // Iterated by hand, not with for-await: the source must also be closed (a file stream's fd)
  // when the key fails, the signal fires or the consumer stops before the first piece or after
  // the last, which a for-await loop that never started or already ended would not do.
  const pieces: Iterator<Uint8Array> | AsyncIterator<Uint8Array> =
    Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
  let ended = false;
  try {
    const enc = await started;
    if (signal?.aborted) throw abortError(signal);
    yield enc.header;
    for (;;) {
      const step = await pieces.next();
      if (step.done) break;
      const data = checkChunk(step.value, signal);
      for (let off = 0; off < data.length; off += PART_PLAIN) {
        const out = await sealPiece(enc, data.subarray(off, off + PART_PLAIN));
        if (out.length) yield out;
      }
    }
    ended = true;
    if (signal?.aborted) throw abortError(signal);
    yield await enc.final();
  } finally {
    if (!ended) await closeQuietly(pieces);
  }
}

// The error (or early stop) that got us here is what the caller sees, not the source's on close.
async function closeQuietly(it: Iterator<Uint8Array> | AsyncIterator<Uint8Array>): Promise<void> {
  try {
    await it.return?.();
  } catch {
    // ignored: see above
  }
}

/**
 * Decrypt a chunked-encryption ciphertext arriving as the pieces of `source`. For each piece it
 * yields the plaintext of the chunks that piece completed, all of them authenticated, one
 * `Uint8Array` per 16 KiB chunk (yours to keep), then the final chunk's plaintext if not empty. It
 * throws (typed) on the first bad chunk, on a truncated end, or on a wrong key or context (before
 * any chunk); a wrong-length key throws at once.
 *
 * @param inputKey - the input key used to encrypt
 * @param source - the ciphertext, in pieces of any size (large pieces, such as 1 MiB, are fastest)
 * @param options - the suite and context used to encrypt, a backend, and a `signal` that stops
 *   the iteration (`ABORTED`, checked between pieces)
 *
 * @example
 * ```ts
 * import { decryptIterable, encrypt } from 'simvault/crypto';
 * const key = new Uint8Array(32);
 * const sealed = await encrypt(key, new TextEncoder().encode('hi'));
 * for await (const plain of decryptIterable(key, [sealed])) console.log(plain); // Uint8Array [104, 105]
 * ```
 */
export function decryptIterable(
  inputKey: Uint8Array,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: ChunkedOptions & StreamOptions = {},
): AsyncGenerator<Uint8Array, void, undefined> {
  const pieces = checkSource(source);
  return decrypting(ChunkDecryptor.create(inputKey, options), pieces, options.signal);
}

async function* decrypting(
  dec: ChunkDecryptor,
  source: ByteSource,
  signal: AbortSignal | undefined,
): AsyncGenerator<Uint8Array, void, undefined> {
  for await (const piece of source) {
    for (const plain of await dec.updateChunks(checkChunk(piece, signal))) yield plain;
  }
  if (signal?.aborted) throw abortError(signal);
  const last = await dec.final();
  if (last.length) yield last;
}
