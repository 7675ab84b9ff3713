import { describe, expect, it } from 'vitest';
import { concatBytes, fromHex, toHex, utf8 } from '../../../src/bytes.js';
import { ArgumentError, ProtocolError } from '../../../src/errors.js';
import { chipStatusWordName, CHIP_AID } from '../../../src/sim/chip/constants.js';
import { SecureChip } from '../../../src/sim/chip/cos.js';
import { encodePinBlock, encodePukBlock } from '../../../src/sim/chip/pin.js';
import { decodeChipState, personalizeChip, type ChipState } from '../../../src/sim/chip/state.js';
import { countingRandom, docChip, docChipState } from './doc-chip.js';

const SELECT = concatBytes(fromHex('00a4040c0a'), CHIP_AID);
const CTX = utf8('user/tv.apk');

function swOf(response: Uint8Array): string {
  return toHex(response.subarray(response.length - 2));
}

function apdu(header: string, data: Uint8Array = new Uint8Array(0), le?: number): Uint8Array {
  const h = fromHex(header);
  const parts = [h];
  if (data.length) parts.push(new Uint8Array([data.length]), data);
  if (le !== undefined) parts.push(new Uint8Array([le & 0xff]));
  return concatBytes(...parts);
}

const verify = (pin: string) => apdu('00200081', encodePinBlock(pin));
const generate = (context: Uint8Array = CTX) => apdu('80460000', context, 0);
const unwrap = (wrapped: Uint8Array, context: Uint8Array = CTX) =>
  apdu('80480000', concatBytes(wrapped, context), 0);
const resetRetry = (puk: string, pin: string) =>
  apdu('002c0081', concatBytes(encodePukBlock(puk), encodePinBlock(pin)));
const change = (oldPin: string, newPin: string) =>
  apdu('00240081', concatBytes(encodePinBlock(oldPin), encodePinBlock(newPin)));

/** A chip whose every persisted state is recorded. */
function recordingChip(state: ChipState = docChipState()) {
  const saved: ChipState[] = [];
  const chip = new SecureChip(state, {
    random: countingRandom(),
    persist: (s) => void saved.push(decodeChipState(s)),
  });
  return { chip, saved };
}

async function send(chip: SecureChip, ...commands: Uint8Array[]): Promise<string[]> {
  const out: string[] = [];
  for (const c of commands) out.push(swOf(await chip.transmit(c)));
  return out;
}

describe('SELECT', () => {
  it('answers the FCI for P2 00 and nothing for P2 0C', async () => {
    const chip = docChip();
    expect(toHex(await chip.transmit(SELECT))).toBe('9000');
    expect(
      toHex(await chip.transmit(concatBytes(fromHex('00a404000a'), CHIP_AID, fromHex('00')))),
    ).toBe(`6f0c840a${toHex(CHIP_AID)}9000`);
  });

  it('accepts extended lengths', async () => {
    const chip = docChip();
    expect(toHex(await chip.transmit(concatBytes(fromHex('00a4040c00000a'), CHIP_AID)))).toBe(
      '9000',
    );
  });

  it('of another AID answers 6A82 and ends the session', async () => {
    const chip = docChip();
    expect(
      await send(chip, SELECT, verify('1234'), fromHex('00a4040c05a000000087'), generate()),
    ).toEqual(['9000', '9000', '6a82', '6985']);
  });

  it('of a prefix or an extension of the AID is not found', async () => {
    const chip = docChip();
    expect(
      await send(
        chip,
        apdu('00a4040c', CHIP_AID.subarray(0, 9)),
        apdu('00a4040c', concatBytes(CHIP_AID, new Uint8Array([0]))),
      ),
    ).toEqual(['6a82', '6a82']);
  });

  it('again starts a new session: the PIN must be verified again', async () => {
    const chip = docChip();
    expect(await send(chip, SELECT, verify('1234'), SELECT, generate())).toEqual([
      '9000',
      '9000',
      '9000',
      '6982',
    ]);
  });
});

