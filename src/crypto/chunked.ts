/**
 * C2SP chunked-encryption ("Cobblestone"): the message is split into 16 KiB chunks, the last one
 * always shorter (it marks the end), each sealed with an AEAD under a per-message key and nonce
 * derived by HKDF-Expand(SHA-512) from the input key, a 24-byte salt and a context. The output is
 * `salt || commitment || sealed chunks`.
 *
 * This module is the push core: {@link ChunkEncryptor} and {@link ChunkDecryptor} take bytes in
 * any split and return whole chunks, holding at most one chunk of state. Streams, one-shot calls
 * and random access are built on it.
 *
 * @module
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { assertBytes, concatBytes, equalBytes, randomPublicBytes, utf8 } from '../bytes.js';
import { ArgumentError, CryptoError } from '../errors.js';
import {
  getBackend,
  importKeyInto,
  type AeadKeyInto,
  type BackendChoice,
  type BackendName,
} from './backend.js';
import { uninitializedBytes } from './alloc.js';
import { DEFAULT_SUITE, getSuite, type Suite, type SuiteName } from './suites.js';

/**
 * Plaintext bytes per chunk.
 *
 * @example
 * ```ts
 * import { CHUNK_SIZE } from 'simvault/crypto';
 * CHUNK_SIZE; // 16384
 * ```
 */
export const CHUNK_SIZE = 16384;
/**
 * Salt bytes at the start of a ciphertext.
 *
 * @example
 * ```ts
 * import { SALT_LENGTH } from 'simvault/crypto';
 * SALT_LENGTH; // 24
 * ```
 */
export const SALT_LENGTH = 24;
/**
 * Commitment bytes after the salt.
 *
 * @example
 * ```ts
 * import { COMMITMENT_LENGTH } from 'simvault/crypto';
 * COMMITMENT_LENGTH; // 32
 * ```
 */
export const COMMITMENT_LENGTH = 32;
/**
 * Bytes before the first sealed chunk: salt and commitment.
 *
 * @example
 * ```ts
 * import { HEADER_LENGTH } from 'simvault/crypto';
 * HEADER_LENGTH; // 56
 * ```
 */
export const HEADER_LENGTH = SALT_LENGTH + COMMITMENT_LENGTH;
const TAG = 16;
const SEALED_CHUNK = CHUNK_SIZE + TAG;
// The format allows 2^38 chunks; every chunk index stays a safe integer in JavaScript.
const MAX_CHUNKS = 2 ** 38;
const PREFIX = utf8('c2sp.org/chunked-encryption@v1+');

/**
 * Options shared by encryption and decryption.
 *
 * @example
 * ```ts
 * import type { ChunkedOptions } from 'simvault/crypto';
 * const opts: ChunkedOptions = { suite: 'cobblestone-256', backend: 'auto', context: new Uint8Array() };
 * ```
 */
export interface ChunkedOptions {
  /** The suite (default `cobblestone-256`). Must match between encryption and decryption. */
  suite?: SuiteName;
  /** Which cipher backend runs the AEAD (default `auto`). Output is identical on every backend. */
  backend?: BackendChoice;
  /** Application context bound into the key derivation; decryption needs the same bytes. */
  context?: Uint8Array;
}

/**
 * Encryption options.
 *
 * @example
 * ```ts
 * import type { EncryptOptions } from 'simvault/crypto';
 * const opts: EncryptOptions = { suite: 'cobblestone-chacha20poly1305' };
 * ```
 */
export interface EncryptOptions extends ChunkedOptions {
  /**
   * A 24-byte salt instead of a random one. It MUST never repeat under one input key; meant
   * for known-answer tests and for resuming an interrupted encryption of the same plaintext.
   */
  salt?: Uint8Array;
}

/**
 * The per-message values HKDF-Expand derives.
 *
 * @example
 * ```ts
 * import { deriveMessageKeys } from 'simvault/crypto';
 * const { commitment } = deriveMessageKeys('cobblestone-256', new Uint8Array(32), new Uint8Array(24));
 * ```
 */
