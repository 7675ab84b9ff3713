// One writer per card image: a live lock makes the next writer fail with DEVICE_BUSY; a lock
// whose process died is taken over.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockImage } from '../../src/node/index.js';

const dir = mkdtempSync(join(tmpdir(), 'simvault-lock-'));

describe('image lock', () => {
  it('is exclusive while held and free again once released', async () => {
    const image = join(dir, 'a.img');
    const release = await lockImage(image);
    expect(existsSync(`${image}.lock`)).toBe(true);
    await expect(lockImage(image)).rejects.toMatchObject({ code: 'DEVICE_BUSY' });
    await release();
    expect(existsSync(`${image}.lock`)).toBe(false);
    const again = await lockImage(image);
    await again();
  });

  it('takes over a lock left by a process that is gone', async () => {
    const image = join(dir, 'b.img');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
      encoding: 'utf8',
    });
    writeFileSync(`${image}.lock`, `${dead.stdout}\n`);
    const release = await lockImage(image);
    await release();
    writeFileSync(`${image}.lock`, 'garbage\n');
    await (
      await lockImage(image)
    )();
  });
});
