/**
 * The OTA server's persistent state over the registry's {@link SqlDriver} (SQLite by default,
 * PostgreSQL for several processes): SIM configurations and keysets, secured-packet counters, the
 * mobile-terminated queue of each SIM, the command packets sent to each SIM awaiting proof of
 * receipt, and the segments of concatenated messages from each SIM awaiting the rest.
 *
 * The KIc and KID keys are sealed under the deployment's key-encryption key
 * (`keyset-sealing.ts`) and opened only in memory, when a SIM's configuration is read to verify or
 * build a packet.
 *
 * Counters are the security-critical part. A counter accepted from a SIM is recorded with a
 * compare-and-set on the value the check was made against, so two processes can never both
 * accept the same packet; a counter for a packet to the SIM is reserved by an atomic increment
 * that commits before the packet is built, so no crash or restart can send one value twice.
 *
 * @module
 */
import { fromHex, toHex } from '../../bytes.js';
import {
  decodeSpi,
  encodeSpi,
  type CounterMode,
  type IntegrityKind,
  type PorStatus,
} from '../../protocol/secured-packet.js';
import { ServerError } from '../errors.js';
import { resolveKek } from '../kek-file.js';
import type { Kek } from '../sealing.js';
import { openDriver, type StoreLocation } from '../store/open.js';
import type { SqlDriver, SqlExecutor, SqlListener } from '../store/sql.js';
import { adoptKek, sealKeysetKey, unsealKeysetKey } from './keyset-sealing.js';
import { migrateOta } from './migrate.js';
import type { KeysetAlgorithm } from '../../protocol/secured-packet.js';
import type { SimConfig } from './sim-config.js';

/**
 * Which way a counter counts: packets from the SIM (`mo`) or to it (`mt`).
 *
 * @example
 * ```ts
 * import type { CounterDirection } from './store.js';
 * const d: CounterDirection = 'mt';
 * ```
 */
export type CounterDirection = 'mo' | 'mt';

/**
 * One counter of a SIM.
 *
 * @example
 * ```ts
 * import type { CounterRecord } from './store.js';
 * const c: CounterRecord = { keyVersion: 1, direction: 'mo', value: 41 };
 * ```
 */
export interface CounterRecord {
  /** Key version the counter belongs to. */
  keyVersion: number;
  /** Direction. */
  direction: CounterDirection;
  /** Last value accepted (`mo`) or used (`mt`). */
  value: number;
}

/**
 * One SMS-DELIVER TPDU to queue for a SIM.
 *
 * @example
 * ```ts
 * import type { MtItem } from './store.js';
 * const item: MtItem = { tpdu: '4408...', kind: 'command', keyVersion: 1, counter: 7, part: 1, parts: 2 };
 * ```
 */
export interface MtItem {
  /** The TPDU, hex. */
  tpdu: string;
  /** A segment of a command packet, or of a proof of receipt. */
  kind: 'command' | 'por';
  /** Key version of the packet's counter. */
  keyVersion: number;
  /** The packet's counter (for a PoR: the counter it answers). */
  counter: number;
  /** Segment number, 1-based. */
  part: number;
  /** Segments of the packet. */
  parts: number;
}

/**
 * A queued SMS-DELIVER TPDU with its place in the SIM's queue.
 *
 * @example
 * ```ts
 * import type { MtRecord } from './store.js';
 * const next = (records: MtRecord[]) => records.at(-1)?.seq ?? 0;
 * ```
 */
export interface MtRecord extends MtItem {
  /** Position in the SIM's queue: grows by one per TPDU, never reused. */
  seq: number;
  /** Queued at, ms since the epoch. */
  createdAt: number;
  /** Dropped after, ms since the epoch. */
  expiresAt: number;
}

/**
 * A command packet sent to a SIM: what a proof of receipt is verified against.
 *
 * @example
 * ```ts
 * import type { SentPacket } from './store.js';
 * const s: SentPacket = { keyVersion: 1, counter: 7, spi: '1629', kic: 0x12, kid: 0x12, tar: 'b00010',
 *   messageType: 'bindResponse', transactionId: 1, message: '0102', attempt: 1, sentAt: 0, porStatus: null, porAt: null };
 * ```
 */
