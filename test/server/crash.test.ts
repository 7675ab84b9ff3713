// Crash test: the real `simvault server` as a child process, killed with SIGKILL in the middle of
// a large import, a burst of binds and a burst of launches, then restarted on the same data.
// Nothing acknowledged may be lost, nothing may be half-applied, nothing may be duplicated.
import type { ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { fromHex } from '../../src/bytes.js';
import { CardAppClient } from '../../src/server/card-app/client.js';
import { loadOrCreateKeys } from '../../src/server/keys.js';
import { openStore } from '../../src/server/store/open.js';
import { TV, cidBytes, cidHex, cidKey } from './fixtures.js';
import { dbArgs, spawnServer, type ServerChild } from './spawn.js';
import { STORE_KINDS, testDatabase, type TestDatabase } from './stores.js';

interface Child {
  url: string;
  process: ChildProcess;
  exited: ServerChild['exited'];
}

async function startServer(db: TestDatabase): Promise<Child> {
  const child = await spawnServer([...dbArgs(db), '--quiet', '--rate-limit', '1000000/1000000']);
  return { url: child.urls['card-app']!, process: child.process, exited: child.exited };
}

async function kill9(child: Child): Promise<void> {
  child.process.kill('SIGKILL');
  expect((await child.exited).signal).toBe('SIGKILL');
}

/** Settle every request; resolve `acked` once `k` of them succeeded (the moment to kill). */
function burstOf<T>(
  ps: Promise<T>[],
  k: number,
): { all: Promise<PromiseSettledResult<T>[]>; acked: Promise<void> } {
  let ok = 0;
  let hit!: () => void;
  const acked = new Promise<void>((r) => (hit = r));
  const all = Promise.allSettled(
    ps.map((p) =>
      p.then((v) => {
        if (++ok === k) hit();
        return v;
      }),
    ),
  );
  void all.then(() => {
    hit();
  });
  return { all, acked };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Resolve once the server has a write transaction in flight (SQLite: the WAL grows; PostgreSQL:
 * a backend of the test database holds a transaction id), or after `ms` at the latest.
 */
async function writing(db: TestDatabase, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  if (db.location.db === undefined) {
    const wal = join(db.location.dataDir, 'registry.sqlite-wal');
    const size = () => (existsSync(wal) ? statSync(wal).size : 0);
    const before = size();
    while (Date.now() < until) {
      if (size() > before + 64 * 1024) return true;
      await sleep(2);
    }
    return false;
  }
  const client = new pg.Client({ connectionString: db.location.db });
  await client.connect();
  try {
    while (Date.now() < until) {
      const r = await client.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() AND query LIKE 'INSERT INTO cards%'",
      );
      if ((r.rows[0] as { n: number }).n > 0) return true;
      await sleep(2);
    }
    return false;
  } finally {
    await client.end();
  }
}
const sim = (i: number) => `8986${String(i).padStart(16, '0')}`;

describe.each(STORE_KINDS)('kill -9 of simvault server on %s', (kind) => {
  const db = testDatabase(kind);
  afterAll(() => db.drop());

  it('loses nothing acknowledged and applies nothing by halves', async () => {
    let server = await startServer(db);
    const keys = await loadOrCreateKeys(join(db.location.dataDir, 'keys.json'));
    const clientOf = (url: string) =>
      new CardAppClient({
        baseUrl: url,
        otaKey: keys.find((k) => k.role === 'ota')!,
        operatorKey: keys.find((k) => k.role === 'operator')!,
      });
    let client = clientOf(server.url);
    await client.defineApplication(TV);
    await client.defineOffer('tv', [TV.aid]);

    // 1. A large import, killed while it runs: afterwards all of it or none of it.
    const N = 20_000;
    const big = JSON.stringify(
      Array.from({ length: N }, (_, i) => ({ cid: cidHex(1000 + i), offer: 'tv' })),
    );
    const importing = client.importCards(big, 'json').then(
      (r) => r.accepted,
      () => undefined,
    );
    const midTransaction = await writing(db, 5000);
    await kill9(server);
    const first = await importing;
    server = await startServer(db);
    client = clientOf(server.url);
    const store = await openStore(db.location);
    const afterCrash = await store.countCards();
    expect([0, N]).toContain(afterCrash);
    if (first !== undefined) expect(afterCrash).toBe(N);
    const again = await client.importCards(big, 'json');
    expect(again.accepted + again.rejected.filter((r) => r.reason === 'duplicate').length).toBe(N);
    expect(await store.countCards()).toBe(N);
    expect((await store.customizedApplications(cidKey(1000 + N - 1))).map((a) => a.aid)).toEqual([
      TV.aid,
    ]);

    // 2. A burst of binds, killed mid-burst: every acknowledged bind survives, none is doubled.
    const B = 300;
    const bind = (c: CardAppClient, i: number) =>
      c.bind({ type: 'bindRequest', transactionId: i, cid: cidBytes(1000 + i), iccid: sim(i) });
    const burst = burstOf(
      Array.from({ length: B }, (_, i) => bind(client, i)),
      40,
    );
    await burst.acked;
    await kill9(server);
    const outcomes = await burst.all;
    const acknowledged = outcomes.flatMap((o, i) =>
      o.status === 'fulfilled' && o.value.result === 'ok' ? [i] : [],
    );
    server = await startServer(db);
    client = clientOf(server.url);
    for (const i of acknowledged)
      expect((await store.getBinding(cidKey(1000 + i)))?.iccid).toBe(sim(i));
    const retried = await Promise.all(Array.from({ length: B }, (_, i) => bind(client, i)));
    expect(acknowledged.length).toBeGreaterThanOrEqual(40);
    expect(acknowledged.length).toBeLessThan(B);
    expect(retried.every((r) => r.result === 'ok')).toBe(true);
    expect(await store.countBindings()).toBe(B);

    // 3. A burst of launches on one card, killed mid-burst: the count holds every acknowledged
    //    launch and no launch that was never sent.
    const L = 300;
    const launch = (c: CardAppClient, i: number) =>
      c.launch(
        { type: 'launchRequest', transactionId: i, cid: cidBytes(1000), aid: fromHex(TV.aid) },
        sim(0),
      );
    const launches = burstOf(
      Array.from({ length: L }, (_, i) => launch(client, i)),
      40,
    );
    await launches.acked;
    await kill9(server);
    const launched = (await launches.all).filter((o) => o.status === 'fulfilled').length;
    server = await startServer(db);
    const downloads = (await store.fileRecords(cidKey(1000)))[0]?.downloads ?? 0;
    expect(launched).toBeGreaterThanOrEqual(40);
    expect(launched).toBeLessThan(L);
    expect(downloads).toBeGreaterThanOrEqual(launched);
    expect(downloads).toBeLessThanOrEqual(L);
    await store.close();

    // A clean stop on SIGINT or SIGTERM exits 0, and the SQLite file is sound.
    server.process.kill(kind === 'sqlite' ? 'SIGINT' : 'SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    if (kind === 'sqlite') {
      const file = new Database(join(db.location.dataDir, 'registry.sqlite'), { readonly: true });
      expect(file.pragma('integrity_check', { simple: true })).toBe('ok');
      file.close();
    }
    console.log(
      `${kind}: import ${first === undefined ? 'interrupted' : 'finished'}${midTransaction ? ' inside its transaction' : ''} (${afterCrash} rows after the crash); ` +
        `${acknowledged.length}/${B} binds acknowledged before the kill; ${launched}/${L} launches acknowledged, ${downloads} counted`,
    );
  }, 120_000);
});
