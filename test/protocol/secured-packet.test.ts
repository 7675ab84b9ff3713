import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex } from '../../src/bytes.js';
import { ArgumentError, CryptoError, ProtocolError, SimvaultError } from '../../src/errors.js';
import { aesCmac } from '../../src/protocol/checksums.js';
import {
  POR_STATUS,
  buildCommandPacket,
  buildResponsePacket,
  checkCounter,
  CounterRejectedError,
  decodeKeyIndicator,
  decodeSecuredPacketStructure,
  decodeSpi,
  encodeKeyIndicator,
  encodeSpi,
  openCommandPacket,
  openResponsePacket,
  porStatusForError,
  type CounterMode,
  type IntegrityKind,
  type OtaKeyset,
  type PorStatus,
} from '../../src/protocol/secured-packet.js';
import { fuzzDecoder } from './fuzz-util.js';

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

function expectProtocolError(fn: () => unknown, code: string, field?: string): ProtocolError {
  const e = caught(fn);
  expect(e).toBeInstanceOf(ProtocolError);
  const err = e as ProtocolError;
  expect(err.code).toBe(code);
  if (field !== undefined) expect(err.field).toBe(field);
  return err;
}

// Known answers published with osmocom pySim (tests/unittests/test_ota.py): the SJA5 sample keysets.
const AES_KEYS: OtaKeyset = {
  kic: fromHex('200102030405060708090a0b0c0d0e0f'),
  kid: fromHex('201102030405060708090a0b0c0d0e0f'),
};
const TDES_KEYS: OtaKeyset = {
  kic: fromHex('300102030405060708090a0b0c0d0e0f'),
  kid: fromHex('301102030405060708090a0b0c0d0e0f'),
};
// The keyset 3 of card 8988211000000467285 in the same file.
const TDES_KEYS_3: OtaKeyset = {
  kic: fromHex('c21dd66acac13cb3bc8b331b24afb57b'),
  kid: fromHex('12110c78e678c25408233076aa033615'),
};
const TAR = fromHex('b00011');
const SELECT_MF = fromHex('00a40004023f00');

describe('SPI', () => {
  it('decodes 06 19 (ciphered + CC, ciphered CC PoR always via DELIVER-REPORT)', () => {
    expect(decodeSpi(fromHex('0619'))).toEqual({
      counter: 'none',
      ciphered: true,
      integrity: 'cc',
      porRequest: 'always',
      porIntegrity: 'cc',
      porCiphered: true,
      porViaSubmit: false,
    });
  });
  it('decodes 16 21 (counter must be higher, PoR via SMS-SUBMIT)', () => {
    const spi = decodeSpi(fromHex('1621'));
    expect(spi.counter).toBe('must-be-higher');
    expect(spi.porViaSubmit).toBe(true);
    expect(spi.porIntegrity).toBe('none');
  });
  it('round-trips every valid two-byte value and rejects the others', () => {
    let valid = 0;
    for (let v = 0; v < 0x10000; v++) {
      const bytes = new Uint8Array([v >> 8, v & 0xff]);
      const reserved =
        (bytes[0]! & 0xe0) !== 0 || (bytes[1]! & 0xc0) !== 0 || (bytes[1]! & 3) === 3;
      if (reserved) {
        expect(() => decodeSpi(bytes)).toThrow(ProtocolError);
      } else {
        valid++;
        expect(toHex(encodeSpi(decodeSpi(bytes)))).toBe(toHex(bytes));
      }
    }
    expect(valid).toBe(32 * 16 * 3);
  });
  it('rejects wrong lengths and bad values', () => {
    expectProtocolError(() => decodeSpi(fromHex('06')), 'PROTOCOL_TRUNCATED');
    expectProtocolError(() => decodeSpi(fromHex('061900')), 'PROTOCOL_TRAILING_BYTES');
    const err = expectProtocolError(
      () => encodeSpi({ ...decodeSpi(fromHex('0619')), counter: 'sometimes' as CounterMode }),
      'PROTOCOL_BAD_VALUE',
      'counter',
    );
    expect(err.offset).toBe(-1);
  });
});

