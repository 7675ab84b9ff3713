/**
 * SIM Toolkit ENVELOPEs the terminal sends the UICC (ETSI TS 102 223 clause 7): SMS-PP data
 * download (`D1`, 3GPP TS 31.111 7.1.1) carrying an SMS-DELIVER TPDU from the network, and MENU
 * SELECTION (`D3`) when the user picks one of the UICC's menu items; plus the ENVELOPE APDU
 * (`80 C2 00 00 Lc data`) that carries them.
 *
 * As in proactive commands, unknown objects with the comprehension-required flag clear are
 * skipped, and objects whose flag differs from the one simvault writes are listed in
 * `crFlipped`. simvault writes the SMS-PP address without the flag (as TS 31.124's examples do)
 * and every other object with it.
 *
 * @module
 */
import { ProtocolError } from '../errors.js';
import { ByteReader, ByteWriter } from './reader.js';
import { readBerTlv, writeBerTlv } from './ber-tlv.js';
import { decodeCommandApdu, encodeCommandApdu } from './apdu.js';
import {
  TOOLKIT_DEVICE,
  TOOLKIT_TAG as T,
  ToolkitFieldReader,
  ToolkitFieldWriter,
  checkInt,
  decodeAddress,
  encodeAddress,
  expectDevices,
  expectLength,
  type Address,
} from './toolkit-objects.js';
import { isOneOf, isRecord } from '../validate.js';

const STRUCTURE = 'Envelope';

/**
 * BER-TLV tags of the envelopes simvault speaks.
 *
 * @example
 * ```ts
 * import { ENVELOPE_TAG } from 'simvault/protocol';
 * ENVELOPE_TAG.menuSelection; // 0xd3
 * ```
 */
export const ENVELOPE_TAG = {
  /** SMS-PP data download. */
  smsPpDownload: 0xd1,
  /** MENU SELECTION. */
  menuSelection: 0xd3,
} as const;

/**
 * SMS-PP data download: the network sent an SMS for the UICC (TP-PID 7F); device identities
 * network → UICC.
 *
 * @example
 * ```ts
 * import type { SmsPpDownload } from 'simvault/protocol';
 * const env: SmsPpDownload = { kind: 'smsPpDownload', tpdu: new Uint8Array([0x04, 0x00]) };
 * ```
 */
export interface SmsPpDownload {
  /** Discriminant. */
  kind: 'smsPpDownload';
  /** Service centre address (tag `06`). */
  address?: Address;
  /** The SMS-DELIVER TPDU (tag `0B`), opaque here. */
  tpdu: Uint8Array;
  /** Positions of data objects (device identities first) whose CR flag differs from simvault's. */
  crFlipped?: number[];
}

/**
 * MENU SELECTION: the user chose a menu item; device identities keypad → UICC.
 *
 * @example
 * ```ts
 * import type { MenuSelection } from 'simvault/protocol';
 * const env: MenuSelection = { kind: 'menuSelection', itemId: 2 };
 * ```
 */
export interface MenuSelection {
  /** Discriminant. */
  kind: 'menuSelection';
  /** The item chosen (tag `10`), 1-255. */
  itemId: number;
  /** The user asked for help on the item (tag `15`). */
  helpRequested?: true;
  /** Positions of data objects (device identities first) whose CR flag differs from simvault's. */
  crFlipped?: number[];
}

/**
 * An envelope simvault speaks.
 *
 * @example
 * ```ts
 * import type { Envelope } from 'simvault/protocol';
 * const env: Envelope = { kind: 'menuSelection', itemId: 1 };
 * ```
 */
export type Envelope = SmsPpDownload | MenuSelection;

const canonicalCr = (tag: number): boolean => tag !== T.address;

function fail(
  code: ConstructorParameters<typeof ProtocolError>[0],
  field: string,
  offset: number,
  detail: string,
): never {
  throw new ProtocolError(code, STRUCTURE, field, offset, detail);
}

