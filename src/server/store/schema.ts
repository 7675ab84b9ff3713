/**
 * The registry schema, one list of versioned migrations shared by SQLite and PostgreSQL. Only SQL
 * both accept is used: `TEXT`, `BIGINT`, `INTEGER`, `CHECK`, foreign keys. A migration, once
 * published, never changes; a change to the schema is a new migration at the end.
 *
 * @module
 */

/**
 * One schema migration.
 *
 * @example
 * ```ts
 * import type { Migration } from './schema.js';
 * const m: Migration = { version: 3, name: 'card notes', sql: 'ALTER TABLE cards ADD COLUMN note TEXT' };
 * ```
 */
export interface Migration {
  /** 1, 2, 3, ... in order, no gaps. */
  version: number;
  /** What it does, recorded in the migrations table. */
  name: string;
  /** `;`-separated statements, valid on both databases. */
  sql: string;
}

/**
 * Every migration, oldest first.
 *
 * @example
 * ```ts
 * import { MIGRATIONS } from './schema.js';
 * MIGRATIONS.at(-1)!.version; // the current schema version
 * ```
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'card information registry',
    sql: `
      -- 1. card application info: a card is keyed by its CID identity (bytes 0-14 as hex), since
      --    many hosts strip the CRC byte.
      CREATE TABLE cards (
        cid TEXT PRIMARY KEY,
        state TEXT NOT NULL CHECK (state IN ('issued', 'active', 'blocked', 'retired')),
        stage TEXT NOT NULL,
        offer TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      );
      -- The application catalog with each application's download resource (absent = preloaded).
      CREATE TABLE applications (
        aid TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        zone TEXT NOT NULL CHECK (zone IN ('operator', 'advertising', 'multimedia', 'user')),
        size BIGINT NOT NULL CHECK (size >= 0),
        version TEXT NOT NULL,
        resource_url TEXT,
        resource_digest TEXT,
        resource_size BIGINT CHECK (resource_size >= 0),
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        CHECK ((resource_url IS NULL AND resource_digest IS NULL AND resource_size IS NULL)
            OR (resource_url IS NOT NULL AND resource_digest IS NOT NULL AND resource_size IS NOT NULL))
      );
      -- An offer: a named, ordered set of applications given to cards.
      CREATE TABLE offers (
        name TEXT NOT NULL,
        aid TEXT NOT NULL REFERENCES applications (aid),
        position INTEGER NOT NULL,
        PRIMARY KEY (name, aid)
      );
      -- 3. user application customization info: the applications of each card.
      CREATE TABLE card_applications (
        cid TEXT NOT NULL REFERENCES cards (cid) ON DELETE CASCADE,
        aid TEXT NOT NULL REFERENCES applications (aid),
        position INTEGER NOT NULL,
        PRIMARY KEY (cid, aid)
      );
      -- 2. card binding info: the primary key is what makes concurrent binds produce one binding.
      CREATE TABLE bindings (
        cid TEXT PRIMARY KEY REFERENCES cards (cid) ON DELETE CASCADE,
        iccid TEXT NOT NULL,
        imsi TEXT,
        brand TEXT,
        bound_at BIGINT NOT NULL
      );
      CREATE INDEX bindings_iccid ON bindings (iccid);
      -- 4. in-card application file management info, with download and delete counts.
      CREATE TABLE files (
        cid TEXT NOT NULL REFERENCES cards (cid) ON DELETE CASCADE,
        aid TEXT NOT NULL REFERENCES applications (aid),
        status TEXT NOT NULL CHECK (status IN ('pending', 'stored', 'failed', 'deleted')),
        downloads BIGINT NOT NULL DEFAULT 0,
        deletes BIGINT NOT NULL DEFAULT 0,
        stored_size BIGINT,
        stored_digest TEXT,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (cid, aid)
      );
      CREATE INDEX files_aid ON files (aid);
    `,
  },
  {
    version: 2,
    name: 'request nonces',
    sql: `
      -- Nonces of signed requests, shared by every server process on the database so a request
      -- replayed to another process is still refused.
      CREATE TABLE nonces (
        key_id TEXT NOT NULL,
        nonce TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (key_id, nonce)
      );
      CREATE INDEX nonces_expiry ON nonces (expires_at);
    `,
  },
];
