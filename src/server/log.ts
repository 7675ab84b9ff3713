/**
 * Structured logs: one JSON object per line, with a time, a level and a message, plus fields.
 * Logging never stops a server: a line that cannot be written (standard error a closed pipe, a
 * full disk) is dropped, and the server goes on answering.
 *
 * @module
 */
import type { Writable } from 'node:stream';

/**
 * A log sink: takes one entry, writes one line.
 *
 * @example
 * ```ts
 * import type { Logger } from './log.js';
 * const entries: object[] = [];
 * const log: Logger = (level, msg, fields) => entries.push({ level, msg, ...fields });
 * ```
 */
export type Logger = (
  level: 'info' | 'warn' | 'error',
  msg: string,
  fields?: Record<string, unknown>,
) => void;

/**
 * A logger writing JSON lines (`{"time":...,"level":...,"msg":...,...fields}`) to `write`. A
 * `write` that throws loses its line, nothing more.
 *
 * @example
 * ```ts
 * import { jsonLogger } from './log.js';
 * const log = jsonLogger((line) => process.stderr.write(line));
 * log('info', 'listening', { url: 'http://127.0.0.1:8080' });
 * ```
 */
export function jsonLogger(write: (line: string) => void): Logger {
  return (level, msg, fields = {}) => {
    let line: string;
    try {
      line = `${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`;
    } catch {
      // A field that does not serialise (a cycle, a BigInt) must not cost the whole line.
      line = `${JSON.stringify({ time: new Date().toISOString(), level, msg, fields: 'unserialisable' })}\n`;
    }
    try {
      write(line);
    } catch {
      // The sink is gone (EPIPE, ENOSPC): a request must not fail because its log line did.
    }
  };
}

/**
 * A line writer for a stream that survives the stream's failure: a write error (a closed pipe, a
 * full disk) is swallowed instead of becoming an unhandled `error` event that ends the process,
 * and later lines are dropped while the stream is broken.
 *
 * @example
 * ```ts
 * import { jsonLogger, streamLineWriter } from './log.js';
 * const log = jsonLogger(streamLineWriter(process.stderr));
 * ```
 */
export function streamLineWriter(stream: Writable): (line: string) => void {
  let broken = false;
  stream.on('error', () => {
    broken = true;
  });
  return (line) => {
    if (broken || stream.destroyed || stream.writableEnded) return;
    stream.write(line, (e) => {
      // ENOSPC on a file can clear later; a closed pipe stays closed (and destroys the stream).
      if (e) broken = stream.destroyed;
    });
  };
}

/**
 * A logger that drops everything.
 *
 * @example
 * ```ts
 * import { silentLogger } from './log.js';
 * silentLogger('info', 'nobody hears this');
 * ```
 */
export const silentLogger: Logger = () => undefined;
