/**
 * `simvault server` and its provisioning sub-commands: run the operator's servers on loopback,
 * and manage the card information registry (import cards, define applications and offers, change
 * lifecycle states, report downloads) straight on the database.
 *
 * A deployment is a list of {@link ServerComponent}s started in order on one data folder, one
 * registry location and one keys file; adding a server (the OTA server) is adding a component.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SigningKey } from '../../server/auth.js';
import { parseCardImport } from '../../server/card-app/import.js';
import { CardAppService } from '../../server/card-app/service.js';
import { startCardAppServer } from '../../server/card-app/start.js';
import { startOtaServer } from '../../server/ota/start.js';
import { FileStore, fileNameOf } from '../../server/ota/files.js';
import { parseIccid } from '../../server/request-fields.js';
import { parseSimConfig, simConfigToJSON } from '../../server/ota/sim-config.js';
import { openOtaStore } from '../../server/ota/store.js';
import { rotateOtaKek } from '../../server/ota/kek-rotation.js';
import {
  parseAid,
  parseApplication,
  parseCidKey,
  parseLabel,
  parseLifecycleState,
  parseOfferName,
} from '../../server/card-app/validate.js';
import { loadOrCreateKeys } from '../../server/keys.js';
import { jsonLogger, silentLogger, streamLineWriter, type Logger } from '../../server/log.js';
import type { RateLimitOptions } from '../../server/rate-limit.js';
import {
  openStore,
  prepareDataDir,
  resolveDatabase,
  type StoreLocation,
} from '../../server/store/open.js';
import { parseCommandArgs, UsageError, writeResult, type CliIO, type Command } from '../command.js';

/**
 * What every server of a deployment gets to start with.
 *
 * @example
 * ```ts
 * import type { ServerContext } from './server.js';
 * function describe(ctx: ServerContext) {
 *   return `${ctx.host} data=${ctx.store.dataDir}`;
 * }
 * ```
 */
export interface ServerContext {
  /** The registry location (`--data`, `--db`, `--pg-schema`). */
  store: StoreLocation;
  /** The shared signing keys (`--keys`, default `DATA/keys.json`). */
  keys: readonly SigningKey[];
  /** Listening host (`--host`, default 127.0.0.1). */
  host: string;
  /** Per-CID and per-SIM rate limit (`--rate-limit`). */
  rateLimit: RateLimitOptions | undefined;
  /** Per-address rate limit of anonymous requests (`--anonymous-rate-limit`). */
  anonymousRateLimit: RateLimitOptions | undefined;
  /** Structured log sink (stderr, or silent with `--quiet`). */
  log: Logger;
  /** The parsed command-line options. */
  options: Readonly<Record<string, string | boolean | undefined>>;
  /** URLs of the components started before this one, by name. */
  urls: Readonly<Record<string, string>>;
}

/**
 * One server of a deployment.
 *
 * @example
 * ```ts
 * import type { ServerComponent } from './server.js';
 * const nothing: ServerComponent = { name: 'nothing', start: async () => ({ url: 'http://127.0.0.1:1', close: async () => undefined }) };
 * ```
 */
export interface ServerComponent {
  /** Printed before its URL, e.g. `card-app`. */
  name: string;
  /** Start listening; resolve to its URL and how to stop it. */
  start(ctx: ServerContext): Promise<{ url: string; close(): Promise<void> }>;
}

/**
 * The card application server component: `--port` (default 0, any free port).
 *
 * @example
 * ```ts
 * import { cardAppComponent } from './server.js';
 * cardAppComponent.name; // 'card-app'
 * ```
 */
export const cardAppComponent: ServerComponent = {
  name: 'card-app',
  start: (ctx) =>
    startCardAppServer({
      store: ctx.store,
      keys: ctx.keys,
      host: ctx.host,
      port: portOf(ctx.options['port'] as string | undefined),
      log: ctx.log,
      ...(ctx.rateLimit ? { rateLimit: ctx.rateLimit } : {}),
      ...(ctx.anonymousRateLimit ? { anonymousRateLimit: ctx.anonymousRateLimit } : {}),
    }),
};