describe('KIc / KID', () => {
  it('names the algorithms per role', () => {
    expect(decodeKeyIndicator(0x22, 'cipher')).toEqual({
      raw: 0x22,
      keyVersion: 2,
      algorithm: 'aes',
    });
    expect(decodeKeyIndicator(0x35, 'cipher').algorithm).toBe('3des-2key');
    expect(decodeKeyIndicator(0x19, 'cc').algorithm).toBe('3des-3key');
    expect(decodeKeyIndicator(0x11, 'cipher').algorithm).toBe('des-cbc');
    expect(decodeKeyIndicator(0x1d, 'cipher').algorithm).toBe('des-ecb');
    expect(decodeKeyIndicator(0x11, 'rc').algorithm).toBe('crc16');
    expect(decodeKeyIndicator(0x15, 'rc').algorithm).toBe('crc32');
    expect(decodeKeyIndicator(0xff, 'unused').algorithm).toBe('unused');
  });
  it('rejects reserved codings', () => {
    for (const [byte, role] of [
      [0x06, 'cipher'],
      [0x1d, 'cc'],
      [0x19, 'rc'],
      [0x02, 'rc'],
      [0x0e, 'cipher'],
    ] as const) {
      expectProtocolError(() => decodeKeyIndicator(byte, role), 'PROTOCOL_BAD_VALUE');
    }
  });
  it('encodes what it decodes', () => {
    for (let b = 0; b < 256; b++) {
      for (const role of ['cipher', 'cc', 'rc'] as const) {
        let ki;
        try {
          ki = decodeKeyIndicator(b, role);
        } catch {
          continue;
        }
        if (ki.algorithm !== 'unused')
          expect(encodeKeyIndicator(ki.keyVersion, ki.algorithm)).toBe(b);
      }
    }
    expectProtocolError(() => encodeKeyIndicator(16, 'aes'), 'PROTOCOL_BAD_VALUE', 'keyVersion');
  });
});

describe('known answers (pySim test_ota.py)', () => {
  const base = { tar: TAR, counter: 0n, data: SELECT_MF };
  const commands = [
    [
      'AES128 ciphered + CC',
      '0619',
      0x22,
      AES_KEYS,
      '00281506192222b00011e87cceebb2d93083011ce294f93fc4d8de80da1abae8c37ca3e72ec4432e5058',
    ],
    [
      '3DES ciphered + CC',
      '0619',
      0x35,
      TDES_KEYS,
      '00201506193535b00011ae733256918d050b87c94fbfe12e4dc402f262c41cf67f2f',
    ],
    [
      '3DES ciphered + CC, PoR unciphered',
      '0609',
      0x35,
      TDES_KEYS,
      '00201506093535b00011c49ac91ab8159ba5b83a54fb6385e0a5e31694f8b215fafc',
    ],
    [
      '3DES ciphered + CC, PoR without CC',
      '0601',
      0x35,
      TDES_KEYS,
      '00201506013535b000113190be334900f52b025f3f7eddfe868e96ebf310023b7769',
    ],
  ] as const;
  for (const [name, spi, ki, keys, hex] of commands) {
    it(`command: ${name}`, () => {
      const packet = buildCommandPacket(
        { ...base, spi: decodeSpi(fromHex(spi)), kic: ki, kid: ki },
        keys,
      );
      expect(toHex(packet)).toBe(hex);
      const opened = openCommandPacket(fromHex(hex), keys);
      expect(toHex(opened.data)).toBe(toHex(SELECT_MF));
      expect(toHex(opened.tar)).toBe('b00011');
      // With the SMS user-data header: the checksum does not cover 02 70 00.
      const withUdh = buildCommandPacket(
        { ...base, spi: decodeSpi(fromHex(spi)), kic: ki, kid: ki, udh: true },
        keys,
      );
      expect(toHex(withUdh)).toBe(`027000${hex}`);
      expect(openCommandPacket(withUdh, keys).udh).toBe(true);
    });
  }

  it('command: 3DES ciphered without checksum (keyset 3)', () => {
    const p = buildCommandPacket(
      {
        spi: decodeSpi(fromHex('0419')),
        kic: 0x35,
        kid: 0x35,
        tar: fromHex('b00000'),
        counter: 0n,
        data: fromHex('00a40000023f00'),
      },
      TDES_KEYS_3,
    );
    expect(toHex(p)).toBe('00180d04193535b00000e3ec80a849b554421276af3883927c20');
  });

  it('command: 3DES CC without ciphering (pySim prints it without CPL; the CC matches)', () => {
    const p = buildCommandPacket(
      {
        spi: decodeSpi(fromHex('0219')),
        kic: 0x35,
        kid: 0x35,
        tar: fromHex('b00000'),
        counter: 0n,
        data: fromHex('00a40000023f00'),
      },
      TDES_KEYS_3,
    );
    expect(toHex(p)).toBe('001d' + '1502193535b00000000000000000072ea17bdb72060e00a40000023f00');
  });

  const responses = [
    [
      '3DES ciphered CC',
      '0619',
      0x35,
      TDES_KEYS,
      '027100001c12b000118bb989492c632529326a2f4681feb37c825bc9021c9f6d0b',
      '016132',
    ],
    [
      '3DES CC',
      '0609',
      0x35,
      TDES_KEYS,
      '027100001612b0001100000000000000b5bcd6353a421fae016132',
      '016132',
    ],
    ['no CC', '0601', 0x35, TDES_KEYS, '027100000e0ab0001100000000000000016132', '016132'],
    [
      'AES128 ciphered CC',
      '0619',
      0x22,
      AES_KEYS,
      '027100002412b00011ebc6b497e2cad7aedf36ace0e3a29b38853f0fe9ccde81913be5702b73abce1f',
      '016132',
    ],
    [
      '3DES ciphered CC (keyset 3)',
      '0619',
      0x35,
      TDES_KEYS_3,
      '027100001c12b000119660ebdb81be189b5e4389e9e7ab2bc0954f963ad869ed7c',
      '01612f',
    ],
    [
      '3DES CC (keyset 3)',
      '0609',
      0x35,
      TDES_KEYS_3,
      '027100001612b000110000000000000055f47118381175fb01612f',
      '01612f',
    ],
  ] as const;
  for (const [name, spi, ki, keys, hex, data] of responses) {
    it(`response: ${name}`, () => {
      const expectation = { spi: decodeSpi(fromHex(spi)), kic: ki, kid: ki, tar: TAR, counter: 0n };
      const por = openResponsePacket(fromHex(hex), keys, expectation);
      expect(por.status).toBe('ok');
      expect(toHex(por.data)).toBe(data);
      // Build gives the same bytes back: the checksum covers 02 71 00.
      const rebuilt = buildResponsePacket(
        { ...expectation, status: 'ok', data: fromHex(data) },
        keys,
      );
      expect(toHex(rebuilt)).toBe(hex);
    });
  }

  it('response: a flipped status byte fails the CC (pySim test_resp_3des_signed_err)', () => {
    expectProtocolError(
      () =>
        openResponsePacket(
          fromHex('027100001612b000110000000000000055f47118381175fb02612f'),
          TDES_KEYS_3,
          {
            spi: decodeSpi(fromHex('0609')),
            kic: 0x35,
            kid: 0x35,
          },
        ),
      'PROTOCOL_BAD_CHECKSUM',
      'CC',
    );
  });
});