/**
 * Decode an envelope BER-TLV (`D1` SMS-PP download or `D3` menu selection).
 *
 * @example
 * ```ts
 * import { decodeEnvelope } from 'simvault/protocol';
 * import { fromHex } from 'simvault';
 * decodeEnvelope(fromHex('d30782020181900102')); // { kind: 'menuSelection', itemId: 2 }
 * ```
 */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  return decodeEnvelopeAt(bytes, 0);
}

// Decodes the envelope that fills `bytes` from `from` on, so offsets in errors are offsets into
// the whole input (an APDU, when called from decodeEnvelopeApdu).
function decodeEnvelopeAt(bytes: Uint8Array, from: number): Envelope {
  const r = new ByteReader(bytes, STRUCTURE, from);
  const outer = readBerTlv(r);
  r.end();
  if (outer.value.length > 255)
    fail('PROTOCOL_BAD_LENGTH', 'length', from + 1, 'an envelope holds at most 255 bytes');
  const start = bytes.length - outer.value.length;
  if (outer.tag === ENVELOPE_TAG.smsPpDownload) {
    const f = new ToolkitFieldReader(
      bytes,
      start,
      STRUCTURE,
      [T.deviceIdentities, T.address, T.smsTpdu],
      canonicalCr,
    );
    const devices = f.required(T.deviceIdentities, 'deviceIdentities');
    expectDevices(devices, TOOLKIT_DEVICE.network, TOOLKIT_DEVICE.uicc, STRUCTURE);
    const address = f.optional(T.address);
    const tpdu = f.required(T.smsTpdu, 'tpdu');
    f.finish();
    const env: SmsPpDownload = { kind: 'smsPpDownload', tpdu: tpdu.value.slice() };
    if (address) env.address = decodeAddress(address.value, STRUCTURE, address.offset);
    if (f.crFlipped.length > 0) env.crFlipped = f.crFlipped;
    return env;
  }
  if (outer.tag === ENVELOPE_TAG.menuSelection) {
    const f = new ToolkitFieldReader(
      bytes,
      start,
      STRUCTURE,
      [T.deviceIdentities, T.itemIdentifier, T.helpRequest],
      canonicalCr,
    );
    expectDevices(
      f.required(T.deviceIdentities, 'deviceIdentities'),
      TOOLKIT_DEVICE.keypad,
      TOOLKIT_DEVICE.uicc,
      STRUCTURE,
    );
    const item = f.required(T.itemIdentifier, 'itemId');
    const id = expectLength(item, 1, STRUCTURE, 'itemId')[0]!;
    if (id === 0)
      fail('PROTOCOL_BAD_VALUE', 'itemId', item.offset, 'item identifier 0 is reserved');
    const help = f.optional(T.helpRequest);
    if (help) expectLength(help, 0, STRUCTURE, 'helpRequested');
    f.finish();
    const env: MenuSelection = { kind: 'menuSelection', itemId: id };
    if (help) env.helpRequested = true;
    if (f.crFlipped.length > 0) env.crFlipped = f.crFlipped;
    return env;
  }
  return fail(
    'PROTOCOL_UNKNOWN_TAG',
    'tag',
    from,
    `0x${outer.tag.toString(16)} is not an envelope simvault speaks (D1, D3)`,
  );
}

/**
 * Encode an envelope as its BER-TLV.
 *
 * @example
 * ```ts
 * import { encodeEnvelope } from 'simvault/protocol';
 * import { toHex } from 'simvault';
 * toHex(encodeEnvelope({ kind: 'menuSelection', itemId: 2 })); // 'd30782020181900102'
 * ```
 */
