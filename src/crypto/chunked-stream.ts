/**
 * WHATWG `TransformStream` adapters over the chunked-encryption push core. Memory stays at one
 * chunk of state plus what the stream queues, whatever the message size; an `AbortSignal` stops
 * either direction with an `ABORTED` error.
 *
 * @module
 */
import { assertBytes } from '../bytes.js';
import { abortError } from '../errors.js';
import { uninitializedBytes } from './alloc.js';
import {
  CHUNK_SIZE,
  ChunkDecryptor,
  ChunkEncryptor,
  type ChunkedOptions,
  type EncryptOptions,
} from './chunked.js';

/**
 * Options of the stream adapters.
 *
 * @example
 * ```ts
 * import type { StreamOptions } from 'simvault/crypto';
 * const opts: StreamOptions = { signal: AbortSignal.timeout(60_000) };
 * ```
 */
export interface StreamOptions {
  /** Cancels the stream: it errors with code `ABORTED`. */
  signal?: AbortSignal;
}

function watch(
  signal: AbortSignal | undefined,
  controller: TransformStreamDefaultController<Uint8Array>,
): void {
  if (!signal) return;
  // Erroring (not throwing) keeps the stream constructible and reports ABORTED to its reader.
  if (signal.aborted) {
    controller.error(abortError(signal));
    return;
  }
  signal.addEventListener(
    'abort',
    () => {
      controller.error(abortError(signal));
    },
    { once: true },
  );
}

/**
 * The sealed chunks `data` completes, as one buffer (possibly empty). Streams emit one buffer per
 * part of a piece: each enqueue costs the stream machinery more than sealing a few kilobytes. The buffer is
 * allocated without a zero fill: `updateInto` writes all of it, or fails and it is dropped.
 */
export async function sealPiece(enc: ChunkEncryptor, data: Uint8Array): Promise<Uint8Array> {
  const out = uninitializedBytes(enc.sealedLength(data.length));
  await enc.updateInto(data, out);
  return out;
}

/** The plaintext of the chunks `data` completes and authenticates, as one buffer. */
export async function openPiece(dec: ChunkDecryptor, data: Uint8Array): Promise<Uint8Array> {
  const out = uninitializedBytes(dec.openedLength(data.length));
  await dec.updateInto(data, out);
  return out;
}

// A piece written to a stream comes out in parts of at most this many chunks (256 KiB). One
// buffer per 1 MiB piece is fresh memory the allocator maps in and unmaps again, page by page, at
// a cost near a fifth of sealing it with AES-GCM on native code (measured on Linux/glibc); buffers
// of this size are recycled from the heap, and three more enqueues per MiB cost far less.
const PART_CHUNKS = 16;
/** @internal Plaintext bytes per buffer the encrypting adapters emit. */
export const PART_PLAIN = PART_CHUNKS * CHUNK_SIZE;

/** @internal A piece handed to an adapter: bytes, and the adapter not aborted. */
export function checkChunk(chunk: unknown, signal: AbortSignal | undefined): Uint8Array {
  if (signal?.aborted) throw abortError(signal);
  assertBytes(chunk, 'stream chunk');
  return chunk;
}

/**
 * A stream that encrypts plaintext bytes into a chunked-encryption ciphertext (header first). For
 * each piece written it emits the chunks that piece completed, one `Uint8Array` per 256 KiB of it.
 *
 * @example
 * ```ts
 * import { createEncryptStream } from 'simvault/crypto';
 * const key = crypto.getRandomValues(new Uint8Array(32));
 * const source = new Blob(['hello']).stream();
 * const ciphertext = source.pipeThrough(createEncryptStream(key));
 * ```
 */
export function createEncryptStream(
  inputKey: Uint8Array,
  options: EncryptOptions & StreamOptions = {},
): TransformStream<Uint8Array, Uint8Array> {
  let enc: ChunkEncryptor;
  const { signal } = options;
  return new TransformStream<Uint8Array, Uint8Array>({
    async start(controller) {
      watch(signal, controller);
      if (signal?.aborted) return;
      enc = await ChunkEncryptor.create(inputKey, options);
      controller.enqueue(enc.header);
    },
    async transform(chunk, controller) {
      const data = checkChunk(chunk, signal);
      for (let off = 0; off < data.length; off += PART_PLAIN) {
        const out = await sealPiece(enc, data.subarray(off, off + PART_PLAIN));
        if (out.length) controller.enqueue(out);
      }
    },
    async flush(controller) {
      if (signal?.aborted) throw abortError(signal);
      controller.enqueue(await enc.final());
    },
  });
}

/**
 * A stream that decrypts a chunked-encryption ciphertext. For each piece written it releases the
 * plaintext of the chunks that piece completed, all of them authenticated, and it errors (typed)
 * on the first bad chunk, on a truncated end, or on a wrong key or context (before any chunk).
 *
 * @example
 * ```ts
 * import { createDecryptStream, createEncryptStream } from 'simvault/crypto';
 * const key = new Uint8Array(32);
 * const roundTrip = new Blob(['hi']).stream()
 *   .pipeThrough(createEncryptStream(key))
 *   .pipeThrough(createDecryptStream(key));
 * ```
 */
export function createDecryptStream(
  inputKey: Uint8Array,
  options: ChunkedOptions & StreamOptions = {},
): TransformStream<Uint8Array, Uint8Array> {
  const dec = ChunkDecryptor.create(inputKey, options);
  const { signal } = options;
  return new TransformStream<Uint8Array, Uint8Array>({
    start(controller) {
      watch(signal, controller);
    },
    async transform(chunk, controller) {
      // Each chunk's plaintext is enqueued in the buffer the backend opened it into: copying
      // them into one buffer per part cost more than the enqueues it saved.
      for (const plain of await dec.updateChunks(checkChunk(chunk, signal))) {
        controller.enqueue(plain);
      }
    },
    async flush(controller) {
      if (signal?.aborted) throw abortError(signal);
      controller.enqueue(await dec.final());
    },
  });
}
