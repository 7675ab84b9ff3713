/**
 * Concatenated SMS for secured packets (3GPP TS 23.040 §9.2.3.24.1, TS 31.115): split a whole
 * secured packet into user-data segments of at most 140 octets, and put segments back together.
 * Only the first segment carries the secured-packet element (`70 00` for a command, `71 00` for
 * a response); every segment carries the concatenation element `00 03 ref total seq`.
 *
 * @module
 */
import { equalBytes } from '../bytes.js';
import { ArgumentError, ProtocolError } from '../errors.js';
import { decodeUserDataHeader, encodeUserDataHeader, type UdhElement } from './sms.js';

const MAX_UD = 140;
const CONCAT8 = 0x00;
const CONCAT16 = 0x08;

/**
 * Split a secured packet (bytes from CPL or RPL on) into SMS user data. A packet that fits one SMS
 * becomes `02 70 00 | packet` (`02 71 00` for a response); a longer one becomes concatenated
 * segments, the first with `07 00 03 ref n 01 70 00`, the others with `05 00 03 ref n i`.
 * At most 255 segments.
 *
 * @example
 * ```ts
 * import { splitSecuredPacket } from 'simvault/protocol';
 * const parts = splitSecuredPacket(new Uint8Array(300), { reference: 7 });
 * parts.length; // 3
 * parts[0]!.subarray(0, 8); // 07 00 03 07 03 01 70 00
 * ```
 */