export interface SentPacket {
  /** Key version of the counter. */
  keyVersion: number;
  /** The counter it carried. */
  counter: number;
  /** SPI, hex. */
  spi: string;
  /** KIc byte. */
  kic: number;
  /** KID byte. */
  kid: number;
  /** TAR, hex. */
  tar: string;
  /** The simvault message type inside. */
  messageType: string;
  /** Its transaction id. */
  transactionId: number;
  /** The simvault message sent, hex (kept to send it again after a counter resynchronisation). */
  message: string;
  /** 1 for the first sending of the message, 2 for its first resending, ... */
  attempt: number;
  /** Queued at, ms since the epoch. */
  sentAt: number;
  /** Status of the SIM's proof of receipt, once one arrived. */
  porStatus: PorStatus | null;
  /** When the proof of receipt arrived. */
  porAt: number | null;
}

/**
 * One segment of a concatenated mobile-originated message, as the store holds it.
 *
 * @example
 * ```ts
 * import type { MoSegment } from './store.js';
 * const s: MoSegment = { message: '8:42:2', total: 2, seq: 1, userData: '0700032a02017000' };
 * ```
 */
export interface MoSegment {
  /** Which message of the SIM it belongs to: reference width, reference and total (`8:42:2`). */
  message: string;
  /** Segments of the message. */
  total: number;
  /** Its sequence number, 1-based. */
  seq: number;
  /** Its SMS user data, header included, hex. */
  userData: string;
}

/**
 * What holding one segment did: the message still lacks segments, this segment completed it
 * (only one call ever gets `complete` for a message), or it repeated a held sequence number with
 * different bytes (the partial message was dropped).
 *
 * @example
 * ```ts
 * import type { MoSegmentOutcome } from './store.js';
 * const done = (o: MoSegmentOutcome) => o.status === 'complete' ? o.segments.length : 0;
 * ```
 */
export type MoSegmentOutcome =
  | {
      /** More segments are needed. */
      status: 'incomplete';
      /** Distinct segments held. */
      received: number;
      /** The segment was held already (or its message was already completed) and was ignored. */
      duplicate: boolean;
    }
  | {
      /** Every segment is here; the caller relays the message. */
      status: 'complete';
      /** The user data of every segment, hex, in sequence order. */
      segments: string[];
    }
  | {
      /** A sequence number arrived twice with different bytes. */
      status: 'conflict';
    };

/**
 * Bounds of the concatenated MO messages held.
 *
 * @example
 * ```ts
 * import type { ReassemblyLimits } from './store.js';
 * const l: ReassemblyLimits = { timeoutMs: 120_000, maxMessagesPerSim: 32 };
 * ```
 */
export interface ReassemblyLimits {
  /** How long a message waits for its segments from its first one (and a completed one is remembered). */
  timeoutMs: number;
  /** Messages held per SIM, partial and recently completed; the oldest is dropped beyond. */
  maxMessagesPerSim: number;
  /**
   * How long the process that completed a message has to relay it (default 30 000 ms). A message
   * completed longer ago and never marked relayed (its process died, or its relay failed) goes
   * to whichever process next receives one of its segments.
   */
  claimMs?: number;
}

/**
 * The OTA server's store.
 *
 * @example
 * ```ts
 * import { openOtaStore } from './store.js';
 * const store = await openOtaStore({ dataDir: './simvault-data' });
 * await store.getSim('89860012345678901234'); // undefined until provisioned
 * await store.close();
 * ```
 */
