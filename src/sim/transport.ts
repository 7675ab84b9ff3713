/**
 * How handset code speaks to a smart card — the SIM or the memory card's secure chip — whether
 * emulated in software or real behind a reader: one command APDU in, one response APDU out.
 *
 * @module
 */

/**
 * An APDU transport. `transmit` takes a whole ISO 7816-4 command APDU and resolves to the whole
 * response APDU (data followed by SW1 SW2). It never throws for a status word: errors of the
 * card are status words; only a broken transport rejects.
 *
 * @example
 * ```ts
 * import type { ApduTransport } from 'simvault/sim';
 * async function select(t: ApduTransport, aid: Uint8Array) {
 *   const rsp = await t.transmit(new Uint8Array([0x00, 0xa4, 0x04, 0x00, aid.length, ...aid]));
 *   return (rsp[rsp.length - 2]! << 8) | rsp[rsp.length - 1]!;
 * }
 * ```
 */
export interface ApduTransport {
  /** Send one command APDU; resolves to the response APDU. */
  transmit(command: Uint8Array): Promise<Uint8Array>;
}