export interface MessageKeys {
  /** AEAD key. */
  key: Uint8Array;
  /** Base nonce, XORed with the chunk index. */
  baseNonce: Uint8Array;
  /** 32-byte key commitment. */
  commitment: Uint8Array;
}

function checkKey(suite: Suite, inputKey: Uint8Array): void {
  assertBytes(inputKey, 'input key');
  if (inputKey.length !== suite.keyLength) {
    throw new CryptoError(
      'CRYPTO_BAD_KEY',
      `${suite.name} needs a ${suite.keyLength}-byte key, got ${inputKey.length}`,
    );
  }
}

/**
 * Derive `key || base nonce || commitment` for one message, as the standard specifies.
 *
 * @example
 * ```ts
 * import { deriveMessageKeys } from 'simvault/crypto';
 * const keys = deriveMessageKeys('cobblestone-128', new Uint8Array(16), new Uint8Array(24), new Uint8Array());
 * keys.key.length; // 16
 * ```
 */
export function deriveMessageKeys(
  suiteName: SuiteName,
  inputKey: Uint8Array,
  salt: Uint8Array,
  context: Uint8Array = new Uint8Array(0),
): MessageKeys {
  const suite = getSuite(suiteName);
  checkKey(suite, inputKey);
  assertBytes(salt, 'salt', SALT_LENGTH);
  assertBytes(context, 'context');
  const info = concatBytes(PREFIX, utf8(suite.aead), new Uint8Array([0]), salt, context);
  const okm = hkdfExpandSha512(
    inputKey,
    info,
    suite.keyLength + suite.nonceLength + COMMITMENT_LENGTH,
  );
  return {
    key: okm.subarray(0, suite.keyLength),
    baseNonce: okm.subarray(suite.keyLength, suite.keyLength + suite.nonceLength),
    commitment: okm.subarray(suite.keyLength + suite.nonceLength),
  };
}

// RFC 5869 HKDF-Expand. Written out because noble's `expand` insists on a PRK of at least the
// hash length (64 bytes), while the standard uses the AEAD-sized input key as the PRK.
function hkdfExpandSha512(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let prev = new Uint8Array(0);
  for (let i = 1, off = 0; off < length; i++) {
    prev = hmac(sha512, prk, concatBytes(prev, info, new Uint8Array([i])));
    out.set(prev.subarray(0, Math.min(prev.length, length - off)), off);
    off += prev.length;
  }
  return out;
}

/**
 * The exact ciphertext length for a plaintext length, so free space can be checked before a
 * download starts.
 *
 * @example
 * ```ts
 * import { ciphertextLength } from 'simvault/crypto';
 * ciphertextLength(0); // 72 (header + one empty chunk's tag)
 * ciphertextLength(16384); // 56 + 16400 + 16
 * ```
 */
export function ciphertextLength(plaintextLength: number): number {
  if (!Number.isSafeInteger(plaintextLength) || plaintextLength < 0) {
    throw new ArgumentError(
      `plaintext length must be a non-negative safe integer, got ${plaintextLength}`,
    );
  }
  const chunks = Math.floor(plaintextLength / CHUNK_SIZE) + 1;
  if (chunks > MAX_CHUNKS)
    throw new CryptoError('CRYPTO_TOO_LARGE', `${plaintextLength} bytes exceed the format's limit`);
  return HEADER_LENGTH + plaintextLength + chunks * TAG;
}

/**
 * The plaintext length a ciphertext of this length holds; throws `CRYPTO_TRUNCATED` for a length
 * no valid ciphertext has (e.g. one ending at a chunk boundary).
 *
 * @example
 * ```ts
 * import { plaintextLength } from 'simvault/crypto';
 * plaintextLength(72); // 0
 * ```
 */
