/**
 * `simvault demo`: the whole patent end to end on embedded defaults, runnable on a fresh clone
 * (`npm start`). It starts the card application server and the OTA server on loopback with
 * SQLite in a temporary folder (as `simvault server` does), provisions a card, an application
 * file, an offer and a SIM, creates a card image, and drives a {@link Handset} through bind,
 * launch/download/store, delete and unbind over real HTTP — then checks the stored file's SHA-256
 * against the source and the server's download records. The crypto round trip that used to be
 * `simvault demo` is `simvault demo crypto`.
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromHex, toHex } from '../../bytes.js';
import { ArgumentError } from '../../errors.js';
import { encodeCid } from '../../protocol/cid.js';
import type { Zone } from '../../protocol/messages.js';
import { Handset, type HandsetEvent, type HandsetOptions } from '../../handset/index.js';
import { openImage } from '../../node/open-image.js';
import type { SigningKey } from '../../server/auth.js';
import { CardAppClient } from '../../server/card-app/client.js';
import { startCardAppServer } from '../../server/card-app/start.js';
import { loadOrCreateKeys } from '../../server/keys.js';
import { startOtaServer } from '../../server/ota/start.js';
import { OtaAdminClient } from '../../server/ota/admin-client.js';
import { SimCard } from '../../sim/applet/sim-card.js';
import { personalizeSim, type OtaProvisioning } from '../../sim/applet/personalize.js';
import type { SimState } from '../../sim/applet/state.js';
import { parseCommandArgs, UsageError, writeResult, type Command } from '../command.js';

/**
 * Both operator servers running on loopback over one SQLite registry in `dataDir`.
 *
 * @example
 * ```ts
 * import { startOperator } from './demo.js';
 * const op = await startOperator('/tmp/op');
 * console.log(op.cardAppUrl, op.otaUrl);
 * await op.close();
 * ```
 */
export interface Operator {
  /** Base URL of the card application server. */
  cardAppUrl: string;
  /** Base URL of the OTA server. */
  otaUrl: string;
  /** The operator signing key (provisioning). */
  operatorKey: SigningKey;
  /** A client of the card application server signed with the operator key. */
  cardApp: CardAppClient;
  /** A client of the OTA server's operator endpoints. */
  ota: OtaAdminClient;
  /** Stop both servers (OTA first) and close the registry. */
  close(): Promise<void>;
}

/**
 * Start the card application server and the OTA server as `simvault server` does: keys in
 * `DATA/keys.json`, registry and OTA tables in `DATA/registry.sqlite`, files in `DATA/files`.
 *
 * @param dataDir - the data folder (must exist)
 * @param options - per-SIM/per-CID rate limit (default generous: a demo is one busy phone)
 *
 * @example
 * ```ts
 * import { startOperator } from './demo.js';
 * const op = await startOperator('/tmp/op');
 * await op.close();
 * ```
 */
export async function startOperator(
  dataDir: string,
  options: { rateLimit?: { capacity: number; refillPerSecond: number } } = {},
): Promise<Operator> {
  const keys = await loadOrCreateKeys(join(dataDir, 'keys.json'));
  const operatorKey = keys.find((k) => k.role === 'operator');
  if (!operatorKey) throw new ArgumentError(`${join(dataDir, 'keys.json')} holds no operator key`);
  const rateLimit = options.rateLimit ?? { capacity: 1000, refillPerSecond: 1000 };
  const cardApp = await startCardAppServer({ store: { dataDir }, keys, port: 0, rateLimit });
  let ota;
  try {
    ota = await startOtaServer({
      store: { dataDir },
      keys,
      cardAppUrl: cardApp.url,
      port: 0,
      rateLimit,
      pollIntervalMs: 100,
    });
  } catch (e) {
    await cardApp.close();
    throw e;
  }
  const running = ota;
  return {
    cardAppUrl: cardApp.url,
    otaUrl: running.url,
    operatorKey,
    cardApp: new CardAppClient({ baseUrl: cardApp.url, operatorKey }),
    ota: new OtaAdminClient({ baseUrl: running.url, operatorKey }),
    async close() {
      await running.close();
      await cardApp.close();
    },
  };
}

