import fc from 'fast-check';
import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { concatBytes, fromHex, toHex } from '../../../src/bytes.js';
import { ArgumentError, ProtocolError } from '../../../src/errors.js';
import {
  CHIP_STATE_LENGTH,
  decodeChipState,
  encodeChipState,
  personalizeChip,
  type ChipState,
} from '../../../src/sim/chip/state.js';
import { fuzzDecoder } from '../../protocol/fuzz-util.js';
import { docChipState } from './doc-chip.js';

const digits = (min: number, max: number) =>
  fc.stringMatching(new RegExp(`^[0-9]{${min},${max}}$`));

const stateArb: fc.Arbitrary<ChipState> = fc
  .record({
    serial: fc.uint8Array({ minLength: 8, maxLength: 8 }),
    chipKey: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    pin: digits(4, 8),
    pinTriesMax: fc.integer({ min: 1, max: 15 }),
    puk: digits(8, 8),
    pukTriesMax: fc.integer({ min: 1, max: 15 }),
    a: fc.nat(),
    b: fc.nat(),
  })
  .map(({ a, b, ...s }) => ({
    ...s,
    pinTriesLeft: a % (s.pinTriesMax + 1),
    pukTriesLeft: b % (s.pukTriesMax + 1),
  }));

describe('chip state codec', () => {
  it('has a known encoding', () => {
    const body =
      `53564348 01 5356434800000001 ${'11'.repeat(32)} 31323334ffffffff 0303 3132333435363738 0a0a`.replace(
        / /g,
        '',
      );
    const bytes = encodeChipState(docChipState());
    expect(bytes.length).toBe(CHIP_STATE_LENGTH);
    expect(toHex(bytes)).toBe(body + toHex(sha256(fromHex(body)).subarray(0, 16)));
  });

  it('round-trips every valid state', () => {
    fc.assert(
      fc.property(stateArb, (s) => {
        const bytes = encodeChipState(s);
        expect(decodeChipState(bytes)).toEqual(s);
        expect(encodeChipState(decodeChipState(bytes))).toEqual(bytes);
      }),
    );
  });

  it('rejects damage, trailing bytes, other magic and versions', () => {
    const good = encodeChipState(docChipState());
    const flipped = good.slice();
    flipped[40]! ^= 1;
    const cases: Array<[Uint8Array, string, string]> = [
      [flipped, 'PROTOCOL_BAD_CHECKSUM', 'digest'],
      [good.subarray(0, 80), 'PROTOCOL_TRUNCATED', 'state'],
      [new Uint8Array([...good, 0]), 'PROTOCOL_TRAILING_BYTES', 'state'],
      [fromHex('00000000'), 'PROTOCOL_BAD_VALUE', 'magic'],
      [
        new Uint8Array([...good.subarray(0, 4), 2, ...good.subarray(5)]),
        'PROTOCOL_BAD_VERSION',
        'version',
      ],
    ];
    for (const [bytes, code, field] of cases) {
      try {
        decodeChipState(bytes);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(ProtocolError);
        expect({ code: (e as ProtocolError).code, field: (e as ProtocolError).field }).toEqual({
          code,
          field,
        });
      }
    }
  });

  it('refuses out-of-range values to encode, naming the field', () => {
    const s = docChipState();
    const bad: Array<[Partial<ChipState>, string]> = [
      [{ pin: '123' }, 'pin'],
      [{ puk: '1234567' }, 'puk'],
      [{ serial: new Uint8Array(7) }, 'serial'],
      [{ pinTriesMax: 16, pinTriesLeft: 1 }, 'pinTriesMax'],
      [{ pinTriesLeft: -1 }, 'pinTriesLeft'],
      [{ pukTriesLeft: 11 }, 'pukTriesLeft'],
    ];
    for (const [patch, field] of bad)
      expect(() => encodeChipState({ ...s, ...patch })).toThrow(
        expect.objectContaining({ field, offset: -1 }),
      );
  });

  it('decodes only what it was given: fuzzing throws nothing but ProtocolError', () => {
    const seeds = [
      encodeChipState(docChipState()),
      encodeChipState(personalizeChip({ pin: '87654321', pinTries: 15 })),
    ];
    const result = fuzzDecoder(decodeChipState, seeds, {
      iterations: 20_000,
      seed: 5,
      maxLen: 100,
    });
    expect(result.rejected).toBeGreaterThan(0);
  });
  it('checks every field behind the digest: fuzzing re-sealed bodies', () => {
    const reseal = (b: Uint8Array) =>
      b.length < 65 ? b : concatBytes(b.subarray(0, 65), sha256(b.subarray(0, 65)).subarray(0, 16));
    const seeds = [
      encodeChipState(docChipState()).subarray(0, 65),
      encodeChipState(personalizeChip({ pin: '87654321', pinTries: 15 })).subarray(0, 65),
    ];
    const result = fuzzDecoder((b) => decodeChipState(reseal(b)), seeds, {
      iterations: 20_000,
      seed: 6,
      maxLen: 90,
    });
    expect(result.accepted).toBeGreaterThan(100);
    expect(result.rejected).toBeGreaterThan(100);
  });
});

describe('personalizeChip', () => {
  it('fills in a random serial, key and PUK, with full counters', () => {
    const a = personalizeChip({ pin: '1234' });
    const b = personalizeChip({ pin: '1234' });
    expect(a).toMatchObject({ pinTriesMax: 3, pinTriesLeft: 3, pukTriesMax: 10, pukTriesLeft: 10 });
    expect(a.puk).toMatch(/^[0-9]{8}$/);
    expect(toHex(a.chipKey)).not.toBe(toHex(b.chipKey));
    expect(toHex(a.serial)).not.toBe(toHex(b.serial));
  });

  it('derives the PUK from the random source without bias (rejects draws ≥ 4e9)', () => {
    const draws = [fromHex('ffffffff'), fromHex('00000001')];
    const state = personalizeChip({
      pin: '1234',
      serial: new Uint8Array(8),
      chipKey: new Uint8Array(32),
      random: () => draws.shift()!,
    });
    expect(state.puk).toBe('00000001');
  });

  it('validates its options', () => {
    expect(() => personalizeChip({ pin: '12a4' })).toThrow(ArgumentError);
    expect(() => personalizeChip({ pin: '1234', puk: '123' })).toThrow(ArgumentError);
    expect(() => personalizeChip({ pin: '1234', pinTries: 0 })).toThrow(ArgumentError);
    expect(() => personalizeChip({ pin: '1234', pukTries: 16 })).toThrow(ArgumentError);
    expect(() => personalizeChip({ pin: '1234', serial: new Uint8Array(9) })).toThrow(
      ArgumentError,
    );
    expect(() => personalizeChip({ pin: '1234', chipKey: new Uint8Array(31) })).toThrow(
      ArgumentError,
    );
  });
});
