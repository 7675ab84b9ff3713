/**
 * The Answer-to-Reset of ISO/IEC 7816-3 §8.2: the bytes a card sends when it is powered up or
 * reset, telling the reader its convention, the transmission protocols it offers (T=0, T=1) with
 * their parameters, and up to 15 historical bytes (ISO 7816-4 §8.1.1).
 *
 * An ATR is TS, T0, interface bytes in groups (group i is TAi TBi TCi TDi; TDi announces a
 * protocol and which bytes group i+1 has), the historical bytes, and a check byte TCK that is
 * present unless T=0 is the only protocol indicated. Decoding checks all of it, TCK included, so
 * every accepted ATR encodes back to the same bytes.
 *
 * @module
 */
import { ProtocolError } from '../errors.js';
import { ByteReader } from './reader.js';

const STRUCTURE = 'ATR';
/** TS for the direct convention (`3B`) and the inverse one (`3F`). */
const TS_DIRECT = 0x3b;
const TS_INVERSE = 0x3f;

/**
 * One group of interface bytes: TAi, TBi, TCi when present, and the protocol its TDi announces.
 * A group with `protocol` set is followed by another group (perhaps empty); the last group has
 * none.
 *
 * @example
 * ```ts
 * import type { AtrGroup } from 'simvault/protocol';
 * const t15: AtrGroup = { protocol: 15 }; // TD announcing global bytes (T=15) in the next group
 * ```
 */
export interface AtrGroup {
  /** TAi, 0-255. */
  ta?: number;
  /** TBi, 0-255. */
  tb?: number;
  /** TCi, 0-255. */
  tc?: number;
  /** The protocol type T (0-15) of TDi; present exactly when TDi is. */
  protocol?: number;
}

/**
 * A decoded ATR.
 *
 * @example
 * ```ts
 * import type { Atr } from 'simvault/protocol';
 * // 3B 80 80 01 01: T=0 and T=1 offered, no historical bytes, TCK 01.
 * const atr: Atr = { convention: 'direct', groups: [{ protocol: 0 }, { protocol: 1 }, {}], historical: new Uint8Array(0) };
 * ```
 */
export interface Atr {
  /** TS: `direct` (`3B`) or `inverse` (`3F`) convention. */
  convention: 'direct' | 'inverse';
  /** Interface byte groups 1, 2, …; at least one (group 1, perhaps empty). */
  groups: AtrGroup[];
  /** The historical bytes, 0-15. */
  historical: Uint8Array;
}

function fail(code: ConstructorParameters<typeof ProtocolError>[0], field: string, detail: string) {
  return new ProtocolError(code, STRUCTURE, field, -1, detail);
}

function checkByte(v: unknown, field: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xff)
    throw fail('PROTOCOL_BAD_VALUE', field, 'must be an integer 0-255');
  return v;
}

/**
 * The protocols an ATR offers, in the order of its TD bytes, T=15 (global bytes) left out. An
 * ATR with no TD byte offers T=0 only.
 *
 * @example
 * ```ts
 * import { atrProtocols, decodeAtr } from 'simvault/protocol';
 * import { fromHex } from 'simvault';
 * atrProtocols(decodeAtr(fromHex('3b80800101'))); // [0, 1]
 * ```
 */
export function atrProtocols(atr: Atr): number[] {
  const out: number[] = [];
  for (const g of atr.groups)
    if (g.protocol !== undefined && g.protocol !== 15 && !out.includes(g.protocol))
      out.push(g.protocol);
  return out.length === 0 ? [0] : out;
}

/** TCK is absent when only T=0 is indicated and present otherwise (ISO 7816-3 §8.2.5). */
function needsTck(groups: readonly AtrGroup[]): boolean {
  return groups.some((g) => g.protocol !== undefined && g.protocol !== 0);
}

function presence(g: AtrGroup | undefined): number {
  if (g === undefined) return 0;
  return (
    (g.ta === undefined ? 0 : 0x1) |
    (g.tb === undefined ? 0 : 0x2) |
    (g.tc === undefined ? 0 : 0x4) |
    (g.protocol === undefined ? 0 : 0x8)
  );
}

/**
 * Encode an ATR: TS, T0, the interface bytes, the historical bytes and, when a protocol other
 * than T=0 is indicated, TCK.
 *
 * @example
 * ```ts
 * import { encodeAtr } from 'simvault/protocol';
 * import { toHex } from 'simvault';
 * toHex(encodeAtr({ convention: 'direct', groups: [{ protocol: 0 }, { protocol: 1 }, {}], historical: new Uint8Array(0) }));
 * // '3b80800101'
 * ```
 */
