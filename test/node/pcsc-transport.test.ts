// The PC/SC transport and reader watch against a stand-in binding (no pcscd needed): T=0
// exchanges finished once (61xx → GET RESPONSE, 6Cxx → resend), reader selection by name, the
// binding's failures turned into stable codes, one command at a time, and typed reader events.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fromHex, toHex } from '../../src/bytes.js';
import {
  loadPcscBinding,
  pcscErrorOf,
  type PcscBinding,
  type PcscNativeCard,
  type PcscNativeContext,
  type PcscNativeReader,
  type PcscNativeReaderState,
} from '../../src/node/pcsc-binding.js';
import { watchPcscReaders, type PcscEvent } from '../../src/node/pcsc-events.js';
import { getResponseClass, transmitT0 } from '../../src/node/pcsc-t0.js';
import { listPcscReaders, PcscTransport, pickPcscReader } from '../../src/node/pcsc-transport.js';
import { errorCodeOf } from '../helpers/errors.js';

/** A card that answers from a script: each command (hex) maps to its responses, in turn. */
function scripted(script: Record<string, string[]>) {
  const sent: string[] = [];
  const send = (command: Uint8Array) => {
    const hex = toHex(command);
    sent.push(hex);
    const answers = script[hex];
    if (!answers?.length) throw new Error(`unexpected ${hex}`);
    return Promise.resolve(fromHex(answers.length > 1 ? answers.shift()! : answers[0]!));
  };
  return { send, sent };
}

describe('T=0 exchanges, finished once (ISO 7816-3 §12.2.2, 7816-4 §5.3.4)', () => {
  it('collects 61xx with GET RESPONSE until 9000, in the class of the command', async () => {
    const card = scripted({
      '80c200000bd10982028381': ['6102'],
      '00c0000002': ['aabb6101'],
      '00c0000001': ['cc9000'],
    });
    const rsp = await transmitT0(card.send, fromHex('80c200000bd10982028381'));
    expect(toHex(rsp)).toBe('aabbcc9000');
    expect(card.sent).toEqual(['80c200000bd10982028381', '00c0000002', '00c0000001']);
  });

  it('resends with Le = xx after 6Cxx (00 meaning 256), also for GET RESPONSE', async () => {
    const card = scripted({
      '8012000010': ['6c17'],
      '8012000017': ['d0' + '00'.repeat(22) + '9000'],
    });
    expect(toHex(await transmitT0(card.send, fromHex('8012000010')))).toMatch(/^d0(00){22}9000$/);
    const big = scripted({ '00ca010001': ['6c00'], '00ca010000': [`${'11'.repeat(256)}9000`] });
    expect((await transmitT0(big.send, fromHex('00ca010001'))).length).toBe(258);
    const both = scripted({
      '00b0000000': ['6110'],
      '00c0000010': ['6c08'],
      '00c0000008': ['01020304050607089000'],
    });
    expect(toHex(await transmitT0(both.send, fromHex('00b0000000')))).toBe('01020304050607089000');
    // Without an Le (case 1/3), the resend adds one.
    const noLe = scripted({ '00ca0100': ['6c02'], '00ca010002': ['abcd9000'] });
    expect(toHex(await transmitT0(noLe.send, fromHex('00ca0100')))).toBe('abcd9000');
  });

  it('passes every other status word, and a 6Cxx it cannot resend, through unchanged', async () => {
    for (const sw of ['9000', '9117', '6985', '6a82', '63c2', '6200']) {
      const card = scripted({ '00a4040000': [sw] });
      expect(toHex(await transmitT0(card.send, fromHex('00a4040000')))).toBe(sw);
      expect(card.sent).toHaveLength(1);
    }
    // INS 6X is not a valid command: nothing to resend.
    const bad = scripted({ '00600000': ['6c01'] });
    expect(toHex(await transmitT0(bad.send, fromHex('00600000')))).toBe('6c01');
  });

  it('gives up on a card that never stops answering 61xx', async () => {
    const card = scripted({ '00ca000000': ['6100'], '00c0000000': [`${'00'.repeat(256)}6100`] });
    expect(await errorCodeOf(transmitT0(card.send, fromHex('00ca000000')))).toBe('PCSC_FAILED');
  });

  it('GET RESPONSE keeps the channel and GSM class, drops chaining, leaves proprietary classes', () => {
    expect([0x00, 0x01, 0x10, 0x80, 0x83, 0xa0, 0x40, 0x50].map(getResponseClass)).toEqual([
      0x00, 0x01, 0x00, 0x00, 0x03, 0xa0, 0x40, 0x40,
    ]);
  });
});

