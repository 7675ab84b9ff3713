// `simvault inspect`: in-process through runCli with in-memory streams, and every example of
// docs/protocol-codecs.md checked against what the command prints.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { fromHex } from '../../src/bytes.js';
import { INSPECT_KINDS, renderTree } from '../../src/cli/commands/inspect.js';

async function inspect(
  args: string[],
  stdin = '',
): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await cli(['inspect', ...args], new TextEncoder().encode(stdin));
  return { code: r.code, stdout: r.stdout.toString('utf8'), stderr: r.stderr };
}

describe('simvault inspect', () => {
  it('prints a CID as an indented tree', async () => {
    const r = await inspect(['cid', '035344535530314780401c751300637d']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'cid',
        '  mid: 03',
        '  manufacturer: SanDisk',
        '  oid: SD',
        '  pnm: SU01G',
        '  prv: 8.0',
        '  psn: 1075606803',
        '  mdt: 2006-03',
        '  crc: valid',
        '  identity: 035344535530314780401c75130063',
        '',
      ].join('\n'),
    );
  });
  it('reads the sysfs text form from stdin', async () => {
    const r = await inspect(['cid', '--json'], '035344535530314780401c7513006300\n');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { kind: string; value: { crc: string; identity: string } };
    expect(doc.kind).toBe('cid');
    expect(doc.value.crc).toBe('absent');
    expect(doc.value.identity).toBe('035344535530314780401c75130063');
  });
  it('accepts hex split over several arguments and decodes toolkit payloads of APDUs', async () => {
    const r = await inspect(['apdu', '--json', '80', 'c2', '00', '00', '09', 'd30782020181900102']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { value: Record<string, unknown> };
    expect(doc.value).toMatchObject({
      instruction: 'ENVELOPE',
      case: 3,
      envelope: { kind: 'menuSelection', itemId: 2 },
    });
  });
  it('draws nested lists with dashes', async () => {
    const r = await inspect(['tlv', '6f0e8405a000000087a5055003414243']);
    expect(r.stdout.split('\n').slice(0, 5)).toEqual([
      'tlv',
      '  - tag: 6f',
      '    constructed: true',
      '    length: 14',
      '    children:',
    ]);
    expect(renderTree({ a: [], b: {}, c: '' })).toEqual(['a: []', 'b: {}', 'c: ""']);
  });
  it('bad bytes: the ProtocolError on stderr, exit 1', async () => {
    const r = await inspect(['cid', '035344535530314780401c751300637f']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'simvault: PROTOCOL_BAD_CHECKSUM: CID.CRC at offset 15: CRC7 is 0x3f, expected 0x3e\n',
    );
    const t = await inspect(['stk', 'd0058103012500']);
    expect(t.code).toBe(1);
    expect(t.stderr).toMatch(
      /^simvault: PROTOCOL_MISSING_FIELD: ProactiveCommand\.deviceIdentities at offset 7: /,
    );
    const apdu = await inspect(['apdu', '00a4040005a000']);
    expect(apdu.stderr).toMatch(/^simvault: PROTOCOL_BAD_LENGTH: CommandAPDU\.Lc at offset 4: /);
  });
  it('bad hex, a missing or an unknown kind are usage errors (exit 2); bad bytes exit 1', async () => {
    const bad = await inspect(['cid', 'xyz']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("HEX must be hex (an even number of hex digits), got 'xyz'");
    expect((await inspect(['cid', '00'])).code).toBe(1);
    const none = await inspect([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('inspect needs a KIND');
    const unknown = await inspect(['toString', '00']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown kind 'toString'");
  });
  it('--help lists every kind', async () => {
    const r = await inspect(['--help']);
    expect(r.code).toBe(0);
    for (const kind of Object.keys(INSPECT_KINDS)) expect(r.stdout).toContain(`  ${kind} `);
  });
});

describe('docs/protocol-codecs.md examples', () => {
  const doc = readFileSync(new URL('../../docs/protocol-codecs.md', import.meta.url), 'utf8');
  const examples = [...doc.matchAll(/```hex (\w+)\n([\s\S]*?)```\s*```json\n([\s\S]*?)```/g)].map(
    (m) => ({
      kind: m[1]!,
      hex: m[2]!.trim(),
      json: JSON.parse(m[3]!) as unknown,
    }),
  );
  it('has one example per codec at least', () => {
    expect(new Set(examples.map((e) => e.kind))).toEqual(
      new Set(['cid', 'apdu', 'response', 'tlv', 'ctlv', 'stk']),
    );
  });
  for (const ex of examples) {
    it(`${ex.kind} ${ex.hex.slice(0, 24)}…`, async () => {
      expect(fromHex(ex.hex).length).toBeGreaterThan(0);
      const r = await inspect([ex.kind, '--json', ...ex.hex.split(/\s+/)]);
      expect(r.code, r.stderr).toBe(0);
      expect((JSON.parse(r.stdout) as { value: unknown }).value).toEqual(ex.json);
    });
  }
});
