/**
 * Serves a fetch handler (a hono app) over HTTP on Node, and stops it cleanly: no new
 * connections, idle keep-alive connections closed, in-flight requests finished.
 *
 * @module
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';

/**
 * A listening HTTP server.
 *
 * @example
 * ```ts
 * import type { RunningServer } from './listen.js';
 * async function stop(s: RunningServer) {
 *   console.log('stopping', s.url);
 *   await s.close();
 * }
 * ```
 */
export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:39515`. */
  url: string;
  /** The port bound. */
  port: number;
  /** Stop accepting connections and resolve once every connection has ended. */
  close(): Promise<void>;
}

/**
 * Listen on `host:port` (port 0 picks a free one; the host defaults to loopback).
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { listen } from './listen.js';
 * const app = new Hono().get('/', (c) => c.text('hi'));
 * const server = await listen(app.fetch, { port: 0 });
 * await fetch(server.url);
 * await server.close();
 * ```
 */
export function listen(
  fetch: (request: Request) => Response | Promise<Response>,
  options: { host?: string; port?: number } = {},
): Promise<RunningServer> {
  const hostname = options.host ?? '127.0.0.1';
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, hostname, port: options.port ?? 0 }) as Server;
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      const { port } = server.address() as AddressInfo;
      const host = hostname.includes(':') ? `[${hostname}]` : hostname;
      let closing: Promise<void> | undefined;
      resolve({
        url: `http://${host}:${port}`,
        port,
        close() {
          closing ??= new Promise<void>((done) => {
            server.close(() => {
              done();
            });
            server.closeIdleConnections();
          });
          return closing;
        },
      });
    });
  });
}
