// Group commit over the real drivers: batching, per-work failure, and no answer before COMMIT.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GroupCommit } from '../../../src/server/store/group-commit.js';
import { openDriver } from '../../../src/server/store/open.js';
import type { SqlDriver, SqlExecutor } from '../../../src/server/store/sql.js';
import { STORE_KINDS, testDatabase, type TestDatabase } from '../stores.js';

/** A driver whose COMMIT waits for `release()` and then succeeds or fails as told. */
function gatedDriver(db: SqlDriver) {
  let transactions = 0;
  let release: (fail?: Error) => void = () => undefined;
  let gate = Promise.resolve<Error | undefined>(undefined);
  const close = () => {
    gate = new Promise((resolve) => (release = resolve));
  };
  const driver: SqlDriver = {
    ...db,
    async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      transactions++;
      return db.transaction(async (tx) => {
        const value = await fn(tx);
        // Thrown here, the transaction rolls back instead of committing: a failed COMMIT.
        const failure = await gate;
        if (failure) throw failure;
        return value;
      });
    },
  };
  return {
    driver,
    transactions: () => transactions,
    close,
    release: (fail?: Error) => {
      release(fail);
    },
  };
}

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe.each(STORE_KINDS)('group commit on %s', (kind) => {
  let test: TestDatabase;
  let db: SqlDriver;

  beforeEach(async () => {
    test = testDatabase(kind);
    db = await openDriver(test.location);
    await db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v BIGINT NOT NULL)');
  });
  afterEach(async () => {
    await db.close();
    await test.drop();
  });
  const insert = (k: string, v: number) => (tx: SqlExecutor) =>
    tx.run('INSERT INTO t (k, v) VALUES (?, ?)', [k, v]);
  const keys = async () =>
    (await db.all<{ k: string }>('SELECT k FROM t ORDER BY k')).map((r) => r.k);

  it('runs work requested in one turn in one transaction, each answered with its value', async () => {
    const gated = gatedDriver(db);
    const commits = new GroupCommit(gated.driver);
    const values = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        commits.run(async (tx) => {
          await insert(`k${i}`, i)(tx);
          return i * 2;
        }),
      ),
    );
    expect(values).toEqual(Array.from({ length: 10 }, (_, i) => i * 2));
    expect(gated.transactions()).toBe(1);
    expect(await keys()).toHaveLength(10);
  });

  it('rolls back and rejects only the work that failed; the rest of the batch commits', async () => {
    const commits = new GroupCommit(db);
    const results = await Promise.allSettled([
      commits.run(insert('a', 1)),
      // A duplicate key: a database error inside the batch's transaction.
      commits.run(async (tx) => {
        await insert('b', 2)(tx);
        return insert('a', 3)(tx);
      }),
      commits.run(async (tx) => {
        await insert('c', 4)(tx);
        throw new Error('refused by the caller');
      }),
      commits.run(insert('d', 5)),
    ]);
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'rejected',
      'rejected',
      'fulfilled',
    ]);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({
      message: 'refused by the caller',
    });
    // b and c were written by failed work: rolled back with it.
    expect(await keys()).toEqual(['a', 'd']);
  });

  it('answers nobody before COMMIT, and everybody with the error of a failed COMMIT', async () => {
    const gated = gatedDriver(db);
    const commits = new GroupCommit(gated.driver);
    gated.close();
    let answered = 0;
    const batch = [commits.run(insert('a', 1)), commits.run(insert('b', 2))].map((p) =>
      p.finally(() => answered++),
    );
    await turns(20);
    // The work ran (its rows wait in the open transaction) but the commit has not happened.
    expect(answered).toBe(0);
    gated.release(new Error('disk gone'));
    const results = await Promise.allSettled(batch);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason).toMatchObject({ message: 'disk gone' });
    expect(await keys()).toEqual([]);
  });

  it('batches the work that arrives while a batch commits into the next one', async () => {
    const gated = gatedDriver(db);
    const commits = new GroupCommit(gated.driver);
    gated.close();
    const first = commits.run(insert('a', 1));
    await turns(5);
    const later = [commits.run(insert('b', 2)), commits.run(insert('c', 3))];
    await turns(5);
    expect(gated.transactions()).toBe(1);
    gated.release();
    await first;
    await Promise.all(later);
    expect(gated.transactions()).toBe(2);
    expect(await keys()).toEqual(['a', 'b', 'c']);
  });

  it('keeps a batch to its maximum size', async () => {
    const gated = gatedDriver(db);
    const commits = new GroupCommit(gated.driver, 4);
    await Promise.all(Array.from({ length: 10 }, (_, i) => commits.run(insert(`k${i}`, i))));
    expect(gated.transactions()).toBe(3);
    expect(await keys()).toHaveLength(10);
  });
});
