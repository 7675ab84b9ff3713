import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex } from '../../src/bytes.js';
import { ProtocolError } from '../../src/errors.js';
import {
  dcsCountsSeptets,
  decodeSmsTpdu,
  decodeUserDataHeader,
  encodeSmsTpdu,
  encodeUserDataHeader,
  type SmsAddress,
  type SmsDeliver,
  type SmsSubmit,
  type SmsTimestamp,
  type SmsTpdu,
  type SmsUserData,
  type SmsValidity,
  type UdhElement,
} from '../../src/protocol/sms.js';
import { buildCommandPacket, decodeSpi } from '../../src/protocol/secured-packet.js';
import { fuzzDecoder } from './fuzz-util.js';

function expectProtocolError(fn: () => unknown, code: string, field?: string): ProtocolError {
  let e: unknown;
  try {
    fn();
  } catch (x) {
    e = x;
  }
  expect(e).toBeInstanceOf(ProtocolError);
  const err = e as ProtocolError;
  expect(err.code).toBe(code);
  if (field !== undefined) expect(err.field).toBe(field);
  return err;
}

const SCTS: SmsTimestamp = {
  year: 22,
  month: 7,
  day: 25,
  hour: 0,
  minute: 0,
  second: 0,
  timezoneQuarters: 0,
};

