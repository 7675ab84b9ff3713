/**
 * `simvault sim create|apdu|menu|envelope`: the emulated SIM from the shell. The SIM lives in a
 * state file, loaded for each command and written back atomically when it changed.
 *
 * @module
 */
import { randomInt } from 'node:crypto';
import { toHex } from '../../bytes.js';
import { createSimStateFile, loadSimState, saveSimState } from '../../node/sim-state-file.js';
import { formatStatusWord, statusWordName } from '../../protocol/apdu.js';
import { splitSecuredPacket } from '../../protocol/sms-concat.js';
import { decodeUserDataHeader, encodeSmsTpdu } from '../../protocol/sms.js';
import { encodeEnvelopeApdu } from '../../protocol/toolkit-envelope.js';
import { simStatusWordName } from '../../sim/applet/apdu-table.js';
import { personalizeSim } from '../../sim/applet/personalize.js';
import { menuPages } from '../../sim/applet/proactive.js';
import { SimCard } from '../../sim/applet/sim-card.js';
import { encodeSimState } from '../../sim/applet/state-json.js';
import {
  THRESHOLD_POLICIES,
  UNBIND_RULES,
  type MenuAction,
  type SimState,
} from '../../sim/applet/state.js';
import { parseCommandArgs, UsageError, writeResult, type Command } from '../command.js';
import { optional, parseChoice, parseDigits, parseHex, parseInteger } from '../options.js';

function swName(sw: number): string {
  return statusWordName(sw) ?? simStatusWordName(sw) ?? 'unknown status word';
}

/** `simvault sim create`: personalize a SIM into a new state file. */
export const simCreateCommand: Command = {
  path: ['sim', 'create'],
  summary: 'personalize an emulated SIM into a new state file; print its OTA keys once',
  help: `Usage: simvault sim create STATE [--threshold-cards N] [--threshold-bytes N]
                           [--policy ask|lru|oldest] [--unbind-rule mask|delete]
                           [--iccid DIGITS] [--imsi DIGITS] [--ota-address DIGITS] [--json]

Generates the SIM's OTA keyset (AES, key version 1) and its binding key, writes the state file
STATE (refusing to overwrite one) and prints the OTA configuration to provision on the OTA
server: ICCID, TAR, keys, minimum security level. The keys are printed this once; the binding
key is never printed.

Options:
  --threshold-cards N   most bound cards (1-64)
  --threshold-bytes N   most bound application capacity in bytes
  --policy P            at the threshold: ask the user (default), evict lru, evict oldest
  --unbind-rule R       below the threshold an unbound card is masked (default) or deleted
  --iccid DIGITS        ICCID, 10-20 digits (default: 8986 and 16 random digits)
  --imsi DIGITS         IMSI, 6-15 digits
  --ota-address DIGITS  the OTA server's SMS number (default 8613800000000)
  --json                print the OTA configuration as JSON

Example:
  simvault sim create sim.json --threshold-cards 2 --policy lru --json > ota-sim.json`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      'threshold-cards': { type: 'string' },
      'threshold-bytes': { type: 'string' },
      policy: { type: 'string' },
      'unbind-rule': { type: 'string' },
      iccid: { type: 'string' },
      imsi: { type: 'string' },
      'ota-address': { type: 'string' },
      json: { type: 'boolean' },
    });
    if (positionals.length !== 1)
      throw new UsageError('sim create takes exactly one STATE argument');
    const maxCards = optional(values['threshold-cards'], (v) =>
      parseInteger(v, '--threshold-cards', 1, 64),
    );
    const maxBytes = optional(values['threshold-bytes'], (v) =>
      parseInteger(v, '--threshold-bytes', 1, Number.MAX_SAFE_INTEGER),
    );
    const policy = optional(values.policy, (v) => parseChoice(v, '--policy', THRESHOLD_POLICIES));
    const unbindRule = optional(values['unbind-rule'], (v) =>
      parseChoice(v, '--unbind-rule', UNBIND_RULES),
    );
    const iccid =
      optional(values.iccid, (v) => parseDigits(v, '--iccid', 10, 20)) ??
      `8986${Array.from({ length: 16 }, () => randomInt(10)).join('')}`;
    const imsi = optional(values.imsi, (v) => parseDigits(v, '--imsi', 6, 15));
    const otaDigits = optional(values['ota-address'], (v) =>
      parseDigits(v, '--ota-address', 1, 20),
    );
    const { state, ota } = personalizeSim({
      iccid,
      ...(imsi !== undefined ? { imsi } : {}),
      ...(maxCards !== undefined ? { maxCards } : {}),
      ...(maxBytes !== undefined ? { maxBytes } : {}),
      ...(policy !== undefined ? { policy } : {}),
      ...(unbindRule !== undefined ? { unbindRule } : {}),
      ...(otaDigits !== undefined ? { otaAddress: { ton: 1, npi: 1, digits: otaDigits } } : {}),
    });
    await createSimStateFile(positionals[0]!, state);
    const ks = ota.keysets[0]!;
    const text = [
      `SIM ${ota.iccid} written to ${positionals[0]}. Provision the OTA server with (shown once):`,
      `  tar           ${ota.tar}`,
      `  keyset ${ks.version}      ${ks.algorithm}`,
      `  kic           ${ks.kic}`,
      `  kid           ${ks.kid}`,
      `  mt spi        ${ota.mt.spi} (key version ${ota.mt.keyVersion})`,
    ].join('\n');
    writeResult(io, values.json === true, ota, text);
  },
};

