// Power cut at every write of put, delete, rename, overwrite, erase and format — with unflushed
// writes dropped, kept, partly kept, reordered, and the cut write torn at a sector boundary. After
// the cut the card must show exactly the old state or the new one, fsck must find nothing, and
// every committed file must read back bit-exact.
import { describe, expect, it } from 'vitest';
import {
  FaultDevice,
  formatCard,
  fsck,
  MemoryDevice,
  PowerCutError,
  type Card,
  type PowerCutMode,
} from '../../src/card/index.js';
import { SimvaultError } from '../../src/errors.js';
import type { Zone } from '../../src/crypto/index.js';
import { bytes, CID, formatted, KEYS, mount } from './helpers.js';

type State = Record<string, Record<string, string>>; // zone → name → hex digest-ish (full hex)

async function snapshotState(card: Card): Promise<State> {
  const out: State = {};
  for (const zone of ['operator', 'advertising', 'multimedia', 'user'] as Zone[]) {
    out[zone] = {};
    for (const f of await card.zone(zone).list()) {
      out[zone][f.name] = Buffer.from(await card.zone(zone).readFile(f.name)).toString('base64');
    }
  }
  return out;
}

const MODES: PowerCutMode[] = ['drop-all', 'keep-all', 'keep-random-subset', 'reorder'];

interface Scenario {
  name: string;
  setup: (card: Card) => Promise<void>;
  op: (card: Card) => Promise<void>;
  /** Sample this many cut points (all when omitted). */
  sample?: number;
}

async function runScenario(s: Scenario): Promise<{ runs: number; sawOld: number; sawNew: number }> {
  const base = await formatted(4 << 20, {
    operator: 128 << 10,
    advertising: 128 << 10,
    multimedia: 1 << 20,
    user: 2 << 20,
  });
  await s.setup(await mount(base));
  const baseImage = base.snapshot();
  const oldState = await snapshotState(await mount(MemoryDevice.from(baseImage)));

  // A clean run tells how many writes the operation makes and what the new state is.
  const clean = new FaultDevice(MemoryDevice.from(baseImage));
  const cleanCard = await mount(clean);
  const before = clean.writeCount;
  await s.op(cleanCard);
  const writes = clean.writeCount - before;
  await clean.flush();
  const newState = await snapshotState(await mount(clean.afterPowerCut()));
  expect(newState).not.toEqual(oldState);

  let cuts = Array.from({ length: writes }, (_, i) => i);
  if (s.sample && cuts.length > s.sample) {
    const step = cuts.length / s.sample;
    cuts = Array.from({ length: s.sample }, (_, k) => cuts[Math.floor(k * step)]!);
  }
  // One more "cut" after the last write: the operation completes and the power fails afterwards.
  cuts.push(writes);
  let runs = 0;
  let sawOld = 0;
  let sawNew = 0;
  for (const cut of cuts) {
    for (const mode of MODES) {
      for (const tear of [false, true]) {
        const seed = cut * 31 + MODES.indexOf(mode) * 7 + (tear ? 1 : 0) + 1;
        const dev = new FaultDevice(MemoryDevice.from(baseImage), {
          powerCut: { atWrite: before + cut, mode, tear, seed },
        });
        const card = await mount(dev);
        let error: unknown;
        try {
          await s.op(card);
        } catch (e) {
          error = e;
        }
        if (cut < writes)
          expect(
            error,
            `cut ${cut} ${mode} tear=${tear}: the operation should have seen the power cut`,
          ).toBeInstanceOf(PowerCutError);
        else expect(error).toBeUndefined();
        const after = dev.afterPowerCut();
        const state = await snapshotState(await mount(after));
        const label = `${s.name}: cut at write ${cut}/${writes}, ${mode}, tear=${tear}`;
        if (JSON.stringify(state) === JSON.stringify(oldState)) sawOld++;
        else if (JSON.stringify(state) === JSON.stringify(newState)) sawNew++;
        else expect.fail(`${label}: the card shows neither the old nor the new state`);
        const report = await fsck(after, { cid: CID, keys: KEYS });
        expect(report.problems, label).toEqual([]);
        runs++;
      }
    }
  }
  return { runs, sawOld, sawNew };
}

const threeFiles = async (card: Card) => {
  await card.zone('user').writeFile('a', bytes(40_000, 1));
  await card.zone('user').writeFile('b', bytes(17_000, 2));
  await card.zone('multimedia').writeFile('c', bytes(5_000, 3));
};

