/**
 * One writer per card image: a lock file `IMAGE.lock` holding the owner's process id, created
 * exclusively. A lock whose process is gone (killed with `kill -9`, power cut) is stale and is
 * taken over; a live one makes the open fail with `DEVICE_BUSY` instead of letting two
 * processes allocate the same blocks.
 *
 * @module
 */
import { open, readFile, rm } from 'node:fs/promises';
import { DeviceError } from '../card/device-error.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Take the lock of the image at `path`; resolves to the function that releases it.
 *
 * @example
 * ```ts
 * import { lockImage } from 'simvault/node';
 * const release = await lockImage('card.img');
 * try {
 *   // open and change the image
 * } finally {
 *   await release();
 * }
 * ```
 */
export async function lockImage(path: string): Promise<() => Promise<void>> {
  const lockPath = `${path}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(lockPath, 'wx', 0o644);
      try {
        await handle.writeFile(`${process.pid}\n`);
      } finally {
        await handle.close();
      }
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        await rm(lockPath, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number.parseInt((await readFile(lockPath, 'utf8').catch(() => '')).trim(), 10);
      if (Number.isSafeInteger(pid) && pid > 0 && alive(pid)) {
        throw new DeviceError(
          'DEVICE_BUSY',
          `${path} is in use by process ${pid} (lock file ${lockPath})`,
        );
      }
      // Stale: its owner is gone. Remove it and try once more.
      await rm(lockPath, { force: true });
    }
  }
  throw new DeviceError('DEVICE_BUSY', `${path}: could not take the lock file ${lockPath}`);
}
