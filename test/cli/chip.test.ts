import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { readChipStateFile } from '../../src/node/chip-state-file.js';
import { cli } from '../helpers/cli.js';

const SELECT = '00a4040c0af053494d564348495001';
const VERIFY_1234 = '002000810831323334ffffffff';
const VERIFY_0000 = '002000810830303030ffffffff';
const CTX = '757365722f74762e61706b'; // user/tv.apk

let dir: string;
let state: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'simvault-chip-cli-'));
  state = join(dir, 'chip.state');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('simvault chip create', () => {
  it('personalizes a chip, prints its serial and PUK once, and refuses to overwrite', async () => {
    const r = await cli(['chip', 'create', state, '--pin', '4711', '--puk', '87654321']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const saved = await readChipStateFile(state);
    expect(saved).toMatchObject({
      pin: '4711',
      puk: '87654321',
      pinTriesLeft: 3,
      pukTriesLeft: 10,
    });
    const out = r.stdout.toString();
    expect(out).toContain(`serial     ${toHex(saved.serial)}`);
    expect(out).toContain('PUK        87654321');
    expect(out).not.toContain(toHex(saved.chipKey));
    const before = toHex(await readFile(state));
    const again = await cli(['chip', 'create', state]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/INVALID_ARGUMENT: .*refusing to overwrite/);
    expect(toHex(await readFile(state))).toBe(before);
  });

  it('defaults to PIN 1234 and a random PUK; --json and the tries options', async () => {
    const r = await cli([
      'chip',
      'create',
      state,
      '--json',
      '--pin-tries',
      '5',
      '--puk-tries',
      '2',
    ]);
    expect(r.code).toBe(0);
    const result: unknown = JSON.parse(r.stdout.toString());
    const saved = await readChipStateFile(state);
    expect(result).toEqual({
      state,
      serial: toHex(saved.serial),
      puk: saved.puk,
      pinTries: 5,
      pukTries: 2,
    });
    expect(saved.pin).toBe('1234');
    expect(saved.puk).toMatch(/^[0-9]{8}$/);
  });

  it('exits 2 on usage errors', async () => {
    for (const args of [
      [],
      [state, 'extra'],
      [state, '--pin', '12'],
      [state, '--puk', '1234'],
      [state, '--pin-tries', '0'],
      [state, '--pin-tries', 'x'],
      [state, '--bogus'],
    ]) {
      expect((await cli(['chip', 'create', ...args])).code, args.join(' ')).toBe(2);
    }
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('simvault chip apdu', () => {
  it('sends APDUs and prints each response with its status word', async () => {
    await cli(['chip', 'create', state]);
    const r = await cli([
      'chip',
      'apdu',
      state,
      SELECT,
      '00 ca df 23 00',
      VERIFY_0000,
      '00200081',
      '00a4',
      'b0b0b0b0',
    ]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout.toString()).toBe(
      [
        '9000  normal ending',
        'df230203039000  normal ending',
        '63c2  verification failed, 2 tries left',
        '63c2  verification failed, 2 tries left',
        '6700  wrong length',
        '6e00  class not supported',
        '',
      ].join('\n'),
    );
  });

  it('saves the state: the retry counter and the block survive between invocations', async () => {
    await cli(['chip', 'create', state]);
    await cli(['chip', 'apdu', state, SELECT, VERIFY_0000, VERIFY_0000]);
    expect((await readChipStateFile(state)).pinTriesLeft).toBe(1);
    const r = await cli([
      'chip',
      'apdu',
      state,
      SELECT,
      VERIFY_0000,
      VERIFY_1234,
      `804600000b${CTX}00`,
    ]);
    expect(r.stdout.toString().split('\n').slice(1, 4)).toEqual([
      '63c0  verification failed, 0 tries left',
      '6983  authentication method blocked',
      '6983  authentication method blocked',
    ]);
    expect(await readdir(dir)).toEqual(['chip.state']);
  });

  it('generates a key in one invocation and unwraps it in the next', async () => {
    await cli(['chip', 'create', state]);
    const gen = await cli([
      'chip',
      'apdu',
      state,
      '--json',
      SELECT,
      VERIFY_1234,
      `804600000b${CTX}00`,
    ]);
    const results = JSON.parse(gen.stdout.toString()) as Array<{
      command: string;
      response: string;
      data: string;
      sw: string;
      name: string;
    }>;
    expect(results.map((x) => x.sw)).toEqual(['9000', '9000', '9000']);
    expect(results[0]).toEqual({
      command: SELECT,
      response: '9000',
      data: '',
      sw: '9000',
      name: 'normal ending',
    });
    const data = results[2]!.data;
    expect(data.length).toBe(93 * 2);
    const key = data.slice(0, 64);
    const wrapped = data.slice(64);
    expect(toHex((await readChipStateFile(state)).chipKey)).not.toContain(key);
    const un = await cli([
      'chip',
      'apdu',
      state,
      SELECT,
      VERIFY_1234,
      `8048000048${wrapped}${CTX}00`,
      `8048000048${wrapped}${CTX.slice(0, -2)}6c00`,
    ]);
    expect(un.stdout.toString().split('\n').slice(2, 4)).toEqual([
      `${key}9000  normal ending`,
      '6a80  incorrect parameters in the data field',
    ]);
  });

  it('reports a missing or damaged state file, and exits 2 on usage errors', async () => {
    const missing = await cli(['chip', 'apdu', state, SELECT]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('INVALID_ARGUMENT');
    await writeFile(state, 'not a chip');
    const damaged = await cli(['chip', 'apdu', state, SELECT]);
    expect(damaged.code).toBe(1);
    expect(damaged.stderr).toContain('PROTOCOL_');
    await rm(state);
    await cli(['chip', 'create', state]);
    for (const args of [
      [state],
      [state, 'xyz'],
      [state, '123'],
      [state, ''],
      [state, '--bogus', SELECT],
    ]) {
      expect((await cli(['chip', 'apdu', ...args])).code, args.join(' ')).toBe(2);
    }
    expect((await cli(['chip', 'apdu', state, '--help'])).stdout.toString()).toContain(
      'Usage: simvault chip apdu',
    );
  });
});
