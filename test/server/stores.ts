// The two registry databases every store and HTTP test runs against. PostgreSQL tests use a
// schema of their own per store (dropped afterwards) so parallel runs never collide.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach } from 'vitest';
import { dropPostgresSchema } from '../../src/server/store/postgres.js';
import { openStore, type StoreLocation } from '../../src/server/store/open.js';
import type { RegistryStore } from '../../src/server/store/store.js';

export const PG_URL = process.env['SIMVAULT_TEST_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The key-encryption key of the PostgreSQL test databases (SQLite ones use DATA/kek). */
export const TEST_KEK = new Uint8Array(32).fill(0x4b);

function writeTestKek(dataDir: string): string {
  const file = join(dataDir, 'test.kek');
  writeFileSync(file, Buffer.from(TEST_KEK).toString('hex'), { mode: 0o600 });
  return file;
}

export const STORE_KINDS = ['sqlite', 'postgres'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

/** A fresh, empty registry location of one kind, and how to remove it. */
export interface TestDatabase {
  location: StoreLocation;
  /** Open one more store (another process's view) on the same database. */
  open(): Promise<RegistryStore>;
  /** Remove the database (after every store on it is closed). */
  drop(): Promise<void>;
}

export function testDatabase(kind: StoreKind): TestDatabase {
  const dataDir = mkdtempSync(join(tmpdir(), 'simvault-server-'));
  const location: StoreLocation =
    kind === 'sqlite'
      ? { dataDir }
      : {
          dataDir,
          db: PG_URL,
          schema: `simvault_test_${randomBytes(6).toString('hex')}`,
          postgres: { poolSize: 12 },
          // PostgreSQL has no default key-encryption key: every process is given the same file.
          kek: { file: writeTestKek(dataDir) },
        };
  return {
    location,
    open: () => openStore(location),
    async drop() {
      if (kind === 'postgres') await dropPostgresSchema(PG_URL, location.schema!);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A fresh database of `kind` for each test of the calling `describe`, dropped after the test. */
export function eachTestDatabase(kind: StoreKind): () => TestDatabase {
  let db: TestDatabase | undefined;
  beforeEach(() => {
    db = testDatabase(kind);
  });
  afterEach(async () => {
    await db?.drop();
  });
  return () => db!;
}