/**
 * The OTA server component: `--ota-port` (default 0, any free port), application files in
 * `--files` (default `DATA/files`), relaying to `--card-app-url` or else the card application
 * server started before it; `--mt-recheck` sets how often waiting long-polls re-read the queue.
 *
 * @example
 * ```ts
 * import { otaComponent } from './server.js';
 * otaComponent.name; // 'ota'
 * ```
 */
export const otaComponent: ServerComponent = {
  name: 'ota',
  start: (ctx) => {
    const cardAppUrl = ctx.options['card-app-url'] ?? ctx.urls['card-app'];
    if (typeof cardAppUrl !== 'string')
      throw new UsageError(
        'the OTA server relays to a card application server: start card-app too, or give --card-app-url',
      );
    const files = ctx.options['files'];
    const recheck = ctx.options['mt-recheck'];
    return startOtaServer({
      store: ctx.store,
      keys: ctx.keys,
      cardAppUrl,
      host: ctx.host,
      port: portOf(ctx.options['ota-port'] as string | undefined),
      log: ctx.log,
      ...(typeof files === 'string' ? { filesDir: files } : {}),
      ...(ctx.rateLimit ? { rateLimit: ctx.rateLimit } : {}),
      ...(ctx.anonymousRateLimit ? { anonymousRateLimit: ctx.anonymousRateLimit } : {}),
      ...(typeof recheck === 'string' ? { pollIntervalMs: millisecondsOf(recheck) } : {}),
    });
  },
};

/**
 * The servers `simvault server` starts, in order.
 *
 * @example
 * ```ts
 * import { SERVER_COMPONENTS } from './server.js';
 * SERVER_COMPONENTS.map((c) => c.name); // ['card-app']
 * ```
 */
export const SERVER_COMPONENTS: ServerComponent[] = [cardAppComponent, otaComponent];

function portOf(value: string | undefined): number {
  if (value === undefined) return 0;
  if (!/^[0-9]{1,5}$/.test(value) || Number(value) > 65535)
    throw new UsageError(`--port must be 0-65535, got '${value}'`);
  return Number(value);
}

function millisecondsOf(value: string): number {
  if (!/^[0-9]{1,9}$/.test(value) || Number(value) < 1)
    throw new UsageError(
      `--mt-recheck must be a number of milliseconds (1 or more), got '${value}'`,
    );
  return Number(value);
}

function httpUrlOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:')
    throw new UsageError(`--card-app-url must be an http(s) URL, got '${value}'`);
  return value.replace(/\/+$/, '');
}

function componentsOf(only: string | undefined): ServerComponent[] {
  if (only === undefined) return SERVER_COMPONENTS;
  const picked = SERVER_COMPONENTS.filter((c) => c.name === only);
  if (picked.length === 0)
    throw new UsageError(
      `--only must be one of ${SERVER_COMPONENTS.map((c) => c.name).join(', ')}, got '${only}'`,
    );
  return picked;
}

function rateLimitOf(
  value: string | undefined,
  flag = '--rate-limit',
): RateLimitOptions | undefined {
  if (value === undefined) return undefined;
  const m = /^([0-9]+)\/([0-9]+(\.[0-9]+)?)$/.exec(value);
  if (!m || Number(m[1]) < 1 || Number(m[2]) <= 0)
    throw new UsageError(`${flag} must be BURST/PER_SECOND, e.g. 20/5, got '${value}'`);
  return { capacity: Number(m[1]), refillPerSecond: Number(m[2]) };
}

const STORE_OPTIONS = {
  data: { type: 'string' },
  db: { type: 'string' },
  'pg-schema': { type: 'string' },
} as const;

const STORE_HELP = `  --data DIR          data folder (default ./simvault-data): registry.sqlite, keys.json
  --db URL|FILE       postgres://user@host:port/db for PostgreSQL, or a SQLite file path
  --pg-schema NAME    PostgreSQL schema holding the registry (default public)`;

