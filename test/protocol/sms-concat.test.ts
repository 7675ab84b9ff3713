import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex } from '../../src/bytes.js';
import { ProtocolError } from '../../src/errors.js';
import { ConcatReassembler, splitSecuredPacket } from '../../src/protocol/sms-concat.js';
import { decodeUserDataHeader } from '../../src/protocol/sms.js';
import { fuzzDecoder } from './fuzz-util.js';

const range = (n: number) => new Uint8Array(n).map((_, i) => i & 0xff);

describe('splitSecuredPacket', () => {
  it('keeps a packet of up to 137 bytes in one SMS behind 02 70 00', () => {
    const [only, ...rest] = splitSecuredPacket(range(137), { reference: 1 });
    expect(rest).toEqual([]);
    expect(toHex(only!.subarray(0, 3))).toBe('027000');
    expect(only!.length).toBe(140);
    expect(toHex(splitSecuredPacket(range(5), { reference: 1, kind: 'response' })[0]!)).toBe(
      '0271000001020304',
    );
  });

  it('splits a longer one; only the first segment carries 70 00', () => {
    const parts = splitSecuredPacket(range(300), { reference: 0x42 });
    expect(parts.map((p) => p.length)).toEqual([140, 140, 300 - 132 - 134 + 6]);
    expect(toHex(parts[0]!.subarray(0, 8))).toBe('0700034203017000');
    expect(toHex(parts[1]!.subarray(0, 6))).toBe('050003420302');
    expect(toHex(parts[2]!.subarray(0, 6))).toBe('050003420303');
  });

  it('refuses a packet needing more than 255 segments and a bad reference', () => {
    expect(splitSecuredPacket(new Uint8Array(132 + 254 * 134), { reference: 0 }).length).toBe(255);
    expect(() => splitSecuredPacket(new Uint8Array(132 + 254 * 134 + 1), { reference: 0 })).toThrow(
      ProtocolError,
    );
    expect(() => splitSecuredPacket(range(10), { reference: 256 })).toThrow(ProtocolError);
  });
});

function shuffledWithDuplicates(parts: Uint8Array[]) {
  return fc
    .tuple(
      fc.shuffledSubarray(parts, { minLength: parts.length, maxLength: parts.length }),
      fc.array(fc.constantFrom(...parts), { maxLength: 4 }),
      fc.array(fc.nat(), { maxLength: 4 }),
    )
    .map(([perm, dups, positions]) => {
      const out = [...perm];
      dups.forEach((d, i) => out.splice((positions[i] ?? 0) % (out.length + 1), 0, d));
      return out;
    });
}

describe('reassembly properties', () => {
  it('any permutation with duplicates reassembles to the packet, once, at the last new segment', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 1200 }),
        fc.integer({ min: 0, max: 255 }),
        fc.constantFrom('command' as const, 'response' as const),
        fc.integer({ min: 0, max: 1000 }),
        (packet, reference, kind, salt) => {
          const parts = splitSecuredPacket(packet, { reference, kind });
          for (const p of parts) expect(p.length).toBeLessThanOrEqual(140);
          fc.assert(
            fc.property(shuffledWithDuplicates(parts), (order) => {
              const r = new ConcatReassembler();
              const results = order.map((p) => r.add(p, salt));
              const done = results.filter((x) => x.status === 'complete');
              // One SMS is a message each time it arrives; a split one completes exactly once.
              expect(done.length).toBe(parts.length === 1 ? order.length : 1);
              const d = done[0]!;
              expect(toHex(d.data)).toBe(toHex(packet));
              expect(d.elements).toEqual([
                { iei: kind === 'command' ? 0x70 : 0x71, data: new Uint8Array(0) },
              ]);
              expect(toHex(d.userData)).toBe(
                (kind === 'command' ? '027000' : '027100') + toHex(packet),
              );
              expect(r.pending).toBe(0);
            }),
            { numRuns: 5 },
          );
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a missing segment never yields data, and flush reports it as PROTOCOL_TRUNCATED', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 138, maxLength: 1000 }), fc.nat(), (packet, pick) => {
        const parts = splitSecuredPacket(packet, { reference: 9 });
        const missing = pick % parts.length;
        const kept = parts.filter((_, i) => i !== missing);
        fc.assert(
          fc.property(shuffledWithDuplicates(kept), (order) => {
            const r = new ConcatReassembler();
            for (const p of order) expect(r.add(p, 0).status).toBe('incomplete');
            const [lost, ...none] = r.flush();
            expect(none).toEqual([]);
            expect(lost!.missing).toEqual([missing + 1]);
            expect(lost!.reason).toBe('flushed');
            expect(lost!.error.code).toBe('PROTOCOL_TRUNCATED');
            expect(r.pending).toBe(0);
          }),
          { numRuns: 5 },
        );
      }),
      { numRuns: 60 },
    );
  });
});

