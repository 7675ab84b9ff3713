// Every SIM step of the patent, in isolation, through APDUs only.
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../src/bytes.js';
import { deriveCardKeys } from '../../../src/crypto/keys.js';
import { type CustomizedApplication } from '../../../src/protocol/messages.js';
import { crc7 } from '../../../src/protocol/cid.js';
import { openResponsePacket, decodeSpi } from '../../../src/protocol/secured-packet.js';
import { SimClient, SimCard, SimStatusError, type SimResponse } from '../../../src/sim/index.js';
import { otaKeysOfState } from '../../../src/sim/applet/ota-link.js';
import { MENU_ITEM } from '../../../src/sim/applet/apdu-table.js';
import {
  cidOf,
  FakeOta,
  freshState,
  openMo,
  selectedSim,
  sentMessages,
  smsUserData,
  TV,
} from './helpers.js';

const GAME: CustomizedApplication = {
  aid: fromHex('a0000000871002'),
  name: 'Games',
  zone: 'user',
  size: 1000,
  version: '2.1',
};

/** Bind a card end to end: CARD INSERTED (bind now) → bind request → bind response. */
async function bind(
  card: SimCard,
  client: SimClient,
  ota: FakeOta,
  cid: Uint8Array,
  apps: CustomizedApplication[] = [TV],
): Promise<SimResponse> {
  const r = await client.cardInserted(cid, 'bindNow');
  const [sms] = await client.runProactive(r.response);
  const { message } = openMo(card.state, sms!.command);
  expect(message.type).toBe('bindRequest');
  return ota.send(client, {
    type: 'bindResponse',
    transactionId: message.transactionId,
    cid,
    result: 'ok',
    applications: apps,
  });
}

async function setup(options: Parameters<typeof freshState>[0] = {}) {
  const state = freshState(options);
  const { card, client } = await selectedSim(state);
  const ota = new FakeOta(state);
  return { card, client, ota };
}

describe('CID lookup and bind request (303-305)', () => {
  it('an unknown card is unbound on lookup and nothing is sent', async () => {
    const { card, client } = await setup();
    const r = await client.cardInserted(cidOf(1), 'lookup');
    expect(r.status).toBe('unbound');
    expect(r.response.sw).toBe(0x9000);
    expect(card.state.proactive).toHaveLength(0);
  });

  it('bind now sends a secured bind request by SEND SHORT MESSAGE after 91xx', async () => {
    const { card, client } = await setup({ imsi: '460001234567890' });
    const r = await client.cardInserted(cidOf(1), 'bindNow');
    expect(r.status).toBe('bindPending');
    expect(r.response.sw >> 8).toBe(0x91);
    const cmds = await client.runProactive(r.response);
    expect(cmds).toHaveLength(1);
    const { packet, message } = openMo(card.state, cmds[0]!.command);
    expect(message).toMatchObject({
      type: 'bindRequest',
      iccid: '89860012345678901234',
      imsi: '460001234567890',
    });
    expect(packet.spi).toMatchObject({
      ciphered: true,
      integrity: 'cc',
      counter: 'must-be-higher',
    });
    expect(packet.counter).toBe(1n);
    // Asking again while the request is out sends nothing new.
    const again = await client.cardInserted(cidOf(1), 'bindNow');
    expect(again.status).toBe('bindPending');
    expect(again.response.sw).toBe(0x9000);
  });

  it('ask-user mode prompts with SELECT ITEM and binds only on "Bind"', async () => {
    const { card, client } = await setup();
    const r = await client.cardInserted(cidOf(2), 'askUser');
    // Decline first.
    const declined = await client.runProactive(r.response, (c) =>
      c.kind === 'selectItem' ? { general: 0, itemId: MENU_ITEM.notNow } : undefined,
    );
    expect(declined.map((c) => c.command.kind)).toEqual(['selectItem']);
    expect(card.state.pending).toHaveLength(0);
    const r2 = await client.cardInserted(cidOf(2), 'askUser');
    const cmds = await client.runProactive(r2.response);
    expect(cmds.map((c) => c.command.kind)).toEqual(['selectItem', 'sendShortMessage']);
    expect(openMo(card.state, cmds[1]!.command).message.type).toBe('bindRequest');
  });

  it('a bound card is reported bound (304) and marked used', async () => {
    const { card, client, ota } = await setup();
    await client.runProactive(await bind(card, client, ota, cidOf(3)));
    const usedBefore = card.state.cards[0]!.usedAt;
    const r = await client.cardInserted(cidOf(3));
    expect(r.status).toBe('bound');
    expect(card.state.cards[0]!.usedAt).toBeGreaterThan(usedBefore);
    // The CRC byte does not matter: the card is identified by bytes 0-14.
    const withCrc = cidOf(3);
    withCrc[15] = (crc7(withCrc.subarray(0, 15)) << 1) | 1;
    expect((await client.cardInserted(withCrc)).status).toBe('bound');
  });
});