/** The options of commands that open the OTA tables, whose keys are sealed under the KEK. */
const KEK_OPTIONS = { 'kek-file': { type: 'string' } } as const;

const KEK_HELP = `  --kek-file FILE     key-encryption key sealing the OTA keys (64 hex digits or base64);
                      default SIMVAULT_KEK, else DATA/kek for SQLite (created on first use)`;

function locationOf(values: {
  data?: string | undefined;
  db?: string | undefined;
  'pg-schema'?: string | undefined;
  'kek-file'?: string | undefined;
}): StoreLocation {
  return {
    dataDir: values.data ?? 'simvault-data',
    ...(values.db !== undefined ? { db: values.db } : {}),
    ...(values['pg-schema'] !== undefined ? { schema: values['pg-schema'] } : {}),
    ...(values['kek-file'] !== undefined ? { kek: { file: values['kek-file'] } } : {}),
  };
}

async function withService<T>(
  location: StoreLocation,
  fn: (service: CardAppService) => Promise<T>,
): Promise<T> {
  const store = await openStore(location);
  try {
    return await fn(new CardAppService(store));
  } finally {
    await store.close();
  }
}

/** Resolves on the first SIGINT or SIGTERM. */
function stopSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (signal: string) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

/**
 * `simvault server`: start the deployment's servers and run until SIGINT or SIGTERM.
 *
 * @example
 * ```ts
 * import { runCli } from '../run.js';
 * // prints "card-app http://127.0.0.1:PORT" and serves until interrupted
 * await runCli(['server', '--data', './simvault-data'], { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
 * ```
 */
