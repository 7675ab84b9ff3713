// The typed SIM → handset contract, through APDUs only: LAST OUTCOME of binds and unbinds, MENU
// PATH through paged menus and fixed sub-menu identifiers, GET APPLICATIONS, "not bound" as
// SIM_CARD_NOT_BOUND, and offline binding for development.
import { describe, expect, it } from 'vitest';
import { fromHex } from '../../../src/bytes.js';
import type { ResultCode } from '../../../src/protocol/messages.js';
import { MENU_ITEM, SW } from '../../../src/sim/applet/apdu-table.js';
import {
  decodeSimState,
  encodeSimState,
  simStateToJSON,
} from '../../../src/sim/applet/state-json.js';
import { SimCard, SimClient, type SimResponse, type SimState } from '../../../src/sim/index.js';
import { cidOf, FakeOta, freshState, openMo, selectedSim, TV } from './helpers.js';

async function setup(options: Parameters<typeof freshState>[0] = {}) {
  const state = freshState(options);
  const { card, client } = await selectedSim(state);
  return { card, client, ota: new FakeOta(state) };
}

/** CARD INSERTED (bind now), then the server's answer with `result`. */
async function bindWith(
  s: Awaited<ReturnType<typeof setup>>,
  cid: Uint8Array,
  result: ResultCode,
): Promise<{ transactionId: number; response: SimResponse }> {
  const r = await s.client.cardInserted(cid, 'bindNow');
  const [sms] = await s.client.runProactive(r.response);
  const { message } = openMo(s.card.state, sms!.command);
  const response = await s.ota.send(s.client, {
    type: 'bindResponse',
    transactionId: message.transactionId,
    cid,
    result,
    applications: result === 'ok' ? [TV] : [],
  });
  return { transactionId: message.transactionId, response };
}

describe('LAST OUTCOME', () => {
  it('is the server result of a refused bind, with its transaction; a new attempt clears it', async () => {
    const s = await setup();
    expect(await s.client.lastOutcome('bind', cidOf(1))).toBeUndefined();
    const { transactionId, response } = await bindWith(s, cidOf(1), 'alreadyBound');
    await s.client.runProactive(response);
    expect(await s.client.lastOutcome('bind', cidOf(1))).toEqual({
      result: 'alreadyBound',
      transactionId,
    });
    await s.client.runProactive((await s.client.cardInserted(cidOf(1), 'bindNow')).response);
    expect(await s.client.lastOutcome('bind', cidOf(1))).toBeUndefined();
  });

  it('is ok for a stored bind, declined for "Not now", and thresholdReached when not kept', async () => {
    const s = await setup({ maxBytes: 1000 });
    const r = await s.client.cardInserted(cidOf(2), 'askUser');
    await s.client.runProactive(r.response, (c) =>
      c.kind === 'selectItem' ? { general: 0, itemId: MENU_ITEM.notNow } : undefined,
    );
    expect(await s.client.lastOutcome('bind', cidOf(2))).toEqual({
      result: 'declined',
      transactionId: 0,
    });
    // The TV application (4000 bytes) can never fit 1000 bytes: the SIM does not keep the card.
    const { response } = await bindWith(s, cidOf(2), 'ok');
    // The envelope succeeds (the PoR inside says 6A84): an unbind request and a notice are pending.
    expect(response.sw >> 8).toBe(0x91);
    await s.client.runProactive(response);
    expect((await s.client.lastOutcome('bind', cidOf(2)))?.result).toBe('thresholdReached');
  });

  it('records a refused unbind; the card stays bound', async () => {
    const s = await setup();
    await s.client.runProactive((await bindWith(s, cidOf(3), 'ok')).response);
    await s.client.runProactive(await s.client.terminalProfile());
    const path = (await s.client.menuPath('unbind', cidOf(3)))!;
    const cmds = await s.client.runProactive(await s.client.menuSelection(path[0]!), (c) =>
      c.kind === 'selectItem' ? { general: 0, itemId: path[1]! } : undefined,
    );
    const { message } = openMo(s.card.state, cmds.at(-1)!.command);
    expect(message.type).toBe('unbindRequest');
    await s.client.runProactive(
      await s.ota.send(s.client, {
        type: 'unbindResponse',
        transactionId: message.transactionId,
        cid: cidOf(3),
        result: 'unknownCard',
      }),
    );
    expect((await s.client.lastOutcome('unbind', cidOf(3)))?.result).toBe('unknownCard');
    expect((await s.client.cardInserted(cidOf(3))).status).toBe('bound');
  });

  it('answers bad requests with status words', async () => {
    const s = await setup();
    const raw = async (hex: string) => (await s.client.send(fromHex(hex))).sw;
    expect(await raw('803e0300100353445355303147800000000101630005')).toBe(SW.wrongP1P2);
    expect(await raw('803e01000f03534453553031478000000001016305')).toBe(SW.wrongLength);
    expect(await raw('803c0400100353445355303147800000000101630000')).toBe(SW.wrongP1P2);
    expect(await raw('803c0100100353445355303147800000000101630000')).toBe(SW.wrongLength);
    expect(await raw('803c0300150353445355303147800000000101630001020304050000')).toBe(
      SW.wrongLength,
    );
    expect(await raw('803a0001100353445355303147800000000101630000')).toBe(SW.wrongP1P2);
    expect(await raw('803a00000f03534453553031478000000001016300')).toBe(SW.wrongLength);
  });
});