describe('known answers (pySim test_sms.py / test_ota.py)', () => {
  it('SMS-DELIVER with an alphanumeric originator, PID 7F, DCS F6', () => {
    const hex = '0408d0e5759a0e7ff6907090307513000824010101bb400101';
    const t = decodeSmsTpdu(fromHex(hex));
    expect(t).toEqual({
      type: 'deliver',
      moreMessages: false,
      loopPrevention: false,
      statusReport: false,
      replyPath: false,
      originator: { ton: 5, npi: 0, digits: '5e57a9e0' },
      pid: 0x7f,
      dcs: 0xf6,
      scts: { year: 9, month: 7, day: 9, hour: 3, minute: 57, second: 31, timezoneQuarters: 0 },
      userData: { data: fromHex('24010101bb400101') },
    });
    expect(toHex(encodeSmsTpdu(t))).toBe(hex);
  });

  it('SMS-SUBMIT with relative VP and a UDH (port addressing + concatenation)', () => {
    const hex =
      '550d0b911614261771f000f5a78c0b050423f423f40003010201424547494e3a56434152440d0a56455253494f4e3a322e310d0a4e3a4d650d0a54454c3b505245463b43454c4c3b564f4943453a2b36313431363237313137300d0a54454c3b484f4d453b564f4943453a2b36313339353337303437310d0a54454c3b574f524b3b564f4943453a2b36313339363734373031350d0a454e443a';
    const t = decodeSmsTpdu(fromHex(hex)) as SmsSubmit;
    expect(t.type).toBe('submit');
    expect(t.rejectDuplicates).toBe(true);
    expect(t.statusReportRequest).toBe(false);
    expect(t.messageReference).toBe(0x0d);
    expect(t.destination).toEqual({ ton: 1, npi: 1, digits: '61416271170' });
    expect(t.validity).toEqual({ format: 'relative', value: 0xa7 });
    expect(t.dcs).toBe(0xf5);
    expect(t.userData.header).toEqual([
      { iei: 0x05, data: fromHex('23f423f4') },
      { iei: 0x00, data: fromHex('010201') },
    ]);
    expect(t.userData.data.length).toBe(140 - 12);
    expect(toHex(encodeSmsTpdu(t))).toBe(hex);
  });

  it('the SMS-PP download of a secured packet (pySim encoded_tpdu, with TP-UDL corrected)', () => {
    // pySim builds this TPDU with tp_udl=3 (its test passes a fixed 3); the right TP-UDL is 3 + 34.
    const keys = {
      kic: fromHex('300102030405060708090a0b0c0d0e0f'),
      kid: fromHex('301102030405060708090a0b0c0d0e0f'),
    };
    const packet = buildCommandPacket(
      {
        spi: decodeSpi(fromHex('0619')),
        kic: 0x35,
        kid: 0x35,
        tar: fromHex('b00011'),
        counter: 0n,
        data: fromHex('00a40004023f00'),
      },
      keys,
    );
    const tpdu: SmsDeliver = {
      type: 'deliver',
      moreMessages: true,
      loopPrevention: false,
      statusReport: false,
      replyPath: false,
      originator: { ton: 0, npi: 1, digits: '12345678' },
      pid: 0x7f,
      dcs: 0xf6,
      scts: SCTS,
      userData: { header: [{ iei: 0x70, data: new Uint8Array(0) }], data: packet },
    };
    const pySim =
      '400881214365877ff6227052000000000302700000201506193535b00011ae733256918d050b87c94fbfe12e4dc402f262c41cf67f2f';
    const fixed = pySim.slice(0, 32) + (3 + packet.length).toString(16) + pySim.slice(34);
    expect(toHex(encodeSmsTpdu(tpdu))).toBe(fixed);
    expect(decodeSmsTpdu(fromHex(fixed))).toEqual(tpdu);
  });

  it('addresses: 0480214399 is "1234" TON/NPI unknown; 12345 international is 05 91 21 43 f5', () => {
    const t = decodeSmsTpdu(fromHex('04' + '0480' + '2143' + '7ff6' + '22705200000000' + '00'));
    expect(t.type === 'deliver' && t.originator).toEqual({ ton: 0, npi: 0, digits: '1234' });
    const s: SmsSubmit = {
      type: 'submit',
      rejectDuplicates: false,
      statusReportRequest: false,
      replyPath: false,
      messageReference: 0,
      destination: { ton: 1, npi: 1, digits: '12345' },
      pid: 0,
      dcs: 4,
      validity: { format: 'none' },
      userData: { data: new Uint8Array(0) },
    };
    expect(toHex(encodeSmsTpdu(s))).toBe('0100' + '05912143f5' + '0004' + '00');
  });

  it('user data headers from test_sms.py', () => {
    expect(decodeUserDataHeader(fromHex('027100abcdef'))).toEqual({
      elements: [{ iei: 0x71, data: new Uint8Array(0) }],
      end: 3,
    });
    const two = decodeUserDataHeader(fromHex('0571000501ffabcd'));
    expect(two.elements.map((e) => [e.iei, toHex(e.data)])).toEqual([
      [0x71, ''],
      [0x05, 'ff'],
    ]);
    // pySim's sample 05 71 00 70 01 ff gives IE 70 a data byte; TS 31.115 gives it none, so it is refused here.
    expectProtocolError(
      () => decodeUserDataHeader(fromHex('0571007001ffabcd')),
      'PROTOCOL_BAD_LENGTH',
      'IEDL',
    );
    expect(
      toHex(
        encodeUserDataHeader([
          { iei: 0x00, data: fromHex('010201') },
          { iei: 0x71, data: new Uint8Array(0) },
        ]),
      ),
    ).toBe('0700030102017100');
  });
});