export const serverCommand: Command = {
  path: ['server'],
  summary:
    'run the card application and OTA servers on loopback (SQLite by default, --db postgres://...)',
  help: `Usage: simvault server [options]

Starts the card application server and the OTA server on 127.0.0.1 and prints "card-app URL"
and "ota URL" on standard output. The OTA server relays SIM messages to the card application
server (signed with the "ota" key) and serves application files from DATA/files.
The registry is a SQLite file in the data folder (WAL, full sync) unless --db names PostgreSQL.
Signing keys come from DATA/keys.json (created with fresh "ota" and "operator" keys on the first
start, mode 0600). The SIMs' OTA keys are sealed in the database under a key-encryption key that
is not in it: --kek-file, else SIMVAULT_KEK, else (SQLite only) DATA/kek, created on the first
start; PostgreSQL needs one given, the same to every process. One JSON log line per request goes to standard error. SIGINT or SIGTERM stops
it cleanly: in-flight requests finish, then the database is closed.

Several processes on one PostgreSQL database and schema behave as one: a SIM's SMS segments may
reach any OTA process, and a handset long-polling one hears what another queued. Run more of
one kind with --only (e.g. OTA processes relaying to a card application server elsewhere).

Options:
  --port N            card application server port (default 0: any free port)
  --ota-port N        OTA server port (default 0: any free port)
  --files DIR         OTA application files folder (default DATA/files)
  --only NAME         start only this server: card-app or ota
  --card-app-url URL  the card application server the OTA server relays to (default: the one
                      started here)
  --mt-recheck MS     how often a waiting long-poll re-reads its SIM's queue (default 1000; on
                      PostgreSQL, SMS queued by other processes wake it at once)
  --host HOST         listening address (default 127.0.0.1)
${STORE_HELP}
${KEK_HELP}
  --keys FILE         keys file (default DATA/keys.json)
  --rate-limit B/R    per-CID and per-SIM token bucket: burst B, R per second (default 20/5)
  --anonymous-rate-limit B/R
                      per-address token bucket of anonymous requests (default 60/10)
                      (both are per process: N processes allow N times as much)
  --quiet             no request log lines

Sub-commands: server import-cards, server define-app, server offer, server lifecycle, server report,
server put-file, server sim, server rotate-kek.

Example:
  simvault server --port 8080 --db postgres://postgres@127.0.0.1:5432/test --kek-file ./kek`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      port: { type: 'string' },
      'ota-port': { type: 'string' },
      files: { type: 'string' },
      host: { type: 'string' },
      keys: { type: 'string' },
      'rate-limit': { type: 'string' },
      'anonymous-rate-limit': { type: 'string' },
      quiet: { type: 'boolean' },
      only: { type: 'string' },
      'card-app-url': { type: 'string' },
      'mt-recheck': { type: 'string' },
      ...STORE_OPTIONS,
      ...KEK_OPTIONS,
    });
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const components = componentsOf(values.only);
    const cardAppUrl = httpUrlOf(values['card-app-url']);
    if (values['mt-recheck'] !== undefined) millisecondsOf(values['mt-recheck']);
    const store = locationOf(values);
    const database = resolveDatabase(store);
    prepareDataDir(store.dataDir);
    const log = values.quiet ? silentLogger : jsonLogger(streamLineWriter(io.stderr));
    // The URLs on stdout are written once; a reader that went away must not stop the servers.
    const say = streamLineWriter(io.stdout);
    const ctx: ServerContext = {
      store,
      keys: await loadOrCreateKeys(values.keys ?? join(store.dataDir, 'keys.json')),
      host: values.host ?? '127.0.0.1',
      rateLimit: rateLimitOf(values['rate-limit']),
      anonymousRateLimit: rateLimitOf(values['anonymous-rate-limit'], '--anonymous-rate-limit'),
      log,
      options: { ...values, 'card-app-url': cardAppUrl },
      urls: {},
    };
    const stopped = stopSignal();
    const running: { name: string; close(): Promise<void> }[] = [];
    const urls: Record<string, string> = {};
    try {
      for (const component of components) {
        const server = await component.start({ ...ctx, urls: { ...urls } });
        running.push({ name: component.name, close: () => server.close() });
        urls[component.name] = server.url;
        say(`${component.name} ${server.url}\n`);
        log('info', 'listening', {
          server: component.name,
          url: server.url,
          db: database.kind,
        });
      }
      const signal = await stopped;
      log('info', 'stopping', { signal });
    } finally {
      for (const server of running.reverse()) await server.close();
    }
    log('info', 'stopped', {});
  },
};

/**
 * `simvault server import-cards FILE`: register cards from a CSV or JSON file in one transaction.
 *
 * @example
 * ```ts
 * import { runCli } from '../run.js';
 * await runCli(['server', 'import-cards', 'cards.csv', '--data', './simvault-data'], { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
 * ```
 */
export const importCardsCommand: Command = {
  path: ['server', 'import-cards'],
  summary: 'register cards from a CSV or JSON file, with a report of rejected rows',
  help: `Usage: simvault server import-cards FILE [options]

Registers the cards of FILE in one transaction: every valid row lands, or none if the import
fails. Rows refused (malformed, already registered, unknown offer) are reported with their
1-based row number and why.

CSV: a header line naming columns cid (required: 32 hex digits of the CID register, or the 30
of its identity), state (issued|active|blocked|retired, default issued), stage (default
registered), offer. JSON: [{"cid": "...", "state": "...", "stage": "...", "offer": "..."}, ...].

Options:
  --format csv|json   default from the file extension (.json is JSON, anything else CSV)
${STORE_HELP}
  --strict            exit with status 1 when any row is rejected
  --json              print the full report as JSON

Example:
  simvault server import-cards cards.csv --db postgres://postgres@127.0.0.1:5432/test`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      format: { type: 'string' },
      strict: { type: 'boolean' },
      json: { type: 'boolean' },
      ...STORE_OPTIONS,
    });
    if (positionals.length !== 1) throw new UsageError('import-cards takes exactly one FILE');
    const file = positionals[0]!;
    const format = values.format ?? (file.toLowerCase().endsWith('.json') ? 'json' : 'csv');
    if (format !== 'csv' && format !== 'json') throw new UsageError('--format must be csv or json');
    const parsed = parseCardImport(readFileSync(file, 'utf8'), format);
    const report = await withService(locationOf(values), (s) => s.importCards(parsed));
    const lines = [
      `rows ${report.rows}, accepted ${report.accepted}, rejected ${report.rejected.length}`,
      ...report.rejected.map((r) => `  row ${r.row}: ${r.reason}: ${r.message}`),
    ];
    writeResult(io, values.json ?? false, report, lines.join('\n'));
    return values.strict && report.rejected.length ? 1 : 0;
  },
};