describe('crash safety: power cut at every write', () => {
  for (const s of [
    {
      name: 'put',
      setup: threeFiles,
      op: (c: Card) =>
        c
          .zone('user')
          .writeFile('d', bytes(70_000, 4))
          .then(() => undefined),
    },
    {
      name: 'overwrite',
      setup: threeFiles,
      op: (c: Card) =>
        c
          .zone('user')
          .writeFile('a', bytes(33_000, 5))
          .then(() => undefined),
    },
    { name: 'delete', setup: threeFiles, op: (c: Card) => c.zone('user').delete('b') },
    { name: 'rename', setup: threeFiles, op: (c: Card) => c.zone('user').rename('a', 'renamed') },
    {
      name: 'rename over',
      setup: threeFiles,
      op: (c: Card) => c.zone('user').rename('a', 'b', { overwrite: true }),
    },
    { name: 'erase', setup: threeFiles, op: (c: Card) => c.erase(['user']) },
  ] satisfies Scenario[]) {
    it(`${s.name}: old or new state, fsck clean`, async () => {
      const r = await runScenario(s);
      expect(r.runs).toBeGreaterThan(0);
      expect(r.sawOld).toBeGreaterThan(0);
      expect(r.sawNew).toBeGreaterThan(0);
    });
  }

  it('a large put with checkpoints (sampled cut points): the visible state is old or new', async () => {
    const r = await runScenario({
      name: 'large put',
      setup: threeFiles,
      sample: 12,
      op: async (c) => {
        const data = bytes(600_000, 9);
        const put = await c
          .zone('user')
          .put('big', { size: data.length, sourceTag: 'sha256:x', checkpointBytes: 64 << 10 });
        const w = put.writable.getWriter();
        for (let off = 0; off < data.length; off += 50_000)
          await w.write(data.subarray(off, off + 50_000));
        await w.close();
      },
    });
    expect(r.runs).toBe(13 * 8);
    expect(r.sawNew).toBe(8);
  });

  it('a put in a table of many files (sampled cut points)', async () => {
    await runScenario({
      name: 'put into a big table',
      setup: async (c) => {
        for (let i = 0; i < 120; i++) await c.zone('user').writeFile(`f${i}`, bytes(100, i));
      },
      sample: 10,
      op: (c) =>
        c
          .zone('user')
          .writeFile('f-new', bytes(30_000, 7))
          .then(() => undefined),
    });
  });
});

describe('crash safety: format', () => {
  it('a power cut during format leaves the old card, an unformatted device, or the new card', async () => {
    const base = await formatted();
    await threeFiles(await mount(base));
    const image = base.snapshot();
    const oldState = await snapshotState(await mount(MemoryDevice.from(image)));
    const clean = new FaultDevice(MemoryDevice.from(image));
    await formatCard(clean, {
      cid: CID,
      keys: KEYS,
      zones: { operator: 64 << 10, advertising: 64 << 10, multimedia: 512 << 10, user: 1 << 20 },
      fill: 'zero',
    });
    const writes = clean.writeCount;
    const outcomes = { old: 0, unformatted: 0, fresh: 0 };
    for (let cut = 0; cut < writes; cut += Math.max(1, Math.floor(writes / 40))) {
      for (const mode of MODES) {
        const dev = new FaultDevice(MemoryDevice.from(image), {
          powerCut: { atWrite: cut, mode, tear: true, seed: cut + 1 },
        });
        await expect(
          formatCard(dev, {
            cid: CID,
            keys: KEYS,
            zones: {
              operator: 64 << 10,
              advertising: 64 << 10,
              multimedia: 512 << 10,
              user: 1 << 20,
            },
            fill: 'zero',
          }),
        ).rejects.toBeInstanceOf(PowerCutError);
        const after = dev.afterPowerCut();
        let card: Card;
        try {
          card = await mount(after);
        } catch (e) {
          expect((e as SimvaultError).code).toBe('CARD_NOT_FORMATTED');
          outcomes.unformatted++;
          continue;
        }
        const state = await snapshotState(card);
        if (JSON.stringify(state) === JSON.stringify(oldState)) outcomes.old++;
        else {
          expect(Object.values(state).every((z) => Object.keys(z).length === 0)).toBe(true);
          outcomes.fresh++;
        }
        expect((await fsck(after, { cid: CID, keys: KEYS })).problems).toEqual([]);
      }
    }
    expect(outcomes.unformatted).toBeGreaterThan(0);
  });
});
