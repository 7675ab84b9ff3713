/**
 * The handset credential: the secret with which a handset proves to the OTA server that it holds
 * a SIM, so that only that handset reads the SIM's queue of mobile-terminated SMS. It is derived,
 * one way, from one of the SIM's OTA keysets, which the SIM and the OTA server already share: no
 * new secret is provisioned, the SIM hands it out (HANDSET CREDENTIAL, `docs/sim-apdus.md`), and
 * knowing it reveals nothing of KIc or KID. Layout and vectors: `docs/server.md`, "Handset
 * credential".
 *
 * @module
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { assertBytes, concatBytes, utf8 } from '../bytes.js';
import { ArgumentError } from '../errors.js';

/**
 * Length of a handset credential in bytes.
 *
 * @example
 * ```ts
 * import { HANDSET_CREDENTIAL_LENGTH } from './handset-credential.js';
 * HANDSET_CREDENTIAL_LENGTH; // 32
 * ```
 */
export const HANDSET_CREDENTIAL_LENGTH = 32;

/**
 * A handset credential as the SIM hands it out: which keyset it comes from, and the secret.
 *
 * @example
 * ```ts
 * import type { HandsetCredential } from './handset-credential.js';
 * const c: HandsetCredential = { keyVersion: 1, secret: new Uint8Array(32) };
 * ```
 */
export interface HandsetCredential {
  /** The key version (1-15) of the keyset it is derived from. */
  keyVersion: number;
  /** The 32-byte secret the handset signs its requests with. */
  secret: Uint8Array;
}

const SALT = utf8('simvault handset credential v1');
const ICCID = /^\d{10,20}$/;
const KEY_ID = /^handset\.(\d{10,20})\.([1-9]|1[0-5])$/;

function checkIccid(iccid: string): void {
  if (typeof iccid !== 'string' || !ICCID.test(iccid))
    throw new ArgumentError('iccid must be 10-20 decimal digits');
}

function checkKeyVersion(keyVersion: number): void {
  if (!Number.isInteger(keyVersion) || keyVersion < 1 || keyVersion > 15)
    throw new ArgumentError('keyVersion must be an integer 1-15');
}

/**
 * Derive the handset credential of SIM `iccid` from its keyset `keyVersion`:
 * HKDF-SHA256 with IKM = KIc ‖ KID, salt = "simvault handset credential v1" and info = the
 * ICCID's ASCII digits ‖ one byte key version; 32 bytes.
 *
 * @param iccid - the SIM's ICCID, 10-20 digits
 * @param keyVersion - the keyset's key version, 1-15
 * @param kic - the keyset's ciphering key
 * @param kid - the keyset's checksum key
 *
 * @example
 * ```ts
 * import { deriveHandsetCredential } from './handset-credential.js';
 * const secret = deriveHandsetCredential('89860012345678901234', 1, new Uint8Array(16), new Uint8Array(16));
 * secret.length; // 32
 * ```
 */
export function deriveHandsetCredential(
  iccid: string,
  keyVersion: number,
  kic: Uint8Array,
  kid: Uint8Array,
): Uint8Array {
  checkIccid(iccid);
  checkKeyVersion(keyVersion);
  assertBytes(kic, 'kic');
  assertBytes(kid, 'kid');
  if (kic.length === 0 || kid.length === 0)
    throw new ArgumentError('kic and kid must not be empty');
  const info = concatBytes(utf8(iccid), new Uint8Array([keyVersion]));
  return hkdf(sha256, concatBytes(kic, kid), SALT, info, HANDSET_CREDENTIAL_LENGTH);
}

/**
 * The key id a handset signs with: `handset.<ICCID>.<key version>`.
 *
 * @example
 * ```ts
 * import { handsetKeyId } from './handset-credential.js';
 * handsetKeyId('89860012345678901234', 1); // 'handset.89860012345678901234.1'
 * ```
 */
export function handsetKeyId(iccid: string, keyVersion: number): string {
  checkIccid(iccid);
  checkKeyVersion(keyVersion);
  return `handset.${iccid}.${keyVersion}`;
}

/**
 * Read a handset key id; `undefined` for anything else (a server's key id, a malformed one).
 *
 * @example
 * ```ts
 * import { parseHandsetKeyId } from './handset-credential.js';
 * parseHandsetKeyId('handset.89860012345678901234.1'); // { iccid: '89860012345678901234', keyVersion: 1 }
 * ```
 */
export function parseHandsetKeyId(
  keyId: string,
): { iccid: string; keyVersion: number } | undefined {
  const m = KEY_ID.exec(keyId);
  if (!m) return undefined;
  return { iccid: m[1]!, keyVersion: Number(m[2]) };
}
