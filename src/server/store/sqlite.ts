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
import type Database from 'better-sqlite3';
import { loadDriver } from '../drivers.js';
import type { SqlDriver, SqlExecutor, SqlValue } from './sql.js';

type Statement = Database.Statement;

/** One queue per database file in this process. */
const queues = new Map<string, { tail: Promise<unknown>; users: number }>();

/**
 * SQLite tuning (`StoreLocation.sqlite`).
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
 * const db = await openSqliteDriver('/var/lib/simvault/registry.sqlite');
 * await db.close();
 * ```
 */
export async function openSqliteDriver(
  path: string,
  options: SqliteOptions = {},
): Promise<SqlDriver> {
  const Sqlite = await loadDriver('better-sqlite3', 'a SQLite registry');
  const db = new Sqlite(path);
  db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 10_000}`);
  if (path !== ':memory:') db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
  db.pragma('foreign_keys = ON');
  // Deleted and rewritten values (keys sealed under a KEK since rotated away) are zeroed, not left in free pages.
  db.pragma('secure_delete = ON');

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
  // better-sqlite3 answers synchronously; a throw becomes a rejection, as an async driver's would.
  const promised = <T>(run: () => T): Promise<T> =>
    new Promise<T>((done) => {
      done(run());
    });
  const direct: SqlExecutor = {
    all: <T>(sql: string, params: readonly SqlValue[] = []) =>
      promised(() => prepare(sql).all(...params) as T[]),
    get: <T>(sql: string, params: readonly SqlValue[] = []) =>
      promised(() => prepare(sql).get(...params) as T | undefined),
    run: (sql: string, params: readonly SqlValue[] = []) =>
      promised(() => {
        const stmt = prepare(sql);
        // A statement with RETURNING is a reader: run() would refuse it.
        if (stmt.reader) return stmt.all(...params).length;
        return stmt.run(...params).changes;
      }),
    exec: (sql: string) =>
      promised(() => {
        db.exec(sql);
      }),
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
      await serialized(() => Promise.resolve(undefined));
      db.close();
      if (--queue.users === 0) queues.delete(key);
    },
  };
}
