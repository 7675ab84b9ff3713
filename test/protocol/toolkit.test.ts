import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex } from '../../src/bytes.js';
import { ProtocolError } from '../../src/errors.js';
import {
  decodeProactiveCommand,
  encodeProactiveCommand,
  type ProactiveCommand,
  type SetUpMenu,
} from '../../src/protocol/toolkit.js';
import {
  decodeEnvelope,
  decodeEnvelopeApdu,
  encodeEnvelope,
  encodeEnvelopeApdu,
  type Envelope,
} from '../../src/protocol/toolkit-envelope.js';
import {
  decodeFetchApdu,
  decodeTerminalResponse,
  decodeTerminalResponseApdu,
  encodeFetchApdu,
  encodeTerminalResponse,
  encodeTerminalResponseApdu,
  type TerminalResponse,
} from '../../src/protocol/toolkit-terminal.js';
import { decodeAddress, encodeAddress, type MenuItem } from '../../src/protocol/toolkit-objects.js';
import { fuzzDecoder, codeOf } from './fuzz-util.js';

const ADDRESS = { tonNpi: 0x91, digits: '112233445566778' };
const TPDU_31124 = fromHex('0100099110325476f840f40c54657374204d657373616765');

// Proactive commands published with public STK test suites (most from 3GPP TS 31.124), and what
// they mean.
const PROACTIVE: [string, string, ProactiveCommand][] = [
  [
    'DISPLAY TEXT, GSM 7-bit packed, text string without CR',
    'd0288103012180820281020d1d00d3309bfc06c95c301aa8e80259c3ec34b9ac07c9602f58ed159bb940',
    {
      kind: 'displayText',
      commandNumber: 1,
      qualifier: 0x80,
      text: { dcs: 0, text: 'Saldo 2.04 E. Validez 20/05/13. ' },
      crFlipped: [2],
    },
  ],
  [
    'SET UP MENU, four items',
    'd03b810301250082028182850c546f6f6c6b6974204d656e758f07014974656d20318f07024974656d20328f07034974656d20338f07044974656d2034',
    {
      kind: 'setUpMenu',
      commandNumber: 1,
      qualifier: 0,
      title: 'Toolkit Menu',
      titleCoding: 'gsm',
      items: [1, 2, 3, 4].map((id): MenuItem => ({ id, text: `Item ${id}`, coding: 'gsm' })),
    },
  ],
  [
    'SET UP MENU removing the menu',
    'd00d81030125008202818285008f00',
    { kind: 'setUpMenu', commandNumber: 1, qualifier: 0, title: '', titleCoding: 'gsm', items: [] },
  ],
  [
    'REFRESH, file change notification for EF 2FE2',
    'd0108103010101820281829205013f002fe2',
    { kind: 'refresh', commandNumber: 1, qualifier: 1, files: [fromHex('3f002fe2')] },
  ],
  [
    'SEND SHORT MESSAGE, null alpha identifier',
    'd030810301130082028183850086099111223344556677f88b180100099110325476f840f40c54657374204d657373616765',
    {
      kind: 'sendShortMessage',
      commandNumber: 1,
      qualifier: 0,
      alpha: '',
      alphaCoding: 'gsm',
      address: ADDRESS,
      tpdu: TPDU_31124,
    },
  ],
  [
    'SEND SHORT MESSAGE, UCS2 alpha identifier',
    'd05581030113008202818385198004170414042004100412042104220412042304190422041586099111223344556677f88b240100099110325476f8400818041704140420041004120421042204120423041904220415',
    {
      kind: 'sendShortMessage',
      commandNumber: 1,
      qualifier: 0,
      alpha: 'ЗДРАВСТВУЙТЕ',
      alphaCoding: 'ucs2',
      address: ADDRESS,
      tpdu: fromHex('0100099110325476f8400818041704140420041004120421042204120423041904220415'),
    },
  ],
  [
    'SEND SHORT MESSAGE, icon without CR',
    'd03b810301130082028183850753656e6420534d86099111223344556677f88b180100099110325476f840f40c54657374204d6573736167651e020101',
    {
      kind: 'sendShortMessage',
      commandNumber: 1,
      qualifier: 0,
      alpha: 'Send SM',
      alphaCoding: 'gsm',
      address: ADDRESS,
      tpdu: TPDU_31124,
      icon: { selfExplanatory: false, record: 1 },
      crFlipped: [5],
    },
  ],
];

