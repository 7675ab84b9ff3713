/**
 * Personalization: the one moment a SIM's secrets are made. Generates the OTA keysets and the
 * binding key, and returns the state plus the OTA configuration the operator provisions on the
 * OTA server (the binding key is not part of it: it never leaves the SIM).
 *
 * @module
 */
import { randomBytes as platformRandomBytes, toHex } from '../../bytes.js';
import { ArgumentError } from '../../errors.js';
import {
  encodeKeyIndicator,
  encodeSpi,
  keysetKeyLengths,
  RECOMMENDED_MT_SPI,
  type CounterMode,
  type IntegrityKind,
  type KeysetAlgorithm,
  type Spi,
} from '../../protocol/secured-packet.js';
import type { SmsAddress } from '../../protocol/sms.js';
import type { SimState, ThresholdPolicy, UnbindRule } from './state.js';

/**
 * Options of {@link personalizeSim}. Only the ICCID is required.
 *
 * @example
 * ```ts
 * import type { PersonalizeOptions } from 'simvault/sim';
 * const o: PersonalizeOptions = { iccid: '89860012345678901234', maxCards: 2, policy: 'lru' };
 * ```
 */
export interface PersonalizeOptions {
  /** ICCID, 10-20 digits. */
  iccid: string;
  /** IMSI, 6-15 digits. */
  imsi?: string;
  /** Most bound cards. */
  maxCards?: number;
  /** Most bound capacity in bytes. */
  maxBytes?: number;
  /** Threshold policy (default `ask`). */
  policy?: ThresholdPolicy;
  /** Unbind rule below the threshold (default `mask`). */
  unbindRule?: UnbindRule;
  /** TAR of the applet (default `b00010`). */
  tar?: Uint8Array;
  /** The OTA server's SMS address (default international `8613800000000`). */
  otaAddress?: SmsAddress;
  /** Keyset algorithm (default `aes`, 16-byte keys). */
  algorithm?: KeysetAlgorithm;
  /** Minimum security of incoming packets (default ciphered, CC, counter must be higher). */
  minimumSecurity?: {
    /** Whether incoming command packets must be ciphered with KIc (SPI1 b3). */
    ciphering: boolean;
    /** The weakest integrity check accepted on them (SPI1 b2-b1), ranked weakest first: none, RC, CC, DS. */
    integrity: IntegrityKind;
    /** The weakest counter mode accepted on them (SPI1 b5-b4). */
    counter: CounterMode;
  };
  /** Random source (default the platform CSPRNG); tests pass a seeded one. */
  randomBytes?: (length: number) => Uint8Array;
}

/**
 * What the OTA server must be provisioned with for this SIM: JSON in the shape of its
 * `PUT /operator/sims/:iccid` body, plus the ICCID.
 *
 * @example
 * ```ts
 * import { personalizeSim } from 'simvault/sim';
 * const { ota } = personalizeSim({ iccid: '89860012345678901234' });
 * ota.keysets[0]!.kic.length; // 32 hex digits
 * ```
 */
export interface OtaProvisioning {
  /** The SIM's ICCID. */
  iccid: string;
  /** IMSI when known. */
  imsi?: string;
  /** TAR, 6 hex digits. */
  tar: string;
  /** Keysets with hex keys. */
  keysets: {
    /** Key version 1-15: the high nibble of the KIc/KID bytes that name this keyset. */
    version: number;
    /** Algorithm of both keys. */
    algorithm: KeysetAlgorithm;
    /** Ciphering key (KIc), hex. */
    kic: string;
    /** Checksum key (KID), hex. */
    kid: string;
  }[];
  /** The minimum security level the SIM's own packets meet. */
  minimumSecurity: {
    /** Whether the SIM's packets are ciphered with KIc (SPI1 b3). */
    ciphering: boolean;
    /** The weakest integrity check they carry (SPI1 b2-b1). */
    integrity: IntegrityKind;
    /** The weakest counter mode they request (SPI1 b5-b4). */
    counter: CounterMode;
  };
  /** How the OTA server should secure packets to the SIM. */
  mt: {
    /** The two SPI bytes of its command packets (TS 102 225), 4 hex digits. */
    spi: string;
    /** Key version 1-15 of the keyset to secure them with. */
    keyVersion: number;
  };
}

/**
 * The SPI the SIM uses for its own packets: counter must be higher, ciphered, CC; a PoR only on
 * error, with a CC, by SMS-DELIVER.
 *
 * @example
 * ```ts
 * import { DEFAULT_MO_SPI } from 'simvault/sim';
 * DEFAULT_MO_SPI.porRequest; // 'on-error'
 * ```
 */
export const DEFAULT_MO_SPI: Spi = {
  counter: 'must-be-higher',
  ciphered: true,
  integrity: 'cc',
  porRequest: 'on-error',
  porIntegrity: 'cc',
  porCiphered: false,
  porViaSubmit: false,
};