export function encodeEnvelope(env: Envelope): Uint8Array {
  if (!isRecord(env)) fail('PROTOCOL_BAD_VALUE', 'envelope', -1, 'must be an object');
  const w = new ToolkitFieldWriter(STRUCTURE, canonicalCr);
  let tag: number;
  if (env.kind === 'smsPpDownload') {
    tag = ENVELOPE_TAG.smsPpDownload;
    w.add(T.deviceIdentities, new Uint8Array([TOOLKIT_DEVICE.network, TOOLKIT_DEVICE.uicc]));
    if (env.address !== undefined) w.add(T.address, encodeAddress(env.address, STRUCTURE));
    if (!(env.tpdu instanceof Uint8Array))
      fail('PROTOCOL_BAD_VALUE', 'tpdu', -1, 'must be a Uint8Array');
    w.add(T.smsTpdu, env.tpdu);
  } else {
    // An untyped caller may pass any kind: only menuSelection gets here legitimately.
    if (!isOneOf(env.kind, ['menuSelection'])) {
      fail('PROTOCOL_BAD_VALUE', 'kind', -1, "must be 'smsPpDownload' or 'menuSelection'");
    }
    tag = ENVELOPE_TAG.menuSelection;
    w.add(T.deviceIdentities, new Uint8Array([TOOLKIT_DEVICE.keypad, TOOLKIT_DEVICE.uicc]));
    w.add(T.itemIdentifier, new Uint8Array([checkInt(env.itemId, 1, 255, STRUCTURE, 'itemId')]));
    if (env.helpRequested !== undefined) {
      if (!isOneOf(env.helpRequested, [true]))
        fail('PROTOCOL_BAD_VALUE', 'helpRequested', -1, 'must be true or absent');
      w.add(T.helpRequest, new Uint8Array(0));
    }
  }
  const body = w.finish(env.crFlipped);
  if (body.length > 255)
    fail(
      'PROTOCOL_BAD_LENGTH',
      'length',
      -1,
      `an envelope holds at most 255 bytes, got ${body.length}`,
    );
  return writeBerTlv(new ByteWriter(), { tag, value: body }).finish();
}

/**
 * Decode an ENVELOPE command APDU (`80 C2 00 00 Lc data`, case 3) and the envelope inside it.
 *
 * @example
 * ```ts
 * import { decodeEnvelopeApdu } from 'simvault/protocol';
 * import { fromHex } from 'simvault';
 * decodeEnvelopeApdu(fromHex('80c2000009d30782020181900102')).kind; // 'menuSelection'
 * ```
 */
export function decodeEnvelopeApdu(bytes: Uint8Array): Envelope {
  const apdu = decodeCommandApdu(bytes);
  const where = 'EnvelopeAPDU';
  if (apdu.cla !== 0x80 || apdu.ins !== 0xc2) {
    throw new ProtocolError(
      'PROTOCOL_BAD_VALUE',
      where,
      'INS',
      apdu.cla !== 0x80 ? 0 : 1,
      'not an ENVELOPE (80 C2)',
    );
  }
  if (apdu.p1 !== 0 || apdu.p2 !== 0)
    throw new ProtocolError('PROTOCOL_BAD_VALUE', where, 'P1P2', 2, 'must be 00 00');
  if (apdu.extended || apdu.le !== undefined || apdu.data.length === 0) {
    throw new ProtocolError(
      'PROTOCOL_BAD_LENGTH',
      where,
      'Lc',
      4,
      'an ENVELOPE is case 3 with a short Lc',
    );
  }
  return decodeEnvelopeAt(bytes, 5);
}

/**
 * Encode an envelope in its ENVELOPE command APDU (`80 C2 00 00 Lc data`).
 *
 * @example
 * ```ts
 * import { encodeEnvelopeApdu } from 'simvault/protocol';
 * import { toHex } from 'simvault';
 * toHex(encodeEnvelopeApdu({ kind: 'menuSelection', itemId: 2 })); // '80c2000009d30782020181900102'
 * ```
 */
export function encodeEnvelopeApdu(env: Envelope): Uint8Array {
  return encodeCommandApdu({ cla: 0x80, ins: 0xc2, p1: 0, p2: 0, data: encodeEnvelope(env) });
}
