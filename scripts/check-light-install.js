#!/usr/bin/env node
/* global console, process */
// The handset vendor's install, checked on the packed tarball (run after `npm run build`): the
// package is unpacked into a fresh consumer's node_modules with its dependencies and WITHOUT the
// servers' optional peers (better-sqlite3, pg, hono, @hono/node-server). Then:
// - no file of dist outside server/ and cli/ names one of those packages in an import;
// - every entry loads, as ESM and as CommonJS, and a card + SIM + crypto flow runs;
// - simvault/server loads too, and starting a server is MissingDriverError naming the package;
// - the `simvault` command runs, and `simvault server` says which package to install.
// Offline: the tarball's own dependencies are linked from this checkout's node_modules.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const PEERS = Object.keys(pkg.peerDependencies ?? {});
const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
};

const work = mkdtempSync(join(tmpdir(), 'simvault-light-'));
try {
  // The tarball exactly as npm would publish it.
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', work], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  )[0];
  const consumer = join(work, 'consumer');
  const target = join(consumer, 'node_modules', 'simvault');
  mkdirSync(target, { recursive: true });
  execFileSync('tar', ['-xzf', join(work, packed.filename), '-C', target, '--strip-components=1']);
  check(
    !packed.files.some((f) => f.path.endsWith('.map')),
    `the tarball holds no source maps (${packed.files.length} files, ${packed.unpackedSize} bytes unpacked)`,
  );
  for (const dep of Object.keys(pkg.dependencies ?? {})) {
    const link = join(consumer, 'node_modules', dep);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(join(root, 'node_modules', dep), link, 'dir');
  }

  // No chunk an integrator's entry loads may import a server package.
  const files = (dir) =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
    );
  const dist = join(target, 'dist');
  const peerImport = new RegExp(
    `(?:from\\s*|import\\s*\\(\\s*|require\\s*\\(\\s*|import\\s+)["'](?:${PEERS.map((p) => p.replace(/[/]/g, '\\/')).join('|')})(?:\\/[^"']*)?["']`,
  );
  const offenders = files(dist)
    .filter((f) => /\.(c?js|d\.c?ts)$/.test(f))
    .filter((f) => !/^(server|cli)\//.test(relative(dist, f)))
    .filter((f) => peerImport.test(readFileSync(f, 'utf8')))
    .map((f) => relative(dist, f));
  check(offenders.length === 0, `no chunk outside server/ and cli/ imports ${PEERS.join(', ')}`);
  if (offenders.length > 0) console.log(`     ${offenders.join('\n     ')}`);

  const run = (file, source) => {
    const path = join(consumer, file);
    execFileSync('node', [
      '-e',
      'require("fs").writeFileSync(process.argv[1], process.argv[2])',
      path,
      source,
    ]);
    const r = spawnSync('node', [path], { cwd: consumer, encoding: 'utf8' });
    return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
  };

  const peersGone = run(
    'peers.cjs',
    `for (const p of ${JSON.stringify(PEERS)}) { try { require.resolve(p); console.log('found ' + p); } catch {} }`,
  );
  check(peersGone.out === '', 'the consumer has none of the optional server packages');

  const ENTRIES = Object.keys(pkg.exports)
    .filter((k) => k !== './package.json')
    .map((k) => `simvault${k.slice(1)}`);
  const esm = run(
    'entries.mjs',
    `for (const e of ${JSON.stringify(ENTRIES)}) { const m = await import(e); if (Object.keys(m).length === 0) throw new Error(e); }
console.log('loaded');`,
  );
  check(
    esm.out === 'loaded',
    `every entry loads as ESM: ${ENTRIES.join(' ')}${esm.status === 0 ? '' : `\n${esm.out}`}`,
  );
  const cjs = run(
    'entries.cjs',
    `for (const e of ${JSON.stringify(ENTRIES)}) { if (Object.keys(require(e)).length === 0) throw new Error(e); }
console.log('loaded');`,
  );
  check(
    cjs.out === 'loaded',
    `every entry loads as CommonJS${cjs.status === 0 ? '' : `\n${cjs.out}`}`,
  );

  // A vendor's path: format a card, personalize a SIM, bind offline, mount, encrypt a file in.
  const vendor = run(
    'vendor.mjs',
    `import { Handset, HandsetError, mountBoundCard } from 'simvault/handset';
import { formatCard, MemoryDevice } from 'simvault/card';
import { personalizeSim, SimCard, SimClient } from 'simvault/sim';
import { encrypt, decrypt } from 'simvault/crypto';
import { equalBytes, fromHex, randomBytes } from 'simvault';
if (typeof Handset !== 'function' || typeof HandsetError !== 'function') throw new Error('handset entry');
const cid = fromHex('035344535530314780401c751300637d');
const sim = new SimCard(personalizeSim({ iccid: '89860012345678901234' }).state);
await sim.bindOffline(cid);
const client = new SimClient(sim);
await client.select();
const device = new MemoryDevice(16 << 20);
await formatCard(device, { cid, keys: await client.cardKeys(cid) });
const card = await mountBoundCard({ device, cid, sim: client });
const key = randomBytes(32);
const plain = new TextEncoder().encode('hello from the vendor');
await card.zone('user').writeFile('a.txt', await encrypt(key, plain));
if (!equalBytes(await decrypt(key, await card.zone('user').readFile('a.txt')), plain)) throw new Error('round trip');
console.log('vendor path ok');`,
  );
  check(
    vendor.out.startsWith('vendor path ok'),
    `a handset + card + SIM + crypto script runs without the server packages${vendor.status === 0 ? '' : `\n${vendor.out}`}`,
  );

  // The server entry loads, and says what to install when a server starts.
  const missing = (file, code) => {
    const r = run(file, code);
    return r.out;
  };
  const esmServer = missing(
    'server.mjs',
    `import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MissingDriverError, startCardAppServer, openStore } from 'simvault/server';
const dataDir = mkdtempSync(join(tmpdir(), 'sv-'));
for (const start of [() => startCardAppServer({ store: { dataDir }, keys: [] }), () => openStore({ dataDir, db: 'postgres://u@127.0.0.1:1/x' })]) {
  try { await start(); console.log('started?'); } catch (e) { console.log(e instanceof MissingDriverError, e.code, e.packageName, e.message); }
}`,
  );
  check(
    /^true SERVER_DRIVER_MISSING better-sqlite3 a SQLite registry needs the package better-sqlite3, which is not installed: npm install better-sqlite3@/m.test(
      esmServer,
    ) && /^true SERVER_DRIVER_MISSING pg /m.test(esmServer),
    `simvault/server (ESM) without drivers: MissingDriverError naming better-sqlite3, then pg\n     ${esmServer.replace(/\n/g, '\n     ')}`,
  );
  const cjsServer = missing(
    'server.cjs',
    `const { MissingDriverError, startOtaServer } = require('simvault/server');
const { mkdtempSync } = require('node:fs');
const dataDir = mkdtempSync(require('node:path').join(require('node:os').tmpdir(), 'sv-'));
startOtaServer({ store: { dataDir }, keys: [], cardAppUrl: 'http://127.0.0.1:1', cardApp: {} })
  .then(() => console.log('started?'), (e) => console.log(e instanceof MissingDriverError, e.code, e.packageName));`,
  );
  check(
    cjsServer === 'true SERVER_DRIVER_MISSING better-sqlite3',
    `simvault/server (CommonJS) without drivers: ${cjsServer}`,
  );

  const bin = join(target, 'bin', 'simvault.js');
  const version = spawnSync('node', [bin, '--version'], { cwd: consumer, encoding: 'utf8' });
  check(
    version.status === 0 && version.stdout.includes(pkg.version),
    `simvault --version runs: ${version.stdout.trim()}`,
  );
  const server = spawnSync('node', [bin, 'server', '--data', join(work, 'data')], {
    cwd: consumer,
    encoding: 'utf8',
  });
  check(
    server.status !== 0 && server.stderr.includes('npm install better-sqlite3@'),
    `simvault server without drivers exits ${server.status}: ${server.stderr.trim()}`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
if (failures.length > 0) {
  console.error(`${failures.length} check(s) failed`);
  process.exit(1);
}
