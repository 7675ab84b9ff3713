/**
 * The simvault envelope: a self-describing file around a chunked-encryption ciphertext, for data
 * at rest outside a card (the `simvault encrypt` format). An 8-byte header records what a reader
 * must know — the suite and whether the plaintext was compressed — and is bound into the
 * encryption context, so changing it fails the key commitment.
 *
 * ```
 * 73 76 6c 74 ("svlt") | version 01 | suite id | flags (bit 0: deflate) | 00 | chunked ciphertext
 * ```
 *
 * @module
 */
import { Deflate, Inflate, deflateSync, inflateSync } from 'fflate';
import { assertBytes, concatBytes, utf8 } from '../bytes.js';
import { abortError, CryptoError } from '../errors.js';
import type { BackendChoice } from './backend.js';
import {
  ChunkDecryptor,
  ChunkEncryptor,
  decrypt,
  encrypt,
  type EncryptOptions,
} from './chunked.js';
import { openPiece, sealPiece, type StreamOptions } from './chunked-stream.js';
import { KEY_LENGTH, deriveKey } from './keys.js';
import { DEFAULT_SUITE, getSuite, suiteById, type Suite, type SuiteName } from './suites.js';

/**
 * Bytes in an envelope header.
 *
 * @example
 * ```ts
 * import { ENVELOPE_HEADER_LENGTH } from 'simvault/crypto';
 * ENVELOPE_HEADER_LENGTH; // 8
 * ```
 */
export const ENVELOPE_HEADER_LENGTH = 8;
const MAGIC = [0x73, 0x76, 0x6c, 0x74];
const VERSION = 1;
const FLAG_DEFLATE = 1;

/**
 * What an envelope header says.
 *
 * @example
 * ```ts
 * import { parseEnvelopeHeader } from 'simvault/crypto';
 * const info = parseEnvelopeHeader(new Uint8Array([0x73, 0x76, 0x6c, 0x74, 1, 1, 0, 0]));
 * info.suite; // 'cobblestone-256'
 * ```
 */
export interface EnvelopeInfo {
  /** Format version (1). */
  version: number;
  /** The suite of the ciphertext. */
  suite: SuiteName;
  /** Whether the plaintext was deflate-compressed before encryption. */
  compressed: boolean;
}

/**
 * Options to seal an envelope.
 *
 * @example
 * ```ts
 * import type { SealOptions } from 'simvault/crypto';
 * const opts: SealOptions = { suite: 'cobblestone-chacha20poly1305', compress: true };
 * ```
 */
export interface SealOptions {
  /** Suite (default `cobblestone-256`). */
  suite?: SuiteName;
  /** Deflate the plaintext before encrypting (default off). */
  compress?: boolean;
  /** Cipher backend (default `auto`). */
  backend?: BackendChoice;
  /** Extra application context; opening needs the same bytes. */
  context?: Uint8Array;
}

/**
 * Options to open an envelope (the suite comes from the header).
 *
 * @example
 * ```ts
 * import type { OpenOptions } from 'simvault/crypto';
 * const opts: OpenOptions = { backend: 'noble' };
 * ```
 */
export interface OpenOptions {
  /** Cipher backend (default `auto`). */
  backend?: BackendChoice;
  /** The context given when sealing. */
  context?: Uint8Array;
}

function buildHeader(suite: Suite, compressed: boolean): Uint8Array {
  return new Uint8Array([...MAGIC, VERSION, suite.id, compressed ? FLAG_DEFLATE : 0, 0]);
}

/**
 * Parse and check an envelope header (its first 8 bytes); throws `CRYPTO_BAD_ENVELOPE`.
 *
 * @example
 * ```ts
 * import { parseEnvelopeHeader } from 'simvault/crypto';
 * parseEnvelopeHeader(new Uint8Array([0x73, 0x76, 0x6c, 0x74, 1, 2, 1, 0])).compressed; // true
 * ```
 */
export function parseEnvelopeHeader(bytes: Uint8Array): EnvelopeInfo {
  assertBytes(bytes, 'envelope');
  if (bytes.length < ENVELOPE_HEADER_LENGTH) {
    throw new CryptoError(
      'CRYPTO_BAD_ENVELOPE',
      `envelope of ${bytes.length} bytes is shorter than its header`,
    );
  }
  if (MAGIC.some((m, i) => bytes[i] !== m))
    throw new CryptoError('CRYPTO_BAD_ENVELOPE', 'not a simvault envelope (bad magic)');
  if (bytes[4] !== VERSION)
    throw new CryptoError('CRYPTO_BAD_ENVELOPE', `unsupported envelope version ${bytes[4]}`);
  let suite: Suite;
  try {
    suite = suiteById(bytes[5]!);
  } catch {
    throw new CryptoError('CRYPTO_BAD_ENVELOPE', `unknown suite id ${bytes[5]}`);
  }
  const flags = bytes[6]!;
  if ((flags & ~FLAG_DEFLATE) !== 0 || bytes[7] !== 0) {
    throw new CryptoError(
      'CRYPTO_BAD_ENVELOPE',
      `unknown envelope flags ${flags.toString(16)}/${bytes[7]!.toString(16)}`,
    );
  }
  return { version: VERSION, suite: suite.name, compressed: (flags & FLAG_DEFLATE) !== 0 };
}