/** A stand-in for the `smartcard` binding: readers with cards that answer from scripts. */
class FakeBinding implements PcscBinding {
  SCARD_SHARE_SHARED = 2;
  SCARD_SHARE_EXCLUSIVE = 1;
  SCARD_PROTOCOL_T0 = 1;
  SCARD_PROTOCOL_T1 = 2;
  SCARD_LEAVE_CARD = 0;
  SCARD_RESET_CARD = 1;
  SCARD_UNPOWER_CARD = 2;
  SCARD_STATE_UNAWARE = 0;
  SCARD_STATE_CHANGED = 0x2;
  SCARD_STATE_UNKNOWN = 0x4;
  SCARD_STATE_UNAVAILABLE = 0x8;
  SCARD_STATE_PRESENT = 0x20;
  SCARD_STATE_MUTE = 0x200;
  /** reader → ATR hex of its card, or '' for none; events counted per reader. */
  readers = new Map<string, string>();
  counts = new Map<string, number>();
  script: Record<string, string[]> = {};
  sent: string[] = [];
  disconnected: number[] = [];
  serviceDown = false;
  closedContexts = 0;
  waiting: (() => void)[] = [];

  set(reader: string, atr: string | undefined): void {
    if (atr === undefined) this.readers.delete(reader);
    else this.readers.set(reader, atr);
    this.counts.set(reader, (this.counts.get(reader) ?? 0) + 1);
    this.wake();
  }

  stateOf(reader: string): number {
    const atr = this.readers.get(reader);
    const base =
      atr === undefined ? this.SCARD_STATE_UNKNOWN : atr ? this.SCARD_STATE_PRESENT : 0x10;
    return (((this.counts.get(reader) ?? 0) << 16) | base) >>> 0;
  }

  readonly Context: new () => PcscNativeContext = fakeContext(this);

  wake(): void {
    for (const w of this.waiting.splice(0)) w();
  }

  reader(name: string): PcscNativeReader {
    const atr = this.readers.get(name) ?? '';
    return {
      name,
      state: this.stateOf(name),
      atr: atr ? Buffer.from(atr, 'hex') : null,
      connect: () => {
        if (!this.readers.get(name)) return Promise.reject(new Error('No smart card present'));
        return Promise.resolve(this.card(name));
      },
    };
  }

  card(name: string): PcscNativeCard {
    return {
      protocol: this.SCARD_PROTOCOL_T0,
      transmit: async (command: Buffer) => {
        const hex = command.toString('hex');
        this.sent.push(hex);
        await new Promise((r) => setTimeout(r, 1));
        if (!this.readers.get(name)) throw new Error('Card was removed');
        const answers = this.script[hex];
        if (!answers?.length) throw new Error('Transaction failed');
        return Buffer.from(answers.length > 1 ? answers.shift()! : answers[0]!, 'hex');
      },
      getStatus: () => ({
        state: this.stateOf(name),
        protocol: this.SCARD_PROTOCOL_T0,
        atr: Buffer.from(this.readers.get(name) ?? '', 'hex'),
      }),
      reconnect: () => Promise.resolve(this.SCARD_PROTOCOL_T0),
      disconnect: (how: number) => {
        this.disconnected.push(how);
      },
    };
  }
}

/** The binding's context class over a fake's readers. */
function fakeContext(fake: FakeBinding): new () => PcscNativeContext {
  return class implements PcscNativeContext {
    constructor() {
      if (fake.serviceDown) throw new Error('PC/SC service not running');
    }
    listReaders(): PcscNativeReader[] {
      return [...fake.readers.keys()].map((name) => fake.reader(name));
    }
    async waitForChange(
      readers: { name: string; state: number }[],
      timeoutMs: number,
    ): Promise<PcscNativeReaderState[] | null> {
      const now = () =>
        readers.map((r) => {
          const state = r.name.includes('PnP') ? fake.readers.size << 16 : fake.stateOf(r.name);
          const atr = fake.readers.get(r.name);
          return {
            name: r.name,
            state: state | (state !== r.state ? fake.SCARD_STATE_CHANGED : 0),
            changed: state !== r.state,
            atr: atr ? Buffer.from(atr, 'hex') : null,
          };
        });
      if (now().some((r) => r.changed)) return now();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        fake.waiting.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      const after = now();
      return after.some((r) => r.changed) ? after : [];
    }
    cancel(): void {
      fake.wake();
    }
    close(): void {
      fake.closedContexts++;
    }
  };
}

