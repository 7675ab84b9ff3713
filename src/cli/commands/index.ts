/**
 * The registry of `simvault` sub-commands. Each command lives in its own module; add it here.
 *
 * @module
 */
import type { Command } from '../command.js';
import { otaPackCommand, otaUnpackCommand } from './ota.js';
import { demoCommand } from './demo.js';
import { demoCryptoCommand } from './demo-crypto.js';
import { decryptCommand, encryptCommand, keygenCommand } from './encrypt.js';
import { SERVER_COMMANDS } from './server.js';
import { inspectCommand } from './inspect.js';
import { CARD_COMMANDS } from './card.js';
import { CHIP_COMMANDS } from './chip.js';
import { SIM_COMMANDS } from './sim.js';

export const COMMANDS: Command[] = [
  demoCommand,
  demoCryptoCommand,
  keygenCommand,
  encryptCommand,
  decryptCommand,
  otaPackCommand,
  otaUnpackCommand,
  inspectCommand,
  ...SERVER_COMMANDS,
  ...CARD_COMMANDS,
  ...CHIP_COMMANDS,
  ...SIM_COMMANDS,
];
