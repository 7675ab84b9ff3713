// A card whose changes anchor by themselves: every promise of a zone or card method, a put's
// stream closing or aborting, and erase; synchronous calls and fields pass through untouched.
import { describe, expect, it } from 'vitest';
import { formatCard, MemoryDevice, mountCard } from '../../src/card/index.js';
import { deriveCardKeys } from '../../src/crypto/index.js';
import { anchoredCard } from '../../src/handset/anchored-card.js';

const CID = new Uint8Array([
  3, 0x53, 0x44, 0x53, 0x55, 0x31, 0x36, 0x47, 0x80, 9, 9, 9, 9, 0x01, 0x85, 0,
]);

async function mounted() {
  const device = new MemoryDevice(4 << 20);
  const keys = deriveCardKeys(new Uint8Array(32).fill(3), CID);
  await formatCard(device, { cid: CID, keys, fill: 'zero' });
  const card = await mountCard(device, { cid: CID, keys });
  const seen: string[] = [];
  const anchored = anchoredCard(card, () => {
    seen.push(JSON.stringify(card.generations()));
    return Promise.resolve();
  });
  return { card, anchored, seen };
}

describe('anchoredCard', () => {
  it('anchors after every call that may have committed, with the generations it left', async () => {
    const { card, anchored, seen } = await mounted();
    const user = anchored.zone('user');
    expect(user.name).toBe('user');
    expect(user.capacity()).toEqual(card.zone('user').capacity());
    expect(seen).toEqual([]);
    await user.writeFile('a', new Uint8Array([1]));
    expect(seen.at(-1)).toBe(JSON.stringify(card.generations()));
    const put = await user.put('b', { size: 2 });
    const writer = put.writable.getWriter();
    await writer.write(new Uint8Array([1, 2]));
    await writer.close();
    expect(await user.exists('b')).toBe(true);
    const aborted = await user.put('c', { size: 5, sourceTag: 't', checkpointBytes: 16384 });
    await aborted.writable.abort(new Error('source gone'));
    await expect(user.stat('missing')).rejects.toMatchObject({ code: 'CARD_NOT_FOUND' });
    const before = seen.length;
    await anchored.erase(['user']);
    expect(seen.length).toBe(before + 1);
    expect(anchored.info().cardIdentity).toBe(card.info().cardIdentity);
    expect(anchored.damaged).toEqual([]);
  });

  it('an anchor that fails after a success surfaces; after a failure the failure wins', async () => {
    const { card } = await mounted();
    const failing = anchoredCard(card, () => Promise.reject(new Error('SIM gone')));
    await expect(failing.zone('user').writeFile('a', new Uint8Array([1]))).rejects.toThrow(
      'SIM gone',
    );
    await expect(failing.zone('user').delete('nope')).rejects.toMatchObject({
      code: 'CARD_NOT_FOUND',
    });
  });
});