describe('bind response (310-311)', () => {
  it('stores the card and its applications, rebuilds SET UP MENU with UCS2 names, answers a PoR', async () => {
    const { card, client, ota } = await setup();
    const rsp = await bind(card, client, ota, cidOf(1), [TV, GAME]);
    const cmds = await client.runProactive(rsp);
    expect(cmds.map((c) => c.command.kind)).toEqual([
      'setUpMenu',
      'displayText',
      'sendShortMessage',
    ]);
    const menu = cmds[0]!.command;
    if (menu.kind !== 'setUpMenu') throw new Error('menu');
    expect(menu.items.map((i) => [i.text, i.coding])).toEqual([
      ['手机电视', 'ucs2'],
      ['Games', 'gsm'],
      ['Card 00000001', 'gsm'],
    ]);
    // The PoR goes by SMS-SUBMIT (the OTA server's SPI asks so), secured, status ok, data 01 9000.
    const ud = smsUserData(cmds[2]!.command);
    const por = openResponsePacket(ud, otaKeysOfState(card.state), {
      spi: ota.spi,
      kic: ota.indicator,
      kid: ota.indicator,
      counter: 1,
    });
    expect(por.status).toBe('ok');
    expect(toHex(por.data)).toBe('019000');
    const entry = card.state.cards[0]!;
    expect(entry.bound).toBe(true);
    expect(entry.applications.map((a) => a.name)).toEqual(['手机电视', 'Games']);
    expect(card.state.mtCounters[1]).toBe(1);
  });

  it('an unsolicited bind response binds nothing and the PoR says 6A88', async () => {
    const { card, client, ota } = await setup();
    const rsp = await ota.send(client, {
      type: 'bindResponse',
      transactionId: 99,
      cid: cidOf(7),
      result: 'ok',
      applications: [TV],
    });
    const cmds = await client.runProactive(rsp);
    const por = openResponsePacket(smsUserData(cmds[0]!.command), otaKeysOfState(card.state), {
      spi: ota.spi,
      kic: ota.indicator,
      kid: ota.indicator,
    });
    expect(toHex(por.data)).toBe('016a88');
    expect(card.state.cards).toHaveLength(0);
    // The packet verified, so its counter is spent.
    expect(card.state.mtCounters[1]).toBe(1);
  });

  it('a refused bind shows a notice and stores nothing', async () => {
    const { card, client, ota } = await setup();
    const r = await client.cardInserted(cidOf(1), 'bindNow');
    const [sms] = await client.runProactive(r.response);
    const { message } = openMo(card.state, sms!.command);
    const rsp = await ota.send(client, {
      type: 'bindResponse',
      transactionId: message.transactionId,
      cid: cidOf(1),
      result: 'alreadyBound',
      applications: [],
    });
    const cmds = await client.runProactive(rsp);
    expect(cmds[0]!.command).toMatchObject({
      kind: 'displayText',
      text: { text: 'Bind refused: alreadyBound' },
    });
    expect(card.state.cards).toHaveLength(0);
    expect(card.state.pending).toHaveLength(0);
  });
});

