import { describe, expect, it } from 'vitest';
import { fromHex } from '../../../src/bytes.js';
import { type BoundApplication } from '../../../src/sim/index.js';
import {
  applyStkList,
  atThreshold,
  boundCapacity,
  findBoundCard,
  planBinding,
  releaseBinding,
  storeBinding,
  touchCard,
} from '../../../src/sim/applet/binding-list.js';
import { cidOf, freshState } from './helpers.js';

const app = (size: number, n = 1): BoundApplication => ({
  aid: fromHex(`a00000008710${n.toString(16).padStart(2, '0')}`),
  name: `App ${n}`,
  zone: 'user',
  size,
  version: '1',
  state: 'active',
  installed: false,
});

describe('binding list rules', () => {
  it('fits below the card threshold, evicts per policy at it', () => {
    const lru = freshState({ maxCards: 2, policy: 'lru' });
    storeBinding(lru, cidOf(1), [app(1)]);
    storeBinding(lru, cidOf(2), [app(1)]);
    expect(atThreshold(lru)).toBe(true);
    touchCard(lru, cidOf(1));
    const plan = planBinding(lru, cidOf(3), [app(1)]);
    expect(plan.kind === 'evict' && plan.cards.map((c) => c.cid[12])).toEqual([2]);
    const oldest = freshState({ maxCards: 2, policy: 'oldest' });
    storeBinding(oldest, cidOf(1), []);
    storeBinding(oldest, cidOf(2), []);
    touchCard(oldest, cidOf(1));
    const p2 = planBinding(oldest, cidOf(3), []);
    expect(p2.kind === 'evict' && p2.cards.map((c) => c.cid[12])).toEqual([1]);
    const ask = freshState({ maxCards: 1, policy: 'ask' });
    storeBinding(ask, cidOf(1), []);
    expect(planBinding(ask, cidOf(2), []).kind).toBe('ask');
    // Re-binding a card already bound never needs room.
    expect(planBinding(ask, cidOf(1), []).kind).toBe('fits');
  });

  it('capacity: evicts until the new card fits; a card larger than the SIM is impossible', () => {
    const s = freshState({ maxBytes: 100, policy: 'oldest' });
    storeBinding(s, cidOf(1), [app(40)]);
    storeBinding(s, cidOf(2), [app(40)]);
    expect(boundCapacity(s)).toBe(80);
    const plan = planBinding(s, cidOf(3), [app(70)]);
    expect(plan.kind === 'evict' && plan.cards.map((c) => c.cid[12])).toEqual([1, 2]);
    expect(planBinding(s, cidOf(3), [app(101)]).kind).toBe('impossible');
    expect(planBinding(s, cidOf(3), [app(20)]).kind).toBe('fits');
  });

  it('release masks below the threshold and deletes at it; a masked card does not count', () => {
    const s = freshState({ maxCards: 2 });
    storeBinding(s, cidOf(1), [app(5)]);
    expect(releaseBinding(s, cidOf(1))).toBe('masked');
    expect(findBoundCard(s, cidOf(1))).toBeUndefined();
    expect(s.cards[0]!.applications[0]!.state).toBe('masked');
    expect(boundCapacity(s)).toBe(0);
    storeBinding(s, cidOf(2), []);
    storeBinding(s, cidOf(3), []);
    expect(releaseBinding(s, cidOf(2))).toBe('deleted');
    expect(releaseBinding(s, cidOf(9))).toBeUndefined();
  });

  it('an RFM list replaces the list and keeps what it does not carry', () => {
    const s = freshState();
    const e = storeBinding(s, cidOf(1), [{ ...app(77), installed: true }]);
    e.anchors = { user: 9 };
    applyStkList(
      s,
      [
        {
          cid: cidOf(1),
          applications: [{ aid: app(0).aid, name: 'Renamed', zone: 'user', state: 'active' }],
        },
        { cid: cidOf(1), applications: [] },
      ],
      2,
    );
    expect(s.cards).toHaveLength(1);
    expect(s.cards[0]!.applications[0]).toMatchObject({
      name: 'Renamed',
      size: 77,
      installed: true,
    });
    expect(s.cards[0]!.anchors).toEqual({ user: 9 });
  });
});
