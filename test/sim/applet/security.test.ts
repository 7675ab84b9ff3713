// A forged, replayed, stale or under-protected secured packet changes nothing and gets the
// right PoR status (TS 31.115 / TS 102 225).
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../src/bytes.js';
import { encodeMessage, type SimvaultMessage } from '../../../src/protocol/messages.js';
import {
  decodeSpi,
  openResponsePacket,
  type PorStatus,
} from '../../../src/protocol/secured-packet.js';
import { type SimState } from '../../../src/sim/index.js';
import { otaKeysOfState } from '../../../src/sim/applet/ota-link.js';
import { simStateToJSON } from '../../../src/sim/applet/state-json.js';
import { cidOf, FakeOta, freshState, selectedSim, smsUserData } from './helpers.js';

const UPDATE: Extract<SimvaultMessage, { type: 'stkListUpdate' }> = {
  type: 'stkListUpdate',
  transactionId: 1,
  listVersion: 1,
  cards: [{ cid: cidOf(1), applications: [] }],
};
// PoR always with a CC, returned in the DELIVER-REPORT, so the PoR is the ENVELOPE's data.
const SPI_DR = decodeSpi(fromHex('1609'));

/** The state without the volatile toolkit session: what a refused packet must not change. */
function durable(state: SimState): string {
  const j = simStateToJSON(state);
  delete j['proactive'];
  delete j['commandNumber'];
  return JSON.stringify(j);
}

async function setup() {
  const state = freshState();
  const { card, client } = await selectedSim(state);
  const ota = new FakeOta(state, SPI_DR);
  return { card, client, ota };
}

async function refused(packet: Uint8Array, expected: PorStatus, secured = false) {
  const { card, client, ota } = await setup();
  // One good packet first, so the counter is 1.
  await client.smsPpDownload(
    ota.tpdus(ota.packet(encodeMessage({ ...UPDATE, listVersion: 1 })))[0]!,
  );
  const before = durable(card.state);
  const rsp = await client.smsPpDownload(ota.tpdus(packet)[0]!);
  expect(rsp.sw).toBe(0x6200);
  const spi = secured ? SPI_DR : { ...SPI_DR, porIntegrity: 'none' as const };
  const por = openResponsePacket(rsp.data, otaKeysOfState(card.state), {
    spi,
    kic: ota.indicator,
    kid: ota.indicator,
  });
  expect(por.status).toBe(expected);
  expect(durable(card.state)).toBe(before);
  return { por, card };
}