describe('PcscTransport over a binding', () => {
  it('picks a reader by exact name or a unique part of it, else says which readers there are', async () => {
    const names = ['ACS ACR38U 00 00', 'Virtual PCD 00 00', 'Virtual PCD 00 01'];
    expect(pickPcscReader(names, 'Virtual PCD 00 01')).toBe('Virtual PCD 00 01');
    expect(pickPcscReader(names, 'acr38')).toBe('ACS ACR38U 00 00');
    expect(pickPcscReader(names, undefined, ['Virtual PCD 00 00'])).toBe('Virtual PCD 00 00');
    expect(await errorCodeOf(() => pickPcscReader(names, 'virtual'))).toBe('PCSC_NO_READER');
    expect(await errorCodeOf(() => pickPcscReader(names, 'omnikey'))).toBe('PCSC_NO_READER');
    expect(await errorCodeOf(() => pickPcscReader(names, undefined, names))).toBe('PCSC_NO_READER');
    expect(await errorCodeOf(() => pickPcscReader(names, undefined, []))).toBe('PCSC_NO_CARD');
    expect(await errorCodeOf(() => pickPcscReader([], undefined, []))).toBe('PCSC_NO_READER');
  });

  it('maps the binding failures to stable codes', () => {
    const cases: [string, string][] = [
      ['PC/SC service not running', 'PCSC_NO_SERVICE'],
      ['PC/SC service stopped', 'PCSC_NO_SERVICE'],
      ['Unknown reader', 'PCSC_NO_READER'],
      ['Reader unavailable', 'PCSC_NO_READER'],
      ['No smart card present', 'PCSC_NO_CARD'],
      ['Card was removed', 'PCSC_NO_CARD'],
      ['Card is unresponsive', 'PCSC_NO_CARD'],
      ['Sharing violation', 'PCSC_FAILED'],
      ['Transaction failed', 'PCSC_FAILED'],
    ];
    for (const [text, code] of cases)
      expect(pcscErrorOf(new Error(text), 'x', 'r').code, text).toBe(code);
  });

  it('sends, finishing T=0, one command at a time, and closes once', async () => {
    const pcsc = new FakeBinding();
    pcsc.set('Virtual PCD 00 00', '3b80800101');
    pcsc.script = {
      '00a4040000': ['6102'],
      '00c0000002': ['6f009000'],
      '00b0000000': ['019000'],
    };
    const t = await PcscTransport.open({ binding: pcsc });
    expect([t.reader, toHex(t.atr), t.protocol]).toEqual([
      'Virtual PCD 00 00',
      '3b80800101',
      'T=0',
    ]);
    const [a, b] = await Promise.all([
      t.transmit(fromHex('00a4040000')),
      t.transmit(fromHex('00b0000000')),
    ]);
    expect([toHex(a), toHex(b)]).toEqual(['6f009000', '019000']);
    // The GET RESPONSE came right after its command, before the next command.
    expect(pcsc.sent).toEqual(['00a4040000', '00c0000002', '00b0000000']);
    expect(await errorCodeOf(t.transmit(new Uint8Array(0)))).toBe('INVALID_ARGUMENT');
    expect(toHex(await t.reset())).toBe('3b80800101');
    await t.close('unpower');
    await t.close();
    expect(pcsc.disconnected).toEqual([pcsc.SCARD_UNPOWER_CARD]);
    expect(pcsc.closedContexts).toBe(1);
    expect(await errorCodeOf(t.transmit(fromHex('00b0000000')))).toBe('PCSC_FAILED');
  });

  it('says PCSC_NO_SERVICE, PCSC_NO_CARD and PCSC_NO_READER, and waits for a card when asked', async () => {
    const pcsc = new FakeBinding();
    pcsc.serviceDown = true;
    expect(await errorCodeOf(PcscTransport.open({ binding: pcsc }))).toBe('PCSC_NO_SERVICE');
    expect(await errorCodeOf(listPcscReaders({ binding: pcsc }))).toBe('PCSC_NO_SERVICE');
    pcsc.serviceDown = false;
    expect(await errorCodeOf(PcscTransport.open({ binding: pcsc }))).toBe('PCSC_NO_READER');
    pcsc.set('R1', '');
    expect(await errorCodeOf(PcscTransport.open({ binding: pcsc, reader: 'R1' }))).toBe(
      'PCSC_NO_CARD',
    );
    expect(
      await errorCodeOf(PcscTransport.open({ binding: pcsc, reader: 'R1', waitForCardMs: 30 })),
    ).toBe('PCSC_NO_CARD');
    const waiting = PcscTransport.open({ binding: pcsc, reader: 'R1', waitForCardMs: 5000 });
    setTimeout(() => {
      pcsc.set('R1', '3b00');
    }, 20);
    const t = await waiting;
    expect(toHex(t.atr)).toBe('3b00');
    pcsc.set('R1', '');
    pcsc.script = { '00b0000000': ['9000'] };
    expect(await errorCodeOf(t.transmit(fromHex('00b0000000')))).toBe('PCSC_NO_CARD');
    await t.close();
    expect(await errorCodeOf(PcscTransport.open({ binding: pcsc, waitForCardMs: -1 }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(pcsc.closedContexts).toBeGreaterThanOrEqual(4);
    expect(await listPcscReaders({ binding: pcsc })).toEqual([{ name: 'R1', atr: undefined }]);
  });

  it('without the smartcard package, says PCSC_UNAVAILABLE and how to get it', async () => {
    vi.resetModules();
    vi.doMock('smartcard', () => {
      throw new Error("Cannot find module 'smartcard'");
    });
    try {
      const fresh = (await import('../../src/node/pcsc-binding.js')) as {
        loadPcscBinding: typeof loadPcscBinding;
      };
      const e = await fresh.loadPcscBinding().catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'PCSC_UNAVAILABLE' });
      expect((e as Error).message).toContain('npm install smartcard');
    } finally {
      vi.doUnmock('smartcard');
      vi.resetModules();
    }
  });
});

describe('watchPcscReaders', () => {
  let stop: AbortController | undefined;
  afterEach(() => stop?.abort());

  it('reports readers and cards coming and going, and ends on its signal', async () => {
    const pcsc = new FakeBinding();
    pcsc.set('R1', '3b00');
    stop = new AbortController();
    const seen: string[] = [];
    const done = (async () => {
      for await (const e of watchPcscReaders({ binding: pcsc, signal: stop.signal, pollMs: 50 }))
        seen.push(eventText(e));
    })();
    const until = async (n: number) => {
      while (seen.length < n) await new Promise((r) => setTimeout(r, 5));
    };
    await until(2);
    pcsc.set('R1', '');
    await until(3);
    pcsc.set('R1', '3b01');
    await until(4);
    // Pulled and put back between two waits: the event count still tells.
    pcsc.set('R1', '');
    pcsc.set('R1', '3b01');
    await until(6);
    pcsc.set('R2', '3b02');
    await until(8);
    pcsc.set('R2', undefined);
    await until(10);
    stop.abort();
    await done;
    expect(seen).toEqual([
      'reader-attached R1',
      'card-inserted R1 3b00',
      'card-removed R1',
      'card-inserted R1 3b01',
      'card-removed R1',
      'card-inserted R1 3b01',
      'reader-attached R2',
      'card-inserted R2 3b02',
      'card-removed R2',
      'reader-detached R2',
    ]);
    expect(pcsc.closedContexts).toBe(1);
  });

  it('fails with PCSC_NO_SERVICE when pcscd is not there', async () => {
    const pcsc = new FakeBinding();
    pcsc.serviceDown = true;
    expect(await errorCodeOf(watchPcscReaders({ binding: pcsc }).next())).toBe('PCSC_NO_SERVICE');
  });
});

function eventText(e: PcscEvent): string {
  return e.type === 'card-inserted'
    ? `${e.type} ${e.reader} ${toHex(e.atr)}`
    : `${e.type} ${e.reader}`;
}
