/**
 * `simvault chip create|apdu|serve STATE …`: the memory card's secure chip, emulated in a state file,
 * from the shell. `create` personalizes a chip (its internal key is generated and never shown);
 * `apdu` powers it up, sends APDUs and prints each response with its status word. Every change
 * of the chip's state is written to the file atomically before its response is printed.
 *
 * @module
 */
import { toHex } from '../../bytes.js';
import { createChipStateFile, openChipStateFile } from '../../node/chip-state-file.js';
import { chipStatusWordName } from '../../sim/chip/constants.js';
import { isValidPin, isValidPuk } from '../../sim/chip/pin.js';
import { personalizeChip } from '../../sim/chip/state.js';
import { parseCommandArgs, UsageError, writeResult, type Command } from '../command.js';
import { optional, parseHex, parseInteger } from '../options.js';
import { chipVirtualCard } from '../../node/vpcd-cards.js';
import { runVpcdServe, VPCD_SERVE_OPTIONS, vpcdAddressOption } from './vpcd-serve.js';

const DEFAULT_PIN = '1234';

/** `simvault chip create`: personalize a software secure chip into a new state file. */
export const chipCreateCommand: Command = {
  path: ['chip', 'create'],
  summary: 'personalize an emulated secure chip into a new state file',
  help: `Usage: simvault chip create STATE [--pin PIN] [--puk PUK] [--pin-tries N] [--puk-tries N] [--json]

Personalizes a software secure chip (the memory card's COS) and writes its state to the new
file STATE; refuses to overwrite an existing one. The chip generates its serial and its
internal key; the key never leaves the chip (no APDU returns it).

Options:
  --pin PIN        the initial PIN, 4-8 digits (default ${DEFAULT_PIN})
  --puk PUK        the PUK that unblocks the PIN, 8 digits (default: random, printed once)
  --pin-tries N    wrong PINs before the PIN blocks, 1-15 (default 3)
  --puk-tries N    wrong PUKs before the PUK blocks for good, 1-15 (default 10)
  --json           print the result as JSON

Example:
  simvault chip create chip.state --pin 4711
`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      pin: { type: 'string' },
      puk: { type: 'string' },
      'pin-tries': { type: 'string' },
      'puk-tries': { type: 'string' },
      json: { type: 'boolean' },
    });
    if (positionals.length !== 1) throw new UsageError('chip create takes exactly one STATE path');
    const path = positionals[0]!;
    const pin = values.pin ?? DEFAULT_PIN;
    if (!isValidPin(pin)) throw new UsageError('--pin must be 4 to 8 decimal digits');
    if (values.puk !== undefined && !isValidPuk(values.puk))
      throw new UsageError('--puk must be exactly 8 decimal digits');
    const pinTries = optional(values['pin-tries'], (v) => parseInteger(v, '--pin-tries', 1, 15));
    const pukTries = optional(values['puk-tries'], (v) => parseInteger(v, '--puk-tries', 1, 15));
    const state = personalizeChip({
      pin,
      ...(values.puk === undefined ? {} : { puk: values.puk }),
      ...(pinTries === undefined ? {} : { pinTries }),
      ...(pukTries === undefined ? {} : { pukTries }),
    });
    await createChipStateFile(path, state);
    const result = {
      state: path,
      serial: toHex(state.serial),
      puk: state.puk,
      pinTries: state.pinTriesMax,
      pukTries: state.pukTriesMax,
    };
    writeResult(
      io,
      values.json === true,
      result,
      [
        `created secure chip ${path}`,
        `serial     ${result.serial}`,
        `PUK        ${state.puk}   (shown once: keep it to unblock the PIN)`,
        `PIN tries  ${state.pinTriesMax}, PUK tries ${state.pukTriesMax}`,
      ].join('\n'),
    );
  },
};

