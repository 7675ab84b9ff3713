/**
 * The content-encryption suites: C2SP chunked-encryption instantiations. Each has a one-byte id
 * that formats record next to the ciphertext, so a reader never guesses the suite.
 *
 * @module
 */
import { ArgumentError } from '../errors.js';

/**
 * The AEADs the suites use, by their IANA registry names (these names enter the key derivation).
 *
 * @example
 * ```ts
 * import type { AeadName } from 'simvault/crypto';
 * const aead: AeadName = 'AEAD_AES_256_GCM';
 * ```
 */
export type AeadName = 'AEAD_AES_128_GCM' | 'AEAD_AES_256_GCM' | 'AEAD_CHACHA20_POLY1305';

/**
 * Names of the supported suites.
 *
 * @example
 * ```ts
 * import type { SuiteName } from 'simvault/crypto';
 * const suite: SuiteName = 'cobblestone-256';
 * ```
 */
export type SuiteName = 'cobblestone-256' | 'cobblestone-128' | 'cobblestone-chacha20poly1305';

/**
 * One chunked-encryption instantiation: HKDF-Expand with SHA-512 over one AEAD.
 *
 * @example
 * ```ts
 * import { getSuite } from 'simvault/crypto';
 * getSuite('cobblestone-256').keyLength; // 32
 * ```
 */
export interface Suite {
  /** Stable name, as used on the command line. */
  readonly name: SuiteName;
  /** One-byte id recorded in envelope and card headers. */
  readonly id: number;
  /** The AEAD, by IANA name. */
  readonly aead: AeadName;
  /** Input key and AEAD key length in bytes. */
  readonly keyLength: number;
  /** AEAD nonce length in bytes. */
  readonly nonceLength: 12;
  /** AEAD tag length in bytes. */
  readonly tagLength: 16;
}

/**
 * Every suite by name.
 * - `cobblestone-256`: SHA-512 + AES-256-GCM, the standard's compliance instantiation (default).
 * - `cobblestone-128`: SHA-512 + AES-128-GCM, the standard's recommended instantiation.
 * - `cobblestone-chacha20poly1305`: the same construction over ChaCha20-Poly1305, fastest in
 *   pure JavaScript where no native AES is available.
 *
 * @example
 * ```ts
 * import { SUITES } from 'simvault/crypto';
 * Object.keys(SUITES); // ['cobblestone-256', 'cobblestone-128', 'cobblestone-chacha20poly1305']
 * ```
 */
export const SUITES: Readonly<Record<SuiteName, Suite>> = Object.freeze({
  'cobblestone-256': {
    name: 'cobblestone-256',
    id: 1,
    aead: 'AEAD_AES_256_GCM',
    keyLength: 32,
    nonceLength: 12,
    tagLength: 16,
  },
  'cobblestone-chacha20poly1305': {
    name: 'cobblestone-chacha20poly1305',
    id: 2,
    aead: 'AEAD_CHACHA20_POLY1305',
    keyLength: 32,
    nonceLength: 12,
    tagLength: 16,
  },
  'cobblestone-128': {
    name: 'cobblestone-128',
    id: 3,
    aead: 'AEAD_AES_128_GCM',
    keyLength: 16,
    nonceLength: 12,
    tagLength: 16,
  },
});

/**
 * The default suite: `cobblestone-256`.
 *
 * @example
 * ```ts
 * import { DEFAULT_SUITE } from 'simvault/crypto';
 * DEFAULT_SUITE; // 'cobblestone-256'
 * ```
 */
export const DEFAULT_SUITE: SuiteName = 'cobblestone-256';

/**
 * Look a suite up by name; throws `UNSUPPORTED` for an unknown name.
 *
 * @example
 * ```ts
 * import { getSuite } from 'simvault/crypto';
 * getSuite('cobblestone-chacha20poly1305').aead; // 'AEAD_CHACHA20_POLY1305'
 * ```
 */
export function getSuite(name: string): Suite {
  const suite = (SUITES as Record<string, Suite>)[name];
  if (!suite)
    throw new ArgumentError(
      `unknown suite '${name}' (known: ${Object.keys(SUITES).join(', ')})`,
      'UNSUPPORTED',
    );
  return suite;
}

/**
 * Look a suite up by its one-byte id; throws `UNSUPPORTED` for an unknown id.
 *
 * @example
 * ```ts
 * import { suiteById } from 'simvault/crypto';
 * suiteById(1).name; // 'cobblestone-256'
 * ```
 */
export function suiteById(id: number): Suite {
  const suite = Object.values(SUITES).find((s) => s.id === id);
  if (!suite) throw new ArgumentError(`unknown suite id ${id}`, 'UNSUPPORTED');
  return suite;
}