function envelopeParams(
  fileKey: Uint8Array,
  header: Uint8Array,
  suite: Suite,
  userContext?: Uint8Array,
) {
  assertBytes(fileKey, 'file key', KEY_LENGTH);
  const inputKey = deriveKey(fileKey, 'envelope', utf8(suite.aead), suite.keyLength);
  const context = concatBytes(
    utf8('simvault/v1 envelope'),
    new Uint8Array([0]),
    header,
    userContext ?? new Uint8Array(0),
  );
  return { inputKey, context };
}

/**
 * Seal bytes into an envelope in one call.
 *
 * @example
 * ```ts
 * import { sealEnvelope, openEnvelope } from 'simvault/crypto';
 * const fileKey = crypto.getRandomValues(new Uint8Array(32));
 * const sealed = await sealEnvelope(fileKey, new TextEncoder().encode('notes'), { compress: true });
 * await openEnvelope(fileKey, sealed);
 * ```
 */
export async function sealEnvelope(
  fileKey: Uint8Array,
  plaintext: Uint8Array,
  options: SealOptions = {},
): Promise<Uint8Array> {
  assertBytes(plaintext, 'plaintext');
  const suite = getSuite(options.suite ?? DEFAULT_SUITE);
  const header = buildHeader(suite, options.compress === true);
  const { inputKey, context } = envelopeParams(fileKey, header, suite, options.context);
  const body = options.compress ? deflateSync(plaintext) : plaintext;
  const opts: EncryptOptions = {
    suite: suite.name,
    context,
    ...(options.backend ? { backend: options.backend } : {}),
  };
  return concatBytes(header, await encrypt(inputKey, body, opts));
}

/**
 * Open an envelope in one call; all or nothing.
 *
 * @example
 * ```ts
 * import { openEnvelope, sealEnvelope } from 'simvault/crypto';
 * const fileKey = new Uint8Array(32);
 * const plain = await openEnvelope(fileKey, await sealEnvelope(fileKey, new Uint8Array([1])));
 * ```
 */
export async function openEnvelope(
  fileKey: Uint8Array,
  sealed: Uint8Array,
  options: OpenOptions = {},
): Promise<Uint8Array> {
  const info = parseEnvelopeHeader(sealed);
  const suite = getSuite(info.suite);
  const header = sealed.subarray(0, ENVELOPE_HEADER_LENGTH);
  const { inputKey, context } = envelopeParams(fileKey, header, suite, options.context);
  const body = await decrypt(inputKey, sealed.subarray(ENVELOPE_HEADER_LENGTH), {
    suite: suite.name,
    context,
    ...(options.backend ? { backend: options.backend } : {}),
  });
  if (!info.compressed) return body;
  try {
    return inflateSync(body);
  } catch (e) {
    throw new CryptoError(
      'CRYPTO_DECOMPRESS_FAILED',
      `authenticated plaintext did not inflate: ${(e as Error).message}`,
    );
  }
}

/**
 * A stream that seals plaintext into an envelope, in constant memory.
 *
 * @example
 * ```ts
 * import { createSealStream } from 'simvault/crypto';
 * const fileKey = crypto.getRandomValues(new Uint8Array(32));
 * const sealed = new Blob(['data']).stream().pipeThrough(createSealStream(fileKey, { compress: true }));
 * ```
 */