/**
 * `simvault server define-app`: define or replace an application of the catalog.
 *
 * @example
 * ```ts
 * import { runCli } from '../run.js';
 * await runCli(['server', 'define-app', '--aid', 'a0000000871001', '--name', 'TV', '--zone', 'multimedia',
 *   '--size', '2621440', '--app-version', '2.1', '--url', 'https://ota.example/tv.bin', '--file', 'tv.bin'],
 *   { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
 * ```
 */
export const defineAppCommand: Command = {
  path: ['server', 'define-app'],
  summary: 'define or replace an application of the catalog (with its download resource)',
  help: `Usage: simvault server define-app --aid HEX --name TEXT --zone ZONE --size N --app-version V
                                [--url URL (--file PATH | --digest HEX --resource-size N)] [options]

Options:
  --aid HEX            application identifier, 5-16 bytes
  --name TEXT          menu name, 1-64 UTF-8 bytes
  --zone ZONE          operator | advertising | multimedia | user
  --size N             installed size in bytes
  --app-version V      version text, 1-16 bytes
  --url URL            download URL (omit for an application preloaded on the card)
  --file PATH          the application file: its SHA-256 and size become the resource's
  --digest HEX         SHA-256 of the file (without --file)
  --resource-size N    size of the file in bytes (without --file)
${STORE_HELP}
  --json               print the stored definition as JSON

Example:
  simvault server define-app --aid a0000000871001 --name "Mobile TV" --zone multimedia \\
    --size 2621440 --app-version 2.1 --url https://ota.example/tv-2.1.bin --file tv-2.1.bin`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      aid: { type: 'string' },
      name: { type: 'string' },
      zone: { type: 'string' },
      size: { type: 'string' },
      'app-version': { type: 'string' },
      url: { type: 'string' },
      file: { type: 'string' },
      digest: { type: 'string' },
      'resource-size': { type: 'string' },
      json: { type: 'boolean' },
      ...STORE_OPTIONS,
    });
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const need = (k: 'aid' | 'name' | 'zone' | 'size' | 'app-version') => {
      const v = values[k];
      if (v === undefined) throw new UsageError(`--${k} is required`);
      return v;
    };
    const integer = (k: string, v: string) => {
      if (!/^[0-9]{1,15}$/.test(v)) throw new UsageError(`--${k} must be a non-negative integer`);
      return Number(v);
    };
    let resource: Record<string, unknown> | undefined;
    if (values.url !== undefined) {
      if (values.file !== undefined) {
        const bytes = readFileSync(values.file);
        resource = {
          url: values.url,
          digest: createHash('sha256').update(bytes).digest('hex'),
          size: bytes.length,
        };
      } else {
        if (values.digest === undefined || values['resource-size'] === undefined) {
          throw new UsageError('--url needs --file, or both --digest and --resource-size');
        }
        resource = {
          url: values.url,
          digest: values.digest,
          size: integer('resource-size', values['resource-size']),
        };
      }
    } else if (
      values.file !== undefined ||
      values.digest !== undefined ||
      values['resource-size'] !== undefined
    ) {
      throw new UsageError(
        '--file, --digest and --resource-size describe a download resource: give --url too',
      );
    }
    const app = parseApplication({
      aid: need('aid'),
      name: need('name'),
      zone: need('zone'),
      size: integer('size', need('size')),
      version: need('app-version'),
      ...(resource ? { resource } : {}),
    });
    await withService(locationOf(values), (s) => s.defineApplication(app));
    writeResult(
      io,
      values.json ?? false,
      app,
      `defined ${app.aid} ${app.name} (${app.zone}${app.resource ? `, ${app.resource.size} bytes at ${app.resource.url}` : ', preloaded'})`,
    );
  },
};

