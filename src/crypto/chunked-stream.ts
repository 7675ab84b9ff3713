/**
 * WHATWG `TransformStream` adapters over the chunked-encryption push core. Memory stays at one
 * chunk of state plus what the stream queues, whatever the message size; an `AbortSignal` stops
 * either direction with an `ABORTED` error.
 *
 * @module
 */
import { assertBytes } from '../bytes.js';
import { abortError } from '../errors.js';
import {
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

function checkChunk(chunk: unknown, signal: AbortSignal | undefined): Uint8Array {
  if (signal?.aborted) throw abortError(signal);
  assertBytes(chunk, 'stream chunk');
  return chunk;
}

/**
 * A stream that encrypts plaintext bytes into a chunked-encryption ciphertext (header first).
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
      for (const c of await enc.update(checkChunk(chunk, signal))) controller.enqueue(c);
    },
    async flush(controller) {
      if (signal?.aborted) throw abortError(signal);
      controller.enqueue(await enc.final());
    },
  });
}

/**
 * A stream that decrypts a chunked-encryption ciphertext. It releases plaintext one
 * authenticated chunk at a time and errors (typed) on the first bad chunk, on a truncated end, or
 * on a wrong key or context (before any chunk).
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
      for (const p of await dec.update(checkChunk(chunk, signal))) controller.enqueue(p);
    },
    async flush(controller) {
      if (signal?.aborted) throw abortError(signal);
      controller.enqueue(await dec.final());
    },
  });
}
