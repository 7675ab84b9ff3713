/**
 * The PostgreSQL driver (`pg`): for operators whose registry outgrows one machine. Several server
 * processes on one database behave as one, because every invariant lives in the database: unique
 * keys, `INSERT ... ON CONFLICT`, `UPDATE ... SET n = n + 1`, and an advisory lock around schema
 * migrations. What one process must tell the others at once (an SMS queued for a SIM) goes by
 * `LISTEN/NOTIFY`, sent inside the writing transaction so it is heard only after the commit. A
 * store can live in its own schema (`search_path`), which is how parallel test runs stay apart.
 *
 * @module
 */
import type Pg from 'pg';
import { ArgumentError } from '../../errors.js';
import { loadDriver } from '../drivers.js';
import type { SqlDriver, SqlExecutor, SqlNotifications, SqlValue } from './sql.js';

const INT8_OID = 20;
/** Longest wait between two attempts to reopen a lost listening connection. */
const MAX_RECONNECT_DELAY_MS = 5000;

/**
 * PostgreSQL pool tuning (`StoreLocation.postgres`).
 *
 * @example
 * ```ts
 * import type { PostgresOptions } from './postgres.js';
 * const o: PostgresOptions = { schema: 'simvault', poolSize: 10 };
 * ```
 */
export interface PostgresOptions {
  /** The schema holding the registry; created if missing (default `public`). */
  schema?: string;
  /** Connections in the pool (default 10). */
  poolSize?: number;
}

/** A statement as pg runs it: `$1, $2, ...` placeholders and a name, so each connection parses
 * and plans it once and then only binds and executes it. */
interface Prepared {
  name: string;
  text: string;
}

/** `?` placeholders to `$1, $2, ...` (the shared SQL never has `?` inside a literal). */
function prepared(sql: string, cache: Map<string, Prepared>): Prepared {
  let out = cache.get(sql);
  if (out === undefined) {
    let n = 0;
    out = { name: `simvault_${cache.size}`, text: sql.replace(/\?/g, () => `$${++n}`) };
    cache.set(sql, out);
  }
  return out;
}

function quoteIdent(name: string, what = 'schema'): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name))
    throw new ArgumentError(`bad PostgreSQL ${what} name '${name}'`);
  return `"${name}"`;
}

/**
 * Connect a pool to PostgreSQL as a {@link SqlDriver}, creating the schema if it does not exist.
 * BIGINT columns come back as numbers (every count and time in the registry is a safe integer).
 *
 * @example
 * ```ts
 * import { openPostgresDriver } from './postgres.js';
 * const db = await openPostgresDriver('postgres://postgres@127.0.0.1:5432/test', { schema: 'simvault' });
 * await db.close();
 * ```
 */
export async function openPostgresDriver(
  url: string,
  options: PostgresOptions = {},
): Promise<SqlDriver> {
  const schema = options.schema ?? 'public';
  const quoted = quoteIdent(schema);
  const pg = await loadDriver('pg', 'a PostgreSQL registry');
  const builtin = pg.types.getTypeParser.bind(pg.types) as (
    oid: number,
    format?: 'text' | 'binary',
  ) => (value: string) => unknown;
  const types = {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
      oid === INT8_OID
        ? (v: string) => Number(v)
        : builtin(oid, format)) as typeof pg.types.getTypeParser,
  };
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    types,
    options: `-c search_path=${quoted}`,
  });
  // An idle client that loses its connection must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  try {
    await pool.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
  } catch (e) {
    // Two processes creating the same schema at once: the loser sees a unique violation.
    if ((e as { code?: string }).code !== '23505') {
      await pool.end();
      throw e;
    }
  }
  const cache = new Map<string, Prepared>();
  const query = (client: Pg.Pool | Pg.PoolClient, sql: string, params: readonly SqlValue[]) =>
    client.query({ ...prepared(sql, cache), values: params as SqlValue[] });
  const on = (client: Pg.Pool | Pg.PoolClient): SqlExecutor => ({
    async all<T>(sql: string, params: readonly SqlValue[] = []) {
      return (await query(client, sql, params)).rows as T[];
    },
    async get<T>(sql: string, params: readonly SqlValue[] = []) {
      return (await query(client, sql, params)).rows[0] as T | undefined;
    },
    async run(sql: string, params: readonly SqlValue[] = []) {
      return (await query(client, sql, params)).rowCount ?? 0;
    },
    async exec(sql: string) {
      await client.query(sql);
    },
  });
  const direct = on(pool);
  // NOTIFY reaches every schema of the database: the payload names ours, and listeners skip others'.
  const prefix = `${schema} `;
  const notifications: SqlNotifications = {
    async notify(tx, channel, payload) {
      await tx.get('SELECT pg_notify(?, ?)', [channel, prefix + payload]);
    },
    async listen(channel, onPayload, events = {}) {
      const listen = `LISTEN ${quoteIdent(channel, 'channel')}`;
      let client: Pg.Client | undefined;
      let stopped = false;
      let delay = 50;
      let timer: NodeJS.Timeout | undefined;
      const open = async (): Promise<void> => {
        // Named, so an operator (or a test) can tell it among the pool's connections.
        const c = new pg.Client({
          connectionString: url,
          application_name: `simvault listen ${schema}`,
        });
        // A lost connection emits 'error' then 'end'; 'end' is where it is reopened.
        c.on('error', (e) => events.onError?.(e));
        c.on('notification', (n) => {
          if (n.channel === channel && n.payload?.startsWith(prefix))
            onPayload(n.payload.slice(prefix.length));
        });
        try {
          await c.connect();
          await c.query(listen);
        } catch (e) {
          await c.end().catch(() => undefined);
          throw e;
        }
        if (stopped) {
          await c.end().catch(() => undefined);
          return;
        }
        client = c;
        delay = 50;
        c.once('end', () => {
          client = undefined;
          if (!stopped) retry();
        });
      };
      const retry = () => {
        timer = setTimeout(() => {
          timer = undefined;
          open().then(
            () => {
              if (!stopped) events.onReconnect?.();
            },
            (e: unknown) => {
              events.onError?.(e);
              delay = Math.min(delay * 2, MAX_RECONNECT_DELAY_MS);
              if (!stopped) retry();
            },
          );
        }, delay);
        timer.unref();
      };
      await open();
      return {
        async close() {
          stopped = true;
          clearTimeout(timer);
          await client?.end().catch(() => undefined);
          client = undefined;
        },
      };
    },
  };
  let closed = false;
  return {
    kind: 'postgres',
    // Two 32-bit keys: a constant for "simvault migration" and the schema, so stores in
    // different schemas migrate independently.
    migrationLock: 'SELECT pg_advisory_xact_lock(1936289140, hashtext(current_schema()))',
    notifications,
    ...direct,
    async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query('BEGIN');
        const value = await fn(on(client));
        await client.query('COMMIT');
        return value;
      } catch (e) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
        throw e;
      } finally {
        client.release(broken);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

/**
 * Drop a schema and everything in it (tests use one schema per run).
 *
 * @example
 * ```ts
 * import { dropPostgresSchema } from './postgres.js';
 * await dropPostgresSchema('postgres://postgres@127.0.0.1:5432/test', 'simvault_test_1234');
 * ```
 */
export async function dropPostgresSchema(url: string, schema: string): Promise<void> {
  const pg = await loadDriver('pg', 'a PostgreSQL registry');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
  } finally {
    await client.end();
  }
}
