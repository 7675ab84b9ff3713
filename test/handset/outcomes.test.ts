// The handset learns how flows end from typed SIM answers, over real HTTP on loopback: a refused
// bind, a full binding list (with the release prompt, and with eviction), a refused unbind, a
// download whose bytes do not match, and a delete command that arrives later as MT.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/bytes.js';
import { MemoryDevice } from '../../src/card/index.js';
import { HandsetError, type UserPrompt } from '../../src/handset/index.js';
import { addCard, addPhone, holdMt, makeWorld, releaseMt, type World } from './helpers.js';

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const OTHER_ICCID = '89860099999999999999';

describe('handset: refusals come typed from the SIM', () => {
  it('a bind refused by the server (the card is bound to another SIM) is SERVER_ALREADY_BOUND', async () => {
    w = await makeWorld();
    await w.phone.insertCard();
    const other = await addPhone(w, { iccid: OTHER_ICCID });
    const error = await other.phone.insertCard().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HandsetError);
    expect(error).toMatchObject({ code: 'SERVER_ALREADY_BOUND', result: 'alreadyBound' });
    expect(other.sim.state.cards).toHaveLength(0);
    expect(other.phone.card).toBeUndefined();
    expect((await w.op.cardApp.cardInfo(toHex(w.world.cid))).binding?.iccid).toBe(w.world.iccid);
  });

  it('the user declining the bind prompt is HANDSET_REFUSED with result declined', async () => {
    w = await makeWorld({ user: (p) => p.items.find((i) => i !== 'Bind') });
    await expect(w.phone.insertCard()).rejects.toMatchObject({
      code: 'HANDSET_REFUSED',
      result: 'declined',
    });
    expect(w.sim.state.cards).toHaveLength(0);
    expect(w.sim.state.pending).toHaveLength(0);
  });

  it('an unbind the server refuses keeps the card bound and mounted (SERVER_UNKNOWN_CARD)', async () => {
    w = await makeWorld();
    await w.phone.insertCard();
    // The operator withdraws the card from its registry: the server can no longer unbind it.
    const db = new Database(join(w.dir, 'registry.sqlite'));
    db.prepare('DELETE FROM cards').run();
    db.close();
    await expect(w.phone.unbind()).rejects.toMatchObject({
      code: 'SERVER_UNKNOWN_CARD',
      result: 'unknownCard',
    });
    expect(w.sim.state.cards[0]!.bound).toBe(true);
    expect(w.phone.card).toBeDefined();
  });
});

describe('handset: a full binding list', () => {
  it('ask policy: the release prompt goes to the user; the card chosen is released', async () => {
    w = await makeWorld();
    const second = await addCard(w.op, 0x00beef01);
    const prompts: UserPrompt[] = [];
    const x = await addPhone(w, {
      iccid: OTHER_ICCID,
      sim: { maxCards: 1, policy: 'ask' },
      handset: {
        user: (p) => {
          prompts.push(p);
          return p.items[0];
        },
      },
    });
    expect((await x.phone.insertCard()).binding).toBe('new');
    const r = await x.phone.insertCard({ device: new MemoryDevice(16 << 20), cid: second });
    expect(r.binding).toBe('new');
    // Two prompts: "Bind this memory card?" for each card, and the release prompt in between.
    expect(prompts.map((p) => p.title)).toContain('Card limit reached: release a card');
    expect(x.sim.state.cards.map((c) => toHex(c.cid))).toEqual([toHex(second)]);
    expect((await w.op.cardApp.cardInfo(toHex(w.world.cid))).binding).toBeNull();
    expect((await w.op.cardApp.cardInfo(toHex(second))).binding?.iccid).toBe(OTHER_ICCID);
  });

  it('ask policy: backing out of the release prompt is HANDSET_REFUSED, thresholdReached', async () => {
    w = await makeWorld();
    const second = await addCard(w.op, 0x00beef02);
    const x = await addPhone(w, {
      iccid: OTHER_ICCID,
      sim: { maxCards: 1, policy: 'ask' },
      handset: {
        user: (p) => (p.title.startsWith('Card limit') ? undefined : p.items[0]),
      },
    });
    await x.phone.insertCard();
    await expect(
      x.phone.insertCard({ device: new MemoryDevice(16 << 20), cid: second }),
    ).rejects.toMatchObject({ code: 'HANDSET_REFUSED', result: 'thresholdReached' });
    expect(x.sim.state.cards.map((c) => toHex(c.cid))).toEqual([toHex(w.world.cid)]);
    // The SIM told the server it did not keep the new card.
    expect((await w.op.cardApp.cardInfo(toHex(second))).binding).toBeNull();
  });

  it('lru policy: the least recently used card is evicted and unbound at the server', async () => {
    w = await makeWorld();
    const second = await addCard(w.op, 0x00beef03);
    const x = await addPhone(w, {
      iccid: OTHER_ICCID,
      sim: { maxCards: 1, policy: 'lru' },
      handset: { bindMode: 'now' },
    });
    await x.phone.insertCard();
    await x.phone.insertCard({ device: new MemoryDevice(16 << 20), cid: second });
    await x.phone.processMt(1);
    expect(x.sim.state.cards.map((c) => toHex(c.cid))).toEqual([toHex(second)]);
    expect((await w.op.cardApp.cardInfo(toHex(w.world.cid))).binding).toBeNull();
    expect((await w.op.cardApp.cardInfo(toHex(second))).binding?.iccid).toBe(OTHER_ICCID);
    expect(x.events.some((e) => e.text.includes('unbindRequest'))).toBe(true);
  });
});

