/**
 * Secured packets over SMS (3GPP TS 31.115, ETSI TS 102 225; GlobalPlatform "SCP80"): command
 * packets sent to the card and response packets (proof of receipt, PoR) it sends back.
 *
 * ```
 * command:  [02 70 00] CPL(2) CHL SPI(2) KIc KID TAR(3) | CNTR(5) PCNTR RC/CC/DS data padding
 * response:  02 71 00  RPL(2) RHL TAR(3)                | CNTR(5) PCNTR status RC/CC/DS data padding
 * ```
 * Everything after the bar is ciphered when the SPI asks for it (CBC, zero IV, zero padding counted
 * in PCNTR). The checksum is computed over the plaintext packet without its own field: for a
 * command from CPL on (the `02 70 00` header is NOT covered), for a response from the `02 71 00`
 * header on (it IS covered). Keysets, accepted TARs and the minimum security level are
 * configuration passed in, never constants.
 *
 * @module
 */
import { cbc } from '@noble/ciphers/aes.js';
import { equalBytes } from '../bytes.js';
import { ArgumentError, CryptoError, ProtocolError } from '../errors.js';
import { aesCmac, crc16X25, crc32, tdesCbcMac } from './checksums.js';
import { tdesCbcDecrypt, tdesCbcEncrypt } from './des.js';
import { ByteReader } from './reader.js';
import { describeValue, isOneOf, isRecord } from '../validate.js';

/** The largest 5-byte counter value, 2⁴⁰ − 1. */
const COUNTER_MAX = (1n << 40n) - 1n;

/**
 * How the receiver treats the counter (SPI1 b5-b4).
 *
 * @example
 * ```ts
 * import type { CounterMode } from 'simvault/protocol';
 * const mode: CounterMode = 'must-be-higher';
 * ```
 */
export type CounterMode = 'none' | 'present-not-checked' | 'must-be-higher' | 'must-be-plus-one';

/**
 * Which integrity check a packet carries (SPI b2-b1): none, redundancy check (CRC), cryptographic
 * checksum, or digital signature.
 *
 * @example
 * ```ts
 * import type { IntegrityKind } from 'simvault/protocol';
 * const kind: IntegrityKind = 'cc';
 * ```
 */
export type IntegrityKind = 'none' | 'rc' | 'cc' | 'ds';

/**
 * When the card shall send a proof of receipt (SPI2 b2-b1).
 *
 * @example
 * ```ts
 * import type { PorRequest } from 'simvault/protocol';
 * const when: PorRequest = 'always';
 * ```
 */
export type PorRequest = 'none' | 'always' | 'on-error';

/**
 * The two security parameter indicator bytes, fully decoded.
 *
 * @example
 * ```ts
 * import type { Spi } from 'simvault/protocol';
 * const spi: Spi = {
 *   counter: 'none', ciphered: true, integrity: 'cc',
 *   porRequest: 'always', porIntegrity: 'cc', porCiphered: true, porViaSubmit: false,
 * };
 * ```
 */
export interface Spi {
  /** SPI1 b5-b4: counter handling. */
  counter: CounterMode;
  /** SPI1 b3: the command is ciphered. */
  ciphered: boolean;
  /** SPI1 b2-b1: the command's integrity check. */
  integrity: IntegrityKind;
  /** SPI2 b2-b1: whether a PoR is wanted. */
  porRequest: PorRequest;
  /** SPI2 b4-b3: the PoR's integrity check. */
  porIntegrity: IntegrityKind;
  /** SPI2 b5: the PoR is ciphered. */
  porCiphered: boolean;
  /** SPI2 b6: the PoR goes back in an SMS-SUBMIT (else in the SMS-DELIVER-REPORT). */
  porViaSubmit: boolean;
}

/**
 * Every {@link CounterMode}, in the order of their SPI1 b5-b4 value (`00` to `11`).
 *
 * @example
 * ```ts
 * import { COUNTER_MODES } from 'simvault/protocol';
 * COUNTER_MODES.indexOf('must-be-higher'); // 2
 * ```
 */
export const COUNTER_MODES: readonly CounterMode[] = [
  'none',
  'present-not-checked',
  'must-be-higher',
  'must-be-plus-one',
];

/**
 * Every {@link IntegrityKind}, in the order of their SPI1 b2-b1 value (`00` to `11`).
 *
 * @example
 * ```ts
 * import { INTEGRITY_KINDS } from 'simvault/protocol';
 * INTEGRITY_KINDS.indexOf('cc'); // 2
 * ```
 */
export const INTEGRITY_KINDS: readonly IntegrityKind[] = ['none', 'rc', 'cc', 'ds'];

/**
 * Every {@link PorRequest}, in the order of their SPI2 b2-b1 value (`00` to `10`).
 *
 * @example
 * ```ts
 * import { POR_REQUESTS } from 'simvault/protocol';
 * POR_REQUESTS[1]; // 'always'
 * ```
 */
export const POR_REQUESTS: readonly PorRequest[] = ['none', 'always', 'on-error'];

/**
 * The SPI simvault recommends for MT secured packets to a SIM (`16 29`): counter must be higher,
 * ciphered, cryptographic checksum, PoR always, with a cryptographic checksum, sent back in an
 * SMS-SUBMIT. Both the OTA server's default and the emulated SIM's personalization use it.
 *
 * @example
 * ```ts
 * import { encodeSpi, RECOMMENDED_MT_SPI } from 'simvault/protocol';
 * encodeSpi(RECOMMENDED_MT_SPI); // Uint8Array [0x16, 0x29]
 * ```
 */
export const RECOMMENDED_MT_SPI: Spi = Object.freeze({
  counter: 'must-be-higher',
  ciphered: true,
  integrity: 'cc',
  porRequest: 'always',
  porIntegrity: 'cc',
  porCiphered: false,
  porViaSubmit: true,
});

/**
 * Encode an {@link Spi} into its two bytes.
 *
 * @example
 * ```ts
 * import { encodeSpi } from 'simvault/protocol';
 * encodeSpi({ counter: 'none', ciphered: true, integrity: 'cc', porRequest: 'always',
 *   porIntegrity: 'cc', porCiphered: true, porViaSubmit: false }); // Uint8Array [0x06, 0x19]
 * ```
 */
export function encodeSpi(spi: Spi): Uint8Array {
  if (!isRecord(spi)) spiFail('SPI', 'must be an object');
  const counter = COUNTER_MODES.indexOf(spi.counter);
  if (counter < 0) spiFail('counter', `unknown counter mode ${describeValue(spi.counter)}`);
  const integrity = INTEGRITY_KINDS.indexOf(spi.integrity);
  if (integrity < 0) spiFail('integrity', `unknown integrity kind ${describeValue(spi.integrity)}`);
  const porIntegrity = INTEGRITY_KINDS.indexOf(spi.porIntegrity);
  if (porIntegrity < 0)
    spiFail('porIntegrity', `unknown integrity kind ${describeValue(spi.porIntegrity)}`);
  const por = POR_REQUESTS.indexOf(spi.porRequest);
  if (por < 0) spiFail('porRequest', `unknown PoR request ${describeValue(spi.porRequest)}`);
  if (typeof spi.ciphered !== 'boolean') spiFail('ciphered', 'must be a boolean');
  if (typeof spi.porCiphered !== 'boolean') spiFail('porCiphered', 'must be a boolean');
  if (typeof spi.porViaSubmit !== 'boolean') spiFail('porViaSubmit', 'must be a boolean');
  return new Uint8Array([
    (counter << 3) | (spi.ciphered ? 4 : 0) | integrity,
    (spi.porViaSubmit ? 0x20 : 0) | (spi.porCiphered ? 0x10 : 0) | (porIntegrity << 2) | por,
  ]);
}

// Hot paths avoid per-call closures: plain functions stay cheap under every bundler.
function spiFail(field: string, detail: string): never {
  throw new ProtocolError('PROTOCOL_BAD_VALUE', 'SPI', field, -1, detail);
}

/**
 * Decode the two SPI bytes. Reserved bits must be zero and the PoR request `11` is reserved.
 *
 * @example
 * ```ts
 * import { decodeSpi } from 'simvault/protocol';
 * decodeSpi(new Uint8Array([0x16, 0x21])).counter; // 'must-be-higher'
 * ```
 */
