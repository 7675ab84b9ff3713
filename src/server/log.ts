/**
 * Structured logs: one JSON object per line, with a time, a level and a message, plus fields.
 *
 * @module
 */

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
 * A logger writing JSON lines (`{"time":...,"level":...,"msg":...,...fields}`) to `write`.
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
    write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
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
