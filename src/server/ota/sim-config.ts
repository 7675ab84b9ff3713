/**
 * The per-SIM configuration of the OTA server and its validation: the SIM's keysets (KIc/KID keys
 * per key version), the TAR of its simvault application, the minimum security level its packets
 * must meet, and how packets to it are secured. TARs, key versions and security levels are
 * configuration, never constants (TS 102 225).
 *
 * @module
 */
import { toHex } from '../../bytes.js';
import {
  COUNTER_MODES,
  decodeKeyIndicator,
  decodeSpi,
  encodeKeyIndicator,
  encodeSpi,
  INTEGRITY_KINDS,
  KEYSET_ALGORITHMS,
  keysetKeyLengths,
  RECOMMENDED_MT_SPI,
  type CounterMode,
  type IntegrityKind,
  type KeysetAlgorithm,
  type OtaKeyset,
  type Spi,
} from '../../protocol/secured-packet.js';
import { SimvaultError } from '../../errors.js';
import { isRecord } from '../../validate.js';
import { parseIccid, parseImsi, parseMsisdn, requestFields } from '../request-fields.js';

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
    /** SPI, 4 hex digits (default 1629: see `RECOMMENDED_MT_SPI` in simvault/protocol). */
    spi?: string;
    /** The keyset to secure them with (default the highest version). */
    keyVersion?: number;
  };
}

const fields = requestFields;

function fail(path: string, detail: string): never {
  return fields.fail(path, detail);
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
  if (!isRecord(input)) fail('body', 'must be a JSON object');
  const v = fields.record(
    input,
    '',
    ['tar', 'keysets'],
    ['iccid', 'msisdn', 'imsi', 'brand', 'minimumSecurity', 'maxCounterStep', 'mt'],
  );
  // `simvault sim create --json` prints the ICCID with the rest: accepted when it names this SIM.
  const named = v['iccid'] === undefined ? iccid : parseIccid(v['iccid']);
  if (named !== iccid) fail('iccid', `the configuration is for SIM ${named}, not ${iccid}`);
  const tar = fields.hex(v['tar'], 'tar', 3, 3);
  const list = fields.list(v['keysets'], 'keysets', 15);
  if (list.length === 0) fail('keysets', 'must hold at least one keyset');
  const keysets: SimKeyset[] = list.map((raw, i) => {
    const path = `keysets[${i}]`;
    const k = fields.record(raw, path, ['version', 'kic', 'kid'], ['algorithm']);
    const algorithm = fields.oneOf(k['algorithm'] ?? 'aes', `${path}.algorithm`, KEYSET_ALGORITHMS);
    return {
      version: fields.int(k['version'], `${path}.version`, 1, 15),
      algorithm,
      kic: keyOf(k['kic'], `${path}.kic`, algorithm),
      kid: keyOf(k['kid'], `${path}.kid`, algorithm),
    };
  });
  if (new Set(keysets.map((k) => k.version)).size !== keysets.length)
    fail('keysets', 'key versions must be distinct');
  keysets.sort((a, b) => a.version - b.version);

  const m = fields.record(
    v['minimumSecurity'] ?? {},
    'minimumSecurity',
    [],
    ['ciphering', 'integrity', 'counter'],
  );
  const minimumSecurity = {
    ciphering: fields.bool(m['ciphering'] ?? true, 'minimumSecurity.ciphering'),
    integrity: fields.oneOf(m['integrity'] ?? 'cc', 'minimumSecurity.integrity', INTEGRITY_KINDS),
    counter: fields.oneOf(
      m['counter'] ?? 'must-be-higher',
      'minimumSecurity.counter',
      COUNTER_MODES,
    ),
  };
  const maxCounterStep = fields.optional(v['maxCounterStep'], (x) =>
    fields.int(x, 'maxCounterStep', 1, Number.MAX_SAFE_INTEGER),
  );

  const mt = fields.record(v['mt'] ?? {}, 'mt', [], ['spi', 'keyVersion']);
  const spi =
    mt['spi'] === undefined ? RECOMMENDED_MT_SPI : spiOf(fields.hex(mt['spi'], 'mt.spi', 2, 2));
  const mtVersion =
    mt['keyVersion'] === undefined
      ? keysets.at(-1)!.version
      : fields.int(mt['keyVersion'], 'mt.keyVersion', 1, 15);
  const keyset = keysets.find((k) => k.version === mtVersion);
  if (keyset === undefined) fail('mt.keyVersion', 'must name one of the keysets');
  const indicator = encodeKeyIndicator(keyset.version, keyset.algorithm);

  return {
    iccid,
    msisdn: fields.optional(v['msisdn'], (x) => parseMsisdn(x)),
    imsi: fields.optional(v['imsi'], (x) => parseImsi(x)),
    brand: fields.optional(v['brand'], (x) => fields.text(x, 'brand', 1, 64)),
    tar,
    minimumSecurity,
    maxCounterStep,
    mt: { spi, kic: indicator, kid: indicator },
    keysets,
  };
}

function keyOf(value: unknown, path: string, algorithm: KeysetAlgorithm): Uint8Array {
  const lengths = keysetKeyLengths(algorithm);
  const key = fields.hex(value, path, Math.min(...lengths), Math.max(...lengths));
  if (!lengths.includes(key.length)) fields.fail(path, `must be ${lengths.join(' or ')} bytes`);
  return key;
}

/** The SPI codec's typed error, re-said as the request's fault naming the field. */
function spiOf(bytes: Uint8Array): Spi {
  try {
    return decodeSpi(bytes);
  } catch (e) {
    if (e instanceof SimvaultError) fields.fail('mt.spi', e.message);
    throw e;
  }
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