export function decodeSpi(bytes: Uint8Array, base = 0): Spi {
  const r = new ByteReader(bytes, 'SPI', 0, base);
  const spi1 = r.u8('SPI1');
  const spi2 = r.u8('SPI2');
  r.end();
  if (spi1 & 0xe0)
    r.fail('PROTOCOL_BAD_VALUE', 'SPI1', `reserved bits b8-b6 set (${hex8(spi1)})`, 0);
  if (spi2 & 0xc0)
    r.fail('PROTOCOL_BAD_VALUE', 'SPI2', `reserved bits b8-b7 set (${hex8(spi2)})`, 1);
  if ((spi2 & 3) === 3) r.fail('PROTOCOL_BAD_VALUE', 'SPI2', 'PoR request 11 is reserved', 1);
  return {
    counter: COUNTER_MODES[(spi1 >> 3) & 3]!,
    ciphered: (spi1 & 4) !== 0,
    integrity: INTEGRITY_KINDS[spi1 & 3]!,
    porRequest: POR_REQUESTS[spi2 & 3]!,
    porIntegrity: INTEGRITY_KINDS[(spi2 >> 2) & 3]!,
    porCiphered: (spi2 & 0x10) !== 0,
    porViaSubmit: (spi2 & 0x20) !== 0,
  };
}

/**
 * The algorithm named by the low nibble of KIc or KID. `unused` when the SPI does not use that
 * key (no ciphering for KIc, no integrity check for KID): its value is then not interpreted.
 *
 * @example
 * ```ts
 * import type { KeyAlgorithm } from 'simvault/protocol';
 * const alg: KeyAlgorithm = 'aes';
 * ```
 */
export type KeyAlgorithm =
  | 'implicit'
  | 'des-cbc'
  | '3des-2key'
  | '3des-3key'
  | 'des-ecb'
  | 'aes'
  | 'crc16'
  | 'crc32'
  | 'proprietary'
  | 'unused';

/**
 * The algorithms an OTA keyset's KIc and KID keys can be for: AES, or 3DES with two or three
 * keys. (The other {@link KeyAlgorithm} values name checksums or modes, not keysets.)
 *
 * @example
 * ```ts
 * import type { KeysetAlgorithm } from 'simvault/protocol';
 * const alg: KeysetAlgorithm = '3des-2key';
 * ```
 */
export type KeysetAlgorithm = 'aes' | '3des-2key' | '3des-3key';

/**
 * Every {@link KeysetAlgorithm}.
 *
 * @example
 * ```ts
 * import { KEYSET_ALGORITHMS } from 'simvault/protocol';
 * KEYSET_ALGORITHMS.includes('aes'); // true
 * ```
 */
export const KEYSET_ALGORITHMS: readonly KeysetAlgorithm[] = ['aes', '3des-2key', '3des-3key'];

/**
 * The key lengths in bytes a keyset algorithm takes: 16, 24 or 32 for AES, 16 for 2-key 3DES,
 * 24 for 3-key 3DES.
 *
 * @example
 * ```ts
 * import { keysetKeyLengths } from 'simvault/protocol';
 * keysetKeyLengths('3des-2key'); // [16]
 * ```
 */
export function keysetKeyLengths(algorithm: KeysetAlgorithm): readonly number[] {
  return algorithm === 'aes' ? [16, 24, 32] : algorithm === '3des-2key' ? [16] : [24];
}

/**
 * A decoded KIc or KID byte.
 *
 * @example
 * ```ts
 * import { decodeKeyIndicator } from 'simvault/protocol';
 * decodeKeyIndicator(0x22, 'cipher'); // { raw: 0x22, keyVersion: 2, algorithm: 'aes' }
 * ```
 */
export interface KeyIndicator {
  /** The byte as sent. */
  raw: number;
  /** High nibble: the key version number (keyset) to use. */
  keyVersion: number;
  /** Low nibble, interpreted for the key's role. */
  algorithm: KeyAlgorithm;
}

/**
 * What a KIc/KID byte is used for, which decides how its low nibble reads: `cipher` (KIc),
 * `cc` or `ds` (KID with a cryptographic checksum or signature), `rc` (KID with a CRC), `unused`.
 *
 * @example
 * ```ts
 * import type { KeyRole } from 'simvault/protocol';
 * const role: KeyRole = 'rc';
 * ```
 */
export type KeyRole = 'cipher' | 'cc' | 'ds' | 'rc' | 'unused';

const DES_FAMILY: readonly KeyAlgorithm[] = ['des-cbc', '3des-2key', '3des-3key', 'des-ecb'];

function algorithmOf(nibble: number, role: KeyRole): KeyAlgorithm | undefined {
  if (role === 'unused') return 'unused';
  const kind = nibble & 3;
  const sub = nibble >> 2;
  if (role === 'rc') {
    if (nibble === 0) return 'implicit';
    if (nibble === 3) return 'proprietary';
    if (nibble === 1) return 'crc16';
    if (nibble === 5) return 'crc32';
    return undefined;
  }
  if (nibble === 0) return 'implicit';
  if (nibble === 3) return 'proprietary';
  if (kind === 2) return sub === 0 ? 'aes' : undefined;
  if (kind === 1) {
    const alg = DES_FAMILY[sub]!;
    // DES in ECB mode is defined for ciphering only.
    return alg === 'des-ecb' && role !== 'cipher' ? undefined : alg;
  }
  return undefined;
}

/**
 * Decode a KIc or KID byte for its role. Throws a {@link ProtocolError} (`PROTOCOL_BAD_VALUE`) on a
 * reserved algorithm coding.
 *
 * @example
 * ```ts
 * import { decodeKeyIndicator } from 'simvault/protocol';
 * decodeKeyIndicator(0x35, 'cc').algorithm; // '3des-2key'
 * decodeKeyIndicator(0x15, 'rc').algorithm; // 'crc32'
 * ```
 */
export function decodeKeyIndicator(
  byte: number,
  role: KeyRole,
  structure = 'KeyIndicator',
  field = 'KI',
  offset = 0,
): KeyIndicator {
  if (!Number.isInteger(byte) || byte < 0 || byte > 255) {
    throw new ProtocolError('PROTOCOL_BAD_VALUE', structure, field, offset, 'must be a byte');
  }
  const algorithm = algorithmOf(byte & 15, role);
  if (algorithm === undefined) {
    throw new ProtocolError(
      'PROTOCOL_BAD_VALUE',
      structure,
      field,
      offset,
      `reserved ${role} algorithm coding ${hex8(byte)}`,
    );
  }
  return { raw: byte, keyVersion: byte >> 4, algorithm };
}

/**
 * Build a KIc/KID byte from a key version (0-15) and an algorithm name.
 *
 * @example
 * ```ts
 * import { encodeKeyIndicator } from 'simvault/protocol';
 * encodeKeyIndicator(2, 'aes'); // 0x22
 * encodeKeyIndicator(1, 'crc32'); // 0x15
 * ```
 */
export function encodeKeyIndicator(
  keyVersion: number,
  algorithm: Exclude<KeyAlgorithm, 'unused'>,
): number {
  if (!Number.isInteger(keyVersion) || keyVersion < 0 || keyVersion > 15) {
    throw new ProtocolError(
      'PROTOCOL_BAD_VALUE',
      'KeyIndicator',
      'keyVersion',
      -1,
      'must be 0..15',
    );
  }
  const nibbles: Record<Exclude<KeyAlgorithm, 'unused'>, number> = {
    implicit: 0,
    'des-cbc': 1,
    '3des-2key': 5,
    '3des-3key': 9,
    'des-ecb': 13,
    aes: 2,
    crc16: 1,
    crc32: 5,
    proprietary: 3,
  };
  if (!Object.hasOwn(nibbles, algorithm))
    throw new ProtocolError(
      'PROTOCOL_BAD_VALUE',
      'KeyIndicator',
      'algorithm',
      -1,
      `unknown algorithm ${describeValue(algorithm)}`,
    );
  return (keyVersion << 4) | nibbles[algorithm];
}

/**
 * Proof-of-receipt status codes (TS 102 225 table 5, TS 31.115), by name.
 *
 * @example
 * ```ts
 * import { POR_STATUS } from 'simvault/protocol';
 * POR_STATUS['counter-low']; // 0x02
 * ```
 */
export const POR_STATUS = {
  /** `00`: PoR OK. */
  ok: 0x00,
  /** `01`: RC/CC/DS failed. */
  'checksum-failed': 0x01,
  /** `02`: CNTR low. */
  'counter-low': 0x02,
  /** `03`: CNTR high. */
  'counter-high': 0x03,
  /** `04`: CNTR blocked. */
  'counter-blocked': 0x04,
  /** `05`: Ciphering error. */
  'ciphering-error': 0x05,
  /** `06`: Unidentified security error (the command header could not be interpreted). */
  'unidentified-security-error': 0x06,
  /** `07`: Insufficient memory to process the incoming message. */
  'insufficient-memory': 0x07,
  /** `08`: More time needed: a later response packet follows once processing is complete. */
  'more-time-needed': 0x08,
  /** `09`: TAR unknown. */
  'tar-unknown': 0x09,
  /** `0A`: Insufficient security level. */
  'insufficient-security-level': 0x0a,
  /** `0B` (TS 31.115): actual response data to be sent using SMS-SUBMIT. */
  'response-in-submit': 0x0b,
  /** `0C` (TS 31.115): actual response data to be sent using a PROCESS UNSTRUCTURED SS-REQUEST (USSD). */
  'response-in-ussd': 0x0c,
} as const;

