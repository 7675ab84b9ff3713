// The emulators as virtual smart cards in pcscd, reached through the PC/SC transport: it picks a
// reader by name, finishes T=0 exchanges and reports a removed card, the reader watch sees cards
// come and go, and the handset runs bind, launch, delete and unbind with its SIM (and its card's
// chip) behind pcscd. The cards are served by `simvault sim serve` / `simvault chip serve` in
// child processes, as a real card is another party (test/cli/{sim,chip}.test.ts replay the docs'
// APDU examples there with scriptor). Needs pcscd with vsmartcard-vpcd and pcsc-tools (.ci/run
// installs them); without them these tests say why and skip.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/bytes.js';
import { createChipStateFile } from '../../src/node/chip-state-file.js';
import { watchPcscReaders, type PcscEvent } from '../../src/node/pcsc-events.js';
import { PcscTransport } from '../../src/node/pcsc-transport.js';
import { createSimStateFile, loadSimState } from '../../src/node/sim-state-file.js';
import { CHIP_VIRTUAL_ATR, SIM_VIRTUAL_ATR } from '../../src/node/vpcd-cards.js';
import { ChipClient, type ApduTransport } from '../../src/sim/index.js';
import { personalizeChip } from '../../src/sim/chip/state.js';
import type { SimState } from '../../src/sim/applet/state.js';
import { errorCodeOf } from '../helpers/errors.js';
import {
  CHIP_SLOT,
  pcscUnavailable,
  serveCard,
  SIM_SLOT,
  withSlot,
  type ServedCard,
} from '../helpers/vpcd.js';
import { makeWorld, type World } from '../handset/helpers.js';
import { docChipState } from '../sim/chip/doc-chip.js';
import { freshState } from '../sim/applet/helpers.js';

const skip = await pcscUnavailable();
const title = skip === undefined ? 'PC/SC through vpcd' : `PC/SC through vpcd (skipped: ${skip})`;

const inserted: ServedCard[] = [];
let dir = '';
let files = 0;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'simvault-pcsc-'));
});

afterEach(async () => {
  for (const card of inserted.splice(0)) await card.remove();
  await rm(dir, { recursive: true, force: true });
});

/** Put a SIM with `state` into the SIM slot's reader; resolves to its state file. */
async function insertSim(state: SimState): Promise<{ card: ServedCard; path: string }> {
  const path = join(dir, `sim-${++files}.json`);
  await createSimStateFile(path, state);
  const card = await serveCard('sim', SIM_SLOT, path);
  inserted.push(card);
  return { card, path };
}

/** Put the example chip of docs/chip-apdus.md (or `state`) into the chip slot's reader. */
async function insertChip(state = docChipState()): Promise<ServedCard> {
  const path = join(dir, `chip-${++files}.json`);
  await createChipStateFile(path, state);
  const card = await serveCard('chip', CHIP_SLOT, path);
  inserted.push(card);
  return card;
}

/** Take the card out and wait until pcscd sees its reader empty. */
async function remove(card: ServedCard): Promise<void> {
  inserted.splice(inserted.indexOf(card), 1);
  await card.remove();
}

