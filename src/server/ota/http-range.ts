/**
 * The conditional and partial GET rules a resumable download needs (RFC 9110 §13-14): one byte
 * range, strong ETags, `If-None-Match` and `If-Range`. Pure functions over header text.
 *
 * @module
 */

/**
 * The outcome of a `Range` header against a representation of `size` bytes: the whole file,
 * one satisfiable range (inclusive `start..end`), or unsatisfiable (416).
 *
 * @example
 * ```ts
 * import type { RangeDecision } from './http-range.js';
 * const r: RangeDecision = { kind: 'partial', start: 0, end: 99 };
 * ```
 */
export type RangeDecision =
  | { /** Send everything (no Range, or one we ignore). */ kind: 'full' }
  | {
      /** Send one range. */ kind: 'partial';
      /** First byte. */ start: number;
      /** Last byte, inclusive. */ end: number;
    }
  | { /** Nothing of the range exists. */ kind: 'unsatisfiable' };

const RANGE = /^bytes=(\d*)-(\d*)$/;

/**
 * Decide a `Range` header for a file of `size` bytes. A header that is not one well-formed byte
 * range is ignored (the full file is sent), as RFC 9110 allows; so is a multi-range request,
 * which no resuming client needs.
 *
 * @example
 * ```ts
 * import { decideRange } from './http-range.js';
 * decideRange('bytes=100-', 1000); // { kind: 'partial', start: 100, end: 999 }
 * decideRange('bytes=-10', 1000); // { kind: 'partial', start: 990, end: 999 }
 * decideRange('bytes=1000-', 1000); // { kind: 'unsatisfiable' }
 * ```
 */
export function decideRange(header: string | undefined, size: number): RangeDecision {
  if (header === undefined) return { kind: 'full' };
  const m = RANGE.exec(header.trim().replace(/\s+/g, ''));
  if (!m) return { kind: 'full' };
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return { kind: 'full' };
  if (a.length > 15 || b.length > 15) return { kind: 'full' };
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(a);
  const last = b === '' ? Number.MAX_SAFE_INTEGER : Number(b);
  if (last < start) return { kind: 'full' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end: Math.min(last, size - 1) };
}

function entityTags(header: string): string[] {
  return header
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
}

function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

/**
 * `If-None-Match` (weak comparison): does the header match the current ETag, so a GET answers 304?
 *
 * @example
 * ```ts
 * import { noneMatch } from './http-range.js';
 * noneMatch('"abc", "def"', '"def"'); // true
 * noneMatch('*', '"def"'); // true
 * ```
 */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  return entityTags(header).some((t) => opaque(t) === opaque(etag));
}

/**
 * `If-Range`: may a Range be honoured? Only when it names exactly the current strong ETag; a weak
 * tag or a date never matches (a date cannot prove the bytes are the same), so the full file goes.
 *
 * @example
 * ```ts
 * import { ifRangeHolds } from './http-range.js';
 * ifRangeHolds(undefined, '"a"'); // true: no condition
 * ifRangeHolds('"a"', '"a"'); // true
 * ifRangeHolds('W/"a"', '"a"'); // false
 * ```
 */
export function ifRangeHolds(header: string | undefined, etag: string): boolean {
  if (header === undefined) return true;
  const tag = header.trim();
  return !tag.startsWith('W/') && tag === etag;
}
