// Secure-chip mode end to end: a card zone whose per-file keys come from the software COS through
// the APDU client, through the same card engine API; a blocked or absent chip is reported as
// exactly that, not as corruption.
import { describe, expect, it } from 'vitest';
import {
  formatCard,
  MemoryDevice,
  mountCard,
  type FileKeyProvider,
} from '../../../src/card/index.js';
import {
  ChipClient,
  personalizeChip,
  SecureChip,
  type ApduTransport,
} from '../../../src/sim/index.js';
import { bytes, CID, KEYS } from '../../card/helpers.js';

function providerOf(client: ChipClient): FileKeyProvider {
  return {
    newFileKey: (context) => client.generateFileKey(context),
    unwrapFileKey: (wrapped, context) => client.unwrapFileKey(wrapped, context),
  };
}

async function setUp() {
  const chip = new SecureChip(personalizeChip({ pin: '2468' }));
  const client = new ChipClient(chip);
  await client.selectChip();
  await client.verifyPin('2468');
  const dev = new MemoryDevice(2 << 20);
  await formatCard(dev, {
    cid: CID,
    keys: KEYS,
    zones: { operator: 64 << 10, advertising: 64 << 10, multimedia: 512 << 10, user: 1 << 20 },
    fill: 'zero',
    secureChipZones: ['multimedia'],
  });
  return { chip, client, dev };
}

describe('secure-chip zone over the COS', () => {
  it('stores and reads files with chip-made per-file keys', async () => {
    const { client, dev } = await setUp();
    const card = await mountCard(dev, { cid: CID, keys: KEYS, chip: providerOf(client) });
    const song = bytes(50_000, 7);
    await card.zone('multimedia').writeFile('song.mp3', song);
    expect(
      Buffer.from(await card.zone('multimedia').readFile('song.mp3')).equals(Buffer.from(song)),
    ).toBe(true);
  });

  it('a blocked chip is CHIP_BLOCKED and an absent one CHIP_ABSENT — never CARD_CORRUPT', async () => {
    const { client, dev } = await setUp();
    const card = await mountCard(dev, { cid: CID, keys: KEYS, chip: providerOf(client) });
    await card.zone('multimedia').writeFile('a', bytes(1000, 1));
    // Three wrong PINs block the chip (a fresh session needs the PIN again).
    await client.selectChip();
    for (let i = 0; i < 3; i++) await client.verifyPin('0000').catch(() => undefined);
    await expect(card.zone('multimedia').readFile('a')).rejects.toMatchObject({
      code: 'CHIP_BLOCKED',
    });

    // One writable mount per device in a process: end this one before mounting again.
    await card.unmount({ keepDeviceOpen: true });
    const gone: ApduTransport = {
      transmit: () => Promise.reject(new Error('card removed')),
    };
    const absent = await mountCard(dev, {
      cid: CID,
      keys: KEYS,
      chip: providerOf(new ChipClient(gone)),
    });
    await expect(absent.zone('multimedia').readFile('a')).rejects.toMatchObject({
      code: 'CHIP_ABSENT',
    });
    // The zones that do not use the chip work regardless.
    await absent.zone('user').writeFile('ok', new Uint8Array([1]));
  });
});
