/**
 * The registry store written once over {@link SqlDriver}: the same statements run on SQLite and
 * PostgreSQL. Concurrency is left to the database: the bindings primary key with
 * `ON CONFLICT DO NOTHING` decides which of many concurrent binds wins, and every counter is an
 * `UPDATE ... SET n = n + 1` (as an upsert), never a read-modify-write.
 *
 * @module
 */
import type { Zone } from '../../protocol/messages.js';
import type { NonceClaim } from '../auth.js';
import { GroupCommit } from './group-commit.js';
import { migrate } from './migrations.js';
import { valuesPlaceholders, type SqlDriver, type SqlExecutor, type SqlValue } from './sql.js';
import type {
  ApplicationRecord,
  BindingRecord,
  CardImportRow,
  CardRecord,
  DownloadReportRow,
  FileRecord,
  ImportRefusal,
  LifecycleState,
  RegistryStore,
  SimIdentity,
} from './store.js';

interface CardRow {
  cid: string;
  state: LifecycleState;
  stage: string;
  offer: string | null;
  created_at: number;
  updated_at: number;
}
interface AppRow {
  aid: string;
  name: string;
  zone: Zone;
  size: number;
  version: string;
  resource_url: string | null;
  resource_digest: string | null;
  resource_size: number | null;
}
interface BindingRow {
  cid: string;
  iccid: string;
  imsi: string | null;
  brand: string | null;
  bound_at: number;
}
type BindResult = Awaited<ReturnType<RegistryStore['bind']>>;

/** A card's state with its binding's columns, null when it has none. */
interface CardBindingRow {
  state: LifecycleState;
  iccid: string | null;
  imsi: string | null;
  brand: string | null;
  bound_at: number | null;
}
interface FileRow {
  cid: string;
  aid: string;
  status: FileRecord['status'];
  downloads: number;
  deletes: number;
  stored_size: number | null;
  stored_digest: string | null;
  updated_at: number;
}

const card = (r: CardRow): CardRecord => ({
  cid: r.cid,
  state: r.state,
  stage: r.stage,
  offer: r.offer,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});
const application = (r: AppRow): ApplicationRecord => ({
  aid: r.aid,
  name: r.name,
  zone: r.zone,
  size: r.size,
  version: r.version,
  resource:
    r.resource_url !== null && r.resource_digest !== null && r.resource_size !== null
      ? { url: r.resource_url, digest: r.resource_digest, size: r.resource_size }
      : null,
});
const binding = (r: BindingRow): BindingRecord => ({
  cid: r.cid,
  iccid: r.iccid,
  imsi: r.imsi,
  brand: r.brand,
  boundAt: r.bound_at,
});
const file = (r: FileRow): FileRecord => ({
  cid: r.cid,
  aid: r.aid,
  status: r.status,
  downloads: r.downloads,
  deletes: r.deletes,
  storedSize: r.stored_size,
  storedDigest: r.stored_digest,
  updatedAt: r.updated_at,
});

const APP_COLUMNS =
  'a.aid, a.name, a.zone, a.size, a.version, a.resource_url, a.resource_digest, a.resource_size';
const CARD_COLUMNS = 'cid, state, stage, offer, created_at, updated_at';
const FILE_COLUMNS = 'cid, aid, status, downloads, deletes, stored_size, stored_digest, updated_at';
/** Rows per multi-row INSERT: far below both databases' parameter limits. */
const BATCH = 400;

async function offerAids(tx: SqlExecutor, name: string): Promise<string[] | undefined> {
  const rows = await tx.all<{ aid: string }>(
    'SELECT aid FROM offers WHERE name = ? ORDER BY position',
    [name],
  );
  return rows.length ? rows.map((r) => r.aid) : undefined;
}

async function giveApplications(
  tx: SqlExecutor,
  cids: readonly string[],
  aids: readonly string[],
): Promise<void> {
  if (!aids.length) return;
  const perBatch = Math.max(1, Math.floor(BATCH / aids.length));
  for (let i = 0; i < cids.length; i += perBatch) {
    const part = cids.slice(i, i + perBatch);
    const params: SqlValue[] = [];
    for (const cid of part) aids.forEach((aid, position) => params.push(cid, aid, position));
    await tx.run(
      `INSERT INTO card_applications (cid, aid, position) VALUES ${valuesPlaceholders(part.length * aids.length, 3)}`,
      params,
    );
  }
}

