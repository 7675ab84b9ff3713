// `simvault card …`: every command in-process, usage errors (exit 2) and failures (exit 1 with a
// stable code), a round trip through real shell pipes, and `kill -9` of a put at random moments.
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeCid } from '../../src/protocol/cid.js';
import { randomCid } from '../../src/cli/card-session.js';
import { parseCid, parseRange, parseSize, parseZones } from '../../src/cli/options.js';
import { ProgressBar } from '../../src/cli/progress.js';
import { cli, jsonOf } from '../helpers/cli.js';
import type { FsckReport, PendingPut } from '../../src/card/index.js';
import type { Zone } from '../../src/crypto/keys.js';

/** What `card info --json` prints (the keyed fields only with a key source). */
interface InfoDoc {
  cardIdentity: string;
  suite: string;
  zones: {
    zone: Zone;
    capacity: number;
    used?: number;
    free?: number;
    files?: number;
    fileBytes?: number;
    zoneGeneration?: number;
  }[];
  total?: { capacity: number; used: number; free: number; files: number };
}
/** What `card create --json` prints. */
interface CreateDoc {
  segments: number;
  cid: string;
  suite: string;
}
/** What `card put --json` prints. */
interface FileDoc {
  zone: Zone;
  name: string;
  size: number;
}
/** What `card ls --json` prints. */
interface LsDoc {
  files: FileDoc[];
  pending: (PendingPut & { zone: Zone })[];
}
/** What `sim menu --json` prints (the part these tests read). */
interface MenuDoc {
  cards: { cid: string; bound: boolean; anchors: Partial<Record<Zone, number>> }[];
}
/** What `card bind --json` prints. */
interface BindDoc {
  binding: 'new' | 'existing';
}
import fc from 'fast-check';
import { fromHex } from '../../src/bytes.js';
import { mountCard } from '../../src/card/card.js';
import { deriveCardKeys } from '../../src/crypto/keys.js';
import { SimvaultError } from '../../src/errors.js';
import { FileDevice } from '../../src/node/file-device.js';

const ROOT = join(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'simvault-card-cli-'));
const key = join(dir, 'sim.key');
const otherKey = join(dir, 'other.key');
const CID = '03534453443038478012345678014b7d';
/** fsck's last line on a card with no problems (notes, which are not damage, only counted). */
const FSCK_OK = /\nok( \(\d+ note\(s\): --verbose shows them\))?\n$/;
const SMALL = [
  '--size',
  '8M',
  '--zones',
  'operator=512K,advertising=512K,multimedia=2M',
  '--fill',
  'zero',
];

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function ok(args: string[], stdin?: Uint8Array) {
  const r = await cli(args, stdin);
  expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r;
}

async function fails(args: string[], code: 1 | 2, text?: string | RegExp, stdin?: Uint8Array) {
  const r = await cli(args, stdin);
  expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(code);
  if (text !== undefined) expect(r.stderr).toMatch(text);
  return r;
}

/** The JSON the card commands print, as far as these tests read it. */
interface Printed {
  cardIdentity: string;
  cid: string;
  suite: string;
  segments: number;
  size: number;
  ok: boolean;
  zones: Array<{
    zone: string;
    capacity: number;
    used: number;
    free: number;
    files: number;
    fileBytes: number;
    zoneGeneration: number;
  }>;
  total: { files: number };
  files: Array<{ zone: string; name: string; size: number }>;
  pending: Array<{ name: string; durableBytes: number }>;
  problems: Array<{ kind: string; detail: string; repairable: boolean }>;
}

function printed(r: { stdout: Buffer }): Printed {
  return JSON.parse(r.stdout.toString()) as Printed;
}

let images = 0;
async function image(extra: string[] = SMALL): Promise<string> {
  const path = join(dir, `card-${images++}.img`);
  await ok(['card', 'create', path, '--key', key, '--cid', CID, ...extra]);
  return path;
}

await cli(['keygen', key]);
await cli(['keygen', otherKey]);

