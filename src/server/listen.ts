/**
 * Serves a fetch handler (a hono app) over HTTP on Node, and stops it cleanly: no new
 * connections, idle keep-alive connections closed, in-flight requests finished.
 *
 * Requests Node refuses before any handler sees them (a request line and headers over the size
 * limit, a malformed request line) are answered here in the same JSON error shape as every other
 * error: `431` or `400` with `{ "error": { "code": "SERVER_BAD_REQUEST", "message" } }`.
 *
 * @module
 */
import type { AddressInfo, Socket } from 'node:net';
import type { Server } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { loadDriver } from './drivers.js';
import type { ErrorBody } from './errors.js';
import { silentLogger, type Logger } from './log.js';

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
 * Where and how to listen.
 *
 * @example
 * ```ts
 * import type { ListenOptions } from './listen.js';
 * const o: ListenOptions = { host: '127.0.0.1', port: 0 };
 * ```
 */
export interface ListenOptions {
  /** Listening address (default 127.0.0.1). */
  host?: string;
  /** Port (default 0: any free port). */
  port?: number;
  /** Where refused connections are logged (default silent). */
  log?: Logger;
}

/** The status and message of a request Node's parser refused, or undefined to just drop it. */
function refusalOf(err: NodeJS.ErrnoException): { status: number; message: string } | undefined {
  switch (err.code) {
    case 'ECONNRESET':
    case 'EPIPE':
      return undefined;
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, message: 'the request line and headers are too large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'HPE_REQUEST_TIMEOUT':
      return { status: 408, message: 'the request did not arrive in time' };
    default:
      return { status: 400, message: 'the request is not valid HTTP/1.1' };
  }
}

/**
 * Answer a request Node's HTTP parser refused with a JSON error, then close the connection.
 *
 * @param err - the parser's error
 * @param socket - the client's connection
 * @param log - where to log the refusal
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket, log: Logger): void {
  const refusal = refusalOf(err);
  if (refusal === undefined || !socket.writable) {
    socket.destroy();
    return;
  }
  const body: ErrorBody = { error: { code: 'SERVER_BAD_REQUEST', message: refusal.message } };
  const json = JSON.stringify(body);
  log('info', 'request', { status: refusal.status, code: 'SERVER_BAD_REQUEST', parser: err.code });
  socket.end(
    `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status] ?? ''}\r\n` +
      'content-type: application/json\r\n' +
      `content-length: ${Buffer.byteLength(json)}\r\n` +
      'connection: close\r\n\r\n' +
      json,
  );
}

/**
 * Listen on `host:port` (port 0 picks a free one; the host defaults to loopback).
 *
 * @example
 * ```ts
 * import { loadDriver } from './drivers.js';
 * import { listen } from './listen.js';
 * const { Hono } = await loadDriver('hono', 'an HTTP app');
 * const app = new Hono().get('/', (c) => c.text('hi'));
 * const server = await listen(app.fetch, { port: 0 });
 * await fetch(server.url);
 * await server.close();
 * ```
 */
export async function listen(
  fetch: (request: Request) => Response | Promise<Response>,
  options: ListenOptions = {},
): Promise<RunningServer> {
  const { serve } = await loadDriver('@hono/node-server', 'an HTTP server');
  const hostname = options.host ?? '127.0.0.1';
  const log = options.log ?? silentLogger;
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, hostname, port: options.port ?? 0 }) as Server;
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      answerClientError(err, socket, log);
    });
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
