// Secure-chip mode: per-file keys from the card's chip, stored only wrapped; a missing or blocked
// chip is reported as exactly that, never as corruption; other zones do not need the chip.
import { gcm } from '@noble/ciphers/aes.js';
import { describe, expect, it } from 'vitest';
import {
  formatCard,
  fsck,
  MemoryDevice,
  mountCard,
  readCardInfo,
  type FileKeyProvider,
} from '../../src/card/index.js';
import { settle } from '../../src/card/device-access.js';
import { randomBytes } from '../../src/bytes.js';
import { SimvaultError } from '../../src/errors.js';
import { errorCodeOf } from '../helpers/errors.js';
import { bytes, CID, KEYS } from './helpers.js';

/**
 * A software stand-in for the chip: AES-256-GCM key wrapping with the file context as AAD. It
 * fails as the chip client does: `CHIP_BLOCKED` when blocked, `CHIP_UNWRAP_FAILED` for a wrapped
 * key that is not its own.
 */
function softChip(kek = randomBytes(32)): FileKeyProvider & { blocked: boolean; calls: number } {
  const chip = {
    blocked: false,
    calls: 0,
    newFileKey: (context: Uint8Array) =>
      settle(() => {
        if (chip.blocked) throw new SimvaultError('CHIP_BLOCKED', 'the PIN is blocked');
        chip.calls++;
        const key = randomBytes(32);
        const nonce = randomBytes(12);
        return {
          key,
          wrapped: new Uint8Array([...nonce, ...gcm(kek, nonce, context).encrypt(key)]),
        };
      }),
    unwrapFileKey: (wrapped: Uint8Array, context: Uint8Array) =>
      settle(() => {
        if (chip.blocked) throw new SimvaultError('CHIP_BLOCKED', 'the PIN is blocked');
        chip.calls++;
        try {
          return gcm(kek, wrapped.subarray(0, 12), context).decrypt(wrapped.subarray(12));
        } catch {
          throw new SimvaultError('CHIP_UNWRAP_FAILED', 'not a key this chip wrapped');
        }
      }),
  };
  return chip;
}

async function chipCard(chip: FileKeyProvider) {
  const dev = new MemoryDevice(2 << 20);
  await formatCard(dev, {
    cid: CID,
    keys: KEYS,
    zones: { operator: 64 << 10, advertising: 64 << 10, multimedia: 512 << 10, user: 1 << 20 },
    fill: 'zero',
    secureChipZones: ['multimedia'],
  });
  return { dev, card: await mountCard(dev, { cid: CID, keys: KEYS, chip }) };
}

describe('secure-chip mode', () => {
  it('files of a secure-chip zone use per-file chip keys and read back; the header says so', async () => {
    const chip = softChip();
    const { dev, card } = await chipCard(chip);
    const a = bytes(40_000, 1);
    await card.zone('multimedia').writeFile('licensed.mp3', a);
    await card.zone('user').writeFile('plain', bytes(100, 2));
    expect(chip.calls).toBe(1);
    expect(
      Buffer.from(await card.zone('multimedia').readFile('licensed.mp3')).equals(Buffer.from(a)),
    ).toBe(true);
    expect(chip.calls).toBe(2);
    const info = await readCardInfo(dev);
    expect(info.zones.map((z) => [z.zone, z.secureChip])).toEqual([
      ['operator', false],
      ['advertising', false],
      ['multimedia', true],
      ['user', false],
    ]);
    expect((await fsck(dev, { cid: CID, keys: KEYS, chip })).ok).toBe(true);
    // Interrupted and resumed puts keep the same chip key.
    const data = bytes(200_000, 3);
    const put = await card
      .zone('multimedia')
      .put('movie', { size: data.length, sourceTag: 't', checkpointBytes: 64 << 10 });
    const w = put.writable.getWriter();
    await w.write(data.subarray(0, 150_000));
    await w.abort();
    await card.unmount({ keepDeviceOpen: true });
    const remounted = await mountCard(dev, { cid: CID, keys: KEYS, chip });
    const again = await remounted
      .zone('multimedia')
      .put('movie', { size: data.length, sourceTag: 't', resume: true });
    expect(again.offset).toBeGreaterThan(0);
    const w2 = again.writable.getWriter();
    await w2.write(data.subarray(again.offset));
    await w2.close();
    expect(
      Buffer.from(await remounted.zone('multimedia').readFile('movie')).equals(Buffer.from(data)),
    ).toBe(true);
  });

  it('without the chip, or with a blocked chip, the zone says so; other zones work', async () => {
    const chip = softChip();
    const { dev, card } = await chipCard(chip);
    await card.zone('multimedia').writeFile('song', bytes(5000, 4));
    await card.unmount({ keepDeviceOpen: true });
    const noChip = await mountCard(dev, { cid: CID, keys: KEYS });
    expect((await noChip.zone('multimedia').list()).map((f) => f.name)).toEqual(['song']);
    expect(await errorCodeOf(noChip.zone('multimedia').readFile('song'))).toBe(
      'CARD_CHIP_UNAVAILABLE',
    );
    expect(await errorCodeOf(noChip.zone('multimedia').writeFile('x', new Uint8Array(1)))).toBe(
      'CARD_CHIP_UNAVAILABLE',
    );
    await noChip.zone('user').writeFile('fine', new Uint8Array([1]));
    await noChip.unmount({ keepDeviceOpen: true });
    const withChip = await mountCard(dev, { cid: CID, keys: KEYS, chip, readOnly: true });
    chip.blocked = true;
    // The chip's own error comes through, never one that reads as damage.
    expect(await errorCodeOf(withChip.zone('multimedia').readFile('song'))).toBe('CHIP_BLOCKED');
    chip.blocked = false;
    expect(await errorCodeOf(withChip.zone('multimedia').readFile('song'))).toBeUndefined();
    // Another chip cannot unwrap this card's file keys.
    const other = await mountCard(dev, { cid: CID, keys: KEYS, chip: softChip(), readOnly: true });
    expect(await errorCodeOf(other.zone('multimedia').readFile('song'))).toBe('CHIP_UNWRAP_FAILED');
  });
});