export function createSealStream(
  fileKey: Uint8Array,
  options: SealOptions & StreamOptions = {},
): TransformStream<Uint8Array, Uint8Array> {
  const suite = getSuite(options.suite ?? DEFAULT_SUITE);
  const header = buildHeader(suite, options.compress === true);
  const { inputKey, context } = envelopeParams(fileKey, header, suite, options.context);
  const { signal } = options;
  let enc: ChunkEncryptor;
  let pending: Uint8Array[] = [];
  const deflate = options.compress
    ? new Deflate({ level: 6 }, (data) => pending.push(data))
    : undefined;
  const emit = async (
    controller: TransformStreamDefaultController<Uint8Array>,
    data: Uint8Array,
  ) => {
    const out = await sealPiece(enc, data);
    if (out.length) controller.enqueue(out);
  };
  return new TransformStream<Uint8Array, Uint8Array>({
    async start(controller) {
      if (signal?.aborted) {
        controller.error(abortError(signal));
        return;
      }
      signal?.addEventListener(
        'abort',
        () => {
          controller.error(abortError(signal));
        },
        { once: true },
      );
      enc = await ChunkEncryptor.create(inputKey, {
        suite: suite.name,
        context,
        ...(options.backend ? { backend: options.backend } : {}),
      });
      controller.enqueue(header);
      controller.enqueue(enc.header);
    },
    async transform(chunk, controller) {
      if (signal?.aborted) throw abortError(signal);
      assertBytes(chunk, 'stream chunk');
      if (!deflate) return emit(controller, chunk);
      deflate.push(chunk);
      const out = pending;
      pending = [];
      for (const d of out) await emit(controller, d);
    },
    async flush(controller) {
      if (signal?.aborted) throw abortError(signal);
      if (deflate) {
        deflate.push(new Uint8Array(0), true);
        const out = pending;
        pending = [];
        for (const d of out) await emit(controller, d);
      }
      controller.enqueue(await enc.final());
    },
  });
}

/**
 * A stream that opens an envelope: reads the header, then decrypts (and inflates) one
 * authenticated chunk at a time. Errors are typed: `CRYPTO_BAD_ENVELOPE` for a foreign or damaged
 * header, `CRYPTO_COMMITMENT_MISMATCH` for a wrong key or context, `CRYPTO_AUTH_FAILED` and
 * `CRYPTO_TRUNCATED` for damaged data.
 *
 * @example
 * ```ts
 * import { createOpenStream } from 'simvault/crypto';
 * declare const sealed: ReadableStream<Uint8Array>;
 * const plain = sealed.pipeThrough(createOpenStream(new Uint8Array(32)));
 * ```
 */
export function createOpenStream(
  fileKey: Uint8Array,
  options: OpenOptions & StreamOptions = {},
): TransformStream<Uint8Array, Uint8Array> {
  assertBytes(fileKey, 'file key', KEY_LENGTH);
  const { signal } = options;
  const head = new Uint8Array(ENVELOPE_HEADER_LENGTH);
  let headLen = 0;
  let dec: ChunkDecryptor | undefined;
  let inflate: Inflate | undefined;
  let pending: Uint8Array[] = [];
  const release = (
    controller: TransformStreamDefaultController<Uint8Array>,
    plain: Uint8Array,
    final: boolean,
  ) => {
    if (!inflate) {
      if (plain.length) controller.enqueue(plain);
      return;
    }
    try {
      inflate.push(plain, final);
    } catch (e) {
      throw new CryptoError(
        'CRYPTO_DECOMPRESS_FAILED',
        `authenticated plaintext did not inflate: ${(e as Error).message}`,
      );
    }
    const out = pending;
    pending = [];
    for (const d of out) controller.enqueue(d);
  };
  return new TransformStream<Uint8Array, Uint8Array>({
    start(controller) {
      if (signal?.aborted) {
        controller.error(abortError(signal));
        return;
      }
      signal?.addEventListener(
        'abort',
        () => {
          controller.error(abortError(signal));
        },
        { once: true },
      );
    },
    async transform(chunk, controller) {
      if (signal?.aborted) throw abortError(signal);
      assertBytes(chunk, 'stream chunk');
      let data = chunk;
      if (!dec) {
        const n = Math.min(ENVELOPE_HEADER_LENGTH - headLen, data.length);
        head.set(data.subarray(0, n), headLen);
        headLen += n;
        data = data.subarray(n);
        if (headLen < ENVELOPE_HEADER_LENGTH) return;
        const info = parseEnvelopeHeader(head);
        const suite = getSuite(info.suite);
        const { inputKey, context } = envelopeParams(fileKey, head, suite, options.context);
        dec = ChunkDecryptor.create(inputKey, {
          suite: suite.name,
          context,
          ...(options.backend ? { backend: options.backend } : {}),
        });
        if (info.compressed) inflate = new Inflate((d) => pending.push(d));
      }
      release(controller, await openPiece(dec, data), false);
    },
    async flush(controller) {
      if (signal?.aborted) throw abortError(signal);
      if (!dec)
        throw new CryptoError(
          'CRYPTO_BAD_ENVELOPE',
          `envelope of ${headLen} bytes is shorter than its header`,
        );
      release(controller, await dec.final(), true);
    },
  });
}
