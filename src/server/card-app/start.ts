/**
 * Starts a card application server: opens (and migrates) the registry, builds the HTTP app and
 * listens. `simvault server` composes this with the other servers of a deployment.
 *
 * @module
 */
import type { SigningKey } from '../auth.js';
import { listen, type RunningServer } from '../listen.js';
import type { Logger } from '../log.js';
import type { RateLimitOptions } from '../rate-limit.js';
import { openStore, type StoreLocation } from '../store/open.js';
import type { RegistryStore } from '../store/store.js';
import { createCardAppApp } from './http.js';
import { CardAppService } from './service.js';

/**
 * Options of {@link startCardAppServer}.
 *
 * @example
 * ```ts
 * import type { CardAppServerOptions } from './start.js';
 * const o: CardAppServerOptions = { store: { dataDir: './simvault-data' }, keys: [], port: 0 };
 * ```
 */
export interface CardAppServerOptions {
  /** Where the registry lives. */
  store: StoreLocation;
  /** Accepted signing keys. */
  keys: readonly SigningKey[];
  /** Listening host (default 127.0.0.1). */
  host?: string;
  /** Listening port (default 0: any free port). */
  port?: number;
  /** Per-CID and per-SIM rate limit. */
  rateLimit?: RateLimitOptions;
  /** Per-address rate limit of anonymous requests. */
  anonymousRateLimit?: RateLimitOptions;
  /** Structured log sink. */
  log?: Logger;
}

/**
 * A running card application server.
 *
 * @example
 * ```ts
 * import type { RunningCardAppServer } from './start.js';
 * async function stop(s: RunningCardAppServer) {
 *   await s.close();
 * }
 * ```
 */
export interface RunningCardAppServer extends RunningServer {
  /**
   * The registry it serves.
   *
   * @internal
   */
  store: RegistryStore;
}

/**
 * Open the registry and listen. `close()` stops the listener, waits for in-flight requests, then
 * closes the registry.
 *
 * @example
 * ```ts
 * import { startCardAppServer } from './start.js';
 * import { loadOrCreateKeys } from '../keys.js';
 * const server = await startCardAppServer({ store: { dataDir: './d' }, keys: await loadOrCreateKeys('./d/keys.json') });
 * console.log(server.url);
 * await server.close();
 * ```
 */
export async function startCardAppServer(
  options: CardAppServerOptions,
): Promise<RunningCardAppServer> {
  const store = await openStore(options.store);
  try {
    const app = await createCardAppApp(new CardAppService(store), {
      keys: options.keys,
      ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
      ...(options.anonymousRateLimit ? { anonymousRateLimit: options.anonymousRateLimit } : {}),
      ...(options.log ? { log: options.log } : {}),
    });
    const server = await listen(app.fetch, {
      ...(options.host !== undefined ? { host: options.host } : {}),
      ...(options.port !== undefined ? { port: options.port } : {}),
    });
    let closing: Promise<void> | undefined;
    return {
      ...server,
      store,
      close() {
        closing ??= server.close().then(() => store.close());
        return closing;
      },
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}