describe('simvault card: argument parsers', () => {
  it('sizes, zones, CIDs and ranges', () => {
    expect(parseSize('4096', 'x')).toBe(4096);
    expect(parseSize('64K', 'x')).toBe(65536);
    expect(parseSize('8MiB', 'x')).toBe(8 << 20);
    expect(parseSize('2g', 'x')).toBe(2 * 1024 ** 3);
    for (const bad of ['', '1.5M', '-1', '12Q', 'M'])
      expect(() => parseSize(bad, 'x')).toThrow(/not a size/);
    expect(parseZones('user=24M,operator=1M')).toEqual({ user: 24 << 20, operator: 1 << 20 });
    expect(() => parseZones('users=1M')).toThrow(/ZONE=SIZE/);
    expect(() => parseZones('user=1M,user=2M')).toThrow(/twice/);
    expect(parseCid(CID)).toHaveLength(16);
    expect(parseCid(CID.slice(0, 30))).toHaveLength(15);
    expect(() => parseCid(`${CID.slice(0, 30)}4a`)).toThrow(/not a valid CID/); // wrong CRC7
    expect(() => parseCid('abc')).toThrow(/32 hex digits/);
    expect(parseRange('0-99', 1000)).toEqual({ start: 0, end: 100 });
    expect(parseRange('990-', 1000)).toEqual({ start: 990, end: 1000 });
    expect(parseRange('-10', 1000)).toEqual({ start: 990, end: 1000 });
    expect(parseRange('0-', 0)).toEqual({ start: 0, end: 0 });
    expect(() => parseRange('900-5000', 1000)).toThrow(/reaches outside the file/);
    expect(() => parseRange('-1001', 1000)).toThrow(/reaches outside the file/);
    expect(() => parseRange('5-1', 1000)).toThrow(/before START/);
    expect(() => parseRange('1001-', 1000)).toThrow(/reaches outside the file/);
  });

  it('a random CID decodes, with a valid CRC7, and differs each time', () => {
    const a = randomCid();
    const b = randomCid();
    expect(decodeCid(a).crc).toBe('valid');
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
  });

  it('the progress bar counts bytes and draws rate and ETA', () => {
    let t = 0;
    const lines: string[] = [];
    const out = {
      write: (s: string) => lines.push(s),
      isTTY: true,
    } as unknown as import('node:stream').Writable;
    const bar = new ProgressBar(out, 'put x', 4 << 20, () => t);
    t = 1000;
    bar.add(1 << 20);
    expect(lines.at(-1)).toMatch(
      /put x \[#{6}\.{18}\] {2}25% 1\.0 MiB\/4\.0 MiB 1\.0 MiB\/s ETA 00:03/,
    );
    t = 1050;
    bar.add(1 << 20); // too soon to redraw
    expect(lines).toHaveLength(1);
    bar.finish();
    bar.finish();
    expect(lines).toHaveLength(2);
    expect(lines[1]!.endsWith('\n')).toBe(true);
  });
});

describe('simvault card create / info', () => {
  it('creates an image with the zones asked for and shows its header without keys', async () => {
    const path = await image();
    const info = jsonOf(await ok(['card', 'info', path, '--json'])) as InfoDoc;
    expect(info.cardIdentity).toBe(CID.slice(0, 30));
    expect(info.suite).toBe('cobblestone-256');
    expect(info.zones.map((z) => [z.zone, z.capacity])).toEqual([
      ['operator', 512 << 10],
      ['advertising', 512 << 10],
      ['multimedia', 2 << 20],
      ['user', (8 << 20) - (3 << 20) - 8192],
    ]);
    expect(info.zones[0]!.used).toBeUndefined();
    const text = (await ok(['card', 'info', path])).stdout.toString();
    expect(text).toContain(`card        ${CID.slice(0, 30)}`);
    expect(text).toMatch(/zone user +\d\.\d MiB {2}key [0-9a-f]{32}/);
  });

  it('with --key, info adds capacity, files and generations', async () => {
    const path = await image();
    await ok(['card', 'put', path, '--key', key, 'a', '-'], new Uint8Array(5000));
    const info = jsonOf(await ok(['card', 'info', path, '--key', key, '--json'])) as InfoDoc;
    const user = info.zones.find((z) => z.zone === 'user')!;
    expect(user.files).toBe(1);
    expect(user.fileBytes).toBe(5000);
    expect(user.zoneGeneration).toBe(2);
    expect(user.used! + user.free!).toBe(user.capacity);
    expect(info.total?.files).toBe(1);
    expect((await ok(['card', 'info', path, '--key', key])).stdout.toString()).toMatch(
      /total +8\.0 MiB, used .*, 1 files/,
    );
  });

  it('--cid random, a suite, segments; refuses to overwrite an image', async () => {
    const path = join(dir, 'seg.img');
    const r = await ok([
      'card',
      'create',
      path,
      '--key',
      key,
      '--cid',
      'random',
      '--size',
      '1M',
      '--segment-size',
      '256K',
      '--suite',
      'cobblestone-128',
      '--fill',
      'zero',
      '--json',
    ]);
    const made = jsonOf(r) as CreateDoc;
    expect(made.segments).toBe(5);
    expect(decodeCid(Buffer.from(made.cid, 'hex')).crc).toBe('valid');
    expect(existsSync(`${path}.004`)).toBe(true);
    expect((jsonOf(await ok(['card', 'info', path, '--json'])) as InfoDoc).suite).toBe(
      'cobblestone-128',
    );
    await ok(['card', 'put', path, '--key', key, 'x', '-'], new Uint8Array(100_000).fill(7));
    expect(
      (await ok(['card', 'get', path, '--key', key, 'x'])).stdout.equals(Buffer.alloc(100_000, 7)),
    ).toBe(true);
    const again = await fails(
      [
        'card',
        'create',
        path,
        '--key',
        key,
        '--cid',
        'random',
        '--size',
        '1M',
        '--segment-size',
        '256K',
      ],
      1,
      /DEVICE_BAD_IMAGE/,
    );
    expect(again.stdout.length).toBe(0);
    expect((jsonOf(await ok(['card', 'info', path, '--json'])) as InfoDoc).cardIdentity).toBe(
      made.cid.slice(0, 30),
    );
  });

  it('zones that do not fit leave no image behind; too small a card is a usage error however small', async () => {
    const path = join(dir, 'toosmall.img');
    await fails(
      ['card', 'create', path, '--key', key, '--cid', CID, '--size', '1M', '--zones', 'user=4M'],
      2,
      /--zones/,
    );
    expect(existsSync(path)).toBe(false);
    for (const size of ['0', '4K', '64K'])
      await fails(
        ['card', 'create', path, '--key', key, '--cid', CID, '--size', size],
        2,
        /--size/,
      );
    expect(existsSync(path)).toBe(false);
  });

  it('bad command lines exit 2', async () => {
    const path = join(dir, 'never.img');
    const base = ['card', 'create', path, '--key', key, '--cid', CID];
    await fails(['card', 'create', path, '--key', key, '--cid', CID], 2, /--size SIZE is required/);
    await fails([...base, '--size', '1000'], 2, /multiple of 4096/);
    await fails([...base, '--size', 'big'], 2, /not a size/);
    await fails(['card', 'create', path, '--key', key, '--size', '1M'], 2, /--cid HEX is required/);
    await fails([...base, '--size', '1M', '--cid', '1234'], 2, /32 hex digits/);
    await fails([...base, '--size', '1M', '--zones', 'cloud=1M'], 2, /ZONE=SIZE/);
    await fails([...base, '--size', '1M', '--suite', 'rot13'], 2, /--suite/);
    await fails([...base, '--size', '1M', '--fill', 'ones'], 2, /--fill/);
    await fails([...base, '--size', '1M', '--backend', 'gpu'], 2, /--backend/);
    await fails(
      ['card', 'create', path, '--cid', CID, '--size', '1M'],
      2,
      /--key KEYFILE or --sim STATE is required/,
    );
    await fails(['card', 'create'], 2, /usage/);
    await fails(['card', 'create', path, 'extra', '--size', '1M'], 2, /usage/);
    await fails(['card', 'ls', path, '--nope'], 2, /Unknown option/);
    await fails(['card'], 2, /'card' commands: card create/);
    await fails(['card', 'pt'], 2, /Did you mean: simvault card put\?/);
    expect(existsSync(path)).toBe(false);
    const put = ['card', 'put', path, '--key', key];
    await fails([...put, 'n', '-', '--zone', 'cloud'], 2, /--zone/);
    await fails([...put, 'n', '-', '--resume'], 2, /needs --source-tag/);
    await fails([...put, 'n', '-', '--source-tag', 'sha256'], 2, /needs a FILE/);
    await fails([...put, 'n', '-', '--source-tag', 'x'.repeat(65)], 2, /at most 64/);
    await fails([...put, 'n', '-', '--checkpoint', '1K'], 2, /at least 16K/);
    await fails(['card', 'put', path, '--key', key, 'n', '-'], 1, /DEVICE_BAD_IMAGE/); // no such image
    // NAME forgotten: the file is not silently stored under its path from standard input.
    await fails(['card', 'put', path, '--key', key, './song.mp3'], 2, /needs NAME and FILE/);
    await fails(['card', 'mv', path, '--key', key, 'a'], 2, /usage/);
    await fails(['card', 'get', path, '--key', key], 2, /usage/);
    const help = await ok(['card', 'put', '--help']);
    expect(help.stdout.toString()).toContain('Usage: simvault card put');
  });
});

describe('simvault card put / get / ls / rm / mv', () => {
  it('stores from stdin and from a file, lists, reads whole and by range, renames, deletes', async () => {
    const path = await image();
    const a = randomBytes(300_000);
    const bPath = join(dir, 'b.bin');
    const b = randomBytes(70_000);
    writeFileSync(bPath, b);
    const stored = jsonOf(
      await ok(['card', 'put', path, '--key', key, 'docs/a.bin', '-', '--json'], a),
    ) as FileDoc;
    expect(stored).toMatchObject({ zone: 'user', name: 'docs/a.bin', size: 300_000 });
    expect(
      (
        await ok(['card', 'put', path, '--key', key, '--zone', 'multimedia', 'b.bin', bPath])
      ).stdout.toString(),
    ).toBe('stored multimedia/b.bin: 70000 bytes\n');

    const ls = jsonOf(await ok(['card', 'ls', path, '--key', key, '--json'])) as LsDoc;
    expect(ls.files.map((f) => [f.zone, f.name, f.size])).toEqual([
      ['multimedia', 'b.bin', 70_000],
      ['user', 'docs/a.bin', 300_000],
    ]);
    expect(ls.pending).toEqual([]);
    expect(
      (await ok(['card', 'ls', path, '--key', key, '--zone', 'multimedia'])).stdout.toString(),
    ).toMatch(/^multimedia +70000 {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}b\.bin\n$/);

    expect(
      (await ok(['card', 'get', path, '--key', key, 'docs/a.bin', '-'])).stdout.equals(a),
    ).toBe(true);
    expect(
      (
        await ok(['card', 'get', path, '--key', key, 'docs/a.bin', '--range', '16380-16399'])
      ).stdout.equals(a.subarray(16380, 16400)),
    ).toBe(true);
    expect(
      (await ok(['card', 'get', path, '--key', key, 'docs/a.bin', '--range=-5'])).stdout.equals(
        a.subarray(-5),
      ),
    ).toBe(true);
    const out = join(dir, 'b.out');
    await ok(['card', 'get', path, '--key', key, '--zone', 'multimedia', 'b.bin', out]);
    expect(readFileSync(out).equals(b)).toBe(true);
    await fails(
      ['card', 'get', path, '--key', key, 'docs/a.bin', '--range', '300001-'],
      1,
      /INVALID_ARGUMENT/,
    );

    await ok(['card', 'mv', path, '--key', key, 'docs/a.bin', 'a.bin']);
    await ok(['card', 'put', path, '--key', key, 'c', '-'], new Uint8Array(10));
    await fails(['card', 'mv', path, '--key', key, 'a.bin', 'c'], 1, /CARD_EXISTS/);
    await ok(['card', 'mv', path, '--key', key, 'a.bin', 'c', '--force']);
    expect((await ok(['card', 'get', path, '--key', key, 'c'])).stdout.equals(a)).toBe(true);
    await fails(
      ['card', 'put', path, '--key', key, 'c', '-', '--no-overwrite'],
      1,
      /CARD_EXISTS/,
      new Uint8Array(3),
    );
    await ok(['card', 'rm', path, '--key', key, 'c']);
    await fails(['card', 'rm', path, '--key', key, 'c'], 1, /CARD_NOT_FOUND/);
    await fails(['card', 'get', path, '--key', key, 'c'], 1, /CARD_NOT_FOUND/);
    await fails(
      ['card', 'put', path, '--key', key, 'bad\u0001name', '-'],
      1,
      /CARD_BAD_NAME/,
      new Uint8Array(3),
    );
    expect((await ok(['card', 'ls', path, '--key', key, '--zone', 'user'])).stdout.toString()).toBe(
      '',
    );
    expect((await ok(['card', 'fsck', path, '--key', key])).stdout.toString()).toMatch(
      /\nok( \(\d+ note\(s\): --verbose shows them\))?\n$/,
    );
  });

  it('a streamed put that runs out of space says its interrupted upload was kept, and how to resume or drop it', async () => {
    const path = await image();
    // Undeclared size on standard input, with a tag: checkpoints every 64K until the zone is full.
    const r = await fails(
      [
        'card',
        'put',
        path,
        '--key',
        key,
        '--zone',
        'operator',
        '--source-tag',
        't1',
        '--checkpoint',
        '64K',
        'big',
        '-',
      ],
      1,
      /CARD_NO_SPACE/,
      new Uint8Array(1 << 20),
    );
    expect(r.stderr).toContain('the interrupted upload of operator/big was kept');
    expect(r.stderr).toContain('--resume');
    expect(r.stderr).toContain(`simvault card rm ${path} --zone operator --pending big`);
    const listed = printed(
      await ok(['card', 'ls', path, '--key', key, '--json', '--zone', 'operator']),
    );
    expect(listed.pending.map((p) => p.name)).toEqual(['big']);
    expect(listed.pending[0]!.durableBytes).toBeGreaterThan(0);
    // The command it names works and gives the space back.
    await ok(['card', 'rm', path, '--key', key, '--zone', 'operator', '--pending', 'big']);
    expect((await ok(['card', 'fsck', path, '--key', key])).stdout.toString()).toMatch(FSCK_OK);
  });

  it('a put that cannot fit is refused before a byte is written', async () => {
    const path = await image();
    const big = join(dir, 'big.bin');
    writeFileSync(big, Buffer.alloc(1 << 20));
    const before = jsonOf(await ok(['card', 'info', path, '--key', key, '--json'])) as InfoDoc;
    const r = await fails(
      ['card', 'put', path, '--key', key, '--zone', 'operator', 'big', big],
      1,
      /CARD_NO_SPACE/,
    );
    expect(r.stdout.length).toBe(0);
    const after = jsonOf(await ok(['card', 'info', path, '--key', key, '--json'])) as InfoDoc;
    expect(after).toEqual(before);
    // Declared on stdin too.
    await fails(
      ['card', 'put', path, '--key', key, '--zone', 'operator', '--size', '1M', 'big', '-'],
      1,
      /CARD_NO_SPACE/,
    );
    await fails(
      ['card', 'put', path, '--key', key, '--size', '100', 'n', '-'],
      1,
      /CARD_SIZE_MISMATCH/,
      new Uint8Array(99),
    );
  });

  it('the wrong SIM, another CID and a non-image are reported as exactly that', async () => {
    const path = await image();
    await fails(['card', 'ls', path, '--key', otherKey], 1, /CARD_WRONG_SIM/);
    await fails(
      ['card', 'ls', path, '--key', key, '--cid', '03534453443038478012345679014b00'],
      1,
      /CARD_CID_MISMATCH/,
    );
    await ok(['card', 'ls', path, '--key', key, '--cid', CID]);
    const junk = join(dir, 'junk.img');
    writeFileSync(junk, Buffer.alloc(1 << 20));
    await fails(['card', 'info', junk], 1, /CARD_NOT_FORMATTED/);
    await fails(['card', 'ls', junk, '--key', key], 1, /CARD_NOT_FORMATTED/);
    await fails(['card', 'info', join(dir, 'missing.img')], 1, /DEVICE_BAD_IMAGE/);
  });

  it('resumes an interrupted put from its checkpoint, or removes it', async () => {
    const path = await image();
    const data = randomBytes(200_000);
    const args = [
      'card',
      'put',
      path,
      '--key',
      key,
      'movie',
      '-',
      '--size',
      String(data.length),
      '--source-tag',
      'etag-1',
      '--checkpoint',
      '16K',
    ];
    await fails(args, 1, /CARD_SIZE_MISMATCH/, data.subarray(0, 100_000));
    const ls = jsonOf(await ok(['card', 'ls', path, '--key', key, '--json'])) as LsDoc;
    expect(ls.files).toEqual([]);
    expect(ls.pending).toHaveLength(1);
    const durable = ls.pending[0]!.durableBytes;
    expect(durable).toBeGreaterThan(0);
    expect((await ok(['card', 'ls', path, '--key', key])).stdout.toString()).toContain(
      '(interrupted put of 200000 bytes)  movie',
    );
    expect(
      (await ok(['card', 'fsck', path, '--key', key, '--verbose'])).stdout.toString(),
    ).toContain('can be resumed or abandoned');

    const resumed = await ok([...args, '--resume'], data);
    expect(resumed.stderr).toContain(`resuming user/movie at byte ${durable}`);
    expect((await ok(['card', 'get', path, '--key', key, 'movie'])).stdout.equals(data)).toBe(true);

    // Another source tag restarts from zero; --pending removes what is left.
    await fails(
      [...args.slice(0, -3), 'etag-2', '--checkpoint', '16K'],
      1,
      /CARD_SIZE_MISMATCH/,
      data.subarray(0, 50_000),
    );
    const restarted = await ok([...args, '--resume'], data);
    expect(restarted.stderr).not.toContain('resuming');
    await fails(args, 1, /CARD_SIZE_MISMATCH/, data.subarray(0, 50_000));
    await ok(['card', 'rm', path, '--key', key, '--pending', 'movie']);
    expect(
      (jsonOf(await ok(['card', 'ls', path, '--key', key, '--json'])) as LsDoc).pending,
    ).toEqual([]);
    expect((await ok(['card', 'get', path, '--key', key, 'movie'])).stdout.equals(data)).toBe(true);
  });

  it('--source-tag sha256 resumes a file put by its digest, reading the file from the durable offset', async () => {
    const path = await image();
    const data = randomBytes(150_000);
    const src = join(dir, 'resume.bin');
    writeFileSync(src, data);
    const tag = `sha256:${createHash('sha256').update(data).digest('base64url')}`;
    // Interrupt a put of these bytes under the digest tag the file put computes.
    const stdinPut = [
      'card',
      'put',
      path,
      '--key',
      key,
      'r',
      '-',
      '--size',
      String(data.length),
      '--source-tag',
      tag,
      '--checkpoint',
      '16K',
    ];
    await fails(stdinPut, 1, /CARD_SIZE_MISMATCH/, data.subarray(0, 90_000));
    const resumed = await ok([
      'card',
      'put',
      path,
      '--key',
      key,
      'r',
      src,
      '--source-tag',
      'sha256',
      '--resume',
    ]);
    expect(resumed.stderr).toMatch(/resuming user\/r at byte [1-9]/);
    expect((await ok(['card', 'get', path, '--key', key, 'r'])).stdout.equals(data)).toBe(true);
    // The file's default tag is not the digest: the same interruption then restarts from zero.
    await fails(stdinPut, 1, /CARD_SIZE_MISMATCH/, data.subarray(0, 90_000));
    expect(
      (await ok(['card', 'put', path, '--key', key, 'r', src, '--resume'])).stderr,
    ).not.toContain('resuming');
    expect((await ok(['card', 'get', path, '--key', key, 'r'])).stdout.equals(data)).toBe(true);
    expect(
      (jsonOf(await ok(['card', 'ls', path, '--key', key, '--json'])) as LsDoc).pending,
    ).toEqual([]);
  });

  it('--progress draws on stderr and keeps --json stdout clean', async () => {
    const path = await image();
    const r = await ok(
      ['card', 'put', path, '--key', key, 'p', '-', '--progress', '--json'],
      randomBytes(3 << 20),
    );
    expect((jsonOf(r) as FileDoc).size).toBe(3 << 20);
    expect(r.stderr).toMatch(/put user\/p 3\.0 MiB/);
    const g = await ok(['card', 'get', path, '--key', key, 'p', '--progress']);
    expect(g.stdout.length).toBe(3 << 20);
    expect(g.stderr).toMatch(/get user\/p \[#{24}\] 100% 3\.0 MiB\/3\.0 MiB/);
    const quiet = await ok(['card', 'get', path, '--key', key, 'p']);
    expect(quiet.stderr).toBe('');
  });
});

describe('simvault card fsck', () => {
  it('finds a damaged file, keeps the others readable, and exits 1 until it is gone', async () => {
    const path = await image();
    const victim = randomBytes(1 << 20);
    const other = randomBytes(40_000);
    await ok(['card', 'put', path, '--key', key, 'victim', '-'], victim);
    await ok(['card', 'put', path, '--key', key, 'other', '-'], other);
    // The image was zero-filled: the longest non-zero run of blocks in the user zone is the victim.
    const info = jsonOf(await ok(['card', 'info', path, '--json'])) as InfoDoc;
    const userStart = 8192 + info.zones.slice(0, 3).reduce((n, z) => n + z.capacity, 0);
    const img = readFileSync(path);
    let best = { start: 0, len: 0 };
    let run = { start: 0, len: 0 };
    for (let off = userStart; off < img.length; off += 4096) {
      if (img.subarray(off, off + 4096).some((x) => x !== 0)) {
        run = run.len ? { start: run.start, len: run.len + 1 } : { start: off, len: 1 };
        if (run.len > best.len) best = run;
      } else run = { start: 0, len: 0 };
    }
    expect(best.len).toBeGreaterThan(200);
    const fd = openSync(path, 'r+');
    const at = best.start + Math.floor(best.len / 2) * 4096 + 100;
    const one = Buffer.alloc(1);
    readSync(fd, one, 0, 1, at);
    one[0]! ^= 0x20;
    writeSync(fd, one, 0, 1, at);
    closeSync(fd);

    const report = await fails(['card', 'fsck', path, '--key', key, '--json'], 1);
    const json = jsonOf(report) as FsckReport;
    expect(json.ok).toBe(false);
    expect(json.problems).toEqual([
      expect.objectContaining({ zone: 'user', kind: 'file', repairable: false }),
    ]);
    expect(json.problems[0]!.detail).toMatch(/victim.*CRYPTO_AUTH_FAILED/);
    expect((await fails(['card', 'fsck', path, '--key', key], 1)).stdout.toString()).toMatch(
      /PROBLEM: user: file: .*\n1 problem\(s\) remain\n$/,
    );
    await fails(
      ['card', 'get', path, '--key', key, 'victim', join(dir, 'victim.out')],
      1,
      /CRYPTO_AUTH_FAILED/,
    );
    expect(existsSync(join(dir, 'victim.out'))).toBe(false);
    expect((await ok(['card', 'get', path, '--key', key, 'other'])).stdout.equals(other)).toBe(
      true,
    );
    await ok(['card', 'rm', path, '--key', key, 'victim']);
    await ok(['card', 'fsck', path, '--key', key, '--repair']);
  });

  it('reports a damaged header copy without touching the image; --repair (or any read-write mount) heals it', async () => {
    const path = await image();
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(16, 0xff), 0, 16, 4096 + 64);
    closeSync(fd);
    const before = readFileSync(path);
    expect((await fails(['card', 'fsck', path, '--key', key], 1)).stdout.toString()).toContain(
      'header copy 1 is damaged or stale (--repair fixes it)',
    );
    // A check alone writes nothing.
    expect(readFileSync(path).equals(before)).toBe(true);
    await fails(['card', 'fsck', path, '--key', key], 1);
    await ok(['card', 'fsck', path, '--key', key, '--repair']);
    await ok(['card', 'fsck', path, '--key', key]);
  });
});

describe('simvault card as real processes', () => {
  const node = (args: string) => `'${process.execPath}' --import tsx src/cli/main.ts ${args}`;

  it('round-trips a multi-MiB file through shell pipes', async () => {
    const path = await image(['--size', '32M', '--fill', 'zero']);
    const src = join(dir, 'pipe.bin');
    const data = randomBytes(9 * 1024 * 1024 + 12345);
    writeFileSync(src, data);
    execFileSync(
      'sh',
      ['-c', `cat '${src}' | ${node(`card put '${path}' --key '${key}' piped.bin -`)}`],
      { cwd: ROOT },
    );
    const digest = execFileSync(
      'sh',
      ['-c', `${node(`card get '${path}' --key '${key}' piped.bin -`)} | sha256sum`],
      { cwd: ROOT },
    ).toString();
    expect(digest.split(' ')[0]).toBe(sha(data));
  });

  it('kill -9 of a put at random moments: fsck passes, earlier files read back bit-exact', async () => {
    const path = await image([
      '--size',
      '72M',
      '--zones',
      'operator=1M,advertising=1M,multimedia=6M',
      '--fill',
      'zero',
    ]);
    const a = randomBytes(200_000);
    const m = randomBytes(3 << 20);
    await ok(['card', 'put', path, '--key', key, 'a', '-'], a);
    await ok(['card', 'put', path, '--key', key, '--zone', 'multimedia', 'm', '-'], m);
    let seed = 20240611;
    const rand = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    // A child `simvault card put`, killed -9 after `killAfterMs`, or once `killAfterBytes` of its
    // standard input have been handed to it (so the kill lands inside the put, not in start-up).
    const runPut = (args: string[], kill: { ms?: number; bytes?: number; input?: Uint8Array }) =>
      new Promise<{ killed: boolean; code: number | null; stderr: string }>((resolve) => {
        // Straight `node --import tsx`: the tsx wrapper would run the CLI in a grandchild that
        // outlives a SIGKILL of the wrapper.
        const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
          cwd: ROOT,
          stdio: ['pipe', 'ignore', 'pipe'],
        });
        let stderr = '';
        let killed = false;
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const timer =
          kill.ms === undefined
            ? undefined
            : setTimeout(() => (killed = child.kill('SIGKILL')), kill.ms);
        child.on('exit', (code) => {
          clearTimeout(timer);
          resolve({ killed, code, stderr });
        });
        child.stdin.on('error', () => undefined); // EPIPE once it is dead
        if (!kill.input) return void child.stdin.end();
        const input = kill.input;
        void (async () => {
          for (let off = 0; off < input.length && child.exitCode === null; off += 256 << 10) {
            if (!child.stdin.write(input.subarray(off, off + (256 << 10))))
              await new Promise((r) => child.stdin.once('drain', r));
            if (kill.bytes !== undefined && off >= kill.bytes) {
              await new Promise((r) => setTimeout(r, rand() * 30));
              killed = child.kill('SIGKILL');
              return;
            }
          }
          child.stdin.end();
        })();
      });

    const SIZE = 20 << 20;
    const srcOf = (i: number) => join(dir, `crash-${i}.bin`);
    const fromFile = (i: number) => [
      'card',
      'put',
      path,
      '--key',
      key,
      'big',
      srcOf(i),
      '--checkpoint',
      '1M',
    ];
    const fromStdin = (i: number) => [
      'card',
      'put',
      path,
      '--key',
      key,
      'big',
      '-',
      '--size',
      String(SIZE),
      '--source-tag',
      `gen-${i}`,
      '--checkpoint',
      '1M',
    ];
    writeFileSync(srcOf(0), randomBytes(SIZE));
    // Calibrate the file puts: the time to start up alone, and a whole put.
    let t0 = performance.now();
    await runPut(['card', 'info', path, '--key', key], {});
    const startup = performance.now() - t0;
    t0 = performance.now();
    const first = await runPut(fromFile(0), {});
    expect(first.code, first.stderr).toBe(0);
    const full = performance.now() - t0;
    let current = readFileSync(srcOf(0));
    let interrupted = 0;
    let resumed = 0;

    for (let i = 1; i <= 6; i++) {
      const next = randomBytes(SIZE);
      writeFileSync(srcOf(i), next);
      const viaStdin = i % 2 === 0;
      const r = viaStdin
        ? await runPut(fromStdin(i), { input: next, bytes: Math.floor(rand() * SIZE) })
        : await runPut(fromFile(i), { ms: Math.floor(startup + (full - startup) * rand()) });
      if (r.killed && r.code === null) interrupted++;
      const fsckRun = await cli(['card', 'fsck', path, '--key', key, '--json']);
      expect(fsckRun.code, fsckRun.stdout.toString()).toBe(0);
      expect((await ok(['card', 'get', path, '--key', key, 'a'])).stdout.equals(a)).toBe(true);
      expect(
        (await ok(['card', 'get', path, '--key', key, '--zone', 'multimedia', 'm'])).stdout.equals(
          m,
        ),
      ).toBe(true);
      // The replaced file is wholly the old one or wholly the new one.
      const big = (await ok(['card', 'get', path, '--key', key, 'big'])).stdout;
      expect([sha(current), sha(next)]).toContain(sha(big));
      // And the interrupted put resumes from its checkpoint (or restarts) to the new contents.
      const again = await ok(
        [...(viaStdin ? fromStdin(i) : fromFile(i)), '--resume'],
        viaStdin ? next : undefined,
      );
      if (again.stderr.includes('resuming')) resumed++;
      current = next;
      expect(sha((await ok(['card', 'get', path, '--key', key, 'big'])).stdout)).toBe(sha(next));
    }
    expect(interrupted).toBeGreaterThanOrEqual(3);
    expect(resumed).toBeGreaterThanOrEqual(1);
    const final = jsonOf(await ok(['card', 'ls', path, '--key', key, '--json'])) as LsDoc;
    expect(final.pending).toEqual([]);
    expect((await ok(['card', 'fsck', path, '--key', key])).stdout.toString()).toMatch(
      /\nok( \(\d+ note\(s\): --verbose shows them\))?\n$/,
    );
  }, 90_000);
});