describe('MENU PATH and the fixed item identifiers', () => {
  it('leads through "More..." pages (item FF) to an application on a later page', async () => {
    const s = await setup();
    const apps = Array.from({ length: 14 }, (_, i) => ({
      aid: fromHex(`a00000008720${(i + 16).toString(16)}`),
      name: `应用程序名称第${i}号`,
      zone: 'user' as const,
      state: 'active' as const,
    }));
    await s.client.runProactive(
      await s.ota.send(s.client, {
        type: 'stkListUpdate',
        transactionId: 1,
        listVersion: 1,
        cards: [{ cid: cidOf(1), applications: apps }],
      }),
    );
    const last = apps.at(-1)!;
    const path = (await s.client.menuPath('launch', cidOf(1), last.aid))!;
    expect(path.length).toBeGreaterThan(2);
    expect(path.slice(0, -2).every((id) => id === MENU_ITEM.more)).toBe(true);
    expect(path.at(-1)).toBe(MENU_ITEM.launch);
    const script = path.slice(1);
    const cmds = await s.client.runProactive(await s.client.menuSelection(path[0]!), (c) =>
      c.kind === 'selectItem' ? { general: 0, itemId: script.shift()! } : undefined,
    );
    const { message } = openMo(s.card.state, cmds.at(-1)!.command);
    expect(message).toMatchObject({ type: 'launchRequest', aid: last.aid });
    // An application that is not there, and a delete of a file not on the card, have no path.
    expect(await s.client.menuPath('launch', cidOf(1), fromHex('a0000000879999'))).toBeUndefined();
    expect(await s.client.menuPath('delete', cidOf(1), last.aid)).toBeUndefined();
    await expect(s.client.menuPath('unbind', cidOf(9))).rejects.toMatchObject({
      code: 'SIM_CARD_NOT_BOUND',
    });
  });

  it('lists the applications of a bound card; an unbound card is SIM_CARD_NOT_BOUND', async () => {
    const s = await setup();
    await s.client.runProactive((await bindWith(s, cidOf(4), 'ok')).response);
    expect(await s.client.applications(cidOf(4))).toEqual([
      { aid: TV.aid, name: TV.name, zone: 'multimedia', state: 'active', installed: false },
    ]);
    for (const call of [
      () => s.client.applications(cidOf(5)),
      () => s.client.cardKeys(cidOf(5)),
      () => s.client.readAnchors(cidOf(5)),
      () => s.client.updateAnchors(cidOf(5), { user: 2 }),
    ])
      await expect(call()).rejects.toMatchObject({ code: 'SIM_CARD_NOT_BOUND', sw: 0x6982 });
  });
});

describe('SimCard.bindOffline', () => {
  it('binds on the live SIM and commits, once; refuses what does not fit or is not a CID', async () => {
    const commits: SimState[] = [];
    const sim = new SimCard(freshState({ maxCards: 1 }), {
      commit: (state) => {
        commits.push(state);
      },
    });
    expect(await sim.bindOffline(cidOf(1), [])).toBe('new');
    expect(await sim.bindOffline(cidOf(1))).toBe('existing');
    expect(commits).toHaveLength(1);
    const client = new SimClient(sim);
    await client.select();
    expect((await client.cardInserted(cidOf(1))).status).toBe('bound');
    await expect(sim.bindOffline(cidOf(2))).rejects.toMatchObject({
      code: 'SIM_BINDING_LIST_FULL',
    });
    await expect(sim.bindOffline(new Uint8Array(15))).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    const badCrc = cidOf(3);
    badCrc[15] = 0x02;
    await expect(sim.bindOffline(badCrc)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('outcomes in the state file', () => {
  it('round-trip, and a version-1 file written before them still loads', async () => {
    const s = await setup();
    await s.client.runProactive((await bindWith(s, cidOf(6), 'cardBlocked')).response);
    const state = s.card.state;
    expect(decodeSimState(encodeSimState(state)).outcomes).toEqual(state.outcomes);
    const older = simStateToJSON(state);
    delete older['outcomes'];
    const loaded = decodeSimState(new TextEncoder().encode(JSON.stringify(older)));
    expect(loaded.outcomes).toEqual([]);
  });
});
