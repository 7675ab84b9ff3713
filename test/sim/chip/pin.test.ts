import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../src/bytes.js';
import { ArgumentError } from '../../../src/errors.js';
import {
  decodePinBlock,
  decodePukBlock,
  encodePinBlock,
  encodePukBlock,
  isValidPin,
  isValidPuk,
  secretsEqual,
} from '../../../src/sim/chip/pin.js';

describe('PIN and PUK blocks', () => {
  it('encode known blocks', () => {
    expect(toHex(encodePinBlock('1234'))).toBe('31323334ffffffff');
    expect(toHex(encodePinBlock('12345678'))).toBe('3132333435363738');
    expect(toHex(encodePukBlock('00000000'))).toBe('3030303030303030');
  });

  it('round-trip every valid PIN and PUK', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9]{4,8}$/), (pin) => {
        expect(decodePinBlock(encodePinBlock(pin))).toBe(pin);
      }),
    );
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9]{8}$/), (puk) => {
        expect(decodePukBlock(encodePukBlock(puk))).toBe(puk);
      }),
    );
  });

  it('decode nothing else', () => {
    for (const hex of [
      '313233ffffffffff',
      '3132ff34ffffffff',
      'ffffffffffffffff',
      '31323334ffffff00',
      '31323334',
      '3132333435363738ff',
      '3a323334ffffffff',
    ]) {
      expect(decodePinBlock(fromHex(hex)), hex).toBeUndefined();
    }
    for (const hex of ['31323334ffffffff', '313233343536373a', '31323334353637'])
      expect(decodePukBlock(fromHex(hex)), hex).toBeUndefined();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 10 }), (b) => {
        const pin = decodePinBlock(b);
        if (pin !== undefined) expect(toHex(encodePinBlock(pin))).toBe(toHex(b));
      }),
    );
  });

  it('refuse to encode invalid secrets', () => {
    for (const p of ['123', '123456789', '12 4', '١٢٣٤', '']) {
      expect(isValidPin(p)).toBe(false);
      expect(() => encodePinBlock(p)).toThrow(ArgumentError);
    }
    expect(isValidPuk('1234567')).toBe(false);
    expect(() => encodePukBlock('1234567x')).toThrow(ArgumentError);
  });

  it('compare secrets exactly', () => {
    expect(secretsEqual('1234', '1234')).toBe(true);
    expect(secretsEqual('1234', '1235')).toBe(false);
    expect(secretsEqual('1234', '12345')).toBe(false);
    expect(secretsEqual('', '')).toBe(true);
  });
});