describe('simvault card get --range and the library agree', () => {
  it('START-END reads what zone.get(name, START, END + 1) reads, and both refuse the same ranges', async () => {
    const path = await image();
    const data = randomBytes(40_000);
    await ok(['card', 'put', path, '--key', key, 'f', '-'], data);
    const device = await FileDevice.open(path, { readOnly: true });
    const cid = fromHex(CID);
    const card = await mountCard(device, {
      cid,
      keys: deriveCardKeys(fromHex(readFileSync(key, 'utf8').trim()), cid),
      readOnly: true,
    });
    try {
      await fc.assert(
        fc.asyncProperty(fc.nat(45_000), fc.nat(45_000), async (a, b) => {
          const start = Math.min(a, b);
          const last = Math.max(a, b);
          const library = await card
            .zone('user')
            .readFile('f', start, last + 1)
            .then((bytes) => ({ ok: true as const, bytes }))
            .catch((e: unknown) => ({ ok: false as const, e }));
          const viaCli = await cli([
            'card',
            'get',
            path,
            '--key',
            key,
            'f',
            '--range',
            `${start}-${last}`,
          ]);
          if (library.ok) {
            expect(viaCli.code, viaCli.stderr).toBe(0);
            expect(viaCli.stdout.equals(Buffer.from(library.bytes))).toBe(true);
            expect(library.bytes.length).toBe(last + 1 - start);
          } else {
            expect(library.e).toBeInstanceOf(SimvaultError);
            expect(viaCli.code).toBe(1);
            expect(viaCli.stderr).toContain('INVALID_ARGUMENT');
          }
        }),
        { numRuns: 25 },
      );
    } finally {
      await card.unmount();
    }
  });
});

