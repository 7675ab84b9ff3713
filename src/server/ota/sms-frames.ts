/**
 * The SMS side of the relay, as an SMS centre would frame it: secured packets to a SIM go out as
 * SMS-DELIVER TPDUs for SIM data download (TP-PID 7F, TP-DCS F6), split into concatenated
 * segments when longer than one SMS; packets from a SIM arrive as SMS-SUBMIT TPDUs whose user
 * data is handed to the reassembler.
 *
 * @module
 */
import { concatBytes } from '../../bytes.js';
import { SimvaultError } from '../../errors.js';
import { splitSecuredPacket } from '../../protocol/sms-concat.js';
import {
  dcsCountsSeptets,
  decodeSmsTpdu,
  decodeUserDataHeader,
  encodeSmsTpdu,
  encodeUserDataHeader,
  type SmsAddress,
  type SmsSubmit,
  type SmsTimestamp,
} from '../../protocol/sms.js';
import { OtaError } from './errors.js';

/**
 * TP-PID of (U)SIM data download: the handset hands such an SMS to the SIM (SMS-PP download).
 *
 * @example
 * ```ts
 * import { PID_SIM_DATA_DOWNLOAD } from './sms-frames.js';
 * PID_SIM_DATA_DOWNLOAD; // 0x7f
 * ```
 */
export const PID_SIM_DATA_DOWNLOAD = 0x7f;

/**
 * TP-DCS of 8-bit class 2 (SIM-specific) data.
 *
 * @example
 * ```ts
 * import { DCS_SIM_SPECIFIC } from './sms-frames.js';
 * DCS_SIM_SPECIFIC; // 0xf6
 * ```
 */
export const DCS_SIM_SPECIFIC = 0xf6;

/**
 * The SMS-DELIVER time stamp of an instant, in UTC (time zone 0).
 *
 * @example
 * ```ts
 * import { smsTimestamp } from './sms-frames.js';
 * smsTimestamp(Date.UTC(2024, 0, 2, 3, 4, 5)).year; // 24
 * ```
 */
export function smsTimestamp(ms: number): SmsTimestamp {
  const d = new Date(ms);
  return {
    year: d.getUTCFullYear() % 100,
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    timezoneQuarters: 0,
  };
}

/**
 * Frame a secured packet (bytes from CPL or RPL on, without the `02 70 00` / `02 71 00` header)
 * as the SMS-DELIVER TPDUs that carry it to a SIM: PID 7F, DCS F6, the secured-packet header
 * element and, when split, the concatenation element. TP-MMS tells the handset more segments follow.
 *
 * @example
 * ```ts
 * import { deliverTpdus } from './sms-frames.js';
 * const tpdus = deliverTpdus(new Uint8Array(200), { kind: 'command', reference: 9, originator: { ton: 0, npi: 1, digits: '10086' }, now: 0 });
 * tpdus.length; // 2
 * ```
 */
export function deliverTpdus(
  packet: Uint8Array,
  opts: { kind: 'command' | 'response'; reference: number; originator: SmsAddress; now: number },
): Uint8Array[] {
  const segments = splitSecuredPacket(packet, { reference: opts.reference, kind: opts.kind });
  const scts = smsTimestamp(opts.now);
  return segments.map((ud, i) => {
    const { elements, end } = decodeUserDataHeader(ud);
    return encodeSmsTpdu({
      type: 'deliver',
      moreMessages: i < segments.length - 1,
      loopPrevention: false,
      statusReport: false,
      replyPath: false,
      originator: opts.originator,
      pid: PID_SIM_DATA_DOWNLOAD,
      dcs: DCS_SIM_SPECIFIC,
      scts,
      userData: { header: elements, data: ud.subarray(end) },
    });
  });
}

/**
 * Decode a mobile-originated TPDU and give back its user data with the header in front, as the
 * reassembler takes it. Anything but an SMS-SUBMIT with 8-bit data and a user data header is
 * `OTA_BAD_SMS`.
 *
 * @example
 * ```ts
 * import { submitUserData } from './sms-frames.js';
 * import { fromHex } from '../../bytes.js';
 * const { userData } = submitUserData(fromHex('4100038121f37ff6050270000102'));
 * userData.length; // 5
 * ```
 */
export function submitUserData(tpdu: Uint8Array): { submit: SmsSubmit; userData: Uint8Array } {
  let decoded;
  try {
    decoded = decodeSmsTpdu(tpdu);
  } catch (e) {
    if (e instanceof SimvaultError)
      throw new OtaError('OTA_BAD_SMS', `the TPDU does not decode: ${e.message}`, { cause: e });
    throw e;
  }
  if (decoded.type !== 'submit')
    throw new OtaError('OTA_BAD_SMS', 'a mobile-originated TPDU must be an SMS-SUBMIT');
  if (dcsCountsSeptets(decoded.dcs))
    throw new OtaError(
      'OTA_BAD_SMS',
      `TP-DCS ${decoded.dcs.toString(16)} is 7-bit text, not 8-bit SIM data`,
    );
  const header = decoded.userData.header;
  if (header === undefined)
    throw new OtaError('OTA_BAD_SMS', 'the user data has no header: not a secured packet');
  return {
    submit: decoded,
    userData: concatBytes(encodeUserDataHeader(header), decoded.userData.data),
  };
}
