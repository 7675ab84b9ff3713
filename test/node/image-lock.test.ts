// One writer per card image: a live lock makes the next writer fail with DEVICE_BUSY; a lock
// whose process died is taken over by exactly one of the processes racing for it; nothing that is
// not provably a simvault lock is ever removed.
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockImage } from '../../src/node/index.js';
import { errorCodeOf } from '../helpers/errors.js';
import { SimvaultError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'simvault-lock-'));
const ROOT = join(import.meta.dirname, '../..');
const CONTENDER = join(import.meta.dirname, 'lock-contender.ts');

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(r.stdout);
}

/** The error a lock attempt fails with. */
async function failure(p: Promise<unknown>): Promise<SimvaultError> {
  const e: unknown = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(SimvaultError);
  return e as SimvaultError;
}

/** The owner pid recorded in a lock directory. */
function ownerOf(image: string): number {
  const entries = readdirSync(`${image}.lock`);
  expect(entries).toHaveLength(1);
  return Number(/^owner-(\d+)-[0-9a-f]{32}$/.exec(entries[0]!)![1]);
}

describe('image lock', () => {
  it('is exclusive while held and free again once released', async () => {
    const image = join(dir, 'a.img');
    const release = await lockImage(image);
    expect(ownerOf(image)).toBe(process.pid);
    expect(await errorCodeOf(lockImage(image))).toBe('DEVICE_BUSY');
    await release();
    expect(existsSync(`${image}.lock`)).toBe(false);
    const again = await lockImage(image);
    await again();
  });

  it('takes over a lock left by a process that is gone, and the new owner is this process', async () => {
    const image = join(dir, 'b.img');
    const dead = deadPid();
    mkdirSync(`${image}.lock`);
    writeFileSync(join(`${image}.lock`, `owner-${dead}-${'ab'.repeat(16)}`), '');
    const release = await lockImage(image);
    expect(ownerOf(image)).toBe(process.pid);
    const busy = await failure(lockImage(image));
    expect(busy.code).toBe('DEVICE_BUSY');
    expect(busy.message).toContain(`process ${process.pid}`);
    await release();
    // A lock file of simvault 0.1 (a bare process id) whose process is gone is taken over too.
    writeFileSync(`${image}.lock`, `${dead}\n`);
    const second = await lockImage(image);
    expect(ownerOf(image)).toBe(process.pid);
    await second();
    // ...and honoured while its process lives.
    writeFileSync(`${image}.lock`, `${process.ppid}\n`);
    expect(await errorCodeOf(lockImage(image))).toBe('DEVICE_BUSY');
    expect(readFileSync(`${image}.lock`, 'utf8')).toBe(`${process.ppid}\n`);
  });

  it('never removes a file or directory that is not a simvault lock', async () => {
    const image = join(dir, 'c.img');
    for (const content of ['garbage\n', '', '12 34\n']) {
      writeFileSync(`${image}.lock`, content);
      const refused = await failure(lockImage(image));
      expect(refused.code).toBe('DEVICE_BUSY');
      expect(refused.message).toContain('not a simvault lock');
      expect(readFileSync(`${image}.lock`, 'utf8')).toBe(content);
    }
    const other = join(dir, 'd.img');
    mkdirSync(`${other}.lock`);
    writeFileSync(join(`${other}.lock`, 'notes.txt'), 'mine');
    expect(await errorCodeOf(lockImage(other))).toBe('DEVICE_BUSY');
    expect(readFileSync(join(`${other}.lock`, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('a release removes only its own lock, never one taken over after it', async () => {
    const image = join(dir, 'e.img');
    const release = await lockImage(image);
    // Someone else's lock in its place (as after a takeover).
    const token = readdirSync(`${image}.lock`)[0]!;
    const foreign = `owner-${process.ppid}-${'cd'.repeat(16)}`;
    writeFileSync(join(`${image}.lock`, foreign), '');
    const { rmSync } = await import('node:fs');
    rmSync(join(`${image}.lock`, token));
    await release();
    expect(readdirSync(`${image}.lock`)).toEqual([foreign]);
  });

  it('of several processes racing for a dead lock in the same millisecond, one at a time holds it (many rounds)', async () => {
    const ROUNDS = 8;
    const CONTENDERS = 4;
    let winners = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const image = join(dir, `race-${round}.img`);
      const log = join(dir, `race-${round}.log`);
      writeFileSync(log, '');
      // Half the rounds start from a lock of this version, half from a simvault 0.1 pid file.
      const dead = deadPid();
      if (round % 2 === 0) {
        mkdirSync(`${image}.lock`);
        writeFileSync(join(`${image}.lock`, `owner-${dead}-${'ef'.repeat(16)}`), '');
      } else writeFileSync(`${image}.lock`, `${dead}\n`);
      const start = Date.now() + 1200;
      const results = await Promise.all(
        Array.from(
          { length: CONTENDERS },
          () =>
            new Promise<string>((resolve, reject) => {
              const child = spawn(
                process.execPath,
                ['--import', 'tsx', CONTENDER, image, log, String(start), '30'],
                { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
              );
              let out = '';
              child.stdout.on('data', (d: Buffer) => {
                out += d.toString();
              });
              child.on('error', reject);
              child.on('close', () => {
                resolve(out);
              });
            }),
        ),
      );
      for (const r of results) expect(['won', 'DEVICE_BUSY']).toContain(r);
      winners += results.filter((r) => r === 'won').length;
      expect(results).toContain('won');
      // Entries and exits strictly alternate, each exit by the process that entered.
      const lines = readFileSync(log, 'utf8').trim().split('\n');
      for (let i = 0; i < lines.length; i += 2) {
        const [enter, exit] = [lines[i]!.split(' '), lines[i + 1]?.split(' ')];
        expect(enter[0]).toBe('enter');
        expect(exit).toEqual(['exit', enter[1]]);
      }
      expect(existsSync(`${image}.lock`)).toBe(false);
    }
    expect(winners).toBeGreaterThanOrEqual(ROUNDS);
  }, 120_000);
});