/**
 * Upload an application file to the OTA server (`PUT /v1/admin/files/NAME?sha256=…`, signed).
 *
 * @param op - the operator's servers
 * @param name - the file's name on the OTA server
 * @param bytes - its content
 *
 * @example
 * ```ts
 * import { startOperator, uploadFile } from './demo.js';
 * const op = await startOperator('/tmp/op');
 * const url = await uploadFile(op, 'tv.bin', new Uint8Array(1000));
 * ```
 */
export async function uploadFile(op: Operator, name: string, bytes: Uint8Array): Promise<string> {
  return (await op.ota.uploadFile(name, bytes)).url;
}

/**
 * Provision a SIM on the OTA server from the JSON {@link personalizeSim} returned.
 *
 * @param op - the operator's servers
 * @param ota - the SIM's OTA provisioning
 *
 * @example
 * ```ts
 * import { personalizeSim } from '../../sim/applet/personalize.js';
 * import { startOperator, provisionSim } from './demo.js';
 * const op = await startOperator('/tmp/op');
 * await provisionSim(op, personalizeSim({ iccid: '89860012345678901234' }).ota);
 * ```
 */
export async function provisionSim(op: Operator, ota: OtaProvisioning): Promise<void> {
  await op.ota.putSim(ota);
}

/**
 * What {@link provisionDemo} set up.
 *
 * @example
 * ```ts
 * import type { DemoWorld } from './demo.js';
 * const line = (w: DemoWorld) => `${w.app.name} for card ${toHex(w.cid)}`;
 * ```
 */
export interface DemoWorld {
  /** The registered card's CID register. */
  cid: Uint8Array;
  /** The SIM's ICCID. */
  iccid: string;
  /** The personalized SIM's state (load it into a `SimCard`). */
  simState: SimState;
  /** The application offered to the card. */
  app: {
    /** AID, hex. */
    aid: string;
    /** Menu name. */
    name: string;
    /** Zone. */
    zone: Zone;
    /** Download URL. */
    url: string;
    /** The file's content. */
    bytes: Uint8Array;
    /** Its SHA-256, hex. */
    sha256: string;
  };
}

/**
 * Provision a demo: an application file uploaded to the OTA server, the application and an offer
 * of it at the card application server, a card registered (active) with the offer, and a SIM
 * personalized and provisioned on the OTA server.
 *
 * @param op - the operator's servers
 * @param options - the file size, the card's serial number, the application's zone, the SIM's threshold
 *
 * @example
 * ```ts
 * import { startOperator, provisionDemo } from './demo.js';
 * const op = await startOperator('/tmp/op');
 * const world = await provisionDemo(op, { fileBytes: 1 << 20 });
 * ```
 */
export async function provisionDemo(
  op: Operator,
  options: {
    fileBytes?: number;
    psn?: number;
    zone?: Zone;
    iccid?: string;
    unbindRule?: 'mask' | 'delete';
  } = {},
): Promise<DemoWorld> {
  const bytes = new Uint8Array(randomBytes(options.fileBytes ?? 1 << 20));
  const name = 'mobile-tv-2.1.bin';
  const url = await uploadFile(op, name, bytes);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const app = {
    aid: 'a0000000871001',
    name: 'Mobile TV',
    zone: options.zone ?? 'multimedia',
    url,
    bytes,
    sha256,
  };
  await op.cardApp.defineApplication({
    aid: app.aid,
    name: app.name,
    zone: app.zone,
    size: bytes.length,
    version: '2.1',
    resource: { url, digest: sha256, size: bytes.length },
  });
  await op.cardApp.defineOffer('demo', [app.aid]);
  const cid = encodeCid({
    mid: 0x03,
    oid: 'SD',
    pnm: 'SU16G',
    prv: { major: 8, minor: 0 },
    psn: options.psn ?? 0x00c0ffee,
    mdt: { year: 2024, month: 5 },
    crc: 'valid',
  });
  await op.cardApp.importCards(
    JSON.stringify([{ cid: toHex(cid), state: 'active', stage: 'sold', offer: 'demo' }]),
    'json',
  );
  const iccid = options.iccid ?? '89860012345678901234';
  const { state, ota } = personalizeSim({
    iccid,
    imsi: '460001234567890',
    maxCards: 2,
    policy: 'lru',
    ...(options.unbindRule ? { unbindRule: options.unbindRule } : {}),
  });
  await provisionSim(op, ota);
  return { cid, iccid, simState: state, app };
}

