import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/bytes.js';
import { createChipStateFile, readChipStateFile } from '../../src/node/chip-state-file.js';
import { CHIP_VIRTUAL_ATR } from '../../src/node/vpcd-cards.js';
import { cli } from '../helpers/cli.js';
import {
  CHIP_SLOT,
  FakeVpcd,
  pcscUnavailable,
  scriptorThroughServe,
  serveChild,
  withSlot,
} from '../helpers/vpcd.js';
import { docChipState, readTranscripts } from '../sim/chip/doc-chip.js';

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

describe('simvault chip serve', () => {
  it('checks its arguments, and says when vpcd is not there', async () => {
    await createChipStateFile(state, docChipState());
    expect((await cli(['chip', 'serve', state])).code).toBe(2);
    expect((await cli(['chip', 'serve', state, '--vpcd', '127.0.0.1:x'])).code).toBe(2);
    expect((await cli(['chip', 'serve', state, state, '--vpcd', '127.0.0.1:1'])).code).toBe(2);
    const nobody = await FakeVpcd.start();
    const port = nobody.port;
    await nobody.close();
    const r = await cli(['chip', 'serve', state, '--vpcd', `127.0.0.1:${port}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('VPCD_UNREACHABLE');
  });

  it('answers vpcd as the chip of STATE, resets its session, and stops on SIGTERM', async () => {
    await createChipStateFile(state, docChipState());
    const vpcd = await FakeVpcd.start();
    try {
      const child = await serveChild(['chip', 'serve', state, '--vpcd', `127.0.0.1:${vpcd.port}`]);
      expect(toHex(await vpcd.ask(Uint8Array.of(0x04)))).toBe(toHex(CHIP_VIRTUAL_ATR));
      await vpcd.control(0x01);
      expect(toHex(await vpcd.ask(fromHex(SELECT)))).toBe('9000');
      expect(toHex(await vpcd.ask(fromHex(VERIFY_0000)))).toBe('63c2');
      // The counter is on disk before the answer.
      expect((await readChipStateFile(state)).pinTriesLeft).toBe(2);
      await vpcd.control(0x02);
      expect(toHex(await vpcd.ask(fromHex('00cadf2000')))).toBe('6985');
      const { code, stdout } = await child.stop();
      expect(code).toBe(0);
      expect(stdout).toContain(`secure chip ${state} is in the vpcd reader`);
      expect(child.stderr()).toContain('vpcd: reset');
      expect(child.stderr()).not.toContain('30303030');
    } finally {
      await vpcd.close();
    }
  });
});

const pcscSkip = await pcscUnavailable();

describe.skipIf(pcscSkip !== undefined)(
  `simvault chip serve behind pcscd${pcscSkip === undefined ? '' : ` (skipped: ${pcscSkip})`}`,
  () => {
    it('scriptor gets the documented answers of docs/chip-apdus.md', async () => {
      const doc = new URL('../../docs/chip-apdus.md', import.meta.url).pathname;
      const blocks = readTranscripts(doc);
      await withSlot(CHIP_SLOT.port, async () => {
        for (const [i, block] of blocks.entries()) {
          const path = join(dir, `chip-${i}.state`);
          await createChipStateFile(path, docChipState());
          const got = await scriptorThroughServe(
            'chip',
            path,
            CHIP_SLOT,
            block.map((x) => x.command),
          );
          // A served chip draws file keys and nonces from the platform CSPRNG where the doc's
          // example chip counts 00 01 02 …, so a GENERATE FILE KEY answer is checked by its
          // shape; the doc's own wrapped keys still unwrap exactly (same chip key).
          const exact = block.map((x) =>
            x.command.startsWith('80460000') && x.response.endsWith('9000') ? undefined : x,
          );
          expect(got).toHaveLength(block.length);
          got.forEach((r, n) => {
            const x = exact[n];
            if (x) expect(`${x.line}: ${r}`).toBe(`${x.line}: ${x.response}`);
            else expect(r).toMatch(/^[0-9a-f]{186}9000$/);
          });
        }
      });
    });
  },
);