describe('proactive commands: public known answers', () => {
  for (const [name, hex, value] of PROACTIVE) {
    it(name, () => {
      expect(decodeProactiveCommand(fromHex(hex))).toEqual(value);
      expect(toHex(encodeProactiveCommand(value))).toBe(hex);
    });
  }
  it('SEND SHORT MESSAGE with a 253-byte body (length 81 FD)', () => {
    const hex =
      'd081c381030113018202818386099111223344556677f88b81ac0100099110325476f840f4a054776f2074797065732061726520646566696e65643a202d20412073686f7274206d65737361676520746f2062652073656e7420746f20746865206e6574776f726b20696e20616e20534d532d5355424d4954206d6573736167652c206f7220616e20534d532d434f4d4d414e44206d6573736167652c20776865726520746865207573657220646174612063616e20626520706173736564207472616e7370';
    const cmd = decodeProactiveCommand(fromHex(hex));
    expect(cmd.kind === 'sendShortMessage' && cmd.tpdu.length).toBe(0xac);
    expect(toHex(encodeProactiveCommand(cmd))).toBe(hex);
  });
});

describe('proactive commands: Chinese menus', () => {
  it('SET UP MENU with UCS2 (80) title and items round-trips', () => {
    const menu: ProactiveCommand = {
      kind: 'setUpMenu',
      commandNumber: 1,
      qualifier: 0,
      title: '存储卡',
      items: [
        { id: 1, text: '绑定存储卡' },
        { id: 2, text: '解除绑定' },
        { id: 3, text: 'Help' },
      ],
    };
    const bytes = encodeProactiveCommand(menu);
    expect(toHex(bytes)).toBe(
      'd033810301250082028182' +
        '8507805b5850a85361' +
        '8f0c01807ed15b9a5b5850a85361' +
        '8f0a028089e396647ed15b9a' +
        '8f050348656c70',
    );
    const back = decodeProactiveCommand(bytes);
    expect(back).toEqual({
      ...menu,
      titleCoding: 'ucs2',
      items: [
        { id: 1, text: '绑定存储卡', coding: 'ucs2' },
        { id: 2, text: '解除绑定', coding: 'ucs2' },
        { id: 3, text: 'Help', coding: 'gsm' },
      ],
    });
  });
  it('SELECT ITEM with a default item, and DISPLAY TEXT in UCS2', () => {
    const select: ProactiveCommand = {
      kind: 'selectItem',
      commandNumber: 2,
      qualifier: 0,
      title: '选择存储卡',
      titleCoding: 'ucs2',
      items: [
        { id: 1, text: 'SU01G', coding: 'gsm' },
        { id: 2, text: 'SD02G', coding: 'gsm' },
      ],
      defaultItem: 2,
      icon: { selfExplanatory: true, record: 1 },
    };
    expect(decodeProactiveCommand(encodeProactiveCommand(select))).toEqual(select);
    const display: ProactiveCommand = {
      kind: 'displayText',
      commandNumber: 3,
      qualifier: 0x81,
      text: { dcs: 8, text: '绑定成功' },
      immediateResponse: true,
      duration: { unit: 'seconds', interval: 5 },
    };
    const bytes = encodeProactiveCommand(display);
    expect(toHex(bytes)).toBe(
      'd01a810303218182028102' + '8d0908' + '7ed15b9a6210529f' + 'ab00' + '84020105',
    );
    expect(decodeProactiveCommand(bytes)).toEqual(display);
  });
});

