/**
 * The public data objects of the chip that GET DATA returns, and their parsing on the host side.
 *
 * @module
 */
import { ProtocolError } from '../../errors.js';
import {
  decodeBerTlv,
  decodeBerTlvList,
  encodeBerTlv,
  encodeBerTlvList,
  type BerTlv,
} from '../../protocol/ber-tlv.js';
import { CHIP_ALGORITHM, CHIP_COS_VERSION, CHIP_TAG } from './constants.js';
import { CHIP_SERIAL_LENGTH, type ChipState } from './state.js';

/**
 * What GET DATA tells about a chip.
 *
 * @example
 * ```ts
 * import type { ChipInfo } from 'simvault/sim';
 * const info: ChipInfo = {
 *   serial: new Uint8Array(8), cosVersion: [1, 0], algorithms: [1],
 *   pinTriesLeft: 3, pinTriesMax: 3, pukTriesLeft: 10, pukTriesMax: 10,
 * };
 * ```
 */
export interface ChipInfo {
  /** Serial number, 8 bytes. */
  serial: Uint8Array;
  /** COS version: major, minor. */
  cosVersion: [number, number];
  /** Supported algorithm identifiers (see `CHIP_ALGORITHM`). */
  algorithms: number[];
  /** PIN tries left (0: blocked). */
  pinTriesLeft: number;
  /** PIN tries before blocking. */
  pinTriesMax: number;
  /** PUK tries left (0: the PIN can no longer be unblocked). */
  pukTriesLeft: number;
  /** PUK tries before blocking for good. */
  pukTriesMax: number;
}

function leafObjects(state: ChipState): BerTlv[] {
  return [
    { tag: CHIP_TAG.SERIAL, value: state.serial.slice() },
    { tag: CHIP_TAG.COS_VERSION, value: new Uint8Array(CHIP_COS_VERSION) },
    { tag: CHIP_TAG.ALGORITHMS, value: new Uint8Array([CHIP_ALGORITHM.AES_256_GCM_KEY_WRAP]) },
    { tag: CHIP_TAG.PIN_TRIES, value: new Uint8Array([state.pinTriesLeft, state.pinTriesMax]) },
    { tag: CHIP_TAG.PUK_TRIES, value: new Uint8Array([state.pukTriesLeft, state.pukTriesMax]) },
  ];
}

/**
 * The data object with `tag` (tag, length and value) as GET DATA returns it, or `undefined`
 * for a tag the chip does not have. Never includes the chip key or the PIN.
 *
 * @example
 * ```ts
 * import { chipDataObject, personalizeChip, CHIP_TAG } from 'simvault/sim';
 * const state = personalizeChip({ pin: '1234' });
 * chipDataObject(state, CHIP_TAG.PIN_TRIES); // DF23 02 03 03
 * ```
 */
export function chipDataObject(state: ChipState, tag: number): Uint8Array | undefined {
  const leaves = leafObjects(state);
  if (tag === CHIP_TAG.CHIP_INFO) return encodeBerTlv({ tag, value: encodeBerTlvList(leaves) });
  const leaf = leaves.find((o) => o.tag === tag);
  return leaf ? encodeBerTlv(leaf) : undefined;
}

function need(list: BerTlv[], tag: number, length?: number): Uint8Array {
  const found = list.find((o) => o.tag === tag);
  if (!found)
    throw new ProtocolError(
      'PROTOCOL_MISSING_FIELD',
      'ChipInfo',
      tag.toString(16).toUpperCase(),
      -1,
      'data object absent',
    );
  if (length !== undefined && found.value.length !== length) {
    throw new ProtocolError(
      'PROTOCOL_BAD_LENGTH',
      'ChipInfo',
      tag.toString(16).toUpperCase(),
      -1,
      `must be ${length} byte(s)`,
    );
  }
  return found.value;
}

/**
 * Parse the `BF20` chip-information template GET DATA returns. Unknown objects inside it are
 * skipped (a newer COS may add some); a missing or ill-sized known one is a `ProtocolError`.
 *
 * @example
 * ```ts
 * import { chipDataObject, decodeChipInfo, personalizeChip, CHIP_TAG } from 'simvault/sim';
 * const state = personalizeChip({ pin: '1234' });
 * decodeChipInfo(chipDataObject(state, CHIP_TAG.CHIP_INFO)!).pinTriesLeft; // 3
 * ```
 */
export function decodeChipInfo(bytes: Uint8Array): ChipInfo {
  const outer = decodeBerTlv(bytes);
  if (outer.tag !== CHIP_TAG.CHIP_INFO) {
    throw new ProtocolError(
      'PROTOCOL_UNKNOWN_TAG',
      'ChipInfo',
      'tag',
      0,
      `expected BF20, got ${outer.tag.toString(16).toUpperCase()}`,
    );
  }
  const list = decodeBerTlvList(outer.value);
  const version = need(list, CHIP_TAG.COS_VERSION, 2);
  const pin = need(list, CHIP_TAG.PIN_TRIES, 2);
  const puk = need(list, CHIP_TAG.PUK_TRIES, 2);
  return {
    serial: need(list, CHIP_TAG.SERIAL, CHIP_SERIAL_LENGTH),
    cosVersion: [version[0]!, version[1]!],
    algorithms: [...need(list, CHIP_TAG.ALGORITHMS)],
    pinTriesLeft: pin[0]!,
    pinTriesMax: pin[1]!,
    pukTriesLeft: puk[0]!,
    pukTriesMax: puk[1]!,
  };
}
