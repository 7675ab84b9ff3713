/**
 * Cipher backends: where the AEAD work happens. Every backend produces byte-identical output; they
 * differ only in speed and in where they run.
 *
 * @module
 */
import { gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { ArgumentError } from '../errors.js';
import type { AeadName } from './suites.js';

const TAG = 16;

/**
 * An AEAD keyed once, used for many chunks. `open` resolves to `null` when authentication fails
 * (the caller decides which typed error that is).
 *
 * @example
 * ```ts
 * import { getBackend } from 'simvault/crypto';
 * const aead = await getBackend('noble').importKey('AEAD_AES_256_GCM', new Uint8Array(32));
 * const sealed = await aead.seal(new Uint8Array(12), new Uint8Array([1, 2, 3]));
 * ```
 */
export interface AeadKey {
  /**
   * Encrypt and authenticate; returns ciphertext followed by the 16-byte tag. `aad` is
   * authenticated but not encrypted (chunked encryption never uses it; card metadata blocks do).
   */
  seal(
    nonce: Uint8Array,
    plaintext: Uint8Array,
    aad?: Uint8Array,
  ): Uint8Array | Promise<Uint8Array>;
  /** Verify and decrypt ciphertext-with-tag; `null` when it does not authenticate. */
  open(
    nonce: Uint8Array,
    sealed: Uint8Array,
    aad?: Uint8Array,
  ): Uint8Array | null | Promise<Uint8Array | null>;
}

/**
 * The form every built-in backend's keys take inside the library: {@link AeadKey} plus sealing and
 * opening into a caller's buffer, so a batch of chunks lands in one buffer without an allocation
 * and a copy per chunk. A synchronous backend returns a plain value, so callers await only real
 * promises; the input must stay unchanged until an asynchronous result settles.
 */
export interface AeadKeyInto extends AeadKey {
  /** Write `ciphertext || tag` into `out`, which is exactly `plaintext.length + 16` bytes. */
  sealInto(nonce: Uint8Array, plaintext: Uint8Array, out: Uint8Array): void | Promise<void>;
  /**
   * Verify, then write the plaintext into `out` (exactly `sealed.length - 16` bytes); `false`
   * when it does not authenticate, and then nothing was written.
   */
  openInto(nonce: Uint8Array, sealed: Uint8Array, out: Uint8Array): boolean | Promise<boolean>;
}

/**
 * Backend names. `native` is `node` where `node:crypto` exists, else `webcrypto`.
 *
 * @example
 * ```ts
 * import type { BackendName } from 'simvault/crypto';
 * const b: BackendName = 'noble';
 * ```
 */
export type BackendName = 'noble' | 'node' | 'webcrypto';

/**
 * What a caller may ask for: a backend by name, `native`, or `auto` (native when it supports the
 * AEAD, else noble).
 *
 * @example
 * ```ts
 * import type { BackendChoice } from 'simvault/crypto';
 * const choice: BackendChoice = 'auto';
 * ```
 */
export type BackendChoice = BackendName | 'native' | 'auto';

/**
 * A cipher backend.
 *
 * @example
 * ```ts
 * import { getBackend } from 'simvault/crypto';
 * getBackend('noble').supports('AEAD_CHACHA20_POLY1305'); // true
 * ```
 */
export interface CipherBackend {
  /** The backend's name. */
  readonly name: BackendName;
  /** Whether this backend can run the AEAD here. */
  supports(aead: AeadName): boolean;
  /** Key an AEAD. */
  importKey(aead: AeadName, key: Uint8Array): Promise<AeadKey>;
}

const nobleBackend: CipherBackend = {
  name: 'noble',
  supports: () => true,
  importKey(aead, key) {
    const chacha = aead === 'AEAD_CHACHA20_POLY1305';
    const make = chacha ? chacha20poly1305 : gcm;
    const k = key.slice();
    const open = (nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array) => {
      try {
        return make(k, nonce, aad).decrypt(sealed);
      } catch {
        return null;
      }
    };
    const into: AeadKeyInto = {
      seal: (nonce, plaintext, aad) => make(k, nonce, aad).encrypt(plaintext),
      open,
      // noble's ChaCha20-Poly1305 writes into a given buffer (after checking the tag when
      // opening); its GCM has no output parameter, so that result is copied.
      sealInto: chacha
        ? (nonce, plaintext, out) => {
            chacha20poly1305(k, nonce).encrypt(plaintext, out);
          }
        : (nonce, plaintext, out) => {
            out.set(gcm(k, nonce).encrypt(plaintext));
          },
      openInto: chacha
        ? (nonce, sealed, out) => {
            try {
              chacha20poly1305(k, nonce).decrypt(sealed, out);
              return true;
            } catch {
              return false;
            }
          }
        : (nonce, sealed, out) => {
            const plain = open(nonce, sealed);
            if (!plain) return false;
            out.set(plain);
            return true;
          },
    };
    return Promise.resolve(into);
  },
};

// The parts of node:crypto used here, typed structurally so this portable module has no `node:`
// import; the module itself is obtained at run time through process.getBuiltinModule (Node ≥ 20.16).
interface NodeCipher {
  setAAD(aad: Uint8Array): void;
  update(data: Uint8Array): Uint8Array;
  final(): Uint8Array;
  getAuthTag(): Uint8Array;
}
interface NodeDecipher {
  setAAD(aad: Uint8Array): void;
  update(data: Uint8Array): Uint8Array;
  final(): Uint8Array;
  setAuthTag(tag: Uint8Array): void;
}
interface NodeCrypto {
  createCipheriv(
    alg: string,
    key: Uint8Array,
    iv: Uint8Array,
    opts?: { authTagLength: number },
  ): NodeCipher;
  createDecipheriv(
    alg: string,
    key: Uint8Array,
    iv: Uint8Array,
    opts?: { authTagLength: number },
  ): NodeDecipher;
  getCiphers(): string[];
}

function loadNodeCrypto(): NodeCrypto | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    return proc?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined;
  } catch {
    return undefined;
  }
}

