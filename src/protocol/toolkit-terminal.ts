/**
 * The terminal's side of the proactive dialogue (ETSI TS 102 221 10.1.1, TS 102 223 6.8): the
 * FETCH APDU (`80 12 00 00 Le`) that collects a pending proactive command after a `91xx` status,
 * and the TERMINAL RESPONSE APDU (`80 14 00 00 Lc data`) that reports how it went.
 *
 * @module
 */
import { ProtocolError } from '../errors.js';
import { decodeCommandApdu, encodeCommandApdu } from './apdu.js';
import {
  TOOLKIT_DEVICE,
  TOOLKIT_TAG as T,
  ToolkitFieldReader,
  ToolkitFieldWriter,
  checkInt,
  expectDevices,
  expectLength,
} from './toolkit-objects.js';
import { isRecord } from '../validate.js';

const STRUCTURE = 'TerminalResponse';

/**
 * General result codes of a terminal response (TS 102 223 8.12).
 *
 * @example
 * ```ts
 * import { TOOLKIT_RESULT } from 'simvault/protocol';
 * TOOLKIT_RESULT.terminatedByUser; // 0x10
 * ```
 */
export const TOOLKIT_RESULT = {
  /** Command performed successfully. */
  ok: 0x00,
  /** Proactive UICC session terminated by the user. */
  terminatedByUser: 0x10,
  /** No response from the user. */
  noResponse: 0x12,
  /**
   * Terminal currently unable to process the command. Its additional information is a cause
   * byte (TS 102 223 §8.12.2), e.g. `01` screen is busy; `00` when no specific cause can be
   * given, which `encodeTerminalResponse` writes when none is.
   */
  terminalUnable: 0x20,
  /** Command data not understood by the terminal. */
  dataNotUnderstood: 0x32,
} as const;

/**
 * A TERMINAL RESPONSE: the command details echoed, the result, and the item chosen after
 * SELECT ITEM. Device identities are always terminal → UICC.
 *
 * @example
 * ```ts
 * import type { TerminalResponse } from 'simvault/protocol';
 * const tr: TerminalResponse = { commandNumber: 1, commandType: 0x24, qualifier: 0, result: { general: 0 }, itemId: 2 };
 * ```
 */
export interface TerminalResponse {
  /** Command number of the proactive command answered, 1-254. */
  commandNumber: number;
  /** Its type (`0x24` SELECT ITEM, ...), 0-255. */
  commandType: number;
  /** Its qualifier, 0-255. */
  qualifier: number;
  /** Result (tag `03`): general result and any additional information bytes. */
  result: {
    /** General result, 0-255 (see {@link TOOLKIT_RESULT}). */
    general: number;
    /**
     * Additional information on result, when present. For general result `20` it is the cause
     * byte TS 102 223 §8.12.2 makes mandatory: the encoder writes `00` (no specific cause) when
     * it is absent or empty, and the decoder, lenient with terminals that leave it out, leaves
     * `additional` absent for a result `83 01 20` (such a response re-encodes with the `00`).
     */
    additional?: Uint8Array;
  };
  /** Item identifier (tag `10`) the user chose. */
  itemId?: number;
  /** Positions of data objects (command details first) whose CR flag is clear. */
  crFlipped?: number[];
}

const KNOWN = [T.commandDetails, T.deviceIdentities, T.result, T.itemIdentifier];

function fail(
  code: ConstructorParameters<typeof ProtocolError>[0],
  field: string,
  offset: number,
  detail: string,
  structure = STRUCTURE,
): never {
  throw new ProtocolError(code, structure, field, offset, detail);
}

/**
 * Decode the data of a TERMINAL RESPONSE (its COMPREHENSION-TLVs).
 *
 * @example
 * ```ts
 * import { decodeTerminalResponse } from 'simvault/protocol';
 * import { fromHex } from 'simvault';
 * decodeTerminalResponse(fromHex('8103012400 82028281 830100 900102')).itemId; // 2
 * ```
 */
export function decodeTerminalResponse(bytes: Uint8Array): TerminalResponse {
  return decodeAt(bytes, 0);
}

