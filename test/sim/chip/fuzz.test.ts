// Seeded random and mutated APDUs against the chip: every answer is a well-formed response APDU
// with a status word the chip documents, no answer carries the chip key, and every persisted
// state is consistent.
import { describe, expect, it } from 'vitest';
import { concatBytes, fromHex, toHex, utf8 } from '../../../src/bytes.js';
import { decodeResponseApdu } from '../../../src/protocol/apdu.js';
import { CHIP_AID } from '../../../src/sim/chip/constants.js';
import { SecureChip } from '../../../src/sim/chip/cos.js';
import { encodePinBlock, encodePukBlock } from '../../../src/sim/chip/pin.js';
import { decodeChipState, type ChipState } from '../../../src/sim/chip/state.js';
import { mutate, prng } from '../../protocol/fuzz-util.js';
import { docChipState } from './doc-chip.js';

const SELECT = concatBytes(fromHex('00a4040c0a'), CHIP_AID);
const ALLOWED =
  /^(9000|63c[0-9a-f]|6700|6982|6983|6985|6a80|6a82|6a86|6a88|6c[0-9a-f]{2}|6d00|6e00)$/;

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  return toHex(haystack).includes(toHex(needle));
}

function apdu(header: string, data: Uint8Array, le?: number): Uint8Array {
  return concatBytes(
    fromHex(header),
    new Uint8Array([data.length]),
    data,
    le === undefined ? new Uint8Array(0) : new Uint8Array([le]),
  );
}

async function fuzzChip(
  seed: number,
  iterations: number,
): Promise<{ chip: SecureChip; saved: ChipState[]; swCounts: Map<string, number> }> {
  const original = docChipState();
  const saved: ChipState[] = [];
  const chip = new SecureChip(original, {
    persist: (bytes) => {
      const s = decodeChipState(bytes);
      expect(toHex(s.chipKey)).toBe(toHex(original.chipKey));
      expect(toHex(s.serial)).toBe(toHex(original.serial));
      saved.push(s);
    },
  });
  // Seeds: one valid APDU of every kind, including a real wrapped key.
  await chip.transmit(SELECT);
  await chip.transmit(apdu('00200081', encodePinBlock('1234')));
  const ctx = utf8('user/tv.apk');
  const generated = await chip.transmit(apdu('80460000', ctx, 0));
  const wrapped = generated.subarray(32, 93);
  const seeds = [
    SELECT,
    fromHex('00cabf2000'),
    fromHex('80cadf2300'),
    apdu('00200081', encodePinBlock('1234')),
    apdu('00200081', encodePinBlock('0000')),
    fromHex('00200081'),
    fromHex('0020ff81'),
    apdu('00240081', concatBytes(encodePinBlock('1234'), encodePinBlock('1234'))),
    apdu('002c0081', concatBytes(encodePukBlock('12345678'), encodePinBlock('1234'))),
    apdu('80460000', ctx, 0),
    apdu('80480000', concatBytes(wrapped, ctx), 0),
    concatBytes(fromHex('80480000000048'), wrapped, ctx, fromHex('0000')),
  ];
  const next = prng(seed);
  const swCounts = new Map<string, number>();
  for (let i = 0; i < iterations; i++) {
    let command: Uint8Array;
    const pick = next() % 10;
    if (pick < 6) command = mutate(seeds[next() % seeds.length]!, next);
    else if (pick < 8) command = seeds[next() % seeds.length]!;
    else command = new Uint8Array(next() % 270).map(() => next() & 0xff);
    const response = await chip.transmit(command);
    const { data, sw } = decodeResponseApdu(response);
    const swHex = toHex(response.subarray(response.length - 2));
    expect(swHex, toHex(command)).toMatch(ALLOWED);
    if (sw !== 0x9000) expect(data.length, toHex(command)).toBe(0);
    expect(contains(response, original.chipKey)).toBe(false);
    const family = swHex.startsWith('63c') ? '63cx' : swHex.startsWith('6c') ? '6cxx' : swHex;
    swCounts.set(family, (swCounts.get(family) ?? 0) + 1);
    // Keep the session open often enough for the key commands to be reached.
    if (i % 50 === 0) {
      const state = decodeChipState(chip.exportState());
      await chip.transmit(SELECT);
      if (state.pinTriesLeft > 0) await chip.transmit(apdu('00200081', encodePinBlock(state.pin)));
    }
  }
  return { chip, saved, swCounts };
}

describe('SecureChip under fuzzed APDUs', () => {
  it('answers every APDU well-formed, never leaks the chip key, and keeps its state consistent', async () => {
    const { chip, saved, swCounts } = await fuzzChip(11, 20_000);
    // The fuzzer reached the interesting answers, not only the early rejections.
    for (const sw of [
      '9000',
      '63cx',
      '6700',
      '6982',
      '6983',
      '6985',
      '6a80',
      '6a82',
      '6a86',
      '6a88',
      '6cxx',
      '6d00',
      '6e00',
    ])
      expect(swCounts.get(sw) ?? 0, sw).toBeGreaterThan(0);
    expect(saved.length).toBeGreaterThan(0);
    const last = saved.at(-1)!;
    expect(decodeChipState(chip.exportState())).toEqual(last);
  });

  it('still works afterwards: the chip key is intact and wrapped keys still unwrap', async () => {
    const { chip } = await fuzzChip(12, 5_000);
    const state = decodeChipState(chip.exportState());
    await chip.transmit(SELECT);
    if (state.pinTriesLeft === 0 && state.pukTriesLeft > 0) {
      expect(
        toHex(
          await chip.transmit(
            apdu('002c0081', concatBytes(encodePukBlock(state.puk), encodePinBlock(state.pin))),
          ),
        ),
      ).toBe('9000');
    }
    if (state.pinTriesLeft > 0 || state.pukTriesLeft > 0) {
      expect(toHex(await chip.transmit(apdu('00200081', encodePinBlock(state.pin))))).toBe('9000');
      const ctx = utf8('after the fuzz');
      const rsp = await chip.transmit(apdu('80460000', ctx, 0));
      expect(
        toHex(await chip.transmit(apdu('80480000', concatBytes(rsp.subarray(32, 93), ctx), 0))),
      ).toBe(`${toHex(rsp.subarray(0, 32))}9000`);
    }
  });
});
