/**
 * The per-SIM configuration of the OTA server and its validation: the SIM's keysets (KIc/KID keys
 * per key version), the TAR of its simvault application, the minimum security level its packets
 * must meet, and how packets to it are secured. TARs, key versions and security levels are
 * configuration, never constants (TS 102 225).
 *
 * @module
 */
import { fromHex, toHex } from '../../bytes.js';
import {
  decodeKeyIndicator,
  decodeSpi,
  encodeKeyIndicator,
  encodeSpi,
  type CounterMode,
  type IntegrityKind,
  type OtaKeyset,
  type Spi,
} from '../../protocol/secured-packet.js';
import { ServerError } from '../errors.js';

/**
 * The ciphering and checksum algorithms a keyset may use (AES-CBC/CMAC, or 3DES-CBC/MAC).
 *
 * @example
 * ```ts
 * import type { KeysetAlgorithm } from './sim-config.js';
 * const alg: KeysetAlgorithm = 'aes';
 * ```
 */
export type KeysetAlgorithm = 'aes' | '3des-2key' | '3des-3key';

/**
 * One keyset of a SIM.
 *
 * @example
 * ```ts
 * import type { SimKeyset } from './sim-config.js';
 * const ks: SimKeyset = { version: 1, algorithm: 'aes', kic: new Uint8Array(16), kid: new Uint8Array(16) };
 * ```
 */
export interface SimKeyset {
  /** Key version, 1-15: the high nibble of KIc/KID. */
  version: number;
  /** Algorithm of both keys. */
  algorithm: KeysetAlgorithm;
  /** The ciphering key. */
  kic: Uint8Array;
  /** The checksum key. */
  kid: Uint8Array;
}

/**
 * The minimum security level a SIM's packets must meet, every field given.
 *
 * @example
 * ```ts
 * import type { SimSecurityLevel } from './sim-config.js';
 * const msl: SimSecurityLevel = { ciphering: true, integrity: 'cc', counter: 'must-be-higher' };
 * ```
 */
export interface SimSecurityLevel {
  /** Packets must be ciphered. */
  ciphering: boolean;
  /** Least integrity check. */
  integrity: IntegrityKind;
  /** Least counter mode. */
  counter: CounterMode;
}

/**
 * Everything the OTA server knows about one SIM.
 *
 * @example
 * ```ts
 * import type { SimConfig } from './sim-config.js';
 * const spi = { counter: 'must-be-higher', ciphered: true, integrity: 'cc', porRequest: 'always',
 *   porIntegrity: 'cc', porCiphered: false, porViaSubmit: true } as const;
 * const sim: SimConfig = {
 *   iccid: '89860012345678901234', msisdn: '8613800000001', imsi: null, brand: null,
 *   tar: new Uint8Array([0xb0, 0x00, 0x10]),
 *   minimumSecurity: { ciphering: true, integrity: 'cc', counter: 'must-be-higher' }, maxCounterStep: null,
 *   mt: { spi, kic: 0x12, kid: 0x12 },
 *   keysets: [{ version: 1, algorithm: 'aes', kic: new Uint8Array(16), kid: new Uint8Array(16) }],
 * };
 * ```
 */
export interface SimConfig {
  /** ICCID, 10-20 digits: the SIM's key in the OTA server. */
  iccid: string;
  /** The SIM's MSISDN, when known (unique). */
  msisdn: string | null;
  /** The subscriber's IMSI, when known; passed to the card application server on bind. */
  imsi: string | null;
  /** The subscriber's brand, when known; passed to the card application server on bind. */
  brand: string | null;
  /** TAR of the SIM's simvault toolkit application, 3 bytes. */
  tar: Uint8Array;
  /** What the SIM's packets must meet. */
  minimumSecurity: SimSecurityLevel;
  /** The largest accepted counter jump of a `must-be-higher` packet, or no bound. */
  maxCounterStep: number | null;
  /** How packets to the SIM are secured: SPI and the KIc/KID bytes (key version and algorithm). */
  mt: { spi: Spi; kic: number; kid: number };
  /** The SIM's keysets, by key version. */
  keysets: SimKeyset[];
}