/**
 * A PoR status name: a key of {@link POR_STATUS}.
 *
 * @example
 * ```ts
 * import type { PorStatus } from 'simvault/protocol';
 * const s: PorStatus = 'tar-unknown';
 * ```
 */
export type PorStatus = keyof typeof POR_STATUS;

const POR_STATUS_NAMES = Object.keys(POR_STATUS) as PorStatus[];

/**
 * The result of {@link checkCounter}: accept, or the PoR reason to refuse.
 *
 * @example
 * ```ts
 * import type { CounterVerdict } from 'simvault/protocol';
 * const v: CounterVerdict = 'low';
 * ```
 */
export type CounterVerdict = 'ok' | 'low' | 'high' | 'blocked';

function toCounter(value: bigint | number, name: string): bigint {
  let v: bigint;
  if (typeof value === 'bigint') v = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) v = BigInt(value);
  else throw new ArgumentError(`${name} must be an integer`);
  if (v < 0n || v > COUNTER_MAX) throw new ArgumentError(`${name} must be in 0..2^40-1`);
  return v;
}

/**
 * Judge a received counter against the last accepted one under a counter mode. Pure: the caller
 * stores `received` as the new last counter only after the packet's checksum verified and this
 * returned `ok`. `maxStep`, when given, bounds how far ahead a `must-be-higher` counter may jump
 * (a larger jump is `high`). A stored counter at 2⁴⁰−1 can never be exceeded: `blocked`.
 *
 * @example
 * ```ts
 * import { checkCounter } from 'simvault/protocol';
 * checkCounter('must-be-higher', 5n, 6n); // 'ok'
 * checkCounter('must-be-higher', 5n, 5n); // 'low'
 * checkCounter('must-be-plus-one', 5n, 7n); // 'high'
 * checkCounter('none', 5n, 0n); // 'ok'
 * ```
 */
export function checkCounter(
  mode: CounterMode,
  lastCounter: bigint | number,
  received: bigint | number,
  maxStep?: bigint | number,
): CounterVerdict {
  if (!COUNTER_MODES.includes(mode))
    throw new ArgumentError(`unknown counter mode ${describeValue(mode)}`);
  const last = toCounter(lastCounter, 'lastCounter');
  const got = toCounter(received, 'received');
  if (mode === 'none' || mode === 'present-not-checked') return 'ok';
  if (last === COUNTER_MAX) return 'blocked';
  if (got <= last) return 'low';
  if (mode === 'must-be-plus-one') return got === last + 1n ? 'ok' : 'high';
  if (maxStep !== undefined && got - last > toCounter(maxStep, 'maxStep')) return 'high';
  return 'ok';
}

/**
 * A counter refused by the receiver's replay check: `PROTOCOL_REPLAY`, with the verdict that
 * chooses the PoR status (counter low, high or blocked).
 *
 * @example
 * ```ts
 * import { CounterRejectedError } from 'simvault/protocol';
 * const e = new CounterRejectedError('low', 'CommandPacket', 12, 'counter 5 is not above 5');
 * e.code; // 'PROTOCOL_REPLAY'
 * ```
 */
export class CounterRejectedError extends ProtocolError {
  /** Why the counter was refused. */
  readonly verdict: Exclude<CounterVerdict, 'ok'>;

  /**
   * Create a `PROTOCOL_REPLAY` error for the CNTR field, keeping the replay-check verdict.
   *
   * @param verdict - low, high or blocked
   * @param structure - the packet structure
   * @param offset - offset of CNTR in the input
   * @param detail - what was wrong
   */
  constructor(
    verdict: Exclude<CounterVerdict, 'ok'>,
    structure: string,
    offset: number,
    detail: string,
  ) {
    super('PROTOCOL_REPLAY', structure, 'CNTR', offset, detail);
    this.verdict = verdict;
  }
}

/**
 * One keyset of a card: the ciphering key (for KIc) and the checksum key (for KID) of one key
 * version.
 *
 * @example
 * ```ts
 * import type { OtaKeyset } from 'simvault/protocol';
 * const ks: OtaKeyset = { version: 2, kic: new Uint8Array(16), kid: new Uint8Array(16) };
 * ```
 */
export interface OtaKeyset {
  /** The key version this keyset answers to; when given, a packet naming another version is refused. */
  version?: number;
  /** The ciphering key: 16/24/32 bytes for AES, 16 (2-key) or 24 (3-key) for 3DES. */
  kic?: Uint8Array;
  /** The checksum key, same lengths as {@link OtaKeyset.kic}. */
  kid?: Uint8Array;
}

/**
 * The keys of a secured-packet call: one keyset used as is, or a card's keysets chosen by the key
 * version in KIc/KID.
 *
 * @example
 * ```ts
 * import type { OtaKeys } from 'simvault/protocol';
 * const keys: OtaKeys = [{ version: 1, kid: new Uint8Array(16) }, { version: 2, kid: new Uint8Array(16) }];
 * ```
 */
export type OtaKeys = OtaKeyset | readonly OtaKeyset[];

/**
 * The least protection a receiver accepts. A packet weaker in any listed respect is refused with
 * `PROTOCOL_INSUFFICIENT_SECURITY` (PoR status `insufficient-security-level`). Integrity ranks
 * `none < rc < cc < ds`; counters rank
 * `none < present-not-checked < must-be-higher < must-be-plus-one`.
 *
 * @example
 * ```ts
 * import type { MinimumSecurityLevel } from 'simvault/protocol';
 * const msl: MinimumSecurityLevel = { ciphering: true, integrity: 'cc', counter: 'must-be-higher' };
 * ```
 */
export interface MinimumSecurityLevel {
  /** Require ciphering. */
  ciphering?: boolean;
  /** Require at least this integrity check. */
  integrity?: IntegrityKind;
  /** Require at least this counter mode. */
  counter?: CounterMode;
}

/**
 * What a receiver checks when it opens a command packet, beyond the checksum.
 *
 * @example
 * ```ts
 * import type { CommandPolicy } from 'simvault/protocol';
 * const policy: CommandPolicy = {
 *   tars: [new Uint8Array([0xb0, 0x00, 0x11])],
 *   minimumSecurity: { integrity: 'cc' },
 *   lastCounter: 41n,
 * };
 * ```
 */
export interface CommandPolicy {
  /** TARs served here; any other is refused with `PROTOCOL_UNKNOWN_TAG` (field `TAR`). Absent: any. */
  tars?: readonly Uint8Array[];
  /** The minimum security level. Absent: none. */
  minimumSecurity?: MinimumSecurityLevel;
  /** The last accepted counter of this key version; when given, the SPI's counter mode is enforced. */
  lastCounter?: bigint | number;
  /** For `must-be-higher`: the largest accepted jump over `lastCounter`. */
  maxCounterStep?: bigint | number;
}

/**
 * The fields of a command packet to build.
 *
 * @example
 * ```ts
 * import type { CommandPacketParams } from 'simvault/protocol';
 * const params: CommandPacketParams = {
 *   spi: { counter: 'must-be-higher', ciphered: true, integrity: 'cc', porRequest: 'always',
 *     porIntegrity: 'cc', porCiphered: false, porViaSubmit: true },
 *   kic: 0x12, kid: 0x12, tar: new Uint8Array([0xb0, 0, 0]), counter: 1n,
 *   data: new Uint8Array([0x80, 0xf2, 0x40, 0x00]),
 * };
 * ```
 */
export interface CommandPacketParams {
  /** Security parameters. */
  spi: Spi;
  /** The KIc byte: key version and ciphering algorithm. */
  kic: number;
  /** The KID byte: key version and checksum algorithm. */
  kid: number;
  /** Toolkit application reference, 3 bytes. */
  tar: Uint8Array;
  /** The counter, 0..2⁴⁰−1. */
  counter: bigint | number;
  /** The secured data (e.g. APDUs for the TAR's application). */
  data: Uint8Array;
  /** AES-CMAC length, 8 (default) or 4. DES checksums are always 8. */
  ccLength?: 4 | 8;
  /** Prefix the SMS user-data header `02 70 00`. */
  udh?: boolean;
}

/**
 * An opened (deciphered, verified) command packet.
 *
 * @example
 * ```ts
 * import type { CommandPacket } from 'simvault/protocol';
 * const show = (p: CommandPacket) => `${p.tar} ${p.counter}`;
 * ```
 */