describe('refused secured packets', () => {
  it('forged (checksum does not verify): checksum-failed, unsecured PoR', async () => {
    const { ota } = await setup();
    const packet = ota.packet(encodeMessage({ ...UPDATE, listVersion: 9 }), { counter: 2 });
    packet[packet.length - 1]! ^= 0x01;
    // Ciphered: a flipped bit garbles the last block, so the CC fails.
    await refused(packet, 'checksum-failed');
  });

  it('forged with another key: checksum-failed', async () => {
    const other = new FakeOta(
      freshState({ randomBytes: (n) => new Uint8Array(n).fill(9) }),
      SPI_DR,
    );
    const packet = other.packet(encodeMessage({ ...UPDATE, listVersion: 9 }), { counter: 2 });
    await refused(packet, 'checksum-failed');
  });

  it('replayed (same counter): counter-low, secured PoR carrying the SIM counter', async () => {
    const { ota } = await setup();
    const { por } = await refused(
      ota.packet(encodeMessage({ ...UPDATE, listVersion: 9 }), { counter: 1 }),
      'counter-low',
      true,
    );
    expect(toHex(por.data)).toBe('0000000001');
  });

  it('stale (older counter): counter-low', async () => {
    const { ota } = await setup();
    await refused(
      ota.packet(encodeMessage({ ...UPDATE, listVersion: 9 }), { counter: 0 }),
      'counter-low',
      true,
    );
  });

  it('under the minimum security level (not ciphered): insufficient-security-level', async () => {
    const { ota } = await setup();
    const packet = ota.packet(encodeMessage({ ...UPDATE, listVersion: 9 }), {
      counter: 2,
      spi: { ...SPI_DR, ciphered: false },
    });
    await refused(packet, 'insufficient-security-level');
  });

  it('without counter check: insufficient-security-level', async () => {
    const { ota } = await setup();
    const packet = ota.packet(encodeMessage({ ...UPDATE, listVersion: 9 }), {
      counter: 2,
      spi: { ...SPI_DR, counter: 'none' },
    });
    await refused(packet, 'insufficient-security-level');
  });

  it('another TAR: tar-unknown', async () => {
    const { ota } = await setup();
    await refused(
      ota.packet(encodeMessage({ ...UPDATE, listVersion: 9 }), {
        counter: 2,
        tar: fromHex('b0ffff'),
      }),
      'tar-unknown',
    );
  });

  it('a packet whose header cannot be read gets 6200 without data and changes nothing', async () => {
    const { card, client, ota } = await setup();
    const before = durable(card.state);
    const rsp = await client.smsPpDownload(ota.tpdus(fromHex('0001ff'))[0]!);
    expect(rsp).toMatchObject({ sw: 0x6200 });
    expect(rsp.data).toHaveLength(0);
    expect(durable(card.state)).toBe(before);
  });

  it('the PoR of a refusal goes by SMS-SUBMIT when the SPI asks so', async () => {
    const state = freshState();
    const { card, client } = await selectedSim(state);
    const ota = new FakeOta(state);
    const before = durable(card.state);
    const packet = ota.packet(encodeMessage(UPDATE), { counter: 0 });
    const rsp = await client.smsPpDownload(ota.tpdus(packet)[0]!);
    const [sms] = await client.runProactive(rsp);
    const por = openResponsePacket(smsUserData(sms!.command), otaKeysOfState(card.state), {
      spi: ota.spi,
      kic: ota.indicator,
      kid: ota.indicator,
    });
    expect(por.status).toBe('counter-low');
    expect(durable(card.state)).toBe(before);
  });

  it('the counter advances only on a verified packet: a forged packet does not burn counter 2', async () => {
    const { card, client, ota } = await setup();
    const forged = ota.packet(encodeMessage(UPDATE), { counter: 2 });
    forged[forged.length - 1]! ^= 1;
    await client.smsPpDownload(ota.tpdus(forged)[0]!);
    expect(card.state.mtCounters[1]).toBe(0);
    const good = await client.smsPpDownload(
      ota.tpdus(ota.packet(encodeMessage(UPDATE), { counter: 2 }))[0]!,
    );
    expect(good.sw >> 8).toBe(0x91);
    expect(card.state.mtCounters[1]).toBe(2);
    expect(card.state.cards).toHaveLength(1);
  });

  it('a verified packet whose data is not a simvault message spends its counter and answers 6A80 in the PoR', async () => {
    const { card, client, ota } = await setup();
    const rsp = await client.smsPpDownload(ota.tpdus(ota.packet(fromHex('deadbeef')))[0]!);
    expect(rsp.sw).toBe(0x9000);
    const por = openResponsePacket(rsp.data, otaKeysOfState(card.state), {
      spi: SPI_DR,
      kic: ota.indicator,
      kid: ota.indicator,
    });
    expect(toHex(por.data)).toBe('016a80');
    expect(card.state.mtCounters[1]).toBe(1);
  });

  it('a message the OTA server may not send (a bind request) is refused at the message level', async () => {
    const { card, client, ota } = await setup();
    const rsp = await client.smsPpDownload(
      ota.tpdus(
        ota.packet(
          encodeMessage({
            type: 'bindRequest',
            transactionId: 1,
            cid: cidOf(1),
            iccid: '89860012345678901234',
          }),
        ),
      )[0]!,
    );
    const por = openResponsePacket(rsp.data, otaKeysOfState(card.state), {
      spi: SPI_DR,
      kic: ota.indicator,
      kid: ota.indicator,
    });
    expect(toHex(por.data)).toBe('016a80');
    expect(card.state.cards).toHaveLength(0);
  });
});