export function plaintextLength(ciphertextLength: number): number {
  if (!Number.isSafeInteger(ciphertextLength) || ciphertextLength < 0) {
    throw new ArgumentError(
      `ciphertext length must be a non-negative safe integer, got ${ciphertextLength}`,
    );
  }
  const body = ciphertextLength - HEADER_LENGTH;
  if (body < TAG)
    throw new CryptoError(
      'CRYPTO_TRUNCATED',
      `a ciphertext of ${ciphertextLength} bytes is too short`,
    );
  const full = Math.floor(body / SEALED_CHUNK);
  const last = body % SEALED_CHUNK;
  if (last < TAG) {
    throw new CryptoError(
      'CRYPTO_TRUNCATED',
      `a ciphertext of ${ciphertextLength} bytes ends inside or at a chunk boundary`,
    );
  }
  if (full + 1 > MAX_CHUNKS) throw new CryptoError('CRYPTO_TOO_LARGE', 'too many chunks');
  return full * CHUNK_SIZE + last - TAG;
}

/** Nonce for chunk `index`: the base nonce with its last 5 bytes XORed with the 38-bit index. */
export function chunkNonce(baseNonce: Uint8Array, index: number): Uint8Array {
  if (index >= MAX_CHUNKS)
    throw new CryptoError('CRYPTO_TOO_LARGE', 'the chunk counter reached 2^38');
  const nonce = baseNonce.slice();
  const n = nonce.length;
  const hi = Math.floor(index / 2 ** 32);
  nonce[n - 5]! ^= hi;
  nonce[n - 4]! ^= index >>> 24;
  nonce[n - 3]! ^= (index >>> 16) & 0xff;
  nonce[n - 2]! ^= (index >>> 8) & 0xff;
  nonce[n - 1]! ^= index & 0xff;
  return nonce;
}

const NO_BYTES = new Uint8Array(0);

/** Per-message state once keys are derived: shared by the push core and random access. */
export interface MessageCipher {
  /** The suite. */
  readonly suite: Suite;
  /** The backend actually used. */
  readonly backend: BackendName;
  /**
   * Open chunk `index` into a buffer of the backend's (not copied); throws `CRYPTO_AUTH_FAILED`.
   * Synchronous on a synchronous backend.
   */
  open(index: number, sealed: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /**
   * Seal chunk `index` into `out` (`plaintext.length + 16` bytes). Synchronous on a synchronous
   * backend; otherwise `plaintext` must stay unchanged until the promise settles.
   */
  sealInto(index: number, plaintext: Uint8Array, out: Uint8Array): void | Promise<void>;
  /**
   * Open chunk `index` into `out` (`sealed.length - 16` bytes), writing nothing unless it
   * authenticates; throws (or rejects with) `CRYPTO_AUTH_FAILED`.
   */
  openInto(index: number, sealed: Uint8Array, out: Uint8Array): void | Promise<void>;
}

function authFailed(index: number): CryptoError {
  return new CryptoError('CRYPTO_AUTH_FAILED', `chunk ${index} failed authentication`);
}

function authFailedThrow(index: number): never {
  throw authFailed(index);
}

/**
 * Key a message: derive its keys and import them into the backend. Checks `expectedCommitment`
 * (when given) before anything else can happen.
 */
export async function openMessageCipher(
  inputKey: Uint8Array,
  salt: Uint8Array,
  options: ChunkedOptions,
  expectedCommitment?: Uint8Array,
): Promise<{ cipher: MessageCipher; commitment: Uint8Array }> {
  const suite = getSuite(options.suite ?? DEFAULT_SUITE);
  const backend = getBackend(options.backend ?? 'auto', suite.aead);
  const keys = deriveMessageKeys(suite.name, inputKey, salt, options.context);
  if (expectedCommitment && !equalBytes(keys.commitment, expectedCommitment)) {
    throw new CryptoError(
      'CRYPTO_COMMITMENT_MISMATCH',
      'key commitment mismatch: wrong key, wrong context, or a damaged header',
    );
  }
  const aead: AeadKeyInto = await importKeyInto(backend, suite.aead, keys.key);
  const baseNonce = keys.baseNonce.slice();
  const cipher: MessageCipher = {
    suite,
    backend: backend.name,
    open(index, sealed) {
      const out = aead.open(chunkNonce(baseNonce, index), sealed);
      // No closure on the synchronous path: this runs once per 16 KiB chunk.
      if (out instanceof Promise) return out.then((plain) => plain ?? authFailedThrow(index));
      return out ?? authFailedThrow(index);
    },
    sealInto: (index, plaintext, out) =>
      aead.sealInto(chunkNonce(baseNonce, index), plaintext, out),
    openInto(index, sealed, out) {
      const ok = aead.openInto(chunkNonce(baseNonce, index), sealed, out);
      if (ok === true) return;
      if (ok === false) throw authFailed(index);
      return ok.then((verified) => {
        if (!verified) throw authFailed(index);
      });
    },
  };
  return { cipher, commitment: keys.commitment.slice() };
}

// How many chunk operations of an asynchronous backend (WebCrypto, which works off the main
// thread) run at once: enough to keep its workers busy, few enough to bound the copies it holds.
const WINDOW = 16;

/**
 * Chunk operations of one call, in chunk order. A synchronous backend's operations are done when
 * they return; an asynchronous backend's overlap, up to {@link WINDOW} at a time. The first
 * failure in chunk order is the one reported.
 */
export class ChunkBatch {
  private pending: Promise<void>[] = [];

