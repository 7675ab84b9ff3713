// `simvault keygen|encrypt|decrypt|demo`: in-process for the options and errors, and as real
// processes joined by a shell pipe for a large file.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, jsonOf } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'simvault-cli-'));
const keyPath = join(dir, 'k.key');

describe('simvault keygen / encrypt / decrypt', () => {
  it('keygen writes a 0600 hex key and refuses to overwrite', async () => {
    expect((await cli(['keygen', keyPath])).code).toBe(0);
    expect(readFileSync(keyPath, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
    expect(statSync(keyPath).mode & 0o777).toBe(0o600);
    const again = await cli(['keygen', keyPath]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('EEXIST');
  });

  it('round-trips stdin to stdout for every suite, with and without compression', async () => {
    const msg = randomBytes(50_000);
    for (const suite of ['cobblestone-256', 'cobblestone-128', 'cobblestone-chacha20poly1305']) {
      for (const extra of [[], ['--compress'], ['--backend', 'noble']]) {
        const enc = await cli(['encrypt', '--key', keyPath, '--suite', suite, ...extra, '-'], msg);
        expect(enc.code, enc.stderr).toBe(0);
        const dec = await cli(['decrypt', '--key', keyPath], enc.stdout);
        expect(dec.code, dec.stderr).toBe(0);
        expect(dec.stdout.equals(msg)).toBe(true);
      }
    }
  });

  it('files: --output appears only when complete; a damaged file leaves nothing behind', async () => {
    const plain = join(dir, 'plain.bin');
    const sealed = join(dir, 'plain.svlt');
    const opened = join(dir, 'plain.out');
    writeFileSync(plain, randomBytes(100_000));
    expect((await cli(['encrypt', '--key', keyPath, plain, '-o', sealed])).code).toBe(0);
    expect((await cli(['decrypt', '--key', keyPath, sealed, '-o', opened])).code).toBe(0);
    expect(readFileSync(opened).equals(readFileSync(plain))).toBe(true);

    const bad = readFileSync(sealed);
    bad[bad.length - 30]! ^= 1;
    const badPath = join(dir, 'bad.svlt');
    writeFileSync(badPath, bad);
    const target = join(dir, 'never.out');
    const r = await cli(['decrypt', '--key', keyPath, badPath, '-o', target]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/CRYPTO_AUTH_FAILED/);
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(dir).some((f) => f.includes('.partial-'))).toBe(false);
  });

  it('usage errors exit 2, failures exit 1 with a code', async () => {
    expect((await cli(['encrypt'])).code).toBe(2);
    expect((await cli(['encrypt', '--key', keyPath, '--suite', 'rot13'])).code).toBe(2);
    expect((await cli(['encrypt', '--key', keyPath, '--backend', 'gpu'])).code).toBe(2);
    expect((await cli(['encrypt', '--nope'])).code).toBe(2);
    expect((await cli(['frobnicate'])).code).toBe(2);
    const wrongKey = join(dir, 'wrong.key');
    writeFileSync(wrongKey, 'not a key');
    const r = await cli(['decrypt', '--key', wrongKey], new Uint8Array(100));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('INVALID_ARGUMENT');
    const notEnvelope = await cli(['decrypt', '--key', keyPath], new Uint8Array(100));
    expect(notEnvelope.stderr).toContain('CRYPTO_BAD_ENVELOPE');
    const help = await cli(['encrypt', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout.toString()).toContain('Usage: simvault encrypt');
  });

  it('demo verifies its round trip and reports JSON', async () => {
    const r = await cli(['demo', 'crypto', '--size', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = jsonOf(r) as { results: { verified: boolean }[] };
    expect(doc.results).toHaveLength(3);
    for (const row of doc.results) expect(row.verified).toBe(true);
  });
});

describe('simvault as processes through pipes', () => {
  it('encrypt | decrypt round-trips a 64 MiB file', () => {
    const big = join(dir, 'big.bin');
    const chunk = randomBytes(1 << 20);
    const buf = Buffer.alloc(64 << 20);
    for (let off = 0; off < buf.length; off += chunk.length) {
      chunk.copy(buf, off);
      chunk[0]! += 1;
    }
    writeFileSync(big, buf);
    const main = join(process.cwd(), 'src/cli/main.ts');
    const tsx = join(process.cwd(), 'node_modules/.bin/tsx');
    const out = execFileSync(
      'bash',
      [
        '-o',
        'pipefail',
        '-c',
        `"${tsx}" "${main}" encrypt --key "${keyPath}" < "${big}" | "${tsx}" "${main}" decrypt --key "${keyPath}" - | sha256sum`,
      ],
      { encoding: 'utf8', maxBuffer: 1 << 20 },
    );
    expect(out.split(' ')[0]).toBe(createHash('sha256').update(buf).digest('hex'));
  });

  it('exit status 2 and usage on stderr for a bad command line', () => {
    const r = spawnSync(
      join(process.cwd(), 'node_modules/.bin/tsx'),
      ['src/cli/main.ts', 'decrypt', '--key'],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("Try 'simvault --help'");
    expect(r.stdout).toBe('');
  });
});