/**
 * The JSON an operator sends to provision a SIM (`PUT /operator/sims/:iccid`). Keys are hex;
 * `mt.spi` is 4 hex digits; `mt.keyVersion` defaults to the highest keyset.
 *
 * @example
 * ```ts
 * import type { SimConfigInput } from './sim-config.js';
 * const input: SimConfigInput = {
 *   msisdn: '8613800000001', tar: 'b00010',
 *   keysets: [{ version: 1, algorithm: 'aes', kic: '00'.repeat(16), kid: '11'.repeat(16) }],
 * };
 * ```
 */
export interface SimConfigInput {
  /** The SIM's ICCID; when given it must be the one the configuration is provisioned for. */
  iccid?: string;
  /** MSISDN, 5-15 digits. */
  msisdn?: string | null;
  /** IMSI, 6-15 digits. */
  imsi?: string | null;
  /** Brand label. */
  brand?: string | null;
  /** TAR, 6 hex digits. */
  tar: string;
  /** Keysets, at least one. */
  keysets: {
    /** Key version, 1-15. */
    version: number;
    /** Algorithm of both keys (default `aes`). */
    algorithm?: KeysetAlgorithm;
    /** Ciphering key, hex. */
    kic: string;
    /** Checksum key, hex. */
    kid: string;
  }[];
  /** Minimum security level; default ciphered, CC, counter must be higher. */
  minimumSecurity?: Partial<SimSecurityLevel>;
  /** Largest accepted counter jump; default none. */
  maxCounterStep?: number | null;
  /** Securing of packets to the SIM. */
  mt?: {
    /** SPI, 4 hex digits (default 1629: see `DEFAULT_MT_SPI`). */
    spi?: string;
    /** The keyset to secure them with (default the highest version). */
    keyVersion?: number;
  };
}

/**
 * The SPI of packets to a SIM unless configured otherwise: counter must be higher, ciphered,
 * cryptographic checksum, PoR always, with a checksum, sent back in an SMS-SUBMIT.
 *
 * @example
 * ```ts
 * import { DEFAULT_MT_SPI } from './sim-config.js';
 * import { encodeSpi } from '../../protocol/secured-packet.js';
 * encodeSpi(DEFAULT_MT_SPI); // 16 29
 * ```
 */
export const DEFAULT_MT_SPI: Spi = {
  counter: 'must-be-higher',
  ciphered: true,
  integrity: 'cc',
  porRequest: 'always',
  porIntegrity: 'cc',
  porCiphered: false,
  porViaSubmit: true,
};

const INTEGRITY: readonly IntegrityKind[] = ['none', 'rc', 'cc', 'ds'];
const COUNTER: readonly CounterMode[] = [
  'none',
  'present-not-checked',
  'must-be-higher',
  'must-be-plus-one',
];
const ALGORITHMS: readonly KeysetAlgorithm[] = ['aes', '3des-2key', '3des-3key'];

function bad(field: string, detail: string): never {
  throw new ServerError('SERVER_BAD_REQUEST', `${field}: ${detail}`);
}

function digits(value: unknown, field: string, min: number, max: number): string {
  if (typeof value !== 'string' || !new RegExp(`^\\d{${min},${max}}$`).test(value))
    bad(field, `must be ${min}-${max} decimal digits`);
  return value;
}

function optional<T>(value: unknown, parse: (v: unknown) => T): T | null {
  return value === undefined || value === null ? null : parse(value);
}

function hexBytes(value: unknown, field: string, lengths: readonly number[]): Uint8Array {
  if (typeof value !== 'string' || !/^([0-9a-fA-F]{2})+$/.test(value)) bad(field, 'must be hex');
  const bytes = fromHex(value);
  if (!lengths.includes(bytes.length)) bad(field, `must be ${lengths.join(' or ')} bytes`);
  return bytes;
}

function keyLengths(algorithm: KeysetAlgorithm): readonly number[] {
  return algorithm === 'aes' ? [16, 24, 32] : algorithm === '3des-2key' ? [16] : [24];
}

/**
 * An ICCID path or body value: 10-20 decimal digits, else `SERVER_BAD_REQUEST`.
 *
 * @example
 * ```ts
 * import { parseIccid } from './sim-config.js';
 * parseIccid('89860012345678901234'); // '89860012345678901234'
 * ```
 */
export function parseIccid(value: unknown, field = 'iccid'): string {
  return digits(value, field, 10, 20);
}