// Every cipher and checksum combination the module supports.
interface Combo {
  name: string;
  ciphered: boolean;
  kic: number;
  kicKeyLength: number;
  integrity: IntegrityKind;
  kid: number;
  kidKeyLength: number;
  ccLength?: 4 | 8;
}
const CIPHERS = [
  { name: 'clear', ciphered: false, kic: 0x00, kicKeyLength: 0 },
  { name: 'AES-128', ciphered: true, kic: 0x12, kicKeyLength: 16 },
  { name: 'AES-256', ciphered: true, kic: 0x12, kicKeyLength: 32 },
  { name: '3DES-2key', ciphered: true, kic: 0x15, kicKeyLength: 16 },
  { name: '3DES-3key', ciphered: true, kic: 0x19, kicKeyLength: 24 },
];
const CHECKS = [
  { name: 'none', integrity: 'none' as const, kid: 0x00, kidKeyLength: 0 },
  { name: 'CRC16', integrity: 'rc' as const, kid: 0x11, kidKeyLength: 0 },
  { name: 'CRC32', integrity: 'rc' as const, kid: 0x15, kidKeyLength: 0 },
  { name: 'CMAC-8', integrity: 'cc' as const, kid: 0x12, kidKeyLength: 16, ccLength: 8 as const },
  { name: 'CMAC-4', integrity: 'cc' as const, kid: 0x12, kidKeyLength: 24, ccLength: 4 as const },
  { name: '3DES-2key MAC', integrity: 'cc' as const, kid: 0x15, kidKeyLength: 16 },
  { name: '3DES-3key MAC', integrity: 'cc' as const, kid: 0x19, kidKeyLength: 24 },
];
const COMBOS: Combo[] = CIPHERS.flatMap((c) =>
  CHECKS.map((k) => ({ ...c, ...k, name: `${c.name} + ${k.name}` })),
);

