/**
 * The `simvault` executable.
 *
 * @module
 */
import { runCli } from './run.js';

const code = await runCli(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
});
process.exitCode = code;
