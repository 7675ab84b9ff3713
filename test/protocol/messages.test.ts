import { readFileSync } from 'node:fs';
import { describe, expect, it, test } from 'vitest';
import fc from 'fast-check';
import { ArgumentError, ProtocolError, SimvaultError } from '../../src/errors.js';
import { concatBytes, fromHex, toHex, utf8 } from '../../src/bytes.js';
import {
  APP_STATE_CODES,
  COMMAND_CODES,
  RESULT_CODES,
  ZONE_CODES,
  decodeMessage,
  encodeMessage,
  type AppState,
  type MessageType,
  type ResultCode,
  type SimvaultMessage,
} from '../../src/protocol/index.js';
import { messageToJSON } from '../../src/protocol/messages.js';
import { encodeTlvLength, MESSAGE_STRUCTURE } from '../../src/protocol/message-tlv.js';
import type { Zone } from '../../src/crypto/keys.js';
import { fuzzDecoder } from './fuzz-util.js';

// ---------------------------------------------------------------------------------------------
// Helpers

function expectProtocolError(
  fn: () => unknown,
  code: string,
  field?: string,
  offset?: number,
): ProtocolError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected a ProtocolError').toBeInstanceOf(ProtocolError);
  const err = caught as ProtocolError;
  expect(err.code).toBe(code);
  expect(err.structure).toBe(MESSAGE_STRUCTURE);
  if (field !== undefined) expect(err.field).toBe(field);
  if (offset !== undefined) expect(err.offset).toBe(offset);
  return err;
}

/** Split a message into header fields and body, so tests can rewrite the body. */
function splitMessage(bytes: Uint8Array): { head: Uint8Array; body: Uint8Array } {
  const first = bytes[6]!;
  const lenBytes = first === 0x81 ? 2 : first === 0x82 ? 3 : 1;
  return { head: bytes.subarray(0, 6), body: bytes.subarray(6 + lenBytes) };
}

function withBody(head: Uint8Array, body: Uint8Array): Uint8Array {
  return concatBytes(head, encodeTlvLength(body.length, 'body'), body);
}

// ---------------------------------------------------------------------------------------------
// Arbitraries: one per message type, covering every field, optional fields present and absent.

// Plain prototypes, so toStrictEqual compares decoded values (plain objects) with generated ones.
const rec = (<T>(
  model: { [K in keyof T]: fc.Arbitrary<T[K]> },
  constraints: { requiredKeys?: (keyof T)[] } = {},
) => fc.record(model, { ...constraints, noNullPrototype: true })) as typeof fc.record;
const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const cidArb = bytes(16, 16);
const aidArb = bytes(5, 16);
const digestArb = bytes(32, 32);
const sizeArb = fc.oneof(
  fc.maxSafeNat(),
  fc.constantFrom(0, 127, 128, 255, 256, 2 ** 32, Number.MAX_SAFE_INTEGER),
);
const u32Arb = fc.oneof(
  fc.bigInt({ min: 0n, max: 0xffffffffn }).map(Number),
  fc.constantFrom(0, 0xffffffff),
);
const CONTROL = /\p{Cc}/u;
const byteLength = (s: string) => utf8(s).length;
const displayText = (maxBytes: number) =>
  fc
    .oneof(
      fc.constantFrom('手机电视', '音乐', '游戏中心', 'Games', 'Offers', '\ufeffBOM kept', '1.0'),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }),
    )
    .filter((s) => !CONTROL.test(s) && byteLength(s) >= 1 && byteLength(s) <= maxBytes);