export function encodeAtr(atr: Atr): Uint8Array {
  const input: unknown = atr;
  if (typeof input !== 'object' || input === null)
    throw fail('PROTOCOL_BAD_VALUE', 'atr', 'not an object');
  const convention: unknown = atr.convention;
  if (convention !== 'direct' && convention !== 'inverse')
    throw fail('PROTOCOL_BAD_VALUE', 'TS', "convention must be 'direct' or 'inverse'");
  if (!(atr.historical instanceof Uint8Array) || atr.historical.length > 15)
    throw fail('PROTOCOL_BAD_LENGTH', 'historical', 'must be a Uint8Array of 0-15 bytes');
  const groups = atr.groups;
  if (!Array.isArray(groups) || groups.length === 0)
    throw fail('PROTOCOL_MISSING_FIELD', 'groups', 'group 1 must be present (it may be empty)');
  const out = [atr.convention === 'direct' ? TS_DIRECT : TS_INVERSE];
  out.push((presence(groups[0]) << 4) | atr.historical.length);
  groups.forEach((g, i) => {
    const n = i + 1;
    const last = i === groups.length - 1;
    if (last !== (g.protocol === undefined))
      throw fail(
        'PROTOCOL_BAD_VALUE',
        `TD${n}`,
        last ? 'the last group announces no protocol' : 'every group but the last needs a protocol',
      );
    for (const [key, name] of [
      ['ta', 'TA'],
      ['tb', 'TB'],
      ['tc', 'TC'],
    ] as const) {
      const v = checkByte(g[key], `${name}${n}`);
      if (v !== undefined) out.push(v);
    }
    if (g.protocol !== undefined) {
      const t = g.protocol;
      if (!Number.isInteger(t) || t < 0 || t > 15)
        throw fail('PROTOCOL_BAD_VALUE', `TD${n}`, 'protocol must be an integer 0-15');
      if (n === 1 && t === 15)
        throw fail('PROTOCOL_BAD_VALUE', 'TD1', 'TD1 cannot indicate T=15 (ISO 7816-3 §8.2.3)');
      out.push((presence(groups[i + 1]) << 4) | t);
    }
  });
  out.push(...atr.historical);
  if (needsTck(groups)) out.push(out.slice(1).reduce((x, b) => x ^ b, 0));
  if (out.length > 33) throw fail('PROTOCOL_BAD_LENGTH', 'atr', `${out.length} bytes; at most 33`);
  return Uint8Array.from(out);
}

/**
 * Decode an ATR, checking TS, the interface byte chain, the number of historical bytes and TCK
 * (`PROTOCOL_BAD_CHECKSUM` when the bytes from T0 to TCK do not XOR to zero).
 *
 * @example
 * ```ts
 * import { decodeAtr } from 'simvault/protocol';
 * import { fromHex } from 'simvault';
 * decodeAtr(fromHex('3b80800101')).groups; // [{ protocol: 0 }, { protocol: 1 }, {}]
 * ```
 */
export function decodeAtr(bytes: Uint8Array): Atr {
  const r = new ByteReader(bytes, STRUCTURE);
  const ts = r.u8('TS');
  if (ts !== TS_DIRECT && ts !== TS_INVERSE)
    r.fail('PROTOCOL_BAD_VALUE', 'TS', `TS must be 3B or 3F, got ${ts.toString(16)}`, 0);
  const t0 = r.u8('T0');
  const k = t0 & 0x0f;
  let y = t0 >> 4;
  const groups: AtrGroup[] = [];
  for (let n = 1; ; n++) {
    const g: AtrGroup = {};
    if (y & 0x1) g.ta = r.u8(`TA${n}`);
    if (y & 0x2) g.tb = r.u8(`TB${n}`);
    if (y & 0x4) g.tc = r.u8(`TC${n}`);
    if (y & 0x8) {
      const td = r.u8(`TD${n}`);
      g.protocol = td & 0x0f;
      if (n === 1 && g.protocol === 15)
        r.fail('PROTOCOL_BAD_VALUE', 'TD1', 'TD1 cannot indicate T=15', r.offset - 1);
      y = td >> 4;
      groups.push(g);
      continue;
    }
    groups.push(g);
    break;
  }
  const historical = r.take(k, 'historical');
  if (needsTck(groups)) {
    r.u8('TCK');
    const sum = bytes.subarray(1, r.offset).reduce((x, b) => x ^ b, 0);
    if (sum !== 0)
      r.fail('PROTOCOL_BAD_CHECKSUM', 'TCK', 'T0 to TCK do not XOR to zero', r.offset - 1);
  }
  r.end();
  return { convention: ts === TS_DIRECT ? 'direct' : 'inverse', groups, historical };
}
