// The handset at the edges, over real HTTP: calls out of order, applications it cannot find,
// devices that fail, messages that arrive late or twice, a PoR the OTA server refuses, a SIM whose
// menu changes under it, and proactive commands it only has to acknowledge.
import { afterEach, describe, expect, it } from 'vitest';
import { fromHex } from '../../src/bytes.js';
import { MemoryDevice } from '../../src/card/index.js';
import { Handset, HandsetError, type ApduTransport } from '../../src/handset/index.js';
import { decodeCommandApdu, encodeResponseApdu } from '../../src/protocol/apdu.js';
import { decodeSmsTpdu } from '../../src/protocol/sms.js';
import { encodeProactiveCommand } from '../../src/protocol/toolkit.js';
import { SIM_INS } from '../../src/sim/applet/apdu-table.js';
import { cutAfter, holdMt, jsonResponse, makeWorld, releaseMt, type World } from './helpers.js';

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

/** The network hands every batch of MT messages to the handset twice over. */
async function twice(input: string | URL, init?: RequestInit): Promise<Response> {
  const res = await fetch(input, init);
  if (new URL(String(input)).pathname !== '/v1/sms/mt') return res;
  const body = (await res.json()) as { messages: { seq: number }[]; next: number };
  return jsonResponse({ ...body, messages: [...body.messages, ...body.messages] });
}

const isPor = (body: BodyInit | null | undefined): boolean => {
  if (!(body instanceof ArrayBuffer)) return false;
  const sms = decodeSmsTpdu(new Uint8Array(body));
  return sms.userData.header?.some((e) => e.iei === 0x71) === true;
};

