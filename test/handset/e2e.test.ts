// The handset end to end over real HTTP on loopback: both operator servers in-process (port 0,
// SQLite in a temp folder), the emulated SIM over APDUs, a card on a memory device.
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/bytes.js';
import { personalizeChip, SecureChip } from '../../src/sim/index.js';
import { cutAfter, makeWorld, type World } from './helpers.js';

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('handset: the patent flows end to end', () => {
  it('binds, downloads, stores, deletes and unbinds, with every record where the patent puts it', async () => {
    w = await makeWorld();
    const { phone, sim, world, op } = w;

    // 301-311
    const inserted = await phone.insertCard();
    expect(inserted).toMatchObject({
      cid: toHex(world.cid),
      lifecycle: 'active',
      binding: 'new',
      formatted: true,
    });
    expect(phone.menu).toEqual(['Mobile TV', 'Card 00c0ffee']);
    expect(sim.state.cards).toHaveLength(1);
    expect(sim.state.cards[0]!.bound).toBe(true);
    expect((await op.cardApp.cardInfo(toHex(world.cid))).binding?.iccid).toBe(world.iccid);
    expect(inserted.anchors).toEqual(phone.card!.generations());
    const steps = w.events.map((e) => e.step);
    for (const s of ['301', '302', '303', '304', '305-307', '309-310', '311'])
      expect(steps).toContain(s);

    // 501-505
    const launched = await phone.launch(fromHex(world.app.aid));
    expect(launched).toMatchObject({
      aid: world.app.aid,
      zone: 'multimedia',
      file: world.app.aid,
      size: world.app.bytes.length,
      intact: true,
      serverOutcome: 'stored',
      attempts: 1,
    });
    expect(launched.digest).toBe(world.app.sha256);
    expect(sha(await phone.card!.zone('multimedia').readFile(world.app.aid))).toBe(
      world.app.sha256,
    );
    // Encrypted at rest: the plaintext's first 64 bytes appear nowhere on the device.
    const raw = Buffer.from(await w.device.read(0, w.device.size));
    expect(raw.indexOf(Buffer.from(world.app.bytes.subarray(0, 64)))).toBe(-1);
    expect(sim.state.cards[0]!.applications[0]!.installed).toBe(true);
    expect(sim.state.cards[0]!.anchors).toEqual(phone.card!.generations());
    const download = w.requests.find((r) => r.path.startsWith('/v1/files/'));
    expect(download?.status).toBe(200);
    let report = (await op.cardApp.downloadReport()).find((r) => r.aid === world.app.aid);
    expect(report).toMatchObject({ downloads: 1, stored: 1, deletes: 0 });

    // 601-606
    const deleted = await phone.deleteApp('Mobile TV');
    expect(deleted).toMatchObject({ aid: world.app.aid, zone: 'multimedia' });
    expect(await phone.card!.zone('multimedia').exists(world.app.aid)).toBe(false);
    expect(sim.state.cards[0]!.applications[0]!.installed).toBe(false);
    expect(sim.state.cards[0]!.anchors).toEqual(phone.card!.generations());
    report = (await op.cardApp.downloadReport()).find((r) => r.aid === world.app.aid);
    expect(report).toMatchObject({ downloads: 1, stored: 0, deletes: 1 });

    // Keep a file on the card to see the unbind keep it.
    await phone.card!.zone('user').writeFile('notes.txt', new TextEncoder().encode('kept'));
    await phone.launch('Mobile TV');

    // 401-405: the SIM masks the card (below its threshold); the handset keeps the contents.
    const unbound = await phone.unbind();
    expect(unbound).toEqual({ cid: toHex(world.cid), erased: false });
    expect(phone.card).toBeUndefined();
    expect(sim.state.cards[0]!.bound).toBe(false);
    expect((await op.cardApp.cardInfo(toHex(world.cid))).binding).toBeNull();
    expect(phone.menu).toEqual([]);

    // Re-binding restores the masked applications and the card's files.
    const again = await phone.insertCard();
    expect(again).toMatchObject({ binding: 'new', formatted: false });
    expect(phone.menu).toEqual(['Mobile TV', 'Card 00c0ffee']);
    expect(new TextDecoder().decode(await phone.card!.zone('user').readFile('notes.txt'))).toBe(
      'kept',
    );
    expect(sha(await phone.card!.zone('multimedia').readFile(world.app.aid))).toBe(
      world.app.sha256,
    );
    // A second insertion of a bound card is step 304: nothing is sent.
    const mos = w.requests.filter((r) => r.path.startsWith('/v1/sms/mo')).length;
    expect((await phone.insertCard()).binding).toBe('existing');
    expect(w.requests.filter((r) => r.path.startsWith('/v1/sms/mo')).length).toBe(mos);
  });

  it('unbind with erase crypto-erases the card, and a re-bind gets an empty, mountable card', async () => {
    w = await makeWorld();
    const { phone, world } = w;
    await phone.insertCard();
    await phone.launch('Mobile TV');
    const result = await phone.unbind({ erase: true });
    expect(result.erased).toBe(true);
    await phone.insertCard();
    expect(await phone.card!.zone('multimedia').exists(world.app.aid)).toBe(false);
    // The SIM's anchors and the erased zones' generations agree again.
    expect(w.sim.state.cards[0]!.anchors).toEqual(phone.card!.generations());
  });

  it('refuses a card the card application server does not know (302) and tells the SIM nothing', async () => {
    w = await makeWorld();
    const cid = w.world.cid.slice();
    cid[12] = cid[12]! ^ 0xff;
    cid[15] = 0;
    await expect(w.phone.insertCard({ device: w.device, cid })).rejects.toMatchObject({
      code: 'SERVER_UNKNOWN_CARD',
      status: 404,
    });
    expect(w.sim.state.pending).toHaveLength(0);
    expect(w.sim.state.cards).toHaveLength(0);
  });

  it('secure-chip mode: the multimedia zone takes its file keys from the card chip', async () => {
    const chip = new SecureChip(personalizeChip({ pin: '2468' }));
    w = await makeWorld({
      chip: { transport: chip, pin: '2468' },
      format: { fill: 'zero', secureChipZones: ['multimedia'] },
    });
    await w.phone.insertCard();
    const r = await w.phone.launch('Mobile TV');
    expect(r.intact).toBe(true);
    expect(w.phone.card!.info().zones.find((z) => z.zone === 'multimedia')?.secureChip).toBe(true);
    expect(w.events.some((e) => e.step === '504' && e.text.includes('secure chip'))).toBe(true);
  });
});