describe('threshold and eviction policies (311)', () => {
  it('lru evicts the least recently used card and sends its unbind request', async () => {
    const { card, client, ota } = await setup({ maxCards: 2, policy: 'lru' });
    await client.runProactive(await bind(card, client, ota, cidOf(1)));
    await client.runProactive(await bind(card, client, ota, cidOf(2)));
    await client.cardInserted(cidOf(1)); // card 1 used last: card 2 is the LRU one
    const cmds = await client.runProactive(await bind(card, client, ota, cidOf(3)));
    expect(card.state.cards.map((c) => c.cid[12])).toEqual([1, 3]);
    const unbind = sentMessages(card.state, cmds);
    expect(unbind.some((m) => m.type === 'unbindRequest' && m.cid[12] === 2)).toBe(true);
  });

  it('oldest evicts the first bound card even if it was used recently', async () => {
    const { card, client, ota } = await setup({ maxCards: 2, policy: 'oldest' });
    await client.runProactive(await bind(card, client, ota, cidOf(1)));
    await client.runProactive(await bind(card, client, ota, cidOf(2)));
    await client.cardInserted(cidOf(1));
    await client.runProactive(await bind(card, client, ota, cidOf(3)));
    expect(card.state.cards.map((c) => c.cid[12])).toEqual([2, 3]);
  });

  it('capacity threshold evicts as many cards as needed; a card larger than the SIM is refused with 6A84', async () => {
    const { card, client, ota } = await setup({ maxBytes: 10_000, policy: 'oldest' });
    await client.runProactive(await bind(card, client, ota, cidOf(1), [TV])); // 4000
    await client.runProactive(await bind(card, client, ota, cidOf(2), [TV])); // 8000
    await client.runProactive(await bind(card, client, ota, cidOf(3), [TV, GAME])); // needs 5000: evict card 1
    expect(card.state.cards.map((c) => c.cid[12])).toEqual([2, 3]);
    const big = { ...TV, aid: fromHex('a0000000879999'), size: 20_000 };
    const rsp = await bind(card, client, ota, cidOf(4), [big]);
    const cmds = await client.runProactive(rsp);
    const por = cmds
      .map((c) => c.command)
      .filter((c) => c.kind === 'sendShortMessage')
      .at(-1)!;
    const opened = openResponsePacket(smsUserData(por), otaKeysOfState(card.state), {
      spi: ota.spi,
      kic: ota.indicator,
      kid: ota.indicator,
    });
    expect(toHex(opened.data)).toBe('016a84');
    expect(card.state.cards.map((c) => c.cid[12])).toEqual([2, 3]);
  });

  it('ask prompts to release a card; choosing one evicts it and stores the new card', async () => {
    const { card, client, ota } = await setup({ maxCards: 1, policy: 'ask' });
    await client.runProactive(await bind(card, client, ota, cidOf(1)));
    const rsp = await bind(card, client, ota, cidOf(2));
    expect(card.state.pendingBind?.cid[12]).toBe(2);
    const cmds = await client.runProactive(rsp); // default answer: the first item = card 1
    expect(cmds[0]!.command).toMatchObject({
      kind: 'selectItem',
      title: 'Card limit reached: release a card',
    });
    expect(card.state.cards.map((c) => c.cid[12])).toEqual([2]);
    expect(card.state.pendingBind).toBeUndefined();
  });

  it('ask: declining keeps the old card and tells the server to unbind the new one', async () => {
    const { card, client, ota } = await setup({ maxCards: 1, policy: 'ask' });
    await client.runProactive(await bind(card, client, ota, cidOf(1)));
    const rsp = await bind(card, client, ota, cidOf(2));
    const cmds = await client.runProactive(rsp, (c) =>
      c.kind === 'selectItem' ? { general: 0x10 } : undefined,
    );
    expect(card.state.cards.map((c) => c.cid[12])).toEqual([1]);
    const sent = sentMessages(card.state, cmds);
    expect(sent.some((m) => m.type === 'unbindRequest' && m.cid[12] === 2)).toBe(true);
  });
});

async function menuItems(client: SimClient) {
  const r = await client.terminalProfile();
  const [menu] = await client.runProactive(r);
  if (menu!.command.kind !== 'setUpMenu') throw new Error('no menu');
  return menu!.command.items;
}