/**
 * The outcome of one demo run, as `--json` prints it.
 *
 * @example
 * ```ts
 * import type { DemoReport } from './demo.js';
 * const ok = (r: DemoReport) => r.verified;
 * ```
 */
export interface DemoReport {
  /** Every step, with its patent step number. */
  steps: HandsetEvent[];
  /** The checks the demo makes, each true or false. */
  checks: Record<string, boolean>;
  /** The application file. */
  file: {
    /** Its size in bytes. */
    size: number;
    /** SHA-256 of the source. */
    sourceSha256: string;
    /** SHA-256 of the file as read back from the card. */
    storedSha256: string;
    /** The card zone it went to. */
    zone: Zone;
  };
  /** The card application server's download report row for the application. */
  report: { downloads: number; stored: number; deletes: number } | null;
  /** Wall time in milliseconds. */
  elapsedMs: number;
  /** Whether every check passed. */
  verified: boolean;
}

/**
 * Run the demo in a temporary folder; resolves to its report (never throws for a failed check:
 * `verified` says) and the folder (gone unless `keep`).
 *
 * @param options - file size, image size, and where each step is told
 *
 * @example
 * ```ts
 * import { runDemo } from './demo.js';
 * const { report } = await runDemo({ fileBytes: 256 * 1024 });
 * report.verified; // true
 * ```
 */
export async function runDemo(
  options: {
    fileBytes?: number;
    imageBytes?: number;
    keep?: boolean;
    onStep?: (e: HandsetEvent) => void;
    handset?: Partial<HandsetOptions>;
  } = {},
): Promise<{ report: DemoReport; dir: string }> {
  const started = performance.now();
  const dir = await mkdtemp(join(tmpdir(), 'simvault-e2e-'));
  const steps: HandsetEvent[] = [];
  const step = (e: HandsetEvent) => {
    steps.push(e);
    options.onStep?.(e);
  };
  const checks: Record<string, boolean> = {};
  let op: Operator | undefined;
  let phone: Handset | undefined;
  try {
    op = await startOperator(dir);
    step({
      step: 'setup',
      text: `card application server ${op.cardAppUrl}, OTA server ${op.otaUrl} (SQLite in ${dir})`,
    });
    const world = await provisionDemo(op, { fileBytes: options.fileBytes ?? 1 << 20 });
    step({
      step: 'setup',
      text: `provisioned card ${toHex(world.cid)}, application "${world.app.name}" (${world.app.bytes.length} bytes), SIM ${world.iccid}`,
    });
    const device = await openImage(join(dir, 'card.img'), {
      create: options.imageBytes ?? 16 << 20,
    });
    phone = new Handset({
      sim: new SimCard(world.simState),
      iccid: world.iccid,
      otaUrl: op.otaUrl,
      cardAppUrl: op.cardAppUrl,
      card: { device, cid: world.cid },
      onEvent: step,
      pollWaitSeconds: 1,
      checkpointBytes: 256 * 1024,
      ...options.handset,
    });
    const inserted = await phone.insertCard();
    checks['card bound and mounted'] =
      inserted.binding === 'new' && inserted.formatted && phone.menu.includes(world.app.name);
    const launched = await phone.launch(fromHex(world.app.aid));
    const stored = await phone.card!.zone(launched.zone).readFile(launched.file);
    const storedSha256 = createHash('sha256').update(stored).digest('hex');
    checks['stored file matches the source (SHA-256)'] =
      storedSha256 === world.app.sha256 && stored.length === world.app.bytes.length;
    checks['card application server counted the download'] = launched.serverOutcome === 'stored';
    step({
      step: 'verify',
      text: `card holds ${stored.length} bytes, sha256 ${storedSha256} ${checks['stored file matches the source (SHA-256)'] ? '= source' : '!= source'}`,
    });
    const deleted = await phone.deleteApp(fromHex(world.app.aid));
    checks['file deleted from the card'] =
      deleted.zone === launched.zone &&
      !(await phone.card!.zone(launched.zone).exists(launched.file));
    const rows = await op.cardApp.downloadReport();
    const row = rows.find((r) => r.aid === world.app.aid);
    const report = row
      ? { downloads: row.downloads, stored: row.stored, deletes: row.deletes }
      : null;
    checks['server records: 1 download, 1 delete, 0 stored'] =
      report?.downloads === 1 && report.deletes === 1 && report.stored === 0;
    const unbound = await phone.unbind({ erase: true });
    checks['card unbound and crypto-erased'] =
      unbound.erased && !phone.menu.includes(world.app.name);
    const verified = Object.values(checks).every(Boolean);
    step({
      step: 'done',
      text: verified
        ? 'end-to-end verified'
        : `NOT verified: ${Object.keys(checks)
            .filter((k) => !checks[k])
            .join('; ')}`,
    });
    return {
      dir,
      report: {
        steps,
        checks,
        file: {
          size: world.app.bytes.length,
          sourceSha256: world.app.sha256,
          storedSha256,
          zone: launched.zone,
        },
        report,
        elapsedMs: Math.round(performance.now() - started),
        verified,
      },
    };
  } finally {
    await phone?.removeCard().catch(() => undefined);
    await op?.close();
    if (!options.keep) await rm(dir, { recursive: true, force: true });
  }
}

