// Range, If-None-Match and If-Range decisions, and SIM configuration validation.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decideRange, ifRangeHolds, noneMatch } from '../../../src/server/ota/http-range.js';
import { parseSimConfig, simConfigToJSON } from '../../../src/server/ota/sim-config.js';
import { RECOMMENDED_MT_SPI } from '../../../src/protocol/secured-packet.js';

describe('decideRange', () => {
  it('follows RFC 9110 for single byte ranges', () => {
    expect(decideRange(undefined, 10)).toEqual({ kind: 'full' });
    expect(decideRange('bytes=0-0', 10)).toEqual({ kind: 'partial', start: 0, end: 0 });
    expect(decideRange('bytes=5-', 10)).toEqual({ kind: 'partial', start: 5, end: 9 });
    expect(decideRange('bytes=5-100', 10)).toEqual({ kind: 'partial', start: 5, end: 9 });
    expect(decideRange('bytes=-3', 10)).toEqual({ kind: 'partial', start: 7, end: 9 });
    expect(decideRange('bytes=-30', 10)).toEqual({ kind: 'partial', start: 0, end: 9 });
    expect(decideRange('bytes=10-', 10)).toEqual({ kind: 'unsatisfiable' });
    expect(decideRange('bytes=-0', 10)).toEqual({ kind: 'unsatisfiable' });
    expect(decideRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
    for (const ignored of [
      'bytes=5-2',
      'bytes=-',
      'bytes=0-1,3-4',
      'lines=0-1',
      'bytes=a-b',
      `bytes=${'9'.repeat(20)}-`,
    ]) {
      expect(decideRange(ignored, 10)).toEqual({ kind: 'full' });
    }
  });

  it('never answers a range outside the file', () => {
    fc.assert(
      fc.property(fc.nat(1000), fc.option(fc.nat(2000)), fc.option(fc.nat(2000)), (size, a, b) => {
        const header = `bytes=${a ?? ''}-${b ?? ''}`;
        const r = decideRange(header, size);
        if (r.kind === 'partial') {
          expect(r.start).toBeGreaterThanOrEqual(0);
          expect(r.end).toBeLessThan(size);
          expect(r.start).toBeLessThanOrEqual(r.end);
        }
      }),
    );
  });

  it('compares ETags as If-None-Match (weak) and If-Range (strong) require', () => {
    expect(noneMatch('W/"a"', '"a"')).toBe(true);
    expect(noneMatch('"b", "c"', '"a"')).toBe(false);
    expect(noneMatch(undefined, '"a"')).toBe(false);
    expect(ifRangeHolds('"a"', '"a"')).toBe(true);
    expect(ifRangeHolds('"b"', '"a"')).toBe(false);
    expect(ifRangeHolds('Wed, 21 Oct 2015 07:28:00 GMT', '"a"')).toBe(false);
  });
});

describe('parseSimConfig', () => {
  const base = {
    tar: 'b00010',
    keysets: [{ version: 3, kic: '00'.repeat(16), kid: '11'.repeat(16) }],
  };

  it('fills the defaults: ciphered CC packets with a rising counter, MT keys of the highest keyset', () => {
    const sim = parseSimConfig('89860012345678901234', base);
    expect(sim.minimumSecurity).toEqual({
      ciphering: true,
      integrity: 'cc',
      counter: 'must-be-higher',
    });
    expect(sim.mt).toEqual({ spi: RECOMMENDED_MT_SPI, kic: 0x32, kid: 0x32 });
    expect(simConfigToJSON(sim).mt).toEqual({ spi: '1629', kic: '32', kid: '32', keyVersion: 3 });
  });

  it('names the field at fault', () => {
    const bad: [unknown, RegExp][] = [
      [null, /body/],
      [{ ...base, extra: 1 }, /extra: unknown field/],
      [{ ...base, tar: 'b0001' }, /tar/],
      [{ ...base, keysets: [] }, /keysets/],
      [
        { ...base, keysets: [{ version: 16, kic: '00'.repeat(16), kid: '00'.repeat(16) }] },
        /keysets\[0\]\.version/,
      ],
      [
        {
          ...base,
          keysets: [{ version: 1, algorithm: 'des', kic: '00'.repeat(8), kid: '00'.repeat(8) }],
        },
        /algorithm/,
      ],
      [
        {
          ...base,
          keysets: [
            { version: 1, algorithm: '3des-3key', kic: '00'.repeat(16), kid: '00'.repeat(24) },
          ],
        },
        /keysets\[0\]\.kic/,
      ],
      [{ ...base, keysets: [...base.keysets, ...base.keysets] }, /distinct/],
      [{ ...base, minimumSecurity: { integrity: 'crc' } }, /minimumSecurity\.integrity/],
      [{ ...base, minimumSecurity: { counter: 'sometimes' } }, /minimumSecurity\.counter/],
      [{ ...base, maxCounterStep: 0 }, /maxCounterStep/],
      [{ ...base, mt: { spi: 'e000' } }, /mt\.spi/],
      [{ ...base, mt: { keyVersion: 1 } }, /mt\.keyVersion/],
      [{ ...base, msisdn: '12' }, /msisdn/],
      [{ ...base, brand: 'a\u0000b' }, /brand/],
    ];
    for (const [input, message] of bad) {
      expect(() => parseSimConfig('89860012345678901234', input)).toThrow(message);
    }
  });
});