describe('unbind (401-405)', () => {
  it('menu → card → Unbind sends the request; the response masks the card below the threshold', async () => {
    const { card, client, ota } = await setup({ maxCards: 3 });
    await client.runProactive(await bind(card, client, ota, cidOf(1), [TV]));
    const items = await menuItems(client);
    const cardItem = items.find((i) => i.text === 'Card 00000001')!;
    const cmds = await client.runProactive(await client.menuSelection(cardItem.id));
    expect(cmds.map((c) => c.command.kind)).toEqual(['selectItem', 'sendShortMessage']);
    const { message } = openMo(card.state, cmds[1]!.command);
    expect(message.type).toBe('unbindRequest');
    await client.runProactive(
      await ota.send(client, {
        type: 'unbindResponse',
        transactionId: message.transactionId,
        cid: cidOf(1),
        result: 'ok',
      }),
    );
    expect(card.state.cards[0]).toMatchObject({ bound: false });
    expect(card.state.cards[0]!.applications[0]!.state).toBe('masked');
    expect((await client.cardInserted(cidOf(1))).status).toBe('unbound');
    // Re-binding with an empty list from the server restores the masked applications.
    await client.runProactive(await bind(card, client, ota, cidOf(1), []));
    expect(card.state.cards[0]!.applications[0]).toMatchObject({
      name: '手机电视',
      state: 'active',
    });
  });

  it('at the threshold the unbound card is deleted, not masked', async () => {
    const { card, client, ota } = await setup({ maxCards: 1 });
    await client.runProactive(await bind(card, client, ota, cidOf(1)));
    const items = await menuItems(client);
    const cmds = await client.runProactive(
      await client.menuSelection(items.find((i) => i.text.startsWith('Card'))!.id),
    );
    const { message } = openMo(card.state, cmds[1]!.command);
    await client.runProactive(
      await ota.send(client, {
        type: 'unbindResponse',
        transactionId: message.transactionId,
        cid: cidOf(1),
        result: 'ok',
      }),
    );
    expect(card.state.cards).toHaveLength(0);
  });

  it('the delete rule deletes below the threshold too', async () => {
    const { card, client, ota } = await setup({ unbindRule: 'delete' });
    await client.runProactive(await bind(card, client, ota, cidOf(1)));
    const items = await menuItems(client);
    const cmds = await client.runProactive(await client.menuSelection(items.at(-1)!.id));
    const { message } = openMo(card.state, cmds[1]!.command);
    await client.runProactive(
      await ota.send(client, {
        type: 'unbindResponse',
        transactionId: message.transactionId,
        cid: cidOf(1),
        result: 'ok',
      }),
    );
    expect(card.state.cards).toHaveLength(0);
  });
});