/**
 * `simvault server offer NAME AID...`: define an offer, and give it to cards.
 *
 * @example
 * ```ts
 * import { runCli } from '../run.js';
 * await runCli(['server', 'offer', 'basic', 'a0000000871001', '--apply', '035344535530314780401c751300637d'],
 *   { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
 * ```
 */
export const offerCommand: Command = {
  path: ['server', 'offer'],
  summary: 'define an offer (a named list of applications) and optionally give it to cards',
  help: `Usage: simvault server offer NAME AID... [--apply CID]... [options]

Defines (or replaces) offer NAME as the applications AID..., in menu order. Every AID must be
defined (simvault server define-app). With --apply, the listed cards get the offer's
applications, replacing theirs; cards imported later with offer NAME get them on import.

Options:
  --apply CID          give the offer to this card (repeatable)
${STORE_HELP}
  --json               print the result as JSON

Example:
  simvault server offer basic a0000000871001 a000000087300001 --apply 035344535530314780401c751300637d`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      apply: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      ...STORE_OPTIONS,
    });
    const [nameText, ...aidTexts] = positionals;
    if (nameText === undefined || aidTexts.length === 0)
      throw new UsageError('offer takes a NAME and at least one AID');
    const name = parseOfferName(nameText);
    const aids = aidTexts.map((a, i) => parseAid(a, `AID ${i + 1}`));
    const cids = (values.apply ?? []).map((c) => parseCidKey(c, '--apply'));
    const result = await withService(locationOf(values), async (s) => {
      const offer = await s.defineOffer(name, aids);
      return {
        ...offer,
        ...(cids.length ? await s.applyOffer(name, cids) : { applied: 0, unknownCards: [] }),
      };
    });
    const unknown = result.unknownCards.length
      ? `, unknown: ${result.unknownCards.join(', ')}`
      : '';
    const applied = cids.length ? `; given to ${result.applied} card(s)${unknown}` : '';
    writeResult(
      io,
      values.json ?? false,
      result,
      `offer ${name}: ${result.aids.join(', ')}${applied}`,
    );
    return result.unknownCards.length ? 1 : 0;
  },
};

/**
 * `simvault server lifecycle CID STATE`: change a card's lifecycle state (and stage).
 *
 * @example
 * ```ts
 * import { runCli } from '../run.js';
 * await runCli(['server', 'lifecycle', '035344535530314780401c751300637d', 'blocked', '--stage', 'reported stolen'],
 *   { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
 * ```
 */
export const lifecycleCommand: Command = {
  path: ['server', 'lifecycle'],
  summary: "change a card's lifecycle state (issued, active, blocked, retired) and stage",
  help: `Usage: simvault server lifecycle CID STATE [--stage LABEL] [options]

Sets the card's lifecycle state: issued | active | blocked | retired. Blocked and retired cards
are refused by verify, bind, launch and delete.

Options:
  --stage LABEL        also set the lifecycle stage label
${STORE_HELP}
  --json               print the card as JSON

Example:
  simvault server lifecycle 035344535530314780401c751300637d blocked --stage "reported stolen"`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      stage: { type: 'string' },
      json: { type: 'boolean' },
      ...STORE_OPTIONS,
    });
    if (positionals.length !== 2) throw new UsageError('lifecycle takes a CID and a STATE');
    const cid = parseCidKey(positionals[0]);
    const state = parseLifecycleState(positionals[1]);
    const stage = values.stage === undefined ? undefined : parseLabel(values.stage, '--stage');
    const card = await withService(locationOf(values), (s) => s.setLifecycle(cid, state, stage));
    writeResult(io, values.json ?? false, card, `${card.cid} ${card.state} (${card.stage})`);
  },
};

