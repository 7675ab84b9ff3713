import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, utf8 } from '../../../src/bytes.js';
import {
  decodeSimState,
  encodeSimState,
  personalizeSim,
  SimStateError,
  type SimState,
} from '../../../src/sim/index.js';
import { parseSimStateJSON, simStateToJSON } from '../../../src/sim/applet/state-json.js';
import { storeBinding } from '../../../src/sim/applet/binding-list.js';
import { cidOf, freshState, ICCID, seededRandom } from './helpers.js';

function busyState(): SimState {
  const s = freshState({
    maxCards: 3,
    maxBytes: 1_000_000,
    policy: 'lru',
    imsi: '460001234567890',
  });
  storeBinding(s, cidOf(1), [
    {
      aid: fromHex('a0000000871001'),
      name: '手机电视',
      zone: 'multimedia',
      size: 4096,
      version: '1.0',
      state: 'active',
      installed: true,
    },
  ]);
  s.cards[0]!.anchors = { user: 3, operator: 1 };
  s.pending.push({
    kind: 'download',
    transactionId: 4,
    cid: cidOf(1),
    aid: fromHex('a0000000871001'),
    zone: 'multimedia',
    resource: { url: 'https://x.example/a', digest: new Uint8Array(32), size: 9 },
  });
  s.pendingBind = { transactionId: 5, cid: cidOf(2), applications: [] };
  s.menu = [
    { id: 1, action: { kind: 'appMenu', cid: cidOf(1), aid: fromHex('a0000000871001') } },
    { id: 2, action: { kind: 'page', page: 1 } },
  ];
  s.proactive.push({
    command: fromHex('d00c810301210082028102'),
    commandNumber: 1,
    commandType: 0x21,
    choices: [],
    onCancel: { kind: 'cancelBind' },
  });
  s.mailbox.push(fromHex('0108'));
  s.sent.push({
    keyVersion: 1,
    counter: 3,
    spi: fromHex('1609'),
    kic: 0x12,
    kid: 0x12,
    message: fromHex('01'),
    attempt: 1,
  });
  s.maxCounterStep = 100;
  return s;
}

describe('SIM state storage', () => {
  it('personalizes with fresh keys and no binding key in the OTA provisioning', () => {
    const { state, ota } = personalizeSim({ iccid: ICCID, randomBytes: seededRandom(3) });
    expect(state.bindingKey).toHaveLength(32);
    expect(ota.keysets[0]!.kic).toHaveLength(32);
    expect(JSON.stringify(ota)).not.toContain(Buffer.from(state.bindingKey).toString('hex'));
    expect(ota).toMatchObject({ iccid: ICCID, tar: 'b00010', mt: { spi: '1629', keyVersion: 1 } });
    expect(() => personalizeSim({ iccid: '12' })).toThrow(/iccid/);
    expect(() => personalizeSim({ iccid: ICCID, maxCards: 0 })).toThrow(/maxCards/);
  });

  it('round-trips a state with every optional part', () => {
    const s = busyState();
    expect(decodeSimState(encodeSimState(s))).toEqual(s);
  });

  it('round-trips random thresholds, counters and anchors', () => {
    fc.assert(
      fc.property(
        fc.option(fc.integer({ min: 1, max: 64 }), { nil: undefined }),
        fc.option(fc.integer({ min: 1, max: 2 ** 40 }), { nil: undefined }),
        fc.constantFrom('ask' as const, 'lru' as const, 'oldest' as const),
        fc.array(fc.integer({ min: 0, max: 2 ** 40 - 1 }), { minLength: 16, maxLength: 16 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (maxCards, maxBytes, policy, counters, gen) => {
          const s = busyState();
          s.threshold = {
            policy,
            unbindRule: 'mask',
            ...(maxCards ? { maxCards } : {}),
            ...(maxBytes ? { maxBytes } : {}),
          };
          s.mtCounters = counters;
          s.cards[0]!.anchors = { advertising: gen };
          expect(decodeSimState(encodeSimState(s))).toEqual(s);
        },
      ),
      { numRuns: 200 },
    );
  });

  it.each([
    ['not JSON', (j: Record<string, unknown>) => j, 'x{', 'file'],
    [
      'another version',
      (j: Record<string, unknown>) => ({ ...j, version: 2 }),
      undefined,
      'version',
    ],
    [
      'a missing field',
      (j: Record<string, unknown>) => {
        delete j['bindingKey'];
        return j;
      },
      undefined,
      'bindingKey',
    ],
    ['an unknown field', (j: Record<string, unknown>) => ({ ...j, extra: 1 }), undefined, 'extra'],
    [
      'a short binding key',
      (j: Record<string, unknown>) => ({ ...j, bindingKey: '00' }),
      undefined,
      'bindingKey',
    ],
    [
      'a counter above 2^40',
      (j: Record<string, unknown>) => ({
        ...j,
        mtCounters: [2 ** 40, ...new Array<number>(15).fill(0)],
      }),
      undefined,
      'mtCounters[0]',
    ],
    [
      'a bad policy',
      (j: Record<string, unknown>) => ({
        ...j,
        threshold: { policy: 'random', unbindRule: 'mask' },
      }),
      undefined,
      'threshold.policy',
    ],
    [
      'an mo key version without keyset',
      (j: Record<string, unknown>) => ({ ...j, mo: { spi: '1609', keyVersion: 9 } }),
      undefined,
      'mo.keyVersion',
    ],
    [
      'a card listed twice',
      (j: Record<string, unknown>) => ({
        ...j,
        cards: [...(j['cards'] as unknown[]), ...(j['cards'] as unknown[])],
      }),
      undefined,
      'cards',
    ],
    [
      'a bad AES key length',
      (j: Record<string, unknown>) => ({
        ...j,
        keysets: [{ version: 1, algorithm: 'aes', kic: '00'.repeat(20), kid: '00'.repeat(16) }],
      }),
      undefined,
      'keysets[0].kic',
    ],
  ])('refuses %s', (_name, edit, raw, field) => {
    const bytes =
      raw !== undefined ? utf8(raw) : utf8(JSON.stringify(edit(simStateToJSON(busyState()))));
    let error: unknown;
    try {
      decodeSimState(bytes);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SimStateError);
    expect((error as SimStateError).field).toBe(field);
    expect((error as SimStateError).code).toBe('SIM_BAD_STATE');
  });

  it('refuses any JSON value with a SimStateError, a crafted version included', () => {
    const crafted = JSON.parse('{"version":[{"toString":0}]}') as unknown;
    expect(() => parseSimStateJSON(crafted)).toThrow(SimStateError);
    expect(() => parseSimStateJSON({ version: 2 })).toThrow(/format version 2 is not supported/);
    const json = simStateToJSON(busyState());
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (whole, version) => {
        for (const value of [whole, { ...json, version }]) {
          try {
            parseSimStateJSON(value);
          } catch (e) {
            expect(e).toBeInstanceOf(SimStateError);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never throws anything but SimStateError on mutated JSON', () => {
    const json = simStateToJSON(busyState());
    fc.assert(
      fc.property(fc.string(), fc.jsonValue(), (key, value) => {
        const copy: Record<string, unknown> = structuredClone(json);
        const keys = Object.keys(copy);
        copy[keys[key.length % keys.length]!] = value;
        try {
          parseSimStateJSON(copy);
        } catch (e) {
          expect(e).toBeInstanceOf(SimStateError);
        }
      }),
      { numRuns: 500 },
    );
  });
});