export interface CommandPacket {
  /** Whether the input began with the `02 70 00` user-data header. */
  udh: boolean;
  /** Command packet length (CHL to the end). */
  cpl: number;
  /** Command header length (SPI to the end of RC/CC/DS). */
  chl: number;
  /** Security parameters. */
  spi: Spi;
  /** Ciphering key indicator. */
  kic: KeyIndicator;
  /** Checksum key indicator. */
  kid: KeyIndicator;
  /** Toolkit application reference, 3 bytes. */
  tar: Uint8Array;
  /** The counter. */
  counter: bigint;
  /** Number of padding bytes (PCNTR). */
  paddingCount: number;
  /** The RC/CC/DS bytes (empty when none). */
  checksum: Uint8Array;
  /** The secured data without its padding. */
  data: Uint8Array;
}

/**
 * The fields of a response packet (PoR) to build. The SPI, KIc and KID are those of the command it
 * answers: SPI2 decides whether the PoR is ciphered and which check it carries.
 *
 * @example
 * ```ts
 * import type { ResponsePacketParams } from 'simvault/protocol';
 * const params: ResponsePacketParams = {
 *   spi: { counter: 'none', ciphered: false, integrity: 'cc', porRequest: 'always',
 *     porIntegrity: 'cc', porCiphered: false, porViaSubmit: true },
 *   kic: 0x22, kid: 0x22, tar: new Uint8Array([0xb0, 0, 0x11]), counter: 0n,
 *   status: 'ok', data: new Uint8Array([0x01, 0x90, 0x00]),
 * };
 * ```
 */
export interface ResponsePacketParams {
  /** The command's SPI. */
  spi: Spi;
  /** The command's KIc byte. */
  kic: number;
  /** The command's KID byte. */
  kid: number;
  /** TAR, echoed from the command. */
  tar: Uint8Array;
  /** Counter, echoed from the command. */
  counter: bigint | number;
  /** Response status. */
  status: PorStatus;
  /** Additional response data (e.g. the number of commands run and the last status word). */
  data: Uint8Array;
  /** AES-CMAC length, 8 (default) or 4. */
  ccLength?: 4 | 8;
}

/**
 * What the receiver of a PoR knows from the command it sent. `tar` and `counter`, when given,
 * must be echoed exactly.
 *
 * @example
 * ```ts
 * import { decodeSpi, type ResponseExpectation } from 'simvault/protocol';
 * const expect: ResponseExpectation = { spi: decodeSpi(new Uint8Array([0x06, 0x19])), kic: 0x22, kid: 0x22 };
 * ```
 */
export interface ResponseExpectation {
  /** The command's SPI. */
  spi: Spi;
  /** The command's KIc byte. */
  kic: number;
  /** The command's KID byte. */
  kid: number;
  /** The TAR the command went to. */
  tar?: Uint8Array;
  /** The counter the command carried. */
  counter?: bigint | number;
}

/**
 * An opened (deciphered, verified) response packet.
 *
 * @example
 * ```ts
 * import type { ResponsePacket } from 'simvault/protocol';
 * const ok = (p: ResponsePacket) => p.status === 'ok';
 * ```
 */
export interface ResponsePacket {
  /** Response packet length (RHL to the end). */
  rpl: number;
  /** Response header length (TAR to the end of RC/CC/DS). */
  rhl: number;
  /** TAR, 3 bytes. */
  tar: Uint8Array;
  /** The echoed counter. */
  counter: bigint;
  /** Number of padding bytes (PCNTR). */
  paddingCount: number;
  /** Response status name. */
  status: PorStatus;
  /** Response status byte. */
  statusCode: number;
  /** The RC/CC/DS bytes (empty when none). */
  checksum: Uint8Array;
  /** Additional response data without padding. */
  data: Uint8Array;
}

const COMMAND_UDH = new Uint8Array([0x02, 0x70, 0x00]);
const RESPONSE_UDH = new Uint8Array([0x02, 0x71, 0x00]);

function hex8(v: number): string {
  return v.toString(16).padStart(2, '0');
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

// Counters are below 2^40, so plain doubles hold them exactly: cheaper than byte-wise BigInt math.
function counterBytes(counter: bigint): Uint8Array {
  const n = Number(counter);
  const hi = Math.floor(n / 0x100000000);
  const lo = n >>> 0;
  return new Uint8Array([hi & 0xff, lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff]);
}

function readCounter(r: ByteReader): bigint {
  const b = r.bytesView(5, 'CNTR');
  return BigInt(
    b[0]! * 0x100000000 + ((b[1]! << 24) >>> 0) + ((b[2]! << 16) | (b[3]! << 8) | b[4]!),
  );
}

/** Where a failure is reported: decoding (input offsets) or encoding (ArgumentError). */
interface Site {
  structure: string;
  encoding: boolean;
}

function siteFail(
  site: Site,
  code: ConstructorParameters<typeof ProtocolError>[0],
  field: string,
  offset: number,
  detail: string,
): never {
  throw new ProtocolError(code, site.structure, field, site.encoding ? -1 : offset, detail);
}

function blockSize(alg: KeyAlgorithm): number {
  return alg === 'aes' ? 16 : 8;
}

function resolveKey(
  keys: OtaKeys,
  which: 'kic' | 'kid',
  ki: KeyIndicator,
  site: Site,
  offset: number,
): Uint8Array {
  const sets: readonly OtaKeyset[] = Array.isArray(keys) ? keys : [keys as OtaKeyset];
  let key: Uint8Array | undefined;
  for (const k of sets) {
    if ((k.version === undefined || k.version === ki.keyVersion) && k[which] !== undefined) {
      key = k[which];
      break;
    }
  }
  const field = which === 'kic' ? 'KIc' : 'KID';
  if (key === undefined) {
    if (site.encoding) throw new ArgumentError(`no ${field} key for key version ${ki.keyVersion}`);
    siteFail(
      site,
      'PROTOCOL_BAD_VALUE',
      field,
      offset,
      `no ${field} key for key version ${ki.keyVersion}`,
    );
  }
  if (!(key instanceof Uint8Array))
    throw new ArgumentError(`the ${field} key must be a Uint8Array`);
  const ok =
    !isOneOf(ki.algorithm, KEYSET_ALGORITHMS) ||
    keysetKeyLengths(ki.algorithm).includes(key.length);
  if (!ok) {
    throw new CryptoError(
      'CRYPTO_BAD_KEY',
      `the ${field} key does not fit ${ki.algorithm} (${key.length} bytes)`,
    );
  }
  return key;
}

function checkCipherSupported(ki: KeyIndicator, site: Site, offset: number): void {
  if (!isOneOf(ki.algorithm, KEYSET_ALGORITHMS)) {
    if (site.encoding)
      throw new ArgumentError(
        `ciphering algorithm ${ki.algorithm} is not supported`,
        'UNSUPPORTED',
      );
    siteFail(
      site,
      'PROTOCOL_BAD_VALUE',
      'KIc',
      offset,
      `ciphering algorithm ${ki.algorithm} is not supported`,
    );
  }
}

/** The checksum lengths an SPI/KID pair allows, the default first (AES-CMAC allows 8 and 4). */
function integrityLengths(
  kind: IntegrityKind,
  kid: KeyIndicator,
  site: Site,
  offset: number,
): readonly number[] {
  if (kind === 'none') return LENGTHS_NONE;
  if (kind === 'ds')
    return unsupportedIntegrity(site, offset, 'digital signatures (DS) are not supported');
  if (kind === 'rc') {
    if (kid.algorithm === 'crc16') return LENGTHS_CRC16;
    if (kid.algorithm === 'crc32') return LENGTHS_CRC32;
    return unsupportedIntegrity(site, offset, `redundancy check ${kid.algorithm} is not supported`);
  }
  if (kid.algorithm === 'aes') return LENGTHS_CMAC;
  if (kid.algorithm === '3des-2key' || kid.algorithm === '3des-3key') return LENGTHS_DES_MAC;
  return unsupportedIntegrity(
    site,
    offset,
    `cryptographic checksum ${kid.algorithm} is not supported`,
  );
}

const LENGTHS_NONE: readonly number[] = [0];
const LENGTHS_CRC16: readonly number[] = [2];
const LENGTHS_CRC32: readonly number[] = [4];
const LENGTHS_CMAC: readonly number[] = [8, 4];
const LENGTHS_DES_MAC: readonly number[] = [8];

function unsupportedIntegrity(site: Site, offset: number, detail: string): never {
  if (site.encoding) throw new ArgumentError(detail, 'UNSUPPORTED');
  return siteFail(site, 'PROTOCOL_BAD_VALUE', 'KID', offset, detail);
}

/** The checksum length to build with: the default, or `ccLength` where the algorithm allows it. */
function chooseIntegrityLength(
  kind: IntegrityKind,
  kid: KeyIndicator,
  ccLength: unknown,
  site: Site,
): number {
  const allowed = integrityLengths(kind, kid, site, -1);
  if (ccLength === undefined || kind !== 'cc') return allowed[0]!;
  if (typeof ccLength !== 'number' || !allowed.includes(ccLength)) {
    siteFail(
      site,
      'PROTOCOL_BAD_LENGTH',
      'ccLength',
      -1,
      `a ${kid.algorithm} checksum is ${allowed.join(' or ')} bytes`,
    );
  }
  return ccLength;
}

function computeIntegrity(
  kind: IntegrityKind,
  kid: KeyIndicator,
  key: Uint8Array | undefined,
  input: Uint8Array,
  length: number,
): Uint8Array {
  if (kind === 'rc') {
    const out = new Uint8Array(length);
    const v = length === 2 ? crc16X25(input) : crc32(input);
    for (let i = 0; i < length; i++) out[i] = (v >>> (8 * (length - 1 - i))) & 0xff;
    return out;
  }
  if (kid.algorithm === 'aes') return aesCmac(key!, input, length);
  return tdesCbcMac(key!, input);
}

function encipher(alg: KeyAlgorithm, key: Uint8Array, data: Uint8Array): Uint8Array {
  if (alg === 'aes') return cbc(key, new Uint8Array(16), { disablePadding: true }).encrypt(data);
  return tdesCbcEncrypt(key, data);
}

function decipher(alg: KeyAlgorithm, key: Uint8Array, data: Uint8Array): Uint8Array {
  if (alg === 'aes') return cbc(key, new Uint8Array(16), { disablePadding: true }).decrypt(data);
  return tdesCbcDecrypt(key, data);
}

function checkTar(tar: unknown, site: Site): asserts tar is Uint8Array {
  if (!(tar instanceof Uint8Array) || tar.length !== 3)
    siteFail(site, 'PROTOCOL_BAD_LENGTH', 'TAR', -1, 'TAR must be 3 bytes');
}

function checkByte(v: unknown, site: Site, field: string): asserts v is number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255)
    siteFail(site, 'PROTOCOL_BAD_VALUE', field, -1, 'must be a byte 0..255');
}