/** `simvault sim apdu`: send APDUs to the SIM of a state file. */
export const simApduCommand: Command = {
  path: ['sim', 'apdu'],
  summary: 'send command APDUs to an emulated SIM; print each response and its status word',
  help: `Usage: simvault sim apdu STATE HEX... [--json]

Powers up the SIM of STATE, sends each command APDU in order, and prints each response with its
status word and the word's name. The state file is rewritten atomically afterwards if the SIM
changed. Each run is a new power-up: select the applet (00a4040c09f073696d7661756c74) before its
proprietary commands; segments of a concatenated SMS must be sent in the same run. A card error
is a status word, not a failure: the exit status is 0 unless the command line or the state file
is bad. See docs/sim-apdus.md for the commands.

Example:
  simvault sim apdu sim.json 00a4040c09f073696d7661756c74 803000001003534453553031478000000001016300`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { json: { type: 'boolean' } });
    if (positionals.length < 2)
      throw new UsageError('sim apdu takes a STATE and at least one HEX APDU');
    const path = positionals[0]!;
    const apdus = positionals.slice(1).map((h, i) => parseHex(h, `APDU ${i + 1}`));
    const state = await loadSimState(path);
    const card = new SimCard(state);
    const results: { command: string; response: string; data: string; sw: string; name: string }[] =
      [];
    for (const apdu of apdus) {
      const rsp = await card.transmit(apdu);
      const sw = (rsp[rsp.length - 2]! << 8) | rsp[rsp.length - 1]!;
      results.push({
        command: toHex(apdu),
        response: toHex(rsp),
        data: toHex(rsp.subarray(0, -2)),
        sw: formatStatusWord(sw),
        name: swName(sw),
      });
    }
    const after = card.state;
    if (toHex(encodeSimState(after)) !== toHex(encodeSimState(state)))
      await saveSimState(path, after);
    const text = results
      .map((r) => `> ${r.command}\n< ${r.data ? `${r.data} ` : ''}${r.sw} (${r.name})`)
      .join('\n');
    writeResult(io, values.json === true, results, text);
  },
};

function describeAction(a: MenuAction): string {
  switch (a.kind) {
    case 'appMenu':
      return `application ${toHex(a.aid)} of card ${toHex(a.cid)}`;
    case 'cardMenu':
      return `card ${toHex(a.cid)} (unbind)`;
    case 'page':
      return `more items (page ${a.page + 1})`;
    default:
      return a.kind;
  }
}

function menuJson(state: SimState) {
  return {
    title: 'simvault',
    pages: menuPages(state).map((p) =>
      p.items.map((item, i) => ({
        id: item.id,
        text: item.text,
        action: describeAction(p.choices[i]!.action),
      })),
    ),
    cards: state.cards.map((c) => ({
      cid: toHex(c.cid),
      bound: c.bound,
      applications: c.applications.map((a) => ({
        aid: toHex(a.aid),
        name: a.name,
        zone: a.zone,
        size: a.size,
        state: a.state,
        installed: a.installed,
      })),
      anchors: c.anchors,
    })),
    threshold: state.threshold,
  };
}