/** New keys take the shortest length the algorithm allows (AES-128, 2- or 3-key 3DES). */
function keyLength(algorithm: KeysetAlgorithm): number {
  return keysetKeyLengths(algorithm)[0]!;
}

/**
 * Personalize a new SIM: fresh OTA keyset (version 1) and binding key, empty binding list.
 * Returns the state and what to provision on the OTA server. Throws {@link ArgumentError} on a
 * bad option.
 *
 * @example
 * ```ts
 * import { personalizeSim } from 'simvault/sim';
 * const { state, ota } = personalizeSim({ iccid: '89860012345678901234', maxCards: 2, policy: 'oldest' });
 * state.threshold.policy; // 'oldest'
 * ota.tar; // 'b00010'
 * ```
 */
export function personalizeSim(options: PersonalizeOptions): {
  /** The new SIM's state, ready to load into a {@link SimCard} or to store with {@link encodeSimState}. */
  state: SimState;
  /** What to provision on the OTA server for this SIM. */
  ota: OtaProvisioning;
} {
  const random = options.randomBytes ?? platformRandomBytes;
  if (typeof options.iccid !== 'string' || !/^\d{10,20}$/.test(options.iccid))
    throw new ArgumentError('iccid must be 10-20 digits');
  if (options.imsi !== undefined && !/^\d{6,15}$/.test(options.imsi))
    throw new ArgumentError('imsi must be 6-15 digits');
  if (
    options.maxCards !== undefined &&
    !(Number.isInteger(options.maxCards) && options.maxCards >= 1 && options.maxCards <= 64)
  ) {
    throw new ArgumentError('maxCards must be an integer 1-64');
  }
  if (
    options.maxBytes !== undefined &&
    !(Number.isSafeInteger(options.maxBytes) && options.maxBytes >= 1)
  ) {
    throw new ArgumentError('maxBytes must be a positive integer');
  }
  const policy = options.policy ?? 'ask';
  if (!['ask', 'lru', 'oldest'].includes(policy))
    throw new ArgumentError("policy must be 'ask', 'lru' or 'oldest'");
  const unbindRule = options.unbindRule ?? 'mask';
  if (!['mask', 'delete'].includes(unbindRule))
    throw new ArgumentError("unbindRule must be 'mask' or 'delete'");
  const tar = options.tar ?? new Uint8Array([0xb0, 0x00, 0x10]);
  if (!(tar instanceof Uint8Array) || tar.length !== 3)
    throw new ArgumentError('tar must be 3 bytes');
  const algorithm = options.algorithm ?? 'aes';
  if (!['aes', '3des-2key', '3des-3key'].includes(algorithm))
    throw new ArgumentError('unknown keyset algorithm');
  const otaAddress = options.otaAddress ?? { ton: 1, npi: 1, digits: '8613800000000' };
  if (!/^\d{1,20}$/.test(otaAddress.digits))
    throw new ArgumentError('otaAddress digits must be 1-20 decimal digits');
  const minimumSecurity = options.minimumSecurity ?? {
    ciphering: true,
    integrity: 'cc' as const,
    counter: 'must-be-higher' as const,
  };
  const keyset = {
    version: 1,
    algorithm,
    kic: random(keyLength(algorithm)),
    kid: random(keyLength(algorithm)),
  };
  const bindingKey = random(32);
  if (!(bindingKey instanceof Uint8Array) || bindingKey.length !== 32)
    throw new ArgumentError('randomBytes must return the length asked for');
  const state: SimState = {
    iccid: options.iccid,
    otaAddress: { ...otaAddress },
    tar: tar.slice(),
    keysets: [keyset],
    minimumSecurity: { ...minimumSecurity },
    mo: { spi: { ...DEFAULT_MO_SPI }, keyVersion: 1 },
    mtCounters: new Array<number>(16).fill(0),
    moCounters: new Array<number>(16).fill(0),
    bindingKey,
    threshold: {
      policy,
      unbindRule,
      ...(options.maxCards !== undefined ? { maxCards: options.maxCards } : {}),
      ...(options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {}),
    },
    cards: [],
    listVersion: 0,
    clock: 0,
    nextTransactionId: 1,
    commandNumber: 0,
    pending: [],
    mailbox: [],
    proactive: [],
    outcomes: [],
    menu: [],
    sent: [],
  };
  if (options.imsi !== undefined) state.imsi = options.imsi;
  // Fail here, not at the first save, if an option slipped past the checks above.
  encodeKeyIndicator(keyset.version, algorithm);
  const ota: OtaProvisioning = {
    iccid: options.iccid,
    ...(options.imsi !== undefined ? { imsi: options.imsi } : {}),
    tar: toHex(tar),
    keysets: [{ version: 1, algorithm, kic: toHex(keyset.kic), kid: toHex(keyset.kid) }],
    minimumSecurity: { ciphering: true, integrity: 'cc', counter: 'must-be-higher' },
    mt: { spi: toHex(encodeSpi(RECOMMENDED_MT_SPI)), keyVersion: 1 },
  };
  return { state, ota };
}