/**
 * `simvault server report`: downloads, stored files and deletions per application.
 *
 * @example
 * ```ts
 * import { runCli } from '../run.js';
 * await runCli(['server', 'report', '--json'], { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
 * ```
 */
export const reportCommand: Command = {
  path: ['server', 'report'],
  summary: 'downloads, stored files and deletions per application',
  help: `Usage: simvault server report [options]

Prints, per application of the catalog: downloads launched, cards holding the file now, and
deletions commanded (most downloaded first).

Options:
${STORE_HELP}
  --json               print the rows as JSON`,
  async run(args, io: CliIO) {
    const { values, positionals } = parseCommandArgs(args, {
      json: { type: 'boolean' },
      ...STORE_OPTIONS,
    });
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const rows = await withService(locationOf(values), (s) => s.downloadReport());
    const table = [
      'aid                               downloads  stored  deletes  name',
      ...rows.map(
        (r) =>
          `${r.aid.padEnd(32)}  ${String(r.downloads).padStart(9)}  ${String(r.stored).padStart(6)}  ${String(r.deletes).padStart(7)}  ${r.name}`,
      ),
    ];
    writeResult(io, values.json ?? false, rows, table.join('\n'));
  },
};

/**
 * `simvault server put-file NAME PATH`: store an application file for download from the OTA
 * server (streamed from disk, stored by its SHA-256), straight in the files folder.
 *
 * @example
 * ```ts
 * import { runCli } from '../run.js';
 * await runCli(['server', 'put-file', 'tv-2.1.bin', './tv-2.1.bin', '--data', './simvault-data'], { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
 * ```
 */
export const putFileCommand: Command = {
  path: ['server', 'put-file'],
  summary: 'store an application file the OTA server serves at /v1/files/NAME',
  help: `Usage: simvault server put-file NAME PATH [options]

Copies PATH into the OTA server's files folder as NAME (1-128 of A-Z a-z 0-9 . _ -), replacing
a file of that name atomically. Handsets download it from /v1/files/NAME with Range, ETag and a
SHA-256 digest; use that URL and the printed digest and size in "server define-app".

Options:
  --files DIR          files folder (default DATA/files)
  --data DIR           data folder (default ./simvault-data)
  --json               print the stored file's information as JSON`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      files: { type: 'string' },
      data: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (positionals.length !== 2) throw new UsageError('put-file takes a NAME and a PATH');
    const [name, path] = positionals as [string, string];
    const files = new FileStore(values.files ?? join(values.data ?? 'simvault-data', 'files'));
    const info = await files.put(fileNameOf(name), createReadStream(path));
    writeResult(
      io,
      values.json ?? false,
      info,
      `${info.name}: ${info.size} bytes, sha256 ${info.sha256}`,
    );
  },
};

/**
 * `simvault server sim ICCID CONFIG`: provision (or reconfigure) a SIM on the OTA server from a
 * JSON file: its TAR, keysets, minimum security level and MSISDN.
 *
 * @example
 * ```ts
 * import { runCli } from '../run.js';
 * await runCli(['server', 'sim', '89860012345678901234', 'sim.json'], { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
 * ```
 */
