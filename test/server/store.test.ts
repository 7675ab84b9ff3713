// The registry store suite, run against SQLite and PostgreSQL alike.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate } from '../../src/server/store/migrations.js';
import { MIGRATIONS } from '../../src/server/store/schema.js';
import { openSqliteDriver } from '../../src/server/store/sqlite.js';
import type { ApplicationRecord, RegistryStore } from '../../src/server/store/store.js';
import { STORE_KINDS, testDatabase, type TestDatabase } from './stores.js';

const CID = (n: number) => `0353445355303147804${n.toString(16).padStart(11, '0')}`;
const TV: ApplicationRecord = {
  aid: 'a0000000871001',
  name: '手机电视',
  zone: 'multimedia',
  size: 2_621_440,
  version: '2.1',
  resource: { url: 'https://ota.example/tv.bin', digest: 'ab'.repeat(32), size: 2_097_152 },
};
const ADS: ApplicationRecord = {
  aid: 'a000000087300001',
  name: 'Offers',
  zone: 'advertising',
  size: 40_960,
  version: '1.0',
  resource: null,
};

describe.each(STORE_KINDS)('registry store on %s', (kind) => {
  let db: TestDatabase;
  let store: RegistryStore;
  const others: RegistryStore[] = [];

  beforeEach(async () => {
    db = testDatabase(kind);
    store = await db.open();
  });
  afterEach(async () => {
    await store.close();
    for (const s of others.splice(0)) await s.close();
    await db.drop();
  });
  const another = async () => {
    const s = await db.open();
    others.push(s);
    return s;
  };

  it('migrates to the latest schema, idempotently, also from several stores at once', async () => {
    expect(store.kind).toBe(kind);
    expect(await store.schemaVersion()).toBe(MIGRATIONS.at(-1)!.version);
    const [a, b] = await Promise.all([another(), another()]);
    expect(await a.schemaVersion()).toBe(MIGRATIONS.at(-1)!.version);
    expect(await b.schemaVersion()).toBe(MIGRATIONS.at(-1)!.version);
  });

  it('imports cards in one go, refusing duplicates and unknown offers with the row index', async () => {
    await store.putApplication(TV, 1);
    await store.putApplication(ADS, 1);
    expect(await store.defineOffer('basic', [TV.aid, ADS.aid])).toEqual({ unknownApps: [] });
    const rows = [
      { cid: CID(1), state: 'issued' as const, stage: 'warehouse', offer: 'basic' },
      { cid: CID(2), state: 'issued' as const, stage: 'warehouse' },
      { cid: CID(1), state: 'issued' as const, stage: 'warehouse' },
      { cid: CID(3), state: 'active' as const, stage: 'sold', offer: 'nope' },
    ];
    expect(await store.importCards(rows, 10)).toEqual({
      accepted: 2,
      refused: [
        { index: 2, reason: 'duplicate' },
        { index: 3, reason: 'unknownOffer' },
      ],
    });
    expect(await store.getCard(CID(1))).toEqual({
      cid: CID(1),
      state: 'issued',
      stage: 'warehouse',
      offer: 'basic',
      createdAt: 10,
      updatedAt: 10,
    });
    expect((await store.customizedApplications(CID(1))).map((a) => a.aid)).toEqual([
      TV.aid,
      ADS.aid,
    ]);
    expect(await store.customizedApplications(CID(2))).toEqual([]);
    // Already registered rows are refused on a second import; nothing else changes.
    expect(await store.importCards(rows.slice(0, 2), 20)).toEqual({
      accepted: 0,
      refused: [
        { index: 0, reason: 'duplicate' },
        { index: 1, reason: 'duplicate' },
      ],
    });
    expect(await store.countCards()).toBe(2);
  });

  it('imports thousands of cards in one transaction', async () => {
    await store.putApplication(TV, 1);
    await store.defineOffer('tv', [TV.aid]);
    const rows = Array.from({ length: 5000 }, (_, i) => ({
      cid: CID(i),
      state: 'issued' as const,
      stage: 's',
      offer: 'tv',
    }));
    const report = await store.importCards(rows, 1);
    expect(report).toEqual({ accepted: 5000, refused: [] });
    expect(await store.countCards()).toBe(5000);
    expect((await store.customizedApplications(CID(4999))).map((a) => a.aid)).toEqual([TV.aid]);
  });

  it('keeps the catalog and offers, and refuses offers naming unknown applications', async () => {
    await store.putApplication(TV, 1);
    await store.putApplication({ ...ADS }, 1);
    expect(await store.getApplication(TV.aid)).toEqual(TV);
    await store.putApplication({ ...TV, version: '2.2' }, 2);
    expect((await store.getApplication(TV.aid))?.version).toBe('2.2');
    expect(await store.getApplication('a0000000879999')).toBeUndefined();
    expect((await store.listApplications()).map((a) => a.aid)).toEqual([TV.aid, ADS.aid]);
    expect(await store.defineOffer('x', [TV.aid, 'a0000000879999'])).toEqual({
      unknownApps: ['a0000000879999'],
    });
    expect(await store.getOffer('x')).toBeUndefined();
    await store.defineOffer('x', [ADS.aid, TV.aid]);
    expect(await store.getOffer('x')).toEqual([ADS.aid, TV.aid]);
    await store.defineOffer('x', [TV.aid]);
    expect(await store.getOffer('x')).toEqual([TV.aid]);
  });

  it('applies an offer to cards, replacing their applications', async () => {
    await store.putApplication(TV, 1);
    await store.putApplication(ADS, 1);
    await store.defineOffer('a', [TV.aid]);
    await store.defineOffer('b', [ADS.aid, TV.aid]);
    await store.importCards([{ cid: CID(1), state: 'issued', stage: 's', offer: 'a' }], 1);
    expect(await store.applyOffer('b', [CID(1), CID(9)], 5)).toEqual({
      applied: 1,
      unknownCards: [CID(9)],
    });
    expect((await store.customizedApplications(CID(1))).map((a) => a.aid)).toEqual([
      ADS.aid,
      TV.aid,
    ]);
    expect((await store.getCard(CID(1)))?.offer).toBe('b');
    expect(await store.applyOffer('zzz', [CID(1)], 5)).toBeUndefined();
  });

  it('changes lifecycle state and stage', async () => {
    await store.importCards([{ cid: CID(1), state: 'issued', stage: 'warehouse' }], 1);
    expect(await store.setLifecycle(CID(1), 'blocked', undefined, 7)).toMatchObject({
      state: 'blocked',
      stage: 'warehouse',
      updatedAt: 7,
    });
    expect(await store.setLifecycle(CID(1), 'active', 'sold', 8)).toMatchObject({
      state: 'active',
      stage: 'sold',
    });
    expect(await store.setLifecycle(CID(2), 'active', undefined, 8)).toBeUndefined();
  });

  it('binds a card once, activates it, and refuses other SIMs, unknown and blocked cards', async () => {
    await store.importCards(
      [
        { cid: CID(1), state: 'issued', stage: 's' },
        { cid: CID(2), state: 'blocked', stage: 's' },
        { cid: CID(3), state: 'retired', stage: 's' },
      ],
      1,
    );
    const sim = { iccid: '89860012345678901234', imsi: '460001234567890', brand: 'GoTone' };
    expect(await store.bind(CID(1), sim, 5)).toEqual({
      outcome: 'bound',
      binding: { cid: CID(1), ...sim, boundAt: 5 },
      applications: [],
    });
    expect((await store.getCard(CID(1)))?.state).toBe('active');
    expect((await store.bind(CID(1), sim, 6)).outcome).toBe('alreadyBound');
    expect((await store.bind(CID(1), { iccid: '89860000000000000001' }, 6)).outcome).toBe(
      'otherSim',
    );
    expect((await store.bind(CID(2), sim, 6)).outcome).toBe('blocked');
    expect((await store.bind(CID(3), sim, 6)).outcome).toBe('blocked');
    expect((await store.bind(CID(4), sim, 6)).outcome).toBe('unknownCard');
    expect(await store.getBinding(CID(1))).toEqual({ cid: CID(1), ...sim, boundAt: 5 });
    expect(await store.bindingsOfSim(sim.iccid)).toHaveLength(1);
    expect(await store.unbind(CID(1), '89860000000000000001')).toBe(false);
    expect(await store.unbind(CID(1), sim.iccid)).toBe(true);
    expect(await store.unbind(CID(1), sim.iccid)).toBe(false);
    expect(await store.getBinding(CID(1))).toBeUndefined();
    expect((await store.bind(CID(1), { iccid: '89860000000000000001' }, 9)).outcome).toBe('bound');
    expect(await store.getBinding(CID(1))).toMatchObject({
      iccid: '89860000000000000001',
      imsi: null,
      brand: null,
    });
  });

  it('records launches, completions and deletions per card and application', async () => {
    await store.putApplication(TV, 1);
    await store.putApplication(ADS, 1);
    await store.importCards(
      [
        { cid: CID(1), state: 'active', stage: 's' },
        { cid: CID(2), state: 'active', stage: 's' },
      ],
      1,
    );
    expect(await store.recordCompletion(CID(1), TV.aid, { status: 'stored' }, 2)).toBe(false);
    expect(await store.recordLaunch(CID(1), TV.aid, 2)).toBe(1);
    expect(await store.recordLaunch(CID(1), TV.aid, 3)).toBe(2);
    expect(await store.recordLaunch(CID(2), TV.aid, 3)).toBe(1);
    expect(
      await store.recordCompletion(
        CID(1),
        TV.aid,
        { status: 'stored', size: 10, digest: 'cd'.repeat(32) },
        4,
      ),
    ).toBe(true);
    expect(await store.recordCompletion(CID(2), TV.aid, { status: 'failed' }, 4)).toBe(true);
    expect(await store.fileRecords(CID(1))).toEqual([
      {
        cid: CID(1),
        aid: TV.aid,
        status: 'stored',
        downloads: 2,
        deletes: 0,
        storedSize: 10,
        storedDigest: 'cd'.repeat(32),
        updatedAt: 4,
      },
    ]);
    expect(await store.recordDelete(CID(1), TV.aid, 5)).toBe(1);
    expect(await store.recordDelete(CID(1), ADS.aid, 5)).toBe(1);
    expect(await store.recordCompletion(CID(1), TV.aid, { status: 'stored' }, 6)).toBe(false);
    expect(
      (await store.fileRecords(CID(1))).map((f) => [f.aid, f.status, f.downloads, f.deletes]),
    ).toEqual([
      [TV.aid, 'deleted', 2, 1],
      [ADS.aid, 'deleted', 0, 1],
    ]);
    expect(await store.downloadReport()).toEqual([
      { aid: TV.aid, name: TV.name, downloads: 3, stored: 0, deletes: 1 },
      { aid: ADS.aid, name: ADS.name, downloads: 0, stored: 0, deletes: 1 },
    ]);
  });

  it('binds with a nonce claimed in the same transaction: a reused nonce binds nothing', async () => {
    await store.putApplication(TV, 1);
    await store.putApplication(ADS, 1);
    await store.defineOffer('basic', [ADS.aid, TV.aid]);
    await store.importCards(
      [
        { cid: CID(1), state: 'issued', stage: 's', offer: 'basic' },
        { cid: CID(2), state: 'blocked', stage: 's' },
        { cid: CID(3), state: 'issued', stage: 's' },
      ],
      1,
    );
    const sim = { iccid: '89860012345678901234', imsi: '460001234567890', brand: 'GoTone' };
    const nonce = (n: string) => ({ keyId: 'ota', nonce: n, expiresAt: 100, now: 5 });
    expect(await store.bind(CID(1), sim, 5, nonce('n1'))).toEqual({
      outcome: 'bound',
      binding: { cid: CID(1), ...sim, boundAt: 5 },
      applications: [ADS, TV],
    });
    expect((await store.getCard(CID(1)))?.state).toBe('active');
    expect(await store.bind(CID(3), sim, 5, nonce('n3'))).toMatchObject({ applications: [] });
    // A replay names a card that is not bound yet: nothing happens.
    await store.unbind(CID(3), sim.iccid);
    expect(await store.bind(CID(3), sim, 6, nonce('n1'))).toEqual({ outcome: 'replayed' });
    expect(await store.getBinding(CID(3))).toBeUndefined();
    expect((await store.bind(CID(1), sim, 6, nonce('n4'))).outcome).toBe('alreadyBound');
    const other = { iccid: '89860000000000000001' };
    expect(await store.bind(CID(1), other, 6, nonce('n5'))).toMatchObject({
      outcome: 'otherSim',
      binding: { iccid: sim.iccid },
    });
    expect((await store.bind(CID(2), sim, 6, nonce('n6'))).outcome).toBe('blocked');
    expect((await store.bind(CID(4), sim, 6, nonce('n7'))).outcome).toBe('unknownCard');
    // Every nonce of an answered bind is claimed, whatever the outcome.
    for (const n of ['n1', 'n3', 'n4', 'n5', 'n6', 'n7'])
      expect(await store.claimNonce('ota', n, 100, 7)).toBe(false);
    expect(await store.claimNonce('ota', 'n8', 100, 7)).toBe(true);
  });

  it('makes one binding out of 20 concurrent binds with nonces, and refuses a nonce used twice', async () => {
    const second = await another();
    await store.importCards(
      [
        { cid: CID(1), state: 'issued', stage: 's' },
        { cid: CID(2), state: 'issued', stage: 's' },
      ],
      1,
    );
    const nonce = (n: string) => ({ keyId: 'ota', nonce: n, expiresAt: 100, now: 2 });
    const sims = Array.from(
      { length: 20 },
      (_, i) => `8986000000000000${String(i).padStart(4, '0')}`,
    );
    const [results, twice] = await Promise.all([
      Promise.all(
        sims.map((iccid, i) => (i % 2 ? second : store).bind(CID(1), { iccid }, 2, nonce(`n${i}`))),
      ),
      // The same nonce on both stores, for another card: one binds, the other is a replay.
      Promise.all(
        [store, second].map((s, i) => s.bind(CID(2), { iccid: sims[i]! }, 2, nonce('same'))),
      ),
    ]);
    expect(results.filter((r) => r.outcome === 'bound')).toHaveLength(1);
    expect(results.filter((r) => r.outcome === 'otherSim')).toHaveLength(19);
    expect(twice.map((r) => r.outcome).sort()).toEqual(['bound', 'replayed']);
    expect(await store.countBindings()).toBe(2);
  });

  it('fails only the bind that fails, not the binds committed with it', async () => {
    await store.importCards(
      Array.from({ length: 6 }, (_, i) => ({ cid: CID(i), state: 'issued' as const, stage: 's' })),
      1,
    );
    const sim = (i: number) => ({ iccid: `8986000000000000000${i}` });
    // NaN is no integer: a database error inside the batched statement or transaction.
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) =>
        store.bind(CID(i), sim(i), 2, {
          keyId: 'ota',
          nonce: `n${i}`,
          expiresAt: i === 3 ? Number.NaN : 100,
          now: 2,
        }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    expect(await store.countBindings()).toBe(5);
    expect(await store.getBinding(CID(3))).toBeUndefined();
    // Its nonce was rolled back with it: the request may be retried.
    expect(await store.claimNonce('ota', 'n3', 100, 2)).toBe(true);
  });

  it('claims each nonce once per key', async () => {
    expect(await store.claimNonce('ota', 'n1', 100, 1)).toBe(true);
    expect(await store.claimNonce('ota', 'n1', 100, 2)).toBe(false);
    expect(await store.claimNonce('operator', 'n1', 100, 2)).toBe(true);
  });

  it('makes exactly one binding out of 20 concurrent binds from two stores', async () => {
    const second = await another();
    await store.importCards([{ cid: CID(1), state: 'issued', stage: 's' }], 1);
    const sims = Array.from(
      { length: 20 },
      (_, i) => `8986000000000000${String(i).padStart(4, '0')}`,
    );
    const results = await Promise.all(
      sims.map((iccid, i) => (i % 2 ? second : store).bind(CID(1), { iccid }, 2)),
    );
    const winners = results.filter((r) => r.outcome === 'bound');
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => r.outcome === 'otherSim')).toHaveLength(19);
    expect(await store.countBindings()).toBe(1);
    expect((await second.getBinding(CID(1)))?.iccid).toBe(winners[0]!.binding!.iccid);
  });

  it('never loses an increment: 200 concurrent launches and deletes from two stores', async () => {
    const second = await another();
    await store.putApplication(TV, 1);
    await store.importCards([{ cid: CID(1), state: 'active', stage: 's' }], 1);
    const launches = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        (i % 2 ? second : store).recordLaunch(CID(1), TV.aid, 2),
      ),
    );
    expect(new Set(launches).size).toBe(200);
    expect(Math.max(...launches)).toBe(200);
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        (i % 2 ? second : store).recordDelete(CID(1), TV.aid, 3),
      ),
    );
    expect(await second.fileRecords(CID(1))).toMatchObject([{ downloads: 200, deletes: 200 }]);
  });

  it('runs concurrent imports of overlapping cards from two stores without duplicates', async () => {
    const second = await another();
    const rows = (from: number) =>
      Array.from({ length: 600 }, (_, i) => ({
        cid: CID(from + i),
        state: 'issued' as const,
        stage: 's',
      }));
    const [a, b] = await Promise.all([
      store.importCards(rows(0), 1),
      second.importCards(rows(300), 1),
    ]);
    expect(a.accepted + b.accepted).toBe(900);
    expect(a.refused.length + b.refused.length).toBe(300);
    expect(await store.countCards()).toBe(900);
  });
});

describe('migrations', () => {
  it('refuses a database newer than the code', async () => {
    const db = await openSqliteDriver(':memory:');
    await migrate(db);
    await expect(migrate(db, MIGRATIONS.slice(0, 1))).rejects.toMatchObject({
      code: 'SERVER_INTERNAL',
    });
    await db.close();
  });

  it('applies only the missing migrations', async () => {
    const db = await openSqliteDriver(':memory:');
    expect(await migrate(db, MIGRATIONS.slice(0, 1))).toBe(1);
    expect(
      await db.get('SELECT name FROM sqlite_master WHERE name = ?', ['nonces']),
    ).toBeUndefined();
    expect(await migrate(db)).toBe(MIGRATIONS.at(-1)!.version);
    expect(await db.all('SELECT version FROM simvault_migrations ORDER BY version')).toEqual(
      MIGRATIONS.map((m) => ({ version: m.version })),
    );
    await db.close();
  });
});