export function splitSecuredPacket(
  packet: Uint8Array,
  opts: { reference: number; kind?: 'command' | 'response' },
): Uint8Array[] {
  if (!(packet instanceof Uint8Array)) throw new ArgumentError('packet must be a Uint8Array');
  // Checked as unknown: callers from JavaScript may pass anything.
  const options: unknown = opts;
  const ref =
    typeof options === 'object' && options !== null && 'reference' in options
      ? options.reference
      : undefined;
  if (typeof ref !== 'number' || !Number.isInteger(ref) || ref < 0 || ref > 255) {
    throw new ProtocolError(
      'PROTOCOL_BAD_VALUE',
      'ConcatenatedSms',
      'reference',
      -1,
      'reference must be 0..255',
    );
  }
  const kind: unknown = opts.kind ?? 'command';
  if (kind !== 'command' && kind !== 'response')
    throw new ArgumentError("kind must be 'command' or 'response'");
  const mark: UdhElement = { iei: kind === 'command' ? 0x70 : 0x71, data: new Uint8Array(0) };
  if (packet.length + 3 <= MAX_UD) return [concat(encodeUserDataHeader([mark]), packet)];
  const firstRoom = MAX_UD - 8;
  const otherRoom = MAX_UD - 6;
  const total = 1 + Math.ceil(Math.max(0, packet.length - firstRoom) / otherRoom);
  if (total > 255) {
    throw new ProtocolError(
      'PROTOCOL_BAD_LENGTH',
      'ConcatenatedSms',
      'total',
      -1,
      `a ${packet.length}-byte packet needs ${total} segments; at most 255`,
    );
  }
  const out: Uint8Array[] = [];
  let off = 0;
  for (let seq = 1; seq <= total; seq++) {
    const concatIe: UdhElement = { iei: CONCAT8, data: new Uint8Array([ref, total, seq]) };
    const header = encodeUserDataHeader(seq === 1 ? [concatIe, mark] : [concatIe]);
    const room = MAX_UD - header.length;
    out.push(concat(header, packet.subarray(off, off + room)));
    off += room;
  }
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * A message put back together (or one that was never split).
 *
 * @example
 * ```ts
 * import type { ReassembledMessage } from 'simvault/protocol';
 * const show = (m: ReassembledMessage) => m.data.length;
 * ```
 */
export interface ReassembledMessage {
  /** Outcome. */
  status: 'complete';
  /** The header elements of the first segment other than concatenation (e.g. `70 00`). */
  elements: UdhElement[];
  /** The concatenated payloads after each segment's header. */
  data: Uint8Array;
  /** The equivalent single-SMS user data: a header of {@link ReassembledMessage.elements} (when any) then the data. */
  userData: Uint8Array;
}

/**
 * A segment was stored; the message still lacks segments.
 *
 * @example
 * ```ts
 * import type { PendingMessage } from 'simvault/protocol';
 * const progress = (p: PendingMessage) => `${p.received}/${p.total}`;
 * ```
 */
export interface PendingMessage {
  /** Outcome. */
  status: 'incomplete';
  /** Concatenation reference. */
  reference: number;
  /** Segments announced. */
  total: number;
  /** Distinct segments held so far. */
  received: number;
  /** The segment was a repeat of one already held and was ignored. */
  duplicate: boolean;
}

/**
 * A message dropped before it was complete (timed out, evicted or flushed).
 *
 * @example
 * ```ts
 * import type { IncompleteMessage } from 'simvault/protocol';
 * const why = (m: IncompleteMessage) => m.error.code; // 'PROTOCOL_TRUNCATED'
 * ```
 */
export interface IncompleteMessage {
  /** The source the caller gave with its segments. */
  source: string;
  /** Concatenation reference. */
  reference: number;
  /** Segments announced. */
  total: number;
  /** Sequence numbers that never arrived. */
  missing: number[];
  /** Why it was dropped. */
  reason: 'timeout' | 'evicted' | 'flushed';
  /** A typed error describing the loss, for callers that report by throwing. */
  error: ProtocolError;
}

/**
 * Options of a {@link ConcatReassembler}.
 *
 * @example
 * ```ts
 * import type { ReassemblerOptions } from 'simvault/protocol';
 * const opts: ReassemblerOptions = { timeoutMs: 60_000, maxPending: 8 };
 * ```
 */
export interface ReassemblerOptions {
  /** How long a message may wait for its segments, from its first segment (default 120 s). */
  timeoutMs?: number;
  /** How many incomplete messages to hold; the oldest is evicted beyond that (default 32). */
  maxPending?: number;
}

interface PendingSet {
  source: string;
  reference: number;
  total: number;
  firstSeen: number;
  parts: (Uint8Array | undefined)[];
  received: number;
  elements: UdhElement[] | undefined;
}

/**
 * Puts concatenated SMS user data back together. Segments may arrive in any order and more than
 * once (a repeat that arrives after its message completed, within the timeout, is recognised as
 * such); a message is released only when every segment is present, so a missing segment never
 * yields data. Messages are keyed by the caller's `source` (e.g. the originating address), the
 * reference, its width (8 or 16 bits) and the total. Per TS 23.040 a concatenation element with a
 * total or sequence of 0, or a sequence above the total, is ignored: that user data passes as a
 * single message.
 *
 * @example
 * ```ts
 * import { ConcatReassembler, splitSecuredPacket } from 'simvault/protocol';
 * const r = new ConcatReassembler();
 * const parts = splitSecuredPacket(new Uint8Array(200).fill(9), { reference: 1 });
 * r.add(parts[1]!).status; // 'incomplete'
 * const done = r.add(parts[0]!);
 * if (done.status === 'complete') done.data.length; // 200
 * ```
 */
export class ConcatReassembler {
  private readonly sets = new Map<string, PendingSet>();
  /** Recently completed messages, so a late repeat of one of their segments is not a new message. */
  private readonly recent = new Map<string, { at: number; parts: Uint8Array[] }>();
  private readonly dropped: IncompleteMessage[] = [];
  private readonly timeoutMs: number;
  private readonly maxPending: number;

  /**
   * Create an empty reassembler. Throws {@link ArgumentError} unless `timeoutMs` is positive and
   * `maxPending` a positive integer.
   *
   * @param options - timeout and capacity
   */
  constructor(options: ReassemblerOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.maxPending = options.maxPending ?? 32;
    if (!(this.timeoutMs > 0) || !Number.isInteger(this.maxPending) || this.maxPending < 1) {
      throw new ArgumentError('timeoutMs must be positive and maxPending a positive integer');
    }
  }

  /** Number of incomplete messages held. */
  get pending(): number {
    return this.sets.size;
  }

  /**
   * Add one SMS user data that starts with a user data header. Throws {@link ProtocolError} on a
   * malformed header, or when a segment repeats a sequence number with different bytes (the whole
   * message is then dropped).
   *
   * @param userData - the TP-UD, header included
   * @param now - the current time in ms (for timeouts)
   * @param source - distinguishes senders that may reuse references
   */
  add(userData: Uint8Array, now = Date.now(), source = ''): ReassembledMessage | PendingMessage {
    if (!(userData instanceof Uint8Array))
      throw new ProtocolError(
        'PROTOCOL_BAD_VALUE',
        'ConcatenatedSms',
        'input',
        0,
        'must be a Uint8Array',
      );
    if (userData.length > MAX_UD) {
      throw new ProtocolError(
        'PROTOCOL_BAD_LENGTH',
        'ConcatenatedSms',
        'TP-UD',
        MAX_UD,
        `${userData.length} octets exceed ${MAX_UD}`,
      );
    }
    const { elements, end } = decodeUserDataHeader(userData);
    const payload = userData.subarray(end);
    const concatIndex = elements.findIndex((e) => e.iei === CONCAT8 || e.iei === CONCAT16);
    const ie = concatIndex >= 0 ? elements[concatIndex]! : undefined;
    const others = elements.filter((_, i) => i !== concatIndex);
    if (!ie) return complete(others, payload.slice());
    const wide = ie.iei === CONCAT16;
    const d = ie.data;
    const reference = wide ? (d[0]! << 8) | d[1]! : d[0]!;
    const total = d[wide ? 2 : 1]!;
    const seq = d[wide ? 3 : 2]!;
    if (total === 0 || seq === 0 || seq > total) return complete(others, payload.slice());
    const key = `${source}\u0000${wide ? 16 : 8}:${reference}:${total}`;
    let set = this.sets.get(key);
    if (!set) {
      this.expire(now);
      const done = this.recent.get(key);
      const same = done?.parts[seq - 1];
      if (same && equalBytes(same, payload))
        return { status: 'incomplete', reference, total, received: total, duplicate: true };
      set = {
        source,
        reference,
        total,
        firstSeen: now,
        parts: new Array<Uint8Array | undefined>(total),
        received: 0,
        elements: undefined,
      };
      this.sets.set(key, set);
      while (this.sets.size > this.maxPending) {
        const oldest = this.sets.keys().next().value as string;
        this.drop(oldest, 'evicted');
      }
    }
    const have = set.parts[seq - 1];
    if (have) {
      if (!equalBytes(have, payload)) {
        this.sets.delete(key);
        throw new ProtocolError(
          'PROTOCOL_BAD_VALUE',
          'ConcatenatedSms',
          'sequence',
          0,
          `segment ${seq} of reference ${reference} arrived twice with different bytes`,
        );
      }
      return { status: 'incomplete', reference, total, received: set.received, duplicate: true };
    }
    set.parts[seq - 1] = payload.slice();
    set.received++;
    if (seq === 1) set.elements = others;
    if (set.received < total)
      return { status: 'incomplete', reference, total, received: set.received, duplicate: false };
    this.sets.delete(key);
    this.recent.delete(key);
    this.recent.set(key, { at: now, parts: set.parts as Uint8Array[] });
    while (this.recent.size > this.maxPending)
      this.recent.delete(this.recent.keys().next().value as string);
    let len = 0;
    for (const p of set.parts) len += p!.length;
    const data = new Uint8Array(len);
    let off = 0;
    for (const p of set.parts) {
      data.set(p!, off);
      off += p!.length;
    }
    return complete(set.elements ?? [], data);
  }

  /**
   * Drop messages whose first segment is older than the timeout; returns them, with any evicted
   * since the last call.
   *
   * @param now - the current time in ms
   */
  expire(now = Date.now()): IncompleteMessage[] {
    for (const [key, done] of [...this.recent])
      if (now - done.at >= this.timeoutMs) this.recent.delete(key);
    for (const [key, set] of [...this.sets])
      if (now - set.firstSeen >= this.timeoutMs) this.drop(key, 'timeout');
    return this.dropped.splice(0);
  }

  /** Drop every incomplete message; returns them, with any evicted or timed out before. */
  flush(): IncompleteMessage[] {
    for (const key of [...this.sets.keys()]) this.drop(key, 'flushed');
    return this.dropped.splice(0);
  }

  private drop(key: string, reason: IncompleteMessage['reason']): void {
    const set = this.sets.get(key);
    if (!set) return;
    this.sets.delete(key);
    const missing: number[] = [];
    for (let i = 0; i < set.total; i++) if (!set.parts[i]) missing.push(i + 1);
    this.dropped.push({
      source: set.source,
      reference: set.reference,
      total: set.total,
      missing,
      reason,
      error: new ProtocolError(
        'PROTOCOL_TRUNCATED',
        'ConcatenatedSms',
        'segment',
        -1,
        `message ${set.reference} ${reason}: segment(s) ${missing.join(', ')} of ${set.total} missing`,
      ),
    });
  }
}

function complete(elements: UdhElement[], data: Uint8Array): ReassembledMessage {
  const userData = elements.length ? concat(encodeUserDataHeader(elements), data) : data;
  return { status: 'complete', elements, data, userData };
}
