// The vpcd side of a virtual card against a stand-in vpcd (a TCP server on loopback speaking its
// framing): power on/off/reset, the ATR, APDUs in order whatever TCP does to the frames, the end
// of a connection, a failing card, and reconnecting after vpcd dropped the card.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/bytes.js';
import {
  CHIP_VIRTUAL_ATR,
  SIM_VIRTUAL_ATR,
  chipVirtualCard,
  simVirtualCard,
} from '../../src/node/vpcd-cards.js';
import {
  connectVpcd,
  parseVpcdAddress,
  serveVpcd,
  type VirtualCard,
  type VpcdEvent,
  type VpcdSession,
} from '../../src/node/vpcd-connection.js';
import { encodeVpcdFrame, VPCD_CONTROL, VpcdFrameReader } from '../../src/node/vpcd-frames.js';
import { atrProtocols, decodeAtr } from '../../src/protocol/atr.js';
import type { ApduTransport } from '../../src/sim/transport.js';
import { docChip } from '../sim/chip/doc-chip.js';
import { freshState } from '../sim/applet/helpers.js';
import { FakeVpcd } from '../helpers/vpcd.js';
import { errorCodeOf } from '../helpers/errors.js';

const SELECT_CHIP = fromHex('00a4040c0af053494d564348495001');
const SELECT_SIM = fromHex('00a4040c09f073696d7661756c74');

let vpcd: FakeVpcd | undefined;
let session: VpcdSession | undefined;
afterEach(async () => {
  await session?.close();
  await vpcd?.close();
  session = undefined;
  vpcd = undefined;
});

async function served(card: VirtualCard, events: VpcdEvent[] = []) {
  vpcd = await FakeVpcd.start();
  session = await connectVpcd(card, { port: vpcd.port, onEvent: (e) => events.push(e) });
  return vpcd;
}

describe('vpcd framing', () => {
  it('frames with a 2-byte big-endian length and cuts the stream however it is split', async () => {
    expect(toHex(encodeVpcdFrame(fromHex('9000')))).toBe('00029000');
    expect(toHex(encodeVpcdFrame(new Uint8Array(0)))).toBe('0000');
    expect(await errorCodeOf(() => encodeVpcdFrame(new Uint8Array(0x10000)))).toBe(
      'INVALID_ARGUMENT',
    );
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (messages, cuts) => {
          const stream = Uint8Array.from(messages.flatMap((m) => [...encodeVpcdFrame(m)]));
          const at = [...new Set(cuts.map((c) => (stream.length ? c % stream.length : 0)))].sort(
            (a, b) => a - b,
          );
          const reader = new VpcdFrameReader();
          const got: string[] = [];
          let from = 0;
          for (const to of [...at, stream.length]) {
            for (const m of reader.push(stream.subarray(from, to)))
              got.push(m.kind === 'control' ? toHex(Uint8Array.of(m.code)) : toHex(m.apdu));
            from = to;
          }
          expect(got).toEqual(messages.map((m) => toHex(m)));
          expect(reader.buffered).toBe(0);
        },
      ),
    );
  });

  it('parses HOST:PORT, IPv6 in brackets, and refuses the rest', async () => {
    expect(parseVpcdAddress('127.0.0.1:35963')).toEqual({ host: '127.0.0.1', port: 35963 });
    expect(parseVpcdAddress('[::1]:35964')).toEqual({ host: '::1', port: 35964 });
    expect(parseVpcdAddress('localhost:1')).toEqual({ host: 'localhost', port: 1 });
    for (const bad of ['127.0.0.1', ':35963', '127.0.0.1:0', '127.0.0.1:65536', 'a b:1', '::1:5'])
      expect(await errorCodeOf(() => parseVpcdAddress(bad)), bad).toBe('INVALID_ARGUMENT');
  });
});

