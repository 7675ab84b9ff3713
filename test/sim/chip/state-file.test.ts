// The chip's state file: created exclusively, replaced atomically, and a crash between writing
// the temporary file and renaming it leaves the old state in place.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { concatBytes, fromHex, toHex } from '../../../src/bytes.js';
import { ArgumentError, ProtocolError } from '../../../src/errors.js';
import {
  createChipStateFile,
  openChipStateFile,
  readChipStateFile,
  writeChipStateBytes,
} from '../../../src/node/chip-state-file.js';
import { CHIP_AID } from '../../../src/sim/chip/constants.js';
import { encodePinBlock } from '../../../src/sim/chip/pin.js';
import { encodeChipState } from '../../../src/sim/chip/state.js';
import { docChipState } from './doc-chip.js';

const crash = vi.hoisted(() => ({ beforeRename: false }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...fs,
    rename: async (from: string, to: string) => {
      if (crash.beforeRename)
        throw Object.assign(new Error('simulated power cut before rename'), { code: 'EPOWER' });
      return fs.rename(from, to);
    },
  };
});

const SELECT = concatBytes(fromHex('00a4040c0a'), CHIP_AID);
const verify = (pin: string) => concatBytes(fromHex('0020008108'), encodePinBlock(pin));

let dir: string;
let path: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'simvault-chip-'));
  path = join(dir, 'chip.state');
  crash.beforeRename = false;
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('chip state file', () => {
  it('is created whole, with no temporary file left, and read back', async () => {
    await createChipStateFile(path, docChipState());
    expect(await readdir(dir)).toEqual(['chip.state']);
    expect(await readChipStateFile(path)).toEqual(docChipState());
  });

  it('is never overwritten by create', async () => {
    await createChipStateFile(path, docChipState());
    const before = await readFile(path);
    await expect(
      createChipStateFile(path, { ...docChipState(), pin: '9999' }),
    ).rejects.toBeInstanceOf(ArgumentError);
    expect(toHex(await readFile(path))).toBe(toHex(before));
    expect(await readdir(dir)).toEqual(['chip.state']);
  });

  it('reports a missing file as a bad argument and a damaged one as a ProtocolError', async () => {
    await expect(readChipStateFile(path)).rejects.toBeInstanceOf(ArgumentError);
    const bytes = encodeChipState(docChipState());
    bytes[20]! ^= 1;
    await writeFile(path, bytes);
    await expect(readChipStateFile(path)).rejects.toMatchObject({ code: 'PROTOCOL_BAD_CHECKSUM' });
    await writeFile(path, bytes.subarray(0, 40));
    await expect(readChipStateFile(path)).rejects.toBeInstanceOf(ProtocolError);
  });

  it('keeps every change of an opened chip, across restarts', async () => {
    await createChipStateFile(path, docChipState());
    const chip = await openChipStateFile(path);
    await chip.transmit(SELECT);
    expect(toHex(await chip.transmit(verify('0000')))).toBe('63c2');
    expect((await readChipStateFile(path)).pinTriesLeft).toBe(2);
    const again = await openChipStateFile(path);
    await again.transmit(SELECT);
    expect(toHex(await again.transmit(verify('0000')))).toBe('63c1');
    expect(toHex(await again.transmit(verify('1234')))).toBe('9000');
    expect((await readChipStateFile(path)).pinTriesLeft).toBe(3);
    expect(await readdir(dir)).toEqual(['chip.state']);
  });

  it('a crash between the temporary write and the rename leaves the old state, and is recovered from', async () => {
    await createChipStateFile(path, docChipState());
    const before = toHex(await readFile(path));
    const chip = await openChipStateFile(path);
    await chip.transmit(SELECT);
    crash.beforeRename = true;
    // The decrement cannot be stored: the chip answers nothing, so the guess taught nothing.
    await expect(chip.transmit(verify('0000'))).rejects.toMatchObject({ code: 'EPOWER' });
    expect(toHex(await readFile(path))).toBe(before);
    expect((await readdir(dir)).sort()).toEqual(['chip.state', 'chip.state.tmp']);
    // Power back: the old state loads (the temporary file is ignored), and the next write replaces it.
    crash.beforeRename = false;
    const restarted = await openChipStateFile(path);
    await restarted.transmit(SELECT);
    expect(toHex(await restarted.transmit(verify('0000')))).toBe('63c2');
    expect(await readdir(dir)).toEqual(['chip.state']);
    expect((await readChipStateFile(path)).pinTriesLeft).toBe(2);
  });

  it('writeChipStateBytes replaces the file atomically', async () => {
    await createChipStateFile(path, docChipState());
    await writeChipStateBytes(path, encodeChipState({ ...docChipState(), pin: '4444' }));
    expect((await readChipStateFile(path)).pin).toBe('4444');
    crash.beforeRename = true;
    await expect(
      writeChipStateBytes(path, encodeChipState({ ...docChipState(), pin: '5555' })),
    ).rejects.toThrow('simulated power cut');
    expect((await readChipStateFile(path)).pin).toBe('4444');
  });
});