function checkData(data: unknown, site: Site): asserts data is Uint8Array {
  if (!(data instanceof Uint8Array))
    siteFail(site, 'PROTOCOL_BAD_VALUE', 'data', -1, 'must be a Uint8Array');
}

function encodeCounter(counter: unknown, site: Site): bigint {
  try {
    return toCounter(counter as bigint | number, 'counter');
  } catch {
    return siteFail(site, 'PROTOCOL_BAD_VALUE', 'CNTR', -1, 'counter must be an integer 0..2^40-1');
  }
}

/** Options of {@link secure}: the keys and algorithms in force and the fields to protect. */
interface SecureOptions {
  ciphered: boolean;
  kic: KeyIndicator;
  kicKey: Uint8Array | undefined;
  integrity: IntegrityKind;
  kid: KeyIndicator;
  kidKey: Uint8Array | undefined;
  checksumLength: number;
  counter: bigint;
  /** Fields between PCNTR and the checksum: the status of a response, nothing for a command. */
  mid: number | undefined;
  data: Uint8Array;
}

/** Length of the secured part (CNTR .. end) including its padding. */
function securedLength(o: SecureOptions): number {
  const plainLen = 6 + (o.mid === undefined ? 0 : 1) + o.checksumLength + o.data.length;
  const bs = o.ciphered ? blockSize(o.kic.algorithm) : 1;
  return plainLen + ((bs - (plainLen % bs)) % bs);
}

/**
 * Write the secured part (CNTR .. end) at `out[at..]`, checksummed and ciphered as `o` says.
 * `out[coveredFrom..at]` is the clear prefix the checksum also covers (for a response it
 * includes the `02 71 00` header).
 */
function secure(o: SecureOptions, out: Uint8Array, coveredFrom: number, at: number): void {
  const total = out.length - at;
  const midLength = o.mid === undefined ? 0 : 1;
  const sumAt = 6 + midLength;
  const dataAt = sumAt + o.checksumLength;
  const pad = total - dataAt - o.data.length;
  // A fresh, aligned buffer: AES implementations copy unaligned views before working on them.
  const body = new Uint8Array(total);
  body.set(counterBytes(o.counter), 0);
  body[5] = pad;
  if (o.mid !== undefined) body[6] = o.mid;
  body.set(o.data, dataAt);
  if (o.integrity !== 'none') {
    const prefixLength = at - coveredFrom;
    const input = new Uint8Array(prefixLength + total - o.checksumLength);
    input.set(out.subarray(coveredFrom, at), 0);
    input.set(body.subarray(0, sumAt), prefixLength);
    input.set(body.subarray(dataAt), prefixLength + sumAt);
    body.set(computeIntegrity(o.integrity, o.kid, o.kidKey, input, o.checksumLength), sumAt);
  }
  out.set(o.ciphered ? encipher(o.kic.algorithm, o.kicKey!, body) : body, at);
}

/**
 * Build a secured command packet: bytes from CPL to the end, prefixed with `02 70 00` when
 * `params.udh` is set. The checksum length follows the KID algorithm (`ccLength` picks 4 or 8 for
 * AES-CMAC). Throws {@link ProtocolError} (offset -1) on invalid fields, {@link ArgumentError} on
 * a missing key or an unsupported algorithm, {@link CryptoError} on a key of the wrong length.
 *
 * @example
 * ```ts
 * import { buildCommandPacket, decodeSpi } from 'simvault/protocol';
 * import { fromHex, toHex } from 'simvault';
 * const packet = buildCommandPacket(
 *   { spi: decodeSpi(fromHex('0619')), kic: 0x22, kid: 0x22, tar: fromHex('b00011'), counter: 0n,
 *     data: fromHex('00a40004023f00') },
 *   { kic: fromHex('200102030405060708090a0b0c0d0e0f'), kid: fromHex('201102030405060708090a0b0c0d0e0f') },
 * );
 * toHex(packet).slice(0, 20); // '00281506192222b00011'
 * ```
 */
export function buildCommandPacket(params: CommandPacketParams, keys: OtaKeys): Uint8Array {
  const site: Site = { structure: 'CommandPacket', encoding: true };
  const spiBytes = encodeSpi(params.spi);
  const spi = params.spi;
  checkByte(params.kic, site, 'KIc');
  checkByte(params.kid, site, 'KID');
  checkTar(params.tar, site);
  checkData(params.data, site);
  const counter = encodeCounter(params.counter, site);
  const kic = decodeKeyIndicator(
    params.kic,
    spi.ciphered ? 'cipher' : 'unused',
    'CommandPacket',
    'KIc',
    -1,
  );
  const kid = decodeKeyIndicator(params.kid, kidRole(spi.integrity), 'CommandPacket', 'KID', -1);
  if (spi.ciphered) checkCipherSupported(kic, site, -1);
  const checksumLength = chooseIntegrityLength(spi.integrity, kid, params.ccLength, site);
  const kicKey = spi.ciphered ? resolveKey(keys, 'kic', kic, site, -1) : undefined;
  const kidKey = spi.integrity === 'cc' ? resolveKey(keys, 'kid', kid, site, -1) : undefined;
  const chl = 13 + checksumLength;
  const o: SecureOptions = {
    ciphered: spi.ciphered,
    kic,
    kicKey,
    integrity: spi.integrity,
    kid,
    kidKey,
    checksumLength,
    counter,
    mid: undefined,
    data: params.data,
  };
  const cpl = 8 + securedLength(o);
  if (cpl > 0xffff)
    siteFail(site, 'PROTOCOL_BAD_LENGTH', 'data', -1, `packet of ${cpl} bytes exceeds CPL's 65535`);
  const start = params.udh ? 3 : 0;
  const out = new Uint8Array(start + 2 + cpl);
  if (params.udh) out.set(COMMAND_UDH);
  out[start] = cpl >> 8;
  out[start + 1] = cpl & 0xff;
  out[start + 2] = chl;
  out.set(spiBytes, start + 3);
  out[start + 5] = params.kic;
  out[start + 6] = params.kid;
  out.set(params.tar, start + 7);
  secure(o, out, start, start + 10);
  return out;
}

function containsTar(tars: readonly Uint8Array[], tar: Uint8Array): boolean {
  for (const t of tars) if (t instanceof Uint8Array && equalBytes(t, tar)) return true;
  return false;
}

function kidRole(kind: IntegrityKind): KeyRole {
  return kind === 'none' ? 'unused' : kind;
}

const INTEGRITY_RANK: Record<IntegrityKind, number> = { none: 0, rc: 1, cc: 2, ds: 3 };