const NODE_ALGS: Record<AeadName, string> = {
  AEAD_AES_128_GCM: 'aes-128-gcm',
  AEAD_AES_256_GCM: 'aes-256-gcm',
  AEAD_CHACHA20_POLY1305: 'chacha20-poly1305',
};

function makeNodeBackend(nc: NodeCrypto): CipherBackend {
  const available = new Set(nc.getCiphers());
  return {
    name: 'node',
    supports: (aead) => available.has(NODE_ALGS[aead]),
    importKey(aead, key) {
      const alg = NODE_ALGS[aead];
      const k = key.slice();
      const opts = { authTagLength: TAG };
      const sealInto = (
        nonce: Uint8Array,
        plaintext: Uint8Array,
        out: Uint8Array,
        aad?: Uint8Array,
      ) => {
        const c = nc.createCipheriv(alg, k, nonce, opts);
        if (aad?.length) c.setAAD(aad);
        const body = c.update(plaintext);
        out.set(body, 0);
        const fin = c.final();
        if (fin.length) out.set(fin, body.length);
        out.set(c.getAuthTag(), plaintext.length);
      };
      // Decrypts into node's own buffer and returns it only once final() has checked the tag.
      const openVerified = (nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array) => {
        if (sealed.length < TAG) return null;
        const d = nc.createDecipheriv(alg, k, nonce, opts);
        if (aad?.length) d.setAAD(aad);
        d.setAuthTag(sealed.subarray(sealed.length - TAG));
        const body = d.update(sealed.subarray(0, sealed.length - TAG));
        let fin: Uint8Array;
        try {
          fin = d.final();
        } catch {
          return null;
        }
        return { body, fin };
      };
      const into: AeadKeyInto = {
        seal(nonce, plaintext, aad) {
          const out = new Uint8Array(plaintext.length + TAG);
          sealInto(nonce, plaintext, out, aad);
          return out;
        },
        open(nonce, sealed, aad) {
          const r = openVerified(nonce, sealed, aad);
          if (!r) return null;
          const { body, fin } = r;
          // A plain Uint8Array view (not a Buffer) over node's output, without a copy.
          if (fin.length === 0) return new Uint8Array(body.buffer, body.byteOffset, body.length);
          const out = new Uint8Array(body.length + fin.length);
          out.set(body, 0);
          out.set(fin, body.length);
          return out;
        },
        sealInto: (nonce, plaintext, out) => {
          sealInto(nonce, plaintext, out);
        },
        openInto(nonce, sealed, out) {
          const r = openVerified(nonce, sealed);
          if (!r) return false;
          out.set(r.body, 0);
          if (r.fin.length) out.set(r.fin, r.body.length);
          return true;
        },
      };
      return Promise.resolve(into);
    },
  };
}

// WebCrypto copies its input when called; a view over a plain ArrayBuffer is passed as it is
// (the copy that `BufferSource` typing would otherwise force is skipped).
function bufferSource(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer
    ? (bytes as Uint8Array<ArrayBuffer>)
    : new Uint8Array(bytes);
}