/**
 * An MSISDN: 5-15 decimal digits, else `SERVER_BAD_REQUEST`.
 *
 * @example
 * ```ts
 * import { parseMsisdn } from './sim-config.js';
 * parseMsisdn('8613800000001'); // '8613800000001'
 * ```
 */
export function parseMsisdn(value: unknown, field = 'msisdn'): string {
  return digits(value, field, 5, 15);
}

/**
 * Validate an operator's SIM configuration; every failure is `SERVER_BAD_REQUEST` naming the field.
 *
 * @example
 * ```ts
 * import { parseSimConfig } from './sim-config.js';
 * const sim = parseSimConfig('89860012345678901234', {
 *   tar: 'b00010', keysets: [{ version: 1, kic: '00'.repeat(16), kid: '11'.repeat(16) }],
 * });
 * sim.mt.kic; // 0x12: key version 1, AES
 * ```
 */
export function parseSimConfig(iccid: string, input: unknown): SimConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    bad('body', 'must be a JSON object');
  const v = input as Record<string, unknown>;
  const known = new Set([
    'iccid',
    'msisdn',
    'imsi',
    'brand',
    'tar',
    'keysets',
    'minimumSecurity',
    'maxCounterStep',
    'mt',
  ]);
  for (const k of Object.keys(v)) if (!known.has(k)) bad(k, 'unknown field');
  // `simvault sim create --json` prints the ICCID with the rest: accepted when it names this SIM.
  if (v['iccid'] !== undefined) {
    const named = parseIccid(v['iccid']);
    if (named !== iccid) bad('iccid', `the configuration is for SIM ${named}, not ${iccid}`);
  }
  const tar = hexBytes(v['tar'], 'tar', [3]);
  if (!Array.isArray(v['keysets']) || v['keysets'].length < 1 || v['keysets'].length > 15)
    bad('keysets', 'must be a list of 1-15 keysets');
  const keysets: SimKeyset[] = v['keysets'].map((raw: unknown, i: number) => {
    const f = `keysets[${i}]`;
    if (typeof raw !== 'object' || raw === null) bad(f, 'must be an object');
    const k = raw as Record<string, unknown>;
    const version = k['version'];
    if (typeof version !== 'number' || !Number.isInteger(version) || version < 1 || version > 15)
      bad(`${f}.version`, 'must be 1-15');
    const algorithm = (k['algorithm'] ?? 'aes') as KeysetAlgorithm;
    if (!ALGORITHMS.includes(algorithm))
      bad(`${f}.algorithm`, `must be one of ${ALGORITHMS.join(', ')}`);
    return {
      version,
      algorithm,
      kic: hexBytes(k['kic'], `${f}.kic`, keyLengths(algorithm)),
      kid: hexBytes(k['kid'], `${f}.kid`, keyLengths(algorithm)),
    };
  });
  if (new Set(keysets.map((k) => k.version)).size !== keysets.length)
    bad('keysets', 'key versions must be distinct');
  keysets.sort((a, b) => a.version - b.version);

  const given: unknown = v['minimumSecurity'] ?? {};
  if (typeof given !== 'object' || given === null) bad('minimumSecurity', 'must be an object');
  const m = given as Record<string, unknown>;
  const ciphering = m['ciphering'] ?? true;
  if (typeof ciphering !== 'boolean') bad('minimumSecurity.ciphering', 'must be a boolean');
  const integrity = (m['integrity'] ?? 'cc') as IntegrityKind;
  if (!INTEGRITY.includes(integrity))
    bad('minimumSecurity.integrity', `must be one of ${INTEGRITY.join(', ')}`);
  const counter = (m['counter'] ?? 'must-be-higher') as CounterMode;
  if (!COUNTER.includes(counter))
    bad('minimumSecurity.counter', `must be one of ${COUNTER.join(', ')}`);

  const step = v['maxCounterStep'];
  if (
    step !== undefined &&
    step !== null &&
    (typeof step !== 'number' || !Number.isSafeInteger(step) || step < 1)
  ) {
    bad('maxCounterStep', 'must be a positive integer');
  }

  const givenMt: unknown = v['mt'] ?? {};
  if (typeof givenMt !== 'object' || givenMt === null) bad('mt', 'must be an object');
  const mt = givenMt as Record<string, unknown>;
  let spi = DEFAULT_MT_SPI;
  if (mt['spi'] !== undefined) {
    try {
      spi = decodeSpi(hexBytes(mt['spi'], 'mt.spi', [2]));
    } catch (e) {
      if (e instanceof ServerError) throw e;
      bad('mt.spi', (e as Error).message);
    }
  }
  const mtVersion = mt['keyVersion'] ?? keysets.at(-1)!.version;
  const keyset = keysets.find((k) => k.version === mtVersion);
  if (keyset === undefined) bad('mt.keyVersion', 'must name one of the keysets');
  const indicator = encodeKeyIndicator(keyset.version, keyset.algorithm);

  return {
    iccid,
    msisdn: optional(v['msisdn'], (x) => parseMsisdn(x)),
    imsi: optional(v['imsi'], (x) => digits(x, 'imsi', 6, 15)),
    brand: optional(v['brand'], (x) => {
      if (typeof x !== 'string' || x.length < 1 || x.length > 64 || /\p{Cc}/u.test(x))
        bad('brand', 'must be 1-64 printable characters');
      return x;
    }),
    tar,
    minimumSecurity: { ciphering, integrity, counter },
    maxCounterStep: step === undefined || step === null ? null : step,
    mt: { spi, kic: indicator, kid: indicator },
    keysets,
  };
}