export interface OtaStore {
  /** Which database holds it. */
  readonly kind: 'sqlite' | 'postgres';
  /** Identifier of the key-encryption key its keys are sealed under. */
  readonly kekId: string;
  /** Create or replace a SIM's configuration and keysets; counters of its key versions start at 0 and are kept across replacements. */
  putSim(sim: SimConfig, now: number): Promise<{ created: boolean }>;
  /** A SIM's configuration. */
  getSim(iccid: string): Promise<SimConfig | undefined>;
  /** The ICCID of the SIM with this MSISDN. */
  iccidOfMsisdn(msisdn: string): Promise<string | undefined>;
  /** Forget a SIM with its counters and queue; false when there was none. */
  deleteSim(iccid: string): Promise<boolean>;
  /** Every counter of a SIM. */
  counters(iccid: string): Promise<CounterRecord[]>;
  /** The last counter accepted from the SIM under a key version (0 when none). */
  lastMoCounter(iccid: string, keyVersion: number): Promise<number>;
  /** Record `value` as accepted if the stored counter still is `expected`; false when another request got there first. */
  acceptMoCounter(
    iccid: string,
    keyVersion: number,
    expected: number,
    value: number,
  ): Promise<boolean>;
  /** Reserve the next counter for a packet to the SIM (committed before it returns). */
  reserveMtCounter(iccid: string, keyVersion: number): Promise<number>;
  /** Resynchronise: raise the counter for packets to the SIM to at least `value`; resolves to the counter now stored. */
  raiseMtCounter(iccid: string, keyVersion: number, value: number): Promise<number>;
  /** Queue TPDUs for a SIM in order, with the packet they carry; resolves to their queue positions. */
  enqueue(
    iccid: string,
    items: readonly MtItem[],
    sent: SentPacket | null,
    now: number,
    ttlMs: number,
  ): Promise<number[]>;
  /** Queued TPDUs after position `after`, oldest first, not expired. */
  fetchMt(iccid: string, after: number, limit: number, now: number): Promise<MtRecord[]>;
  /** The last queue position handed out for a SIM. */
  lastSeq(iccid: string): Promise<number>;
  /** The sent command packet with this counter (the latest if key versions collide). */
  findSent(iccid: string, counter: number): Promise<SentPacket | undefined>;
  /** Sent command packets without a proof of receipt yet, newest first. */
  pendingSent(iccid: string, limit: number): Promise<SentPacket[]>;
  /** Record a proof of receipt; a positive one removes the packet's segments from the queue. */
  recordPor(
    iccid: string,
    keyVersion: number,
    counter: number,
    status: PorStatus,
    now: number,
  ): Promise<void>;
  /** Drop expired queue entries, and records of packets sent before `sentBefore`; resolves to how many queue entries. */
  purgeExpired(now: number, sentBefore?: number): Promise<number>;
  /** The next STK list version for RFM (only grows). */
  nextStkListVersion(iccid: string): Promise<number>;
  /** Hold one segment of a concatenated MO message (duplicates are idempotent); the one call that completes the message gets all its segments. */
  holdMoSegment(
    iccid: string,
    segment: MoSegment,
    now: number,
    limits: ReassemblyLimits,
  ): Promise<MoSegmentOutcome>;
  /**
   * Settle the claim on a completed MO message: `relayed` keeps it from being handed out again;
   * otherwise it is released, and the next segment of it that arrives claims it at once.
   */
  settleMoMessage(iccid: string, message: string, relayed: boolean): Promise<void>;
  /** Drop concatenated MO messages past their expiry, partial or completed; resolves to how many. */
  purgeMoSegments(now: number): Promise<number>;
  /**
   * Call `wake` with the SIM's ICCID whenever any process sharing the database queues SMS for a
   * SIM (PostgreSQL `LISTEN` on a connection of its own, reopened when lost; `onGap` after such
   * a loss, when some may have been missed). On SQLite there are no other processes to hear and
   * it does nothing. Resolves once listening, to a function that stops.
   */
  watchMt(
    wake: (iccid: string) => void,
    events?: { onGap?: () => void; onError?: (error: unknown) => void },
  ): Promise<() => Promise<void>>;
  /** The OTA schema version. */
  schemaVersion(): Promise<number>;
  /** Close the database. */
  close(): Promise<void>;
}