describe('launch (501-505) and delete (601-606)', () => {
  it('launch request → resource info for the handset → launch complete → download complete', async () => {
    const { card, client, ota } = await setup();
    await client.runProactive(await bind(card, client, ota, cidOf(1), [TV]));
    const items = await menuItems(client);
    // App item → sub-menu (Launch only: not installed yet) → launch request.
    const cmds = await client.runProactive(
      await client.menuSelection(items.find((i) => i.text === '手机电视')!.id),
    );
    const sub = cmds[0]!.command;
    if (sub.kind !== 'selectItem') throw new Error('sub-menu');
    expect(sub.items.map((i) => i.text)).toEqual(['Launch']);
    const launch = openMo(card.state, cmds[1]!.command).message;
    expect(launch).toMatchObject({ type: 'launchRequest', aid: TV.aid });
    const digest = new Uint8Array(32).fill(7);
    const info = {
      type: 'downloadResourceInfo' as const,
      transactionId: launch.transactionId,
      cid: cidOf(1),
      aid: TV.aid,
      zone: 'multimedia' as const,
      resource: { url: 'https://ota.example/tv.bin', digest, size: 4000 },
    };
    await client.runProactive(await ota.send(client, info));
    const forHandset = await client.takeHandsetMessage();
    expect(forHandset).toEqual(info);
    expect(await client.takeHandsetMessage()).toBeUndefined();
    // 505: the card stored the file.
    const done = await client.launchComplete({
      type: 'launchComplete',
      transactionId: launch.transactionId,
      cid: cidOf(1),
      aid: TV.aid,
      size: 4000,
      digest,
    });
    const [notice] = await client.runProactive(done);
    expect(openMo(card.state, notice!.command).message).toMatchObject({
      type: 'downloadComplete',
      result: 'ok',
      aid: TV.aid,
    });
    expect(card.state.cards[0]!.applications[0]!.installed).toBe(true);
    // A second launch complete for the same transaction matches nothing.
    await expect(
      client.launchComplete({
        type: 'launchComplete',
        transactionId: launch.transactionId,
        cid: cidOf(1),
        aid: TV.aid,
        size: 4000,
        digest,
      }),
    ).rejects.toMatchObject({ sw: 0x6a88 });
  });

  it('a launch complete that does not match the resource reports integrityFailed', async () => {
    const { card, client, ota } = await setup();
    await client.runProactive(await bind(card, client, ota, cidOf(1), [TV]));
    const items = await menuItems(client);
    const cmds = await client.runProactive(await client.menuSelection(items[0]!.id));
    const launch = openMo(card.state, cmds[1]!.command).message;
    const digest = new Uint8Array(32).fill(7);
    await client.runProactive(
      await ota.send(client, {
        type: 'downloadResourceInfo',
        transactionId: launch.transactionId,
        cid: cidOf(1),
        aid: TV.aid,
        zone: 'multimedia',
        resource: { url: 'https://x.example/a', digest, size: 4000 },
      }),
    );
    const done = await client.launchComplete({
      type: 'launchComplete',
      transactionId: launch.transactionId,
      cid: cidOf(1),
      aid: TV.aid,
      size: 4000,
      digest: new Uint8Array(32),
    });
    const out = await client.runProactive(done);
    expect(openMo(card.state, out[0]!.command).message).toMatchObject({
      type: 'downloadComplete',
      result: 'integrityFailed',
    });
    expect(card.state.cards[0]!.applications[0]!.installed).toBe(false);
  });

  it('delete request → delete command clears installed and is handed to the handset', async () => {
    const { card, client, ota } = await setup();
    await client.runProactive(await bind(card, client, ota, cidOf(1), [TV]));
    // Mark it installed through a whole launch.
    let items = await menuItems(client);
    let cmds = await client.runProactive(await client.menuSelection(items[0]!.id));
    const launch = openMo(card.state, cmds[1]!.command).message;
    const digest = new Uint8Array(32).fill(1);
    await client.runProactive(
      await ota.send(client, {
        type: 'downloadResourceInfo',
        transactionId: launch.transactionId,
        cid: cidOf(1),
        aid: TV.aid,
        zone: 'multimedia',
        resource: { url: 'https://x.example/a', digest, size: 9 },
      }),
    );
    await client.takeHandsetMessage();
    await client.runProactive(
      await client.launchComplete({
        type: 'launchComplete',
        transactionId: launch.transactionId,
        cid: cidOf(1),
        aid: TV.aid,
        size: 9,
        digest,
      }),
    );
    items = await menuItems(client);
    cmds = await client.runProactive(await client.menuSelection(items[0]!.id), (c) =>
      c.kind === 'selectItem' ? { general: 0, itemId: 2 } : undefined,
    );
    const sub = cmds[0]!.command;
    expect(sub.kind === 'selectItem' && sub.items.map((i) => i.text)).toEqual(['Launch', 'Delete']);
    const del = openMo(card.state, cmds[1]!.command).message;
    expect(del).toMatchObject({ type: 'deleteRequest', aid: TV.aid });
    const command = {
      type: 'deleteCommand' as const,
      transactionId: del.transactionId,
      cid: cidOf(1),
      aid: TV.aid,
    };
    await client.runProactive(await ota.send(client, command));
    expect(await client.takeHandsetMessage()).toEqual(command);
    expect(card.state.cards[0]!.applications[0]!.installed).toBe(false);
  });
});