/** `simvault chip apdu`: send APDUs to a software secure chip and print the responses. */
export const chipApduCommand: Command = {
  path: ['chip', 'apdu'],
  summary: 'send APDUs to an emulated secure chip and print each response',
  help: `Usage: simvault chip apdu STATE HEX... [--json]

Powers up the secure chip kept in STATE, sends each HEX command APDU in order (spaces and
colons inside an argument are ignored) and prints one line per response: the response APDU
in hex (data, then SW1 SW2), two spaces, and the status word's meaning. Each change of the
chip's state (PIN counters, PIN) is saved to STATE atomically before its response is printed.
The session (selection, PIN verified) lasts for one invocation. Exit 0 whatever the status
words; the commands and their status words are listed in docs/chip-apdus.md.

Options:
  --json   print [{ command, response, data, sw, name }] as JSON

Example:
  simvault chip apdu chip.state 00a4040c0af053494d564348495001 002000810831323334ffffffff
`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { json: { type: 'boolean' } });
    if (positionals.length < 2)
      throw new UsageError('chip apdu takes a STATE path and at least one APDU in hex');
    const [path, ...texts] = positionals as [string, ...string[]];
    const commands = texts.map((t, i) => parseHex(t, `APDU ${i + 1}`, { nonEmpty: true }));
    const chip = await openChipStateFile(path);
    const results = [];
    for (const command of commands) {
      const response = await chip.transmit(command);
      const sw = (response[response.length - 2]! << 8) | response[response.length - 1]!;
      const name = chipStatusWordName(sw);
      const result = {
        command: toHex(command),
        response: toHex(response),
        data: toHex(response.subarray(0, response.length - 2)),
        sw: toHex(response.subarray(response.length - 2)),
        name,
      };
      results.push(result);
      if (values.json !== true) io.stdout.write(`${result.response}  ${name}\n`);
    }
    if (values.json === true) io.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  },
};

/** `simvault chip serve`: the emulated chip in vsmartcard's virtual reader, for any PC/SC program. */
export const chipServeCommand: Command = {
  path: ['chip', 'serve'],
  summary: 'put an emulated secure chip into a vpcd virtual reader for any PC/SC program',
  help: `Usage: simvault chip serve STATE --vpcd HOST:PORT [--quiet]

Connects to vsmartcard's virtual reader (vpcd, the pcscd driver of the Debian package
vsmartcard-vpcd) and answers it as the secure chip kept in STATE until SIGINT or SIGTERM: every
PC/SC program (scriptor, opensc-tool, ChipClient over the PC/SC transport) then sees the chip in
that reader. vpcd listens on 127.0.0.1:35963 for its first reader ("Virtual PCD 00 00") and
35964 for the second.

The ATR is 3B 8E 81 31 FE 45 80 31 81 73 80 01 40 56 73 76 43 48 49 50 46 (T=1, IFSC 254,
extended lengths). Each power-up and reset ends the session (nothing selected, PIN not
verified); each change of the chip's state is written to STATE atomically before its response
is sent. When vpcd drops the card (pcscd restarted), serve reconnects every second. Progress
lines (command headers and status words, never PINs or keys) go to standard error unless
--quiet. See docs/pcsc.md.

Options:
  --vpcd HOST:PORT   where vpcd listens (required)
  --quiet            no progress lines

Example:
  simvault chip serve chip.state --vpcd 127.0.0.1:35964 &
  echo '00 A4 04 0C 0A F0 53 49 4D 56 43 48 49 50 01' | scriptor -r 'Virtual PCD 00 01'
`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, VPCD_SERVE_OPTIONS);
    if (positionals.length !== 1) throw new UsageError('chip serve takes exactly one STATE path');
    const address = vpcdAddressOption(values.vpcd);
    const path = positionals[0]!;
    const chip = await openChipStateFile(path);
    await runVpcdServe(
      chipVirtualCard(chip),
      address,
      `secure chip ${path}`,
      io,
      values.quiet === true,
    );
  },
};

/**
 * The `simvault chip …` commands, for the registry.
 *
 * @example
 * ```ts
 * CHIP_COMMANDS.map((c) => c.path.join(' ')); // ['chip create', 'chip apdu', 'chip serve']
 * ```
 */
export const CHIP_COMMANDS: Command[] = [chipCreateCommand, chipApduCommand, chipServeCommand];