function decodeAt(bytes: Uint8Array, from: number): TerminalResponse {
  const f = new ToolkitFieldReader(bytes, from, STRUCTURE, KNOWN);
  const details = f.required(T.commandDetails, 'commandDetails');
  const d = expectLength(details, 3, STRUCTURE, 'commandDetails');
  if (d[0] === 0 || d[0] === 0xff)
    fail('PROTOCOL_BAD_VALUE', 'commandNumber', details.offset, 'must be 01-FE');
  expectDevices(
    f.required(T.deviceIdentities, 'deviceIdentities'),
    TOOLKIT_DEVICE.terminal,
    TOOLKIT_DEVICE.uicc,
    STRUCTURE,
  );
  const result = f.required(T.result, 'result');
  if (result.value.length === 0)
    fail('PROTOCOL_BAD_LENGTH', 'result', result.offset, 'needs a general result byte');
  const tr: TerminalResponse = {
    commandNumber: d[0]!,
    commandType: d[1]!,
    qualifier: d[2]!,
    result: { general: result.value[0]! },
  };
  if (result.value.length > 1) tr.result.additional = result.value.slice(1);
  const item = f.optional(T.itemIdentifier);
  if (item) {
    const id = expectLength(item, 1, STRUCTURE, 'itemId')[0]!;
    if (id === 0)
      fail('PROTOCOL_BAD_VALUE', 'itemId', item.offset, 'item identifier 0 is reserved');
    tr.itemId = id;
  }
  f.finish();
  if (f.crFlipped.length > 0) tr.crFlipped = f.crFlipped;
  return tr;
}

/**
 * Encode the data of a TERMINAL RESPONSE. A general result `20` always carries its cause byte
 * (TS 102 223 §8.12.2): `00`, no specific cause, unless `additional` gives one.
 *
 * @example
 * ```ts
 * import { encodeTerminalResponse } from 'simvault/protocol';
 * import { toHex } from 'simvault';
 * toHex(encodeTerminalResponse({ commandNumber: 1, commandType: 0x24, qualifier: 0, result: { general: 0 }, itemId: 2 }));
 * // '810301240082028281830100900102'
 * toHex(encodeTerminalResponse({ commandNumber: 1, commandType: 0x24, qualifier: 0, result: { general: 0x20 } }));
 * // '81030124008202828183022000'
 * ```
 */
export function encodeTerminalResponse(tr: TerminalResponse): Uint8Array {
  if (!isRecord(tr)) fail('PROTOCOL_BAD_VALUE', 'response', -1, 'must be an object');
  const w = new ToolkitFieldWriter(STRUCTURE);
  w.add(
    T.commandDetails,
    new Uint8Array([
      checkInt(tr.commandNumber, 1, 254, STRUCTURE, 'commandNumber'),
      checkInt(tr.commandType, 0, 255, STRUCTURE, 'commandType'),
      checkInt(tr.qualifier, 0, 255, STRUCTURE, 'qualifier'),
    ]),
  );
  w.add(T.deviceIdentities, new Uint8Array([TOOLKIT_DEVICE.terminal, TOOLKIT_DEVICE.uicc]));
  if (!isRecord(tr.result)) fail('PROTOCOL_BAD_VALUE', 'result', -1, 'must be an object');
  const general = checkInt(tr.result.general, 0, 255, STRUCTURE, 'result.general');
  const given: unknown = tr.result.additional ?? new Uint8Array(0);
  if (!(given instanceof Uint8Array))
    fail('PROTOCOL_BAD_VALUE', 'result.additional', -1, 'must be a Uint8Array');
  // TS 102 223 §8.12: for general result 20 the cause is mandatory; 00 is "no specific cause".
  const additional =
    general === TOOLKIT_RESULT.terminalUnable && given.length === 0 ? Uint8Array.of(0x00) : given;
  const result = new Uint8Array(1 + additional.length);
  result[0] = general;
  result.set(additional, 1);
  w.add(T.result, result);
  if (tr.itemId !== undefined)
    w.add(T.itemIdentifier, new Uint8Array([checkInt(tr.itemId, 1, 255, STRUCTURE, 'itemId')]));
  return w.finish(tr.crFlipped);
}

