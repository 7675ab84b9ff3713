/**
 * The SIM's end of the secured channel to the OTA server (TS 31.115 / TS 102 225): opening the
 * command packets that arrive by SMS-PP download under the SIM's TAR, keysets, minimum security
 * level and per-key-version counters; building the proof of receipt; and sending the SIM's own
 * messages as secured packets in SMS-SUBMITs through proactive SEND SHORT MESSAGE commands.
 *
 * Counters of incoming packets advance only once a packet's checksum and counter verified.
 * A refused packet's PoR carries no security (the SIM cannot trust the keys it named), except
 * for counter refusals, whose checksum did verify: those carry the SIM's counter as data so the
 * OTA server can resynchronise.
 *
 * @module
 */
import { equalBytes } from '../../bytes.js';
import { encodeMessage, type SimvaultMessage } from '../../protocol/messages.js';
import {
  buildCommandPacket,
  buildResponsePacket,
  decodeKeyIndicator,
  decodeSecuredPacketStructure,
  decodeSpi,
  encodeKeyIndicator,
  encodeSpi,
  openCommandPacket,
  openResponsePacket,
  porStatusForError,
  type CommandPacket,
  type OtaKeyset,
  type PorStatus,
  type Spi,
} from '../../protocol/secured-packet.js';
import { splitSecuredPacket } from '../../protocol/sms-concat.js';
import { decodeUserDataHeader, encodeSmsTpdu } from '../../protocol/sms.js';
import { queueProactive } from './proactive.js';
import type { SentPacket, SimState } from './state.js';

/** TP-PID of (U)SIM data download. */
const PID_SIM_DATA_DOWNLOAD = 0x7f;
/** TP-DCS 8-bit class 2 (SIM specific). */
const DCS_SIM_SPECIFIC = 0xf6;
/** How many sent packets are kept for their PoR. */
const MAX_SENT = 8;
/** How many times a message is sent in all when the OTA server answers "counter low". */
const MAX_ATTEMPTS = 3;

/**
 * The keysets of a state in the form the secured-packet codec takes.
 *
 * @example
 * ```ts
 * import { otaKeysOfState, personalizeSim } from 'simvault/sim';
 * otaKeysOfState(personalizeSim({ iccid: '89860012345678901234' }).state)[0]!.version; // 1
 * ```
 */
export function otaKeysOfState(state: SimState): OtaKeyset[] {
  return state.keysets.map((k) => ({ version: k.version, kic: k.kic, kid: k.kid }));
}

function keyVersionOf(kic: number, kid: number, integrity: string): number {
  return decodeKeyIndicator(integrity === 'none' ? kic : kid, 'unused').keyVersion;
}

function counterBytes(value: number): Uint8Array {
  const out = new Uint8Array(5);
  let v = value;
  for (let i = 4; i >= 0; i--) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}

function counterOf(data: Uint8Array): number | undefined {
  if (data.length !== 5) return undefined;
  let v = 0;
  for (const b of data) v = v * 256 + b;
  return v;
}

/**
 * The clear header of a command packet (TS 102 225): enough to address a PoR with
 * {@link buildPor}.
 *
 * @example
 * ```ts
 * import { RECOMMENDED_MT_SPI } from 'simvault/protocol';
 * import type { PacketHeader } from 'simvault/sim';
 * const header: PacketHeader = { spi: RECOMMENDED_MT_SPI, kic: 0x12, kid: 0x12, tar: new Uint8Array([0xb0, 0x00, 0x10]), counter: 1n };
 * ```
 */
export interface PacketHeader {
  /** The command's security parameter indicator; its second byte says how the PoR is secured and sent. */
  spi: Spi;
  /** The KIc byte as sent: key version (high nibble) and ciphering algorithm. */
  kic: number;
  /** The KID byte as sent: key version (high nibble) and checksum algorithm. */
  kid: number;
  /** The command's TAR, 3 bytes, which the PoR repeats. */
  tar: Uint8Array;
  /** The command's CNTR, which the PoR repeats; 0 when the packet is ciphered and it could not be read. */
  counter: bigint;
}