describe('proactive commands reject', () => {
  it('a wrong outer tag, an unsupported type, wrong devices', () => {
    expect(codeOf(() => decodeProactiveCommand(fromHex('d10482020181')))).toBe(
      'PROTOCOL_UNKNOWN_TAG tag@0',
    );
    // POLL OFF (04) is not a command simvault speaks.
    expect(codeOf(() => decodeProactiveCommand(fromHex('d009810301040082028182')))).toBe(
      'PROTOCOL_UNKNOWN_TAG commandType@5',
    );
    expect(codeOf(() => decodeProactiveCommand(fromHex('d00d81030125008202818385008f00')))).toBe(
      'PROTOCOL_BAD_VALUE deviceIdentities.destination@10',
    );
    expect(codeOf(() => decodeProactiveCommand(fromHex('d00d81030025008202818285008f00')))).toBe(
      'PROTOCOL_BAD_VALUE commandNumber@4',
    );
  });
  it('an unknown object with CR set, but skips one with CR clear', () => {
    // SEND SHORT MESSAGE with a text attribute (D0, tag 50 with CR): not understood.
    const withAttribute =
      'd02c8103011300820281838510546578742041747472696275746520318b09010002911040f00120d004001000b4';
    expect(codeOf(() => decodeProactiveCommand(fromHex(withAttribute)))).toBe(
      'PROTOCOL_UNKNOWN_TAG tag@40',
    );
    // The same with the CR flag clear (50): skipped.
    const skipped = decodeProactiveCommand(
      fromHex(withAttribute.replace(/d004001000b4$/, '5004001000b4')),
    );
    expect(skipped).toEqual({
      kind: 'sendShortMessage',
      commandNumber: 1,
      qualifier: 0,
      alpha: 'Text Attribute 1',
      alphaCoding: 'gsm',
      tpdu: fromHex('010002911040f00120'),
    });
  });
  it('missing, repeated or misplaced objects', () => {
    expect(codeOf(() => decodeProactiveCommand(fromHex('d009810301250082028182')))).toBe(
      'PROTOCOL_MISSING_FIELD title@11',
    );
    expect(codeOf(() => decodeProactiveCommand(fromHex('d00b8103012500820281828500')))).toBe(
      'PROTOCOL_MISSING_FIELD items@13',
    );
    expect(
      codeOf(() =>
        decodeProactiveCommand(fromHex('d00f81030125008202818285008f0085 00'.replace(/ /g, ''))),
      ),
    ).toBe('PROTOCOL_BAD_VALUE tag@15');
    expect(
      codeOf(() => decodeProactiveCommand(fromHex('d00f81030125008202818285008f008f00'))),
    ).toBe('PROTOCOL_BAD_VALUE items@15');
  });
  it('the 81/82 UCS2 alpha forms (not supported)', () => {
    const form81 =
      'd04b810301130082028183850f810c089794a09092a1a292a399a29586099111223344556677f88b240100099110325476f8400818041704140420041004120421042204120423041904220415';
    expect(codeOf(() => decodeProactiveCommand(fromHex(form81)))).toBe(
      'PROTOCOL_BAD_VALUE alpha@13',
    );
  });
  it('lengths over 255 and trailing bytes', () => {
    const items = Array.from({ length: 30 }, (_, i): MenuItem => ({
      id: i + 1,
      text: `Item ${i + 1}`,
    }));
    expect(
      codeOf(() =>
        encodeProactiveCommand({
          kind: 'setUpMenu',
          commandNumber: 1,
          qualifier: 0,
          title: 'T',
          items,
        }),
      ),
    ).toBe('PROTOCOL_BAD_LENGTH length@-1');
    expect(codeOf(() => decodeProactiveCommand(fromHex('d00d81030125008202818285008f0000')))).toBe(
      'PROTOCOL_TRAILING_BYTES end@15',
    );
  });
  it('bad values given to the encoder', () => {
    const menu: SetUpMenu = {
      kind: 'setUpMenu',
      commandNumber: 1,
      qualifier: 0,
      title: 'T',
      items: [{ id: 1, text: 'a' }],
    };
    expect(codeOf(() => encodeProactiveCommand({ ...menu, commandNumber: 0 }))).toBe(
      'PROTOCOL_BAD_VALUE commandNumber@-1',
    );
    expect(codeOf(() => encodeProactiveCommand({ ...menu, items: [{ id: 0, text: 'a' }] }))).toBe(
      'PROTOCOL_BAD_VALUE item.id@-1',
    );
    expect(codeOf(() => encodeProactiveCommand({ ...menu, kind: 'launch' as 'setUpMenu' }))).toBe(
      'PROTOCOL_BAD_VALUE kind@-1',
    );
    expect(codeOf(() => encodeProactiveCommand({ ...menu, crFlipped: [9] }))).toBe(
      'PROTOCOL_BAD_VALUE crFlipped@-1',
    );
    expect(
      codeOf(() =>
        encodeProactiveCommand({
          kind: 'refresh',
          commandNumber: 1,
          qualifier: 1,
          files: [fromHex('7fff6f07')],
        }),
      ),
    ).toBe('PROTOCOL_BAD_VALUE files@-1');
    expect(
      codeOf(() =>
        encodeProactiveCommand({ kind: 'selectItem', commandNumber: 1, qualifier: 0, items: [] }),
      ),
    ).toBe('PROTOCOL_MISSING_FIELD items@-1');
  });
});