describe('GET DATA', () => {
  it('answers with CLA 80 too, and with an exact Le', async () => {
    const chip = docChip();
    await chip.transmit(SELECT);
    expect(toHex(await chip.transmit(fromHex('80cadf200b')))).toBe(
      'df2008535643480000000190' + '00',
    );
  });

  it('tells the exact length for a short Le, and refuses data', async () => {
    const chip = docChip();
    await chip.transmit(SELECT);
    expect(await send(chip, fromHex('00cabf2010'), fromHex('00cadf200101'))).toEqual([
      '6c21',
      '6700',
    ]);
  });

  it('never needs the PIN, and follows the counters', async () => {
    const chip = docChip();
    await send(chip, SELECT, verify('0000'));
    expect(toHex(await chip.transmit(fromHex('00cadf2300')))).toBe('df230202039000');
  });

  it('has no object for other tags, the chip key among them', async () => {
    const chip = docChip();
    await chip.transmit(SELECT);
    for (const tag of ['0000', 'df25', 'df1f', 'bf21', '9f7f', 'ffff'])
      expect(swOf(await chip.transmit(fromHex(`00ca${tag}00`)))).toBe('6a88');
  });
});

describe('VERIFY and the retry counter', () => {
  it('counts down on wrong PINs, blocks at zero, and a right PIN before that restores the counter', async () => {
    const chip = docChip();
    expect(
      await send(
        chip,
        SELECT,
        verify('0000'),
        verify('1111'),
        verify('1234'),
        fromHex('00cadf2300'),
      ),
    ).toEqual(['9000', '63c2', '63c1', '9000', '9000']);
    expect(toHex(await chip.transmit(fromHex('00cadf2300')))).toBe('df230203039000');
    expect(
      await send(chip, verify('0000'), verify('0000'), verify('0000'), verify('1234'), generate()),
    ).toEqual(['63c2', '63c1', '63c0', '6983', '6983']);
  });

  it('a wrong PIN ends a verified session', async () => {
    const chip = docChip();
    expect(await send(chip, SELECT, verify('1234'), verify('9999'), generate())).toEqual([
      '9000',
      '9000',
      '63c2',
      '6982',
    ]);
  });

  it('persists the decremented counter before answering, and the block survives a restart', async () => {
    const { chip, saved } = recordingChip();
    await send(chip, SELECT, verify('0000'));
    expect(saved.map((s) => s.pinTriesLeft)).toEqual([2]);
    await send(chip, verify('0000'), verify('0000'));
    const restarted = new SecureChip(saved.at(-1)!);
    expect(await send(restarted, SELECT, verify('1234'))).toEqual(['9000', '6983']);
  });

  it('writes the decrement, then the restore, for a right PIN', async () => {
    const { chip, saved } = recordingChip();
    await send(chip, SELECT, verify('1234'));
    expect(saved.map((s) => s.pinTriesLeft)).toEqual([2, 3]);
  });

  it('gives no answer before the decrement is stored: a hanging write holds the response', async () => {
    let calls = 0;
    const chip = new SecureChip(docChipState(), {
      persist: () => (++calls === 1 ? new Promise<void>(() => {}) : undefined),
    });
    await chip.transmit(SELECT);
    const pending = chip.transmit(verify('0000'));
    const outcome = await Promise.race([
      pending.then(() => 'answered'),
      new Promise((r) =>
        setTimeout(() => {
          r('waiting');
        }, 50),
      ),
    ]);
    expect(outcome).toBe('waiting');
    expect(calls).toBe(1);
  });

  it('a power cut during the decrement write answers nothing and drops the session', async () => {
    let fail = false;
    const chip = new SecureChip(docChipState(), {
      persist: () => {
        if (fail) throw new Error('power cut');
      },
    });
    await send(chip, SELECT, verify('1234'));
    fail = true;
    await expect(chip.transmit(verify('0000'))).rejects.toThrow('power cut');
    fail = false;
    expect(await send(chip, generate())).toEqual(['6985']);
  });

  it('a power cut during the restore write costs a try, never gives one', async () => {
    const saved: ChipState[] = [];
    const chip = new SecureChip(docChipState(), {
      persist: (s) => {
        if (saved.length === 1) throw new Error('power cut');
        saved.push(decodeChipState(s));
      },
    });
    await chip.transmit(SELECT);
    await expect(chip.transmit(verify('1234'))).rejects.toThrow('power cut');
    const restarted = new SecureChip(saved[0]!);
    await restarted.transmit(SELECT);
    expect(toHex(await restarted.transmit(fromHex('00cadf2300')))).toBe('df230202039000');
  });

  it('malformed PIN blocks cost no try', async () => {
    const chip = docChip();
    await chip.transmit(SELECT);
    const bad = [
      '3132ff34ffffffff',
      '313233ffffffffff',
      '3132333435363738ff',
      'ffffffffffffffff',
      '31323334ffffff00',
    ];
    for (const b of bad)
      expect(['6700', '6a80']).toContain(swOf(await chip.transmit(apdu('00200081', fromHex(b)))));
    expect(swOf(await chip.transmit(fromHex('00200081')))).toBe('63c3');
  });

  it('P1 FF resets the security status; other P1/P2 are refused', async () => {
    const chip = docChip();
    expect(
      await send(
        chip,
        SELECT,
        verify('1234'),
        fromHex('0020ff81'),
        fromHex('00200081'),
        fromHex('0020ff810131'),
        fromHex('00200181'),
        fromHex('00200080'),
      ),
    ).toEqual(['9000', '9000', '9000', '63c3', '6700', '6a86', '6a86']);
  });
});