interface SimRow {
  iccid: string;
  msisdn: string | null;
  imsi: string | null;
  brand: string | null;
  tar: string;
  msl_ciphering: number;
  msl_integrity: IntegrityKind;
  msl_counter: CounterMode;
  max_counter_step: number | null;
  mt_spi: string;
  mt_kic: number;
  mt_kid: number;
}
interface KeysetRow {
  key_version: number;
  algorithm: KeysetAlgorithm;
  kic: string;
  kid: string;
}
interface MtRow {
  seq: number;
  tpdu: string;
  kind: 'command' | 'por';
  key_version: number;
  counter: number;
  part: number;
  parts: number;
  created_at: number;
  expires_at: number;
}
interface SentRow {
  key_version: number;
  counter: number;
  spi: string;
  kic: number;
  kid: number;
  tar: string;
  message_type: string;
  transaction_id: number;
  message: string;
  attempt: number;
  sent_at: number;
  por_status: PorStatus | null;
  por_at: number | null;
}

const SIM_COLUMNS =
  'iccid, msisdn, imsi, brand, tar, msl_ciphering, msl_integrity, msl_counter, max_counter_step, mt_spi, mt_kic, mt_kid';
const SENT_COLUMNS =
  'key_version, counter, spi, kic, kid, tar, message_type, transaction_id, message, attempt, sent_at, por_status, por_at';

const sent = (r: SentRow): SentPacket => ({
  keyVersion: r.key_version,
  counter: r.counter,
  spi: r.spi,
  kic: r.kic,
  kid: r.kid,
  tar: r.tar,
  messageType: r.message_type,
  transactionId: r.transaction_id,
  message: r.message,
  attempt: r.attempt,
  sentAt: r.sent_at,
  porStatus: r.por_status,
  porAt: r.por_at,
});

/** The notification channel of SIMs with newly queued SMS (payload: the ICCID). */
const MT_CHANNEL = 'simvault_mt';

/**
 * One segment into the store, in the caller's transaction. The message row's `received` is
 * raised by an UPDATE, which PostgreSQL serialises on the row: of two processes adding the last
 * two segments at once, the second sees the first's count and is the only one to reach the total.
 */
async function holdSegment(
  tx: SqlExecutor,
  iccid: string,
  segment: MoSegment,
  now: number,
  limits: ReassemblyLimits,
): Promise<MoSegmentOutcome> {
  const key = [iccid, segment.message];
  await tx.run('DELETE FROM ota_mo_messages WHERE iccid = ? AND message = ? AND expires_at <= ?', [
    ...key,
    now,
  ]);
  const created = await tx.run(
    `INSERT INTO ota_mo_messages (iccid, message, total, received, first_seen, expires_at)
     VALUES (?, ?, ?, 0, ?, ?) ON CONFLICT (iccid, message) DO NOTHING`,
    [...key, segment.total, now, now + limits.timeoutMs],
  );
  if (created === 1) {
    await tx.run(
      `DELETE FROM ota_mo_messages WHERE iccid = ? AND message <> ? AND message NOT IN
         (SELECT message FROM ota_mo_messages WHERE iccid = ? ORDER BY first_seen DESC, message LIMIT ?)`,
      [...key, iccid, limits.maxMessagesPerSim],
    );
  }
  const added = await tx.run(
    `INSERT INTO ota_mo_segments (iccid, message, seq, user_data) VALUES (?, ?, ?, ?)
     ON CONFLICT (iccid, message, seq) DO NOTHING`,
    [...key, segment.seq, segment.userData],
  );
  if (added === 0) {
    const held = await tx.get<{
      user_data: string;
      received: number;
      completed_at: number | null;
      relayed_at: number | null;
    }>(
      `SELECT s.user_data, m.received, m.completed_at, m.relayed_at FROM ota_mo_segments s
       JOIN ota_mo_messages m ON m.iccid = s.iccid AND m.message = s.message
       WHERE s.iccid = ? AND s.message = ? AND s.seq = ?`,
      [...key, segment.seq],
    );
    if (held === undefined) return { status: 'incomplete', received: 0, duplicate: true };
    if (held.user_data === segment.userData) {
      // A message completed but not relayed within its claim is claimed again (compare-and-set
      // on the claim time, so one process of several gets it).
      if (held.completed_at !== null && held.relayed_at === null) {
        const claimed = await tx.run(
          `UPDATE ota_mo_messages SET completed_at = ? WHERE iccid = ? AND message = ?
           AND completed_at = ? AND relayed_at IS NULL AND completed_at <= ?`,
          [now, ...key, held.completed_at, now - (limits.claimMs ?? 30_000)],
        );
        if (claimed === 1) return { status: 'complete', segments: await segmentsOf(tx, key) };
      }
      return { status: 'incomplete', received: held.received, duplicate: true };
    }
    await tx.run('DELETE FROM ota_mo_messages WHERE iccid = ? AND message = ?', key);
    // A completed message's reference used again for a new one: start that one afresh.
    if (held.completed_at !== null) return holdSegment(tx, iccid, segment, now, limits);
    return { status: 'conflict' };
  }
  const counted = await tx.get<{ received: number }>(
    `UPDATE ota_mo_messages SET received = received + 1
     WHERE iccid = ? AND message = ? AND completed_at IS NULL RETURNING received`,
    key,
  );
  const received = counted?.received ?? 0;
  if (received < segment.total) return { status: 'incomplete', received, duplicate: false };
  await tx.run(
    'UPDATE ota_mo_messages SET completed_at = ?, expires_at = ? WHERE iccid = ? AND message = ?',
    [now, now + limits.timeoutMs, ...key],
  );
  return { status: 'complete', segments: await segmentsOf(tx, key) };
}