describe('simvault card with --sim STATE', () => {
  const fresh = (prefix: string, ext: string) =>
    join(dir, `${prefix}-${Math.random().toString(36).slice(2)}.${ext}`);
  /** A 4M card image bound to the SIM of `sim`, created with `card create --sim`. */
  const simCard = (path: string, sim: string, cid = 'random') =>
    ok(['card', 'create', path, '--size', '4M', '--sim', sim, '--cid', cid, '--fill', 'zero']);

  it('binds the card it creates, takes its keys from the SIM, anchors every change there, and reports a rolled-back image', async () => {
    const simPath = fresh('sim', 'json');
    await ok(['sim', 'create', simPath, '--iccid', '89860000000000000001']);
    const cid = '03534453443038478012345678014b7d';
    const path = fresh('sim-card', 'img');
    const created = await simCard(path, simPath, cid);
    expect(created.stdout.toString()).toContain(`CID ${cid}`);
    const menu = jsonOf(await ok(['sim', 'menu', simPath, '--json'])) as MenuDoc;
    expect(menu.cards).toMatchObject([{ cid, bound: true, anchors: { user: 1 } }]);
    const before = readFileSync(path);
    const src = join(dir, 'sim-src.bin');
    writeFileSync(src, randomBytes(50_000));
    await ok(['card', 'put', path, 'a.bin', src, '--sim', simPath]);
    const got = join(dir, 'sim-got.bin');
    await ok(['card', 'get', path, 'a.bin', got, '--sim', simPath]);
    expect(readFileSync(got).equals(readFileSync(src))).toBe(true);
    // The image as it was before the put is older than what the SIM anchored.
    writeFileSync(path, before);
    const r = await fails(['card', 'ls', path, '--sim', simPath], 1);
    expect(r.stderr).toContain('CARD_ROLLED_BACK');
    await fails(['card', 'ls', path, '--sim', simPath, '--key', 'x'], 2);
  });

  it("card bind: an image of this SIM is bound (once); another SIM's image is refused and nothing is saved", async () => {
    const simA = fresh('bind-a', 'json');
    const simB = fresh('bind-b', 'json');
    await ok(['sim', 'create', simA]);
    await ok(['sim', 'create', simB]);
    const path = fresh('bind', 'img');
    await simCard(path, simA);
    // "Not bound" says so, and says how to bind.
    const notBound = await fails(['card', 'ls', path, '--sim', simB], 1);
    expect(notBound.stderr).toMatch(
      /SIM_CARD_NOT_BOUND: card [0-9a-f]{30} is not bound to the SIM in .*: bind it with 'simvault card bind IMAGE --sim /,
    );
    const stateB = readFileSync(simB);
    const wrong = await fails(['card', 'bind', path, '--sim', simB], 1);
    expect(wrong.stderr).toContain('CARD_WRONG_SIM');
    expect(readFileSync(simB).equals(stateB)).toBe(true);
    const again = jsonOf(await ok(['card', 'bind', path, '--sim', simA, '--json'])) as BindDoc;
    expect(again).toMatchObject({ binding: 'existing' });
    // Unbound in the SIM (its state edited as a release would), then bound again offline.
    const released = JSON.parse(readFileSync(simA, 'utf8')) as { cards: unknown[] };
    released.cards = [];
    writeFileSync(simA, JSON.stringify(released));
    await fails(['card', 'ls', path, '--sim', simA], 1, /SIM_CARD_NOT_BOUND/);
    const bound = jsonOf(await ok(['card', 'bind', path, '--sim', simA, '--json'])) as BindDoc;
    expect(bound).toMatchObject({ binding: 'new' });
    await ok(['card', 'ls', path, '--sim', simA]);
    await fails(['card', 'bind', path], 2, /--sim STATE is required/);
  });
});