/** `simvault sim menu`: show the SIM's STK menu and binding list. */
export const simMenuCommand: Command = {
  path: ['sim', 'menu'],
  summary: "show an emulated SIM's STK menu (its SET UP MENU items) and binding list",
  help: `Usage: simvault sim menu STATE [--json]

Prints the items of the SET UP MENU the SIM builds from its binding list (page by page when it
needs "More..."), then the bound and masked cards with their applications.

Example:
  simvault sim menu sim.json`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { json: { type: 'boolean' } });
    if (positionals.length !== 1) throw new UsageError('sim menu takes exactly one STATE argument');
    const state = await loadSimState(positionals[0]!);
    const m = menuJson(state);
    const lines = [`SET UP MENU "${m.title}"`];
    if (m.pages[0]!.length === 0) lines.push('  (no items: the menu is removed)');
    m.pages.forEach((page, n) => {
      if (n > 0) lines.push(`  page ${n + 1}:`);
      for (const item of page)
        lines.push(`  ${String(item.id).padStart(3)}  ${item.text}  — ${item.action}`);
    });
    lines.push(
      `Binding list (${state.threshold.policy}${state.threshold.maxCards !== undefined ? `, max ${state.threshold.maxCards} cards` : ''}${state.threshold.maxBytes !== undefined ? `, max ${state.threshold.maxBytes} bytes` : ''}):`,
    );
    if (m.cards.length === 0) lines.push('  (empty)');
    for (const c of m.cards) {
      lines.push(`  ${c.cid}  ${c.bound ? 'bound' : 'unbound, masked'}`);
      for (const a of c.applications)
        lines.push(
          `    ${a.aid}  ${a.name}  ${a.zone}  ${a.size} B  ${a.state}${a.installed ? ', installed' : ''}`,
        );
    }
    writeResult(io, values.json === true, m, lines.join('\n'));
  },
};

/** `simvault sim envelope`: wrap a secured packet as SMS-PP download ENVELOPE APDUs. */
export const simEnvelopeCommand: Command = {
  path: ['sim', 'envelope'],
  summary: 'wrap a secured command packet as SMS-PP download ENVELOPE APDUs (what a handset does)',
  help: `Usage: simvault sim envelope PACKET_HEX [--originator DIGITS] [--reference N]

Frames a secured command packet (as 'simvault ota pack' prints it, with or without 02 70 00) as
SMS-DELIVER TPDUs for SIM data download (TP-PID 7F, TP-DCS F6), concatenated when it exceeds one
SMS, and prints one ENVELOPE (SMS-PP download) APDU per segment, one per line, ready for
'simvault sim apdu'.

Example:
  simvault sim apdu sim.json 00a4040c09f073696d7661756c74 $(simvault sim envelope "$(simvault ota pack ...)")`,
  run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      originator: { type: 'string' },
      reference: { type: 'string' },
    });
    if (positionals.length !== 1)
      throw new UsageError('sim envelope takes exactly one PACKET_HEX argument');
    let packet = parseHex(positionals[0]!, 'PACKET_HEX', { nonEmpty: true });
    if (packet[0] === 0x02 && packet[1] === 0x70 && packet[2] === 0x00) packet = packet.subarray(3);
    if (packet.length === 0)
      throw new UsageError('PACKET_HEX holds only the 02 70 00 header: the packet is missing');
    const originator =
      optional(values.originator, (v) => parseDigits(v, '--originator', 1, 20)) ?? '8613800000000';
    const reference =
      optional(values.reference, (v) => parseInteger(v, '--reference', 0, 255)) ?? 0;
    const now = new Date();
    const segments = splitSecuredPacket(packet, { reference, kind: 'command' });
    const lines = segments.map((ud, i) => {
      const { elements, end } = decodeUserDataHeader(ud);
      const tpdu = encodeSmsTpdu({
        type: 'deliver',
        moreMessages: i < segments.length - 1,
        loopPrevention: false,
        statusReport: false,
        replyPath: false,
        originator: { ton: 1, npi: 1, digits: originator },
        pid: 0x7f,
        dcs: 0xf6,
        scts: {
          year: now.getUTCFullYear() % 100,
          month: now.getUTCMonth() + 1,
          day: now.getUTCDate(),
          hour: now.getUTCHours(),
          minute: now.getUTCMinutes(),
          second: now.getUTCSeconds(),
          timezoneQuarters: 0,
        },
        userData: { header: elements, data: ud.subarray(end) },
      });
      return toHex(encodeEnvelopeApdu({ kind: 'smsPpDownload', tpdu }));
    });
    io.stdout.write(`${lines.join('\n')}\n`);
    return Promise.resolve();
  },
};

/** Every `simvault sim` command. */
export const SIM_COMMANDS: Command[] = [
  simCreateCommand,
  simApduCommand,
  simMenuCommand,
  simEnvelopeCommand,
];
