// `simvault sim ...` in-process, including the shell round trip
// `ota pack` → `sim envelope` → `sim apdu` → `sim menu`.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/bytes.js';
import { encodeMessage } from '../../src/protocol/messages.js';
import { decodeSpi, openResponsePacket } from '../../src/protocol/secured-packet.js';
import { loadSimState } from '../../src/node/sim-state-file.js';
import { otaKeysOfState } from '../../src/sim/applet/ota-link.js';
import type { OtaProvisioning } from '../../src/sim/index.js';
import { cli, jsonOf } from '../helpers/cli.js';
import { readFileSync } from 'node:fs';
import { createSimStateFile } from '../../src/node/sim-state-file.js';
import { SIM_VIRTUAL_ATR } from '../../src/node/vpcd-cards.js';
import { docState, freshState } from '../sim/applet/helpers.js';
import { readTranscripts } from '../sim/chip/doc-chip.js';
import {
  FakeVpcd,
  pcscUnavailable,
  scriptorThroughServe,
  serveChild,
  SIM_SLOT,
  withSlot,
} from '../helpers/vpcd.js';

/** One response `sim apdu --json` prints. */
interface ApduDoc {
  sw: string;
  data: string;
  name: string;
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'simvault-cli-sim-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const SELECT = '00a4040c09f073696d7661756c74';

const CID = '03534453553031478000000001016300';

describe('simvault sim', () => {
  it('create prints the OTA keys once and refuses to overwrite', async () => {
    const path = join(dir, 'sim.json');
    const r = await cli([
      'sim',
      'create',
      path,
      '--threshold-cards',
      '2',
      '--policy',
      'lru',
      '--iccid',
      '89860012345678901234',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const ota = jsonOf(r) as OtaProvisioning;
    expect(ota).toMatchObject({
      iccid: '89860012345678901234',
      tar: 'b00010',
      keysets: [{ version: 1, algorithm: 'aes' }],
    });
    const state = await loadSimState(path);
    expect(state.threshold).toEqual({ policy: 'lru', unbindRule: 'mask', maxCards: 2 });
    expect(toHex(state.keysets[0]!.kic)).toBe(ota.keysets[0]!.kic);
    expect(r.stdout.toString()).not.toContain(toHex(state.bindingKey));
    const again = await cli(['sim', 'create', path]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('EEXIST');
    expect(await loadSimState(path)).toEqual(state);
    const text = await cli(['sim', 'create', join(dir, 'b.json')]);
    expect(text.stdout.toString()).toMatch(/kic +[0-9a-f]{32}/);
  });

  it('rejects bad options with usage errors', async () => {
    expect((await cli(['sim', 'create', join(dir, 'x.json'), '--policy', 'random'])).code).toBe(2);
    expect((await cli(['sim', 'create', join(dir, 'x.json'), '--threshold-cards', '0'])).code).toBe(
      2,
    );
    expect((await cli(['sim', 'apdu', join(dir, 'x.json')])).code).toBe(2);
    expect((await cli(['sim', 'apdu', join(dir, 'x.json'), 'zz'])).code).toBe(2);
  });

  it('apdu prints each response with its status word name and saves the state', async () => {
    const path = join(dir, 'sim.json');
    await cli(['sim', 'create', path]);
    const r = await cli(['sim', 'apdu', path, SELECT, `8030020010${CID}`, '80ee000000']);
    expect(r.code).toBe(0);
    const out = r.stdout.toString();
    expect(out).toContain(`> ${SELECT}\n< 9000 (normal ending)`);
    expect(out).toMatch(/< 02 91[0-9a-f]{2} \(normal ending, proactive command pending/);
    expect(out).toContain('< 6d00 (instruction code not supported or invalid)');
    const state = await loadSimState(path);
    expect(state.pending).toHaveLength(1);
    // A new run is a new power-up: the proactive command is still pending and can be fetched.
    const len = state.proactive[0]!.command.length.toString(16).padStart(2, '0');
    const f = await cli(['sim', 'apdu', path, `80120000${len}`, '--json']);
    const [fetched] = jsonOf(f) as ApduDoc[];
    expect(fetched!.sw).toBe('9000');
    expect(fetched!.data.startsWith('d0')).toBe(true);
    // A damaged state file is refused.
    const bad = join(dir, 'bad.json');
    await (await import('node:fs/promises')).writeFile(bad, '{}');
    const e = await cli(['sim', 'apdu', bad, SELECT]);
    expect(e.code).toBe(1);
    expect(e.stderr).toContain('SIM_BAD_STATE');
  });

  it('round trip: ota pack → sim envelope → sim apdu → sim menu', async () => {
    const path = join(dir, 'sim.json');
    const created = await cli(['sim', 'create', path, '--json']);
    const ota = jsonOf(created) as OtaProvisioning;
    const ks = ota.keysets[0]!;
    const message = encodeMessage({
      type: 'stkListUpdate',
      transactionId: 7,
      listVersion: 1,
      cards: [
        {
          cid: fromHex(CID),
          applications: [
            {
              aid: fromHex('a0000000871001'),
              name: '手机电视',
              zone: 'multimedia',
              state: 'active',
            },
          ],
        },
      ],
    });
    // The OTA server side: SPI 1609 = counter must be higher, ciphered, CC; PoR always with a CC
    // in the DELIVER-REPORT.
    const packed = await cli([
      'ota',
      'pack',
      '--spi',
      '1609',
      '--kic',
      '12',
      '--kid',
      '12',
      '--tar',
      ota.tar,
      '--counter',
      '1',
      '--kic-key',
      ks.kic,
      '--kid-key',
      ks.kid,
      toHex(message),
    ]);
    expect(packed.code).toBe(0);
    const envelopes = (await cli(['sim', 'envelope', packed.stdout.toString().trim()])).stdout
      .toString()
      .trim()
      .split('\n');
    expect(envelopes).toHaveLength(1);
    const sent = await cli(['sim', 'apdu', path, SELECT, ...envelopes, '--json']);
    const results = jsonOf(sent) as ApduDoc[];
    expect(results[1]!.sw.startsWith('91')).toBe(true);
    const state = await loadSimState(path);
    const por = openResponsePacket(fromHex(results[1]!.data), otaKeysOfState(state), {
      spi: decodeSpi(fromHex('1609')),
      kic: 0x12,
      kid: 0x12,
      counter: 1,
    });
    expect(por.status).toBe('ok');
    expect(toHex(por.data)).toBe('019000');
    expect(state.listVersion).toBe(1);
    expect(state.mtCounters[1]).toBe(1);
    // Replaying the same packet is refused: 6200 with a counter-low PoR, nothing changes.
    const replay = jsonOf(
      await cli(['sim', 'apdu', path, SELECT, ...envelopes, '--json']),
    ) as ApduDoc[];
    expect(replay[1]!.sw).toBe('6200');
    expect(replay[1]!.name).toContain('refused');
    expect(
      openResponsePacket(fromHex(replay[1]!.data), otaKeysOfState(state), {
        spi: decodeSpi(fromHex('1609')),
        kic: 0x12,
        kid: 0x12,
      }).status,
    ).toBe('counter-low');
    const menu = await cli(['sim', 'menu', path]);
    expect(menu.stdout.toString()).toContain('手机电视');
    expect(menu.stdout.toString()).toContain('Card 00000001');
    const json = jsonOf(await cli(['sim', 'menu', path, '--json'])) as {
      pages: { text: string }[][];
    };
    expect(json.pages[0]!.map((i) => i.text)).toEqual(['手机电视', 'Card 00000001']);
    expect((JSON.parse(await readFile(path, 'utf8')) as { listVersion: number }).listVersion).toBe(
      1,
    );
  });

  it('envelope splits a long packet into concatenated SMS', async () => {
    const r = await cli(['sim', 'envelope', `0270 00${'00'.repeat(200)}`.replace(/ /g, '')]);
    expect(r.stdout.toString().trim().split('\n')).toHaveLength(2);
  });
});

// The apdu blocks of docs/sim-apdus.md: the cards each binds first, and its exchanges.
function simDocBlocks() {
  const path = new URL('../../docs/sim-apdus.md', import.meta.url).pathname;
  const blocks = [...readFileSync(path, 'utf8').matchAll(/```apdu\n([\s\S]*?)```/g)];
  const given = blocks.map((b) =>
    [...b[1]!.matchAll(/^# given: card ([0-9a-f]{32}) bound$/gm)].map((g) => g[1]!),
  );
  return readTranscripts(path).map((steps, i) => ({ given: given[i] ?? [], steps }));
}

describe('simvault sim serve', () => {
  it('checks its arguments, and says when vpcd is not there', async () => {
    const path = join(dir, 'sim.json');
    await createSimStateFile(path, freshState());
    expect((await cli(['sim', 'serve', path])).code).toBe(2);
    expect((await cli(['sim', 'serve', path, '--vpcd', 'localhost'])).code).toBe(2);
    expect((await cli(['sim', 'serve', '--vpcd', '127.0.0.1:35963'])).code).toBe(2);
    const missing = await cli(['sim', 'serve', join(dir, 'none.json'), '--vpcd', '127.0.0.1:9']);
    expect(missing.code).toBe(1);
    const nobody = await FakeVpcd.start();
    const port = nobody.port;
    await nobody.close();
    const r = await cli(['sim', 'serve', path, '--vpcd', `127.0.0.1:${port}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('VPCD_UNREACHABLE');
  });

  it('answers vpcd as the SIM of STATE, saves its changes, and stops on SIGTERM', async () => {
    const path = join(dir, 'sim.json');
    await createSimStateFile(path, freshState());
    const vpcd = await FakeVpcd.start();
    try {
      const child = await serveChild(['sim', 'serve', path, '--vpcd', `127.0.0.1:${vpcd.port}`]);
      expect(toHex(await vpcd.ask(Uint8Array.of(0x04)))).toBe(toHex(SIM_VIRTUAL_ATR));
      await vpcd.control(0x01);
      expect(toHex(await vpcd.ask(fromHex(SELECT)))).toBe('9000');
      // CARD INSERTED asking the user: the bind question is pending, and on disk.
      expect(toHex(await vpcd.ask(fromHex(`8030010010${CID}`)))).toMatch(/^02/);
      expect((await loadSimState(path)).proactive.length).toBeGreaterThan(0);
      const { code, stdout } = await child.stop();
      expect(code).toBe(0);
      expect(stdout).toContain('SIM 89860012345678901234 is in the vpcd reader');
      // Progress lines name command headers and status words, never data.
      expect(child.stderr()).toContain('apdu 80300100 -> ');
      expect(child.stderr()).not.toContain(CID);
    } finally {
      await vpcd.close();
    }
  });
});

const pcscSkip = await pcscUnavailable();

describe.skipIf(pcscSkip !== undefined)(
  `simvault sim serve behind pcscd${pcscSkip === undefined ? '' : ` (skipped: ${pcscSkip})`}`,
  () => {
    it('scriptor gets the answers of every example of docs/sim-apdus.md', async () => {
      const blocks = simDocBlocks();
      expect(blocks.length).toBeGreaterThanOrEqual(5);
      await withSlot(SIM_SLOT.port, async () => {
        for (const [i, block] of blocks.entries()) {
          // Each block starts from the documented test SIM: a fresh state file, served anew.
          const path = join(dir, `sim-${i}.json`);
          await createSimStateFile(path, await docState(block.given));
          const got = await scriptorThroughServe(
            'sim',
            path,
            SIM_SLOT,
            block.steps.map((s) => s.command),
          );
          expect(got.map((r, n) => `${block.steps[n]!.line}: ${r}`)).toEqual(
            block.steps.map((s) => `${s.line}: ${s.response}`),
          );
        }
      });
    });
  },
);