function checkMinimumSecurity(
  spi: Spi,
  msl: MinimumSecurityLevel,
  structure: string,
  offset: number,
): void {
  let detail: string | undefined;
  if (msl.ciphering && !spi.ciphered) detail = 'ciphering is required';
  else if (
    msl.integrity !== undefined &&
    INTEGRITY_RANK[spi.integrity] < INTEGRITY_RANK[msl.integrity]
  ) {
    detail = `integrity ${spi.integrity} is below the required ${msl.integrity}`;
  } else if (
    msl.counter !== undefined &&
    COUNTER_MODES.indexOf(spi.counter) < COUNTER_MODES.indexOf(msl.counter)
  ) {
    detail = `counter mode ${spi.counter} is below the required ${msl.counter}`;
  }
  if (detail !== undefined)
    throw new ProtocolError('PROTOCOL_INSUFFICIENT_SECURITY', structure, 'SPI', offset, detail);
}

/** Decipher the secured part and verify its checksum; returns the plaintext. */
function unsecure(opts: {
  r: ByteReader;
  site: Site;
  ciphered: boolean;
  kic: KeyIndicator;
  kicKey: Uint8Array | undefined;
  integrity: IntegrityKind;
  kid: KeyIndicator;
  kidKey: Uint8Array | undefined;
  checksumLength: number;
  midLength: number;
  covered: Uint8Array;
}): { plain: Uint8Array; checksum: Uint8Array; start: number } {
  const { r, site } = opts;
  const start = r.offset;
  const securedBytes = r.bytesView(r.remaining, 'secured data');
  let plain = securedBytes;
  if (opts.ciphered) {
    const bs = blockSize(opts.kic.algorithm);
    if (securedBytes.length % bs !== 0) {
      siteFail(
        site,
        'PROTOCOL_BAD_PADDING',
        'secured data',
        r.base + start,
        `ciphered length ${securedBytes.length} is not a multiple of ${bs}`,
      );
    }
    plain = decipher(opts.kic.algorithm, opts.kicKey!, securedBytes.slice());
  }
  const sumAt = 6 + opts.midLength;
  const checksum = plain.slice(sumAt, sumAt + opts.checksumLength);
  if (opts.integrity !== 'none') {
    const input = new Uint8Array(opts.covered.length + plain.length - opts.checksumLength);
    input.set(opts.covered, 0);
    input.set(plain.subarray(0, sumAt), opts.covered.length);
    input.set(plain.subarray(sumAt + opts.checksumLength), opts.covered.length + sumAt);
    const expected = computeIntegrity(
      opts.integrity,
      opts.kid,
      opts.kidKey,
      input,
      opts.checksumLength,
    );
    if (!equalBytes(expected, checksum)) {
      siteFail(
        site,
        'PROTOCOL_BAD_CHECKSUM',
        opts.integrity === 'rc' ? 'RC' : 'CC',
        r.base + start + sumAt,
        'checksum does not verify',
      );
    }
  }
  return { plain, checksum, start };
}

function checkPadding(
  plain: Uint8Array,
  pcntr: number,
  dataStart: number,
  ciphered: boolean,
  bs: number,
  site: Site,
  at: number,
): Uint8Array {
  const dataLen = plain.length - dataStart;
  if (!ciphered && pcntr !== 0)
    siteFail(site, 'PROTOCOL_BAD_PADDING', 'PCNTR', at, 'an unciphered packet has no padding');
  if (pcntr >= bs || pcntr > dataLen)
    siteFail(site, 'PROTOCOL_BAD_PADDING', 'PCNTR', at, `PCNTR ${pcntr} does not fit the padding`);
  for (let i = plain.length - pcntr; i < plain.length; i++) {
    if (plain[i] !== 0)
      siteFail(site, 'PROTOCOL_BAD_PADDING', 'padding', at, 'padding bytes must be zero');
  }
  return plain.slice(dataStart, plain.length - pcntr);
}

/** The clear header of a command packet, and where decoding continues. */
interface CommandHeader extends Pick<
  CommandPacket,
  'udh' | 'cpl' | 'chl' | 'spi' | 'kic' | 'kid' | 'tar'
> {
  checksumLength: number;
  covered: Uint8Array;
  r: ByteReader;
  offsets: { spi: number; kic: number; kid: number; tar: number };
}

function readCommandHeader(bytes: Uint8Array, checkIntegrityLength: boolean): CommandHeader {
  if (!(bytes instanceof Uint8Array))
    throw new ProtocolError(
      'PROTOCOL_BAD_VALUE',
      'CommandPacket',
      'input',
      0,
      'must be a Uint8Array',
    );
  const udh = startsWith(bytes, COMMAND_UDH);
  const body = udh ? bytes.subarray(3) : bytes;
  const base = udh ? 3 : 0;
  const r = new ByteReader(body, 'CommandPacket', 0, base);
  const cpl = r.u16('CPL');
  if (cpl > r.remaining)
    r.fail('PROTOCOL_TRUNCATED', 'CPL', `CPL ${cpl} but ${r.remaining} byte(s) follow`, 0);
  if (cpl < r.remaining)
    r.fail('PROTOCOL_TRAILING_BYTES', 'CPL', `CPL ${cpl} but ${r.remaining} byte(s) follow`, 0);
  const chlAt = r.offset;
  const chl = r.u8('CHL');
  if (chl < 13) r.fail('PROTOCOL_BAD_LENGTH', 'CHL', `CHL ${chl} is below 13`, chlAt);
  if (chl + 1 > cpl) r.fail('PROTOCOL_BAD_LENGTH', 'CHL', `CHL ${chl} exceeds CPL ${cpl}`, chlAt);
  const spiAt = r.offset;
  const spi = decodeSpi(r.bytesView(2, 'SPI'), base + spiAt);
  const kicAt = r.offset;
  const kic = decodeKeyIndicator(
    r.u8('KIc'),
    spi.ciphered ? 'cipher' : 'unused',
    'CommandPacket',
    'KIc',
    base + kicAt,
  );
  const kidAt = r.offset;
  const kid = decodeKeyIndicator(
    r.u8('KID'),
    kidRole(spi.integrity),
    'CommandPacket',
    'KID',
    base + kidAt,
  );
  const tarAt = r.offset;
  const tar = r.take(3, 'TAR');
  const checksumLength = chl - 13;
  if (checkIntegrityLength) {
    const site: Site = { structure: 'CommandPacket', encoding: false };
    const allowed = integrityLengths(spi.integrity, kid, site, base + kidAt);
    if (!allowed.includes(checksumLength)) {
      r.fail(
        'PROTOCOL_BAD_LENGTH',
        'CHL',
        `CHL ${chl} does not fit ${spi.integrity} with ${kid.algorithm} (expected ${allowed.map((n) => 13 + n).join(' or ')})`,
        chlAt,
      );
    }
  } else if (spi.integrity === 'none' && checksumLength !== 0) {
    r.fail('PROTOCOL_BAD_LENGTH', 'CHL', `CHL ${chl} with no integrity check (expected 13)`, chlAt);
  }
  return {
    udh,
    cpl,
    chl,
    spi,
    kic,
    kid,
    tar,
    checksumLength,
    covered: body.subarray(0, r.offset),
    r,
    offsets: { spi: base + spiAt, kic: base + kicAt, kid: base + kidAt, tar: base + tarAt },
  };
}

/**
 * Open a secured command packet (with or without its `02 70 00` header): check the TAR and the
 * minimum security level of `policy`, decipher, verify the checksum, check the padding and, when
 * `policy.lastCounter` is given, the counter. Throws {@link ProtocolError} with
 * `PROTOCOL_UNKNOWN_TAG` (TAR), `PROTOCOL_INSUFFICIENT_SECURITY`, `PROTOCOL_BAD_CHECKSUM`,
 * `PROTOCOL_BAD_PADDING`, {@link CounterRejectedError} (`PROTOCOL_REPLAY`) or a framing code;
 * `porStatusForError` maps each to the PoR status a card answers.
 *
 * @example
 * ```ts
 * import { buildCommandPacket, openCommandPacket, decodeSpi } from 'simvault/protocol';
 * const keys = { kic: new Uint8Array(16).fill(1), kid: new Uint8Array(16).fill(2) };
 * const spi = decodeSpi(new Uint8Array([0x16, 0x21]));
 * const bytes = buildCommandPacket({ spi, kic: 0x12, kid: 0x12, tar: new Uint8Array([1, 2, 3]),
 *   counter: 7n, data: new Uint8Array([0xa0]) }, keys);
 * const p = openCommandPacket(bytes, keys, { lastCounter: 6n, minimumSecurity: { integrity: 'cc' } });
 * p.counter; // 7n
 * ```
 */
