/**
 * The emulated SIM's EEPROM on disk: a state file written atomically. A save writes a temporary
 * file beside the target, flushes it, renames it over the target and flushes the directory, so a
 * power cut at any point leaves either the old or the new state — never a mix, never nothing.
 * Stray temporary files of an interrupted save are ignored by loads and removed by the next save.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { link, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { decodeSimState, encodeSimState } from '../sim/applet/state-json.js';
import type { SimState } from '../sim/applet/state.js';

/**
 * The steps of an atomic save, in order; a test hook may stop the save after any of them, as a
 * power cut would.
 *
 * @example
 * ```ts
 * import type { SaveStep } from 'simvault/node';
 * const step: SaveStep = 'renamed';
 * ```
 */
export type SaveStep = 'temp-written' | 'temp-synced' | 'renamed' | 'dir-synced';

/**
 * Options of {@link saveSimState} and {@link createSimStateFile}.
 *
 * @example
 * ```ts
 * import type { SaveOptions } from 'simvault/node';
 * const opts: SaveOptions = { afterStep: (step) => { if (step === 'temp-synced') throw new Error('power cut'); } };
 * ```
 */
export interface SaveOptions {
  /** Called after each step; throwing stops the save there (crash simulation). */
  afterStep?: (step: SaveStep) => void;
}

const TEMP_MARK = '.simstate-tmp-';

async function syncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (e) {
    // Some platforms cannot open or fsync a directory; the rename is still atomic there.
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF') throw e;
  } finally {
    await handle?.close();
  }
}

async function writeTemp(path: string, bytes: Uint8Array, options: SaveOptions): Promise<string> {
  const temp = join(
    dirname(path),
    `${basename(path)}${TEMP_MARK}${randomBytes(4).toString('hex')}`,
  );
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(bytes);
    options.afterStep?.('temp-written');
    await handle.sync();
  } finally {
    await handle.close();
  }
  options.afterStep?.('temp-synced');
  return temp;
}

async function removeStrays(path: string, keep?: string): Promise<void> {
  const dir = dirname(path);
  const prefix = `${basename(path)}${TEMP_MARK}`;
  for (const name of await readdir(dir)) {
    if (name.startsWith(prefix) && join(dir, name) !== keep)
      await rm(join(dir, name), { force: true });
  }
}

/**
 * Load and validate a state file. A missing file rejects with Node's `ENOENT`; a damaged one with
 * `SimStateError` (`SIM_BAD_STATE`).
 *
 * @example
 * ```ts
 * import { loadSimState } from 'simvault/node';
 * const state = await loadSimState('sim.json');
 * ```
 */
export async function loadSimState(path: string): Promise<SimState> {
  return decodeSimState(new Uint8Array(await readFile(path)));
}

/**
 * Replace a state file atomically (temp + fsync + rename + fsync of the directory).
 *
 * @example
 * ```ts
 * import { loadSimState, saveSimState } from 'simvault/node';
 * const state = await loadSimState('sim.json');
 * await saveSimState('sim.json', state);
 * ```
 */
export async function saveSimState(
  path: string,
  state: SimState,
  options: SaveOptions = {},
): Promise<void> {
  const bytes = encodeSimState(state);
  await removeStrays(path);
  const temp = await writeTemp(path, bytes, options);
  try {
    await rename(temp, path);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
  options.afterStep?.('renamed');
  await syncDir(dirname(path));
  options.afterStep?.('dir-synced');
}

/**
 * Create a new state file; rejects with `EEXIST` rather than overwrite one (the old SIM's keys
 * would be lost). Atomic as {@link saveSimState}: the file appears whole or not at all.
 *
 * @example
 * ```ts
 * import { createSimStateFile } from 'simvault/node';
 * import { personalizeSim } from 'simvault/sim';
 * await createSimStateFile('sim.json', personalizeSim({ iccid: '89860012345678901234' }).state);
 * ```
 */
export async function createSimStateFile(
  path: string,
  state: SimState,
  options: SaveOptions = {},
): Promise<void> {
  const bytes = encodeSimState(state);
  const temp = await writeTemp(path, bytes, options);
  try {
    // link() refuses an existing target, which rename() would silently replace.
    await link(temp, path);
  } finally {
    await rm(temp, { force: true });
  }
  options.afterStep?.('renamed');
  await syncDir(dirname(path));
  options.afterStep?.('dir-synced');
}