const spiArb = (combo: Combo) =>
  fc.record({
    counter: fc.constantFrom<CounterMode>(
      'none',
      'present-not-checked',
      'must-be-higher',
      'must-be-plus-one',
    ),
    ciphered: fc.constant(combo.ciphered),
    integrity: fc.constant(combo.integrity),
    porRequest: fc.constantFrom('none' as const, 'always' as const, 'on-error' as const),
    porIntegrity: fc.constant(combo.integrity),
    porCiphered: fc.constant(combo.ciphered),
    porViaSubmit: fc.boolean(),
  });

function keysFor(combo: Combo, kicKey: Uint8Array, kidKey: Uint8Array): OtaKeyset {
  return {
    kic: kicKey.subarray(0, combo.kicKeyLength || 16),
    kid: kidKey.subarray(0, combo.kidKeyLength || 16),
  };
}

describe('build → open round trips, every cipher/checksum combination', () => {
  for (const combo of COMBOS) {
    it(combo.name, () => {
      fc.assert(
        fc.property(
          spiArb(combo),
          fc.uint8Array({ minLength: 3, maxLength: 3 }),
          fc.bigInt({ min: 0n, max: (1n << 40n) - 1n }),
          fc.uint8Array({ maxLength: 200 }),
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          fc.boolean(),
          fc.constantFrom<PorStatus>(...(Object.keys(POR_STATUS) as PorStatus[])),
          (spi, tar, counter, data, kicKey, kidKey, udh, status) => {
            const keys = keysFor(combo, kicKey, kidKey);
            const ccLength = combo.ccLength ? { ccLength: combo.ccLength } : {};
            const params = {
              spi,
              kic: combo.kic,
              kid: combo.kid,
              tar,
              counter,
              data,
              udh,
              ...ccLength,
            };
            const packet = buildCommandPacket(params, keys);
            const opened = openCommandPacket(packet, keys);
            expect(opened.spi).toEqual(spi);
            expect(toHex(opened.tar)).toBe(toHex(tar));
            expect(opened.counter).toBe(counter);
            expect(toHex(opened.data)).toBe(toHex(data));
            expect(opened.udh).toBe(udh);
            const bs = combo.kic === 0x12 ? 16 : 8;
            if (combo.ciphered) expect((packet.length - (udh ? 3 : 0) - 10) % bs).toBe(0);
            expect(opened.paddingCount).toBe(
              combo.ciphered ? (bs - ((6 + opened.checksum.length + data.length) % bs)) % bs : 0,
            );
            const structure = decodeSecuredPacketStructure(packet);
            expect(structure.kind).toBe('command');

            const por = buildResponsePacket(
              { spi, kic: combo.kic, kid: combo.kid, tar, counter, status, data, ...ccLength },
              keys,
            );
            const back = openResponsePacket(por, keys, {
              spi,
              kic: combo.kic,
              kid: combo.kid,
              tar,
              counter,
            });
            expect(back.status).toBe(status);
            expect(back.statusCode).toBe(POR_STATUS[status]);
            expect(toHex(back.data)).toBe(toHex(data));
            expect(decodeSecuredPacketStructure(por).kind).toBe('response');
          },
        ),
        { numRuns: 40 },
      );
    });
  }
});

