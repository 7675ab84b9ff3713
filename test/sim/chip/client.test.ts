import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from '../../../src/bytes.js';
import { ArgumentError, SimvaultError } from '../../../src/errors.js';
import { ChipClient, ChipError } from '../../../src/sim/chip-client.js';
import { SecureChip } from '../../../src/sim/chip/cos.js';
import { decodeChipState, personalizeChip } from '../../../src/sim/chip/state.js';
import type { ApduTransport } from '../../../src/sim/transport.js';
import { mutate, prng } from '../../protocol/fuzz-util.js';
import { docChip, docChipState } from './doc-chip.js';

const CTX = utf8('user/tv.apk');

async function failure(p: Promise<unknown>): Promise<ChipError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ChipError);
    return e as ChipError;
  }
  throw new Error('expected a ChipError');
}

async function open(chip: SecureChip = docChip()): Promise<ChipClient> {
  const client = new ChipClient(chip);
  await client.selectChip();
  await client.verifyPin('1234');
  return client;
}

/** A transport that records commands and answers from a script. */
function scripted(...answers: string[]): ApduTransport & { sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    transmit: (c) => {
      sent.push(toHex(c));
      return Promise.resolve(fromHex(answers.shift() ?? '9000'));
    },
  };
}

describe('ChipClient', () => {
  it('selects, verifies, generates and unwraps', async () => {
    const client = await open();
    const { key, wrapped } = await client.generateFileKey(CTX);
    expect(key.length).toBe(32);
    expect(wrapped.length).toBe(61);
    expect(toHex(await client.unwrapFileKey(wrapped, CTX))).toBe(toHex(key));
  });

  it('sends the documented APDUs', async () => {
    const t = scripted('9000', '9000');
    const client = new ChipClient(t);
    await client.selectChip();
    await client.verifyPin('1234');
    expect(t.sent).toEqual(['00a4040c0af053494d564348495001', '002000810831323334ffffffff']);
  });

  it('reads the chip information', async () => {
    const client = new ChipClient(docChip());
    await client.selectChip();
    expect(await client.getData()).toEqual({
      serial: fromHex('5356434800000001'),
      cosVersion: [1, 0],
      algorithms: [1],
      pinTriesLeft: 3,
      pinTriesMax: 3,
      pukTriesLeft: 10,
      pukTriesMax: 10,
    });
  });

  it('reports a wrong PIN with the tries left, then blocked', async () => {
    const client = new ChipClient(docChip());
    await client.selectChip();
    expect(await failure(client.verifyPin('0000'))).toMatchObject({
      code: 'CHIP_WRONG_PIN',
      triesLeft: 2,
      sw: 0x63c2,
    });
    expect(await failure(client.verifyPin('0000'))).toMatchObject({
      code: 'CHIP_WRONG_PIN',
      triesLeft: 1,
    });
    expect(await failure(client.verifyPin('0000'))).toMatchObject({
      code: 'CHIP_WRONG_PIN',
      triesLeft: 0,
    });
    expect(await failure(client.verifyPin('1234'))).toMatchObject({
      code: 'CHIP_BLOCKED',
      sw: 0x6983,
    });
    expect(await failure(client.generateFileKey(CTX))).toMatchObject({ code: 'CHIP_BLOCKED' });
    expect((await client.getData()).pinTriesLeft).toBe(0);
  });

  it('unblocks with the PUK, and changes the PIN', async () => {
    const client = new ChipClient(docChip());
    await client.selectChip();
    for (let i = 0; i < 3; i++) await failure(client.verifyPin('0000'));
    expect(await failure(client.unblockPin('00000000', '5555'))).toMatchObject({
      code: 'CHIP_WRONG_PIN',
      triesLeft: 9,
    });
    await client.unblockPin('12345678', '5555');
    await client.verifyPin('5555');
    await client.changePin('5555', '123456');
    await client.generateFileKey(CTX);
    expect(await failure(client.changePin('5555', '1234'))).toMatchObject({
      code: 'CHIP_WRONG_PIN',
      triesLeft: 2,
    });
  });

  it('reports a blocked PUK as blocked', async () => {
    const client = new ChipClient(
      new SecureChip(personalizeChip({ pin: '1234', puk: '12345678', pukTries: 1 })),
    );
    await client.selectChip();
    await failure(client.unblockPin('00000000', '1111'));
    expect(await failure(client.unblockPin('12345678', '1111'))).toMatchObject({
      code: 'CHIP_BLOCKED',
    });
  });

  it('asks for the PIN before key operations, and after a reset', async () => {
    const chip = docChip();
    const client = new ChipClient(chip);
    await client.selectChip();
    expect(await failure(client.generateFileKey(CTX))).toMatchObject({
      code: 'CHIP_AUTH_REQUIRED',
      sw: 0x6982,
    });
    await client.verifyPin('1234');
    chip.reset();
    expect(await failure(client.generateFileKey(CTX))).toMatchObject({
      code: 'CHIP_AUTH_REQUIRED',
      sw: 0x6985,
    });
  });

  it('reports a wrapped key for another context, another chip, or damaged as CHIP_UNWRAP_FAILED', async () => {
    const client = await open();
    const { wrapped } = await client.generateFileKey(CTX);
    expect(await failure(client.unwrapFileKey(wrapped, utf8('user/other')))).toMatchObject({
      code: 'CHIP_UNWRAP_FAILED',
      sw: 0x6a80,
    });
    const other = await open(new SecureChip(personalizeChip({ pin: '1234' })));
    expect(await failure(other.unwrapFileKey(wrapped, CTX))).toMatchObject({
      code: 'CHIP_UNWRAP_FAILED',
    });
    expect(await failure(client.unwrapFileKey(wrapped.subarray(0, 60), CTX))).toMatchObject({
      code: 'CHIP_UNWRAP_FAILED',
    });
  });

  it('reports an absent chip: the transport fails, or the application is not there', async () => {
    const gone: ApduTransport = { transmit: () => Promise.reject(new Error('card removed')) };
    const e = await failure(new ChipClient(gone).selectChip());
    expect(e).toMatchObject({ code: 'CHIP_ABSENT' });
    expect((e.cause as Error).message).toBe('card removed');
    expect(await failure(new ChipClient(scripted('6a82')).selectChip())).toMatchObject({
      code: 'CHIP_ABSENT',
      sw: 0x6a82,
    });
    expect(
      await failure(new ChipClient(gone).unwrapFileKey(new Uint8Array(61), CTX)),
    ).toMatchObject({ code: 'CHIP_ABSENT' });
  });

  it('reports unexpected answers as CHIP_ERROR, not as corruption', async () => {
    expect(await failure(new ChipClient(scripted('6f00')).selectChip())).toMatchObject({
      code: 'CHIP_ERROR',
      sw: 0x6f00,
    });
    expect(await failure(new ChipClient(scripted('90')).selectChip())).toMatchObject({
      code: 'CHIP_ERROR',
    });
    expect(await failure(new ChipClient(scripted('01029000')).generateFileKey(CTX))).toMatchObject({
      code: 'CHIP_ERROR',
    });
    expect(
      await failure(new ChipClient(scripted('01029000')).unwrapFileKey(new Uint8Array(61), CTX)),
    ).toMatchObject({ code: 'CHIP_ERROR' });
    expect(await failure(new ChipClient(scripted('df20019000')).getData())).toMatchObject({
      code: 'CHIP_ERROR',
    });
    expect(await failure(new ChipClient(scripted('bf2003df21019000')).getData())).toMatchObject({
      code: 'CHIP_ERROR',
    });
  });

  it('refuses bad arguments before sending anything', async () => {
    const t = scripted();
    const client = new ChipClient(t);
    await expect(client.verifyPin('12')).rejects.toBeInstanceOf(ArgumentError);
    await expect(client.changePin('1234', '1')).rejects.toBeInstanceOf(ArgumentError);
    await expect(client.unblockPin('1234', '1234')).rejects.toBeInstanceOf(ArgumentError);
    await expect(client.unblockPin('12345678', 'x')).rejects.toBeInstanceOf(ArgumentError);
    await expect(client.generateFileKey(new Uint8Array(0))).rejects.toBeInstanceOf(ArgumentError);
    await expect(client.generateFileKey(new Uint8Array(193))).rejects.toBeInstanceOf(ArgumentError);
    await expect(client.unwrapFileKey('x' as unknown as Uint8Array, CTX)).rejects.toBeInstanceOf(
      ArgumentError,
    );
    expect(t.sent).toEqual([]);
  });

  it('throws only SimvaultErrors whatever the transport answers', async () => {
    const next = prng(21);
    const valid = [
      fromHex('9000'),
      fromHex('63c1'),
      new Uint8Array([...new Uint8Array(93), 0x90, 0]),
      fromHex('bf201edf20085356434800000001df21020100df220101df23020303df24020a0a9000'),
    ];
    const transport: ApduTransport = {
      transmit: () =>
        Promise.resolve(
          next() % 2
            ? mutate(valid[next() % valid.length]!, next)
            : new Uint8Array(next() % 100).map(() => next() & 0xff),
        ),
    };
    const client = new ChipClient(transport);
    const calls = [
      () => client.selectChip(),
      () => client.verifyPin('1234'),
      () => client.getData(),
      () => client.generateFileKey(CTX),
      () => client.unwrapFileKey(new Uint8Array(61), CTX),
      () => client.changePin('1234', '4321'),
      () => client.unblockPin('12345678', '1234'),
    ];
    for (let i = 0; i < 3000; i++) {
      try {
        await calls[next() % calls.length]!();
      } catch (e) {
        expect(e).toBeInstanceOf(SimvaultError);
      }
    }
  });

  it('works over the state a chip was restarted from', async () => {
    const saved: Uint8Array[] = [];
    const chip = new SecureChip(docChipState(), { persist: (s) => void saved.push(s) });
    const client = await open(chip);
    const { key, wrapped } = await client.generateFileKey(CTX);
    const again = await open(new SecureChip(decodeChipState(saved.at(-1)!)));
    expect(toHex(await again.unwrapFileKey(wrapped, CTX))).toBe(toHex(key));
  });
});
