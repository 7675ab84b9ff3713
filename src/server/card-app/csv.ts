/**
 * A small RFC 4180 CSV reader for operator files: quoted fields with `""` escapes, commas and
 * line breaks inside quotes, CRLF or LF line ends, an optional final line break.
 *
 * @module
 */
import { ServerError } from '../errors.js';

/**
 * Split CSV text into records of fields. Blank lines are skipped. A quote that is never closed,
 * or text after a closing quote, is a `SERVER_BAD_REQUEST` naming the line.
 *
 * @example
 * ```ts
 * import { parseCsv } from './csv.js';
 * parseCsv('cid,stage\n0353,"in ""shop"", A"\n'); // [['cid', 'stage'], ['0353', 'in "shop", A']]
 * ```
 */
export function parseCsv(text: string): { line: number; fields: string[] }[] {
  const records: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let i = 0;
  let quotedField = false;
  const endRecord = () => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === '' && !quotedField))
      records.push({ line: recordLine, fields });
    fields = [];
    field = '';
    quotedField = false;
  };
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '"' && field === '' && !quotedField) {
      quotedField = true;
      i++;
      for (;;) {
        if (i >= text.length)
          throw new ServerError('SERVER_BAD_REQUEST', `csv: line ${recordLine}: unclosed quote`);
        const c = text[i]!;
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (c === '\n') line++;
        field += c;
        i++;
      }
      const next = text[i];
      if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') {
        throw new ServerError(
          'SERVER_BAD_REQUEST',
          `csv: line ${line}: text after a closing quote`,
        );
      }
      continue;
    }
    if (ch === ',') {
      fields.push(field);
      field = '';
      quotedField = false;
      i++;
    } else if (ch === '\r' || ch === '\n') {
      endRecord();
      i += ch === '\r' && text[i + 1] === '\n' ? 2 : 1;
      line++;
      recordLine = line;
    } else {
      field += ch;
      i++;
    }
  }
  if (field !== '' || fields.length || quotedField) endRecord();
  return records;
}
