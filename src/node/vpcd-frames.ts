/**
 * The wire format between vsmartcard's virtual reader (vpcd, a pcscd driver) and a virtual
 * card: over one TCP connection, each message is a 2-byte big-endian length and that many
 * bytes. vpcd sends 1-byte control messages (power off `00`, power on `01`, reset `02`, get
 * ATR `04`) and command APDUs; the card answers the ATR request with its ATR and each APDU with
 * its response APDU, and answers nothing else.
 *
 * @module
 */
import { ArgumentError } from '../errors.js';

/**
 * The control codes vpcd sends as 1-byte messages.
 *
 * @example
 * ```ts
 * import { VPCD_CONTROL } from 'simvault/node';
 * VPCD_CONTROL.atr; // 0x04
 * ```
 */
export const VPCD_CONTROL = {
  /** Power the card down. No answer. */
  powerOff: 0x00,
  /** Power the card up (cold reset). No answer. */
  powerOn: 0x01,
  /** Reset the card (warm reset). No answer. */
  reset: 0x02,
  /** Send the ATR. Answered with the ATR. */
  atr: 0x04,
} as const;

/**
 * One message from vpcd: a control code or a command APDU.
 *
 * @example
 * ```ts
 * import type { VpcdMessage } from 'simvault/node';
 * const m: VpcdMessage = { kind: 'control', code: 0x04 };
 * ```
 */
export type VpcdMessage =
  | {
      /** A 1-byte message: one of {@link VPCD_CONTROL}, or a code this side does not know. */
      kind: 'control';
      /** The control byte. */
      code: number;
    }
  | {
      /** Anything longer: a command APDU. */
      kind: 'apdu';
      /** The command APDU. */
      apdu: Uint8Array;
    };

/**
 * Frame one message: its length on two bytes, big-endian, then the bytes.
 *
 * @example
 * ```ts
 * import { encodeVpcdFrame } from 'simvault/node';
 * encodeVpcdFrame(new Uint8Array([0x90, 0x00])); // Uint8Array [0, 2, 0x90, 0x00]
 * ```
 */
export function encodeVpcdFrame(payload: Uint8Array): Uint8Array {
  if (!(payload instanceof Uint8Array) || payload.length > 0xffff)
    throw new ArgumentError('a vpcd message is a Uint8Array of at most 65535 bytes');
  const out = new Uint8Array(2 + payload.length);
  out[0] = payload.length >> 8;
  out[1] = payload.length & 0xff;
  out.set(payload, 2);
  return out;
}

/**
 * Cuts the byte stream from vpcd into messages, however TCP splits or joins them. Empty
 * messages carry nothing and are dropped.
 *
 * @example
 * ```ts
 * import { VpcdFrameReader } from 'simvault/node';
 * const reader = new VpcdFrameReader();
 * reader.push(new Uint8Array([0, 1, 0x04, 0, 5, 0x00])); // [{ kind: 'control', code: 4 }]
 * reader.push(new Uint8Array([0xa4, 0x04, 0x00, 0x00])); // [{ kind: 'apdu', apdu: … }]
 * ```
 */
export class VpcdFrameReader {
  private pending = new Uint8Array(0);

  /** Bytes received that do not yet make a whole message. */
  get buffered(): number {
    return this.pending.length;
  }

  /**
   * Add received bytes; returns the messages they complete, in order.
   *
   * @param chunk - bytes as they came off the socket
   */
  push(chunk: Uint8Array): VpcdMessage[] {
    const all = new Uint8Array(this.pending.length + chunk.length);
    all.set(this.pending);
    all.set(chunk, this.pending.length);
    const out: VpcdMessage[] = [];
    let at = 0;
    while (all.length - at >= 2) {
      const n = (all[at]! << 8) | all[at + 1]!;
      if (all.length - at - 2 < n) break;
      const body = all.slice(at + 2, at + 2 + n);
      at += 2 + n;
      if (n === 1) out.push({ kind: 'control', code: body[0]! });
      else if (n > 1) out.push({ kind: 'apdu', apdu: body });
    }
    this.pending = all.slice(at);
    return out;
  }
}
