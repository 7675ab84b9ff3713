/**
 * `simvault/server`: the operator's side, for Node. The card application server (the registry
 * of cards, bindings, applications and offers), the OTA server (the SMS relay to SIMs and the
 * application files handsets download), the registry on SQLite or PostgreSQL, the signing keys
 * the servers share, and two clients so no tool signs a request by hand: {@link CardAppClient}
 * and {@link OtaAdminClient}.
 *
 * The database and HTTP packages are optional peer dependencies, so a handset vendor that never
 * runs a server installs none of them. Install what you run:
 *
 * | to | install |
 * |---|---|
 * | run either server | `hono`, `@hono/node-server` |
 * | keep the registry in SQLite (the default) | `better-sqlite3` |
 * | keep it in PostgreSQL | `pg` |
 *
 * A missing one is a {@link MissingDriverError} (`SERVER_DRIVER_MISSING`) naming the package to
 * install, raised when a server starts or a store opens — importing this entry never needs them.
 * See `docs/guide-operator.md` for a deployment step by step.
 *
 * @example
 * ```ts
 * import { mkdtempSync } from 'node:fs';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * import {
 *   CardAppClient,
 *   loadOrCreateKeys,
 *   startCardAppServer,
 *   startOtaServer,
 * } from 'simvault/server';
 *
 * const dataDir = mkdtempSync(join(tmpdir(), 'simvault-'));
 * const keys = await loadOrCreateKeys(join(dataDir, 'keys.json'));
 * const cardApp = await startCardAppServer({ store: { dataDir }, keys, port: 0 });
 * const ota = await startOtaServer({ store: { dataDir }, keys, cardAppUrl: cardApp.url, port: 0 });
 * const operatorKey = keys.find((k) => k.role === 'operator')!;
 * const registry = new CardAppClient({ baseUrl: cardApp.url, operatorKey });
 * console.log(await registry.listApplications()); // []
 * await ota.close();
 * await cardApp.close();
 * ```
 *
 * @module
 */
export {
  startCardAppServer,
  type CardAppServerOptions,
  type RunningCardAppServer,
} from './card-app/start.js';
export { startOtaServer, type OtaServerOptions, type RunningOtaServer } from './ota/start.js';
export type { RunningServer } from './listen.js';
export { CardAppClient, type CardAppClientOptions } from './card-app/client.js';
export {
  OtaAdminClient,
  type OtaAdminClientOptions,
  type SimProvisioning,
  type SimStatus,
  type StkListCard,
  type StkListPush,
  type UploadedFile,
} from './ota/admin-client.js';
export type { QueuedPacket } from './ota/relay.js';
export type { FileInfo } from './ota/files.js';
export type { CounterDirection, CounterRecord } from './ota/store.js';
export type { ProvisionedSim, SimConfigInput, SimSecurityLevel } from './ota/sim-config.js';
export { openStore, type StoreLocation } from './store/open.js';
export type { SqliteOptions } from './store/sqlite.js';
export type { PostgresOptions } from './store/postgres.js';
export type {
  ApplicationRecord,
  BindingRecord,
  BindOutcome,
  CardImportRow,
  CardRecord,
  DownloadReportRow,
  FileRecord,
  FileStatus,
  ImportRefusal,
  LifecycleState,
  RegistryStore,
  ResourceRecord,
  SimIdentity,
} from './store/store.js';
export type { CardInfo, CompletionOutcome } from './card-app/service.js';
export type { ImportRejection, ImportRejectReason, ImportReport } from './card-app/import.js';
export type { KeyRole, NonceClaim, SigningKey } from './auth.js';
export { loadOrCreateKeys } from './keys.js';
export { rotateOtaKek, type KekRotation, type KekRotationOptions } from './ota/kek-rotation.js';
export type { RotationResult } from './ota/keyset-sealing.js';
export { jsonLogger, type Logger } from './log.js';
export type { RateLimitOptions } from './rate-limit.js';
export { ServerError, type ServerErrorCode } from './errors.js';
export { OtaError, type OtaErrorCode } from './ota/errors.js';
export { MissingDriverError, SERVER_DRIVERS, type ServerDriver } from './drivers.js';