describe('forgery and wrong keys', () => {
  const spi = decodeSpi(fromHex('1621'));
  const keys = { kic: new Uint8Array(16).fill(0x11), kid: new Uint8Array(16).fill(0x22) };
  const packet = buildCommandPacket(
    { spi, kic: 0x12, kid: 0x12, tar: TAR, counter: 5n, data: SELECT_MF },
    keys,
  );

  it('any single flipped bit anywhere is refused, and after the header it is PROTOCOL_BAD_CHECKSUM', () => {
    for (let i = 0; i < packet.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const forged = packet.slice();
        forged[i]! ^= 1 << bit;
        const e = caught(() => openCommandPacket(forged, keys));
        expect(e, `byte ${i} bit ${bit}`).toBeInstanceOf(ProtocolError);
        if (i >= 10)
          expect((e as ProtocolError).code, `byte ${i} bit ${bit}`).toBe('PROTOCOL_BAD_CHECKSUM');
      }
    }
  });

  it('a wrong KID or KIc key gives PROTOCOL_BAD_CHECKSUM', () => {
    expectProtocolError(
      () => openCommandPacket(packet, { ...keys, kid: new Uint8Array(16).fill(0x23) }),
      'PROTOCOL_BAD_CHECKSUM',
    );
    expectProtocolError(
      () => openCommandPacket(packet, { ...keys, kic: new Uint8Array(16).fill(0x12) }),
      'PROTOCOL_BAD_CHECKSUM',
    );
  });

  it('a wrong key in a response gives PROTOCOL_BAD_CHECKSUM; so does a forged one', () => {
    const expectation = { spi: decodeSpi(fromHex('0639')), kic: 0x15, kid: 0x15 };
    const k3 = { kic: new Uint8Array(16).fill(1), kid: new Uint8Array(16).fill(2) };
    const por = buildResponsePacket(
      { ...expectation, tar: TAR, counter: 1n, status: 'ok', data: fromHex('019000') },
      k3,
    );
    // fill(3) would not do: 02 and 03 differ only in the DES parity bit, which DES ignores.
    expectProtocolError(
      () => openResponsePacket(por, { ...k3, kid: new Uint8Array(16).fill(4) }, expectation),
      'PROTOCOL_BAD_CHECKSUM',
    );
    for (let i = 9; i < por.length; i++) {
      const forged = por.slice();
      forged[i]! ^= 0x40;
      expectProtocolError(
        () => openResponsePacket(forged, k3, expectation),
        'PROTOCOL_BAD_CHECKSUM',
      );
    }
  });

  it('the command checksum ignores 02 70 00 but the response checksum covers 02 71 00', () => {
    const clear = decodeSpi(fromHex('0229')); // CC, no ciphering; PoR with CC, unciphered
    const k = { kid: new Uint8Array(16).fill(9) };
    const cmd = buildCommandPacket(
      { spi: clear, kic: 0, kid: 0x12, tar: TAR, counter: 0n, data: SELECT_MF, udh: true },
      k,
    );
    const bare = buildCommandPacket(
      { spi: clear, kic: 0, kid: 0x12, tar: TAR, counter: 0n, data: SELECT_MF },
      k,
    );
    expect(toHex(cmd.subarray(3))).toBe(toHex(bare));
    const por = buildResponsePacket(
      {
        spi: clear,
        kic: 0,
        kid: 0x12,
        tar: TAR,
        counter: 0n,
        status: 'ok',
        data: new Uint8Array(0),
      },
      k,
    );
    const structure = decodeSecuredPacketStructure(por);
    if (structure.kind !== 'response' || !structure.asIfClear)
      throw new Error('expected a clear response');
    expect(toHex(structure.asIfClear.checksum)).toBe(
      toHex(aesCmac(k.kid, fromHex(`027100${toHex(por.subarray(3, 16))}`), 8)),
    );
  });
});