describe('envelopes', () => {
  it('MENU SELECTION of the reference: D3 07 82 02 01 81 90 01 02', () => {
    const env: Envelope = { kind: 'menuSelection', itemId: 2 };
    expect(decodeEnvelope(fromHex('d30782020181900102'))).toEqual(env);
    expect(toHex(encodeEnvelope(env))).toBe('d30782020181900102');
    expect(toHex(encodeEnvelopeApdu(env))).toBe('80c2000009d30782020181900102');
    expect(decodeEnvelopeApdu(fromHex('80c2000009d30782020181900102'))).toEqual(env);
    expect(toHex(encodeEnvelope({ kind: 'menuSelection', itemId: 5, helpRequested: true }))).toBe(
      'd3098202018190010595' + '00',
    );
  });
  it('SMS-PP download envelopes of TS 31.124 27.22.5 (3.1.1 and 3.1.5)', () => {
    const e311 =
      'd12d8202838106099111223344556677f88b1c04049121437f16891010000000000d546573744d6573736167652031';
    const v311 = decodeEnvelope(fromHex(e311));
    expect(v311).toEqual({
      kind: 'smsPpDownload',
      address: ADDRESS,
      tpdu: fromHex('04049121437f16891010000000000d546573744d6573736167652031'),
    });
    expect(toHex(encodeEnvelope(v311))).toBe(e311);
    const e315 =
      'd13e8202838106099111223344556677f88b2d44049121437ff6891010000000001e0270000019000d00000000bfff00000000000100dcdcdcdcdcdcdcdcdcdc';
    expect(toHex(encodeEnvelope(decodeEnvelope(fromHex(e315))))).toBe(e315);
  });
  it('the reference form without an address', () => {
    const env: Envelope = { kind: 'smsPpDownload', tpdu: fromHex('0400') };
    expect(toHex(encodeEnvelope(env))).toBe('d108820283818b020400');
  });
  it('rejects wrong devices, unknown envelopes and bad APDUs', () => {
    expect(codeOf(() => decodeEnvelope(fromHex('d30782020281900102')))).toBe(
      'PROTOCOL_BAD_VALUE deviceIdentities.source@4',
    );
    expect(codeOf(() => decodeEnvelope(fromHex('d60782020181900102')))).toBe(
      'PROTOCOL_UNKNOWN_TAG tag@0',
    );
    expect(codeOf(() => decodeEnvelope(fromHex('d30782020181900100')))).toBe(
      'PROTOCOL_BAD_VALUE itemId@8',
    );
    expect(
      codeOf(() => decodeEnvelopeApdu(fromHex('80c2000009d30782020181900102 00'.replace(' ', '')))),
    ).toBe('PROTOCOL_BAD_LENGTH Lc@4');
    expect(codeOf(() => decodeEnvelopeApdu(fromHex('80c2000009d30782020281900102')))).toBe(
      'PROTOCOL_BAD_VALUE deviceIdentities.source@9',
    );
    expect(
      codeOf(() => decodeEnvelopeApdu(fromHex('80140000 09 d30782020181900102'.replace(/ /g, '')))),
    ).toBe('PROTOCOL_BAD_VALUE INS@1');
  });
});