describe('simvault card: one writer at a time', () => {
  it('a change to an image another live process has locked fails with DEVICE_BUSY and changes nothing', async () => {
    const path = await image();
    writeFileSync(`${path}.lock`, `${process.ppid}\n`);
    const before = readFileSync(path);
    const r = await fails(['card', 'rm', path, 'nothing', '--key', key], 1);
    expect(r.stderr).toContain('DEVICE_BUSY');
    expect(readFileSync(path).equals(before)).toBe(true);
    // Read-only commands still work.
    await ok(['card', 'info', path]);
    rmSync(`${path}.lock`);
  });

  it('never deletes an IMAGE.lock that is not a simvault lock', async () => {
    const path = await image();
    writeFileSync(`${path}.lock`, 'my notes\n');
    const r = await fails(['card', 'ls', path, '--key', key], 1);
    expect(r.stderr).toContain('DEVICE_BUSY');
    expect(readFileSync(`${path}.lock`, 'utf8')).toBe('my notes\n');
    rmSync(`${path}.lock`);
  });

  it('puts started at once on an image with a dead lock: one writer at a time, nothing committed is lost (many rounds)', async () => {
    const path = await image();
    const dead = execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'])
      .toString()
      .trim();
    const put = (name: string, src: string) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', 'src/cli/main.ts', 'card', 'put', path, '--key', key, name, src],
          { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
        });
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
        });
        child.on('exit', (code) => {
          resolve({ code, stdout, stderr });
        });
      });
    const stored = new Map<string, string>();
    for (let round = 0; round < 5; round++) {
      writeFileSync(`${path}.lock`, `${dead}\n`);
      const names = [0, 1, 2].map((i) => `r${round}-${i}`);
      const sources = names.map((n) => {
        const src = join(dir, `${n}.bin`);
        writeFileSync(src, randomBytes(300_000));
        return src;
      });
      const results = await Promise.all(names.map((n, i) => put(n, sources[i]!)));
      results.forEach((r, i) => {
        if (r.code === 0) {
          expect(r.stdout).toContain('stored');
          stored.set(names[i]!, sha(readFileSync(sources[i]!)));
        } else expect(r.stderr).toContain('DEVICE_BUSY');
      });
      expect(results.some((r) => r.code === 0)).toBe(true);
      // Every file any round reported stored is there, whole; the zone checks clean.
      const listed = printed(await ok(['card', 'ls', path, '--key', key, '--json']));
      expect(listed.files.map((f) => f.name).sort()).toEqual([...stored.keys()].sort());
      for (const [name, digest] of stored)
        expect(sha((await ok(['card', 'get', path, '--key', key, name])).stdout)).toBe(digest);
      expect((await ok(['card', 'fsck', path, '--key', key])).stdout.toString()).toMatch(FSCK_OK);
    }
  }, 120_000);
});