describe('ConcatReassembler', () => {
  const part = (udh: string, payload: string) => fromHex(udh + payload);

  it('follows pySim test_sms.py: two parts, 8- and 16-bit references, interleaved messages', () => {
    const r = new ConcatReassembler();
    const pkt = range(60);
    expect(r.add(part('0700030102017100', toHex(pkt.subarray(0, 35))), 0).status).toBe(
      'incomplete',
    );
    expect(r.add(part('0700030902017100', 'aa'), 0).status).toBe('incomplete');
    const one = r.add(part('050003010202', toHex(pkt.subarray(35))), 0);
    expect(one.status === 'complete' && toHex(one.userData)).toBe('027100' + toHex(pkt));
    const nine = r.add(part('050003090202', 'bb'), 0);
    expect(nine.status === 'complete' && toHex(nine.userData)).toBe('027100aabb');
    expect(r.add(part('08080412340201' + '7100', '0102'), 0).status).toBe('incomplete');
    const wide = r.add(part('06080412340202', '0304'), 0);
    expect(wide.status === 'complete' && toHex(wide.userData)).toBe('02710001020304');
  });

  it('passes user data without a concatenation element, or with a reserved one, through', () => {
    const r = new ConcatReassembler();
    const single = r.add(part('027000', '0102'));
    expect(single.status === 'complete' && toHex(single.data)).toBe('0102');
    // sequence above total, sequence 0, total 0 (TS 23.040: ignore the element)
    for (const ie of ['0003010203', '0003010200', '0003010001']) {
      const res = r.add(part(`05${ie}`, '00'));
      expect(res.status === 'complete' && res.elements).toEqual([]);
    }
    expect(r.pending).toBe(0);
  });

  it('keeps senders and totals apart', () => {
    const r = new ConcatReassembler();
    expect(r.add(part('050003010201', '11'), 0, 'alice').status).toBe('incomplete');
    expect(r.add(part('050003010202', '22'), 0, 'bob').status).toBe('incomplete');
    expect(r.add(part('050003010302', '33'), 0, 'alice').status).toBe('incomplete');
    const a = r.add(part('050003010202', '22'), 0, 'alice');
    expect(a.status === 'complete' && toHex(a.data)).toBe('1122');
    expect(r.pending).toBe(2);
  });

  it('recognises a repeat that arrives after its message completed', () => {
    const r = new ConcatReassembler({ timeoutMs: 1000 });
    r.add(part('050003010201', '11'), 0);
    expect(r.add(part('050003010202', '22'), 0).status).toBe('complete');
    const late = r.add(part('050003010201', '11'), 10);
    expect(late.status === 'incomplete' && late.duplicate).toBe(true);
    expect(r.pending).toBe(0);
    // After the timeout the same reference starts a new message.
    expect(r.add(part('050003010201', '11'), 2000).status).toBe('incomplete');
    expect(r.pending).toBe(1);
  });

  it('reports duplicates and refuses a conflicting one', () => {
    const r = new ConcatReassembler();
    r.add(part('050003010201', '11'), 0);
    const dup = r.add(part('050003010201', '11'), 0);
    expect(dup.status === 'incomplete' && dup.duplicate).toBe(true);
    expect(() => r.add(part('050003010201', '12'), 0)).toThrow(ProtocolError);
    expect(r.pending).toBe(0);
  });

  it('times out, evicts the oldest beyond maxPending', () => {
    const r = new ConcatReassembler({ timeoutMs: 1000, maxPending: 2 });
    r.add(part('050003010201', '11'), 0);
    r.add(part('050003020201', '11'), 10);
    r.add(part('050003030201', '11'), 20);
    expect(r.pending).toBe(2);
    expect(r.expire(500).map((m) => [m.reference, m.reason])).toEqual([[1, 'evicted']]);
    expect(r.expire(1015).map((m) => [m.reference, m.reason, m.missing])).toEqual([
      [2, 'timeout', [2]],
    ]);
    expect(r.pending).toBe(1);
    expect(r.expire(1020).map((m) => m.reference)).toEqual([3]);
  });

  it('refuses malformed user data', () => {
    const r = new ConcatReassembler();
    expect(() => r.add(new Uint8Array(141))).toThrow(ProtocolError);
    expect(() => r.add(fromHex('0500'))).toThrow(ProtocolError);
    expect(() => new ConcatReassembler({ maxPending: 0 })).toThrow();
  });

  it('fuzz: add() only throws ProtocolError and never holds more than maxPending', () => {
    const r = new ConcatReassembler({ maxPending: 4 });
    const seeds = splitSecuredPacket(range(400), { reference: 3 });
    let t = 0;
    fuzzDecoder(
      (b) => {
        r.add(b, t++);
        if (r.pending > 4) throw new Error('too many pending');
        decodeUserDataHeader(b);
      },
      seeds,
      { iterations: 20_000, seed: 7, maxLen: 160 },
    );
  });
});