describe('FETCH and TERMINAL RESPONSE', () => {
  it('TERMINAL RESPONSE of the reference', () => {
    const hex = '801400000f810301240082028281830100900102';
    const tr: TerminalResponse = {
      commandNumber: 1,
      commandType: 0x24,
      qualifier: 0,
      result: { general: 0 },
      itemId: 2,
    };
    expect(decodeTerminalResponseApdu(fromHex(hex))).toEqual(tr);
    expect(toHex(encodeTerminalResponseApdu(tr))).toBe(hex);
    expect(decodeTerminalResponse(fromHex(hex.slice(10)))).toEqual(tr);
  });
  it('results with additional information', () => {
    const tr: TerminalResponse = {
      commandNumber: 3,
      commandType: 0x13,
      qualifier: 0,
      result: { general: 0x20, additional: fromHex('01') },
    };
    expect(toHex(encodeTerminalResponse(tr))).toBe('8103031300820282818302' + '2001');
    expect(decodeTerminalResponse(encodeTerminalResponse(tr))).toEqual(tr);
  });
  it('TS 102 223 §8.12.2: general result 20 carries its cause byte; decode takes one without it', () => {
    const unable = (additional?: Uint8Array): TerminalResponse => ({
      commandNumber: 1,
      commandType: 0x24,
      qualifier: 0,
      result: additional === undefined ? { general: 0x20 } : { general: 0x20, additional },
    });
    // §8.12: "it is mandatory for the terminal to provide a specific cause value as additional
    // information" for result 20; §8.12.2 cause 00 is "no specific cause can be given".
    expect(toHex(encodeTerminalResponse(unable()))).toBe('810301240082028281' + '83022000');
    expect(toHex(encodeTerminalResponse(unable(new Uint8Array(0))))).toBe(
      '810301240082028281' + '83022000',
    );
    expect(toHex(encodeTerminalResponse(unable(fromHex('01'))))).toBe(
      '810301240082028281' + '83022001', // 01: screen is busy
    );
    expect(decodeTerminalResponse(fromHex('81030124008202828183022002'))).toEqual(
      unable(fromHex('02')), // 02: terminal currently busy on call
    );
    // Without the cause: accepted, `additional` absent (the terminal gave none); re-encoding
    // writes the 00 the standard asks for.
    const bare = decodeTerminalResponse(fromHex('810301240082028281830120'));
    expect(bare).toEqual(unable());
    expect(toHex(encodeTerminalResponse(bare))).toBe('810301240082028281' + '83022000');
    // Other results have no mandatory cause: nothing is added.
    expect(toHex(encodeTerminalResponse({ ...unable(), result: { general: 0x10 } }))).toBe(
      '810301240082028281' + '830110',
    );
  });
  it('FETCH', () => {
    expect(toHex(encodeFetchApdu(0x1b))).toBe('801200001b');
    expect(toHex(encodeFetchApdu(256))).toBe('8012000000');
    expect(decodeFetchApdu(fromHex('8012000000'))).toBe(256);
    expect(codeOf(() => decodeFetchApdu(fromHex('80120000')))).toBe('PROTOCOL_BAD_LENGTH Le@4');
    expect(codeOf(() => encodeFetchApdu(0))).toBe('PROTOCOL_BAD_VALUE Le@-1');
  });
  it('rejects a missing result and wrong devices', () => {
    expect(codeOf(() => decodeTerminalResponse(fromHex('810301240082028281')))).toBe(
      'PROTOCOL_MISSING_FIELD result@9',
    );
    expect(
      codeOf(() => decodeTerminalResponseApdu(fromHex('801400000f810301240082028182830100900102'))),
    ).toBe('PROTOCOL_BAD_VALUE deviceIdentities.source@12');
  });
});

