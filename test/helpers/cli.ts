// Run `simvault` in-process with in-memory standard streams.
import { PassThrough } from 'node:stream';
import { runCli } from '../../src/cli/run.js';

export interface CliResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

export async function cli(
  args: string[],
  stdin: Uint8Array = new Uint8Array(),
): Promise<CliResult> {
  const input = new PassThrough();
  const out = new PassThrough();
  const err = new PassThrough();
  const outParts: Buffer[] = [];
  const errParts: Buffer[] = [];
  out.on('data', (d: Buffer) => outParts.push(d));
  err.on('data', (d: Buffer) => errParts.push(d));
  input.end(stdin);
  const code = await runCli(args, { stdin: input, stdout: out, stderr: err });
  return {
    code,
    stdout: Buffer.concat(outParts),
    stderr: Buffer.concat(errParts).toString('utf8'),
  };
}