  /** Add an operation's result; returns a promise to await when the window is full. */
  add(result: void | Promise<void>): Promise<void> | undefined {
    if (!result) return undefined;
    this.pending.push(result);
    return this.pending.length >= WINDOW ? this.settle() : undefined;
  }

  /** Wait for every operation added so far; rejects with the first failure in chunk order. */
  async settle(): Promise<void> {
    const pending = this.pending;
    if (pending.length === 0) return;
    this.pending = [];
    const results = await Promise.allSettled(pending);
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  }
}

function checkRoom(out: Uint8Array, offset: number, needed: number): void {
  assertBytes(out, 'output buffer');
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + needed > out.length) {
    throw new ArgumentError(
      `output buffer of ${out.length} bytes has no room for ${needed} bytes at offset ${offset}`,
    );
  }
}

function checkCount(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new ArgumentError(`${what} must be a non-negative safe integer, got ${n}`);
}

/** `bytes` as views of `size` bytes each (the last one may be shorter). */
function split(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let off = 0; off < bytes.length; off += size) out.push(bytes.subarray(off, off + size));
  return out;
}

/**
 * Push-style encryptor. Feed plaintext in any split with {@link ChunkEncryptor.update} (or
 * {@link ChunkEncryptor.updateInto}, which seals straight into a buffer of yours); each call
 * returns the sealed chunks completed so far; {@link ChunkEncryptor.final} seals the short final
 * chunk. Holds one 16 KiB buffer whatever the message size. Write {@link ChunkEncryptor.header}
 * first.
 *
 * @example
 * ```ts
 * import { ChunkEncryptor } from 'simvault/crypto';
 * const enc = await ChunkEncryptor.create(new Uint8Array(32));
 * const parts = [enc.header, ...(await enc.update(new Uint8Array(40000))), await enc.final()];
 * ```
 */
export class ChunkEncryptor {
  /** `salt || commitment`: the first 56 bytes of the ciphertext. */
  readonly header: Uint8Array;
  private readonly cipher: MessageCipher;
  private readonly buf = new Uint8Array(CHUNK_SIZE);
  private len = 0;
  private index = 0;
  private done = false;

  private constructor(cipher: MessageCipher, header: Uint8Array) {
    this.cipher = cipher;
    this.header = header;
  }

