// The emulators as virtual smart cards in pcscd, reached by clients nobody here wrote: scriptor
// (pcsc-tools) replays the examples of docs/chip-apdus.md against the chip served to vpcd, the
// PC/SC transport finishes T=0 exchanges and reports a removed card, the reader watch sees cards
// come and go, and the handset runs bind, launch, delete and unbind with its SIM (and its card's
// chip) behind pcscd. Needs pcscd with vsmartcard-vpcd and pcsc-tools (.ci/run installs them);
// without them these tests say why and skip.
import { afterEach, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/bytes.js';
import { watchPcscReaders, type PcscEvent } from '../../src/node/pcsc-events.js';
import { PcscTransport } from '../../src/node/pcsc-transport.js';
import {
  CHIP_VIRTUAL_ATR,
  chipVirtualCard,
  SIM_VIRTUAL_ATR,
  simVirtualCard,
} from '../../src/node/vpcd-cards.js';
import { connectVpcd, type VirtualCard, type VpcdSession } from '../../src/node/vpcd-connection.js';
import { ChipClient, type ApduTransport } from '../../src/sim/index.js';
import { SecureChip } from '../../src/sim/chip/cos.js';
import { personalizeChip } from '../../src/sim/chip/state.js';
import { errorCodeOf } from '../helpers/errors.js';
import {
  CHIP_SLOT,
  pcscUnavailable,
  scriptor,
  SIM_SLOT,
  waitForCard,
  withSlot,
} from '../helpers/vpcd.js';
import { makeWorld, type World } from '../handset/helpers.js';
import { docChip, readTranscripts } from '../sim/chip/doc-chip.js';
import { freshState } from '../sim/applet/helpers.js';

const skip = await pcscUnavailable();
const title = skip === undefined ? 'PC/SC through vpcd' : `PC/SC through vpcd (skipped: ${skip})`;

type Slot = typeof SIM_SLOT | typeof CHIP_SLOT;
const inserted: VpcdSession[] = [];

/** Put `card` into the slot's reader (once pcscd saw the last one go) and wait until pcscd sees it. */
async function insert(slot: Slot, card: VirtualCard): Promise<VpcdSession> {
  await waitForCard(slot.reader, false);
  const session = await connectVpcd(card, { host: slot.host, port: slot.port });
  inserted.push(session);
  await waitForCard(slot.reader);
  return session;
}

/** Take the card out and wait until pcscd sees the reader empty. */
async function remove(slot: Slot, session: VpcdSession): Promise<void> {
  await session.close();
  inserted.splice(inserted.indexOf(session), 1);
  await waitForCard(slot.reader, false);
}

afterEach(async () => {
  for (const s of inserted.splice(0)) await s.close();
});

describe.skipIf(skip !== undefined)(title, () => {
  it('scriptor replays every example of docs/chip-apdus.md against the served chip', async () => {
    const blocks = readTranscripts(new URL('../../docs/chip-apdus.md', import.meta.url).pathname);
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    await withSlot(CHIP_SLOT.port, async () => {
      for (const block of blocks) {
        // Each block starts from the fresh example chip: a new card in the reader.
        const session = await insert(CHIP_SLOT, chipVirtualCard(docChip()));
        const got = await scriptor(
          CHIP_SLOT.reader,
          block.map((x) => x.command),
        );
        expect(got.map((r, i) => `${block[i]!.line}: ${r}`)).toEqual(
          block.map((x) => `${x.line}: ${x.response}`),
        );
        await remove(CHIP_SLOT, session);
      }
    });
  });

  it('the transport picks the reader by name, finishes 6Cxx, and reports the ATR and protocol', async () => {
    await withSlot(SIM_SLOT.port, () =>
      withSlot(CHIP_SLOT.port, async () => {
        await insert(SIM_SLOT, simVirtualCard(freshState()));
        await insert(CHIP_SLOT, chipVirtualCard(docChip()));
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
      const session = await insert(CHIP_SLOT, chipVirtualCard(docChip()));
      const reader = await PcscTransport.open({ reader: CHIP_SLOT.reader });
      try {
        const chip = new ChipClient(reader);
        await chip.selectChip();
        await chip.verifyPin('1234');
        const context = new TextEncoder().encode('user/tv.apk');
        const { key, wrapped } = await chip.generateFileKey(context);
        expect(toHex(await chip.unwrapFileKey(wrapped, context))).toBe(toHex(key));
        expect((await chip.getData()).pinTriesLeft).toBe(3);
        await remove(CHIP_SLOT, session);
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
      await insert(CHIP_SLOT, chipVirtualCard(docChip()));
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
      const session = await insert(CHIP_SLOT, chipVirtualCard(docChip()));
      await remove(CHIP_SLOT, session);
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
    const simCard = simVirtualCard(world.simState);
    const chipCard = chipVirtualCard(new SecureChip(personalizeChip({ pin: '2468' })));
    await withSlot(SIM_SLOT.port, () =>
      withSlot(CHIP_SLOT.port, async () => {
        await insert(SIM_SLOT, simCard);
        await insert(CHIP_SLOT, chipCard);
        readers.sim = await PcscTransport.open({ reader: SIM_SLOT.reader });
        readers.chip = await PcscTransport.open({ reader: CHIP_SLOT.reader });
        try {
          const bound = await phone.insertCard();
          expect(bound).toMatchObject({ binding: 'new', formatted: true });
          expect(phone.menu).toEqual(['Mobile TV', 'Card 00c0ffee']);
          expect(simCard.state.cards[0]!.bound).toBe(true);

          const launched = await phone.launch('Mobile TV');
          expect(launched).toMatchObject({ intact: true, zone: 'multimedia' });
          expect(launched.digest).toBe(world.app.sha256);
          expect(simCard.state.cards[0]!.applications[0]!.installed).toBe(true);

          const deleted = await phone.deleteApp('Mobile TV');
          expect(deleted).toMatchObject({ aid: world.app.aid });
          expect(simCard.state.cards[0]!.applications[0]!.installed).toBe(false);

          expect(await phone.unbind()).toEqual({ cid: toHex(world.cid), erased: false });
          expect(simCard.state.cards[0]!.bound).toBe(false);
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