describe('policy: TAR, minimum security level, counters', () => {
  const keys = { kic: new Uint8Array(16).fill(1), kid: new Uint8Array(16).fill(2) };
  const make = (spiHex: string, counter: bigint, kid = 0x12, kic = 0x12) =>
    buildCommandPacket(
      { spi: decodeSpi(fromHex(spiHex)), kic, kid, tar: TAR, counter, data: SELECT_MF },
      keys,
    );

  it('refuses an unknown TAR with PROTOCOL_UNKNOWN_TAG → tar-unknown', () => {
    const e = expectProtocolError(
      () => openCommandPacket(make('0621', 1n), keys, { tars: [fromHex('b00010')] }),
      'PROTOCOL_UNKNOWN_TAG',
      'TAR',
    );
    expect(e.offset).toBe(7);
    expect(porStatusForError(e)).toBe('tar-unknown');
    expect(
      openCommandPacket(make('0621', 1n), keys, { tars: [fromHex('b00010'), TAR] }).data.length,
    ).toBe(7);
  });

  it('enforces the minimum security level → insufficient-security-level', () => {
    const weak = make('0121', 1n, 0x11); // CRC16 only
    for (const msl of [
      { ciphering: true },
      { integrity: 'cc' as const },
      { counter: 'must-be-higher' as const },
    ]) {
      const e = expectProtocolError(
        () => openCommandPacket(weak, keys, { minimumSecurity: msl }),
        'PROTOCOL_INSUFFICIENT_SECURITY',
        'SPI',
      );
      expect(porStatusForError(e)).toBe('insufficient-security-level');
    }
    expect(openCommandPacket(weak, keys, { minimumSecurity: { integrity: 'rc' } }).counter).toBe(
      1n,
    );
    const strong = make('1e21', 9n); // +1 counter, ciphered, CC
    expect(
      openCommandPacket(strong, keys, {
        minimumSecurity: { ciphering: true, integrity: 'cc', counter: 'must-be-higher' },
      }).counter,
    ).toBe(9n);
  });

  it('checks counters after the checksum → counter-low / counter-high / counter-blocked', () => {
    const higher = make('1621', 10n);
    expect(openCommandPacket(higher, keys, { lastCounter: 9n }).counter).toBe(10n);
    const low = caught(() => openCommandPacket(higher, keys, { lastCounter: 10n }));
    expect(low).toBeInstanceOf(CounterRejectedError);
    expect((low as CounterRejectedError).code).toBe('PROTOCOL_REPLAY');
    expect(porStatusForError(low)).toBe('counter-low');
    expect(
      porStatusForError(
        caught(() => openCommandPacket(higher, keys, { lastCounter: 2n, maxCounterStep: 5n })),
      ),
    ).toBe('counter-high');
    const plusOne = make('1e21', 12n);
    expect(
      porStatusForError(caught(() => openCommandPacket(plusOne, keys, { lastCounter: 10n }))),
    ).toBe('counter-high');
    expect(openCommandPacket(plusOne, keys, { lastCounter: 11n }).counter).toBe(12n);
    const maxed = make('1621', (1n << 40n) - 1n);
    expect(
      porStatusForError(
        caught(() => openCommandPacket(maxed, keys, { lastCounter: (1n << 40n) - 1n })),
      ),
    ).toBe('counter-blocked');
    // A forged packet is refused for its checksum before its counter is judged.
    const forged = higher.slice();
    forged[forged.length - 1]! ^= 1;
    expect(
      porStatusForError(caught(() => openCommandPacket(forged, keys, { lastCounter: 10n }))),
    ).toBe('checksum-failed');
  });

  it('maps other failures to PoR statuses', () => {
    expect(
      porStatusForError(
        new ProtocolError('PROTOCOL_BAD_PADDING', 'CommandPacket', 'PCNTR', 1, 'x'),
      ),
    ).toBe('ciphering-error');
    expect(porStatusForError(new Error('x'))).toBe('unidentified-security-error');
  });
});

describe('checkCounter', () => {
  const cases: [CounterMode, bigint, bigint, string][] = [
    ['none', 5n, 0n, 'ok'],
    ['present-not-checked', 5n, 5n, 'ok'],
    ['must-be-higher', 5n, 6n, 'ok'],
    ['must-be-higher', 5n, 1000n, 'ok'],
    ['must-be-higher', 5n, 5n, 'low'],
    ['must-be-higher', 5n, 4n, 'low'],
    ['must-be-plus-one', 5n, 6n, 'ok'],
    ['must-be-plus-one', 5n, 7n, 'high'],
    ['must-be-plus-one', 5n, 5n, 'low'],
    ['must-be-higher', (1n << 40n) - 1n, 0n, 'blocked'],
    ['must-be-plus-one', (1n << 40n) - 2n, (1n << 40n) - 1n, 'ok'],
  ];
  it.each(cases)('%s last=%s received=%s → %s', (mode, last, received, verdict) => {
    expect(checkCounter(mode, last, received)).toBe(verdict);
  });
  it('bounds the jump with maxStep and accepts numbers', () => {
    expect(checkCounter('must-be-higher', 5, 10, 5)).toBe('ok');
    expect(checkCounter('must-be-higher', 5, 11, 5)).toBe('high');
  });
  it('rejects out-of-range arguments', () => {
    expect(() => checkCounter('must-be-higher', -1n, 0n)).toThrow(ArgumentError);
    expect(() => checkCounter('must-be-higher', 0n, 1n << 40n)).toThrow(ArgumentError);
    expect(() => checkCounter('often' as CounterMode, 0n, 1n)).toThrow(ArgumentError);
  });
});

