// The OTA store on SQLite and PostgreSQL: its own migrations beside the registry's, SIM
// configuration round trips, and counters that two processes can never accept or hand out twice.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toHex } from '../../../src/bytes.js';
import pg from 'pg';
import { migrateOta } from '../../../src/server/ota/migrate.js';
import { OTA_MIGRATIONS } from '../../../src/server/ota/schema.js';
import { parseSimConfig } from '../../../src/server/ota/sim-config.js';
import {
  openOtaStore,
  type MoSegment,
  type MtItem,
  type OtaStore,
  type SentPacket,
} from '../../../src/server/ota/store.js';
import { openSqliteDriver } from '../../../src/server/store/sqlite.js';
import type { RegistryStore } from '../../../src/server/store/store.js';
import { PG_URL, STORE_KINDS, testDatabase, type TestDatabase } from '../stores.js';

const ICCID = '89860012345678901234';
const CONFIG = {
  msisdn: '8613800000001',
  tar: 'b00010',
  keysets: [
    { version: 1, kic: '00'.repeat(16), kid: '11'.repeat(16) },
    { version: 2, algorithm: '3des-2key', kic: '22'.repeat(16), kid: '33'.repeat(16) },
  ],
  minimumSecurity: { integrity: 'cc' },
  maxCounterStep: 100,
};