describe('CHANGE REFERENCE DATA', () => {
  it('changes the PIN when the old one is right, persists it, and leaves the PIN verified', async () => {
    const { chip, saved } = recordingChip();
    expect(await send(chip, SELECT, change('1234', '90817263'), generate())).toEqual([
      '9000',
      '9000',
      '9000',
    ]);
    expect(saved.at(-1)!.pin).toBe('90817263');
    expect(await send(chip, verify('1234'), verify('90817263'))).toEqual(['63c2', '9000']);
  });

  it('a wrong old PIN spends a try and changes nothing', async () => {
    const { chip, saved } = recordingChip();
    expect(await send(chip, SELECT, change('4321', '5555'))).toEqual(['9000', '63c2']);
    expect(saved.at(-1)).toMatchObject({ pin: '1234', pinTriesLeft: 2 });
  });

  it('is refused when blocked or malformed', async () => {
    const chip = docChip();
    await send(chip, SELECT, verify('0000'), verify('0000'));
    expect(
      await send(
        chip,
        apdu('00240081', encodePinBlock('1234')),
        apdu('00240081', fromHex('31323334ffffffff313233ffffffffff')),
        fromHex('00240181'),
      ),
    ).toEqual(['6700', '6a80', '6a86']);
    await send(chip, verify('0000'));
    expect(await send(chip, change('1234', '5678'))).toEqual(['6983']);
  });
});

describe('RESET RETRY COUNTER', () => {
  it('unblocks the PIN with the PUK and sets a new PIN; the session stays unverified', async () => {
    const { chip, saved } = recordingChip();
    await send(chip, SELECT, verify('0000'), verify('0000'), verify('0000'));
    expect(
      await send(chip, resetRetry('12345678', '2468'), generate(), verify('2468'), generate()),
    ).toEqual(['9000', '6982', '9000', '9000']);
    expect(saved.at(-1)).toMatchObject({ pin: '2468', pinTriesLeft: 3, pukTriesLeft: 10 });
  });

  it('counts wrong PUKs down and blocks for good', async () => {
    const { chip, saved } = recordingChip(
      personalizeChip({ pin: '1234', puk: '12345678', pukTries: 2 }),
    );
    expect(
      await send(
        chip,
        SELECT,
        resetRetry('00000000', '1111'),
        resetRetry('00000000', '1111'),
        resetRetry('12345678', '1111'),
      ),
    ).toEqual(['9000', '63c1', '63c0', '6983']);
    expect(saved.at(-1)!.pukTriesLeft).toBe(0);
    expect(
      await send(new SecureChip(saved.at(-1)!), SELECT, resetRetry('12345678', '1111')),
    ).toEqual(['9000', '6983']);
  });

  it('refuses malformed data', async () => {
    const chip = docChip();
    await chip.transmit(SELECT);
    expect(
      await send(
        chip,
        apdu('002c0081', encodePukBlock('12345678')),
        apdu('002c0081', fromHex('31323334353637ff31323334ffffffff')),
        apdu('002c0081', fromHex('313233343536373831ffffffffffffff')),
        fromHex('002c0181'),
      ),
    ).toEqual(['6700', '6a80', '6a80', '6a86']);
    expect(toHex(await chip.transmit(fromHex('00cadf2400')))).toBe('df24020a0a9000');
  });
});