/** What the demo suggests when it is done: the commands and guides that go one step further. */
const NEXT_STEPS = `Try next:
  simvault demo --keep                   keep the registry, the files and the card image
  simvault sim create sim.json           personalize an emulated SIM of your own
  simvault card create card.img --size 64M --sim sim.json --cid random
                                         a card image bound to that SIM (then card put/ls/get)
  simvault server --data ./operator      run both operator servers yourself
  docs/guide-handset.md                  card + SIM + handset from your own code, step by step`;

/**
 * `simvault demo`: the end-to-end demo. Exit status 0 only when every check passed.
 *
 * @example
 * ```ts
 * import { runCli } from '../run.js';
 * await runCli(['demo', '--json'], { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
 * ```
 */
export const demoCommand: Command = {
  path: ['demo'],
  summary:
    'end to end: servers, SIM, card — bind, download, store, delete, unbind, verified (npm start)',
  help: `Usage: simvault demo [--size KIB] [--json] [--keep]

Starts the card application server and the OTA server on 127.0.0.1 with SQLite in a temporary
folder, provisions a card, an application file, an offer and a SIM, creates a card image, and
runs the patent's flows through a handset over real HTTP:
  301-311 insert the card, verify it, bind it to the SIM, format and mount it
  501-505 launch the application, download it from the OTA server into its card zone, report it
          verify  the stored file's SHA-256 against the source
  601-606 delete the application from the card
  401-405 unbind the card (and crypto-erase it)
Prints each step with its patent step number and "end-to-end verified" when every check passed.

Options:
  --size KIB   size of the application file in KiB (default 1024)
  --json       print the report as JSON (steps, checks, digests, server counts)
  --keep       keep the temporary folder (registry, files, card image) and print its path

See also: simvault demo crypto (the encryption round trip with every suite).`,
  async run(args, io) {
    const { values } = parseCommandArgs(
      args,
      { size: { type: 'string' }, json: { type: 'boolean' }, keep: { type: 'boolean' } },
      false,
    );
    const kib = Number(values.size ?? '1024');
    if (!Number.isInteger(kib) || kib < 1 || kib > 8192)
      throw new UsageError('--size must be a whole number of KiB from 1 to 8192');
    const json = values.json === true;
    const { report, dir } = await runDemo({
      fileBytes: kib * 1024,
      imageBytes: Math.max(16 << 20, Math.ceil((kib * 1024 * 4) / (1 << 20)) << 20),
      keep: values.keep === true,
      ...(json
        ? {}
        : { onStep: (e: HandsetEvent) => void io.stdout.write(`[${e.step}] ${e.text}\n`) }),
    });
    if (values.keep) io.stderr.write(`kept ${dir}\n`);
    if (json) writeResult(io, true, report, '');
    else
      io.stdout.write(
        `${report.verified ? 'end-to-end verified' : 'end-to-end NOT verified'} in ${(report.elapsedMs / 1000).toFixed(1)} s\n\n${NEXT_STEPS}\n`,
      );
    return report.verified ? 0 : 1;
  },
};
