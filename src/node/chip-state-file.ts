/**
 * The emulated secure chip's memory in a file, written atomically: the new state goes to a
 * temporary file beside it, is flushed to disk, and is renamed over the old one (then the
 * directory is flushed), so a power cut leaves the old state or the new, never a mix. A crash
 * may leave the temporary file behind; it is never read, and the next write replaces it.
 *
 * @module
 */
import { link, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ArgumentError } from '../errors.js';
import { SecureChip, type SecureChipOptions } from '../sim/chip/cos.js';
import { decodeChipState, encodeChipState, type ChipState } from '../sim/chip/state.js';

function tempPathOf(path: string): string {
  return `${path}.tmp`;
}

async function writeSynced(path: string, bytes: Uint8Array): Promise<void> {
  const handle = await open(path, 'w', 0o600);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncDirectory(path: string): Promise<void> {
  let handle;
  try {
    handle = await open(dirname(path), 'r');
    await handle.sync();
  } catch {
    // Some platforms (Windows) cannot open or flush a directory; the rename is still atomic there.
  } finally {
    await handle?.close();
  }
}

/**
 * Replace the chip state file at `path` with `encoded` (an encoded chip state) atomically:
 * temporary file, fsync, rename, directory fsync.
 *
 * @example
 * ```ts
 * import { writeChipStateBytes } from 'simvault/node';
 * import { encodeChipState, personalizeChip } from 'simvault/sim';
 * await writeChipStateBytes('chip.state', encodeChipState(personalizeChip({ pin: '1234' })));
 * ```
 */
export async function writeChipStateBytes(path: string, encoded: Uint8Array): Promise<void> {
  const temp = tempPathOf(path);
  await writeSynced(temp, encoded);
  await rename(temp, path);
  await syncDirectory(path);
}

/**
 * Create a chip state file; refuses (`INVALID_ARGUMENT`) when `path` already exists. The file
 * appears whole or not at all: it is written and flushed under a temporary name, then linked
 * into place, which fails rather than overwrite.
 *
 * @example
 * ```ts
 * import { createChipStateFile } from 'simvault/node';
 * import { personalizeChip } from 'simvault/sim';
 * await createChipStateFile('chip.state', personalizeChip({ pin: '1234' }));
 * ```
 */
export async function createChipStateFile(path: string, state: ChipState): Promise<void> {
  const temp = tempPathOf(path);
  await writeSynced(temp, encodeChipState(state));
  try {
    await link(temp, path);
  } catch (e) {
    await rm(temp, { force: true });
    if ((e as NodeJS.ErrnoException).code === 'EEXIST')
      throw new ArgumentError(`${path} already exists; refusing to overwrite a chip state`);
    throw e;
  }
  await rm(temp, { force: true });
  await syncDirectory(path);
}

/**
 * Read and decode a chip state file. Throws `INVALID_ARGUMENT` when there is none, and a
 * `ProtocolError` when it is damaged.
 *
 * @example
 * ```ts
 * import { readChipStateFile } from 'simvault/node';
 * const state = await readChipStateFile('chip.state');
 * ```
 */
export async function readChipStateFile(path: string): Promise<ChipState> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new ArgumentError(`no chip state file at ${path}`);
    throw e;
  }
  return decodeChipState(bytes);
}

/**
 * Power up the software chip kept in `path`: its state is read, and every change is written
 * back atomically before the command that made it is answered.
 *
 * @example
 * ```ts
 * import { openChipStateFile } from 'simvault/node';
 * import { fromHex } from 'simvault';
 * const chip = await openChipStateFile('chip.state');
 * await chip.transmit(fromHex('00a4040c0af053494d564348495001'));
 * ```
 */
export async function openChipStateFile(
  path: string,
  options: Omit<SecureChipOptions, 'persist'> = {},
): Promise<SecureChip> {
  const state = await readChipStateFile(path);
  return new SecureChip(state, {
    ...options,
    persist: (encoded) => writeChipStateBytes(path, encoded),
  });
}
