// `simvault demo` (npm start): the end-to-end demo through runCli, in text and JSON.
import { describe, expect, it } from 'vitest';
import type { DemoReport } from '../../src/cli/commands/demo.js';
import { cli, jsonOf } from '../helpers/cli.js';

describe('simvault demo', () => {
  it('runs every flow and reports "end-to-end verified" with the patent steps', async () => {
    const r = await cli(['demo', '--size', '256']);
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout.toString();
    for (const step of [
      '[301]',
      '[302]',
      '[303]',
      '[311]',
      '[501]',
      '[502]',
      '[503]',
      '[504]',
      '[505]',
      '[601]',
      '[606]',
      '[401]',
      '[405]',
    ])
      expect(out).toContain(step);
    expect(out).toContain('[done] end-to-end verified');
    const [result, next] = out.split('\n\n').slice(-2);
    expect(result!.split('\n').at(-1)).toMatch(/^end-to-end verified in \d+\.\d s$/);
    // It ends by saying what to try next.
    expect(next).toMatch(/^Try next:\n/);
    expect(next).toContain('docs/guide-handset.md');
  });

  it('--json prints the report: checks, digests and server counts', async () => {
    const r = await cli(['demo', '--json', '--size', '64']);
    expect(r.code, r.stderr).toBe(0);
    const doc = jsonOf(r) as DemoReport;
    expect(doc.verified).toBe(true);
    expect(Object.values(doc.checks).every(Boolean)).toBe(true);
    expect(doc.file.storedSha256).toBe(doc.file.sourceSha256);
    expect(doc.file.size).toBe(64 * 1024);
    expect(doc.report).toEqual({ downloads: 1, stored: 0, deletes: 1 });
    expect(doc.steps.at(-1)).toEqual({ step: 'done', text: 'end-to-end verified' });
  });

  it('usage errors exit 2; demo crypto is still there', async () => {
    expect((await cli(['demo', '--size', 'lots'])).code).toBe(2);
    const help = await cli(['demo', 'crypto', '--help']);
    expect(help.stdout.toString()).toContain('Usage: simvault demo crypto');
  });
});