describe('handset: interrupted downloads', () => {
  it('resumes from the card checkpoint with Range and If-Range after the connection breaks', async () => {
    w = await makeWorld({ fileBytes: 300 * 1024 });
    let cuts = 0;
    w.intercept.fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (new URL(String(input)).pathname.startsWith('/v1/files/') && cuts === 0) {
        cuts++;
        return cutAfter(res, 200 * 1024);
      }
      return res;
    };
    await w.phone.insertCard();
    const r = await w.phone.launch('Mobile TV');
    expect(r).toMatchObject({ intact: true, attempts: 2, serverOutcome: 'stored' });
    expect(r.resumedFrom).toHaveLength(1);
    const from = r.resumedFrom[0]!;
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThanOrEqual(200 * 1024);
    const gets = w.requests.filter((q) => q.path.startsWith('/v1/files/'));
    expect(gets.map((g) => g.status)).toEqual([200, 206]);
    expect(gets[1]!.headers['range']).toBe(`bytes=${from}-`);
    expect(gets[1]!.headers['if-range']).toBe(`"${w.world.app.sha256}"`);
    expect(sha(await w.phone.card!.zone('multimedia').readFile(w.world.app.aid))).toBe(
      w.world.app.sha256,
    );
    expect(await w.phone.card!.zone('multimedia').pending()).toEqual([]);
  });

  it('a launch that gave up is resumed by the next launch, even by another handset', async () => {
    w = await makeWorld({ fileBytes: 300 * 1024, downloadAttempts: 1 });
    w.intercept.fetch = async (input, init) => {
      const res = await fetch(input, init);
      return new URL(String(input)).pathname.startsWith('/v1/files/')
        ? cutAfter(res, 150 * 1024)
        : res;
    };
    await w.phone.insertCard();
    await expect(w.phone.launch('Mobile TV')).rejects.toMatchObject({
      code: 'HANDSET_DOWNLOAD_FAILED',
    });
    const pending = await w.phone.card!.zone('multimedia').pending();
    expect(pending).toHaveLength(1);
    expect(pending[0]!.sourceTag).toBe(w.world.app.sha256);
    delete w.intercept.fetch;
    const r = await w.phone.launch('Mobile TV');
    expect(r.intact).toBe(true);
    expect(r.resumedFrom).toEqual([pending[0]!.durableBytes]);
  });
});