describe('GENERATE FILE KEY and UNWRAP FILE KEY', () => {
  async function opened(state: ChipState = docChipState()) {
    const chip = new SecureChip(state);
    expect(await send(chip, SELECT, verify('1234'))).toEqual(['9000', '9000']);
    return chip;
  }

  async function generated(chip: SecureChip, context: Uint8Array = CTX) {
    const rsp = await chip.transmit(generate(context));
    expect(swOf(rsp)).toBe('9000');
    expect(rsp.length).toBe(32 + 61 + 2);
    return { key: rsp.slice(0, 32), wrapped: rsp.slice(32, 93) };
  }

  it('unwraps to the key it generated, for the same context', async () => {
    const chip = await opened();
    const { key, wrapped } = await generated(chip);
    expect(toHex(await chip.transmit(unwrap(wrapped)))).toBe(`${toHex(key)}9000`);
  });

  it('makes a fresh key and nonce every time', async () => {
    const chip = await opened();
    const a = await generated(chip);
    const b = await generated(chip);
    expect(toHex(a.key)).not.toBe(toHex(b.key));
    expect(toHex(a.wrapped.subarray(1, 13))).not.toBe(toHex(b.wrapped.subarray(1, 13)));
  });

  it('binds the wrapped key to its context and its chip', async () => {
    const chip = await opened();
    const { wrapped } = await generated(chip);
    expect(swOf(await chip.transmit(unwrap(wrapped, utf8('user/tv.apl'))))).toBe('6a80');
    expect(swOf(await chip.transmit(unwrap(wrapped, utf8('user/tv.apk\0'))))).toBe('6a80');
    const other = await opened(personalizeChip({ pin: '1234' }));
    expect(swOf(await other.transmit(unwrap(wrapped)))).toBe('6a80');
    // A twin chip with the same key unwraps it: the key, not the serial, is what binds.
    const twin = await opened(docChipState());
    expect(swOf(await twin.transmit(unwrap(wrapped)))).toBe('9000');
  });

  it('refuses every single-bit change of the wrapped key', async () => {
    const chip = await opened();
    const { wrapped } = await generated(chip);
    for (let bit = 0; bit < wrapped.length * 8; bit += 7) {
      const bad = wrapped.slice();
      bad[bit >> 3]! ^= 1 << (bit & 7);
      expect(swOf(await chip.transmit(unwrap(bad)))).toBe('6a80');
    }
  });

  it('takes contexts of 1-192 bytes', async () => {
    const chip = await opened();
    const long = new Uint8Array(192).fill(7);
    const { key, wrapped } = await generated(chip, long);
    expect(toHex(await chip.transmit(unwrap(wrapped, long)))).toBe(`${toHex(key)}9000`);
    const tooLong = concatBytes(fromHex('8046000000'), fromHex('00c1'), new Uint8Array(193));
    expect(await send(chip, tooLong, fromHex('8046000000'), fromHex('80460000'))).toEqual([
      '6700',
      '6700',
      '6700',
    ]);
    expect(
      await send(chip, apdu('80480000', wrapped), apdu('80480000', wrapped.subarray(0, 60))),
    ).toEqual(['6700', '6700']);
  });

  it('needs a verified PIN, and says blocked once the PIN is', async () => {
    const chip = docChip();
    await chip.transmit(SELECT);
    const wrapped = new Uint8Array(61);
    expect(await send(chip, generate(), unwrap(wrapped))).toEqual(['6982', '6982']);
    await send(chip, verify('0'.repeat(4)), verify('0000'), verify('0000'));
    expect(await send(chip, generate(), unwrap(wrapped))).toEqual(['6983', '6983']);
  });

  it('checks P1-P2 first, and answers 6Cxx for a short Le', async () => {
    const chip = await opened();
    expect(
      await send(
        chip,
        apdu('80460100', CTX),
        apdu('80480001', new Uint8Array(70)),
        apdu('80460000', CTX, 0x20),
      ),
    ).toEqual(['6a86', '6a86', '6c5d']);
  });
});

