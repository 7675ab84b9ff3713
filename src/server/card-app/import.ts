/**
 * Card imports from operator files: CSV with a header line, or JSON. Each row is validated on its
 * own, so one bad row is reported and the rest still land; the report says, row by row, what was
 * refused and why.
 *
 * CSV columns: `cid` (required: the 32 hex digits of the CID register, or the 30 of its identity),
 * `state` (default `issued`), `stage` (default `registered`), `offer` (optional). JSON: an array
 * of `{ cid, state?, stage?, offer? }`, or `{ "cards": [...] }`.
 *
 * @module
 */
import { ServerError } from '../errors.js';
import type { CardImportRow } from '../store/store.js';
import { parseCsv } from './csv.js';
import { parseCidKey, parseLabel, parseLifecycleState, parseOfferName } from './validate.js';

/**
 * The stage a card gets when the import does not say.
 *
 * @example
 * ```ts
 * import { DEFAULT_STAGE } from './import.js';
 * DEFAULT_STAGE; // 'registered'
 * ```
 */
export const DEFAULT_STAGE = 'registered';

/**
 * Why a row was refused: `invalid` (a field is malformed; the message names it), `duplicate`
 * (already registered, or earlier in the same file), `unknownOffer`.
 *
 * @example
 * ```ts
 * import type { ImportRejectReason } from './import.js';
 * const r: ImportRejectReason = 'duplicate';
 * ```
 */
export type ImportRejectReason = 'invalid' | 'duplicate' | 'unknownOffer';

/**
 * One refused row of an import.
 *
 * @example
 * ```ts
 * import type { ImportRejection } from './import.js';
 * const r: ImportRejection = { row: 3, cid: 'zz', reason: 'invalid', message: 'cid: must be 32 hex digits' };
 * ```
 */
export interface ImportRejection {
  /** 1-based number of the data row (the CSV header is not counted). */
  row: number;
  /** The CID as the row gave it, if it gave one. */
  cid: string | null;
  /** Why, as a stable word. */
  reason: ImportRejectReason;
  /** Detail for a human. */
  message: string;
}

/**
 * The outcome of an import.
 *
 * @example
 * ```ts
 * import type { ImportReport } from './import.js';
 * const r: ImportReport = { rows: 2, accepted: 1, rejected: [{ row: 2, cid: null, reason: 'invalid', message: 'cid: must be a string' }] };
 * ```
 */
export interface ImportReport {
  /** Data rows in the file. */
  rows: number;
  /** Cards registered. */
  accepted: number;
  /** Rows refused, in file order. */
  rejected: ImportRejection[];
}

/**
 * Rows parsed from a file: the valid ones with their row numbers, and the refused ones.
 *
 * @example
 * ```ts
 * import { parseCardImport } from './import.js';
 * const parsed = parseCardImport('cid\n035344535530314780401c751300637d\n', 'csv');
 * parsed.valid.length; // 1
 * ```
 */
export interface ParsedImport {
  /** Data rows in the file. */
  rows: number;
  /** Valid rows. */
  valid: { row: number; card: CardImportRow; cid: string }[];
  /** Rows refused by validation. */
  rejected: ImportRejection[];
}

const COLUMNS = new Set(['cid', 'state', 'stage', 'offer']);

function rowOf(
  row: number,
  raw: Record<string, unknown>,
): ParsedImport['valid'][number] | ImportRejection {
  const cidText = typeof raw['cid'] === 'string' ? raw['cid'] : null;
  try {
    const present = (k: string) => raw[k] !== undefined && raw[k] !== null && raw[k] !== '';
    const card: CardImportRow = {
      cid: parseCidKey(raw['cid']),
      state: present('state') ? parseLifecycleState(raw['state']) : 'issued',
      stage: present('stage') ? parseLabel(raw['stage'], 'stage') : DEFAULT_STAGE,
      ...(present('offer') ? { offer: parseOfferName(raw['offer']) } : {}),
    };
    return { row, card, cid: cidText ?? card.cid };
  } catch (e) {
    if (e instanceof ServerError)
      return { row, cid: cidText, reason: 'invalid', message: e.message };
    throw e;
  }
}

/**
 * Parse and validate an import file. A file that is not CSV/JSON of the expected shape at all
 * (no `cid` column, an unknown column, not an array) is a `SERVER_BAD_REQUEST`; a bad row is only
 * that row's rejection.
 *
 * @example
 * ```ts
 * import { parseCardImport } from './import.js';
 * const parsed = parseCardImport('[{"cid":"035344535530314780401c751300637d","offer":"basic"}]', 'json');
 * parsed.valid[0]?.card.offer; // 'basic'
 * ```
 */
export function parseCardImport(
  text: string,
  format: 'csv' | 'json',
  maxRows = 100_000,
): ParsedImport {
  // A string stands for a row refused before its fields are looked at.
  let raws: (Record<string, unknown> | string)[];
  if (format === 'json') {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new ServerError('SERVER_BAD_REQUEST', `json: ${(e as Error).message}`);
    }
    const list = Array.isArray(doc) ? doc : (doc as { cards?: unknown } | null)?.cards;
    if (!Array.isArray(list))
      throw new ServerError(
        'SERVER_BAD_REQUEST',
        'json: expected an array of cards or { "cards": [...] }',
      );
    raws = list.map((v) =>
      typeof v === 'object' && v !== null && !Array.isArray(v)
        ? (v as Record<string, unknown>)
        : 'row: must be a JSON object',
    );
  } else {
    const records = parseCsv(text);
    const header = records.shift();
    if (!header)
      throw new ServerError(
        'SERVER_BAD_REQUEST',
        'csv: empty file, expected a header line with a cid column',
      );
    const names = header.fields.map((f) => f.trim().toLowerCase());
    const unknown = names.filter((n) => !COLUMNS.has(n));
    if (unknown.length)
      throw new ServerError(
        'SERVER_BAD_REQUEST',
        `csv: unknown column(s) ${unknown.join(', ')}; known: ${[...COLUMNS].join(', ')}`,
      );
    if (!names.includes('cid'))
      throw new ServerError('SERVER_BAD_REQUEST', 'csv: the header has no cid column');
    if (new Set(names).size !== names.length)
      throw new ServerError('SERVER_BAD_REQUEST', 'csv: a column is named twice');
    raws = records.map((r) => {
      if (r.fields.length !== names.length)
        return `line ${r.line}: ${r.fields.length} field(s), the header has ${names.length}`;
      const o: Record<string, unknown> = {};
      names.forEach((n, i) => (o[n] = r.fields[i]!.trim()));
      return o;
    });
  }
  if (raws.length > maxRows)
    throw new ServerError(
      'SERVER_BAD_REQUEST',
      `import: ${raws.length} rows, at most ${maxRows} per import`,
    );
  const parsed: ParsedImport = { rows: raws.length, valid: [], rejected: [] };
  raws.forEach((raw, i) => {
    const r =
      typeof raw === 'string'
        ? { row: i + 1, cid: null, reason: 'invalid' as const, message: raw }
        : rowOf(i + 1, raw);
    if ('card' in r) parsed.valid.push(r);
    else parsed.rejected.push(r);
  });
  return parsed;
}