const urlArb = fc.oneof(
  fc.constantFrom('https://ota.example.cn/tv/2.1.bin', 'x'),
  fc.string({
    unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
    minLength: 1,
    maxLength: 255,
  }),
);
const digits = (min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789'.split('')), minLength: min, maxLength: max });
const zoneArb = fc.constantFrom(...(Object.keys(ZONE_CODES) as Zone[]));
const resultArb = fc.constantFrom(...(Object.keys(RESULT_CODES) as ResultCode[]));
const stateArb = fc.constantFrom(...(Object.keys(APP_STATE_CODES) as AppState[]));
const resourceArb = rec({ url: urlArb, digest: digestArb, size: sizeArb });
const applicationArb = rec(
  {
    aid: aidArb,
    name: displayText(64),
    zone: zoneArb,
    size: sizeArb,
    version: displayText(16),
    resource: resourceArb,
  },
  { requiredKeys: ['aid', 'name', 'zone', 'size', 'version'] },
);
const stkCardArb = rec({
  cid: cidArb,
  applications: fc.array(
    rec({ aid: aidArb, name: displayText(64), zone: zoneArb, state: stateArb }),
    { maxLength: 4 },
  ),
});

const ARBS: { [K in MessageType]: fc.Arbitrary<Extract<SimvaultMessage, { type: K }>> } = {
  bindRequest: rec(
    {
      type: fc.constant('bindRequest' as const),
      transactionId: u32Arb,
      cid: cidArb,
      iccid: digits(10, 20),
      imsi: digits(6, 15),
    },
    { requiredKeys: ['type', 'transactionId', 'cid', 'iccid'] },
  ),
  bindResponse: rec({
    type: fc.constant('bindResponse' as const),
    transactionId: u32Arb,
    cid: cidArb,
    result: resultArb,
    applications: fc.array(applicationArb, { maxLength: 4 }),
  }),
  unbindRequest: rec({
    type: fc.constant('unbindRequest' as const),
    transactionId: u32Arb,
    cid: cidArb,
  }),
  unbindResponse: rec({
    type: fc.constant('unbindResponse' as const),
    transactionId: u32Arb,
    cid: cidArb,
    result: resultArb,
  }),
  launchRequest: rec(
    {
      type: fc.constant('launchRequest' as const),
      transactionId: u32Arb,
      cid: cidArb,
      aid: aidArb,
      input: bytes(0, 255),
    },
    { requiredKeys: ['type', 'transactionId', 'cid', 'aid'] },
  ),
  downloadResourceInfo: rec({
    type: fc.constant('downloadResourceInfo' as const),
    transactionId: u32Arb,
    cid: cidArb,
    aid: aidArb,
    zone: zoneArb,
    resource: resourceArb,
  }),
  launchComplete: rec({
    type: fc.constant('launchComplete' as const),
    transactionId: u32Arb,
    cid: cidArb,
    aid: aidArb,
    size: sizeArb,
    digest: digestArb,
  }),
  downloadComplete: rec({
    type: fc.constant('downloadComplete' as const),
    transactionId: u32Arb,
    cid: cidArb,
    result: resultArb,
    aid: aidArb,
  }),
  deleteRequest: rec(
    {
      type: fc.constant('deleteRequest' as const),
      transactionId: u32Arb,
      cid: cidArb,
      aid: aidArb,
    },
    { requiredKeys: ['type', 'transactionId', 'aid'] },
  ),
  deleteCommand: rec({
    type: fc.constant('deleteCommand' as const),
    transactionId: u32Arb,
    cid: cidArb,
    aid: aidArb,
  }),
  stkListUpdate: rec({
    type: fc.constant('stkListUpdate' as const),
    transactionId: u32Arb,
    cards: fc.array(stkCardArb, { maxLength: 3 }),
    listVersion: u32Arb,
  }),
};
const TYPES = Object.keys(COMMAND_CODES) as MessageType[];
const anyMessage: fc.Arbitrary<SimvaultMessage> = fc.oneof(
  ...TYPES.map((t) => ARBS[t] as fc.Arbitrary<SimvaultMessage>),
);

// ---------------------------------------------------------------------------------------------
// Known answers: every hex example in docs/protocol.md.

interface DocExample {
  info: string;
  hex: string;
  json: unknown;
  line: number;
}

function docExamples(): DocExample[] {
  const text = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
  const out: DocExample[] = [];
  const block = /```hex([^\n]*)\n([\s\S]*?)```(?:\n```json\n([\s\S]*?)```)?/g;
  for (const m of text.matchAll(block)) {
    const hex = m[2]!
      .split('\n')
      .map((line) => line.replace(/#.*$/, ''))
      .join('');
    out.push({
      info: m[1]!.trim(),
      hex,
      json: m[3] === undefined ? undefined : JSON.parse(m[3]),
      line: text.slice(0, m.index).split('\n').length,
    });
  }
  return out;
}

const EXAMPLES = docExamples();
const VALID_EXAMPLES = EXAMPLES.filter((e) => !e.info.startsWith('rejects'));

describe('docs/protocol.md examples', () => {
  it('has examples for every message type and for rejections', () => {
    const types = new Set(VALID_EXAMPLES.map((e) => (e.json as { type: string }).type));
    expect([...types].sort()).toEqual([...TYPES].sort());
    expect(EXAMPLES.filter((e) => e.info.startsWith('rejects')).length).toBeGreaterThanOrEqual(10);
  });

  test.each(VALID_EXAMPLES.map((e) => [`line ${e.line}`, e] as const))(
    '%s decodes to the documented value',
    (_, e) => {
      expect(e.json, 'a valid example needs a json block').toBeDefined();
      const bytes = fromHex(e.hex);
      const msg = decodeMessage(bytes);
      expect(messageToJSON(msg)).toEqual(e.json);
      const again = encodeMessage(msg);
      if (e.info === 'extension') {
        // The unknown field is gone, everything else is identical.
        expect(decodeMessage(again)).toEqual(msg);
        expect(again.length).toBeLessThan(bytes.length);
      } else {
        expect(e.info).toBe('');
        expect(toHex(again)).toBe(toHex(bytes));
      }
    },
  );

  test.each(
    EXAMPLES.filter((e) => e.info.startsWith('rejects')).map((e) => [`line ${e.line}`, e] as const),
  )('%s is rejected as documented', (_, e) => {
    const attrs = Object.fromEntries(
      e.info.split(/\s+/).map((kv) => kv.split('=') as [string, string]),
    );
    expectProtocolError(
      () => decodeMessage(fromHex(e.hex)),
      attrs.rejects!,
      attrs.field,
      Number(attrs.offset),
    );
  });

  it('keeps a full bind request well inside one secured SMS', () => {
    const bind = encodeMessage({
      type: 'bindRequest',
      transactionId: 0xffffffff,
      cid: new Uint8Array(16),
      iccid: '9'.repeat(20),
      imsi: '9'.repeat(15),
    });
    expect(bind.length).toBeLessThanOrEqual(47);
    // Worst cases of the other fixed-size SIM and card messages against the 98 bytes a
    // ciphered, checksummed single-SMS secured packet leaves (docs/protocol.md).
    const cid = new Uint8Array(16);
    const aid = new Uint8Array(16);
    const worst: SimvaultMessage[] = [
      { type: 'unbindRequest', transactionId: 1, cid },
      { type: 'deleteRequest', transactionId: 1, cid, aid },
      { type: 'downloadComplete', transactionId: 1, cid, result: 'ok', aid },
      {
        type: 'launchComplete',
        transactionId: 1,
        cid,
        aid,
        size: Number.MAX_SAFE_INTEGER,
        digest: new Uint8Array(32),
      },
      { type: 'launchRequest', transactionId: 1, cid, aid, input: new Uint8Array(37) },
    ];
    for (const m of worst) expect(encodeMessage(m).length, m.type).toBeLessThanOrEqual(98);
  });
});

// ---------------------------------------------------------------------------------------------
// Round trips.

describe('round trips', () => {
  test.each(TYPES)('%s: decode(encode(m)) equals m and encode(decode(b)) equals b', (type) => {
    fc.assert(
      fc.property(ARBS[type] as fc.Arbitrary<SimvaultMessage>, (m) => {
        const b = encodeMessage(m);
        const d = decodeMessage(b);
        expect(d).toStrictEqual(m);
        expect(toHex(encodeMessage(d))).toBe(toHex(b));
        expect(JSON.parse(JSON.stringify(messageToJSON(d)))).toEqual(messageToJSON(d));
      }),
      { numRuns: 150 },
    );
  });

  it('decoded bytes are copies, not views of the input', () => {
    const b = encodeMessage({
      type: 'unbindRequest',
      transactionId: 1,
      cid: new Uint8Array(16).fill(7),
    });
    const m = decodeMessage(b) as { cid: Uint8Array };
    b.fill(0);
    expect(m.cid).toEqual(new Uint8Array(16).fill(7));
  });

  it('messageToJSON turns every byte field into lower-case hex', () => {
    const m: SimvaultMessage = {
      type: 'launchComplete',
      transactionId: 3,
      cid: new Uint8Array(16).fill(0xab),
      aid: fromHex('a000000087'),
      size: 1,
      digest: new Uint8Array(32).fill(0xcd),
    };
    expect(messageToJSON(m)).toEqual({
      type: 'launchComplete',
      transactionId: 3,
      cid: 'ab'.repeat(16),
      aid: 'a000000087',
      size: 1,
      digest: 'cd'.repeat(32),
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Extensibility, truncation, trailing bytes.

describe('framing', () => {
  it('skips an unknown optional tag and rejects an unknown comprehension-required one', () => {
    fc.assert(
      fc.property(
        anyMessage,
        fc.integer({ min: 0x13, max: 0x7e }),
        bytes(0, 40),
        (m, tag, value) => {
          const { head, body } = splitMessage(encodeMessage(m));
          const optional = withBody(
            head,
            concatBytes(body, Uint8Array.of(tag), encodeTlvLength(value.length, 'x'), value),
          );
          expect(decodeMessage(optional)).toStrictEqual(m);
          const required = withBody(
            head,
            concatBytes(body, Uint8Array.of(tag | 0x80), encodeTlvLength(value.length, 'x'), value),
          );
          const tail = 1 + encodeTlvLength(value.length, 'x').length + value.length;
          expectProtocolError(
            () => decodeMessage(required),
            'PROTOCOL_UNKNOWN_TAG',
            `tag_${tag.toString(16)}`,
            required.length - tail,
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('skips unknown optional tags inside nested structures, repeated or not', () => {
    const m: SimvaultMessage = {
      type: 'downloadResourceInfo',
      transactionId: 9,
      cid: new Uint8Array(16),
      aid: fromHex('a000000087'),
      zone: 'user',
      resource: { url: 'u', digest: new Uint8Array(32), size: 5 },
    };
    const plain = toHex(encodeMessage(m));
    // resource (8b) holds size 89, url 8c, digest 8d; add tag 40 twice after the digest.
    const resource =
      '8b' + '2d' + '890105' + '8c0175' + '8d20' + '00'.repeat(32) + '4001ff' + '4000';
    const body = '8110' + '00'.repeat(16) + '8505a000000087' + '880104' + resource;
    const bytes = fromHex('0106' + '00000009' + (body.length / 2).toString(16) + body);
    expect(decodeMessage(bytes)).toStrictEqual(m);
    expect(plain).not.toBe(toHex(bytes));
    expectProtocolError(
      () => decodeMessage(fromHex(toHex(bytes).replace('4001ff', 'c001ff'))),
      'PROTOCOL_UNKNOWN_TAG',
      'resource.tag_40',
      77,
    );
  });

  it('rejects every truncation of valid messages', () => {
    const samples = [
      ...VALID_EXAMPLES.map((e) => fromHex(e.hex)),
      ...fc.sample(anyMessage, { numRuns: 30, seed: 7 }).map(encodeMessage),
    ];
    for (const b of samples) {
      for (let n = 0; n < b.length; n++)
        expectProtocolError(() => decodeMessage(b.subarray(0, n)), 'PROTOCOL_TRUNCATED');
    }
  });

  it('rejects trailing bytes', () => {
    fc.assert(
      fc.property(anyMessage, bytes(1, 8), (m, extra) => {
        const b = encodeMessage(m);
        expectProtocolError(
          () => decodeMessage(concatBytes(b, extra)),
          'PROTOCOL_TRAILING_BYTES',
          'end',
          b.length,
        );
      }),
      { numRuns: 100 },
    );
  });

  it('rejects a longer body length as truncation and a shorter one as trailing bytes or a broken field', () => {
    const b = encodeMessage({ type: 'unbindRequest', transactionId: 1, cid: new Uint8Array(16) });
    const longer = b.slice();
    longer[6] = 0x13;
    expectProtocolError(() => decodeMessage(longer), 'PROTOCOL_TRUNCATED', 'body', 7);
    const shorter = b.slice();
    shorter[6] = 0x11;
    expectProtocolError(() => decodeMessage(shorter), 'PROTOCOL_TRAILING_BYTES', 'end', 24);
  });

  it('rejects a non-Uint8Array argument with an ArgumentError', () => {
    expect(() => decodeMessage('0101' as unknown as Uint8Array)).toThrow(ArgumentError);
  });
});

// ---------------------------------------------------------------------------------------------
// Decoder checks on field values and TLV structure.

describe('decoder rejects bad fields', () => {
  const CID = '8110' + '00'.repeat(16);
  const msg = (command: number, body: string) =>
    fromHex(
      '01' +
        command.toString(16).padStart(2, '0') +
        '00000001' +
        toHex(encodeTlvLength(body.length / 2, 'b')) +
        body,
    );
  const cases: [string, Uint8Array, string, string, number][] = [
    [
      'uint with a leading zero',
      msg(7, CID + '8505a000000087' + '89020001' + '8d20' + '00'.repeat(32)),
      'PROTOCOL_BAD_VALUE',
      'size',
      34,
    ],
    [
      'uint of 8 bytes',
      msg(7, CID + '8505a000000087' + '89080100000000000000' + '8d20' + '00'.repeat(32)),
      'PROTOCOL_BAD_LENGTH',
      'size',
      34,
    ],
    [
      'uint of 0 bytes',
      msg(7, CID + '8505a000000087' + '8900' + '8d20' + '00'.repeat(32)),
      'PROTOCOL_BAD_LENGTH',
      'size',
      34,
    ],
    [
      'uint above 2^53-1',
      msg(7, CID + '8505a000000087' + '890720000000000000' + '8d20' + '00'.repeat(32)),
      'PROTOCOL_BAD_VALUE',
      'size',
      34,
    ],
    [
      'listVersion above 2^32-1',
      msg(11, '9105' + '0100000000'),
      'PROTOCOL_BAD_VALUE',
      'listVersion',
      9,
    ],
    ['AID of 4 bytes', msg(9, '8504a0000000'), 'PROTOCOL_BAD_LENGTH', 'aid', 9],
    ['AID of 17 bytes', msg(9, '8511' + '00'.repeat(17)), 'PROTOCOL_BAD_LENGTH', 'aid', 9],
    ['CID of 15 bytes', msg(3, '810f' + '00'.repeat(15)), 'PROTOCOL_BAD_LENGTH', 'cid', 9],
    [
      'digest of 31 bytes',
      msg(7, CID + '8505a000000087' + '890101' + '8d1f' + '00'.repeat(31)),
      'PROTOCOL_BAD_LENGTH',
      'digest',
      37,
    ],
    [
      'BCD with a letter nibble',
      msg(1, CID + '820a898600123456789a1234'),
      'PROTOCOL_BAD_VALUE',
      'iccid',
      34,
    ],
    [
      'BCD with F before the end',
      msg(1, CID + '820a89860f23456789012345'),
      'PROTOCOL_BAD_VALUE',
      'iccid',
      29,
    ],
    [
      'BCD with too few digits',
      msg(1, CID + '8204' + '89860012'),
      'PROTOCOL_BAD_LENGTH',
      'iccid',
      27,
    ],
    [
      'BCD of 9 digits (5 bytes, F-padded)',
      msg(1, CID + '8205' + '898600123f'),
      'PROTOCOL_BAD_LENGTH',
      'iccid',
      27,
    ],
    [
      'unknown zone code',
      msg(6, CID + '8505a000000087' + '880105' + '8b08' + '890101' + '8c0175' + '8d00'),
      'PROTOCOL_BAD_VALUE',
      'zone',
      34,
    ],
    [
      'zone of 2 bytes',
      msg(6, CID + '8505a000000087' + '88020101'),
      'PROTOCOL_BAD_LENGTH',
      'zone',
      34,
    ],
    ['unknown result code', msg(4, CID + '8401ee'), 'PROTOCOL_BAD_VALUE', 'result', 27],
    [
      'unknown app state',
      msg(11, '9024' + CID + '9210' + '8505a000000087' + '870178' + '880101' + '8f0103' + '910101'),
      'PROTOCOL_BAD_VALUE',
      'cards[0].applications[0].state',
      44,
    ],
    [
      'URL with a space',
      msg(
        6,
        CID +
          '8505a000000087' +
          '880101' +
          '8b29' +
          '890101' +
          '8c0220' +
          '41' +
          '8d20' +
          '00'.repeat(32),
      ),
      'PROTOCOL_BAD_VALUE',
      'resource.url',
      42,
    ],
    [
      'name that is not UTF-8',
      msg(
        2,
        CID + '840100' + '8614' + '8505a000000087' + '8702c328' + '880101' + '890101' + '8a0131',
      ),
      'PROTOCOL_BAD_VALUE',
      'applications[0].name',
      39,
    ],
    [
      'name with a control character',
      msg(
        2,
        CID + '840100' + '8614' + '8505a000000087' + '87024109' + '880101' + '890101' + '8a0131',
      ),
      'PROTOCOL_BAD_VALUE',
      'applications[0].name',
      39,
    ],
    [
      'empty name',
      msg(2, CID + '840100' + '8612' + '8505a000000087' + '8700' + '880101' + '890101' + '8a0131'),
      'PROTOCOL_BAD_LENGTH',
      'applications[0].name',
      39,
    ],
    [
      'nested required field missing',
      msg(2, CID + '840100' + '8610' + '8505a000000087' + '870141' + '880101' + '890101'),
      'PROTOCOL_MISSING_FIELD',
      'applications[0].version',
      46,
    ],
    ['reserved tag 00', msg(3, CID + '0000'), 'PROTOCOL_UNKNOWN_TAG', 'tag', 25],
    ['reserved tag 7F', msg(3, CID + '7f00'), 'PROTOCOL_UNKNOWN_TAG', 'tag', 25],
    ['reserved tag FF', msg(3, CID + 'ff00'), 'PROTOCOL_UNKNOWN_TAG', 'tag', 25],
    ['length byte 80', msg(3, '8180'), 'PROTOCOL_BAD_LENGTH', 'cid.length', 8],
    ['length byte 83', msg(3, '8183000010'), 'PROTOCOL_BAD_LENGTH', 'cid.length', 8],
    [
      '82 form for a short length',
      msg(3, '81820010' + '00'.repeat(16)),
      'PROTOCOL_BAD_LENGTH',
      'cid.length',
      8,
    ],
    [
      'body length 81 0f',
      fromHex('01030000000181' + '0f' + '810d' + '00'.repeat(13)),
      'PROTOCOL_BAD_LENGTH',
      'body.length',
      6,
    ],
    [
      'optional CID sent with the CR bit',
      msg(9, CID + '8505a000000087'),
      'PROTOCOL_BAD_VALUE',
      'cid',
      7,
    ],
    [
      'a list tag twice apart is out of order',
      msg(11, '9012' + CID + '910101' + '9012' + CID),
      'PROTOCOL_BAD_VALUE',
      'cards',
      30,
    ],
  ];
  test.each(cases)('%s', (_, input, code, field, offset) => {
    expectProtocolError(() => decodeMessage(input), code, field, offset);
  });

  it('keeps a leading BOM in a name so the bytes round-trip', () => {
    const m: SimvaultMessage = {
      type: 'stkListUpdate',
      transactionId: 1,
      listVersion: 1,
      cards: [
        {
          cid: new Uint8Array(16),
          applications: [
            { aid: new Uint8Array(5), name: '\ufeffA', zone: 'user', state: 'active' },
          ],
        },
      ],
    };
    const b = encodeMessage(m);
    expect(toHex(b)).toContain('8704efbbbf41');
    expect(decodeMessage(b)).toStrictEqual(m);
  });
});

// ---------------------------------------------------------------------------------------------
// Encoder validation: a typed error naming the field, offset -1.

describe('encoder rejects bad values', () => {
  const cid = new Uint8Array(16);
  const aid = fromHex('a000000087');
  const resource = { url: 'https://x', digest: new Uint8Array(32), size: 1 };
  const app = { aid, name: 'A', zone: 'user' as Zone, size: 1, version: '1' };
  const cases: [string, unknown, string, string][] = [
    ['unknown type', { type: 'hello', transactionId: 1 }, 'PROTOCOL_UNKNOWN_TAG', 'type'],
    ['not an object', null, 'PROTOCOL_BAD_VALUE', 'message'],
    [
      'negative transaction id',
      { type: 'unbindRequest', transactionId: -1, cid },
      'PROTOCOL_BAD_VALUE',
      'transactionId',
    ],
    [
      'transaction id of 2^32',
      { type: 'unbindRequest', transactionId: 2 ** 32, cid },
      'PROTOCOL_BAD_VALUE',
      'transactionId',
    ],
    [
      'fractional transaction id',
      { type: 'unbindRequest', transactionId: 1.5, cid },
      'PROTOCOL_BAD_VALUE',
      'transactionId',
    ],
    ['missing CID', { type: 'unbindRequest', transactionId: 1 }, 'PROTOCOL_MISSING_FIELD', 'cid'],
    [
      'CID of 15 bytes',
      { type: 'unbindRequest', transactionId: 1, cid: new Uint8Array(15) },
      'PROTOCOL_BAD_LENGTH',
      'cid',
    ],
    [
      'CID as hex string',
      { type: 'unbindRequest', transactionId: 1, cid: '00'.repeat(16) },
      'PROTOCOL_BAD_VALUE',
      'cid',
    ],
    [
      'unknown property',
      { type: 'unbindRequest', transactionId: 1, cid, cdi: cid },
      'PROTOCOL_BAD_VALUE',
      'cdi',
    ],
    [
      'AID of 4 bytes',
      { type: 'deleteRequest', transactionId: 1, aid: new Uint8Array(4) },
      'PROTOCOL_BAD_LENGTH',
      'aid',
    ],
    [
      'AID of 17 bytes',
      { type: 'deleteRequest', transactionId: 1, aid: new Uint8Array(17) },
      'PROTOCOL_BAD_LENGTH',
      'aid',
    ],
    [
      'ICCID with a letter',
      { type: 'bindRequest', transactionId: 1, cid, iccid: '8986001234567890123A' },
      'PROTOCOL_BAD_VALUE',
      'iccid',
    ],
    [
      'ICCID of 21 digits',
      { type: 'bindRequest', transactionId: 1, cid, iccid: '1'.repeat(21) },
      'PROTOCOL_BAD_VALUE',
      'iccid',
    ],
    [
      'IMSI of 16 digits',
      { type: 'bindRequest', transactionId: 1, cid, iccid: '1'.repeat(19), imsi: '1'.repeat(16) },
      'PROTOCOL_BAD_VALUE',
      'imsi',
    ],
    [
      'negative size',
      { type: 'launchComplete', transactionId: 1, cid, aid, size: -1, digest: new Uint8Array(32) },
      'PROTOCOL_BAD_VALUE',
      'size',
    ],
    [
      'fractional size',
      { type: 'launchComplete', transactionId: 1, cid, aid, size: 0.5, digest: new Uint8Array(32) },
      'PROTOCOL_BAD_VALUE',
      'size',
    ],
    [
      'size of 2^53',
      {
        type: 'launchComplete',
        transactionId: 1,
        cid,
        aid,
        size: 2 ** 53,
        digest: new Uint8Array(32),
      },
      'PROTOCOL_BAD_VALUE',
      'size',
    ],
    [
      'digest of 31 bytes',
      { type: 'launchComplete', transactionId: 1, cid, aid, size: 1, digest: new Uint8Array(31) },
      'PROTOCOL_BAD_LENGTH',
      'digest',
    ],
    [
      'input of 256 bytes',
      { type: 'launchRequest', transactionId: 1, cid, aid, input: new Uint8Array(256) },
      'PROTOCOL_BAD_LENGTH',
      'input',
    ],
    [
      'unknown zone',
      { type: 'downloadResourceInfo', transactionId: 1, cid, aid, zone: 'sdcard', resource },
      'PROTOCOL_BAD_VALUE',
      'zone',
    ],
    [
      'unknown result',
      { type: 'unbindResponse', transactionId: 1, cid, result: 'maybe' },
      'PROTOCOL_BAD_VALUE',
      'result',
    ],
    [
      'result inherited from Object',
      { type: 'unbindResponse', transactionId: 1, cid, result: 'toString' },
      'PROTOCOL_BAD_VALUE',
      'result',
    ],
    [
      'URL with a space',
      {
        type: 'downloadResourceInfo',
        transactionId: 1,
        cid,
        aid,
        zone: 'user',
        resource: { ...resource, url: 'a b' },
      },
      'PROTOCOL_BAD_VALUE',
      'resource.url',
    ],
    [
      'URL of 256 bytes',
      {
        type: 'downloadResourceInfo',
        transactionId: 1,
        cid,
        aid,
        zone: 'user',
        resource: { ...resource, url: 'a'.repeat(256) },
      },
      'PROTOCOL_BAD_LENGTH',
      'resource.url',
    ],
    [
      'applications not an array',
      { type: 'bindResponse', transactionId: 1, cid, result: 'ok', applications: app },
      'PROTOCOL_BAD_VALUE',
      'applications',
    ],
    [
      'empty name',
      {
        type: 'bindResponse',
        transactionId: 1,
        cid,
        result: 'ok',
        applications: [app, { ...app, name: '' }],
      },
      'PROTOCOL_BAD_LENGTH',
      'applications[1].name',
    ],
    [
      'name of 65 bytes',
      {
        type: 'bindResponse',
        transactionId: 1,
        cid,
        result: 'ok',
        applications: [{ ...app, name: '电'.repeat(22) }],
      },
      'PROTOCOL_BAD_LENGTH',
      'applications[0].name',
    ],
    [
      'name with a newline',
      {
        type: 'bindResponse',
        transactionId: 1,
        cid,
        result: 'ok',
        applications: [{ ...app, name: 'a\nb' }],
      },
      'PROTOCOL_BAD_VALUE',
      'applications[0].name',
    ],
    [
      'name with a lone surrogate',
      {
        type: 'bindResponse',
        transactionId: 1,
        cid,
        result: 'ok',
        applications: [{ ...app, name: 'a\ud800' }],
      },
      'PROTOCOL_BAD_VALUE',
      'applications[0].name',
    ],
    [
      'version of 17 bytes',
      {
        type: 'bindResponse',
        transactionId: 1,
        cid,
        result: 'ok',
        applications: [{ ...app, version: '1'.repeat(17) }],
      },
      'PROTOCOL_BAD_LENGTH',
      'applications[0].version',
    ],
    [
      'nested digest',
      {
        type: 'bindResponse',
        transactionId: 1,
        cid,
        result: 'ok',
        applications: [app, { ...app, resource: { ...resource, digest: new Uint8Array(3) } }],
      },
      'PROTOCOL_BAD_LENGTH',
      'applications[1].resource.digest',
    ],
    [
      'nested missing field',
      {
        type: 'stkListUpdate',
        transactionId: 1,
        listVersion: 1,
        cards: [{ cid, applications: [{ aid, name: 'A', zone: 'user' }] }],
      },
      'PROTOCOL_MISSING_FIELD',
      'cards[0].applications[0].state',
    ],
    [
      'listVersion of 2^32',
      { type: 'stkListUpdate', transactionId: 1, listVersion: 2 ** 32, cards: [] },
      'PROTOCOL_BAD_VALUE',
      'listVersion',
    ],
    [
      'card that is not an object',
      { type: 'stkListUpdate', transactionId: 1, listVersion: 1, cards: [7] },
      'PROTOCOL_BAD_VALUE',
      'cards[0]',
    ],
  ];
  test.each(cases)('%s', (_, value, code, field) => {
    expectProtocolError(() => encodeMessage(value as SimvaultMessage), code, field, -1);
  });

  it('rejects a body too long for the length encoding', () => {
    const app = {
      aid: new Uint8Array(16),
      name: '电'.repeat(21),
      zone: 'user' as const,
      state: 'active' as const,
    };
    const cards = Array.from({ length: 20 }, () => ({
      cid: new Uint8Array(16),
      applications: Array.from({ length: 40 }, () => app),
    }));
    expectProtocolError(
      () => encodeMessage({ type: 'stkListUpdate', transactionId: 1, listVersion: 1, cards }),
      'PROTOCOL_BAD_LENGTH',
      'body',
      -1,
    );
  });

  it('treats an optional field set to undefined as absent', () => {
    const b = encodeMessage({
      type: 'deleteRequest',
      transactionId: 1,
      aid,
      cid: undefined,
    } as unknown as SimvaultMessage);
    expect(decodeMessage(b)).toStrictEqual({ type: 'deleteRequest', transactionId: 1, aid });
  });
});

// ---------------------------------------------------------------------------------------------
// Fuzzing: only ProtocolErrors, and whatever is accepted is stable under re-encoding.

describe('fuzz', () => {
  it('decodeMessage survives 20k random and mutated inputs', () => {
    const seeds = [
      ...VALID_EXAMPLES.map((e) => fromHex(e.hex)),
      ...fc.sample(anyMessage, { numRuns: 40, seed: 3 }).map(encodeMessage),
    ];
    const decode = (b: Uint8Array) => {
      const m = decodeMessage(b);
      const again = decodeMessage(encodeMessage(m));
      if (JSON.stringify(messageToJSON(again)) !== JSON.stringify(messageToJSON(m))) {
        throw new Error(`re-encoding changed ${toHex(b)}`);
      }
      return m;
    };
    const { accepted, rejected } = fuzzDecoder(decode, seeds, { iterations: 20_000, seed: 0x5eed });
    expect(accepted).toBeGreaterThan(50);
    expect(rejected).toBeGreaterThan(10_000);
  });

  it('throws only SimvaultErrors for arbitrary bytes (fast-check)', () => {
    fc.assert(
      fc.property(bytes(0, 200), (b) => {
        try {
          decodeMessage(b);
        } catch (e) {
          expect(e).toBeInstanceOf(SimvaultError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