describe('any command', () => {
  it('needs the application selected', async () => {
    const chip = docChip();
    expect(
      await send(chip, fromHex('00cadf2000'), verify('1234'), generate(), fromHex('00200081')),
    ).toEqual(['6985', '6985', '6985', '6985']);
    expect(toHex(await chip.transmit(fromHex('00cadf2300')))).toBe('6985');
  });

  it('checks the class, then the instruction, then the length', async () => {
    const chip = docChip();
    await chip.transmit(SELECT);
    expect(
      await send(
        chip,
        fromHex('01cadf2000'),
        fromHex('ffcadf2000'),
        fromHex('00460000'),
        fromHex('8020008100'),
        fromHex('0060000000'),
        fromHex('00ca'),
        new Uint8Array(0),
        fromHex('00cadf20020000'),
      ),
    ).toEqual(['6e00', '6e00', '6d00', '6d00', '6d00', '6700', '6700', '6700']);
  });

  it('a reset forgets the selection and the verified PIN, not the counters', async () => {
    const chip = docChip();
    await send(chip, SELECT, verify('0000'), verify('1234'));
    chip.reset();
    expect(await send(chip, generate(), SELECT, generate())).toEqual(['6985', '9000', '6982']);
  });

  it('handles concurrent commands one at a time, in order', async () => {
    const chip = new SecureChip(docChipState(), {
      persist: () => new Promise((r) => setTimeout(r, 1)),
    });
    const replies = await Promise.all(
      [SELECT, verify('1234'), generate(), fromHex('00cadf2300')].map((c) => chip.transmit(c)),
    );
    expect(replies.map(swOf)).toEqual(['9000', '9000', '9000', '9000']);
  });

  it('rejects a command that is not a Uint8Array', async () => {
    const chip = docChip();
    await expect(chip.transmit('00a40400' as unknown as Uint8Array)).rejects.toBeInstanceOf(
      ArgumentError,
    );
  });
});

describe('SecureChip state', () => {
  it('exports the state it runs on, and copies the one it is given', async () => {
    const state = docChipState();
    const chip = new SecureChip(state);
    state.pin = '9999';
    await send(chip, SELECT, verify('1234'));
    expect(decodeChipState(chip.exportState())).toMatchObject({ pin: '1234', pinTriesLeft: 3 });
  });

  it('refuses an inconsistent state', () => {
    expect(() => new SecureChip({ ...docChipState(), pinTriesLeft: 4 })).toThrow(ProtocolError);
    expect(() => new SecureChip({ ...docChipState(), chipKey: new Uint8Array(16) })).toThrow(
      ProtocolError,
    );
  });
});

describe('chipStatusWordName', () => {
  it('names the chip words', () => {
    expect(chipStatusWordName(0x9000)).toBe('normal ending');
    expect(chipStatusWordName(0x63c1)).toBe('verification failed, 1 try left');
    expect(chipStatusWordName(0x63c0)).toBe('verification failed, 0 tries left');
    expect(chipStatusWordName(0x6983)).toBe('authentication method blocked');
    expect(chipStatusWordName(0x6c0b)).toBe('wrong Le, exact length is 11');
    expect(chipStatusWordName(0x6a88)).toBe('referenced data not found');
    expect(chipStatusWordName(0x6123)).toBe('normal ending, 35 response bytes available');
    expect(chipStatusWordName(0x6400)).toBe('unknown status word');
  });
});