describe('TP-DCS alphabet', () => {
  it('counts septets for the default alphabet and octets for 8-bit / UCS2', () => {
    expect(dcsCountsSeptets(0x00)).toBe(true);
    expect(dcsCountsSeptets(0xf0)).toBe(true);
    expect(dcsCountsSeptets(0xc0)).toBe(true);
    expect(dcsCountsSeptets(0x0c)).toBe(true); // reserved alphabet: assume the default
    expect(dcsCountsSeptets(0x04)).toBe(false);
    expect(dcsCountsSeptets(0x08)).toBe(false);
    expect(dcsCountsSeptets(0x20)).toBe(false); // compressed
    expect(dcsCountsSeptets(0xe0)).toBe(false);
    expect(dcsCountsSeptets(0xf6)).toBe(false);
  });
  it('carries 7-bit user data with its septet count', () => {
    // "hellohello" packed: 10 septets in 9 octets.
    const t = decodeSmsTpdu(
      fromHex('04' + '0391' + '21f3' + '0000' + '22705200000000' + '0a' + 'e8329bfd4697d9ec37'),
    );
    expect(t.userData).toEqual({ data: fromHex('e8329bfd4697d9ec37'), septets: 10 });
    expect(toHex(encodeSmsTpdu(t))).toBe(
      '040391' + '21f3' + '000022705200000000' + '0a' + 'e8329bfd4697d9ec37',
    );
  });
});

describe('rejects malformed TPDUs and values', () => {
  const base = '04' + '0491' + '2143' + '7ff6' + '22705200000000';
  it('names the field', () => {
    expectProtocolError(() => decodeSmsTpdu(fromHex('02')), 'PROTOCOL_UNKNOWN_TAG', 'TP-MTI');
    expectProtocolError(() => decodeSmsTpdu(fromHex(base + '02aa')), 'PROTOCOL_TRUNCATED');
    expectProtocolError(() => decodeSmsTpdu(fromHex(base + '01aabb')), 'PROTOCOL_TRAILING_BYTES');
    expectProtocolError(
      () => decodeSmsTpdu(fromHex(base + '8d' + '00'.repeat(141))),
      'PROTOCOL_BAD_LENGTH',
      'TP-UDL',
    );
    expectProtocolError(
      () => decodeSmsTpdu(fromHex('04' + '0411' + '2143' + '7ff6' + '22705200000000' + '00')),
      'PROTOCOL_BAD_VALUE',
      'TP-OA',
    );
    expectProtocolError(
      () => decodeSmsTpdu(fromHex('04' + '0391' + '2143' + '7ff6' + '22705200000000' + '00')),
      'PROTOCOL_BAD_VALUE',
      'TP-OA',
    );
    expectProtocolError(
      () => decodeSmsTpdu(fromHex('04' + '0491' + '2143' + '7ff6' + '22135200000000' + '00')),
      'PROTOCOL_BAD_VALUE',
      'TP-SCTS',
    );
    expectProtocolError(
      () => decodeSmsTpdu(fromHex('04' + '0491' + '2143' + '7ff6' + '227052000000' + '08' + '00')),
      'PROTOCOL_BAD_VALUE',
      'TP-SCTS',
    );
    expectProtocolError(
      () =>
        decodeSmsTpdu(
          fromHex('44' + '0491' + '2143' + '7ff6' + '22705200000000' + '03' + '057000'),
        ),
      'PROTOCOL_TRUNCATED',
      'UDHL',
    );
    expectProtocolError(
      () => decodeSmsTpdu(fromHex('14' + '0491' + '2143' + '7ff6' + '22705200000000' + '00')),
      'PROTOCOL_BAD_VALUE',
      'first octet',
    );
  });
  it('validates encoder input with offset -1', () => {
    const d: SmsDeliver = {
      type: 'deliver',
      moreMessages: true,
      loopPrevention: false,
      statusReport: false,
      replyPath: false,
      originator: { ton: 1, npi: 1, digits: '123' },
      pid: 0x7f,
      dcs: 0xf6,
      scts: SCTS,
      userData: { data: new Uint8Array(0) },
    };
    expect(
      expectProtocolError(
        () => encodeSmsTpdu({ ...d, originator: { ton: 1, npi: 1, digits: '12x' } }),
        'PROTOCOL_BAD_VALUE',
        'TP-OA',
      ).offset,
    ).toBe(-1);
    expectProtocolError(
      () => encodeSmsTpdu({ ...d, scts: { ...SCTS, month: 13 } }),
      'PROTOCOL_BAD_VALUE',
      'TP-SCTS',
    );
    expectProtocolError(() => encodeSmsTpdu({ ...d, pid: 300 }), 'PROTOCOL_BAD_VALUE', 'TP-PID');
    expectProtocolError(
      () => encodeSmsTpdu({ ...d, userData: { data: new Uint8Array(141) } }),
      'PROTOCOL_BAD_LENGTH',
      'TP-UDL',
    );
    expectProtocolError(
      () => encodeSmsTpdu({ ...d, dcs: 0, userData: { data: new Uint8Array(7) } }),
      'PROTOCOL_BAD_VALUE',
      'TP-UDL',
    );
    expectProtocolError(
      () => encodeSmsTpdu({ ...d, dcs: 0, userData: { data: new Uint8Array(7), septets: 10 } }),
      'PROTOCOL_BAD_LENGTH',
      'TP-UDL',
    );
    expectProtocolError(
      () => encodeSmsTpdu({ ...d, userData: { data: new Uint8Array(1), septets: 1 } }),
      'PROTOCOL_BAD_VALUE',
      'TP-UDL',
    );
    expectProtocolError(
      () => encodeSmsTpdu({ ...d, type: 'status' } as unknown as SmsTpdu),
      'PROTOCOL_BAD_VALUE',
      'type',
    );
    expectProtocolError(
      () => encodeUserDataHeader([{ iei: 0x00, data: new Uint8Array(2) }]),
      'PROTOCOL_BAD_VALUE',
      'IEDL',
    );
  });
});

