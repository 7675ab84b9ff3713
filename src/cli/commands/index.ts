/**
 * The registry of `simvault` sub-commands. Each command lives in its own module; add it here.
 *
 * @module
 */
import type { Command } from '../command.js';
import { demoCommand } from './demo.js';
import { decryptCommand, encryptCommand, keygenCommand } from './encrypt.js';

export const COMMANDS: Command[] = [demoCommand, keygenCommand, encryptCommand, decryptCommand];
