// The command line a person meets: --version, the nearest command on a typo, `npx simvault` in a
// clone, never waiting on a terminal, never printing ciphertext onto one, missing files named,
// Node's errno codes mapped to stable IO_* codes, progress on a terminal.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ioErrorOf } from '../../src/cli/errno.js';
import { ERROR_CODES, IoError } from '../../src/errors.js';
import { cli } from '../helpers/cli.js';

const ROOT = join(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'simvault-main-'));
const key = join(dir, 'k.key');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

describe('simvault: the command line', () => {
  it('--version prints the package version', async () => {
    const r = await cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe(`simvault ${pkg.version}\n`);
  });

  it('suggests the nearest command on a typo, and lists a group named alone', async () => {
    const cases: [string[], string][] = [
      [['ecnrypt'], 'Did you mean: simvault encrypt?'],
      [['card', 'pt'], 'Did you mean: simvault card put?'],
      [['sim', 'creat', 'x.json'], 'Did you mean: simvault sim create?'],
      [['inpsect', 'cid'], 'Did you mean: simvault inspect?'],
      [['sim'], "'sim' commands: sim create"],
    ];
    for (const [args, hint] of cases) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(hint);
    }
    const far = await cli(['xyzzy']);
    expect(far.code).toBe(2);
    expect(far.stderr).not.toContain('Did you mean');
  });

  it('runs from a clone that was never built (what npx simvault runs)', () => {
    const bin = (
      JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
        bin: { simvault: string };
      }
    ).bin.simvault;
    const r = spawnSync(process.execPath, [join(ROOT, bin), '--version'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`simvault ${pkg.version}\n`);
  });

  it('encrypt refuses to write ciphertext to a terminal, and writes nothing', async () => {
    expect((await cli(['keygen', key])).code).toBe(0);
    const r = await cli(['encrypt', '--key', key, '-'], new Uint8Array(10), { stdout: true });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('refusing to write ciphertext to a terminal');
    expect(r.stdout.length).toBe(0);
  });

  it('a missing input is named, and nothing reaches standard output', async () => {
    const missing = join(dir, 'no-such-photo.jpg');
    for (const command of ['encrypt', 'decrypt']) {
      const r = await cli([command, '--key', key, missing]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `simvault: IO_NOT_FOUND: ${missing}: no such file or folder (ENOENT)\n`,
      );
      expect(r.stdout.length).toBe(0);
    }
    const folder = join(dir, 'a-folder');
    mkdirSync(folder);
    const r = await cli(['encrypt', '--key', key, folder, '-o', join(dir, 'x.svlt')]);
    expect(r.stderr).toContain(`IO_NOT_A_FILE: ${folder}`);
    const exists = await cli(['keygen', key]);
    expect(exists.stderr).toBe(
      `simvault: IO_EXISTS: ${key}: already exists (nothing was overwritten) (EEXIST)\n`,
    );
  });

  it('never waits for input typed at a terminal', async () => {
    for (const args of [
      ['encrypt', '--key', key, '-o', join(dir, 'never.svlt')],
      ['decrypt', '--key', key],
      ['inspect', 'cid'],
    ]) {
      const r = await cli(args, undefined, { stdin: true });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain('standard input is a terminal');
    }
  });

  it('encrypt and decrypt draw progress on a terminal, and only there', async () => {
    const plain = join(dir, 'big.bin');
    writeFileSync(plain, randomBytes(3 << 20));
    const sealed = join(dir, 'big.svlt');
    const onTerminal = await cli(['encrypt', '--key', key, plain, '-o', sealed], undefined, {
      stderr: true,
    });
    expect(onTerminal.code).toBe(0);
    expect(onTerminal.stderr).toMatch(/^\r?encrypt .*big\.bin \[#+\] 100% 3\.0 MiB\/3\.0 MiB/m);
    const quiet = await cli(['decrypt', '--key', key, sealed, '-o', join(dir, 'big.out')]);
    expect(quiet.stderr).toBe('');
    const asked = await cli([
      'decrypt',
      '--key',
      key,
      sealed,
      '-o',
      join(dir, 'big2.out'),
      '--progress',
    ]);
    expect(asked.stderr).toContain('100%');
  });

  it('a broken pipe on standard output is IO_BROKEN_PIPE, not a crash', () => {
    const plain = join(dir, 'pipe.bin');
    writeFileSync(plain, randomBytes(8 << 20));
    const r = spawnSync(
      'sh',
      [
        '-c',
        `node "${join(ROOT, 'bin/simvault.js')}" encrypt --key "${key}" "${plain}" | head -c 1 >/dev/null`,
      ],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toMatch(/^simvault: IO_BROKEN_PIPE: .*\(EPIPE\)\n$/);
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
  });
});

describe('Node errno errors become IO_* codes naming what they concern', () => {
  it('maps file, pipe and socket errno codes, through causes', async () => {
    const fileError = Object.assign(new Error('EISDIR: illegal operation on a directory, read'), {
      code: 'EISDIR',
      path: '/tmp',
      syscall: 'read',
    });
    expect(ioErrorOf(fileError)).toMatchObject({
      code: 'IO_NOT_A_FILE',
      path: '/tmp',
      errno: 'EISDIR',
    });
    for (const [errno, code] of [
      ['ENOSPC', 'IO_NO_SPACE'],
      ['EACCES', 'IO_ACCESS_DENIED'],
      ['EPIPE', 'IO_BROKEN_PIPE'],
      ['EWHATEVER', 'IO_FAILED'],
    ] as const)
      expect(ioErrorOf(Object.assign(new Error(errno), { code: errno }))?.code).toBe(code);

    // A port in use, as listen() reports it.
    const first = createServer();
    await new Promise<void>((resolve) => first.listen(0, '127.0.0.1', resolve));
    const port = (first.address() as { port: number }).port;
    const second = createServer();
    const inUse = await new Promise<unknown>((resolve) => {
      second.once('error', resolve);
      second.listen(port, '127.0.0.1');
    });
    first.close();
    const mapped = ioErrorOf(inUse);
    expect(mapped).toBeInstanceOf(IoError);
    expect(mapped).toMatchObject({ code: 'IO_ADDRESS_IN_USE', path: `127.0.0.1:${port}` });

    // A refused connection, as fetch reports it: TypeError('fetch failed') caused by ECONNREFUSED.
    const refused = await fetch(`http://127.0.0.1:${port}/`).catch((e: unknown) => e);
    expect(ioErrorOf(refused)).toMatchObject({ code: 'IO_UNREACHABLE', errno: 'ECONNREFUSED' });

    expect(ioErrorOf(new Error('plain'))).toBeUndefined();
    expect(ioErrorOf('text')).toBeUndefined();
    for (const c of ['IO_NOT_FOUND', 'IO_BROKEN_PIPE', 'IO_UNREACHABLE'])
      expect(Object.hasOwn(ERROR_CODES, c)).toBe(true);
  });
});