// --- arbitraries ------------------------------------------------------------------------------

const timestampArb: fc.Arbitrary<SmsTimestamp> = fc.record({
  year: fc.integer({ min: 0, max: 99 }),
  month: fc.integer({ min: 1, max: 12 }),
  day: fc.integer({ min: 1, max: 31 }),
  hour: fc.integer({ min: 0, max: 23 }),
  minute: fc.integer({ min: 0, max: 59 }),
  second: fc.integer({ min: 0, max: 59 }),
  timezoneQuarters: fc.integer({ min: -79, max: 79 }),
});

const addressArb: fc.Arbitrary<SmsAddress> = fc.oneof(
  fc.record({
    ton: fc.constantFrom(0, 1, 2, 3, 4, 6, 7),
    npi: fc.integer({ min: 0, max: 15 }),
    digits: fc
      .array(fc.constantFrom(...Array.from('0123456789*#abc')), { maxLength: 20 })
      .map((a) => a.join('')),
  }),
  fc.record({
    ton: fc.constant(5),
    npi: fc.integer({ min: 0, max: 15 }),
    digits: fc
      .array(fc.constantFrom(...Array.from('0123456789abcdef')), { maxLength: 20 })
      .map((a) => a.join('')),
  }),
);

const elementArb: fc.Arbitrary<UdhElement> = fc.oneof(
  fc.record({ iei: fc.constant(0x00), data: fc.uint8Array({ minLength: 3, maxLength: 3 }) }),
  fc.record({ iei: fc.constant(0x08), data: fc.uint8Array({ minLength: 4, maxLength: 4 }) }),
  fc.record({ iei: fc.constantFrom(0x70, 0x71), data: fc.constant(new Uint8Array(0)) }),
  fc.record({
    iei: fc.integer({ min: 0x01, max: 0x6f }).filter((i) => i !== 0x08),
    data: fc.uint8Array({ maxLength: 12 }),
  }),
);

function userDataArb(septets: boolean): fc.Arbitrary<SmsUserData> {
  return fc
    .record({
      header: fc.option(fc.array(elementArb, { maxLength: 3 }), { nil: undefined }),
      data: fc.uint8Array({ maxLength: 90 }),
    })
    .map(({ header, data }) => {
      const octets = (header ? encodeUserDataHeader(header).length : 0) + data.length;
      const ud: SmsUserData = { ...(header ? { header } : {}), data };
      return septets ? { ...ud, septets: Math.floor((8 * octets) / 7) } : ud;
    });
}

