/**
 * The emulated SIM and secure chip as {@link VirtualCard}s for vpcd: each with an ATR of its
 * own (ISO 7816-3), a new session at every power-up and reset, and its persistent memory kept
 * across them (and, when served from a state file, written to it before each answer).
 *
 * @module
 */
import { concatBytes } from '../bytes.js';
import { encodeAtr } from '../protocol/atr.js';
import { SimCard } from '../sim/applet/sim-card.js';
import type { SimState } from '../sim/applet/state.js';
import type { SecureChip } from '../sim/chip/cos.js';
import type { VirtualCard } from './vpcd-connection.js';

// Historical bytes (ISO 7816-4 §8.1.1): category 80, then COMPACT-TLV objects — card service
// data (31: application selection by full DF name, card without MF), card capabilities (73:
// selection by full DF name; data unit 1 byte; extended lengths or not), card issuer's data.
function historical(extendedLengths: boolean, issuer: string): Uint8Array {
  const name = new TextEncoder().encode(issuer);
  return concatBytes(
    Uint8Array.of(0x80, 0x31, 0x81, 0x73, 0x80, 0x01, extendedLengths ? 0x40 : 0x00),
    Uint8Array.of(0x50 | name.length),
    name,
  );
}

/**
 * The emulated SIM's ATR: T=0 (as SIMs speak), then global interface bytes (T=15) with TA
 * `C7` — clock stop: no preference; classes A, B and C (5 V, 3 V, 1.8 V), as ETSI TS 102 221
 * §6.3 asks of a UICC — and historical bytes naming it `svSIM`:
 * `3B 8D 80 1F C7 80 31 81 73 80 01 00 55 73 76 53 49 4D 10`.
 *
 * @example
 * ```ts
 * import { SIM_VIRTUAL_ATR } from 'simvault/node';
 * import { atrProtocols, decodeAtr } from 'simvault/protocol';
 * atrProtocols(decodeAtr(SIM_VIRTUAL_ATR)); // [0]
 * ```
 */
export const SIM_VIRTUAL_ATR: Uint8Array = encodeAtr({
  convention: 'direct',
  groups: [{ protocol: 0 }, { protocol: 15 }, { ta: 0xc7 }],
  historical: historical(false, 'svSIM'),
});

/**
 * The emulated secure chip's ATR: T=1 with IFSC 254 (TA3 `FE`) and BWI 4, CWI 5 (TB3 `45`),
 * extended lengths announced in the card capabilities, and historical bytes naming it
 * `svCHIP`:
 * `3B 8E 81 31 FE 45 80 31 81 73 80 01 40 56 73 76 43 48 49 50 46`.
 *
 * @example
 * ```ts
 * import { CHIP_VIRTUAL_ATR } from 'simvault/node';
 * import { atrProtocols, decodeAtr } from 'simvault/protocol';
 * atrProtocols(decodeAtr(CHIP_VIRTUAL_ATR)); // [1]
 * ```
 */
export const CHIP_VIRTUAL_ATR: Uint8Array = encodeAtr({
  convention: 'direct',
  groups: [{ protocol: 1 }, { protocol: 1 }, { ta: 0xfe, tb: 0x45 }],
  historical: historical(true, 'svCHIP'),
});

/**
 * An emulated SIM in a reader, and its state as of the last command.
 *
 * @example
 * ```ts
 * import type { SimVirtualCard } from 'simvault/node';
 * const iccid = (card: SimVirtualCard) => card.state.iccid;
 * ```
 */
export interface SimVirtualCard extends VirtualCard {
  /** A copy of the SIM's persistent state now. */
  readonly state: SimState;
}

/**
 * The emulated SIM as a virtual card: each power-up or reset is a new {@link SimCard} over the
 * state the last one left (the applet deselected, partial concatenated SMS forgotten, as on a
 * real SIM). `commit` is awaited with every changed state before the command is answered; if it
 * throws, the change is dropped and the command answers `6F00`.
 *
 * @example
 * ```ts
 * import { simVirtualCard } from 'simvault/node';
 * import { personalizeSim } from 'simvault/sim';
 * const card = simVirtualCard(personalizeSim({ iccid: '89860012345678901234' }).state);
 * const session = await card.powerUp('cold');
 * ```
 */
export function simVirtualCard(
  initial: SimState,
  commit?: (state: SimState) => void | Promise<void>,
): SimVirtualCard {
  let state = structuredClone(initial);
  return {
    atr: SIM_VIRTUAL_ATR,
    get state() {
      return structuredClone(state);
    },
    powerUp() {
      return new SimCard(state, {
        commit: async (next) => {
          await commit?.(next);
          state = next;
        },
      });
    },
  };
}

/**
 * The emulated secure chip as a virtual card: power-up and reset end its session
 * (`SecureChip.reset()`: nothing selected, PIN not verified); its persistent state stays with the
 * chip (in its state file when it was opened with `openChipStateFile`).
 *
 * @example
 * ```ts
 * import { chipVirtualCard } from 'simvault/node';
 * import { SecureChip, personalizeChip } from 'simvault/sim';
 * const card = chipVirtualCard(new SecureChip(personalizeChip({ pin: '1234' })));
 * ```
 */
export function chipVirtualCard(chip: SecureChip): VirtualCard {
  return {
    atr: CHIP_VIRTUAL_ATR,
    powerUp() {
      chip.reset();
      return chip;
    },
    powerDown() {
      chip.reset();
    },
  };
}