  /**
   * Derive the message keys and start a message.
   *
   * @param inputKey - `suite.keyLength` uniformly random bytes
   * @param options - suite, backend, context, optional salt
   */
  static async create(inputKey: Uint8Array, options: EncryptOptions = {}): Promise<ChunkEncryptor> {
    const salt = options.salt ?? randomPublicBytes(SALT_LENGTH);
    assertBytes(salt, 'salt', SALT_LENGTH);
    const { cipher, commitment } = await openMessageCipher(inputKey, salt, options);
    return new ChunkEncryptor(cipher, concatBytes(salt, commitment));
  }

  /**
   * Continue an interrupted message at chunk `index`, under the salt it started with. Safe only
   * when the plaintext from that chunk on is the same as before (the same source, checked by the
   * caller, e.g. by length and digest): chunk positions are then re-sealed with the same
   * plaintext, never with different plaintext under the same key and nonce.
   *
   * @param inputKey - the input key of the interrupted message
   * @param salt - the salt at the start of its ciphertext
   * @param index - the first chunk not yet durably written
   * @param options - suite, backend, context of the interrupted message
   */
  static async resume(
    inputKey: Uint8Array,
    salt: Uint8Array,
    index: number,
    options: ChunkedOptions = {},
  ): Promise<ChunkEncryptor> {
    assertBytes(salt, 'salt', SALT_LENGTH);
    if (!Number.isSafeInteger(index) || index < 0 || index >= MAX_CHUNKS)
      throw new ArgumentError(`chunk index ${index} out of range`);
    const { cipher, commitment } = await openMessageCipher(inputKey, salt, options);
    const enc = new ChunkEncryptor(cipher, concatBytes(salt, commitment));
    enc.index = index;
    return enc;
  }

  /** The suite in use. */
  get suite(): Suite {
    return this.cipher.suite;
  }

  /** Chunks sealed so far (including any skipped by {@link ChunkEncryptor.resume}). */
  get chunks(): number {
    return this.index;
  }

  /** The backend that runs the AEAD. */
  get backend(): BackendName {
    return this.cipher.backend;
  }

  /**
   * How many ciphertext bytes the next {@link ChunkEncryptor.update} or
   * {@link ChunkEncryptor.updateInto} produces for `plaintextBytes` more bytes: the sealed chunks
   * (16,400 bytes each) they complete.
   */
  sealedLength(plaintextBytes: number): number {
    checkCount(plaintextBytes, 'plaintext length');
    return Math.floor((this.len + plaintextBytes) / CHUNK_SIZE) * SEALED_CHUNK;
  }

  /** Add plaintext; returns the sealed chunks (each 16,400 bytes) it completed. */
  async update(data: Uint8Array): Promise<Uint8Array[]> {
    assertBytes(data, 'plaintext');
    // Every byte is written before the views are returned (no zero fill needed).
    const out = uninitializedBytes(this.sealedLength(data.length));
    await this.updateInto(data, out);
    return split(out, SEALED_CHUNK);
  }