describe('addresses', () => {
  it('BCD with F filler', () => {
    expect(toHex(encodeAddress({ tonNpi: 0x91, digits: '8613800100500' }))).toBe(
      '91683108100005f0',
    );
    expect(decodeAddress(fromHex('91683108100005f0'))).toEqual({
      tonNpi: 0x91,
      digits: '8613800100500',
    });
    expect(decodeAddress(fromHex('81ba'))).toEqual({ tonNpi: 0x81, digits: '*#' });
  });
  it('rejects a filler inside, an E digit and a TON/NPI without bit 8', () => {
    expect(codeOf(() => decodeAddress(fromHex('91f112')))).toBe(
      'PROTOCOL_BAD_VALUE address.digits@1',
    );
    expect(codeOf(() => decodeAddress(fromHex('911e')))).toBe(
      'PROTOCOL_BAD_VALUE address.digits@1',
    );
    expect(codeOf(() => decodeAddress(fromHex('1112')))).toBe(
      'PROTOCOL_BAD_VALUE address.tonNpi@0',
    );
  });
});

// Generators for the property tests.
const gsmText = fc.string({
  unit: fc.constantFrom(...Array.from('ABCxyz 0123+-€[]@')),
  maxLength: 12,
});
const anyText = fc.string({
  unit: fc.constantFrom(...Array.from('Ab 1绑定存储卡解除€ЗД')),
  maxLength: 10,
});
const alphaArb = fc.oneof(
  gsmText.map((text) => ({ text, coding: 'gsm' as const })),
  anyText.map((text) => ({ text, coding: 'ucs2' as const })),
);
const itemArb = fc
  .tuple(fc.integer({ min: 1, max: 255 }), alphaArb)
  .map(([id, a]): MenuItem => ({ id, text: a.text, coding: a.coding }));
const header = {
  commandNumber: fc.integer({ min: 1, max: 254 }),
  qualifier: fc.integer({ min: 0, max: 255 }),
};
const iconArb = fc.record({
  selfExplanatory: fc.boolean(),
  record: fc.integer({ min: 0, max: 255 }),
});
const addressArb = fc.record({
  tonNpi: fc.integer({ min: 0x80, max: 0xff }),
  digits: fc.string({ unit: fc.constantFrom(...Array.from('0123456789*#p?')), maxLength: 20 }),
});

