import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../src/bytes.js';
import { docChip, readTranscripts } from './doc-chip.js';

const DOC = new URL('../../../docs/chip-apdus.md', import.meta.url).pathname;
const blocks = readTranscripts(DOC);

describe('docs/chip-apdus.md', () => {
  it('has example blocks', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(4);
  });

  blocks.forEach((block, b) => {
    it(`example block ${b + 1} replays exactly`, async () => {
      const chip = docChip();
      for (const { command, response, line } of block) {
        const got = toHex(await chip.transmit(fromHex(command)));
        expect(`${line}: ${got}`).toBe(`${line}: ${response}`);
      }
    });
  });

  it('shows every status word of its table in an example', () => {
    const text = readFileSync(DOC, 'utf8');
    const table = [...text.matchAll(/^\| `([0-9A-F]{2}[0-9A-Fx]{2})` \|/gm)].map((m) =>
      m[1]!.toLowerCase(),
    );
    expect(table).toEqual([
      '9000',
      '63cx',
      '6700',
      '6982',
      '6983',
      '6985',
      '6a80',
      '6a82',
      '6a86',
      '6a88',
      '6cxx',
      '6d00',
      '6e00',
    ]);
    const seen = new Set(blocks.flat().map((x) => x.response.slice(-4)));
    for (const sw of table) {
      const pattern = new RegExp(`^${sw.replace(/x/g, '[0-9a-f]')}$`);
      expect(
        [...seen].some((s) => pattern.test(s)),
        sw,
      ).toBe(true);
    }
  });

  it('exercises every command of its table', () => {
    const text = readFileSync(DOC, 'utf8');
    const headers = [
      ...text.matchAll(/^\| [A-Z ]+(?:\([a-z]+\))? \| `([0-9A-F]{2}) ([0-9A-F]{2})/gm),
    ].map((m) => `${m[1]}${m[2]}`.toLowerCase());
    expect(headers.length).toBe(9);
    const sent = blocks.flat().map((x) => x.command.slice(0, 4));
    for (const h of headers) expect(sent, h).toContain(h);
  });
});