function makeWebCryptoBackend(subtle: SubtleCrypto): CipherBackend {
  return {
    name: 'webcrypto',
    // WebCrypto has no ChaCha20-Poly1305.
    supports: (aead) => aead !== 'AEAD_CHACHA20_POLY1305',
    async importKey(aead, key) {
      if (aead === 'AEAD_CHACHA20_POLY1305') {
        throw new ArgumentError('webcrypto has no ChaCha20-Poly1305', 'UNSUPPORTED');
      }
      const ck = await subtle.importKey('raw', key.slice(), { name: 'AES-GCM' }, false, [
        'encrypt',
        'decrypt',
      ]);
      const params = (nonce: Uint8Array, aad?: Uint8Array): AesGcmParams => ({
        name: 'AES-GCM',
        iv: bufferSource(nonce),
        tagLength: 128,
        ...(aad?.length ? { additionalData: bufferSource(aad) } : {}),
      });
      const seal = async (nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array) =>
        new Uint8Array(await subtle.encrypt(params(nonce, aad), ck, bufferSource(plaintext)));
      const open = async (nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array) => {
        try {
          return new Uint8Array(await subtle.decrypt(params(nonce, aad), ck, bufferSource(sealed)));
        } catch {
          return null;
        }
      };
      const into: AeadKeyInto = {
        seal,
        open,
        async sealInto(nonce, plaintext, out) {
          out.set(await seal(nonce, plaintext));
        },
        async openInto(nonce, sealed, out) {
          const plain = await open(nonce, sealed);
          if (!plain) return false;
          out.set(plain);
          return true;
        },
      };
      return into;
    },
  };
}

let nodeBackend: CipherBackend | null | undefined;
let webBackend: CipherBackend | null | undefined;

function nodeOrNull(): CipherBackend | null {
  if (nodeBackend === undefined) {
    const nc = loadNodeCrypto();
    nodeBackend = nc ? makeNodeBackend(nc) : null;
  }
  return nodeBackend;
}

function webOrNull(): CipherBackend | null {
  if (webBackend === undefined) {
    const subtle = (globalThis as { crypto?: { subtle?: SubtleCrypto } }).crypto?.subtle;
    webBackend = subtle ? makeWebCryptoBackend(subtle) : null;
  }
  return webBackend;
}

/**
 * The backends this runtime has, in order of preference for `native`.
 *
 * @example
 * ```ts
 * import { availableBackends } from 'simvault/crypto';
 * availableBackends(); // on Node: ['node', 'webcrypto', 'noble']
 * ```
 */
export function availableBackends(): BackendName[] {
  const out: BackendName[] = [];
  if (nodeOrNull()) out.push('node');
  if (webOrNull()) out.push('webcrypto');
  out.push('noble');
  return out;
}

/**
 * Resolve a backend choice. With an `aead`, `auto` picks the native backend only when it
 * supports that AEAD, and an explicit choice that cannot run it throws `UNSUPPORTED`.
 *
 * @example
 * ```ts
 * import { getBackend } from 'simvault/crypto';
 * getBackend('auto', 'AEAD_AES_256_GCM').name; // 'node' on Node.js
 * ```
 */
export function getBackend(choice: BackendChoice = 'auto', aead?: AeadName): CipherBackend {
  let backend: CipherBackend | null;
  switch (choice) {
    case 'noble':
      backend = nobleBackend;
      break;
    case 'node':
      backend = nodeOrNull();
      break;
    case 'webcrypto':
      backend = webOrNull();
      break;
    case 'native':
      backend = nodeOrNull() ?? webOrNull();
      break;
    case 'auto': {
      const native = nodeOrNull() ?? webOrNull();
      return native && (!aead || native.supports(aead)) ? native : nobleBackend;
    }
    default:
      throw new ArgumentError(
        `unknown backend '${String(choice)}' (noble, node, webcrypto, native, auto)`,
        'UNSUPPORTED',
      );
  }
  if (!backend)
    throw new ArgumentError(`backend '${choice}' is not available in this runtime`, 'UNSUPPORTED');
  if (aead && !backend.supports(aead)) {
    throw new ArgumentError(`backend '${backend.name}' cannot run ${aead}`, 'UNSUPPORTED');
  }
  return backend;
}

/**
 * Key an AEAD on a backend in the form the library uses internally. A key from a backend whose
 * `importKey` returns only {@link AeadKey} (a wrapped or instrumented one) gets the buffer
 * methods by copying.
 */
export async function importKeyInto(
  backend: CipherBackend,
  aead: AeadName,
  key: Uint8Array,
): Promise<AeadKeyInto> {
  const k = await backend.importKey(aead, key);
  if ('sealInto' in k && 'openInto' in k) return k as AeadKeyInto;
  return {
    seal: (nonce, plaintext, aad) => k.seal(nonce, plaintext, aad),
    open: (nonce, sealed, aad) => k.open(nonce, sealed, aad),
    async sealInto(nonce, plaintext, out) {
      out.set(await k.seal(nonce, plaintext));
    },
    async openInto(nonce, sealed, out) {
      const plain = await k.open(nonce, sealed);
      if (!plain) return false;
      out.set(plain);
      return true;
    },
  };
}