async function segmentsOf(tx: SqlExecutor, key: string[]): Promise<string[]> {
  const rows = await tx.all<{ user_data: string }>(
    'SELECT user_data FROM ota_mo_segments WHERE iccid = ? AND message = ? ORDER BY seq',
    key,
  );
  return rows.map((r) => r.user_data);
}

/**
 * Open the OTA store over a driver, migrating the OTA tables first, then checking that its keys
 * are sealed under one of `keks` (a database without a KEK yet is sealed under the first):
 * another KEK is `SERVER_KEK_MISMATCH` here, before any request.
 *
 * @example
 * ```ts
 * import { openOtaStoreOn } from './store.js';
 * import { kekFromBytes } from '../sealing.js';
 * import { randomBytes } from '../../bytes.js';
 * import { openSqliteDriver } from '../store/sqlite.js';
 * const store = await openOtaStoreOn(await openSqliteDriver(':memory:'), kekFromBytes(randomBytes(32)));
 * await store.schemaVersion(); // 2
 * ```
 */
export async function openOtaStoreOn(db: SqlDriver, keks: Kek | readonly Kek[]): Promise<OtaStore> {
  let kek: Kek;
  try {
    await migrateOta(db);
    kek = (await adoptKek(db, Array.isArray(keks) ? keks : [keks as Kek])).kek;
  } catch (e) {
    await db.close();
    throw e;
  }
  const listeners = new Set<SqlListener>();
  return {
    kind: db.kind,
    kekId: kek.id,

    putSim(sim, now) {
      return db.transaction(async (tx) => {
        const existed = await tx.get<{ iccid: string }>(
          'SELECT iccid FROM ota_sims WHERE iccid = ?',
          [sim.iccid],
        );
        const values = [
          sim.msisdn,
          sim.imsi,
          sim.brand,
          toHex(sim.tar),
          sim.minimumSecurity.ciphering ? 1 : 0,
          sim.minimumSecurity.integrity,
          sim.minimumSecurity.counter,
          sim.maxCounterStep,
          toHex(encodeSpi(sim.mt.spi)),
          sim.mt.kic,
          sim.mt.kid,
          now,
        ];
        if (existed) {
          await tx.run(
            `UPDATE ota_sims SET msisdn = ?, imsi = ?, brand = ?, tar = ?, msl_ciphering = ?, msl_integrity = ?, msl_counter = ?,
               max_counter_step = ?, mt_spi = ?, mt_kic = ?, mt_kid = ?, updated_at = ? WHERE iccid = ?`,
            [...values, sim.iccid],
          );
        } else {
          await tx.run(
            `INSERT INTO ota_sims (${SIM_COLUMNS}, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            [sim.iccid, ...values, now],
          );
        }
        await tx.run('DELETE FROM ota_keysets WHERE iccid = ?', [sim.iccid]);
        for (const k of sim.keysets) {
          await tx.run(
            'INSERT INTO ota_keysets (iccid, key_version, algorithm, kic, kid) VALUES (?, ?, ?, ?, ?)',
            [
              sim.iccid,
              k.version,
              k.algorithm,
              sealKeysetKey(kek, sim.iccid, k.version, 'kic', k.kic),
              sealKeysetKey(kek, sim.iccid, k.version, 'kid', k.kid),
            ],
          );
          for (const direction of ['mo', 'mt'] as const) {
            await tx.run(
              'INSERT INTO ota_counters (iccid, key_version, direction, value) VALUES (?, ?, ?, 0) ON CONFLICT (iccid, key_version, direction) DO NOTHING',
              [sim.iccid, k.version, direction],
            );
          }
        }
        return { created: !existed };
      });
    },

    async getSim(iccid) {
      const row = await db.get<SimRow>(`SELECT ${SIM_COLUMNS} FROM ota_sims WHERE iccid = ?`, [
        iccid,
      ]);
      if (!row) return undefined;
      const keys = await db.all<KeysetRow>(
        'SELECT key_version, algorithm, kic, kid FROM ota_keysets WHERE iccid = ? ORDER BY key_version',
        [iccid],
      );
      return {
        iccid: row.iccid,
        msisdn: row.msisdn,
        imsi: row.imsi,
        brand: row.brand,
        tar: fromHex(row.tar),
        minimumSecurity: {
          ciphering: row.msl_ciphering === 1,
          integrity: row.msl_integrity,
          counter: row.msl_counter,
        },
        maxCounterStep: row.max_counter_step,
        mt: { spi: decodeSpi(fromHex(row.mt_spi)), kic: row.mt_kic, kid: row.mt_kid },
        keysets: keys.map((k) => ({
          version: k.key_version,
          algorithm: k.algorithm,
          kic: unsealKeysetKey(kek, iccid, k.key_version, 'kic', k.kic),
          kid: unsealKeysetKey(kek, iccid, k.key_version, 'kid', k.kid),
        })),
      };
    },

    async iccidOfMsisdn(msisdn) {
      return (
        await db.get<{ iccid: string }>('SELECT iccid FROM ota_sims WHERE msisdn = ?', [msisdn])
      )?.iccid;
    },

    async deleteSim(iccid) {
      return db.transaction(async (tx) => {
        for (const table of ['ota_mt_queue', 'ota_sent', 'ota_counters', 'ota_keysets']) {
          await tx.run(`DELETE FROM ${table} WHERE iccid = ?`, [iccid]);
        }
        return (await tx.run('DELETE FROM ota_sims WHERE iccid = ?', [iccid])) > 0;
      });
    },

    async counters(iccid) {
      const rows = await db.all<{
        key_version: number;
        direction: CounterDirection;
        value: number;
      }>(
        'SELECT key_version, direction, value FROM ota_counters WHERE iccid = ? ORDER BY key_version, direction',
        [iccid],
      );
      return rows.map((r) => ({
        keyVersion: r.key_version,
        direction: r.direction,
        value: r.value,
      }));
    },

    async lastMoCounter(iccid, keyVersion) {
      const row = await db.get<{ value: number }>(
        "SELECT value FROM ota_counters WHERE iccid = ? AND key_version = ? AND direction = 'mo'",
        [iccid, keyVersion],
      );
      return row?.value ?? 0;
    },

    async acceptMoCounter(iccid, keyVersion, expected, value) {
      const changed = await db.run(
        "UPDATE ota_counters SET value = ? WHERE iccid = ? AND key_version = ? AND direction = 'mo' AND value = ?",
        [value, iccid, keyVersion, expected],
      );
      return changed === 1;
    },

    async reserveMtCounter(iccid, keyVersion) {
      const row = await db.get<{ value: number }>(
        `INSERT INTO ota_counters (iccid, key_version, direction, value) VALUES (?, ?, 'mt', 1)
         ON CONFLICT (iccid, key_version, direction) DO UPDATE SET value = ota_counters.value + 1 RETURNING value`,
        [iccid, keyVersion],
      );
      return row!.value;
    },

    async raiseMtCounter(iccid, keyVersion, value) {
      await db.run(
        "UPDATE ota_counters SET value = ? WHERE iccid = ? AND key_version = ? AND direction = 'mt' AND value < ?",
        [value, iccid, keyVersion, value],
      );
      const row = await db.get<{ value: number }>(
        "SELECT value FROM ota_counters WHERE iccid = ? AND key_version = ? AND direction = 'mt'",
        [iccid, keyVersion],
      );
      return row?.value ?? 0;
    },

    enqueue(iccid, items, packet, now, ttlMs) {
      return db.transaction(async (tx) => {
        const row = await tx.get<{ mt_seq: number }>(
          'UPDATE ota_sims SET mt_seq = mt_seq + ? WHERE iccid = ? RETURNING mt_seq',
          [items.length, iccid],
        );
        if (!row) return [];
        const first = row.mt_seq - items.length + 1;
        const seqs: number[] = [];
        for (const [i, item] of items.entries()) {
          const seq = first + i;
          seqs.push(seq);
          await tx.run(
            `INSERT INTO ota_mt_queue (iccid, seq, tpdu, kind, key_version, counter, part, parts, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            [
              iccid,
              seq,
              item.tpdu,
              item.kind,
              item.keyVersion,
              item.counter,
              item.part,
              item.parts,
              now,
              now + ttlMs,
            ],
          );
        }
        if (packet) {
          await tx.run(
            `INSERT INTO ota_sent (iccid, ${SENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            [
              iccid,
              packet.keyVersion,
              packet.counter,
              packet.spi,
              packet.kic,
              packet.kid,
              packet.tar,
              packet.messageType,
              packet.transactionId,
              packet.message,
              packet.attempt,
              packet.sentAt,
              packet.porStatus,
              packet.porAt,
            ],
          );
        }
        // Heard by the other processes' long-polls once this commits.
        await db.notifications?.notify(tx, MT_CHANNEL, iccid);
        return seqs;
      });
    },

    async fetchMt(iccid, after, limit, now) {
      const rows = await db.all<MtRow>(
        `SELECT seq, tpdu, kind, key_version, counter, part, parts, created_at, expires_at FROM ota_mt_queue
         WHERE iccid = ? AND seq > ? AND expires_at > ? ORDER BY seq LIMIT ?`,
        [iccid, after, now, limit],
      );
      return rows.map((r) => ({
        seq: r.seq,
        tpdu: r.tpdu,
        kind: r.kind,
        keyVersion: r.key_version,
        counter: r.counter,
        part: r.part,
        parts: r.parts,
        createdAt: r.created_at,
        expiresAt: r.expires_at,
      }));
    },

    async lastSeq(iccid) {
      return (
        (await db.get<{ mt_seq: number }>('SELECT mt_seq FROM ota_sims WHERE iccid = ?', [iccid]))
          ?.mt_seq ?? 0
      );
    },

    async findSent(iccid, counter) {
      const row = await db.get<SentRow>(
        `SELECT ${SENT_COLUMNS} FROM ota_sent WHERE iccid = ? AND counter = ? ORDER BY sent_at DESC LIMIT 1`,
        [iccid, counter],
      );
      return row ? sent(row) : undefined;
    },

    async pendingSent(iccid, limit) {
      const rows = await db.all<SentRow>(
        `SELECT ${SENT_COLUMNS} FROM ota_sent WHERE iccid = ? AND por_status IS NULL ORDER BY sent_at DESC, counter DESC LIMIT ?`,
        [iccid, limit],
      );
      return rows.map(sent);
    },

    recordPor(iccid, keyVersion, counter, status, now) {
      return db.transaction(async (tx) => {
        await tx.run(
          'UPDATE ota_sent SET por_status = ?, por_at = ? WHERE iccid = ? AND key_version = ? AND counter = ?',
          [status, now, iccid, keyVersion, counter],
        );
        // The SIM holds the packet: nothing is gained by handing its segments out again.
        if (status === 'ok') {
          await tx.run(
            "DELETE FROM ota_mt_queue WHERE iccid = ? AND key_version = ? AND counter = ? AND kind = 'command'",
            [iccid, keyVersion, counter],
          );
        }
      });
    },

    async purgeExpired(now, sentBefore) {
      const dropped = await db.run('DELETE FROM ota_mt_queue WHERE expires_at <= ?', [now]);
      if (sentBefore !== undefined)
        await db.run('DELETE FROM ota_sent WHERE sent_at < ?', [sentBefore]);
      return dropped;
    },

    async nextStkListVersion(iccid) {
      const row = await db.get<{ stk_list_version: number }>(
        'UPDATE ota_sims SET stk_list_version = stk_list_version + 1 WHERE iccid = ? RETURNING stk_list_version',
        [iccid],
      );
      return row?.stk_list_version ?? 0;
    },

    holdMoSegment(iccid, segment, now, limits) {
      return db.transaction((tx) => holdSegment(tx, iccid, segment, now, limits));
    },

    async settleMoMessage(iccid, message, relayed) {
      await db.run(
        relayed
          ? 'UPDATE ota_mo_messages SET relayed_at = completed_at WHERE iccid = ? AND message = ?'
          : 'UPDATE ota_mo_messages SET completed_at = 0 WHERE iccid = ? AND message = ? AND relayed_at IS NULL',
        [iccid, message],
      );
    },

    purgeMoSegments(now) {
      // Segments go with their message (ON DELETE CASCADE).
      return db.run('DELETE FROM ota_mo_messages WHERE expires_at <= ?', [now]);
    },

    async watchMt(wake, events = {}) {
      if (!db.notifications) return () => Promise.resolve();
      const listener = await db.notifications.listen(MT_CHANNEL, wake, {
        ...(events.onGap ? { onReconnect: events.onGap } : {}),
        ...(events.onError ? { onError: events.onError } : {}),
      });
      listeners.add(listener);
      return async () => {
        listeners.delete(listener);
        await listener.close();
      };
    },

    async schemaVersion() {
      return (
        (await db.get<{ v: number | null }>('SELECT MAX(version) AS v FROM ota_migrations'))?.v ?? 0
      );
    },

    async close() {
      for (const listener of listeners) await listener.close();
      listeners.clear();
      await db.close();
    },
  };
}

/**
 * Open (and migrate) the OTA store at the same location as the registry: the same SQLite file in
 * the data folder, or the same PostgreSQL database and schema, with the location's KEK (see
 * `resolveKek`: `kek`, else `SIMVAULT_KEK` in `env`, else for SQLite the data folder's `kek`
 * file). When a rotation left the default KEK file's successor and the database is under it,
 * the successor replaces the default file.
 *
 * @example
 * ```ts
 * import { openOtaStore } from './store.js';
 * const store = await openOtaStore({ dataDir: './simvault-data' });
 * await store.close();
 * ```
 */
export async function openOtaStore(
  at: StoreLocation,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<OtaStore> {
  const resolved = await resolveKek(at, env);
  const keks = resolved.next ? [resolved.kek, resolved.next.kek] : [resolved.kek];
  let store: OtaStore;
  try {
    store = await openOtaStoreOn(await openDriver(at), keks);
  } catch (e) {
    if (e instanceof ServerError && e.code === 'SERVER_KEK_MISMATCH')
      throw new ServerError('SERVER_KEK_MISMATCH', `${e.message} (from ${resolved.source})`, {
        cause: e,
      });
    throw e;
  }
  if (resolved.next && store.kekId === resolved.next.kek.id) await resolved.next.promote();
  return store;
}