describe('handset: downloads and late commands', () => {
  it('a download whose bytes do not match is deleted, reported failed to the SIM and the server', async () => {
    w = await makeWorld();
    w.intercept.fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (!new URL(String(input)).pathname.startsWith('/v1/files/') || !res.body) return res;
      let flipped = false;
      const body = res.body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            const copy = chunk.slice();
            if (!flipped && copy.length) {
              copy[0] = copy[0]! ^ 0xff;
              flipped = true;
            }
            controller.enqueue(copy);
          },
        }),
      );
      return new Response(body, { status: res.status, headers: res.headers });
    };
    await w.phone.insertCard();
    await expect(w.phone.launch(fromHex(w.world.app.aid))).rejects.toMatchObject({
      code: 'HANDSET_DOWNLOAD_FAILED',
    });
    expect(await w.phone.card!.zone('multimedia').exists(w.world.app.aid)).toBe(false);
    expect(w.sim.state.cards[0]!.applications[0]!.installed).toBe(false);
    const row = (await w.op.cardApp.downloadReport()).find((r) => r.aid === w!.world.app.aid);
    expect(row).toMatchObject({ downloads: 1, stored: 0 });
    expect(w.sim.state.cards[0]!.anchors).toEqual(w.phone.card!.generations());
  });

  it('a delete command that arrives after the flow gave up is applied by processMt', async () => {
    w = await makeWorld({ timeoutMs: 1500 });
    await w.phone.insertCard();
    await w.phone.launch('Mobile TV');
    // The network holds every SMS for the SIM while the user deletes the application.
    holdMt(w);
    await expect(w.phone.deleteApp('Mobile TV')).rejects.toMatchObject({
      code: 'HANDSET_TIMEOUT',
    });
    expect(await w.phone.card!.zone('multimedia').exists(w.world.app.aid)).toBe(true);
    releaseMt(w);
    const r = await w.phone.processMt(1);
    expect(r.handled).toEqual(['deleteCommand']);
    expect(await w.phone.card!.zone('multimedia').exists(w.world.app.aid)).toBe(false);
    expect(w.sim.state.cards[0]!.applications[0]!.installed).toBe(false);
    expect(w.sim.state.cards[0]!.anchors).toEqual(w.phone.card!.generations());
  });

  it('changes made through Handset.card move the SIM anchors without a handset flow', async () => {
    w = await makeWorld();
    await w.phone.insertCard();
    const card = w.phone.card!;
    await card.zone('user').writeFile('a.txt', new TextEncoder().encode('one'));
    expect(w.sim.state.cards[0]!.anchors).toEqual(card.generations());
    const put = await card.zone('user').put('b.bin', { size: 3 });
    const writer = put.writable.getWriter();
    await writer.write(new Uint8Array([1, 2, 3]));
    await writer.close();
    expect(w.sim.state.cards[0]!.anchors).toEqual(card.generations());
    await card.zone('user').rename('a.txt', 'c.txt');
    await expect(card.zone('user').delete('missing')).rejects.toMatchObject({
      code: 'CARD_NOT_FOUND',
    });
    expect(w.sim.state.cards[0]!.anchors).toEqual(card.generations());
    expect(await card.zone('user').list()).toHaveLength(2);
  });
});