/**
 * The keys of a SIM in the form the secured-packet codec takes (chosen by key version).
 *
 * @example
 * ```ts
 * import { otaKeysOf } from './sim-config.js';
 * otaKeysOf([{ version: 1, algorithm: 'aes', kic: new Uint8Array(16), kid: new Uint8Array(16) }])[0]!.version; // 1
 * ```
 */
export function otaKeysOf(keysets: readonly SimKeyset[]): OtaKeyset[] {
  return keysets.map((k) => ({ version: k.version, kic: k.kic, kid: k.kid }));
}

/**
 * A SIM's configuration as the OTA server reports it to operators: keys left out, bytes in hex.
 *
 * @example
 * ```ts
 * import type { ProvisionedSim } from 'simvault/server';
 * const describe = (s: ProvisionedSim) => `${s.iccid} TAR ${s.tar} SPI ${s.mt.spi}`;
 * ```
 */
export interface ProvisionedSim {
  /** ICCID. */
  iccid: string;
  /** MSISDN, when known. */
  msisdn: string | null;
  /** IMSI, when known. */
  imsi: string | null;
  /** Brand, when known. */
  brand: string | null;
  /** TAR of the SIM's simvault application, 6 hex digits. */
  tar: string;
  /** What the SIM's packets must meet. */
  minimumSecurity: SimSecurityLevel;
  /** The largest accepted counter jump, or no bound. */
  maxCounterStep: number | null;
  /** How packets to the SIM are secured. */
  mt: {
    /** SPI, 4 hex digits. */
    spi: string;
    /** KIc byte, 2 hex digits. */
    kic: string;
    /** KID byte, 2 hex digits. */
    kid: string;
    /** The key version securing them. */
    keyVersion: number;
  };
  /** The SIM's keysets: version and algorithm, never the keys. */
  keysets: {
    /** Key version. */
    version: number;
    /** Algorithm. */
    algorithm: KeysetAlgorithm;
  }[];
}

/**
 * A SIM's configuration as JSON for operators, keys left out.
 *
 * @example
 * ```ts
 * import { parseSimConfig, simConfigToJSON } from './sim-config.js';
 * const sim = parseSimConfig('89860012345678901234', { tar: 'b00010', keysets: [{ version: 1, kic: '00'.repeat(16), kid: '11'.repeat(16) }] });
 * simConfigToJSON(sim).mt.spi; // '1629'
 * ```
 */
export function simConfigToJSON(sim: SimConfig): ProvisionedSim {
  return {
    iccid: sim.iccid,
    msisdn: sim.msisdn,
    imsi: sim.imsi,
    brand: sim.brand,
    tar: toHex(sim.tar),
    minimumSecurity: sim.minimumSecurity,
    maxCounterStep: sim.maxCounterStep,
    mt: {
      spi: toHex(encodeSpi(sim.mt.spi)),
      kic: toHex(new Uint8Array([sim.mt.kic])),
      kid: toHex(new Uint8Array([sim.mt.kid])),
      keyVersion: decodeKeyIndicator(sim.mt.kid, 'unused').keyVersion,
    },
    keysets: sim.keysets.map((k) => ({ version: k.version, algorithm: k.algorithm })),
  };
}