describe('handset: forged and replayed short messages change nothing', () => {
  it('a replayed or forged MO is refused by the OTA server; a replayed or forged MT by the SIM', async () => {
    w = await makeWorld();
    const { phone, sim, op, world } = w;
    await phone.insertCard();
    const bindMo = w.requests.filter((r) => r.path.startsWith('/v1/sms/mo') && r.body);
    const mts = w.requests.flatMap((r) =>
      r.path.startsWith('/v1/sms/mt')
        ? (r.json as { messages: { tpdu: string; kind: string }[] }).messages
        : [],
    );
    expect(bindMo.length).toBeGreaterThan(0);
    expect(mts.length).toBeGreaterThan(0);
    const cardsBefore = JSON.stringify(sim.state.cards);
    const bindingBefore = (await op.cardApp.cardInfo(toHex(world.cid))).binding;
    const cursor = phone.mtCursor;

    // MO replay: every segment of the bind request again. Nothing is relayed or queued.
    for (const r of bindMo) {
      const answer = await phone.link
        .postMo(r.body!)
        .catch((e: unknown) => (e as { code: string }).code);
      expect(
        answer === 'OTA_REPLAYED' || (typeof answer === 'object' && answer.status === 'incomplete'),
        JSON.stringify(answer),
      ).toBe(true);
    }
    // MO forgery: one bit of the secured data flipped.
    const forged = bindMo.at(-1)!.body!.slice();
    forged[forged.length - 3]! ^= 0x01;
    const refused = await phone.link.postMo(forged).catch((e: unknown) => e);
    expect(['OTA_BAD_CHECKSUM', 'OTA_BAD_PACKET', 'OTA_BAD_SMS', 'OTA_REPLAYED']).toContain(
      (refused as { code?: string }).code,
    );
    // The OTA server answers a replay with a counter-low PoR (TS 102 225) and relays nothing.
    expect((await phone.link.fetchMt(cursor, 0)).messages.every((m) => m.kind === 'por')).toBe(
      true,
    );
    expect((await op.cardApp.cardInfo(toHex(world.cid))).binding).toEqual(bindingBefore);

    // MT replay and forgery, straight to the SIM: refused, the binding list is untouched.
    const counters = [...sim.state.mtCounters];
    for (const m of mts.filter((x) => x.kind === 'command')) {
      const r = await phone.sim.smsPpDownload(fromHex(m.tpdu));
      expect([0x6200, 0x9000].includes(r.sw) || r.sw >> 8 === 0x91).toBe(true);
    }
    const tampered = fromHex(mts[0]!.tpdu);
    tampered[tampered.length - 1]! ^= 0x80;
    await phone.sim.smsPpDownload(tampered);
    expect(JSON.stringify(sim.state.cards)).toBe(cardsBefore);
    expect(sim.state.mtCounters).toEqual(counters);
    // The refusals' PoRs and anything the OTA server resends in answer change nothing either.
    await phone.processMt(0);
    const after = sim.state.cards;
    expect(
      after.map((c) => [
        toHex(c.cid),
        c.bound,
        c.applications.map((a) => [toHex(a.aid), a.installed]),
      ]),
    ).toEqual(
      (
        JSON.parse(cardsBefore) as {
          cid: Record<string, number>;
          bound: boolean;
          applications: { aid: Record<string, number>; installed: boolean }[];
        }[]
      ).map(
        (c: {
          cid: Record<string, number>;
          bound: boolean;
          applications: { aid: Record<string, number>; installed: boolean }[];
        }) => [
          toHex(new Uint8Array(Object.values(c.cid))),
          c.bound,
          c.applications.map((a) => [toHex(new Uint8Array(Object.values(a.aid))), a.installed]),
        ],
      ),
    );
    // The flows still work afterwards.
    expect((await phone.launch('Mobile TV')).intact).toBe(true);
  });
});

describe('handset: a replayed unbind request', () => {
  it('cannot unbind a card that was bound again afterwards', async () => {
    w = await makeWorld();
    const { phone, sim, op, world } = w;
    await phone.insertCard();
    const before = w.requests.length;
    await phone.unbind();
    const unbindMo = w.requests
      .slice(before)
      .filter(
        (r) =>
          r.path.startsWith('/v1/sms/mo') &&
          r.body &&
          (r.json as { message?: { type: string } }).message?.type === 'unbindRequest',
      );
    expect(unbindMo).toHaveLength(1);
    await phone.insertCard();
    expect((await op.cardApp.cardInfo(toHex(world.cid))).binding?.iccid).toBe(world.iccid);
    // An attacker who captured the unbind SMS sends it again; the handset relays whatever follows.
    await phone.link.postMo(unbindMo[0]!.body!).catch((e: unknown) => {
      expect(e).toMatchObject({ code: 'OTA_REPLAYED' });
    });
    await phone.processMt(1);
    await phone.processMt(1);
    expect((await op.cardApp.cardInfo(toHex(world.cid))).binding?.iccid).toBe(world.iccid);
    expect(sim.state.cards[0]!.bound).toBe(true);
  });
});

describe('handset: RFM update of the STK list (claim 3)', () => {
  it('an operator push reaches the SIM through processMt and changes its menu', async () => {
    w = await makeWorld();
    await w.phone.insertCard();
    const pushed = await w.op.ota.pushStkList(w.world.iccid, [
      {
        cid: toHex(w.world.cid),
        applications: [
          { aid: w.world.app.aid, name: 'Mobile TV HD', zone: 'multimedia' },
          { aid: 'a000000087300001', name: 'Offers', zone: 'advertising' },
        ],
      },
    ]);
    expect(pushed.listVersion).toBe(1);
    const r = await w.phone.processMt(2);
    expect(r.delivered).toBeGreaterThan(0);
    expect(r.menu).toEqual(['Mobile TV HD', 'Offers', 'Card 00c0ffee']);
    expect(w.sim.state.listVersion).toBe(1);
  });
});