describe('RFM STK list update (claim 3)', () => {
  it('replaces the list, keeps anchors, refuses an older list version', async () => {
    const { card, client, ota } = await setup();
    await client.runProactive(await bind(card, client, ota, cidOf(1), [TV]));
    await client.updateAnchors(cidOf(1), { user: 5 });
    const update = {
      type: 'stkListUpdate' as const,
      transactionId: 1,
      listVersion: 4,
      cards: [
        {
          cid: cidOf(1),
          applications: [
            { aid: TV.aid, name: '电视', zone: 'multimedia' as const, state: 'masked' as const },
            { aid: GAME.aid, name: 'Games', zone: 'user' as const, state: 'active' as const },
          ],
        },
        { cid: cidOf(9), applications: [] },
      ],
    };
    const cmds = await client.runProactive(await ota.send(client, update));
    expect(cmds[0]!.command.kind).toBe('setUpMenu');
    expect(card.state.listVersion).toBe(4);
    expect(card.state.cards.map((c) => c.cid[12])).toEqual([1, 9]);
    expect(card.state.cards[0]!.applications.map((a) => [a.name, a.state, a.size])).toEqual([
      ['电视', 'masked', 4000],
      ['Games', 'active', 0],
    ]);
    expect(await client.readAnchors(cidOf(1))).toEqual({ user: 5 });
    const stale = await client.runProactive(
      await ota.send(client, { ...update, listVersion: 3, cards: [] }),
    );
    const por = openResponsePacket(smsUserData(stale[0]!.command), otaKeysOfState(card.state), {
      spi: ota.spi,
      kic: ota.indicator,
      kid: ota.indicator,
    });
    expect(toHex(por.data)).toBe('016985');
    expect(card.state.cards).toHaveLength(2);
  });
});

describe('zone keys and rollback anchors (504)', () => {
  it('hands out the derived zone keys of a bound card, never the binding key', async () => {
    const { card, client, ota } = await setup();
    await expect(client.cardKeys(cidOf(1))).rejects.toMatchObject({ sw: 0x6982 });
    await client.runProactive(await bind(card, client, ota, cidOf(1)));
    const keys = await client.cardKeys(cidOf(1));
    const expected = deriveCardKeys(card.state.bindingKey, cidOf(1));
    expect(keys).toEqual(expected);
    const raw = await client.send(fromHex(`8032000010${toHex(cidOf(1))}00`));
    expect(raw.data).toHaveLength(16 + 4 * 33);
    expect(toHex(raw.data)).not.toContain(toHex(card.state.bindingKey));
    const one = await client.send(fromHex(`8032040010${toHex(cidOf(1))}00`));
    expect(toHex(one.data)).toBe(
      toHex(expected.cardKeyIdentifier) + '04' + toHex(expected.zones.user.zoneKey),
    );
  });

  it('anchors are per card and only move forward', async () => {
    const { card, client, ota } = await setup();
    await client.runProactive(await bind(card, client, ota, cidOf(1)));
    expect(await client.readAnchors(cidOf(1))).toEqual({});
    await client.updateAnchors(cidOf(1), { user: 3, operator: 1 });
    expect(await client.readAnchors(cidOf(1))).toEqual({ operator: 1, user: 3 });
    await expect(client.updateAnchors(cidOf(1), { user: 2 })).rejects.toMatchObject({ sw: 0x6985 });
    await client.updateAnchors(cidOf(1), { user: 3 });
    expect(await client.readAnchors(cidOf(1))).toEqual({ operator: 1, user: 3 });
    await expect(client.readAnchors(cidOf(2))).rejects.toBeInstanceOf(SimStatusError);
  });
});

describe('PoR handling of the SIM own packets', () => {
  it('a counter-low PoR from the OTA server raises the counter and resends the message', async () => {
    const { card, client, ota } = await setup();
    const r = await client.cardInserted(cidOf(1), 'bindNow');
    const [sms] = await client.runProactive(r.response);
    const { packet, message } = openMo(card.state, sms!.command);
    const por = (await import('../../../src/protocol/secured-packet.js')).buildResponsePacket(
      {
        spi: packet.spi,
        kic: packet.kic.raw,
        kid: packet.kid.raw,
        tar: packet.tar,
        counter: packet.counter,
        status: 'counter-low',
        data: fromHex('0000000028'),
      },
      otaKeysOfState(card.state),
    );
    let last: SimResponse | undefined;
    for (const t of ota.tpdus(por.subarray(3), 'response')) last = await client.smsPpDownload(t);
    const resent = await client.runProactive(last!);
    const again = openMo(card.state, resent[0]!.command);
    expect(again.packet.counter).toBe(41n);
    expect(again.message).toEqual(message);
    expect(card.state.moCounters[1]).toBe(41);
    // A PoR that does not verify is refused.
    const forged = por.slice();
    forged[forged.length - 1]! ^= 1;
    expect((await client.smsPpDownload(ota.tpdus(forged.subarray(3), 'response')[0]!)).sw).toBe(
      0x6200,
    );
  });

  it('a counter-low PoR answering a replay of a packet the server took resends nothing', async () => {
    const { card, client, ota } = await setup();
    const r = await client.cardInserted(cidOf(1), 'bindNow');
    const [sms] = await client.runProactive(r.response);
    const { packet } = openMo(card.state, sms!.command);
    // The server took counter 1; someone replays it; the server's PoR reports 1 as its last.
    const por = (await import('../../../src/protocol/secured-packet.js')).buildResponsePacket(
      {
        spi: packet.spi,
        kic: packet.kic.raw,
        kid: packet.kid.raw,
        tar: packet.tar,
        counter: packet.counter,
        status: 'counter-low',
        data: fromHex('0000000001'),
      },
      otaKeysOfState(card.state),
    );
    let last: SimResponse | undefined;
    for (const t of ota.tpdus(por.subarray(3), 'response')) last = await client.smsPpDownload(t);
    expect(last!.proactivePending).toBeUndefined();
    expect(card.state.moCounters[1]).toBe(1);
  });
});

