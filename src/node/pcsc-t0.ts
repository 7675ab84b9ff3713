/**
 * The two status words by which a card asks the reader's side to finish an exchange (ISO/IEC
 * 7816-3 §12.2.2, 7816-4 §5.3.4), handled once for every PC/SC card so that callers always get
 * the whole answer:
 *
 * - `61xx`: xx more response bytes are waiting (00: 256 or more); fetch them with GET RESPONSE
 *   (`CLA C0 00 00 xx`), again and again while the card answers `61xx`, and concatenate.
 * - `6Cxx`: wrong Le, the exact length is xx; send the same command again with Le = xx.
 *
 * A T=0 card answers this way by nature (it cannot send data for a case 4 command before
 * the reader asks), and many T=1 cards do too, so both are handled whatever the protocol.
 *
 * @module
 */
import { concatBytes } from '../bytes.js';
import { decodeCommandApdu, encodeCommandApdu } from '../protocol/apdu.js';
import { PcscError } from './pcsc-binding.js';

/** GET RESPONSE rounds allowed for one command: 256 × 256 bytes is an extended-length answer. */
const MAX_GET_RESPONSE_ROUNDS = 257;

/**
 * The class byte of the GET RESPONSE that follows a command with class `cla`: the command's own
 * class (so its logical channel and GSM class `A0` are kept) without the chaining bit, except
 * that a proprietary class (`8X`, `9X`) asks in the interindustry class on the same channel.
 *
 * @example
 * ```ts
 * import { getResponseClass } from 'simvault/node';
 * getResponseClass(0x80); // 0x00
 * getResponseClass(0xa0); // 0xa0
 * ```
 */
export function getResponseClass(cla: number): number {
  if ((cla & 0x80) === 0) return cla & 0xef;
  if ((cla & 0xe0) === 0x80) return cla & 0x03;
  return cla;
}

function swOf(response: Uint8Array): number {
  const n = response.length;
  return n < 2 ? -1 : (response[n - 2]! << 8) | response[n - 1]!;
}

/** The same command with Le = `le` (1-256), or `undefined` when it cannot be parsed to resend. */
function withLe(command: Uint8Array, le: number): Uint8Array | undefined {
  try {
    const apdu = decodeCommandApdu(command);
    return encodeCommandApdu({ ...apdu, le });
  } catch {
    return undefined;
  }
}

/**
 * Send `command` with `send` (one raw exchange) and finish the exchange: resend once on `6Cxx`,
 * collect `61xx` with GET RESPONSE. Resolves to the whole response: every data byte, then the
 * final status word.
 *
 * @param send - one raw command/response exchange with the card
 * @param command - the command APDU
 *
 * @example
 * ```ts
 * import { transmitT0 } from 'simvault/node';
 * const card = async (c: Uint8Array) => (c[1] === 0xc0 ? new Uint8Array([7, 0x90, 0]) : new Uint8Array([0x61, 1]));
 * await transmitT0(card, new Uint8Array([0x00, 0xca, 0x00, 0x01, 0x00])); // Uint8Array [7, 0x90, 0x00]
 * ```
 */
export async function transmitT0(
  send: (command: Uint8Array) => Promise<Uint8Array>,
  command: Uint8Array,
): Promise<Uint8Array> {
  let response = await send(command);
  if (swOf(response) >> 8 === 0x6c) {
    const again = withLe(command, response[response.length - 1]! || 256);
    if (again !== undefined) response = await send(again);
  }
  const parts: Uint8Array[] = [];
  const cla = getResponseClass(command[0] ?? 0);
  for (let round = 0; swOf(response) >> 8 === 0x61; round++) {
    if (round === MAX_GET_RESPONSE_ROUNDS)
      throw new PcscError(
        'PCSC_FAILED',
        `the card kept answering 61xx for ${round} GET RESPONSE commands`,
      );
    parts.push(response.subarray(0, response.length - 2));
    const le = response[response.length - 1]!;
    const getResponse = Uint8Array.of(cla, 0xc0, 0x00, 0x00, le);
    response = await send(getResponse);
    // A card may still correct the length it just announced.
    if (swOf(response) >> 8 === 0x6c)
      response = await send(Uint8Array.of(cla, 0xc0, 0x00, 0x00, response[response.length - 1]!));
  }
  return parts.length === 0 ? response : concatBytes(...parts, response);
}