async function customizedApplications(tx: SqlExecutor, cid: string): Promise<ApplicationRecord[]> {
  const rows = await tx.all<AppRow>(
    `SELECT ${APP_COLUMNS} FROM card_applications c JOIN applications a ON a.aid = c.aid
     WHERE c.cid = ? ORDER BY c.position`,
    [cid],
  );
  return rows.map(application);
}

async function claimNonceIn(tx: SqlExecutor, claim: NonceClaim): Promise<boolean> {
  const changed = await tx.run(
    'INSERT INTO nonces (key_id, nonce, expires_at) VALUES (?, ?, ?) ON CONFLICT (key_id, nonce) DO NOTHING',
    [claim.keyId, claim.nonce, claim.expiresAt],
  );
  return changed > 0;
}

const BINDING_COLUMNS = 'cid, iccid, imsi, brand, bound_at';

/**
 * One bind in an open transaction: the nonce (if any), then the binding, inserted only for a
 * usable card and only if the card has none; the reads that tell the other outcomes apart run
 * only when no binding was inserted.
 */
async function bindIn(
  tx: SqlExecutor,
  cid: string,
  sim: SimIdentity,
  now: number,
  nonce: NonceClaim | undefined,
): Promise<BindResult> {
  if (nonce && !(await claimNonceIn(tx, nonce))) return { outcome: 'replayed' };
  const inserted = await tx.get<BindingRow>(
    `INSERT INTO bindings (${BINDING_COLUMNS})
     SELECT cid, ?, ?, ?, CAST(? AS BIGINT) FROM cards WHERE cid = ? AND state NOT IN ('blocked', 'retired')
     ON CONFLICT (cid) DO NOTHING RETURNING ${BINDING_COLUMNS}`,
    [sim.iccid, sim.imsi ?? null, sim.brand ?? null, now, cid],
  );
  if (inserted) {
    await tx.run(
      "UPDATE cards SET state = 'active', updated_at = ? WHERE cid = ? AND state = 'issued'",
      [now, cid],
    );
    return {
      outcome: 'bound',
      binding: binding(inserted),
      applications: await customizedApplications(tx, cid),
    };
  }
  return otherOutcome(tx, cid, sim);
}

/** Why no binding was inserted: an unknown or unusable card, or the binding it already has. */
async function otherOutcome(tx: SqlExecutor, cid: string, sim: SimIdentity): Promise<BindResult> {
  const found = await tx.get<CardBindingRow>(
    `SELECT c.state, b.iccid, b.imsi, b.brand, b.bound_at
     FROM cards c LEFT JOIN bindings b ON b.cid = c.cid WHERE c.cid = ?`,
    [cid],
  );
  if (!found) return { outcome: 'unknownCard' };
  if (found.state === 'blocked' || found.state === 'retired') return { outcome: 'blocked' };
  // The winner can only vanish if an unbind committed in between; a retry binds afresh.
  if (found.iccid === null || found.bound_at === null) return { outcome: 'otherSim' };
  const existing = binding({ ...found, cid, iccid: found.iccid, bound_at: found.bound_at });
  return {
    outcome: existing.iccid === sim.iccid ? 'alreadyBound' : 'otherSim',
    binding: existing,
  };
}

interface BindJob {
  cid: string;
  sim: SimIdentity;
  now: number;
  nonce: NonceClaim;
  resolve: (result: BindResult) => void;
  reject: (error: unknown) => void;
}

/** Most binds in one statement. */
const MAX_BIND_BATCH = 64;
/** One statement at a time: binds arriving meanwhile make the next one larger. */
const MAX_IN_FLIGHT = 1;