/**
 * The outcome of an incoming command packet: accepted (verified, counter recorded), or refused
 * with the PoR status, and the header when one could be read (without it no PoR can be built).
 *
 * @example
 * ```ts
 * import type { IncomingPacket } from 'simvault/sim';
 * const show = (o: IncomingPacket) => (o.kind === 'accepted' ? o.packet.counter : o.status);
 * ```
 */
export type IncomingPacket =
  | {
      /** The packet passed every check and its counter was recorded. */
      kind: 'accepted';
      /** The opened packet: deciphered secured data and its header fields. */
      packet: CommandPacket;
      /** Key version of its KID (of its KIc when it has no integrity check): the `mtCounters` slot its counter went to. */
      keyVersion: number;
    }
  | {
      /** The packet was refused; nothing in the state changed. */
      kind: 'refused';
      /** The Response Status Code for its PoR (TS 102 225 table 5), e.g. `checksum-failed` or `counter-low`. */
      status: PorStatus;
      /** Why it was refused, for logs. */
      detail: string;
      /** Its clear header, when it could be read: needed to build the PoR. */
      header?: PacketHeader;
      /** Key version of its KID (of its KIc when it has no integrity check), when the header could be read. */
      keyVersion?: number;
    };

/**
 * Open a command packet (bytes from CPL on) addressed to the SIM: TAR, minimum security level,
 * deciphering, checksum, padding, and the counter against the last accepted one of its key
 * version. On success the counter is stored in `state` (never lowered).
 *
 * @example
 * ```ts
 * import { openIncomingPacket, personalizeSim } from 'simvault/sim';
 * const { state } = personalizeSim({ iccid: '89860012345678901234' });
 * openIncomingPacket(state, new Uint8Array([0, 1, 2])).kind; // 'refused'
 * ```
 */
export function openIncomingPacket(state: SimState, bytes: Uint8Array): IncomingPacket {
  let header: PacketHeader;
  let keyVersion: number;
  try {
    const s = decodeSecuredPacketStructure(bytes);
    if (s.kind !== 'command')
      return {
        kind: 'refused',
        status: 'unidentified-security-error',
        detail: 'not a command packet',
      };
    header = {
      spi: s.spi,
      kic: s.kic.raw,
      kid: s.kid.raw,
      tar: s.tar,
      counter: s.clear?.counter ?? 0n,
    };
    keyVersion = keyVersionOf(s.kic.raw, s.kid.raw, s.spi.integrity);
  } catch (e) {
    return { kind: 'refused', status: 'unidentified-security-error', detail: (e as Error).message };
  }
  const last = state.mtCounters[keyVersion] ?? 0;
  let packet: CommandPacket;
  try {
    packet = openCommandPacket(bytes, otaKeysOfState(state), {
      tars: [state.tar],
      minimumSecurity: state.minimumSecurity,
      lastCounter: last,
      ...(state.maxCounterStep !== undefined ? { maxCounterStep: state.maxCounterStep } : {}),
    });
  } catch (e) {
    return {
      kind: 'refused',
      status: porStatusForError(e),
      detail: (e as Error).message,
      header,
      keyVersion,
    };
  }
  const counter = Number(packet.counter);
  if (counter > last) state.mtCounters[keyVersion] = counter;
  return { kind: 'accepted', packet, keyVersion };
}

/**
 * Whether the sender of a packet asked for a PoR with this status.
 *
 * @example
 * ```ts
 * import { RECOMMENDED_MT_SPI } from 'simvault/protocol';
 * import { porWanted } from 'simvault/sim';
 * porWanted(RECOMMENDED_MT_SPI, 'ok'); // true
 * ```
 */
export function porWanted(spi: Spi, status: PorStatus): boolean {
  return spi.porRequest === 'always' || (spi.porRequest === 'on-error' && status !== 'ok');
}

