/**
 * One writer per card image, across processes: the lock is a directory `IMAGE.lock` holding one
 * empty file named after its owner, `owner-PID-NONCE`.
 *
 * Every step is one atomic file-system operation, so the rule holds under any interleaving:
 * - **take**: a process prepares its own directory with its token inside and renames it to
 *   `IMAGE.lock`. The rename succeeds only while that name is absent (an empty directory left by
 *   a release is removed first), so of several processes exactly one gets the lock, and the lock
 *   never exists without its owner's name in it (nothing reads as "created but not yet written").
 * - **take over**: a lock whose owner process is gone (killed with `kill -9`, a power cut) is
 *   freed by unlinking that owner's token file, `IMAGE.lock/owner-PID-NONCE`. The nonce makes
 *   the name unique, so the unlink removes exactly the stale lock that was inspected: if another
 *   process took the lock over in the meantime, the name is gone and the unlink fails harmlessly.
 *   The emptied directory is then free for the next rename, which one process wins.
 * - **release**: the owner unlinks its own token, then removes the directory if it is empty.
 *
 * Nothing that is not provably a simvault lock is ever removed: a file or directory at
 * `IMAGE.lock` in another shape makes the lock fail with `DEVICE_BUSY` and is left alone. A lock
 * file of simvault 0.1 (a plain file holding a process id) is honoured while its process lives and
 * replaced once it is gone (`unlink` cannot remove a directory, so that can never remove a lock
 * of this version). Don't run simvault 0.1 and a later version on one image at the same time.
 *
 * A process id reused by an unrelated live process keeps a stale lock alive: the error names the
 * process and the lock path, so a person can check and remove it.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeviceError } from '../card/device-error.js';

const TOKEN = /^owner-([1-9]\d{0,9})-[0-9a-f]{32}$/;
const LEGACY = /^([1-9]\d{0,9})\n?$/;
// Each pass either takes the lock, fails, or removes one stale or empty lock; racing processes
// can make a pass lose to another, so allow a few before giving up.
const ATTEMPTS = 50;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function codeOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

// Run a file-system step whose only expected failures mean "someone else got there first".
async function racing(step: Promise<unknown>, expected: readonly string[]): Promise<void> {
  try {
    await step;
  } catch (e) {
    if (!expected.includes(codeOf(e) ?? '')) throw e;
  }
}

/** What is at the lock path. */
type LockState =
  | { kind: 'absent' }
  | { kind: 'empty' }
  | { kind: 'held'; pid: number; token: string }
  | { kind: 'legacy'; pid: number }
  | { kind: 'foreign'; why: string };

async function inspect(lockPath: string): Promise<LockState> {
  let entries: string[];
  try {
    entries = await readdir(lockPath);
  } catch (e) {
    const code = codeOf(e);
    if (code === 'ENOENT') return { kind: 'absent' };
    if (code !== 'ENOTDIR') throw e;
    let text: string;
    try {
      text = await readFile(lockPath, 'latin1');
    } catch (e2) {
      if (codeOf(e2) === 'ENOENT' || codeOf(e2) === 'EISDIR') return { kind: 'absent' };
      throw e2;
    }
    const m = LEGACY.exec(text);
    return m
      ? { kind: 'legacy', pid: Number(m[1]) }
      : { kind: 'foreign', why: 'it is a file that is not a simvault lock' };
  }
  if (entries.length === 0) return { kind: 'empty' };
  const m = entries.length === 1 ? TOKEN.exec(entries[0]!) : null;
  if (!m) return { kind: 'foreign', why: 'it is a directory that is not a simvault lock' };
  return { kind: 'held', pid: Number(m[1]), token: entries[0]! };
}

function busy(path: string, lockPath: string, pid: number): DeviceError {
  return new DeviceError(
    'DEVICE_BUSY',
    `${path} is in use by process ${pid} (lock ${lockPath}; remove it only if that process is not simvault)`,
  );
}

/**
 * Take the lock of the image at `path`; resolves to the function that releases it. Fails with
 * `DEVICE_BUSY` while another live process (or this one) holds it, or when something that is not
 * a simvault lock sits at `PATH.lock`.
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
  const token = `owner-${process.pid}-${randomBytes(16).toString('hex')}`;
  // Staged beside the image so the rename stays within one file system.
  const stage = `${lockPath}.${process.pid}-${randomBytes(8).toString('hex')}.tmp`;
  await mkdir(stage);
  try {
    await writeFile(join(stage, token), '');
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      try {
        await rename(stage, lockPath);
        return releaser(lockPath, token);
      } catch (e) {
        const code = codeOf(e);
        if (code !== 'EEXIST' && code !== 'ENOTEMPTY' && code !== 'ENOTDIR' && code !== 'EPERM')
          throw e;
      }
      const state = await inspect(lockPath);
      switch (state.kind) {
        case 'absent':
          break;
        case 'empty':
          // Left by a release (or a takeover): an empty directory holds no lock.
          await racing(rmdir(lockPath), ['ENOENT', 'ENOTEMPTY', 'EEXIST', 'ENOTDIR']);
          break;
        case 'held':
          if (alive(state.pid)) throw busy(path, lockPath, state.pid);
          // Unlinks this very token or nothing: the directory may hold another owner by now.
          await racing(unlink(join(lockPath, state.token)), ['ENOENT', 'ENOTDIR']);
          break;
        case 'legacy':
          if (alive(state.pid)) throw busy(path, lockPath, state.pid);
          // unlink never removes a directory, so this cannot free a lock of this version.
          await racing(unlink(lockPath), ['ENOENT', 'EISDIR', 'EPERM']);
          break;
        case 'foreign':
          throw new DeviceError(
            'DEVICE_BUSY',
            `${path}: cannot lock it, ${lockPath} exists and ${state.why}; move it away if nothing uses the image`,
          );
      }
    }
    throw new DeviceError('DEVICE_BUSY', `${path}: could not take the lock ${lockPath}`);
  } finally {
    // After a successful rename the stage no longer exists; otherwise it is ours to remove.
    await rm(stage, { recursive: true, force: true });
  }
}

function releaser(lockPath: string, token: string): () => Promise<void> {
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    // Only our own token: if it is gone, the lock was taken over and is not ours to touch.
    await racing(unlink(join(lockPath, token)), ['ENOENT', 'ENOTDIR']);
    await racing(rmdir(lockPath), ['ENOENT', 'ENOTEMPTY', 'EEXIST', 'ENOTDIR']);
  };
}
