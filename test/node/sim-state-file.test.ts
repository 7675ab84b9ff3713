import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createSimStateFile,
  loadSimState,
  saveSimState,
  type SaveStep,
} from '../../src/node/sim-state-file.js';
import { SimCard, SimClient, type SimState } from '../../src/sim/index.js';
import { storeBinding } from '../../src/sim/applet/binding-list.js';
import { cidOf, freshState } from '../sim/applet/helpers.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'simvault-simstate-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function withCard(n: number): SimState {
  const s = freshState();
  storeBinding(s, cidOf(n), []);
  return s;
}

class PowerCut extends Error {}

describe('SIM state file', () => {
  it('creates, loads and saves; refuses to overwrite on create', async () => {
    const path = join(dir, 'sim.json');
    const a = freshState();
    await createSimStateFile(path, a);
    expect(await loadSimState(path)).toEqual(a);
    await expect(createSimStateFile(path, withCard(1))).rejects.toMatchObject({ code: 'EEXIST' });
    expect(await loadSimState(path)).toEqual(a);
    const b = withCard(2);
    await saveSimState(path, b);
    expect(await loadSimState(path)).toEqual(b);
    expect(await readdir(dir)).toEqual(['sim.json']);
  });

  it.each<SaveStep>(['temp-written', 'temp-synced', 'renamed', 'dir-synced'])(
    'a power cut after %s leaves the old or the new state',
    async (step) => {
      const path = join(dir, 'sim.json');
      const old = withCard(1);
      const next = withCard(2);
      await createSimStateFile(path, old);
      await expect(
        saveSimState(path, next, {
          afterStep: (s) => {
            if (s === step) throw new PowerCut(s);
          },
        }),
      ).rejects.toBeInstanceOf(PowerCut);
      const loaded = await loadSimState(path);
      // Before the rename the old state is there; from the rename on, the new one.
      const expected = step === 'temp-written' || step === 'temp-synced' ? old : next;
      expect(loaded).toEqual(expected);
      // The next save cleans up whatever the interrupted one left behind.
      await saveSimState(path, next);
      expect(await readdir(dir)).toEqual(['sim.json']);
    },
  );

  it('a power cut during create leaves no state file at all', async () => {
    const path = join(dir, 'sim.json');
    await expect(
      createSimStateFile(path, freshState(), {
        afterStep: () => {
          throw new PowerCut();
        },
      }),
    ).rejects.toBeInstanceOf(PowerCut);
    await expect(loadSimState(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a damaged file is refused with SIM_BAD_STATE', async () => {
    const path = join(dir, 'sim.json');
    await createSimStateFile(path, freshState());
    const text = await readFile(path, 'utf8');
    await writeFile(path, text.slice(0, text.length / 2));
    await expect(loadSimState(path)).rejects.toMatchObject({ code: 'SIM_BAD_STATE' });
  });

  it('the SIM survives a restart: a commit hook saves every change, a new SimCard continues', async () => {
    const path = join(dir, 'sim.json');
    await createSimStateFile(path, freshState());
    const card = new SimCard(await loadSimState(path), { commit: (s) => saveSimState(path, s) });
    const client = new SimClient(card);
    await client.select();
    const r = await client.cardInserted(cidOf(5), 'bindNow');
    expect(r.status).toBe('bindPending');
    // Restart: the pending bind request and the proactive command are still there.
    const again = new SimClient(new SimCard(await loadSimState(path)));
    await again.select();
    expect((await again.cardInserted(cidOf(5), 'bindNow')).status).toBe('bindPending');
    const fetched = await again.fetch(r.response.proactivePending!);
    expect(fetched.command.kind).toBe('sendShortMessage');
    expect((await loadSimState(path)).moCounters[1]).toBe(1);
  });
});