describe.skipIf(skip !== undefined)(title, () => {
  it('the transport picks the reader by name, finishes 6Cxx, and reports the ATR and protocol', async () => {
    await withSlot(SIM_SLOT.port, () =>
      withSlot(CHIP_SLOT.port, async () => {
        await insertSim(freshState());
        await insertChip();
        const sim = await PcscTransport.open({ reader: SIM_SLOT.reader });
        const chip = await PcscTransport.open({ reader: '00 01' });
        try {
          expect([sim.reader, toHex(sim.atr), sim.protocol]).toEqual([
            SIM_SLOT.reader,
            toHex(SIM_VIRTUAL_ATR),
            'T=0',
          ]);
          expect([chip.reader, toHex(chip.atr), chip.protocol]).toEqual([
            CHIP_SLOT.reader,
            toHex(CHIP_VIRTUAL_ATR),
            'T=1',
          ]);
          // docs/sim-apdus.md: FETCH with a short Le answers 6C17 to scriptor; the transport
          // resends with Le 17 and returns the SET UP MENU.
          expect(toHex(await sim.transmit(fromHex('8010000004ffffffff')))).toBe('9117');
          expect(toHex(await sim.transmit(fromHex('8012000010')))).toBe(
            'd015810301250082028182850873696d7661756c748f009000',
          );
          // The chip's 6C0B for a short GET DATA Le, finished the same way.
          await sim.transmit(fromHex('00a4040c09f073696d7661756c74'));
          await chip.transmit(fromHex('00a4040c0af053494d564348495001'));
          expect(toHex(await chip.transmit(fromHex('00cadf2001')))).toBe(
            'df200853564348000000019000',
          );
          // A reset ends the chip's session.
          expect(toHex(await chip.reset())).toBe(toHex(CHIP_VIRTUAL_ATR));
          expect(toHex(await chip.transmit(fromHex('00cadf2000')))).toBe('6985');
          // A malformed APDU reaches the card, which refuses it, as the emulator does in-process.
          expect(toHex(await chip.transmit(fromHex('00a4')))).toBe('6700');
          // Several readers hold a card, so one must be named; a name may fit one reader only.
          expect(await errorCodeOf(PcscTransport.open())).toBe('PCSC_NO_READER');
          expect(await errorCodeOf(PcscTransport.open({ reader: 'Virtual PCD' }))).toBe(
            'PCSC_NO_READER',
          );
          expect(await errorCodeOf(PcscTransport.open({ reader: 'No Such Reader' }))).toBe(
            'PCSC_NO_READER',
          );
        } finally {
          await sim.close();
          await chip.close();
        }
      }),
    );
  });

  it('ChipClient works over PC/SC, and a removed card is PCSC_NO_CARD then CHIP_ABSENT', async () => {
    await withSlot(CHIP_SLOT.port, async () => {
      const card = await insertChip();
      const reader = await PcscTransport.open({ reader: CHIP_SLOT.reader });
      try {
        const chip = new ChipClient(reader);
        await chip.selectChip();
        await chip.verifyPin('1234');
        const context = new TextEncoder().encode('user/tv.apk');
        const { key, wrapped } = await chip.generateFileKey(context);
        expect(toHex(await chip.unwrapFileKey(wrapped, context))).toBe(toHex(key));
        expect((await chip.getData()).pinTriesLeft).toBe(3);
        await remove(card);
        expect(await errorCodeOf(reader.transmit(fromHex('00cadf2000')))).toBe('PCSC_NO_CARD');
        await expect(chip.getData()).rejects.toMatchObject({ code: 'CHIP_ABSENT' });
        expect(await errorCodeOf(PcscTransport.open({ reader: CHIP_SLOT.reader }))).toBe(
          'PCSC_NO_CARD',
        );
      } finally {
        await reader.close();
      }
      // open waits for a card when asked to.
      const waiting = PcscTransport.open({ reader: CHIP_SLOT.reader, waitForCardMs: 15_000 });
      await insertChip();
      const late = await waiting;
      expect(toHex(late.atr)).toBe(toHex(CHIP_VIRTUAL_ATR));
      await late.close();
    });
  });

  it('the reader watch reports the card inserted and removed', async () => {
    await withSlot(CHIP_SLOT.port, async () => {
      const stop = new AbortController();
      const seen: PcscEvent[] = [];
      const watching = (async () => {
        for await (const e of watchPcscReaders({ signal: stop.signal })) {
          if (e.reader !== CHIP_SLOT.reader) continue;
          seen.push(e);
          if (e.type === 'card-removed') break;
        }
      })();
      // The watch first reports the reader as attached; then the card comes and goes.
      while (!seen.some((e) => e.type === 'reader-attached'))
        await new Promise((r) => setTimeout(r, 20));
      await remove(await insertChip());
      await watching;
      stop.abort();
      expect(seen.map((e) => e.type)).toEqual(['reader-attached', 'card-inserted', 'card-removed']);
      expect(toHex((seen[1] as { atr: Uint8Array }).atr)).toBe(toHex(CHIP_VIRTUAL_ATR));
    });
  });
});

describe.skipIf(skip !== undefined)(`${title}: the handset`, () => {
  let w: World | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('binds, launches, deletes and unbinds with its SIM and the card chip behind pcscd', async () => {
    // The world's SIM is personalized inside makeWorld, so the handset gets transports that
    // forward to the PC/SC connections opened once that SIM is in the reader.
    const readers: { sim?: PcscTransport; chip?: PcscTransport } = {};
    const via = (which: 'sim' | 'chip'): ApduTransport => ({
      transmit: (c) => readers[which]!.transmit(c),
    });
    w = await makeWorld({
      sim: via('sim'),
      chip: { transport: via('chip'), pin: '2468' },
      format: { fill: 'zero', secureChipZones: ['multimedia'] },
      timeoutMs: 20_000,
    });
    const { world, op, phone } = w;
    // The SIM's state file is written before each answer, so it shows every change at once.
    let simPath = '';
    const simState = async () => loadSimState(simPath);
    await withSlot(SIM_SLOT.port, () =>
      withSlot(CHIP_SLOT.port, async () => {
        simPath = (await insertSim(world.simState)).path;
        await insertChip(personalizeChip({ pin: '2468' }));
        readers.sim = await PcscTransport.open({ reader: SIM_SLOT.reader });
        readers.chip = await PcscTransport.open({ reader: CHIP_SLOT.reader });
        try {
          const bound = await phone.insertCard();
          expect(bound).toMatchObject({ binding: 'new', formatted: true });
          expect(phone.menu).toEqual(['Mobile TV', 'Card 00c0ffee']);
          expect((await simState()).cards[0]!.bound).toBe(true);

          const launched = await phone.launch('Mobile TV');
          expect(launched).toMatchObject({ intact: true, zone: 'multimedia' });
          expect(launched.digest).toBe(world.app.sha256);
          expect((await simState()).cards[0]!.applications[0]!.installed).toBe(true);

          const deleted = await phone.deleteApp('Mobile TV');
          expect(deleted).toMatchObject({ aid: world.app.aid });
          expect((await simState()).cards[0]!.applications[0]!.installed).toBe(false);

          expect(await phone.unbind()).toEqual({ cid: toHex(world.cid), erased: false });
          expect((await simState()).cards[0]!.bound).toBe(false);
          expect((await op.cardApp.cardInfo(toHex(world.cid))).binding).toBeNull();
          // The in-process SIM of the world was never used: every APDU went through pcscd.
          expect(w!.sim.state.cards).toEqual([]);
        } finally {
          await phone.removeCard().catch(() => undefined);
          for (const r of Object.values(readers)) await r.close();
        }
      }),
    );
  });
});
