/**
 * Concatenated mobile-originated SMS put back together in the store rather than in memory, so the
 * segments of one message may reach any of the OTA processes sharing the database, in any order,
 * more than once, or across a restart: the process whose segment completes the message, and only
 * that one, gets it whole.
 *
 * @module
 */
import { fromHex, toHex } from '../../bytes.js';
import { ProtocolError } from '../../errors.js';
import {
  ConcatReassembler,
  type PendingMessage,
  type ReassembledMessage,
} from '../../protocol/sms-concat.js';
import { decodeUserDataHeader } from '../../protocol/sms.js';
import type { OtaStore, ReassemblyLimits } from './store.js';

const CONCAT8 = 0x00;
const CONCAT16 = 0x08;

/**
 * Reassembly of each SIM's concatenated MO SMS over an {@link OtaStore}, with the answers of
 * {@link ConcatReassembler}: `complete` once (to the caller whose segment completed the message),
 * `incomplete` otherwise, `duplicate` for a segment held already or of a message completed
 * within the timeout. A stored message comes `complete` with a `claim`: the caller settles it
 * (`OtaStore.settleMoMessage`) once relayed, or releases it on failure; a claim left unsettled
 * (its process died) lapses, and the next segment of the message that arrives anywhere gets the
 * message again.
 *
 * @example
 * ```ts
 * import { StoredReassembler } from './mo-reassembly.js';
 * import { openOtaStore } from './store.js';
 * const r = new StoredReassembler(await openOtaStore({ dataDir: './d' }), { timeoutMs: 120_000, maxMessagesPerSim: 32 });
 * const piece = await r.add('89860012345678901234', userData, Date.now());
 * if (piece.status === 'complete') piece.data; // the secured packet
 * ```
 */
export class StoredReassembler {
  private readonly store: OtaStore;
  private readonly limits: ReassemblyLimits;

  /**
   * @param store - where segments wait
   * @param limits - how long, and how many messages per SIM
   */
  constructor(store: OtaStore, limits: ReassemblyLimits) {
    this.store = store;
    this.limits = limits;
  }

  /**
   * Add one SMS user data (header included) from SIM `iccid`. Throws {@link ProtocolError} on a
   * malformed header, or when a segment repeats a sequence number with different bytes (the
   * partial message is then dropped).
   *
   * @param iccid - the SIM it came from
   * @param userData - the TP-UD, header included
   * @param now - the current time in ms
   */
  async add(
    iccid: string,
    userData: Uint8Array,
    now: number,
  ): Promise<(ReassembledMessage & { claim?: string }) | PendingMessage> {
    // A lone SMS needs no store, and a fresh reassembler checks a segment's structure as the
    // in-memory one would: only a well-formed segment of two or more goes on.
    const alone = new ConcatReassembler().add(userData, now);
    if (alone.status === 'complete') return alone;
    const ie = decodeUserDataHeader(userData).elements.find(
      (e) => e.iei === CONCAT8 || e.iei === CONCAT16,
    )!;
    const wide = ie.iei === CONCAT16;
    const d = ie.data;
    const reference = wide ? (d[0]! << 8) | d[1]! : d[0]!;
    const total = d[wide ? 2 : 1]!;
    const seq = d[wide ? 3 : 2]!;
    const held = await this.store.holdMoSegment(
      iccid,
      { message: `${wide ? 16 : 8}:${reference}:${total}`, total, seq, userData: toHex(userData) },
      now,
      this.limits,
    );
    if (held.status === 'incomplete')
      return {
        status: 'incomplete',
        reference,
        total,
        received: held.received,
        duplicate: held.duplicate,
      };
    if (held.status === 'conflict')
      throw new ProtocolError(
        'PROTOCOL_BAD_VALUE',
        'ConcatenatedSms',
        'sequence',
        0,
        `segment ${seq} of reference ${reference} arrived twice with different bytes`,
      );
    const assembler = new ConcatReassembler();
    let whole: ReassembledMessage | PendingMessage = alone;
    for (const segment of held.segments) whole = assembler.add(fromHex(segment), now);
    if (whole.status !== 'complete')
      throw new ProtocolError(
        'PROTOCOL_TRUNCATED',
        'ConcatenatedSms',
        'segment',
        -1,
        `message ${reference} of SIM ${iccid}: the store holds ${held.segments.length} of ${total} segments`,
      );
    // The caller holds the claim on the message until it settles it (see OtaStore.settleMoMessage).
    return { ...whole, claim: `${wide ? 16 : 8}:${reference}:${total}` };
  }
}