export const simCommand: Command = {
  path: ['server', 'sim'],
  summary: 'provision a SIM on the OTA server: TAR, keysets, minimum security level',
  help: `Usage: simvault server sim ICCID CONFIG.json [options]

CONFIG.json: {"tar": "b00010", "msisdn": "8613800000001",
  "keysets": [{"version": 1, "algorithm": "aes", "kic": "<hex>", "kid": "<hex>"}],
  "minimumSecurity": {"ciphering": true, "integrity": "cc", "counter": "must-be-higher"}}
Counters of existing key versions are kept.

Options:
${STORE_HELP}
${KEK_HELP}
  --json               print the configuration (without keys) as JSON`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      json: { type: 'boolean' },
      ...STORE_OPTIONS,
      ...KEK_OPTIONS,
    });
    if (positionals.length !== 2) throw new UsageError('sim takes an ICCID and a CONFIG file');
    const iccid = parseIccid(positionals[0]);
    let config: unknown;
    try {
      config = JSON.parse(readFileSync(positionals[1]!, 'utf8'));
    } catch (e) {
      throw new UsageError(`${positionals[1]}: ${(e as Error).message}`);
    }
    const sim = parseSimConfig(iccid, config);
    const store = await openOtaStore(locationOf(values));
    try {
      const { created } = await store.putSim(sim, Date.now());
      writeResult(
        io,
        values.json ?? false,
        simConfigToJSON(sim),
        `${created ? 'provisioned' : 'updated'} SIM ${iccid}`,
      );
    } finally {
      await store.close();
    }
  },
};

/**
 * `simvault server rotate-kek`: rewrap every sealed OTA key under a new key-encryption key, in
 * one transaction (a crash leaves the database under the old KEK or the new one).
 *
 * @example
 * ```ts
 * import { runCli } from '../run.js';
 * await runCli(['server', 'rotate-kek', '--data', './simvault-data'], { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
 * ```
 */
export const rotateKekCommand: Command = {
  path: ['server', 'rotate-kek'],
  summary: 'rewrap the sealed OTA keys under a new key-encryption key (crash-safe)',
  help: `Usage: simvault server rotate-kek [--kek-file OLD] [--new-kek-file NEW] [options]

Rewraps every sealed OTA key from the old key-encryption key (found as the servers find it:
--kek-file, SIMVAULT_KEK, or DATA/kek) to the new one, in one transaction: a crash leaves the
database under the old KEK or the new one, and running the command again finishes the job.
Stop the servers first, and start them with the new KEK after.

With the default DATA/kek and no --new-kek-file, a fresh KEK is written to DATA/kek.next, the
database is rewrapped under it, and DATA/kek.next replaces DATA/kek. Otherwise --new-kek-file
names the new KEK's file (created with a fresh key if it does not exist): keep the old file
until every server runs with the new one.

Options:
  --kek-file OLD       the current key-encryption key (default SIMVAULT_KEK, else DATA/kek)
  --new-kek-file NEW   the new key-encryption key
${STORE_HELP}
  --json               print the result as JSON

Example:
  simvault server rotate-kek --db postgres://postgres@127.0.0.1:5432/test \\
    --kek-file /run/secrets/kek-2025 --new-kek-file /run/secrets/kek-2026`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      'new-kek-file': { type: 'string' },
      json: { type: 'boolean' },
      ...STORE_OPTIONS,
      ...KEK_OPTIONS,
    });
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const note = streamLineWriter(io.stderr);
    const newFile = values['new-kek-file'];
    const result = await rotateOtaKek(locationOf(values), {
      ...(newFile !== undefined ? { next: { file: newFile } } : {}),
      onProgress: (done, total) => {
        note(`rewrapped ${done}/${total} keysets\n`);
      },
    });
    writeResult(
      io,
      values.json ?? false,
      result,
      result.rewrapped === 0 && result.from === result.to
        ? `already under KEK ${result.to} (${result.source})`
        : `rewrapped ${result.rewrapped} keyset(s) from KEK ${result.from ?? '(clear)'} to ${result.to} (${result.source})`,
    );
  },
};

/**
 * Every `simvault server` command, for the command registry.
 *
 * @example
 * ```ts
 * import { SERVER_COMMANDS } from './server.js';
 * SERVER_COMMANDS.map((c) => c.path.join(' '));
 * ```
 */
export const SERVER_COMMANDS: Command[] = [
  serverCommand,
  importCardsCommand,
  defineAppCommand,
  offerCommand,
  lifecycleCommand,
  reportCommand,
  putFileCommand,
  simCommand,
  rotateKekCommand,
];
