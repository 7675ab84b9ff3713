/**
 * The OTA server's tables, a set of their own beside the registry's in the same database (all
 * named `ota_*`, versioned in `ota_migrations`), written in the SQL SQLite and PostgreSQL share.
 * A migration, once published, never changes; a change is a new migration at the end.
 *
 * @module
 */
import type { Migration } from '../store/schema.js';

/**
 * Every OTA migration, oldest first.
 *
 * @example
 * ```ts
 * import { OTA_MIGRATIONS } from './schema.js';
 * OTA_MIGRATIONS.at(-1)!.version; // the current OTA schema version
 * ```
 */
export const OTA_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'sims, keysets, counters, mobile-terminated queue',
    sql: `
      -- A SIM the OTA server talks to. The TAR and minimum security level are per-SIM
      -- configuration; mt_* say how mobile-terminated command packets are secured.
      -- mt_seq numbers the SIM's queue; stk_list_version only grows (RFM rollback protection).
      CREATE TABLE ota_sims (
        iccid TEXT PRIMARY KEY,
        msisdn TEXT UNIQUE,
        imsi TEXT,
        brand TEXT,
        tar TEXT NOT NULL,
        msl_ciphering INTEGER NOT NULL,
        msl_integrity TEXT NOT NULL,
        msl_counter TEXT NOT NULL,
        max_counter_step BIGINT,
        mt_spi TEXT NOT NULL,
        mt_kic INTEGER NOT NULL,
        mt_kid INTEGER NOT NULL,
        mt_seq BIGINT NOT NULL DEFAULT 0,
        stk_list_version BIGINT NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      );
      -- Keys per key version (the high nibble of KIc/KID), as hex.
      CREATE TABLE ota_keysets (
        iccid TEXT NOT NULL REFERENCES ota_sims (iccid) ON DELETE CASCADE,
        key_version INTEGER NOT NULL CHECK (key_version BETWEEN 1 AND 15),
        algorithm TEXT NOT NULL,
        kic TEXT NOT NULL,
        kid TEXT NOT NULL,
        PRIMARY KEY (iccid, key_version)
      );
      -- Counters per SIM and key version: 'mo' is the last counter accepted from the SIM, 'mt'
      -- the last one this server used. Both only grow; an 'mt' value is reserved (committed)
      -- before a packet carrying it is built, so no restart can reuse it.
      CREATE TABLE ota_counters (
        iccid TEXT NOT NULL REFERENCES ota_sims (iccid) ON DELETE CASCADE,
        key_version INTEGER NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('mo', 'mt')),
        value BIGINT NOT NULL,
        PRIMARY KEY (iccid, key_version, direction)
      );
      -- Mobile-terminated SMS waiting for the SIM's handset, in order of seq.
      CREATE TABLE ota_mt_queue (
        iccid TEXT NOT NULL REFERENCES ota_sims (iccid) ON DELETE CASCADE,
        seq BIGINT NOT NULL,
        tpdu TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('command', 'por')),
        key_version INTEGER,
        counter BIGINT,
        part INTEGER NOT NULL,
        parts INTEGER NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (iccid, seq)
      );
      CREATE INDEX ota_mt_queue_expiry ON ota_mt_queue (expires_at);
      -- Command packets sent to the SIM, to verify its proofs of receipt and record their status.
      CREATE TABLE ota_sent (
        iccid TEXT NOT NULL REFERENCES ota_sims (iccid) ON DELETE CASCADE,
        key_version INTEGER NOT NULL,
        counter BIGINT NOT NULL,
        spi TEXT NOT NULL,
        kic INTEGER NOT NULL,
        kid INTEGER NOT NULL,
        tar TEXT NOT NULL,
        message_type TEXT NOT NULL,
        transaction_id BIGINT NOT NULL,
        message TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        sent_at BIGINT NOT NULL,
        por_status TEXT,
        por_at BIGINT,
        PRIMARY KEY (iccid, key_version, counter)
      );
      CREATE INDEX ota_sent_pending ON ota_sent (iccid, por_status, sent_at);
    `,
  },
  {
    version: 2,
    name: 'keysets sealed under a key-encryption key',
    sql: `
      -- The identifier of the key-encryption key that seals every ota_keysets.kic and .kid (the
      -- key itself is never here). No row: the keys are still in the clear (schema 1); the
      -- server seals them under its KEK when it first opens the database.
      CREATE TABLE ota_kek (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        kek_id TEXT NOT NULL,
        sealed_at BIGINT NOT NULL
      );
    `,
  },
  {
    version: 3,
    name: 'concatenated MO SMS held for reassembly by any process',
    sql: `
      -- A concatenated mobile-originated message being put back together, keyed by its SIM and
      -- message (reference width, reference and total, as 'W:REF:TOTAL'). received counts the
      -- distinct segments held; the transaction that raises it to total assembles the message
      -- and sets completed_at, so exactly one process relays it. A completed row stays until
      -- expires_at so a late repeat of a segment is recognised, not relayed again.
      CREATE TABLE ota_mo_messages (
        iccid TEXT NOT NULL REFERENCES ota_sims (iccid) ON DELETE CASCADE,
        message TEXT NOT NULL,
        total INTEGER NOT NULL,
        received INTEGER NOT NULL,
        first_seen BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        completed_at BIGINT,
        relayed_at BIGINT,
        PRIMARY KEY (iccid, message)
      );
      CREATE INDEX ota_mo_messages_expiry ON ota_mo_messages (expires_at);
      -- The segments held: the SMS user data (header included) of each, hex.
      CREATE TABLE ota_mo_segments (
        iccid TEXT NOT NULL,
        message TEXT NOT NULL,
        seq INTEGER NOT NULL,
        user_data TEXT NOT NULL,
        PRIMARY KEY (iccid, message, seq),
        FOREIGN KEY (iccid, message) REFERENCES ota_mo_messages (iccid, message) ON DELETE CASCADE
      );
    `,
  },
];
