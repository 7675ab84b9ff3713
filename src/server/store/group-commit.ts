/**
 * Group commit: the write transactions requested while the event loop was busy run as one
 * database transaction, so a burst of requests pays for one commit (one fsync) instead of one
 * each. SQLite has a single writer and syncs its WAL on every commit, which made the commit, not
 * the SQL, the cost of a bind.
 *
 * A batch first runs without savepoints (two statements less per piece of work). If a piece of
 * work throws, that attempt is rolled back and the batch runs again with each piece inside its
 * own savepoint: the one that throws is rolled back alone and rejects alone, the others still
 * commit. Work may therefore run twice and must touch nothing but the transaction. No caller is
 * answered before the transaction that holds its work has committed; if the commit fails, every
 * caller of the batch gets that error.
 *
 * @module
 */
import type { SqlDriver, SqlExecutor } from './sql.js';

interface Pending {
  work: (tx: SqlExecutor) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Most pieces of work in one transaction, so a long queue does not hold the write lock for long. */
const DEFAULT_MAX_BATCH = 64;

/**
 * Batches write transactions of one database into group commits.
 *
 * @example
 * ```ts
 * import { GroupCommit } from './group-commit.js';
 * import { openSqliteDriver } from './sqlite.js';
 * const db = await openSqliteDriver('/var/lib/simvault/registry.sqlite');
 * const commits = new GroupCommit(db);
 * // Both inserts share one commit; each promise resolves once it is durable.
 * await Promise.all([
 *   commits.run((tx) => tx.run('INSERT INTO t (a) VALUES (?)', [1])),
 *   commits.run((tx) => tx.run('INSERT INTO t (a) VALUES (?)', [2])),
 * ]);
 * ```
 */
export class GroupCommit {
  private readonly db: SqlDriver;
  private readonly maxBatch: number;
  private pending: Pending[] = [];
  private scheduled = false;

  /**
   * @param db - the database
   * @param maxBatch - most pieces of work per transaction (default 64)
   */
  constructor(db: SqlDriver, maxBatch = DEFAULT_MAX_BATCH) {
    this.db = db;
    this.maxBatch = maxBatch;
  }

  /**
   * Run `work` in a write transaction shared with the work of other callers; resolves to its
   * value once that transaction has committed, rejects with its error (its own writes rolled
   * back) or with the commit's error. `work` may run twice (see the module comment): it must
   * touch nothing but `tx`.
   */
  run<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ work, resolve: resolve as (value: unknown) => void, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // After the I/O phase: every request whose bytes arrived in this turn joins the batch.
    setImmediate(() => {
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending.splice(0, this.maxBatch);
    let outcomes: Outcome[] | undefined;
    let failure: unknown;
    try {
      outcomes = await this.db
        .transaction((tx) => runAll(tx, batch, false))
        .catch((e: unknown) => {
          if (!(e instanceof WorkFailed)) throw e;
          return this.db.transaction((tx) => runAll(tx, batch, true));
        });
    } catch (e) {
      failure = e;
    }
    // Answered only now, after COMMIT returned: every accepted piece of work is durable.
    batch.forEach((item, i) => {
      const outcome = outcomes?.[i];
      if (outcome === undefined) item.reject(failure);
      else if (outcome.ok) item.resolve(outcome.value);
      else item.reject(outcome.error);
    });
    this.scheduled = false;
    if (this.pending.length) this.schedule();
  }
}

/** Rolls back the attempt without savepoints: the batch runs again with them. */
class WorkFailed extends Error {}

async function runAll(
  tx: SqlExecutor,
  batch: readonly Pending[],
  isolated: boolean,
): Promise<Outcome[]> {
  // Alone in its transaction, work needs no savepoint: its failure rolls back the transaction.
  if (batch.length === 1) return [{ ok: true, value: await batch[0]!.work(tx) }];
  const outcomes: Outcome[] = [];
  for (const item of batch) {
    if (!isolated) {
      try {
        outcomes.push({ ok: true, value: await item.work(tx) });
      } catch {
        throw new WorkFailed();
      }
      continue;
    }
    await tx.run('SAVEPOINT simvault_group_item');
    try {
      const value = await item.work(tx);
      await tx.run('RELEASE simvault_group_item');
      outcomes.push({ ok: true, value });
    } catch (error) {
      // If even the rollback fails, the transaction is unusable: the whole batch fails.
      await tx.run('ROLLBACK TO simvault_group_item');
      await tx.run('RELEASE simvault_group_item');
      outcomes.push({ ok: false, error });
    }
  }
  return outcomes;
}
