// Run `simvault` in-process with in-memory standard streams (each may pose as a terminal).
import { PassThrough } from 'node:stream';
import { runCli } from '../../src/cli/run.js';

export interface CliResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Which standard streams claim to be terminals (`isTTY`). */
export interface Terminals {
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
}

export async function cli(
  args: string[],
  stdin: Uint8Array = new Uint8Array(),
  terminals: Terminals = {},
): Promise<CliResult> {
  const input = Object.assign(new PassThrough(), { isTTY: terminals.stdin === true });
  const out = Object.assign(new PassThrough(), { isTTY: terminals.stdout === true });
  const err = Object.assign(new PassThrough(), { isTTY: terminals.stderr === true });
  const outParts: Buffer[] = [];
  const errParts: Buffer[] = [];
  out.on('data', (d: Buffer) => outParts.push(d));
  err.on('data', (d: Buffer) => errParts.push(d));
  // A terminal on stdin never ends by itself: the command must not wait for it.
  if (terminals.stdin !== true) input.end(stdin);
  const code = await runCli(args, { stdin: input, stdout: out, stderr: err });
  return {
    code,
    stdout: Buffer.concat(outParts),
    stderr: Buffer.concat(errParts).toString('utf8'),
  };
}

/** The JSON a command printed on stdout (the test says what it expects it to be). */
export function jsonOf(r: CliResult): unknown {
  return JSON.parse(r.stdout.toString());
}