describe('secured packet delivery options', () => {
  it('PoR by DELIVER-REPORT comes back as the ENVELOPE response data', async () => {
    const { card, client, ota } = await setup();
    const spi = decodeSpi(fromHex('1609')); // PoR always, CC, in the DELIVER-REPORT
    const rsp = await ota.send(
      client,
      { type: 'stkListUpdate', transactionId: 1, listVersion: 1, cards: [] },
      { spi },
    );
    expect(rsp.sw >> 8).toBe(0x91); // the SET UP MENU is pending as well
    const por = openResponsePacket(rsp.data, otaKeysOfState(card.state), {
      spi,
      kic: ota.indicator,
      kid: ota.indicator,
      counter: 1,
    });
    expect(por.status).toBe('ok');
  });

  it('a packet split over concatenated SMS is reassembled', async () => {
    const { card, client, ota } = await setup();
    const cards = Array.from({ length: 4 }, (_, i) => ({
      cid: cidOf(i + 1),
      applications: [
        {
          aid: TV.aid,
          name: `Application name ${i}`,
          zone: 'user' as const,
          state: 'active' as const,
        },
      ],
    }));
    const packet = ota.packet(
      new Uint8Array(
        (await import('../../../src/protocol/messages.js')).encodeMessage({
          type: 'stkListUpdate',
          transactionId: 2,
          listVersion: 2,
          cards,
        }),
      ),
    );
    const tpdus = ota.tpdus(packet);
    expect(tpdus.length).toBeGreaterThan(1);
    const first = await client.smsPpDownload(tpdus[0]!);
    expect(first.sw).toBe(0x9000);
    expect(card.state.cards).toHaveLength(0);
    let last: SimResponse | undefined;
    for (const t of tpdus.slice(1)) last = await client.smsPpDownload(t);
    expect(last!.sw >> 8).toBe(0x91);
    expect(card.state.cards).toHaveLength(4);
  });

  it('a menu too long for one proactive command pages with "More..."', async () => {
    const { card, client, ota } = await setup();
    const apps = Array.from({ length: 12 }, (_, i) => ({
      aid: fromHex(`a00000008720${(i + 16).toString(16)}`),
      name: `应用程序名称第${i}号`,
      zone: 'user' as const,
      state: 'active' as const,
    }));
    await client.runProactive(
      await ota.send(client, {
        type: 'stkListUpdate',
        transactionId: 1,
        listVersion: 1,
        cards: [{ cid: cidOf(1), applications: apps }],
      }),
    );
    const items = await menuItems(client);
    expect(items.at(-1)!.text).toBe('More...');
    const cmds = await client.runProactive(await client.menuSelection(items.at(-1)!.id), () => ({
      general: 0x10,
    }));
    const page = cmds[0]!.command;
    if (page.kind !== 'selectItem') throw new Error('page');
    const shown = [...items.slice(0, -1), ...page.items]
      .map((i) => i.text)
      .filter((t) => t !== 'More...');
    expect(shown.length).toBeGreaterThan(items.length - 1);
    expect(card.state.proactive).toHaveLength(0);
  });
});
