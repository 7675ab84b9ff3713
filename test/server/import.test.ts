// CSV reading and card import parsing.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseCsv } from '../../src/server/card-app/csv.js';
import { parseCardImport } from '../../src/server/card-app/import.js';
import { parseIccid } from '../../src/server/request-fields.js';
import {
  parseAid,
  parseApplication,
  parseCidKey,
  parseLabel,
} from '../../src/server/card-app/validate.js';
import { ADS, TV, cidHex, cidKey } from './fixtures.js';

const quote = (f: string) => (/[",\r\n]/.test(f) || f === '' ? `"${f.replace(/"/g, '""')}"` : f);

describe('parseCsv', () => {
  it('reads quotes, escaped quotes, separators and line breaks inside quotes, CRLF and blank lines', () => {
    expect(parseCsv('a,b\r\n"x,1","say ""hi"""\n\n"multi\nline",\n')).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['x,1', 'say "hi"'] },
      { line: 4, fields: ['multi\nline', ''] },
    ]);
    expect(parseCsv('a')).toEqual([{ line: 1, fields: ['a'] }]);
    expect(parseCsv('')).toEqual([]);
  });

  it('refuses an unclosed quote and text after a closing quote', () => {
    expect(() => parseCsv('a\n"open')).toThrow(/line 2: unclosed quote/);
    expect(() => parseCsv('"a"b')).toThrow(/text after a closing quote/);
  });

  it('reads back any table it is given, quoted as RFC 4180 says', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.string(), { minLength: 2, maxLength: 5 }), {
          minLength: 1,
          maxLength: 20,
        }),
        (rows) => {
          const text = rows.map((r) => r.map(quote).join(',')).join('\r\n');
          expect(parseCsv(text).map((r) => r.fields)).toEqual(rows);
        },
      ),
    );
  });
});

describe('parseCardImport', () => {
  it('validates each row on its own, with defaults', () => {
    const parsed = parseCardImport(
      `CID,State,Offer\n${cidHex(1)},,basic\n${cidKey(2)},active,\nzz,,\n${cidHex(3)},sold,\n${cidHex(4)},issued,bad offer\n${cidHex(5)}\n`,
      'csv',
    );
    expect(parsed.rows).toBe(6);
    expect(parsed.valid.map((v) => [v.row, v.card])).toEqual([
      [1, { cid: cidKey(1), state: 'issued', stage: 'registered', offer: 'basic' }],
      [2, { cid: cidKey(2), state: 'active', stage: 'registered' }],
    ]);
    expect(parsed.rejected.map((r) => [r.row, r.reason, r.message.split(':')[0]])).toEqual([
      [3, 'invalid', 'cid'],
      [4, 'invalid', 'state'],
      [5, 'invalid', 'offer'],
      [6, 'invalid', 'line 7'],
    ]);
  });

  it('refuses files of the wrong shape as a whole', () => {
    expect(() => parseCardImport('', 'csv')).toThrow(/empty/);
    expect(() => parseCardImport('cid,cid\n', 'csv')).toThrow(/twice/);
    expect(() => parseCardImport('[', 'json')).toThrow(/json/);
    expect(() => parseCardImport('"x"', 'json')).toThrow(/array/);
    expect(() => parseCardImport(`cid\n${cidHex(1)}\n${cidHex(2)}\n`, 'csv', 1)).toThrow(
      /at most 1/,
    );
  });
});

describe('validation guards', () => {
  it('keys a CID by its identity, with or without the CRC byte', () => {
    expect(parseCidKey(cidHex(1).toUpperCase())).toBe(cidKey(1));
    expect(parseCidKey(`${cidHex(1).slice(0, 30)}00`)).toBe(cidKey(1));
    expect(parseCidKey(cidKey(1))).toBe(cidKey(1));
    expect(() => parseCidKey(`${cidHex(1).slice(0, 30)}01`)).toThrow(/cid/);
    expect(() => parseCidKey(7)).toThrow(/must be a string/);
  });

  it('checks AIDs, ICCIDs and labels', () => {
    expect(parseAid('A000000087')).toBe('a000000087');
    expect(() => parseAid('a0000000')).toThrow(/aid/);
    expect(() => parseAid('a0'.repeat(17))).toThrow(/aid/);
    expect(parseIccid('1234567890')).toBe('1234567890');
    expect(() => parseIccid('123456789')).toThrow(/iccid/);
    expect(parseLabel('中国移动 GoTone', 'brand')).toBe('中国移动 GoTone');
    expect(() => parseLabel(' lead', 'brand')).toThrow(/brand/);
    expect(() => parseLabel('x'.repeat(65), 'brand')).toThrow(/brand/);
  });

  it('accepts application definitions the bind response can carry, and nothing else', () => {
    expect(parseApplication(TV)).toEqual(TV);
    expect(parseApplication({ ...ADS, resource: undefined })).toEqual(ADS);
    expect(() => parseApplication([])).toThrow(/JSON object/);
    expect(() => parseApplication({ ...TV, name: 'x'.repeat(65) })).toThrow(/SimvaultMessage/);
    expect(() => parseApplication({ ...TV, version: '' })).toThrow();
    expect(() => parseApplication({ ...TV, size: -1 })).toThrow(/size/);
    expect(() => parseApplication({ ...TV, resource: { ...TV.resource, digest: 'ab' } })).toThrow(
      /digest/,
    );
    expect(() => parseApplication({ ...TV, resource: 'x' })).toThrow(/resource/);
  });
});