/**
 * Build the response packet (from `02 71 00` on) for a command. `ok` and counter statuses are
 * secured as the command's SPI asks; any other status goes out unsecured. Returns `undefined`
 * when not even an unsecured PoR can be built.
 *
 * @example
 * ```ts
 * import { RECOMMENDED_MT_SPI } from 'simvault/protocol';
 * import { buildPor, personalizeSim } from 'simvault/sim';
 * const { state } = personalizeSim({ iccid: '89860012345678901234' });
 * const por = buildPor(state, { spi: RECOMMENDED_MT_SPI, kic: 0x12, kid: 0x12, tar: state.tar, counter: 1n }, 'checksum-failed', new Uint8Array(0));
 * por?.[0]; // 0x02
 * ```
 */
export function buildPor(
  state: SimState,
  header: PacketHeader,
  status: PorStatus,
  data: Uint8Array,
): Uint8Array | undefined {
  const secured =
    status === 'ok' ||
    status === 'counter-low' ||
    status === 'counter-high' ||
    status === 'counter-blocked';
  const params = {
    kic: header.kic,
    kid: header.kid,
    tar: header.tar,
    counter: header.counter,
    status,
    data,
  };
  if (secured) {
    try {
      return buildResponsePacket({ ...params, spi: header.spi }, otaKeysOfState(state));
    } catch {
      // Fall through to the unsecured form: a PoR the server cannot verify beats none.
    }
  }
  try {
    return buildResponsePacket(
      { ...params, spi: { ...header.spi, porIntegrity: 'none', porCiphered: false } },
      [],
    );
  } catch {
    return undefined;
  }
}

/**
 * The additional data of a PoR for a counter refusal: the SIM's last accepted counter (5 bytes),
 * which the OTA server adopts to resynchronise.
 *
 * @example
 * ```ts
 * import { counterPorData } from 'simvault/sim';
 * counterPorData(258); // Uint8Array [0, 0, 0, 1, 2]
 * ```
 */
export function counterPorData(counter: number): Uint8Array {
  return counterBytes(counter);
}

function submitTpdus(
  state: SimState,
  packet: Uint8Array,
  kind: 'command' | 'response',
  reference: number,
): Uint8Array[] {
  return splitSecuredPacket(packet, { reference, kind }).map((ud) => {
    const { elements, end } = decodeUserDataHeader(ud);
    return encodeSmsTpdu({
      type: 'submit',
      rejectDuplicates: false,
      statusReportRequest: false,
      replyPath: false,
      messageReference: reference,
      destination: state.otaAddress,
      pid: PID_SIM_DATA_DOWNLOAD,
      dcs: DCS_SIM_SPECIFIC,
      validity: { format: 'none' },
      userData: { header: elements, data: ud.subarray(end) },
    });
  });
}

function queueSms(state: SimState, tpdus: Uint8Array[]): void {
  // A null alpha identifier: the terminal sends without bothering the user.
  for (const tpdu of tpdus)
    queueProactive(state, { kind: 'sendShortMessage', qualifier: 0, alpha: '', tpdu });
}

/**
 * Queue a PoR (response packet from `02 71 00`) as SEND SHORT MESSAGE in an SMS-SUBMIT.
 *
 * @example
 * ```ts
 * import { RECOMMENDED_MT_SPI } from 'simvault/protocol';
 * import { sendPorBySms, buildPor, personalizeSim } from 'simvault/sim';
 * const { state } = personalizeSim({ iccid: '89860012345678901234' });
 * const por = buildPor(state, { spi: RECOMMENDED_MT_SPI, kic: 0x12, kid: 0x12, tar: state.tar, counter: 1n }, 'ok', new Uint8Array(0))!;
 * sendPorBySms(state, por, 1);
 * ```
 */
export function sendPorBySms(state: SimState, por: Uint8Array, reference: number): void {
  queueSms(state, submitTpdus(state, por.subarray(3), 'response', reference & 0xff));
}