describe('framing and argument errors', () => {
  const keys = { kic: new Uint8Array(16).fill(1), kid: new Uint8Array(16).fill(2) };
  const spi = decodeSpi(fromHex('0621'));
  const packet = buildCommandPacket(
    { spi, kic: 0x12, kid: 0x12, tar: TAR, counter: 1n, data: SELECT_MF },
    keys,
  );

  it('names the field and offset', () => {
    const t = expectProtocolError(
      () => openCommandPacket(packet.subarray(0, packet.length - 1), keys),
      'PROTOCOL_TRUNCATED',
      'CPL',
    );
    expect(t.offset).toBe(0);
    expectProtocolError(
      () => openCommandPacket(new Uint8Array([...packet, 0]), keys),
      'PROTOCOL_TRAILING_BYTES',
      'CPL',
    );
    const withUdh = new Uint8Array([2, 0x70, 0, ...packet]);
    withUdh[5] = 0x11; // CHL 17: a 4-byte CMAC, while the packet holds 8
    const chl = expectProtocolError(
      () => openCommandPacket(withUdh, keys),
      'PROTOCOL_BAD_CHECKSUM',
    );
    expect(chl.offset).toBeGreaterThan(10);
    const bad = packet.slice();
    bad[2] = 0x14; // CHL 20 fits no checksum
    expect(
      expectProtocolError(() => openCommandPacket(bad, keys), 'PROTOCOL_BAD_LENGTH', 'CHL').offset,
    ).toBe(2);
  });

  it('refuses unsupported algorithms and DS', () => {
    const desSpi = decodeSpi(fromHex('0401'));
    expect(() =>
      buildCommandPacket(
        { spi: desSpi, kic: 0x11, kid: 0, tar: TAR, counter: 0n, data: SELECT_MF },
        { kic: new Uint8Array(8) },
      ),
    ).toThrow(ArgumentError);
    const ds = decodeSpi(fromHex('0301'));
    expect(() =>
      buildCommandPacket(
        { spi: ds, kic: 0, kid: 0x12, tar: TAR, counter: 0n, data: SELECT_MF },
        keys,
      ),
    ).toThrow(ArgumentError);
  });

  it('validates the values given to the builders (offset -1)', () => {
    const p = { spi, kic: 0x12, kid: 0x12, tar: TAR, counter: 1n, data: SELECT_MF };
    expect(
      expectProtocolError(
        () => buildCommandPacket({ ...p, tar: new Uint8Array(2) }, keys),
        'PROTOCOL_BAD_LENGTH',
        'TAR',
      ).offset,
    ).toBe(-1);
    expectProtocolError(
      () => buildCommandPacket({ ...p, counter: 1n << 40n }, keys),
      'PROTOCOL_BAD_VALUE',
      'CNTR',
    );
    expectProtocolError(
      () => buildCommandPacket({ ...p, kic: 256 }, keys),
      'PROTOCOL_BAD_VALUE',
      'KIc',
    );
    expectProtocolError(
      () => buildCommandPacket({ ...p, kid: 0x15, ccLength: 4 }, { kid: new Uint8Array(16) }),
      'PROTOCOL_BAD_LENGTH',
      'ccLength',
    );
    expectProtocolError(
      () => buildCommandPacket({ ...p, data: new Uint8Array(0x10000) }, keys),
      'PROTOCOL_BAD_LENGTH',
      'data',
    );
    expect(() => buildCommandPacket(p, { kid: keys.kid })).toThrow(ArgumentError);
    const e = caught(() => buildCommandPacket(p, { kic: new Uint8Array(15), kid: keys.kid }));
    expect(e).toBeInstanceOf(CryptoError);
    expectProtocolError(
      () =>
        buildResponsePacket(
          {
            spi,
            kic: 0x12,
            kid: 0x12,
            tar: TAR,
            counter: 1n,
            status: 'fine' as PorStatus,
            data: SELECT_MF,
          },
          keys,
        ),
      'PROTOCOL_BAD_VALUE',
      'status',
    );
  });

  it('picks keys by key version from a list of keysets', () => {
    const sets = [
      { version: 2, kic: new Uint8Array(16).fill(7), kid: new Uint8Array(16).fill(8) },
      { version: 1, ...keys }, // KIc/KID 0x12: key version 1
    ];
    expect(openCommandPacket(packet, sets).counter).toBe(1n);
    expectProtocolError(() => openCommandPacket(packet, [sets[0]!]), 'PROTOCOL_BAD_VALUE', 'KIc');
  });

  it('response: checks the echoed TAR and counter, the UDH, reserved statuses', () => {
    const expectation = { spi, kic: 0x12, kid: 0x12 };
    const por = buildResponsePacket(
      { ...expectation, tar: TAR, counter: 3n, status: 'ok', data: new Uint8Array(0) },
      keys,
    );
    expectProtocolError(
      () => openResponsePacket(por, keys, { ...expectation, tar: fromHex('b00010') }),
      'PROTOCOL_UNKNOWN_TAG',
      'TAR',
    );
    expect(
      caught(() => openResponsePacket(por, keys, { ...expectation, counter: 4n })),
    ).toBeInstanceOf(CounterRejectedError);
    expectProtocolError(
      () => openResponsePacket(por.subarray(3), keys, expectation),
      'PROTOCOL_MISSING_FIELD',
      'UDH',
    );
    const clearSpi = decodeSpi(fromHex('0001'));
    const reserved = fromHex('027100000e0ab00011' + '000000000000' + '0d' + '016132');
    expectProtocolError(
      () => openResponsePacket(reserved, {}, { spi: clearSpi, kic: 0, kid: 0 }),
      'PROTOCOL_BAD_VALUE',
      'status',
    );
  });
});

