/**
 * Starts an OTA server: opens (and migrates) its tables in the registry's database, opens the
 * file folder, connects to the card application server and listens. `simvault server` starts it
 * next to the card application server.
 *
 * @module
 */
import { join } from 'node:path';
import { ArgumentError } from '../../errors.js';
import type { SmsAddress } from '../../protocol/sms.js';
import { CardAppClient } from '../card-app/client.js';
import type { SigningKey } from '../auth.js';
import { listen, type RunningServer } from '../listen.js';
import { silentLogger, type Logger } from '../log.js';
import type { RateLimitOptions } from '../rate-limit.js';
import type { StoreLocation } from '../store/open.js';
import { FileStore } from './files.js';
import { createOtaApp } from './http.js';
import { OtaRelay, type CardAppForwarder } from './relay.js';
import { openOtaStore, type OtaStore } from './store.js';

/** How long a sent packet is remembered for its proof of receipt. */
const SENT_RETENTION_MS = 7 * 24 * 3_600_000;

/**
 * Options of {@link startOtaServer}.
 *
 * @example
 * ```ts
 * import type { OtaServerOptions } from './start.js';
 * const o: OtaServerOptions = { store: { dataDir: './simvault-data' }, keys: [], cardAppUrl: 'http://127.0.0.1:8080', port: 0 };
 * ```
 */
export interface OtaServerOptions {
  /** Where the OTA tables live: the registry's location (same SQLite file or PostgreSQL schema). */
  store: StoreLocation;
  /** The deployment's signing keys: the first `ota` key signs requests to the card application server; `operator` keys may call the operator endpoints. */
  keys: readonly SigningKey[];
  /** Base URL of the card application server. */
  cardAppUrl: string;
  /** Folder of application files (default `<dataDir>/files`). */
  filesDir?: string;
  /** Listening host (default 127.0.0.1). */
  host?: string;
  /** Listening port (default 0: any free port). */
  port?: number;
  /** Per-SIM rate limit of the SIM's handset's signed requests. */
  rateLimit?: RateLimitOptions;
  /** Per-address rate limit of anonymous requests and failed signatures. */
  anonymousRateLimit?: RateLimitOptions;
  /** TP-OA of mobile-terminated SMS. */
  originator?: SmsAddress;
  /** How long queued SMS wait for their handset (default 24 h). */
  mtTtlMs?: number;
  /** Largest uploaded file (default 1 GiB). */
  maxUploadBytes?: number;
  /**
   * How often waiting long-polls re-read the queue (default 1000 ms). On PostgreSQL, SMS queued
   * by other processes wake them at once (`LISTEN/NOTIFY`): this is the fallback for what a
   * lost listening connection missed.
   */
  pollIntervalMs?: number;
  /** How long the segments of a concatenated MO message wait for the rest (default 120 s). */
  reassemblyTimeoutMs?: number;
  /**
   * Use this instead of an HTTP client of `cardAppUrl` (tests, in-process deployments).
   *
   * @internal
   */
  cardApp?: CardAppForwarder;
  /** Structured log sink. */
  log?: Logger;
}

/**
 * A running OTA server.
 *
 * @example
 * ```ts
 * import type { RunningOtaServer } from './start.js';
 * async function stop(s: RunningOtaServer) {
 *   await s.close();
 * }
 * ```
 */
export interface RunningOtaServer extends RunningServer {
  /**
   * SIMs, counters and queues.
   *
   * @internal
   */
  store: OtaStore;
  /**
   * The relay (send to SIMs, push STK lists).
   *
   * @internal
   */
  relay: OtaRelay;
  /**
   * Application files.
   *
   * @internal
   */
  files: FileStore;
}

/**
 * Open the OTA store and listen. `close()` ends every long-poll and event stream, stops the
 * listener, waits for in-flight requests, then closes the store.
 *
 * @example
 * ```ts
 * import { startOtaServer } from './start.js';
 * import { loadOrCreateKeys } from '../keys.js';
 * const keys = await loadOrCreateKeys('./d/keys.json');
 * const ota = await startOtaServer({ store: { dataDir: './d' }, keys, cardAppUrl: 'http://127.0.0.1:8080' });
 * console.log(ota.url);
 * await ota.close();
 * ```
 */
export async function startOtaServer(options: OtaServerOptions): Promise<RunningOtaServer> {
  const otaKey = options.keys.find((k) => k.role === 'ota');
  if (!options.cardApp && !otaKey)
    throw new ArgumentError(
      'the OTA server needs an ota signing key to call the card application server',
    );
  const log = options.log ?? silentLogger;
  const store = await openOtaStore(options.store);
  try {
    const cardApp =
      options.cardApp ??
      new CardAppClient({ baseUrl: options.cardAppUrl, ...(otaKey ? { otaKey } : {}) });
    const relay = new OtaRelay(store, cardApp, {
      log,
      ...(options.originator ? { originator: options.originator } : {}),
      ...(options.mtTtlMs !== undefined ? { mtTtlMs: options.mtTtlMs } : {}),
      ...(options.reassemblyTimeoutMs !== undefined
        ? { reassemblyTimeoutMs: options.reassemblyTimeoutMs }
        : {}),
    });
    // Closed with the store.
    await store.watchMt(
      (iccid) => {
        relay.notifier.notify(iccid);
      },
      {
        onGap: () => {
          log('info', 'mt listener reconnected', {});
          relay.notifier.notifyAll();
        },
        onError: (e) => {
          log('warn', 'mt listener lost', { error: e instanceof Error ? e.message : String(e) });
        },
      },
    );
    const files = new FileStore(options.filesDir ?? join(options.store.dataDir, 'files'));
    const shutdown = new AbortController();
    const app = await createOtaApp(relay, files, {
      keys: options.keys,
      shutdown: shutdown.signal,
      log,
      ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
      ...(options.anonymousRateLimit ? { anonymousRateLimit: options.anonymousRateLimit } : {}),
      ...(options.maxUploadBytes !== undefined ? { maxUploadBytes: options.maxUploadBytes } : {}),
      ...(options.pollIntervalMs !== undefined ? { pollIntervalMs: options.pollIntervalMs } : {}),
    });
    const server = await listen(app.fetch, {
      ...(options.host !== undefined ? { host: options.host } : {}),
      ...(options.port !== undefined ? { port: options.port } : {}),
    });
    const purge = setInterval(() => {
      const now = Date.now();
      Promise.all([
        store.purgeExpired(now, now - SENT_RETENTION_MS),
        store.purgeMoSegments(now),
      ]).catch((e: unknown) => {
        log('warn', 'queue purge failed', { error: e instanceof Error ? e.message : String(e) });
      });
    }, 60_000);
    purge.unref();
    let closing: Promise<void> | undefined;
    return {
      ...server,
      store,
      relay,
      files,
      close() {
        closing ??= (async () => {
          clearInterval(purge);
          shutdown.abort();
          await server.close();
          await store.close();
        })();
        return closing;
      },
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}
