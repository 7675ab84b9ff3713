/**
 * The SQLite driver (better-sqlite3): the embedded default registry. WAL journal, full fsync on
 * commit, foreign keys on, a busy timeout so several processes can share one file.
 *
 * better-sqlite3 is synchronous while the store is written against an async interface, so every
 * statement and transaction of one database file goes through one in-process queue: a transaction
 * that awaits between statements can never have another caller's statement slip into it, and two
 * connections to the same file in one process never wait on each other's lock synchronously
 * (which would stall the event loop until the busy timeout).
 *
 * @module
 */
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { SqlDriver, SqlExecutor, SqlValue } from './sql.js';

type Statement = Database.Statement;

/** One queue per database file in this process. */
const queues = new Map<string, { tail: Promise<unknown>; users: number }>();

/** A synchronous call's value or throw as a promise, as an async driver would give it. */
function settled<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}

/**
 * Options of {@link openSqliteDriver}.
 *
 * @example
 * ```ts
 * import type { SqliteOptions } from './sqlite.js';
 * const o: SqliteOptions = { synchronous: 'NORMAL', busyTimeoutMs: 2000 };
 * ```
 */
export interface SqliteOptions {
  /** `FULL` (default: a committed write survives power loss) or `NORMAL` (survives a crash of the process). */
  synchronous?: 'FULL' | 'NORMAL';
  /** How long a statement waits for another process's write lock (default 10 000 ms). */
  busyTimeoutMs?: number;
}

/**
 * Open (creating if needed) a SQLite database file, or `:memory:`, as a {@link SqlDriver}.
 *
 * @example
 * ```ts
 * import { openSqliteDriver } from './sqlite.js';
 * const db = openSqliteDriver('/var/lib/simvault/registry.sqlite');
 * await db.close();
 * ```
 */
export function openSqliteDriver(path: string, options: SqliteOptions = {}): SqlDriver {
  const db = new Database(path);
  db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 10_000}`);
  if (path !== ':memory:') db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
  db.pragma('foreign_keys = ON');

  const key = path === ':memory:' ? `:memory:${Math.random()}` : resolve(path);
  const queue = queues.get(key) ?? { tail: Promise.resolve(), users: 0 };
  queue.users++;
  queues.set(key, queue);

  const statements = new Map<string, Statement>();
  const prepare = (sql: string): Statement => {
    let stmt = statements.get(sql);
    if (stmt === undefined) {
      stmt = db.prepare(sql);
      statements.set(sql, stmt);
    }
    return stmt;
  };
  const direct: SqlExecutor = {
    // better-sqlite3 is synchronous; the executor's promises only match the PostgreSQL driver.
    all<T>(sql: string, params: readonly SqlValue[] = []) {
      return settled(() => prepare(sql).all(...params) as T[]);
    },
    get<T>(sql: string, params: readonly SqlValue[] = []) {
      return settled(() => prepare(sql).get(...params) as T | undefined);
    },
    run(sql: string, params: readonly SqlValue[] = []) {
      return settled(() => {
        const stmt = prepare(sql);
        // A statement with RETURNING is a reader: run() would refuse it.
        return stmt.reader ? stmt.all(...params).length : stmt.run(...params).changes;
      });
    },
    exec(sql: string) {
      return settled(() => {
        db.exec(sql);
      });
    },
  };
  let closed = false;
  const serialized = <T>(fn: () => Promise<T>): Promise<T> => {
    const result = queue.tail.then(fn, fn);
    queue.tail = result.catch(() => undefined);
    return result;
  };

  return {
    kind: 'sqlite',
    migrationLock: undefined,
    all: (sql, params) => serialized(() => direct.all(sql, params)),
    get: (sql, params) => serialized(() => direct.get(sql, params)),
    run: (sql, params) => serialized(() => direct.run(sql, params)),
    exec: (sql) => serialized(() => direct.exec(sql)),
    transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      return serialized(async () => {
        db.exec('BEGIN IMMEDIATE');
        try {
          const value = await fn(direct);
          db.exec('COMMIT');
          return value;
        } catch (e) {
          if (db.inTransaction) db.exec('ROLLBACK');
          throw e;
        }
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      await serialized(() => Promise.resolve());
      db.close();
      if (--queue.users === 0) queues.delete(key);
    },
  };
}