const proactiveArb: fc.Arbitrary<ProactiveCommand> = fc.oneof(
  fc.record(
    {
      kind: fc.constant('refresh' as const),
      ...header,
      files: fc.array(
        fc
          .array(
            fc.integer({ min: 0x0001, max: 0xfffe }).filter((id) => id !== 0x3f00),
            { minLength: 1, maxLength: 3 },
          )
          .map((ids) => {
            const out = new Uint8Array(2 + ids.length * 2);
            out.set([0x3f, 0x00]);
            ids.forEach((id, i) => {
              out.set([id >> 8, id & 0xff], 2 + i * 2);
            });
            return out;
          }),
        { maxLength: 4 },
      ),
      aid: fc.uint8Array({ minLength: 5, maxLength: 16 }),
    },
    { requiredKeys: ['kind', 'commandNumber', 'qualifier'] },
  ),
  fc
    .record(
      {
        kind: fc.constant('sendShortMessage' as const),
        ...header,
        alpha: alphaArb,
        address: addressArb,
        tpdu: fc.uint8Array({ maxLength: 100 }),
        icon: iconArb,
      },
      { requiredKeys: ['kind', 'commandNumber', 'qualifier', 'tpdu'] },
    )
    .map(({ alpha, ...rest }) =>
      alpha ? { ...rest, alpha: alpha.text, alphaCoding: alpha.coding } : rest,
    ),
  fc.record(
    {
      kind: fc.constant('displayText' as const),
      ...header,
      text: fc.oneof(
        gsmText.map((text) => ({ dcs: 0 as const, text })),
        gsmText.map((text) => ({ dcs: 4 as const, text })),
        anyText.map((text) => ({ dcs: 8 as const, text })),
      ),
      icon: iconArb,
      immediateResponse: fc.constant(true as const),
      duration: fc.record({
        unit: fc.constantFrom('minutes' as const, 'seconds' as const, 'tenths' as const),
        interval: fc.integer({ min: 1, max: 255 }),
      }),
    },
    { requiredKeys: ['kind', 'commandNumber', 'qualifier', 'text'] },
  ),
  fc
    .record(
      {
        kind: fc.constant('selectItem' as const),
        ...header,
        title: alphaArb,
        items: fc.array(itemArb, { minLength: 1, maxLength: 5 }),
        defaultItem: fc.integer({ min: 1, max: 255 }),
        icon: iconArb,
      },
      { requiredKeys: ['kind', 'commandNumber', 'qualifier', 'items'] },
    )
    .map(({ title, ...rest }) =>
      title ? { ...rest, title: title.text, titleCoding: title.coding } : rest,
    ),
  fc
    .record(
      {
        kind: fc.constant('setUpMenu' as const),
        ...header,
        title: alphaArb,
        items: fc.array(itemArb, { maxLength: 5 }),
        icon: iconArb,
      },
      { requiredKeys: ['kind', 'commandNumber', 'qualifier', 'title', 'items'] },
    )
    .map(({ title, ...rest }) => ({ ...rest, title: title.text, titleCoding: title.coding })),
);

// Every position but the command details may have its CR flag cleared.
function withFlips(cmd: ProactiveCommand, flips: number[]): ProactiveCommand {
  const count = decodeProactiveCommandObjects(encodeProactiveCommand(cmd));
  const positions = [...new Set(flips.map((f) => f % count))].sort((a, b) => a - b);
  return positions.length ? { ...cmd, crFlipped: positions } : cmd;
}
function decodeProactiveCommandObjects(bytes: Uint8Array): number {
  let n = 0;
  const start = bytes[1] === 0x81 ? 3 : 2;
  for (let i = start; i < bytes.length; n++)
    i += 2 + (bytes[i + 1] === 0x81 ? 1 + bytes[i + 2]! : bytes[i + 1]!);
  return n;
}