  /**
   * Add plaintext and seal the chunks it completes straight into `out` at `offset`, one after
   * another, with no allocation per chunk; returns the bytes written,
   * {@link ChunkEncryptor.sealedLength} of `data.length`. `data` must stay unchanged until the
   * promise settles.
   *
   * @param data - more plaintext, in any split
   * @param out - where the sealed chunks go; needs room for `sealedLength(data.length)` bytes
   * @param offset - the first byte of `out` to write (default 0)
   */
  async updateInto(data: Uint8Array, out: Uint8Array, offset = 0): Promise<number> {
    if (this.done) throw new ArgumentError('encryptor already finished');
    assertBytes(data, 'plaintext');
    checkRoom(out, offset, this.sealedLength(data.length));
    const cipher = this.cipher;
    const batch = new ChunkBatch();
    let w = offset;
    let off = 0;
    if (this.len > 0) {
      const n = Math.min(CHUNK_SIZE - this.len, data.length);
      this.buf.set(data.subarray(0, n), this.len);
      this.len += n;
      off = n;
      if (this.len === CHUNK_SIZE) {
        await batch.add(cipher.sealInto(this.index++, this.buf, out.subarray(w, w + SEALED_CHUNK)));
        w += SEALED_CHUNK;
        this.len = 0;
      }
    }
    // A full chunk can be sealed at once: if the message ends here an empty final chunk follows.
    while (data.length - off >= CHUNK_SIZE) {
      const wait = batch.add(
        cipher.sealInto(
          this.index++,
          data.subarray(off, off + CHUNK_SIZE),
          out.subarray(w, w + SEALED_CHUNK),
        ),
      );
      if (wait) await wait;
      off += CHUNK_SIZE;
      w += SEALED_CHUNK;
    }
    // The buffered chunk may still be read by an asynchronous seal until the batch settles.
    await batch.settle();
    if (off < data.length) {
      this.buf.set(data.subarray(off), this.len);
      this.len += data.length - off;
    }
    return w - offset;
  }

  /** Seal the final (short, possibly empty) chunk. */
  async final(): Promise<Uint8Array> {
    if (this.done) throw new ArgumentError('encryptor already finished');
    this.done = true;
    const out = new Uint8Array(this.len + TAG);
    await this.cipher.sealInto(this.index++, this.buf.subarray(0, this.len), out);
    return out;
  }
}

/**
 * Push-style decryptor. Checks the key commitment as soon as the 56-byte header is in, then
 * releases plaintext one authenticated chunk at a time: never a byte past the last chunk that
 * verified. Once it has failed it keeps failing with the same error.
 *
 * @example
 * ```ts
 * import { ChunkDecryptor, encrypt } from 'simvault/crypto';
 * const key = new Uint8Array(32);
 * const ct = await encrypt(key, new Uint8Array([1, 2, 3]));
 * const dec = ChunkDecryptor.create(key);
 * const parts = [...(await dec.update(ct)), await dec.final()];
 * ```
 */
export class ChunkDecryptor {
  private readonly inputKey: Uint8Array;
  private readonly options: ChunkedOptions;
  private cipher: MessageCipher | undefined;
  private readonly head = new Uint8Array(HEADER_LENGTH);
  private headLen = 0;
  private readonly buf = new Uint8Array(SEALED_CHUNK);
  private len = 0;
  private index = 0;
  private error: Error | undefined;
  private done = false;

  private constructor(inputKey: Uint8Array, options: ChunkedOptions) {
    this.inputKey = inputKey;
    this.options = options;
  }

  /**
   * Start decrypting one message. The key length is checked now; the commitment once the header
   * has arrived.
   *
   * @param inputKey - the input key used to encrypt
   * @param options - the suite and context used to encrypt, and a backend
   */
  static create(inputKey: Uint8Array, options: ChunkedOptions = {}): ChunkDecryptor {
    checkKey(getSuite(options.suite ?? DEFAULT_SUITE), inputKey);
    return new ChunkDecryptor(inputKey.slice(), options);
  }

  /** Chunks authenticated so far. */
  get chunks(): number {
    return this.index;
  }

  private fail(e: unknown): never {
    // Everything thrown inside is an Error; the wrap only satisfies the type.
    this.error = e instanceof Error ? e : new Error(String(e));
    throw this.error;
  }

  /**
   * How many plaintext bytes the next {@link ChunkDecryptor.update} or
   * {@link ChunkDecryptor.updateInto} releases for `ciphertextBytes` more bytes (if they
   * authenticate): the chunks they complete and show not to be the final one.
   */
  openedLength(ciphertextBytes: number): number {
    checkCount(ciphertextBytes, 'ciphertext length');
    const body = this.cipher
      ? ciphertextBytes
      : Math.max(0, ciphertextBytes - (HEADER_LENGTH - this.headLen));
    // A full sealed chunk is only known not to be the final one once a byte follows it.
    const available = this.len + body;
    return available === 0 ? 0 : Math.floor((available - 1) / SEALED_CHUNK) * CHUNK_SIZE;
  }

