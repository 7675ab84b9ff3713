// Random and mutated APDUs never crash the applet: every answer is a well-formed response APDU,
// and the state always stays loadable.
import { describe, expect, it } from 'vitest';
import { fromHex } from '../../../src/bytes.js';
import { decodeResponseApdu } from '../../../src/protocol/apdu.js';
import { encodeMessage } from '../../../src/protocol/messages.js';
import { encodeEnvelopeApdu } from '../../../src/protocol/toolkit-envelope.js';
import { decodeSimState, encodeSimState, SimCard } from '../../../src/sim/index.js';
import { storeBinding } from '../../../src/sim/applet/binding-list.js';
import { mutate, prng } from '../../protocol/fuzz-util.js';
import { cidOf, FakeOta, freshState } from './helpers.js';

function seeds(ota: FakeOta): Uint8Array[] {
  const cid = '03534453553031478000000001016300';
  const envelope = (message: Parameters<typeof encodeMessage>[0]) =>
    encodeEnvelopeApdu({
      kind: 'smsPpDownload',
      tpdu: ota.tpdus(ota.packet(encodeMessage(message)))[0]!,
    });
  return [
    fromHex('00a4040009f073696d7661756c74'),
    fromHex(`8030020010${cid}`),
    fromHex(`8030010010${cid}`),
    fromHex(`8032000010${cid}00`),
    fromHex(`8034010015${cid}040000002a`),
    fromHex(`8034000010${cid}00`),
    fromHex('8010000004ffffffff'),
    fromHex('8012000017'),
    fromHex('801400000f810301240082028281830100900101'),
    fromHex('80c2000009d30782020181900101'),
    fromHex('8038000000'),
    envelope({
      type: 'stkListUpdate',
      transactionId: 1,
      listVersion: 5,
      cards: [{ cid: cidOf(2), applications: [] }],
    }),
    envelope({
      type: 'bindResponse',
      transactionId: 1,
      cid: cidOf(1),
      result: 'ok',
      applications: [],
    }),
    envelope({ type: 'unbindResponse', transactionId: 1, cid: cidOf(1), result: 'ok' }),
    fromHex(
      '8036000027' +
        '010700000001' +
        '20' +
        '811003534453553031478000000001016300' +
        '8507a0000000871001' +
        '8901' +
        '00',
    ),
  ];
}

describe('applet fuzzing', () => {
  it('answers every random or mutated APDU with a well-formed response and keeps a loadable state', async () => {
    const state = freshState({ maxCards: 2, policy: 'ask' });
    storeBinding(state, cidOf(1), [
      {
        aid: fromHex('a0000000871001'),
        name: '电视',
        zone: 'multimedia',
        size: 10,
        version: '1',
        state: 'active',
        installed: true,
      },
    ]);
    const ota = new FakeOta(state);
    const all = seeds(ota);
    const card = new SimCard(state);
    const next = prng(7);
    const sws = new Map<number, number>();
    for (let i = 0; i < 20_000; i++) {
      const input =
        i % 3 === 0
          ? new Uint8Array(next() % 64).map(() => next() & 0xff)
          : i % 3 === 1
            ? mutate(all[next() % all.length]!, next)
            : all[next() % all.length]!;
      const rsp = await card.transmit(input);
      const { sw } = decodeResponseApdu(rsp);
      expect(sw >> 12 === 6 || sw >> 12 === 9).toBe(true);
      sws.set(sw, (sws.get(sw) ?? 0) + 1);
      if (i % 1000 === 0) decodeSimState(encodeSimState(card.state));
    }
    const final = decodeSimState(encodeSimState(card.state));
    expect(final.iccid).toBe(state.iccid);
    // The fuzzer reached both the success paths and the error paths.
    expect(sws.get(0x9000)).toBeGreaterThan(0);
    for (const sw of [0x6700, 0x6a80, 0x6a86, 0x6d00, 0x6e00])
      expect(sws.get(sw) ?? 0).toBeGreaterThan(0);
  });

  it('a commit hook that fails leaves the state unchanged and answers 6F00', async () => {
    const state = freshState();
    let fail = true;
    const card = new SimCard(state, {
      commit: () => {
        if (fail) throw new Error('EEPROM write failed');
      },
    });
    await card.transmit(fromHex('00a4040c09f073696d7661756c74'));
    const rsp = await card.transmit(fromHex('8030020010035344535530314780000000010163' + '00'));
    expect(decodeResponseApdu(rsp).sw).toBe(0x6f00);
    expect(card.state.pending).toHaveLength(0);
    expect(card.state.moCounters[1]).toBe(0);
    fail = false;
    const ok = await card.transmit(fromHex('8030020010035344535530314780000000010163' + '00'));
    expect(decodeResponseApdu(ok).sw >> 8).toBe(0x91);
    expect(card.state.pending).toHaveLength(1);
  });
});