describe('handset: calls it must refuse', () => {
  it('checks its arguments and its state before talking to anyone', async () => {
    w = await makeWorld();
    const bare = new Handset({
      sim: w.sim,
      iccid: w.world.iccid,
      otaUrl: w.op.otaUrl,
      cardAppUrl: w.op.cardAppUrl,
    });
    await expect(bare.insertCard()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(
      bare.insertCard({ device: w.device, cid: new Uint8Array(15) }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(bare.launch('Mobile TV')).rejects.toMatchObject({ code: 'HANDSET_REFUSED' });
    await expect(bare.unbind()).rejects.toMatchObject({ code: 'HANDSET_REFUSED' });
    expect(bare.card).toBeUndefined();
  });

  it('finds applications by AID or by the name the SIM lists, and says when there is none', async () => {
    w = await makeWorld();
    const inserted = await w.phone.insertCard();
    expect(inserted.applications).toEqual([
      { aid: w.world.app.aid, name: 'Mobile TV', zone: 'multimedia', installed: false },
    ]);
    await expect(w.phone.launch('Mobile Radio')).rejects.toThrow(/no application "Mobile Radio"/);
    await expect(w.phone.launch(fromHex('a000000087ffff'))).rejects.toThrow(
      /no application a000000087ffff \(it has: Mobile TV\)/,
    );
    // Nothing to delete before the file is on the card: the SIM menu offers no Delete.
    await expect(w.phone.deleteApp('Mobile TV')).rejects.toThrow(/offers no delete of application/);
  });

  it('a card device that fails is reported as it is, not formatted over', async () => {
    w = await makeWorld();
    const device = new MemoryDevice(16 << 20);
    await device.close();
    await expect(w.phone.insertCard({ device, cid: w.world.cid })).rejects.toMatchObject({
      code: 'DEVICE_CLOSED',
    });
  });
});

describe('handset: deletes', () => {
  it('a delete finds no file when it is already gone, and clears an interrupted download too', async () => {
    w = await makeWorld({
      downloadAttempts: 1,
      format: { fill: 'zero', zones: { operator: 1 << 20, advertising: 1 << 20 } },
    });
    await w.phone.insertCard();
    expect(w.phone.card!.info().zones.find((z) => z.zone === 'operator')?.capacity).toBe(1 << 20);
    await w.phone.launch('Mobile TV');
    await w.phone.card!.zone('multimedia').delete(w.world.app.aid);
    expect((await w.phone.deleteApp('Mobile TV')).zone).toBeNull();

    // Installed again, then a second download breaks off and leaves an interrupted put behind.
    await w.phone.launch('Mobile TV');
    w.intercept.fetch = async (input, init) => {
      const res = await fetch(input, init);
      return new URL(String(input)).pathname.startsWith('/v1/files/')
        ? cutAfter(res, 150 * 1024)
        : res;
    };
    await expect(w.phone.launch('Mobile TV')).rejects.toMatchObject({
      code: 'HANDSET_DOWNLOAD_FAILED',
    });
    delete w.intercept.fetch;
    expect(await w.phone.card!.zone('multimedia').pending()).toHaveLength(1);
    expect((await w.phone.deleteApp('Mobile TV')).zone).toBe('multimedia');
    expect(await w.phone.card!.zone('multimedia').pending()).toEqual([]);
    expect(w.sim.state.cards[0]!.anchors).toEqual(w.phone.card!.generations());
  });

  it('a late delete command for a file no longer there, and late resource info, are handled', async () => {
    w = await makeWorld({ timeoutMs: 1500 });
    await w.phone.insertCard();
    await w.phone.launch('Mobile TV');
    holdMt(w);
    await expect(w.phone.deleteApp('Mobile TV')).rejects.toMatchObject({ code: 'HANDSET_TIMEOUT' });
    await w.phone.card!.zone('multimedia').delete(w.world.app.aid);
    releaseMt(w);
    expect((await w.phone.processMt(1)).handled).toEqual(['deleteCommand']);
    expect(w.events.at(-1)?.text).toContain('the card did not hold the file');

    // Resource info that arrives after the launch gave up waits in the handset's mailbox.
    holdMt(w);
    await expect(w.phone.launch('Mobile TV')).rejects.toMatchObject({ code: 'HANDSET_TIMEOUT' });
    releaseMt(w);
    expect((await w.phone.processMt(1)).handled).toEqual([]);
  });
});

describe('handset: what the network does to short messages', () => {
  it('MT messages delivered twice over change nothing the second time', async () => {
    w = await makeWorld({ fetch: twice });
    await w.phone.insertCard();
    expect(w.sim.state.cards).toHaveLength(1);
    expect(w.sim.state.pending).toHaveLength(0);
    expect((await w.phone.launch('Mobile TV')).intact).toBe(true);
    expect(w.sim.state.cards[0]!.applications[0]!.installed).toBe(true);
  });

  it('a PoR the OTA server refuses is logged and the flow goes on', async () => {
    w = await makeWorld();
    w.intercept.fetch = async (input, init) => {
      if (new URL(String(input)).pathname === '/v1/sms/mo' && isPor(init?.body))
        return jsonResponse({ error: { code: 'OTA_UNKNOWN_POR', message: 'no such packet' } }, 404);
      return fetch(input, init);
    };
    await w.phone.insertCard();
    expect(
      w.events.some(
        (e) => e.step === 'PoR' && e.text.includes('refused') && e.text.includes('OTA_UNKNOWN_POR'),
      ),
    ).toBe(true);
    expect(w.sim.state.cards[0]!.bound).toBe(true);
  });
});

/**
 * The SIM, with two faults a handset must survive: a REFRESH it only acknowledges, slipped in
 * before the SIM's own pending command, and (when `wrongPath`) a MENU PATH answer whose second
 * step names an item the sub-menu does not have.
 */
class QuirkySim implements ApduTransport {
  wrongPath = false;
  private refresh: Uint8Array | undefined = encodeProactiveCommand({
    kind: 'refresh',
    commandNumber: 0x77,
    qualifier: 0,
  });
  private held: number | undefined;
  constructor(private readonly sim: ApduTransport) {}

  async transmit(command: Uint8Array): Promise<Uint8Array> {
    const apdu = decodeCommandApdu(command);
    if (this.held !== undefined) {
      const refresh = this.refresh!;
      if (apdu.ins === SIM_INS.fetch) return encodeResponseApdu({ data: refresh, sw: 0x9000 });
      if (apdu.ins === SIM_INS.terminalResponse && apdu.data[2] === 0x77) {
        const sw = this.held;
        this.held = undefined;
        this.refresh = undefined;
        return encodeResponseApdu({ data: new Uint8Array(0), sw });
      }
    }
    const rsp = await this.sim.transmit(command);
    const sw = (rsp[rsp.length - 2]! << 8) | rsp[rsp.length - 1]!;
    if (this.refresh && sw >> 8 === 0x91 && apdu.ins === SIM_INS.terminalProfile) {
      this.held = sw;
      return encodeResponseApdu({ data: new Uint8Array(0), sw: 0x9100 | this.refresh.length });
    }
    if (this.wrongPath && apdu.ins === SIM_INS.menuPath && sw === 0x9000) {
      const data = rsp.slice(0, -2);
      data[data.length - 1] = 0x42;
      return encodeResponseApdu({ data, sw });
    }
    return rsp;
  }
}

describe('handset: a SIM that surprises it', () => {
  it('acknowledges a REFRESH, and stops when the menu no longer has the item MENU PATH named', async () => {
    w = await makeWorld();
    const quirky = new QuirkySim(w.sim);
    const phone = new Handset({
      sim: quirky,
      iccid: w.world.iccid,
      otaUrl: w.op.otaUrl,
      cardAppUrl: w.op.cardAppUrl,
      card: { device: w.device, cid: w.world.cid },
      format: { fill: 'zero' },
    });
    await phone.insertCard();
    expect(phone.menu).toEqual(['Mobile TV', 'Card 00c0ffee']);
    quirky.wrongPath = true;
    const error = await phone.launch('Mobile TV').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HandsetError);
    expect(error).toMatchObject({ code: 'HANDSET_REFUSED' });
    expect((error as Error).message).toContain('offers no item 66');
    await phone.removeCard();
  });
});