export function openCommandPacket(
  bytes: Uint8Array,
  keys: OtaKeys,
  policy: CommandPolicy = {},
): CommandPacket {
  const site: Site = { structure: 'CommandPacket', encoding: false };
  const h = readCommandHeader(bytes, true);
  const { r, spi, kic, kid } = h;
  if (policy.tars && !containsTar(policy.tars, h.tar)) {
    r.fail(
      'PROTOCOL_UNKNOWN_TAG',
      'TAR',
      `TAR ${[...h.tar].map(hex8).join('')} is not served here`,
      h.offsets.tar - r.base,
    );
  }
  if (policy.minimumSecurity)
    checkMinimumSecurity(spi, policy.minimumSecurity, 'CommandPacket', h.offsets.spi);
  if (spi.ciphered) checkCipherSupported(kic, site, h.offsets.kic);
  const kicKey = spi.ciphered ? resolveKey(keys, 'kic', kic, site, h.offsets.kic) : undefined;
  const kidKey =
    spi.integrity === 'cc' ? resolveKey(keys, 'kid', kid, site, h.offsets.kid) : undefined;
  if (r.remaining < 6 + h.checksumLength) {
    r.fail(
      'PROTOCOL_TRUNCATED',
      'secured data',
      `needs ${6 + h.checksumLength} byte(s) for CNTR, PCNTR and the checksum`,
    );
  }
  const { plain, checksum, start } = unsecure({
    r,
    site,
    ciphered: spi.ciphered,
    kic,
    kicKey,
    integrity: spi.integrity,
    kid,
    kidKey,
    checksumLength: h.checksumLength,
    midLength: 0,
    covered: h.covered,
  });
  const pr = new ByteReader(plain, 'CommandPacket', 0, r.base + start);
  const counter = readCounter(pr);
  const pcntr = pr.u8('PCNTR');
  const data = checkPadding(
    plain,
    pcntr,
    6 + h.checksumLength,
    spi.ciphered,
    spi.ciphered ? blockSize(kic.algorithm) : 1,
    site,
    r.base + start + 5,
  );
  if (policy.lastCounter !== undefined) {
    const verdict = checkCounter(spi.counter, policy.lastCounter, counter, policy.maxCounterStep);
    if (verdict !== 'ok') {
      throw new CounterRejectedError(
        verdict,
        'CommandPacket',
        r.base + start,
        `counter ${counter} is ${verdict} against ${String(policy.lastCounter)} (${spi.counter})`,
      );
    }
  }
  return {
    udh: h.udh,
    cpl: h.cpl,
    chl: h.chl,
    spi,
    kic,
    kid,
    tar: h.tar,
    counter,
    paddingCount: pcntr,
    checksum,
    data,
  };
}

/**
 * Build a response packet (PoR), always with its `02 71 00` user-data header, which its checksum
 * covers. Ciphering and the check follow SPI2 of the command; the algorithms and key versions its
 * KIc/KID.
 *
 * @example
 * ```ts
 * import { buildResponsePacket, decodeSpi } from 'simvault/protocol';
 * import { toHex } from 'simvault';
 * const spi = decodeSpi(new Uint8Array([0x00, 0x01])); // PoR always, no security
 * const por = buildResponsePacket({ spi, kic: 0, kid: 0, tar: new Uint8Array([0xb0, 0, 0x11]),
 *   counter: 0n, status: 'ok', data: new Uint8Array([0x01, 0x61, 0x2f]) }, {});
 * toHex(por); // '027100000e0ab000110000000000000001612f'
 * ```
 */
export function buildResponsePacket(params: ResponsePacketParams, keys: OtaKeys): Uint8Array {
  const site: Site = { structure: 'ResponsePacket', encoding: true };
  encodeSpi(params.spi);
  const spi = params.spi;
  checkByte(params.kic, site, 'KIc');
  checkByte(params.kid, site, 'KID');
  checkTar(params.tar, site);
  checkData(params.data, site);
  const counter = encodeCounter(params.counter, site);
  if (!Object.hasOwn(POR_STATUS, params.status)) {
    siteFail(
      site,
      'PROTOCOL_BAD_VALUE',
      'status',
      -1,
      `unknown PoR status ${describeValue(params.status)}`,
    );
  }
  const statusCode = POR_STATUS[params.status];
  const kic = decodeKeyIndicator(
    params.kic,
    spi.porCiphered ? 'cipher' : 'unused',
    'ResponsePacket',
    'KIc',
    -1,
  );
  const kid = decodeKeyIndicator(
    params.kid,
    kidRole(spi.porIntegrity),
    'ResponsePacket',
    'KID',
    -1,
  );
  if (spi.porCiphered) checkCipherSupported(kic, site, -1);
  const checksumLength = chooseIntegrityLength(spi.porIntegrity, kid, params.ccLength, site);
  const kicKey = spi.porCiphered ? resolveKey(keys, 'kic', kic, site, -1) : undefined;
  const kidKey = spi.porIntegrity === 'cc' ? resolveKey(keys, 'kid', kid, site, -1) : undefined;
  const rhl = 10 + checksumLength;
  const o: SecureOptions = {
    ciphered: spi.porCiphered,
    kic,
    kicKey,
    integrity: spi.porIntegrity,
    kid,
    kidKey,
    checksumLength,
    counter,
    mid: statusCode,
    data: params.data,
  };
  const rpl = 4 + securedLength(o);
  if (rpl > 0xffff)
    siteFail(site, 'PROTOCOL_BAD_LENGTH', 'data', -1, `packet of ${rpl} bytes exceeds RPL's 65535`);
  const out = new Uint8Array(5 + rpl);
  out.set(RESPONSE_UDH);
  out[3] = rpl >> 8;
  out[4] = rpl & 0xff;
  out[5] = rhl;
  out.set(params.tar, 6);
  secure(o, out, 0, 9);
  return out;
}

/**
 * Open a response packet (PoR) that starts with its `02 71 00` header: decipher and verify it as
 * the command's SPI2/KIc/KID prescribe, and check the echoed TAR and counter when given. A
 * mismatched TAR is `PROTOCOL_UNKNOWN_TAG`, a mismatched counter `PROTOCOL_REPLAY`.
 *
 * @example
 * ```ts
 * import { openResponsePacket, decodeSpi } from 'simvault/protocol';
 * import { fromHex } from 'simvault';
 * const por = openResponsePacket(fromHex('027100000e0ab0001100000000000000016132'), {},
 *   { spi: decodeSpi(fromHex('0001')), kic: 0, kid: 0 });
 * por.status; // 'ok'
 * ```
 */
export function openResponsePacket(
  bytes: Uint8Array,
  keys: OtaKeys,
  expect: ResponseExpectation,
): ResponsePacket {
  const site: Site = { structure: 'ResponsePacket', encoding: false };
  encodeSpi(expect.spi);
  const spi = expect.spi;
  const h = readResponseHeader(bytes);
  const { r } = h;
  const kic = decodeKeyIndicator(
    expect.kic,
    spi.porCiphered ? 'cipher' : 'unused',
    'ResponsePacket',
    'KIc',
    -1,
  );
  const kid = decodeKeyIndicator(
    expect.kid,
    kidRole(spi.porIntegrity),
    'ResponsePacket',
    'KID',
    -1,
  );
  const checksumLength = h.rhl - 10;
  const allowed = integrityLengths(spi.porIntegrity, kid, site, h.rhlAt);
  if (!allowed.includes(checksumLength)) {
    r.fail(
      'PROTOCOL_BAD_LENGTH',
      'RHL',
      `RHL ${h.rhl} does not fit ${spi.porIntegrity} with ${kid.algorithm} (expected ${allowed.map((n) => 10 + n).join(' or ')})`,
      h.rhlAt - r.base,
    );
  }
  if (expect.tar !== undefined && !equalBytes(expect.tar, h.tar)) {
    r.fail(
      'PROTOCOL_UNKNOWN_TAG',
      'TAR',
      'TAR is not the one the command went to',
      h.tarAt - r.base,
    );
  }
  if (spi.porCiphered) checkCipherSupported(kic, site, h.rhlAt);
  const kicKey = spi.porCiphered ? resolveKey(keys, 'kic', kic, site, h.rhlAt) : undefined;
  const kidKey =
    spi.porIntegrity === 'cc' ? resolveKey(keys, 'kid', kid, site, h.rhlAt) : undefined;
  if (r.remaining < 7 + checksumLength) {
    r.fail(
      'PROTOCOL_TRUNCATED',
      'secured data',
      `needs ${7 + checksumLength} byte(s) for CNTR, PCNTR, status and the checksum`,
    );
  }
  const { plain, checksum, start } = unsecure({
    r,
    site,
    ciphered: spi.porCiphered,
    kic,
    kicKey,
    integrity: spi.porIntegrity,
    kid,
    kidKey,
    checksumLength,
    midLength: 1,
    covered: h.covered,
  });
  const pr = new ByteReader(plain, 'ResponsePacket', 0, r.base + start);
  const counter = readCounter(pr);
  const pcntr = pr.u8('PCNTR');
  const statusCode = pr.u8('status');
  const status =
    POR_STATUS_NAMES[statusCode] ??
    pr.fail('PROTOCOL_BAD_VALUE', 'status', `reserved status ${hex8(statusCode)}`, 6);
  const data = checkPadding(
    plain,
    pcntr,
    7 + checksumLength,
    spi.porCiphered,
    spi.porCiphered ? blockSize(kic.algorithm) : 1,
    site,
    r.base + start + 5,
  );
  if (expect.counter !== undefined && toCounter(expect.counter, 'expect.counter') !== counter) {
    throw new CounterRejectedError(
      counter < BigInt(expect.counter) ? 'low' : 'high',
      'ResponsePacket',
      r.base + start,
      'the PoR does not echo the command counter',
    );
  }
  return {
    rpl: h.rpl,
    rhl: h.rhl,
    tar: h.tar,
    counter,
    paddingCount: pcntr,
    status,
    statusCode,
    checksum,
    data,
  };
}