describe.each(STORE_KINDS)('OTA store on %s', (kind) => {
  let db: TestDatabase;
  let registry: RegistryStore;
  let a: OtaStore;
  let b: OtaStore;

  beforeEach(async () => {
    db = testDatabase(kind);
    // The registry and two OTA processes share one database.
    registry = await db.open();
    [a, b] = await Promise.all([openOtaStore(db.location), openOtaStore(db.location)]);
    await a.putSim(parseSimConfig(ICCID, CONFIG), 1);
  });
  afterEach(async () => {
    await a.close();
    await b.close();
    await registry.close();
    await db.drop();
  });

  it('migrates its own tables beside the registry, idempotently', async () => {
    expect(await a.schemaVersion()).toBe(OTA_MIGRATIONS.at(-1)!.version);
    expect(await registry.schemaVersion()).toBeGreaterThanOrEqual(2);
    const again = await openOtaStore(db.location);
    expect(await again.schemaVersion()).toBe(OTA_MIGRATIONS.at(-1)!.version);
    await again.close();
  });

  it('round-trips a SIM configuration and keeps counters across a reprovisioning', async () => {
    const sim = (await b.getSim(ICCID))!;
    expect(sim.msisdn).toBe('8613800000001');
    expect(sim.keysets.map((k) => [k.version, k.algorithm, toHex(k.kid)])).toEqual([
      [1, 'aes', '11'.repeat(16)],
      [2, '3des-2key', '33'.repeat(16)],
    ]);
    expect(sim.mt.kic).toBe(0x25);
    expect(sim.minimumSecurity).toEqual({
      ciphering: true,
      integrity: 'cc',
      counter: 'must-be-higher',
    });
    expect(await b.iccidOfMsisdn('8613800000001')).toBe(ICCID);
    expect(await a.acceptMoCounter(ICCID, 1, 0, 7)).toBe(true);
    expect(await a.putSim(parseSimConfig(ICCID, { ...CONFIG, msisdn: null }), 2)).toEqual({
      created: false,
    });
    expect(await b.lastMoCounter(ICCID, 1)).toBe(7);
    expect(await b.iccidOfMsisdn('8613800000001')).toBeUndefined();
    expect(await a.deleteSim(ICCID)).toBe(true);
    expect(await a.getSim(ICCID)).toBeUndefined();
    expect(await a.counters(ICCID)).toEqual([]);
  });

  it('accepts one MO counter once, whatever the concurrency', async () => {
    const tries = await Promise.all(
      [a, b, a, b, a, b].map((s) => s.acceptMoCounter(ICCID, 1, 0, 5)),
    );
    expect(tries.filter(Boolean)).toHaveLength(1);
    expect(await a.lastMoCounter(ICCID, 1)).toBe(5);
  });

  it('never hands out one MT counter twice, across stores and after raising', async () => {
    const got = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).reserveMtCounter(ICCID, 1)),
    );
    expect(new Set(got).size).toBe(40);
    expect(Math.max(...got)).toBe(40);
    expect(await a.raiseMtCounter(ICCID, 1, 100)).toBe(100);
    expect(await b.raiseMtCounter(ICCID, 1, 50)).toBe(100);
    expect(await b.reserveMtCounter(ICCID, 1)).toBe(101);
  });

  it('numbers the queue per SIM and expires it', async () => {
    const item = (part: number) => ({
      tpdu: '00',
      kind: 'command' as const,
      keyVersion: 1,
      counter: 1,
      part,
      parts: 2,
    });
    const [s1, s2] = await Promise.all([
      a.enqueue(ICCID, [item(1), item(2)], null, 1000, 500),
      b.enqueue(ICCID, [item(1), item(2)], null, 1000, 5000),
    ]);
    expect([...s1, ...s2].sort()).toEqual([1, 2, 3, 4]);
    expect((await a.fetchMt(ICCID, 0, 10, 1200)).map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    expect((await a.fetchMt(ICCID, 2, 10, 1200)).map((r) => r.seq)).toEqual([3, 4]);
    expect(await b.purgeExpired(1600)).toBe(2);
    expect((await a.fetchMt(ICCID, 0, 10, 1600)).length).toBe(2);
    expect(await a.lastSeq(ICCID)).toBe(4);
    expect(await a.enqueue('89860000000000000001', [item(1)], null, 0, 1)).toEqual([]);
    const sent = { ...SENT, sentAt: 2000 };
    await a.enqueue(ICCID, [item(1)], sent, 2000, 5000);
    expect((await b.findSent(ICCID, 9))?.messageType).toBe('bindResponse');
    expect((await b.pendingSent(ICCID, 5)).map((p) => p.counter)).toEqual([9]);
    await b.recordPor(ICCID, 1, 9, 'ok', 2500);
    expect(await b.pendingSent(ICCID, 5)).toEqual([]);
    expect((await a.findSent(ICCID, 9))?.porStatus).toBe('ok');
    await a.purgeExpired(2600, 3000);
    expect(await a.findSent(ICCID, 9)).toBeUndefined();
  });

  const LIMITS = { timeoutMs: 1000, maxMessagesPerSim: 4 };
  const pending = (received: number, duplicate: boolean) => ({
    status: 'incomplete',
    received,
    duplicate,
  });
  const seg = (ref: number, total: number, seq: number, body = 'aa'): MoSegment => ({
    message: `8:${ref}:${total}`,
    total,
    seq,
    userData: `050003${[ref, total, seq].map((n) => n.toString(16).padStart(2, '0')).join('')}${body}`,
  });

  it('completes a concatenated MO message exactly once when its last segments reach two stores at once', async () => {
    for (let ref = 0; ref < 20; ref++) {
      expect(await a.holdMoSegment(ICCID, seg(ref, 4, 1), 10, LIMITS)).toEqual(pending(1, false));
      await b.holdMoSegment(ICCID, seg(ref, 4, 3), 10, LIMITS);
      // The two last segments, each sent twice, to both stores at once.
      const outcomes = await Promise.all(
        [a, b, b, a].map((s, i) => s.holdMoSegment(ICCID, seg(ref, 4, i % 2 ? 2 : 4), 11, LIMITS)),
      );
      const complete = outcomes.filter((o) => o.status === 'complete');
      expect(complete).toEqual([
        { status: 'complete', segments: [1, 2, 3, 4].map((n) => seg(ref, 4, n).userData) },
      ]);
      expect(outcomes.filter((o) => o.status === 'incomplete' && o.duplicate)).toHaveLength(2);
    }
  });

  it('ignores repeated segments, drops a message whose segment changes, remembers completed ones', async () => {
    await a.holdMoSegment(ICCID, seg(1, 2, 1), 0, LIMITS);
    expect(await b.holdMoSegment(ICCID, seg(1, 2, 1), 1, LIMITS)).toEqual(pending(1, true));
    expect(await b.holdMoSegment(ICCID, seg(1, 2, 1, 'bb'), 2, LIMITS)).toEqual({
      status: 'conflict',
    });
    // The message is gone: its other segment starts it again.
    expect(await a.holdMoSegment(ICCID, seg(1, 2, 2), 3, LIMITS)).toMatchObject({ received: 1 });
    expect((await a.holdMoSegment(ICCID, seg(1, 2, 1), 4, LIMITS)).status).toBe('complete');
    // A late repeat of a relayed message is a duplicate, not a new message.
    expect(await b.holdMoSegment(ICCID, seg(1, 2, 2), 500, LIMITS)).toEqual(pending(2, true));
    // The same reference with new content is a new message.
    expect(await b.holdMoSegment(ICCID, seg(1, 2, 2, 'cc'), 600, LIMITS)).toEqual(
      pending(1, false),
    );
  });

  it('hands a completed message on when its claim lapses unsettled or is released, never once relayed', async () => {
    const CLAIM = { ...LIMITS, claimMs: 100 };
    const key = '8:7:2';
    await a.holdMoSegment(ICCID, seg(7, 2, 1), 0, CLAIM);
    expect((await a.holdMoSegment(ICCID, seg(7, 2, 2), 10, CLAIM)).status).toBe('complete');
    // Its process died before relaying: within the claim a retry is a duplicate...
    expect(await b.holdMoSegment(ICCID, seg(7, 2, 2), 50, CLAIM)).toEqual(pending(2, true));
    // ...after it, exactly one of two stores racing gets the message again.
    const raced = await Promise.all([
      a.holdMoSegment(ICCID, seg(7, 2, 2), 200, CLAIM),
      b.holdMoSegment(ICCID, seg(7, 2, 1), 200, CLAIM),
    ]);
    expect(raced.map((r) => r.status).sort()).toEqual(['complete', 'incomplete']);
    // A failed relay releases it: the next segment gets it at once.
    await b.settleMoMessage(ICCID, key, false);
    expect((await a.holdMoSegment(ICCID, seg(7, 2, 1), 210, CLAIM)).status).toBe('complete');
    // Relayed: never handed out again.
    await a.settleMoMessage(ICCID, key, true);
    expect(await b.holdMoSegment(ICCID, seg(7, 2, 2), 900, CLAIM)).toEqual(pending(2, true));
    await b.settleMoMessage(ICCID, key, false);
    expect(await b.holdMoSegment(ICCID, seg(7, 2, 2), 950, CLAIM)).toEqual(pending(2, true));
  });

  it('expires partial messages, bounds the messages held per SIM, and forgets them with the SIM', async () => {
    await a.holdMoSegment(ICCID, seg(1, 2, 1), 0, LIMITS);
    await a.holdMoSegment(ICCID, seg(2, 2, 1), 500, LIMITS);
    expect(await b.purgeMoSegments(1000)).toBe(1);
    // Message 1 is gone, message 2 still waits.
    expect(await a.holdMoSegment(ICCID, seg(1, 2, 2), 1001, LIMITS)).toMatchObject({
      received: 1,
    });
    expect((await a.holdMoSegment(ICCID, seg(2, 2, 2), 1002, LIMITS)).status).toBe('complete');
    // Past its expiry, a message starts afresh even before a purge.
    expect(await a.holdMoSegment(ICCID, seg(1, 2, 1), 2002, LIMITS)).toMatchObject({
      received: 1,
    });
    // At most four messages per SIM: the oldest goes.
    for (let ref = 10; ref < 14; ref++)
      await b.holdMoSegment(ICCID, seg(ref, 2, 1), 2100 + ref, LIMITS);
    expect(await a.holdMoSegment(ICCID, seg(1, 2, 2), 2200, LIMITS)).toMatchObject({
      received: 1,
    });
    expect(await a.holdMoSegment(ICCID, seg(13, 2, 2), 2200, LIMITS)).toMatchObject({
      status: 'complete',
    });
    expect(await a.deleteSim(ICCID)).toBe(true);
    expect(await a.purgeMoSegments(Number.MAX_SAFE_INTEGER)).toBe(0);
  });

  it('tells every store of the database when SMS are queued, after the commit (PostgreSQL)', async () => {
    await a.putSim(parseSimConfig(OTHER_SIM, { ...CONFIG, msisdn: null }), 1);
    const heard: string[] = [];
    let gaps = 0;
    const stop = await a.watchMt((iccid) => heard.push(iccid), { onGap: () => gaps++ });
    const item: MtItem = {
      tpdu: '00',
      kind: 'command',
      keyVersion: 1,
      counter: 1,
      part: 1,
      parts: 1,
    };
    const hear = async (n: number) => {
      for (let i = 0; i < 500 && heard.length < n; i++) await sleep(10);
      return heard.length;
    };
    await b.enqueue(ICCID, [item], null, 0, 1000);
    if (kind === 'sqlite') {
      // One process per database file: the relay wakes its own waiters, nothing to listen to.
      await stop();
      expect(heard).toEqual([]);
      return;
    }
    expect(await hear(1)).toBe(1);
    expect(heard).toEqual([ICCID]);
    // A queue write that rolls back tells no one: the next one heard is the next one committed.
    const sent = SENT;
    await b.enqueue(ICCID, [item], sent, 0, 1000);
    await expect(b.enqueue(ICCID, [item], sent, 0, 1000)).rejects.toThrow();
    await b.enqueue(OTHER_SIM, [item], null, 0, 1000);
    expect(await hear(3)).toBe(3);
    expect(heard).toEqual([ICCID, ICCID, OTHER_SIM]);
    // The listening connection dies: it comes back, says so, and hears again.
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
      [`simvault listen ${db.location.schema!}`],
    );
    await admin.end();
    for (let i = 0; i < 500 && gaps === 0; i++) await sleep(10);
    expect(gaps).toBe(1);
    await b.enqueue(ICCID, [item], null, 0, 1000);
    expect(await hear(4)).toBe(4);
    expect(heard).toEqual([ICCID, ICCID, OTHER_SIM, ICCID]);
    await stop();
    await stop();
  });
});

const OTHER_SIM = '89860000000000000002';
const SENT: SentPacket = {
  keyVersion: 1,
  counter: 9,
  spi: '1629',
  kic: 0x12,
  kid: 0x12,
  tar: 'b00010',
  messageType: 'bindResponse',
  transactionId: 1,
  message: '01',
  attempt: 1,
  sentAt: 0,
  porStatus: null,
  porAt: null,
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('OTA migrations', () => {
  it('refuse a database whose OTA schema is newer than the code', async () => {
    const db = await openSqliteDriver(':memory:');
    await migrateOta(db);
    await db.run("INSERT INTO ota_migrations (version, name, applied_at) VALUES (99, 'future', 0)");
    await expect(migrateOta(db)).rejects.toMatchObject({ code: 'SERVER_INTERNAL' });
    await db.close();
  });
});