/**
 * The binds of PostgreSQL, batched: one statement at a time (its own transaction, one round
 * trip) holds every bind requested while the previous one ran. A data-modifying `WITH` claims the nonces,
 * inserts a binding for each fresh nonce of a usable card without one, activates those cards, and
 * returns each new binding with the card's applications. Only a bind that inserted no binding
 * needs a second read to tell the other outcomes apart. PostgreSQL already flushes concurrent
 * commits together; what a bind costs here is its round trips (SQLite, without data-modifying
 * `WITH`, runs {@link bindIn} under group commit instead).
 *
 * A statement carries one bind per card and per nonce (a second waits for the next statement, to
 * see the first's outcome); if it fails, each of its binds is retried alone, so that one
 * request's error fails only that request. Nobody is answered before the statement committed.
 */
class PostgresBinds {
  private readonly db: SqlExecutor;
  private readonly sweep: (tx: SqlExecutor, now: number) => Promise<void>;
  private pending: BindJob[] = [];
  private scheduled = false;
  private inFlight = 0;

  constructor(db: SqlExecutor, sweep: (tx: SqlExecutor, now: number) => Promise<void>) {
    this.db = db;
    this.sweep = sweep;
  }

  bind(cid: string, sim: SimIdentity, now: number, nonce: NonceClaim): Promise<BindResult> {
    return new Promise<BindResult>((resolve, reject) => {
      this.pending.push({ cid, sim, now, nonce, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= MAX_IN_FLIGHT) return;
    this.scheduled = true;
    setImmediate(() => {
      this.flush();
    });
  }

  private flush(): void {
    this.scheduled = false;
    this.inFlight++;
    const jobs = this.pending;
    this.pending = [];
    const batch: BindJob[] = [];
    const cids = new Set<string>();
    const nonces = new Set<string>();
    for (const job of jobs) {
      const nonce = `${job.nonce.keyId}\n${job.nonce.nonce}`;
      if (batch.length >= MAX_BIND_BATCH || cids.has(job.cid) || nonces.has(nonce)) {
        this.pending.push(job);
        continue;
      }
      cids.add(job.cid);
      nonces.add(nonce);
      batch.push(job);
    }
    if (this.pending.length) this.schedule();
    // In key order, so that two processes' statements lock the same cards in the same order.
    batch.sort((a, b) => (a.cid < b.cid ? -1 : a.cid > b.cid ? 1 : 0));
    void this.run(batch).finally(() => {
      this.inFlight--;
      if (this.pending.length) this.schedule();
    });
  }

  private async run(batch: readonly BindJob[]): Promise<void> {
    let results: BindResult[];
    try {
      await this.sweep(this.db, batch[0]!.nonce.now);
      results = await bindMany(this.db, batch);
    } catch (e) {
      if (batch.length === 1) batch[0]!.reject(e);
      else await Promise.all(batch.map((job) => this.run([job])));
      return;
    }
    batch.forEach((job, i) => {
      job.resolve(results[i]!);
    });
  }
}

type BatchRow = { i: number; claimed: boolean } & {
  [K in keyof BindingRow]: BindingRow[K] | null;
} & { [K in keyof AppRow]: AppRow[K] | null };

async function bindMany(db: SqlExecutor, batch: readonly BindJob[]): Promise<BindResult[]> {
  const params: SqlValue[] = [];
  const values: string[] = [];
  batch.forEach((job, i) => {
    const { nonce, sim } = job;
    params.push(i, nonce.keyId, nonce.nonce, nonce.expiresAt, job.cid);
    params.push(sim.iccid, sim.imsi ?? null, sim.brand ?? null, job.now);
    values.push(
      '(CAST(? AS INTEGER), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT))',
    );
  });
  const rows = await db.all<BatchRow>(
    `WITH r (i, key_id, nonce, expires_at, cid, iccid, imsi, brand, now) AS (
       VALUES ${values.join(', ')}
     ), n AS (
       INSERT INTO nonces (key_id, nonce, expires_at) SELECT key_id, nonce, expires_at FROM r
       ON CONFLICT (key_id, nonce) DO NOTHING RETURNING key_id, nonce
     ), b AS (
       INSERT INTO bindings (${BINDING_COLUMNS})
       SELECT r.cid, r.iccid, r.imsi, r.brand, r.now
       FROM r JOIN n ON n.key_id = r.key_id AND n.nonce = r.nonce JOIN cards c ON c.cid = r.cid
       WHERE c.state NOT IN ('blocked', 'retired')
       ON CONFLICT (cid) DO NOTHING RETURNING ${BINDING_COLUMNS}
     ), u AS (
       UPDATE cards SET state = 'active', updated_at = b.bound_at
       FROM b WHERE cards.cid = b.cid AND cards.state = 'issued' RETURNING 1
     )
     SELECT r.i, n.nonce IS NOT NULL AS claimed, b.cid, b.iccid, b.imsi, b.brand, b.bound_at,
       ${APP_COLUMNS}
     FROM r LEFT JOIN n ON n.key_id = r.key_id AND n.nonce = r.nonce LEFT JOIN b ON b.cid = r.cid
       LEFT JOIN card_applications c ON c.cid = b.cid LEFT JOIN applications a ON a.aid = c.aid
     ORDER BY r.i, c.position`,
    params,
  );
  // One row per request and application, or one row for a request with none.
  const byRequest = batch.map((): BatchRow[] => []);
  for (const row of rows) byRequest[row.i]!.push(row);
  return Promise.all(
    batch.map(async (job, i): Promise<BindResult> => {
      const mine = byRequest[i]!;
      const row = mine[0];
      if (!row?.claimed) return { outcome: 'replayed' };
      const { cid, iccid, bound_at } = row;
      if (cid === null || iccid === null || bound_at === null)
        return otherOutcome(db, job.cid, job.sim);
      return {
        outcome: 'bound',
        binding: binding({ ...row, cid, iccid, bound_at }),
        applications: mine.flatMap((r) => (r.aid === null ? [] : [application(r as AppRow)])),
      };
    }),
  );
}

/**
 * Open a {@link RegistryStore} over a driver, migrating the schema first.
 *
 * @example
 * ```ts
 * import { openSqlStore } from './sql-store.js';
 * import { openSqliteDriver } from './sqlite.js';
 * const store = await openSqlStore(openSqliteDriver(':memory:'));
 * await store.countCards(); // 0
 * ```
 */
export async function openSqlStore(db: SqlDriver): Promise<RegistryStore> {
  try {
    await migrate(db);
  } catch (e) {
    await db.close();
    throw e;
  }
  let claims = 0;
  const groupCommit = db.kind === 'sqlite' ? new GroupCommit(db) : undefined;
  const sweepNonces = async (tx: SqlExecutor, now: number) => {
    // Expired nonces are swept now and then; the time window check refuses them anyway.
    if (++claims % 256 === 0) await tx.run('DELETE FROM nonces WHERE expires_at < ?', [now]);
  };
  const postgresBinds = db.kind === 'postgres' ? new PostgresBinds(db, sweepNonces) : undefined;

  return {
    kind: db.kind,

    async schemaVersion() {
      const row = await db.get<{ v: number | null }>(
        'SELECT MAX(version) AS v FROM simvault_migrations',
      );
      return row?.v ?? 0;
    },

    close: () => db.close(),

    importCards(rows: readonly CardImportRow[], now: number) {
      return db.transaction(async (tx) => {
        const refused: ImportRefusal[] = [];
        const offers = new Map<string, string[] | undefined>();
        const seen = new Set<string>();
        const candidates: { index: number; row: CardImportRow; aids: readonly string[] }[] = [];
        for (const [index, row] of rows.entries()) {
          let aids: readonly string[] = [];
          if (row.offer !== undefined) {
            if (!offers.has(row.offer)) offers.set(row.offer, await offerAids(tx, row.offer));
            const found = offers.get(row.offer);
            if (found === undefined) {
              refused.push({ index, reason: 'unknownOffer' });
              continue;
            }
            aids = found;
          }
          if (seen.has(row.cid)) {
            refused.push({ index, reason: 'duplicate' });
            continue;
          }
          seen.add(row.cid);
          candidates.push({ index, row, aids });
        }
        let accepted = 0;
        for (let i = 0; i < candidates.length; i += BATCH) {
          const part = candidates.slice(i, i + BATCH);
          const params: SqlValue[] = [];
          for (const { row } of part)
            params.push(row.cid, row.state, row.stage, row.offer ?? null, now, now);
          const inserted = await tx.all<{ cid: string }>(
            `INSERT INTO cards (${CARD_COLUMNS}) VALUES ${valuesPlaceholders(part.length, 6)} ON CONFLICT (cid) DO NOTHING RETURNING cid`,
            params,
          );
          const fresh = new Set(inserted.map((r) => r.cid));
          accepted += fresh.size;
          const byOffer = new Map<readonly string[], string[]>();
          for (const { index, row, aids } of part) {
            if (!fresh.has(row.cid)) {
              refused.push({ index, reason: 'duplicate' });
              continue;
            }
            const list = byOffer.get(aids) ?? [];
            list.push(row.cid);
            byOffer.set(aids, list);
          }
          for (const [aids, cids] of byOffer) await giveApplications(tx, cids, aids);
        }
        refused.sort((a, b) => a.index - b.index);
        return { accepted, refused };
      });
    },

    async getCard(cid) {
      const row = await db.get<CardRow>(`SELECT ${CARD_COLUMNS} FROM cards WHERE cid = ?`, [cid]);
      return row && card(row);
    },

    async countCards() {
      return (await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM cards'))?.n ?? 0;
    },

    async setLifecycle(cid, state, stage, now) {
      const row = await db.get<CardRow>(
        `UPDATE cards SET state = ?, stage = COALESCE(?, stage), updated_at = ? WHERE cid = ? RETURNING ${CARD_COLUMNS}`,
        [state, stage ?? null, now, cid],
      );
      return row && card(row);
    },

    async putApplication(app, now) {
      const r = app.resource;
      await db.run(
        `INSERT INTO applications (aid, name, zone, size, version, resource_url, resource_digest, resource_size, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (aid) DO UPDATE SET name = excluded.name, zone = excluded.zone, size = excluded.size,
           version = excluded.version, resource_url = excluded.resource_url, resource_digest = excluded.resource_digest,
           resource_size = excluded.resource_size, updated_at = excluded.updated_at`,
        [
          app.aid,
          app.name,
          app.zone,
          app.size,
          app.version,
          r?.url ?? null,
          r?.digest ?? null,
          r?.size ?? null,
          now,
          now,
        ],
      );
    },

    async getApplication(aid) {
      const row = await db.get<AppRow>(
        `SELECT ${APP_COLUMNS} FROM applications a WHERE a.aid = ?`,
        [aid],
      );
      return row && application(row);
    },

    async listApplications() {
      return (await db.all<AppRow>(`SELECT ${APP_COLUMNS} FROM applications a ORDER BY a.aid`)).map(
        application,
      );
    },

    defineOffer(name, aids) {
      return db.transaction(async (tx) => {
        const unknownApps: string[] = [];
        for (const aid of aids) {
          if (!(await tx.get('SELECT aid FROM applications WHERE aid = ?', [aid])))
            unknownApps.push(aid);
        }
        if (unknownApps.length) return { unknownApps };
        await tx.run('DELETE FROM offers WHERE name = ?', [name]);
        for (const [position, aid] of aids.entries()) {
          await tx.run('INSERT INTO offers (name, aid, position) VALUES (?, ?, ?)', [
            name,
            aid,
            position,
          ]);
        }
        return { unknownApps };
      });
    },

    getOffer: (name) => offerAids(db, name),

    applyOffer(name, cids, now) {
      return db.transaction(async (tx) => {
        const aids = await offerAids(tx, name);
        if (aids === undefined) return undefined;
        const known: string[] = [];
        const unknownCards: string[] = [];
        for (const cid of new Set(cids)) {
          const changed = await tx.run('UPDATE cards SET offer = ?, updated_at = ? WHERE cid = ?', [
            name,
            now,
            cid,
          ]);
          (changed ? known : unknownCards).push(cid);
        }
        for (const cid of known) await tx.run('DELETE FROM card_applications WHERE cid = ?', [cid]);
        await giveApplications(tx, known, aids);
        return { applied: known.length, unknownCards };
      });
    },

    customizedApplications: (cid) => customizedApplications(db, cid),

    bind(cid: string, sim: SimIdentity, now: number, nonce?: NonceClaim) {
      if (nonce && postgresBinds) return postgresBinds.bind(cid, sim, now, nonce);
      const work = async (tx: SqlExecutor) => {
        if (nonce) await sweepNonces(tx, nonce.now);
        return bindIn(tx, cid, sim, now, nonce);
      };
      // SQLite commits one writer at a time, each commit an fsync: concurrent binds share one.
      return groupCommit ? groupCommit.run(work) : db.transaction(work);
    },

    async unbind(cid, iccid) {
      return (await db.run('DELETE FROM bindings WHERE cid = ? AND iccid = ?', [cid, iccid])) > 0;
    },

    async getBinding(cid) {
      const row = await db.get<BindingRow>(
        'SELECT cid, iccid, imsi, brand, bound_at FROM bindings WHERE cid = ?',
        [cid],
      );
      return row && binding(row);
    },

    async bindingsOfSim(iccid) {
      const rows = await db.all<BindingRow>(
        'SELECT cid, iccid, imsi, brand, bound_at FROM bindings WHERE iccid = ? ORDER BY bound_at, cid',
        [iccid],
      );
      return rows.map(binding);
    },

    async countBindings() {
      return (await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM bindings'))?.n ?? 0;
    },

    async recordLaunch(cid, aid, now) {
      const row = await db.get<{ downloads: number }>(
        `INSERT INTO files (cid, aid, status, downloads, deletes, updated_at) VALUES (?, ?, 'pending', 1, 0, ?)
         ON CONFLICT (cid, aid) DO UPDATE SET downloads = files.downloads + 1, status = 'pending',
           stored_size = NULL, stored_digest = NULL, updated_at = excluded.updated_at
         RETURNING downloads`,
        [cid, aid, now],
      );
      return row?.downloads ?? 0;
    },

    async recordCompletion(cid, aid, outcome, now) {
      const changed = await db.run(
        `UPDATE files SET status = ?, stored_size = ?, stored_digest = ?, updated_at = ?
         WHERE cid = ? AND aid = ? AND status <> 'deleted'`,
        [outcome.status, outcome.size ?? null, outcome.digest ?? null, now, cid, aid],
      );
      return changed > 0;
    },

    async recordDelete(cid, aid, now) {
      const row = await db.get<{ deletes: number }>(
        `INSERT INTO files (cid, aid, status, downloads, deletes, updated_at) VALUES (?, ?, 'deleted', 0, 1, ?)
         ON CONFLICT (cid, aid) DO UPDATE SET deletes = files.deletes + 1, status = 'deleted',
           stored_size = NULL, stored_digest = NULL, updated_at = excluded.updated_at
         RETURNING deletes`,
        [cid, aid, now],
      );
      return row?.deletes ?? 0;
    },

    async fileRecords(cid) {
      return (
        await db.all<FileRow>(`SELECT ${FILE_COLUMNS} FROM files WHERE cid = ? ORDER BY aid`, [cid])
      ).map(file);
    },

    async downloadReport(): Promise<DownloadReportRow[]> {
      return db.all<DownloadReportRow>(
        `SELECT a.aid AS aid, a.name AS name,
           CAST(COALESCE(SUM(f.downloads), 0) AS BIGINT) AS downloads,
           CAST(COALESCE(SUM(CASE WHEN f.status = 'stored' THEN 1 ELSE 0 END), 0) AS BIGINT) AS stored,
           CAST(COALESCE(SUM(f.deletes), 0) AS BIGINT) AS deletes
         FROM applications a LEFT JOIN files f ON f.aid = a.aid
         GROUP BY a.aid, a.name ORDER BY downloads DESC, a.aid`,
      );
    },

    async claimNonce(keyId, nonce, expiresAt, now) {
      const work = async (tx: SqlExecutor) => {
        await sweepNonces(tx, now);
        return claimNonceIn(tx, { keyId, nonce, expiresAt, now });
      };
      // Every signed request claims a nonce: on SQLite, concurrent claims share one commit too.
      return groupCommit ? groupCommit.run(work) : work(db);
    },
  };
}
