/**
 * `simvault demo crypto`: the main job on embedded defaults, runnable on a fresh machine. It generates
 * a file, encrypts it into an envelope and decrypts it again with every suite through the same
 * streaming code paths as `simvault encrypt|decrypt`, and verifies the round trip byte for byte.
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  createOpenStream,
  createSealStream,
  getBackend,
  SUITES,
  type SuiteName,
} from '../../crypto/index.js';
import { openInput, readKeyFile, writeNewKeyFile, writeOutput } from '../../node/files.js';
import { parseCommandArgs, UsageError, writeResult, type Command } from '../command.js';

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

async function writeRandomFile(path: string, size: number): Promise<void> {
  const block = 1 << 20;
  let left = size;
  await pipeline(
    Readable.from(
      (function* () {
        while (left > 0) {
          const n = Math.min(block, left);
          left -= n;
          yield randomBytes(n);
        }
      })(),
    ),
    createWriteStream(path),
  );
}

export const demoCryptoCommand: Command = {
  path: ['demo', 'crypto'],
  summary: 'generate a file, encrypt and decrypt it with every suite, verify',
  help: `Usage: simvault demo crypto [--size MIB] [--json] [--keep]

Generates a random file, then for every suite encrypts it into a simvault envelope and decrypts
it again through the streaming code paths, and checks the SHA-256 of the result.

Options:
  --size MIB   size of the generated file in MiB (default 16)
  --json       print the results as JSON
  --keep       keep the working folder and print its path`,
  async run(args, io) {
    const { values } = parseCommandArgs(
      args,
      { size: { type: 'string' }, json: { type: 'boolean' }, keep: { type: 'boolean' } },
      false,
    );
    const mib = Number(values.size ?? '16');
    if (!Number.isFinite(mib) || mib < 0 || mib > 4096)
      throw new UsageError('--size must be a number of MiB from 0 to 4096');
    const size = Math.round(mib * 1024 * 1024);
    const dir = await mkdtemp(join(tmpdir(), 'simvault-demo-'));
    try {
      const plainPath = join(dir, 'download.bin');
      const keyPath = join(dir, 'sim.key');
      io.stderr.write(`generating ${mib} MiB in ${dir}\n`);
      await writeRandomFile(plainPath, size);
      await writeNewKeyFile(keyPath);
      const key = await readKeyFile(keyPath);
      const expected = await sha256File(plainPath);
      const results = [];
      for (const suite of Object.keys(SUITES) as SuiteName[]) {
        const sealedPath = join(dir, `${suite}.svlt`);
        const openedPath = join(dir, `${suite}.out`);
        const t0 = performance.now();
        await writeOutput(
          openInput(plainPath, io.stdin).pipeThrough(createSealStream(key, { suite })),
          sealedPath,
          io.stdout,
        );
        const t1 = performance.now();
        await writeOutput(
          openInput(sealedPath, io.stdin).pipeThrough(createOpenStream(key)),
          openedPath,
          io.stdout,
        );
        const t2 = performance.now();
        const actual = await sha256File(openedPath);
        const row = {
          suite,
          backend: getBackend('auto', SUITES[suite].aead).name,
          plaintextBytes: size,
          ciphertextBytes: (await stat(sealedPath)).size,
          encryptMBps: Number((size / 1e6 / ((t1 - t0) / 1000)).toFixed(1)),
          decryptMBps: Number((size / 1e6 / ((t2 - t1) / 1000)).toFixed(1)),
          verified: actual === expected,
        };
        results.push(row);
      }
      const text = [
        `sha256 ${expected}`,
        ...results.map(
          (r) =>
            `${r.suite.padEnd(29)} ${r.backend.padEnd(6)} encrypt ${String(r.encryptMBps).padStart(7)} MB/s  decrypt ${String(r.decryptMBps).padStart(7)} MB/s  ${r.verified ? 'verified' : 'MISMATCH'}`,
        ),
        results.every((r) => r.verified)
          ? 'round trip verified for every suite'
          : 'round trip NOT verified: a decrypted file differs from the source',
      ].join('\n');
      writeResult(io, values.json === true, { sha256: expected, results }, text);
      return results.every((r) => r.verified) ? 0 : 1;
    } finally {
      if (values.keep) io.stderr.write(`kept ${dir}\n`);
      else await rm(dir, { recursive: true, force: true });
    }
  },
};