describe('structural decoding without keys', () => {
  it('parses a clear command, a ciphered one and a clear PoR', () => {
    const clear = decodeSecuredPacketStructure(
      fromHex('001d1502193535b00000000000000000072ea17bdb72060e00a40000023f00'),
    );
    expect(clear.kind).toBe('command');
    if (clear.kind === 'command') {
      expect(clear.spi.integrity).toBe('cc');
      expect(clear.kid.algorithm).toBe('3des-2key');
      expect(toHex(clear.clear!.data)).toBe('00a40000023f00');
      expect(toHex(clear.clear!.checksum)).toBe('072ea17bdb72060e');
    }
    const ciphered = decodeSecuredPacketStructure(
      fromHex(
        '02700000281506192222b00011e87cceebb2d93083011ce294f93fc4d8de80da1abae8c37ca3e72ec4432e5058',
      ),
    );
    expect(
      ciphered.kind === 'command' &&
        ciphered.udh &&
        ciphered.clear === undefined &&
        ciphered.secured.length === 32,
    ).toBe(true);
    const por = decodeSecuredPacketStructure(
      fromHex('027100001612b0001100000000000000b5bcd6353a421fae016132'),
    );
    expect(
      por.kind === 'response' &&
        por.asIfClear?.status === 'ok' &&
        toHex(por.asIfClear.data) === '016132',
    ).toBe(true);
  });
});

describe('fuzzing (only SimvaultErrors, never anything else)', () => {
  const keys = { kic: new Uint8Array(16).fill(1), kid: new Uint8Array(16).fill(2) };
  const seeds: Uint8Array[] = [];
  for (const [spiHex, ki] of [
    ['1621', 0x12],
    ['0219', 0x15],
    ['0105', 0x11],
    ['0000', 0x00],
    ['0515', 0x15],
  ] as const) {
    const spi = decodeSpi(fromHex(spiHex));
    seeds.push(
      buildCommandPacket(
        { spi, kic: ki, kid: ki, tar: TAR, counter: 3n, data: SELECT_MF, udh: true },
        keys,
      ),
    );
    seeds.push(
      buildResponsePacket(
        { spi, kic: ki, kid: ki, tar: TAR, counter: 3n, status: 'ok', data: SELECT_MF },
        keys,
      ),
    );
  }

  it('decodeSecuredPacketStructure', () => {
    const r = fuzzDecoder(decodeSecuredPacketStructure, seeds, { iterations: 20_000, seed: 80 });
    expect(r.accepted).toBeGreaterThan(0);
  });
  it('openCommandPacket', () => {
    const r = fuzzDecoder((b) => openCommandPacket(b, keys, { lastCounter: 0n }), seeds, {
      iterations: 20_000,
      seed: 81,
    });
    expect(r.accepted).toBeGreaterThan(0);
  });
  it('openResponsePacket', () => {
    const expectation = { spi: decodeSpi(fromHex('1621')), kic: 0x12, kid: 0x12 };
    const r = fuzzDecoder((b) => openResponsePacket(b, keys, expectation), seeds, {
      iterations: 20_000,
      seed: 82,
    });
    expect(r.accepted).toBeGreaterThan(0);
  });
  it('decodeSpi', () => {
    fuzzDecoder(decodeSpi, [fromHex('0619')], { iterations: 5_000, seed: 83, maxLen: 4 });
  });
  it('the errors are SimvaultErrors', () => {
    expect(caught(() => decodeSecuredPacketStructure(new Uint8Array([0])))).toBeInstanceOf(
      SimvaultError,
    );
  });
});