  /** Add ciphertext; returns the plaintext of the chunks it authenticated. */
  async update(data: Uint8Array): Promise<Uint8Array[]> {
    if (this.error !== undefined) throw this.error;
    assertBytes(data, 'ciphertext');
    // Every byte is written before the views are returned (no zero fill needed).
    const out = uninitializedBytes(this.openedLength(data.length));
    await this.updateInto(data, out);
    return split(out, CHUNK_SIZE);
  }

  /**
   * Add ciphertext and write the plaintext of the chunks it authenticates straight into `out` at
   * `offset`; returns the bytes written, {@link ChunkDecryptor.openedLength} of `data.length`.
   * When it throws, that part of `out` is left zeroed: no unauthenticated byte is ever written.
   * `data` must stay unchanged until the promise settles.
   *
   * @param data - more ciphertext, in any split
   * @param out - where the plaintext goes; needs room for `openedLength(data.length)` bytes
   * @param offset - the first byte of `out` to write (default 0)
   */
  async updateInto(data: Uint8Array, out: Uint8Array, offset = 0): Promise<number> {
    if (this.error !== undefined) throw this.error;
    if (this.done) throw new ArgumentError('decryptor already finished');
    assertBytes(data, 'ciphertext');
    const expected = this.openedLength(data.length);
    checkRoom(out, offset, expected);
    let w = offset;
    try {
      await this.consume(data, (cipher, index, sealed) => {
        const target = out.subarray(w, (w += CHUNK_SIZE));
        return cipher.openInto(index, sealed, target);
      });
      return w - offset;
    } catch (e) {
      // Chunks after a failed one may have been opened already by an asynchronous backend.
      out.fill(0, offset, offset + expected);
      return this.fail(e);
    }
  }

  /**
   * @internal Add ciphertext; returns the plaintext of each chunk it authenticates as the
   * backend's own buffer, without the copy into one output buffer that
   * {@link ChunkDecryptor.updateInto} makes (the decrypt stream enqueues these as they are).
   */
  async updateChunks(data: Uint8Array): Promise<Uint8Array[]> {
    if (this.error !== undefined) throw this.error;
    if (this.done) throw new ArgumentError('decryptor already finished');
    assertBytes(data, 'ciphertext');
    const parts: Uint8Array[] = [];
    try {
      await this.consume(data, (cipher, index, sealed) => {
        const plain = cipher.open(index, sealed);
        if (!(plain instanceof Promise)) {
          parts.push(plain);
          return;
        }
        // A placeholder keeps chunk order while an asynchronous open is in flight.
        const slot = parts.push(NO_BYTES) - 1;
        return plain.then((p) => {
          parts[slot] = p;
        });
      });
    } catch (e) {
      return this.fail(e);
    }
    return parts;
  }