const dcsArb = fc.constantFrom(0x00, 0x04, 0x08, 0xf0, 0xf5, 0xf6, 0xe0, 0x11);

const deliverArb: fc.Arbitrary<SmsDeliver> = dcsArb.chain((dcs) =>
  fc.record({
    type: fc.constant('deliver' as const),
    moreMessages: fc.boolean(),
    loopPrevention: fc.boolean(),
    statusReport: fc.boolean(),
    replyPath: fc.boolean(),
    originator: addressArb,
    pid: fc.integer({ min: 0, max: 255 }),
    dcs: fc.constant(dcs),
    scts: timestampArb,
    userData: userDataArb(dcsCountsSeptets(dcs)),
  }),
);

const validityArb: fc.Arbitrary<SmsValidity> = fc.oneof(
  fc.constant({ format: 'none' as const }),
  fc.record({ format: fc.constant('relative' as const), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    format: fc.constant('enhanced' as const),
    octets: fc.uint8Array({ minLength: 7, maxLength: 7 }),
  }),
  fc.record({ format: fc.constant('absolute' as const), time: timestampArb }),
);

const submitArb: fc.Arbitrary<SmsSubmit> = dcsArb.chain((dcs) =>
  fc.record({
    type: fc.constant('submit' as const),
    rejectDuplicates: fc.boolean(),
    statusReportRequest: fc.boolean(),
    replyPath: fc.boolean(),
    messageReference: fc.integer({ min: 0, max: 255 }),
    destination: addressArb,
    pid: fc.integer({ min: 0, max: 255 }),
    dcs: fc.constant(dcs),
    validity: validityArb,
    userData: userDataArb(dcsCountsSeptets(dcs)),
  }),
);

describe('round trips (fast-check)', () => {
  it('decode(encode(tpdu)) equals tpdu for DELIVER and SUBMIT', () => {
    fc.assert(
      fc.property(fc.oneof(deliverArb, submitArb), (tpdu) => {
        const bytes = encodeSmsTpdu(tpdu);
        expect(decodeSmsTpdu(bytes)).toEqual(tpdu);
      }),
      { numRuns: 1000 },
    );
  });
  it('user data headers round-trip', () => {
    fc.assert(
      fc.property(fc.array(elementArb, { maxLength: 6 }), (elements) => {
        const bytes = encodeUserDataHeader(elements);
        expect(decodeUserDataHeader(bytes)).toEqual({ elements, end: bytes.length });
      }),
    );
  });
});

describe('fuzzing', () => {
  const seeds = [
    fromHex('0408d0e5759a0e7ff6907090307513000824010101bb400101'),
    fromHex('400881214365877ff62270520000000025027000002015061935'),
    fromHex('550d0b911614261771f000f5a70c0b050423f423f4000301020141'),
    fromHex('19000391' + '21f3' + '0000' + '22705200000000' + '0a' + 'e8329bfd4697d9ec37'),
  ];
  it('decodeSmsTpdu never throws anything but ProtocolError, and what it accepts re-encodes to the same bytes', () => {
    const r = fuzzDecoder(
      (b) => {
        const t = decodeSmsTpdu(b);
        const again = encodeSmsTpdu(t);
        if (toHex(again) !== toHex(b))
          throw new Error(`not canonical: ${toHex(b)} → ${toHex(again)}`);
      },
      seeds,
      { iterations: 20_000, seed: 40 },
    );
    expect(r.accepted).toBeGreaterThan(0);
  });
  it('decodeUserDataHeader', () => {
    const r = fuzzDecoder(
      (b) => decodeUserDataHeader(b),
      [fromHex('0700030102017100'), fromHex('027000')],
      { iterations: 20_000, seed: 41 },
    );
    expect(r.accepted).toBeGreaterThan(0);
  });
});
