// `simvault server` as a real child process (node + tsx, no npx wrapper, so a signal hits the
// server itself): started with its printed URLs, killed or stopped by the test.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { TestDatabase } from './stores.js';

export const ROOT = join(import.meta.dirname, '..', '..');

export interface ServerChild {
  /** URL per component name printed on stdout (`card-app`, `ota`). */
  urls: Record<string, string>;
  process: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything the child wrote on stderr so far (when stderr is a pipe). */
  stderr(): string;
}

/** The `--data`, `--db`, `--pg-schema` and `--kek-file` arguments of a test database. */
export function dbArgs(db: TestDatabase): string[] {
  const loc = db.location;
  const args = ['--data', loc.dataDir];
  if (loc.db !== undefined) args.push('--db', loc.db, '--pg-schema', loc.schema!);
  if (loc.kek !== undefined && !(loc.kek instanceof Uint8Array))
    args.push('--kek-file', loc.kek.file);
  return args;
}

/**
 * Start `simvault server ARGS` and resolve once it printed the URL of each of `expect` (default
 * both servers). `stderr` is piped unless given.
 */
export async function spawnServer(
  args: string[],
  options: { expect?: string[]; stderr?: 'pipe' | 'ignore' | number; env?: NodeJS.ProcessEnv } = {},
): Promise<ServerChild> {
  const expect = options.expect ?? ['card-app', 'ota'];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'server', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', options.stderr ?? 'pipe'],
    env: options.env ?? process.env,
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
    }),
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const urls: Record<string, string> = {};
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      for (const m of out.matchAll(/^(\S+) (http:\/\/\S+)$/gm)) urls[m[1]!] = m[2]!;
      if (expect.every((name) => urls[name] !== undefined)) resolve();
    });
    void exited.then(({ code }) => {
      reject(new Error(`server exited (${code}) before listening: ${stderr}`));
    });
  });
  return { urls, process: child, exited, stderr: () => stderr };
}
