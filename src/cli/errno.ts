/**
 * Node's errno errors (`ENOENT`, `EPIPE`, `EADDRINUSE`, …) turned into {@link IoError}s with a
 * stable `IO_*` code and a message naming the path or address, so the command line never prints
 * a raw errno code twice (`ENOENT: ENOENT: …`) or one outside `ERROR_CODES`.
 *
 * @module
 */
import { IoError, type ErrorCode } from '../errors.js';

type IoCode = Extract<ErrorCode, `IO_${string}`>;

// errno code → stable code and the words that say what happened.
const ERRNO: Record<string, [IoCode, string]> = {
  ENOENT: ['IO_NOT_FOUND', 'no such file or folder'],
  EEXIST: ['IO_EXISTS', 'already exists (nothing was overwritten)'],
  EISDIR: ['IO_NOT_A_FILE', 'is a folder, not a file'],
  ENOTDIR: ['IO_NOT_A_FILE', 'a part of the path is not a folder'],
  EACCES: ['IO_ACCESS_DENIED', 'permission denied'],
  EPERM: ['IO_ACCESS_DENIED', 'operation not permitted'],
  EROFS: ['IO_ACCESS_DENIED', 'read-only file system'],
  ENOSPC: ['IO_NO_SPACE', 'no space left on the device'],
  EDQUOT: ['IO_NO_SPACE', 'disk quota exceeded'],
  EFBIG: ['IO_NO_SPACE', 'file too large for the file system'],
  EPIPE: ['IO_BROKEN_PIPE', 'the reader of the output went away (broken pipe)'],
  EADDRINUSE: ['IO_ADDRESS_IN_USE', 'address already in use'],
  ECONNREFUSED: ['IO_UNREACHABLE', 'connection refused'],
  ECONNRESET: ['IO_UNREACHABLE', 'connection reset by the peer'],
  ETIMEDOUT: ['IO_UNREACHABLE', 'timed out'],
  EHOSTUNREACH: ['IO_UNREACHABLE', 'host unreachable'],
  ENETUNREACH: ['IO_UNREACHABLE', 'network unreachable'],
  ENOTFOUND: ['IO_UNREACHABLE', 'no such host'],
  EAI_AGAIN: ['IO_UNREACHABLE', 'host name lookup failed'],
};

interface ErrnoLike {
  code: string;
  path?: unknown;
  dest?: unknown;
  address?: unknown;
  port?: unknown;
  syscall?: unknown;
  hostname?: unknown;
}

function errnoOf(e: unknown): ErrnoLike | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && /^E[A-Z0-9_]+$/.test(code) ? (e as ErrnoLike) : undefined;
}

/** What the error concerns: the path, the address and port, or the host. */
function subjectOf(e: ErrnoLike): string | undefined {
  if (typeof e.path === 'string') return e.path;
  if (typeof e.address === 'string')
    return typeof e.port === 'number' ? `${e.address}:${e.port}` : e.address;
  if (typeof e.hostname === 'string') return e.hostname;
  return undefined;
}

/**
 * The {@link IoError} for a thrown value that is (or was caused by) a Node errno error — such as
 * `fetch`'s `TypeError: fetch failed` whose cause is `ECONNREFUSED` — or `undefined` for anything
 * else.
 *
 * @example
 * ```ts
 * const e = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT', path: 'song.mp3' });
 * ioErrorOf(e)?.message; // 'song.mp3: no such file or folder (ENOENT)'
 * ```
 */
export function ioErrorOf(thrown: unknown): IoError | undefined {
  for (let e: unknown = thrown, depth = 0; e !== undefined && depth < 5; depth++) {
    const errno = errnoOf(e);
    if (errno) {
      const [code, words] = ERRNO[errno.code] ?? [
        'IO_FAILED',
        typeof errno.syscall === 'string' ? `${errno.syscall} failed` : 'failed',
      ];
      const subject = subjectOf(errno);
      return new IoError(
        code,
        `${subject !== undefined ? `${subject}: ` : ''}${words} (${errno.code})`,
        {
          ...(subject !== undefined ? { path: subject } : {}),
          errno: errno.code,
          cause: thrown,
        },
      );
    }
    e = typeof e === 'object' && e !== null ? (e as { cause?: unknown }).cause : undefined;
  }
  return undefined;
}