/**
 * Decode a TERMINAL RESPONSE APDU (`80 14 00 00 Lc data`, case 3).
 *
 * @example
 * ```ts
 * import { decodeTerminalResponseApdu } from 'simvault/protocol';
 * import { fromHex } from 'simvault';
 * decodeTerminalResponseApdu(fromHex('801400000f810301240082028281830100900102')).commandType; // 0x24
 * ```
 */
export function decodeTerminalResponseApdu(bytes: Uint8Array): TerminalResponse {
  const apdu = decodeCommandApdu(bytes);
  const where = 'TerminalResponseAPDU';
  if (apdu.cla !== 0x80 || apdu.ins !== 0x14)
    fail(
      'PROTOCOL_BAD_VALUE',
      'INS',
      apdu.cla !== 0x80 ? 0 : 1,
      'not a TERMINAL RESPONSE (80 14)',
      where,
    );
  if (apdu.p1 !== 0 || apdu.p2 !== 0) fail('PROTOCOL_BAD_VALUE', 'P1P2', 2, 'must be 00 00', where);
  if (apdu.extended || apdu.le !== undefined || apdu.data.length === 0) {
    fail('PROTOCOL_BAD_LENGTH', 'Lc', 4, 'a TERMINAL RESPONSE is case 3 with a short Lc', where);
  }
  return decodeAt(bytes, 5);
}

/**
 * Encode a TERMINAL RESPONSE APDU.
 *
 * @example
 * ```ts
 * import { encodeTerminalResponseApdu } from 'simvault/protocol';
 * import { toHex } from 'simvault';
 * toHex(encodeTerminalResponseApdu({ commandNumber: 1, commandType: 0x24, qualifier: 0, result: { general: 0 }, itemId: 2 }));
 * // '801400000f810301240082028281830100900102'
 * ```
 */
export function encodeTerminalResponseApdu(tr: TerminalResponse): Uint8Array {
  return encodeCommandApdu({
    cla: 0x80,
    ins: 0x14,
    p1: 0,
    p2: 0,
    data: encodeTerminalResponse(tr),
  });
}

/**
 * Decode a FETCH APDU (`80 12 00 00 Le`) to the length it asks for, 1-256.
 *
 * @example
 * ```ts
 * import { decodeFetchApdu } from 'simvault/protocol';
 * import { fromHex } from 'simvault';
 * decodeFetchApdu(fromHex('801200001b')); // 27
 * ```
 */
export function decodeFetchApdu(bytes: Uint8Array): number {
  const apdu = decodeCommandApdu(bytes);
  const where = 'FetchAPDU';
  if (apdu.cla !== 0x80 || apdu.ins !== 0x12)
    fail('PROTOCOL_BAD_VALUE', 'INS', apdu.cla !== 0x80 ? 0 : 1, 'not a FETCH (80 12)', where);
  if (apdu.p1 !== 0 || apdu.p2 !== 0) fail('PROTOCOL_BAD_VALUE', 'P1P2', 2, 'must be 00 00', where);
  if (apdu.extended || apdu.le === undefined || apdu.data.length !== 0) {
    fail('PROTOCOL_BAD_LENGTH', 'Le', 4, 'a FETCH is case 2 with a short Le', where);
  }
  return apdu.le;
}

/**
 * Encode a FETCH APDU for a proactive command of `length` bytes (the `xx` of SW `91xx`; 256 is
 * sent as `00`).
 *
 * @example
 * ```ts
 * import { encodeFetchApdu } from 'simvault/protocol';
 * import { toHex } from 'simvault';
 * toHex(encodeFetchApdu(27)); // '801200001b'
 * ```
 */
export function encodeFetchApdu(length: number): Uint8Array {
  const le = checkInt(length, 1, 256, 'FetchAPDU', 'Le');
  return encodeCommandApdu({ cla: 0x80, ins: 0x12, p1: 0, p2: 0, data: new Uint8Array(0), le });
}