  /**
   * Feed `data` through the header and chunk framing; `open` is called for every chunk known not
   * to be the final one, in order, and `sealed` stays unchanged until its result settles.
   */
  private async consume(
    data: Uint8Array,
    open: (cipher: MessageCipher, index: number, sealed: Uint8Array) => void | Promise<void>,
  ): Promise<void> {
    let off = 0;
    if (!this.cipher) {
      const n = Math.min(HEADER_LENGTH - this.headLen, data.length);
      this.head.set(data.subarray(0, n), this.headLen);
      this.headLen += n;
      off = n;
      if (this.headLen < HEADER_LENGTH) return;
      const salt = this.head.subarray(0, SALT_LENGTH);
      const commitment = this.head.subarray(SALT_LENGTH);
      this.cipher = (await openMessageCipher(this.inputKey, salt, this.options, commitment)).cipher;
    }
    const cipher = this.cipher;
    const batch = new ChunkBatch();
    while (off < data.length) {
      // A full sealed chunk is only known not to be the final one once a byte follows it.
      if (this.len === SEALED_CHUNK) {
        await batch.add(open(cipher, this.index++, this.buf));
        this.len = 0;
      }
      if (this.len === 0 && data.length - off > SEALED_CHUNK) {
        const wait = batch.add(open(cipher, this.index++, data.subarray(off, off + SEALED_CHUNK)));
        if (wait) await wait;
        off += SEALED_CHUNK;
        continue;
      }
      // The buffered chunk may still be read by an asynchronous open until the batch settles.
      await batch.settle();
      const n = Math.min(SEALED_CHUNK - this.len, data.length - off);
      this.buf.set(data.subarray(off, off + n), this.len);
      this.len += n;
      off += n;
    }
    await batch.settle();
  }

  /** The end of the ciphertext: authenticates the final chunk and returns its plaintext. */
  async final(): Promise<Uint8Array> {
    if (this.error !== undefined) throw this.error;
    if (this.done) throw new ArgumentError('decryptor already finished');
    try {
      if (!this.cipher) {
        throw new CryptoError(
          'CRYPTO_TRUNCATED',
          `ciphertext ends inside the ${HEADER_LENGTH}-byte header`,
        );
      }
      if (this.len < TAG || this.len === SEALED_CHUNK) {
        throw new CryptoError(
          'CRYPTO_TRUNCATED',
          `ciphertext ends without a short final chunk (after chunk ${this.index})`,
        );
      }
      const last = await this.cipher.open(this.index++, this.buf.subarray(0, this.len));
      this.done = true;
      return last;
    } catch (e) {
      return this.fail(e);
    }
  }
}

/**
 * Encrypt a whole message at once.
 *
 * @example
 * ```ts
 * import { encrypt, decrypt } from 'simvault/crypto';
 * const key = crypto.getRandomValues(new Uint8Array(32));
 * const ct = await encrypt(key, new TextEncoder().encode('hello'));
 * await decrypt(key, ct); // 'hello' as bytes
 * ```
 */
export async function encrypt(
  inputKey: Uint8Array,
  plaintext: Uint8Array,
  options: EncryptOptions = {},
): Promise<Uint8Array> {
  assertBytes(plaintext, 'plaintext');
  const enc = await ChunkEncryptor.create(inputKey, options);
  // Header, sealed chunks and final chunk fill it exactly (no zero fill needed).
  const out = uninitializedBytes(ciphertextLength(plaintext.length));
  out.set(enc.header, 0);
  const off = HEADER_LENGTH + (await enc.updateInto(plaintext, out, HEADER_LENGTH));
  out.set(await enc.final(), off);
  return out;
}

/**
 * Decrypt a whole message at once; all or nothing.
 *
 * @example
 * ```ts
 * import { encrypt, decrypt } from 'simvault/crypto';
 * const key = new Uint8Array(32);
 * const pt = await decrypt(key, await encrypt(key, new Uint8Array([7])));
 * ```
 */
export async function decrypt(
  inputKey: Uint8Array,
  ciphertext: Uint8Array,
  options: ChunkedOptions = {},
): Promise<Uint8Array> {
  assertBytes(ciphertext, 'ciphertext');
  const dec = ChunkDecryptor.create(inputKey, options);
  let expected: number;
  try {
    expected = plaintextLength(ciphertext.length);
  } catch (e) {
    // A wrong key or context is reported as such even when the length is also wrong.
    await dec.update(ciphertext.subarray(0, HEADER_LENGTH));
    throw e;
  }
  // Filled exactly by the chunks, or dropped when one fails (no zero fill needed).
  const out = uninitializedBytes(expected);
  const off = await dec.updateInto(ciphertext, out);
  out.set(await dec.final(), off);
  return out;
}