describe('toolkit properties', () => {
  it('proactive commands: value -> bytes -> value (CR flags included)', () => {
    fc.assert(
      fc.property(proactiveArb, fc.array(fc.nat(), { maxLength: 3 }), (cmd, flips) => {
        let bytes: Uint8Array;
        try {
          bytes = encodeProactiveCommand(cmd);
        } catch (e) {
          // Only an over-long command may be refused.
          expect((e as ProtocolError).code).toBe('PROTOCOL_BAD_LENGTH');
          return;
        }
        expect(decodeProactiveCommand(bytes)).toEqual(cmd);
        const flipped = withFlips(cmd, flips);
        expect(decodeProactiveCommand(encodeProactiveCommand(flipped))).toEqual(flipped);
      }),
      { numRuns: 800 },
    );
  });
  it('envelopes and terminal responses: value -> bytes -> value', () => {
    const envArb: fc.Arbitrary<Envelope> = fc.oneof(
      fc.record(
        {
          kind: fc.constant('menuSelection' as const),
          itemId: fc.integer({ min: 1, max: 255 }),
          helpRequested: fc.constant(true as const),
        },
        { requiredKeys: ['kind', 'itemId'] },
      ),
      fc.record(
        {
          kind: fc.constant('smsPpDownload' as const),
          address: addressArb,
          tpdu: fc.uint8Array({ maxLength: 200 }),
        },
        { requiredKeys: ['kind', 'tpdu'] },
      ),
    );
    fc.assert(
      fc.property(envArb, (env) => {
        expect(decodeEnvelopeApdu(encodeEnvelopeApdu(env))).toEqual(env);
      }),
      { numRuns: 500 },
    );
    const trArb: fc.Arbitrary<TerminalResponse> = fc.record(
      {
        commandNumber: fc.integer({ min: 1, max: 254 }),
        commandType: fc.integer({ min: 0, max: 255 }),
        qualifier: fc.integer({ min: 0, max: 255 }),
        result: fc.record(
          {
            general: fc.integer({ min: 0, max: 255 }),
            additional: fc.uint8Array({ minLength: 1, maxLength: 4 }),
          },
          { requiredKeys: ['general'] },
        ),
        itemId: fc.integer({ min: 1, max: 255 }),
      },
      { requiredKeys: ['commandNumber', 'commandType', 'qualifier', 'result'] },
    );
    fc.assert(
      fc.property(trArb, (tr) => {
        const back = decodeTerminalResponseApdu(encodeTerminalResponseApdu(tr));
        // A result 20 without its cause comes back with cause 00 (TS 102 223 §8.12.2).
        if (tr.result.general === 0x20 && tr.result.additional === undefined)
          expect(back).toEqual({ ...tr, result: { general: 0x20, additional: fromHex('00') } });
        else expect(back).toEqual(tr);
      }),
      { numRuns: 500 },
    );
  });
  it('bytes -> value -> bytes for every accepted mutation of the known answers', () => {
    const seeds = PROACTIVE.map(([, hex]) => fromHex(hex));
    let accepted = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...seeds),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        (seed, at, byte) => {
          const b = seed.slice();
          b[at % b.length] = byte;
          let cmd: ProactiveCommand;
          try {
            cmd = decodeProactiveCommand(b);
          } catch (e) {
            expect(e).toBeInstanceOf(ProtocolError);
            return;
          }
          accepted++;
          const again = encodeProactiveCommand(cmd);
          if (toHex(again) !== toHex(b)) {
            // Only unknown objects with CR clear may be lost (TS 102 223 6.10 says skip them),
            // and a GSM escape to a code without an extension character, which decodes as the
            // main-table character (TS 23.038 §6.2.1.1), re-encodes without its escape.
            expect(again.length).toBeLessThanOrEqual(b.length);
            expect(decodeProactiveCommand(again)).toEqual(cmd);
          }
        },
      ),
      { numRuns: 3000 },
    );
    expect(accepted).toBeGreaterThan(100);
  });
  it('fuzz: only ProtocolErrors', () => {
    const seeds = PROACTIVE.map(([, hex]) => fromHex(hex));
    expect(
      fuzzDecoder(decodeProactiveCommand, seeds, { iterations: 20_000, seed: 51 }).accepted,
    ).toBeGreaterThan(0);
    const envSeeds = [
      'd30782020181900102',
      'd12d8202838106099111223344556677f88b1c04049121437f16891010000000000d546573744d6573736167652031',
    ].map((h) => fromHex(h));
    expect(
      fuzzDecoder(decodeEnvelope, envSeeds, { iterations: 10_000, seed: 52 }).accepted,
    ).toBeGreaterThan(0);
    const trSeeds = [
      fromHex('801400000f810301240082028281830100900102'),
      fromHex('80c2000009d30782020181900102'),
      fromHex('801200001b'),
    ];
    expect(
      fuzzDecoder(decodeTerminalResponseApdu, trSeeds, { iterations: 5_000, seed: 53 }).accepted,
    ).toBeGreaterThan(0);
    expect(
      fuzzDecoder(decodeEnvelopeApdu, trSeeds, { iterations: 5_000, seed: 54 }).accepted,
    ).toBeGreaterThan(0);
    expect(
      fuzzDecoder(decodeFetchApdu, trSeeds, { iterations: 2_000, seed: 55 }).accepted,
    ).toBeGreaterThan(0);
  });
});
