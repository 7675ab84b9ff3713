/**
 * The registry of `simvault` sub-commands. Each command lives in its own module; add it here.
 *
 * @module
 */
import type { Command } from '../command.js';

export const COMMANDS: Command[] = [];