function readResponseHeader(bytes: Uint8Array) {
  if (!(bytes instanceof Uint8Array))
    throw new ProtocolError(
      'PROTOCOL_BAD_VALUE',
      'ResponsePacket',
      'input',
      0,
      'must be a Uint8Array',
    );
  const r = new ByteReader(bytes, 'ResponsePacket');
  const udh = r.bytesView(3, 'UDH');
  if (!equalBytes(udh, RESPONSE_UDH))
    r.fail('PROTOCOL_MISSING_FIELD', 'UDH', 'a response packet starts with 02 71 00', 0);
  const rpl = r.u16('RPL');
  if (rpl > r.remaining)
    r.fail('PROTOCOL_TRUNCATED', 'RPL', `RPL ${rpl} but ${r.remaining} byte(s) follow`, 3);
  if (rpl < r.remaining)
    r.fail('PROTOCOL_TRAILING_BYTES', 'RPL', `RPL ${rpl} but ${r.remaining} byte(s) follow`, 3);
  const rhlAt = r.offset;
  const rhl = r.u8('RHL');
  if (rhl < 10) r.fail('PROTOCOL_BAD_LENGTH', 'RHL', `RHL ${rhl} is below 10`, rhlAt);
  if (rhl + 1 > rpl) r.fail('PROTOCOL_BAD_LENGTH', 'RHL', `RHL ${rhl} exceeds RPL ${rpl}`, rhlAt);
  const tarAt = r.offset;
  const tar = r.take(3, 'TAR');
  return { r, rpl, rhl, rhlAt, tar, tarAt, covered: bytes.subarray(0, r.offset) };
}

/**
 * A secured packet parsed without keys, for display: the clear header, and the secured part as
 * bytes. For an unciphered command the secured part is parsed too. For a response the ciphering
 * is unknown without the command's SPI, so `asIfClear` is a parse that assumes it is clear
 * (absent when that parse fails).
 *
 * @example
 * ```ts
 * import { decodeSecuredPacketStructure } from 'simvault/protocol';
 * import { fromHex } from 'simvault';
 * const s = decodeSecuredPacketStructure(fromHex('027100000e0ab0001100000000000000016132'));
 * s.kind; // 'response'
 * ```
 */
export type SecuredPacketStructure =
  | (Pick<CommandPacket, 'udh' | 'cpl' | 'chl' | 'spi' | 'kic' | 'kid' | 'tar'> & {
      /** A command packet. */
      kind: 'command';
      /** Length of the RC/CC/DS field (CHL − 13). */
      checksumLength: number;
      /** The bytes from CNTR to the end, as sent (ciphered or not). */
      secured: Uint8Array;
      /** For an unciphered packet: its secured fields. */
      clear?: Pick<CommandPacket, 'counter' | 'paddingCount' | 'checksum' | 'data'>;
    })
  | {
      /** A response packet. */
      kind: 'response';
      /** Response packet length. */
      rpl: number;
      /** Response header length. */
      rhl: number;
      /** TAR. */
      tar: Uint8Array;
      /** Length of the RC/CC/DS field (RHL − 10). */
      checksumLength: number;
      /** The bytes from CNTR to the end, as sent. */
      secured: Uint8Array;
      /** The secured part read as if unciphered. */
      asIfClear?: {
        /** CNTR: the five-octet counter, copied from the command packet. */
        counter: bigint;
        /** PCNTR: the number of padding octets at the end of the additional response data. */
        paddingCount: number;
        /** The Response Status Code, by name. */
        status: PorStatus;
        /** The Response Status Code octet (see {@link POR_STATUS}). */
        statusCode: number;
        /** RC/CC/DS: the redundancy check, cryptographic checksum or digital signature. */
        checksum: Uint8Array;
        /** The additional response data, padding removed. */
        data: Uint8Array;
      };
    };

/**
 * Parse a secured packet's structure without keys (nothing is deciphered or verified): a response
 * if it starts with `02 71 00`, else a command with or without `02 70 00`.
 *
 * @example
 * ```ts
 * import { decodeSecuredPacketStructure } from 'simvault/protocol';
 * import { fromHex } from 'simvault';
 * const s = decodeSecuredPacketStructure(fromHex('00180d04193535b00000e3ec80a849b554421276af3883927c20'));
 * if (s.kind === 'command') s.spi.ciphered; // true
 * ```
 */
export function decodeSecuredPacketStructure(bytes: Uint8Array): SecuredPacketStructure {
  if (bytes instanceof Uint8Array && startsWith(bytes, RESPONSE_UDH)) {
    const h = readResponseHeader(bytes);
    const secured = h.r.rest();
    let asIfClear: Extract<SecuredPacketStructure, { kind: 'response' }>['asIfClear'];
    const cl = h.rhl - 10;
    if (secured.length >= 7 + cl) {
      const statusCode = secured[6]!;
      const status = POR_STATUS_NAMES[statusCode];
      const pcntr = secured[5]!;
      if (status !== undefined && pcntr <= secured.length - 7 - cl) {
        asIfClear = {
          counter: readCounter(new ByteReader(secured, 'ResponsePacket')),
          paddingCount: pcntr,
          status,
          statusCode,
          checksum: secured.slice(7, 7 + cl),
          data: secured.slice(7 + cl, secured.length - pcntr),
        };
      }
    }
    return {
      kind: 'response',
      rpl: h.rpl,
      rhl: h.rhl,
      tar: h.tar,
      checksumLength: cl,
      secured,
      ...(asIfClear ? { asIfClear } : {}),
    };
  }
  const h = readCommandHeader(bytes, false);
  const { r } = h;
  const securedAt = r.offset;
  if (!h.spi.ciphered && r.remaining < 6 + h.checksumLength) {
    r.fail(
      'PROTOCOL_TRUNCATED',
      'secured data',
      `needs ${6 + h.checksumLength} byte(s) for CNTR, PCNTR and the checksum`,
    );
  }
  const secured = r.rest();
  let clear: Extract<SecuredPacketStructure, { kind: 'command' }>['clear'];
  if (!h.spi.ciphered) {
    const pr = new ByteReader(secured, 'CommandPacket', 0, r.base + securedAt);
    const counter = readCounter(pr);
    const pcntr = pr.u8('PCNTR');
    if (pcntr !== 0)
      pr.fail('PROTOCOL_BAD_PADDING', 'PCNTR', 'an unciphered packet has no padding', 5);
    const checksum = pr.take(h.checksumLength, 'checksum');
    clear = { counter, paddingCount: 0, checksum, data: pr.rest() };
  }
  return {
    kind: 'command',
    udh: h.udh,
    cpl: h.cpl,
    chl: h.chl,
    spi: h.spi,
    kic: h.kic,
    kid: h.kid,
    tar: h.tar,
    checksumLength: h.checksumLength,
    secured,
    ...(clear ? { clear } : {}),
  };
}

/**
 * The PoR status a card answers for an error thrown by {@link openCommandPacket}.
 *
 * @example
 * ```ts
 * import { porStatusForError, ProtocolError } from 'simvault/protocol';
 * porStatusForError(new ProtocolError('PROTOCOL_BAD_CHECKSUM', 'CommandPacket', 'CC', 16, 'x')); // 'checksum-failed'
 * ```
 */
export function porStatusForError(error: unknown): PorStatus {
  if (error instanceof CounterRejectedError) return `counter-${error.verdict}`;
  if (!(error instanceof ProtocolError)) return 'unidentified-security-error';
  switch (error.code) {
    case 'PROTOCOL_BAD_CHECKSUM':
      return 'checksum-failed';
    case 'PROTOCOL_BAD_PADDING':
      return 'ciphering-error';
    case 'PROTOCOL_INSUFFICIENT_SECURITY':
      return 'insufficient-security-level';
    case 'PROTOCOL_UNKNOWN_TAG':
      return error.field === 'TAR' ? 'tar-unknown' : 'unidentified-security-error';
    default:
      return 'unidentified-security-error';
  }
}