describe('the virtual cards', () => {
  it('have ISO 7816-3 ATRs: the SIM T=0 with class indicator, the chip T=1', () => {
    expect(toHex(SIM_VIRTUAL_ATR)).toBe('3b8d801fc78031817380010055737653494d10');
    expect(toHex(CHIP_VIRTUAL_ATR)).toBe('3b8e8131fe458031817380014056737643484950' + '46');
    expect(atrProtocols(decodeAtr(SIM_VIRTUAL_ATR))).toEqual([0]);
    expect(decodeAtr(SIM_VIRTUAL_ATR).groups[2]).toEqual({ ta: 0xc7 });
    expect(atrProtocols(decodeAtr(CHIP_VIRTUAL_ATR))).toEqual([1]);
  });

  it('answer the ATR request, power up on demand and answer APDUs in order', async () => {
    const events: VpcdEvent[] = [];
    const v = await served(chipVirtualCard(docChip()), events);
    expect(toHex(await v.ask(Uint8Array.of(VPCD_CONTROL.atr)))).toBe(toHex(CHIP_VIRTUAL_ATR));
    await v.control(VPCD_CONTROL.powerOn);
    expect(toHex(await v.ask(SELECT_CHIP))).toBe('9000');
    // Two requests in one TCP segment, the second split across two writes.
    const two = [
      ...encodeVpcdFrame(fromHex('00cadf2000')),
      ...encodeVpcdFrame(fromHex('00cadf2100')),
    ];
    await v.raw(Uint8Array.from(two.slice(0, 9)));
    await v.raw(Uint8Array.from(two.slice(9)));
    expect(toHex(await v.reply())).toBe('df200853564348000000019000');
    expect(toHex(await v.reply())).toBe('df210201009000');
    expect(events.map((e) => e.type)).toEqual([
      'connected',
      'atr',
      'power-on',
      'apdu',
      'apdu',
      'apdu',
    ]);
  });

  it('start a new session at reset and at power-on, and power up for a command sent unpowered', async () => {
    const chip = docChip();
    const v = await served(chipVirtualCard(chip));
    await v.control(VPCD_CONTROL.powerOn);
    expect(toHex(await v.ask(SELECT_CHIP))).toBe('9000');
    expect(toHex(await v.ask(fromHex('00cadf2000')))).toMatch(/9000$/);
    await v.control(VPCD_CONTROL.reset);
    expect(toHex(await v.ask(fromHex('00cadf2000')))).toBe('6985');
    expect(toHex(await v.ask(SELECT_CHIP))).toBe('9000');
    await v.control(VPCD_CONTROL.powerOff);
    await v.control(0x03); // not a vpcd control code: ignored, nothing answered
    expect(toHex(await v.ask(fromHex('00cadf2000')))).toBe('6985');
  });

  it('keep the SIM state across power cycles, and commit it before answering', async () => {
    const commits: number[] = [];
    const card = simVirtualCard(freshState(), (s) => {
      commits.push(s.cards.length);
    });
    const v = await served(card);
    await v.control(VPCD_CONTROL.powerOn);
    expect(toHex(await v.ask(SELECT_SIM))).toBe('9000');
    // CARD INSERTED, the user asked: a bind request is pending in the SIM's state.
    const inserted = await v.ask(fromHex('803002001003534453553031478000000001016300'));
    expect(toHex(inserted.subarray(0, 1))).toBe('02');
    expect(commits.length).toBeGreaterThan(0);
    const pending = card.state.pending.length;
    expect(pending).toBe(1);
    await v.control(VPCD_CONTROL.powerOff);
    await v.control(VPCD_CONTROL.powerOn);
    // A new session: the applet is not selected, the persistent state is still there.
    expect(toHex(await v.ask(fromHex('803000001003534453553031478000000001016300')))).toBe('6985');
    expect(card.state.pending.length).toBe(pending);
  });

  it('a card that fails ends the connection and rejects done; vpcd closing resolves it', async () => {
    const broken: VirtualCard = {
      atr: SIM_VIRTUAL_ATR,
      powerUp: (): ApduTransport => ({
        transmit: () => Promise.reject(new Error('state file not writable')),
      }),
    };
    const v = await served(broken);
    await v.raw(encodeVpcdFrame(SELECT_SIM));
    await expect(session!.done).rejects.toThrow('state file not writable');
    session = undefined;
    await v.close();

    const events: VpcdEvent[] = [];
    const w = await served(chipVirtualCard(docChip()), events);
    await w.ask(Uint8Array.of(VPCD_CONTROL.atr));
    w.drop();
    await expect(session!.done).resolves.toBeUndefined();
    expect(events.at(-1)?.type).toBe('disconnected');
  });

  it('refuses with VPCD_UNREACHABLE when nothing listens', async () => {
    const v = await FakeVpcd.start();
    const port = v.port;
    await v.close();
    await expect(connectVpcd(chipVirtualCard(docChip()), { port })).rejects.toMatchObject({
      code: 'VPCD_UNREACHABLE',
    });
  });

  it('serveVpcd reconnects after vpcd dropped the card and stops on its signal', async () => {
    vpcd = await FakeVpcd.start();
    const stop = new AbortController();
    const events: VpcdEvent[] = [];
    const serving = serveVpcd(chipVirtualCard(docChip()), {
      port: vpcd.port,
      retryMs: 20,
      signal: stop.signal,
      onEvent: (e) => events.push(e),
    });
    expect(toHex(await vpcd.ask(Uint8Array.of(VPCD_CONTROL.atr)))).toBe(toHex(CHIP_VIRTUAL_ATR));
    vpcd.drop();
    // The card comes back on a new connection.
    expect(toHex(await vpcd.ask(Uint8Array.of(VPCD_CONTROL.atr)))).toBe(toHex(CHIP_VIRTUAL_ATR));
    stop.abort();
    await serving;
    expect(events.filter((e) => e.type === 'connected')).toHaveLength(2);
    expect(events.at(-1)?.type).toBe('disconnected');
  });
});