/**
 * Send a simvault message to the OTA server: next counter of the SIM's key version, a secured
 * command packet under its own SPI and TAR, framed as SMS-SUBMIT segments and queued as SEND SHORT
 * MESSAGE proactive commands. The packet is remembered for its PoR.
 *
 * @example
 * ```ts
 * import { sendSecuredMessage, personalizeSim } from 'simvault/sim';
 * const { state } = personalizeSim({ iccid: '89860012345678901234' });
 * sendSecuredMessage(state, { type: 'unbindRequest', transactionId: 1, cid: new Uint8Array(16) });
 * state.moCounters[1]; // 1
 * ```
 */
export function sendSecuredMessage(
  state: SimState,
  message: SimvaultMessage | Uint8Array,
  attempt = 1,
): void {
  const data = message instanceof Uint8Array ? message : encodeMessage(message);
  const keyset = state.keysets.find((k) => k.version === state.mo.keyVersion)!;
  const indicator = encodeKeyIndicator(keyset.version, keyset.algorithm);
  const counter = (state.moCounters[keyset.version] ?? 0) + 1;
  const spi = state.mo.spi;
  const packet = buildCommandPacket(
    { spi, kic: indicator, kid: indicator, tar: state.tar, counter, data },
    otaKeysOfState(state),
  );
  state.moCounters[keyset.version] = counter;
  queueSms(state, submitTpdus(state, packet, 'command', counter & 0xff));
  const sent: SentPacket = {
    keyVersion: keyset.version,
    counter,
    spi: encodeSpi(spi),
    kic: indicator,
    kid: indicator,
    message: data,
    attempt,
  };
  state.sent.push(sent);
  while (state.sent.length > MAX_SENT) state.sent.shift();
}

/**
 * Take a PoR from the OTA server (user data from `02 71 00` on) for a packet the SIM sent. A
 * "counter low/high" raises the SIM's counter to the one reported and sends the message again
 * (at most three sendings in all). Returns false when the PoR answers no packet the SIM still
 * holds or does not verify.
 *
 * @example
 * ```ts
 * import { receivePor, personalizeSim } from 'simvault/sim';
 * receivePor(personalizeSim({ iccid: '89860012345678901234' }).state, new Uint8Array([2, 0x71, 0])); // false
 * ```
 */
export function receivePor(state: SimState, bytes: Uint8Array): boolean {
  let tar: Uint8Array;
  let clearCounter: bigint | undefined;
  try {
    const s = decodeSecuredPacketStructure(bytes);
    if (s.kind !== 'response') return false;
    tar = s.tar;
    clearCounter = s.asIfClear?.counter;
  } catch {
    return false;
  }
  if (!equalBytes(tar, state.tar)) return false;
  const candidates = state.sent
    .filter((p) => clearCounter === undefined || BigInt(p.counter) === clearCounter)
    .reverse();
  for (const sent of candidates) {
    let status: PorStatus;
    let data: Uint8Array;
    try {
      const por = openResponsePacket(bytes, otaKeysOfState(state), {
        spi: decodeSpi(sent.spi),
        kic: sent.kic,
        kid: sent.kid,
        tar: state.tar,
        counter: sent.counter,
      });
      status = por.status;
      data = por.data;
    } catch {
      continue;
    }
    state.sent.splice(state.sent.indexOf(sent), 1);
    if (status === 'counter-low' || status === 'counter-high') {
      const reported = counterOf(data);
      const current = state.moCounters[sent.keyVersion] ?? 0;
      // Behind only when the server took counters this SIM never issued (its state was restored).
      // Otherwise the refused packet was one the server already took, sent again by someone else:
      // resending it would let a captured SMS (an unbind request) act a second time.
      const behind = reported !== undefined && reported > current;
      if (behind) state.moCounters[sent.keyVersion] = reported;
      if (status === 'counter-low' && behind && sent.attempt < MAX_ATTEMPTS)
        sendSecuredMessage(state, sent.message, sent.attempt + 1);
    }
    return true;
  }
  return false;
}
