/**
 * `simvault card create|info|put|get|ls|rm|mv|fsck IMAGE …`: a card image from the shell.
 *
 * The image is the card: its header records the card identity it was formatted for, so every
 * command but `create` takes the CID from there unless `--cid` overrides it. Keys come from the
 * SIM's binding key (`--key KEYFILE`), turned into the card's keys by `deriveCardKeys`, or an
 * emulated SIM's state file (`--sim STATE`), which hands out a bound card's keys and anchors its
 * zones' generations. Key sources are resolved in one place ({@link keySource}).
 *
 * Results go to stdout (JSON with `--json`), progress and errors to stderr; exit 0 on success,
 * 1 on failure (a stable error code on stderr), 2 on a bad command line.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { toHex } from '../../bytes.js';
import { ArgumentError, CardError, IoError } from '../../errors.js';
import { ZONES, type Zone } from '../../crypto/keys.js';
import { SUITES, type SuiteName } from '../../crypto/suites.js';
import { formatCard, readCardInfo, type CardInfo } from '../../card/card.js';
import { fsck, type FsckReport } from '../../card/fsck.js';
import type { CardZone, FileInfo } from '../../card/zone.js';
import { BLOCK_SIZE } from '../../card/layout.js';
import { MAX_TAG_BYTES } from '../../card/file-table.js';
import { DEFAULT_SEGMENT_SIZE, segmentPath } from '../../node/segmented-device.js';
import { lockImage } from '../../node/image-lock.js';
import { openImage } from '../../node/open-image.js';
import { writeOutput } from '../../node/files.js';
import { parseCommandArgs, UsageError, writeResult, type CliIO, type Command } from '../command.js';
import { refuseTerminalInput } from '../io.js';
import {
  bindImage,
  CARD_OPTIONS,
  cidFor,
  keySource,
  newCardKeys,
  randomCid,
  withCard,
  withDevice,
} from '../card-session.js';
import {
  BACKEND_CHOICES,
  backendOption,
  parseCid,
  parseSize,
  parseZones,
  parseRange,
  positionals,
  zoneOption,
} from '../options.js';
import { formatBytes, ProgressBar } from '../progress.js';

function wantsProgress(io: CliIO, flag: boolean | undefined, json: boolean | undefined): boolean {
  if (flag) return true;
  return !json && (io.stderr as { isTTY?: boolean }).isTTY === true;
}

function fileJson(zone: Zone, f: FileInfo): Record<string, unknown> {
  return {
    zone,
    name: f.name,
    size: f.size,
    storedBytes: f.storedBytes,
    mtime: new Date(f.mtime).toISOString(),
    fileId: f.fileId,
  };
}

// --- create -------------------------------------------------------------------------------

async function removeImage(
  path: string,
  size: number,
  segmentSize: number,
  segmented: boolean,
): Promise<void> {
  const count = segmented ? Math.floor(size / segmentSize) + 1 : 1;
  for (let i = 0; i < count; i++) await rm(segmentPath(path, i), { force: true });
}

/**
 * `simvault card create IMAGE --size SIZE --key KEYFILE --cid HEX|random …`
 *
 * @example
 * ```ts
 * await runCli(['card', 'create', 'card.img', '--size', '64M', '--key', 'sim.key', '--cid', 'random'], io);
 * ```
 */
export const cardCreateCommand: Command = {
  path: ['card', 'create'],
  summary: 'format a new card image (four encrypted zones)',
  help: `Usage: simvault card create IMAGE --size SIZE --key KEYFILE --cid HEX|random [options]

Creates IMAGE (refusing to overwrite one) and formats it as a card bound to the SIM key and CID.
An image of at least the segment size is split into FAT32-sized segment files IMAGE, IMAGE.001, …

Options:
  --size SIZE            image size, a multiple of 4 KiB (suffixes K, M, G, T: 64M)
  --key KEYFILE          the SIM's 32-byte binding key (simvault keygen)
  --sim STATE            or an emulated SIM's state file: the new card is bound to that SIM
                         (offline, for development) and its zones' generations anchored there
  --cid HEX|random       the card's CID: 32 hex digits, 30 for its identity, or 'random'
  --zones LIST           zone quotas, e.g. operator=8M,advertising=8M,multimedia=24M,user=24M;
                         zones left out share the rest (10/10/40/40)
  --suite NAME           ${Object.keys(SUITES).join(' | ')} (default cobblestone-256)
  --fill random|zero     what free space holds (default random: used and free look alike)
  --segment-size SIZE    split into segments of this size (default 4095M)
  --backend NAME         ${BACKEND_CHOICES.join(' | ')} (default auto)
  --json                 print the result as JSON

Example:
  simvault keygen sim.key
  simvault card create card.img --size 64M --key sim.key --cid random`,
  async run(args, io) {
    const { values, positionals: pos } = parseCommandArgs(args, {
      ...CARD_OPTIONS,
      size: { type: 'string' },
      zones: { type: 'string' },
      suite: { type: 'string' },
      fill: { type: 'string' },
      'segment-size': { type: 'string' },
    });
    const [image] = positionals(
      pos,
      1,
      1,
      'simvault card create IMAGE --size SIZE --key KEYFILE --cid HEX|random',
    );
    if (values.size === undefined) throw new UsageError('--size SIZE is required');
    const size = parseSize(values.size, '--size');
    if (size === 0 || size % BLOCK_SIZE !== 0)
      throw new UsageError(`--size must be a positive multiple of ${BLOCK_SIZE} bytes`);
    if (values.cid === undefined)
      throw new UsageError('--cid HEX is required (or --cid random for a made-up card)');
    const cid = values.cid === 'random' ? randomCid() : parseCid(values.cid);
    const zones = values.zones === undefined ? {} : parseZones(values.zones);
    const suite = (values.suite ?? 'cobblestone-256') as SuiteName;
    if (!(suite in SUITES))
      throw new UsageError(`--suite must be one of ${Object.keys(SUITES).join(', ')}`);
    const fill = values.fill ?? 'random';
    if (fill !== 'random' && fill !== 'zero') throw new UsageError('--fill must be random or zero');
    const segmentSize =
      values['segment-size'] === undefined
        ? DEFAULT_SEGMENT_SIZE
        : parseSize(values['segment-size'], '--segment-size');
    if (segmentSize === 0 || segmentSize % 512 !== 0)
      throw new UsageError('--segment-size must be a positive multiple of 512 bytes');
    const backend = backendOption(values.backend);
    const { keys, commit } = await newCardKeys(values, cid);

    const release = await lockImage(image!);
    try {
      const device = await openImage(image!, { create: size, segmentSize });
      const segmented = size >= segmentSize;
      try {
        await formatCard(device, { cid, keys, suite, zones, fill, backend });
        // A fresh card starts every zone at generation 1; the SIM anchors that.
        await commit(Object.fromEntries(ZONES.map((z) => [z, 1])));
        await device.close();
      } catch (e) {
        await device.close().catch(() => undefined);
        await removeImage(image!, size, segmentSize, segmented);
        // The layout refuses sizes the command line gave (too small a card or zone): a usage
        // error, like any other bad --size.
        if (e instanceof ArgumentError && e.code === 'INVALID_ARGUMENT')
          throw new UsageError(`--size ${values.size} / --zones: ${e.message}`);
        throw e;
      }
    } finally {
      await release();
    }
    const segmented = size >= segmentSize;
    const info = await withDevice(image!, readCardInfo, true);
    const result = {
      image,
      size,
      segments: segmented ? Math.floor(size / segmentSize) + 1 : 1,
      cid: toHex(cid),
      suite: info.suite,
      zones: info.zones.map((z) => ({ zone: z.zone, capacity: z.capacity })),
    };
    writeResult(
      io,
      values.json === true,
      result,
      [
        `created ${image}: ${formatBytes(size)}${segmented ? ` in ${result.segments} segments` : ''}, CID ${result.cid}, suite ${info.suite}`,
        ...result.zones.map((z) => `  ${z.zone.padEnd(12)}${formatBytes(z.capacity)}`),
      ].join('\n'),
    );
  },
};

// --- bind ---------------------------------------------------------------------------------

/**
 * `simvault card bind IMAGE --sim STATE [--cid HEX]`
 *
 * @example
 * ```ts
 * await runCli(['card', 'bind', 'card.img', '--sim', 'sim.json'], io);
 * ```
 */
export const cardBindCommand: Command = {
  path: ['card', 'bind'],
  summary: "bind a card image to an emulated SIM's state file, offline (development)",
  help: `Usage: simvault card bind IMAGE --sim STATE [--cid HEX] [--json]

Development and tests only: binds the card IMAGE stands for to the emulated SIM of STATE without
the operator's servers (a real SIM binds only through the secured bind flow of 'simvault demo').
The card is the one the image header names (or --cid); the SIM must derive the keys the image was
formatted with, else nothing is bound (CARD_WRONG_SIM). The card's current zone generations are
anchored in the SIM. Binding a card the SIM already holds changes nothing. 'card create --sim'
binds the card it creates by itself.

Options:
  --sim STATE      the emulated SIM's state file (simvault sim create)
  --cid HEX        the card's CID (default: the identity recorded in the image)
  --json           print the result as JSON

Example:
  simvault sim create sim.json
  simvault card create card.img --size 64M --sim sim.json --cid random
  simvault card bind card.img --sim other-sim.json     # CARD_WRONG_SIM: formatted for sim.json`,
  async run(args, io) {
    const { values, positionals: pos } = parseCommandArgs(args, {
      sim: { type: 'string' },
      cid: { type: 'string' },
      json: { type: 'boolean' },
    });
    const [image] = positionals(pos, 1, 1, 'simvault card bind IMAGE --sim STATE');
    if (values.sim === undefined) throw new UsageError('--sim STATE is required');
    const sim = values.sim;
    const { cid, binding } = await withDevice(image!, async (device) => {
      const id = await cidFor(device, values);
      return { cid: id, binding: await bindImage(device, sim, id) };
    });
    writeResult(
      io,
      values.json === true,
      { image, sim, cid: toHex(cid), binding },
      binding === 'new'
        ? `bound card ${toHex(cid)} (${image}) to the SIM in ${sim}`
        : `card ${toHex(cid)} (${image}) was already bound to the SIM in ${sim}`,
    );
  },
};

// --- info ---------------------------------------------------------------------------------

/**
 * `simvault card info IMAGE [--key KEYFILE]`
 *
 * @example
 * ```ts
 * await runCli(['card', 'info', 'card.img', '--json'], io);
 * ```
 */
export const cardInfoCommand: Command = {
  path: ['card', 'info'],
  summary: "show a card image's header (with --key: capacity, files, generations)",
  help: `Usage: simvault card info IMAGE [--key KEYFILE] [options]

Without keys: what the plaintext header reveals (format version, suite, card identity, key
identifiers, zone quotas). With --key: also used and free space, file counts and generations.

Options:
  --key KEYFILE     the SIM's binding key (or --sim STATE: an emulated SIM the card is bound to)
  --cid HEX         the card's CID (default: the identity recorded in the image)
  --backend NAME    ${BACKEND_CHOICES.join(' | ')} (default auto)
  --json            print JSON`,
  async run(args, io) {
    const { values, positionals: pos } = parseCommandArgs(args, CARD_OPTIONS);
    const [image] = positionals(pos, 1, 1, 'simvault card info IMAGE [--key KEYFILE]');
    const info = await withDevice(image!, readCardInfo, true);
    // With keys: capacity, files and generations of every zone (and which zones are damaged).
    const keyed =
      values.key !== undefined || values.sim !== undefined
        ? await withCard(image!, values, (card) => {
            const cap = card.capacity();
            const gens = card.generations();
            return Promise.resolve({
              zones: info.zones.map((z) => {
                const err = card.damaged.find((d) => d.zone === z.zone)?.error;
                return {
                  ...z,
                  ...(cap.zones[z.zone] ?? {}),
                  ...(gens[z.zone] !== undefined ? { zoneGeneration: gens[z.zone] } : {}),
                  ...(err ? { damaged: `${err.code}: ${err.message}` } : {}),
                };
              }),
              total: { capacity: cap.capacity, used: cap.used, free: cap.free, files: cap.files },
              damaged: card.damaged.length > 0,
            });
          })
        : undefined;
    const result = { image, ...info, ...(keyed ? { zones: keyed.zones, total: keyed.total } : {}) };
    const zones: (CardInfo['zones'][number] & {
      used?: number;
      free?: number;
      files?: number;
      zoneGeneration?: number;
      damaged?: string;
    })[] = keyed ? keyed.zones : info.zones;
    const lines = [
      `image       ${image}`,
      `format      version ${info.version}, header generation ${info.generation}${info.writable ? '' : ' (read-only: written by an older simvault)'}`,
      `suite       ${info.suite}`,
      `card        ${info.cardIdentity}`,
      `card key    ${info.cardKeyIdentifier}`,
      ...zones.map((z) => {
        const head = `zone ${z.zone.padEnd(12)}${formatBytes(z.capacity).padStart(11)}`;
        if (z.damaged !== undefined) return `${head}  DAMAGED ${z.damaged}`;
        if (z.used === undefined) return `${head}  key ${z.keyIdentifier}`;
        return `${head}  used ${formatBytes(z.used).padStart(10)}  free ${formatBytes(z.free ?? 0).padStart(10)}  ${String(z.files).padStart(6)} files  generation ${String(z.zoneGeneration)}`;
      }),
    ];
    const total = keyed?.total;
    if (total)
      lines.push(
        `total       ${formatBytes(total.capacity)}, used ${formatBytes(total.used)}, free ${formatBytes(total.free)}, ${total.files} files`,
      );
    writeResult(io, values.json === true, result, lines.join('\n'));
    return keyed?.damaged ? 1 : 0;
  },
};

// --- put ----------------------------------------------------------------------------------

/**
 * The source tag of a file when none is given: a weak ETag from the file's device, inode, size and
 * modification time (as web servers derive theirs) — free to compute, and it changes whenever the
 * file is rewritten by normal means.
 */
async function statTag(path: string): Promise<{ size: number; tag: string }> {
  const s = await stat(path, { bigint: true });
  if (!s.isFile()) throw new IoError('IO_NOT_A_FILE', `${path}: not a regular file`, { path });
  const id = createHash('sha256')
    .update(`${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}`)
    .digest('base64url')
    .slice(0, 32);
  return { size: Number(s.size), tag: `stat:${id}` };
}

/** `sha256:` and the base64url digest of the file's contents (one extra read of the file). */
async function digestTag(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(path, { highWaterMark: 1 << 20 }))
    hash.update(piece as Buffer);
  return `sha256:${hash.digest('base64url')}`;
}

/** Drop the first `skip` bytes of a stream (a resumed put fed from standard input again). */
function skipBytes(skip: number): TransformStream<Uint8Array, Uint8Array> {
  let left = skip;
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      if (left >= chunk.length) {
        left -= chunk.length;
        return;
      }
      controller.enqueue(left > 0 ? chunk.subarray(left) : chunk);
      left = 0;
    },
    flush() {
      if (left > 0)
        throw new ArgumentError(
          `the source ended ${left} bytes before the point the interrupted put had reached`,
        );
    },
  });
}

function sourceStream(file: string, offset: number, io: CliIO): ReadableStream<Uint8Array> {
  if (file === '-') {
    const input = Readable.toWeb(io.stdin) as unknown as ReadableStream<Uint8Array>;
    return offset > 0 ? input.pipeThrough(skipBytes(offset)) : input;
  }
  return Readable.toWeb(
    createReadStream(file, { start: offset, highWaterMark: 1 << 20 }),
  ) as unknown as ReadableStream<Uint8Array>;
}

/**
 * `simvault card put IMAGE [--zone Z] NAME FILE|-`
 *
 * @example
 * ```ts
 * await runCli(['card', 'put', 'card.img', '--key', 'sim.key', 'movie.mp4', 'movie.mp4'], io);
 * ```
 */
export const cardPutCommand: Command = {
  path: ['card', 'put'],
  summary: 'store a file (or stdin) in a zone of a card image',
  help: `Usage: simvault card put IMAGE [--zone ZONE] NAME FILE|- --key KEYFILE [options]

Encrypts FILE ('-': standard input, which must not be a terminal) into the zone as NAME,
streaming in constant memory.
NAME appears only when the whole file is stored, replacing a file of that name atomically.
A put whose size is known (a FILE, or --size) and cannot fit is refused before any byte is written.

Resuming: a put with a source tag records a durable checkpoint every --checkpoint bytes. After an
interruption, run the same command with --resume: if the zone holds an interrupted put of NAME with
the same size and source tag, it continues from its last checkpoint; otherwise it starts over.
The source tag of a FILE defaults to a tag of its inode, size and modification time (free to
compute, changes when the file is rewritten); --source-tag sha256 uses the digest of its contents
instead (reads the file twice). Standard input has no tag unless --source-tag TAG is given; to
resume it, feed the whole source again (the part already stored is skipped).

Options:
  --zone ZONE          ${ZONES.join(' | ')} (default user)
  --key KEYFILE        the SIM's binding key (or --sim STATE: an emulated SIM the card is bound to)
  --cid HEX            the card's CID (default: the identity recorded in the image)
  --size SIZE          declare the size of standard input (a FILE's size is always declared)
  --source-tag TAG     identity of the source (digest or ETag, at most 64 bytes), or 'sha256'
  --resume             continue an interrupted put of NAME if it matches
  --checkpoint SIZE    checkpoint interval (default 32M; at least 16K)
  --no-overwrite       fail if NAME exists
  --progress           draw a progress bar on stderr (default: when stderr is a terminal)
  --backend NAME       ${BACKEND_CHOICES.join(' | ')} (default auto)
  --json               print the stored file's description as JSON

Examples:
  simvault card put card.img --key sim.key movie.mp4 ./movie.mp4
  tar c photos | simvault card put card.img --key sim.key --zone multimedia photos.tar -`,
  async run(args, io) {
    const { values, positionals: pos } = parseCommandArgs(args, {
      ...CARD_OPTIONS,
      zone: { type: 'string' },
      size: { type: 'string' },
      'source-tag': { type: 'string' },
      resume: { type: 'boolean' },
      checkpoint: { type: 'string' },
      'no-overwrite': { type: 'boolean' },
      progress: { type: 'boolean' },
    });
    if (pos.length === 2)
      throw new UsageError(
        `card put needs NAME and FILE: to store ${pos[1]} as ${basename(pos[1]!)}, run 'simvault card put ${pos[0]} ${basename(pos[1]!)} ${pos[1]}' (or give '-' as FILE to read standard input)`,
      );
    const [image, name, file] = positionals(
      pos,
      3,
      3,
      'simvault card put IMAGE [--zone ZONE] NAME FILE|-',
    ) as [string, string, string];
    if (file === '-') refuseTerminalInput(io, 'the data to store (give FILE, or pipe it in)');
    const zone = zoneOption(values.zone);
    let size = values.size === undefined ? undefined : parseSize(values.size, '--size');
    let tag = values['source-tag'];
    if (tag !== undefined && tag !== 'sha256' && Buffer.byteLength(tag) > MAX_TAG_BYTES)
      throw new UsageError(`--source-tag is at most ${MAX_TAG_BYTES} bytes`);
    if (file === '-') {
      if (tag === 'sha256')
        throw new UsageError(
          '--source-tag sha256 needs a FILE; give standard input a tag of your own',
        );
      if (values.resume && tag === undefined)
        throw new UsageError(
          '--resume of standard input needs --source-tag TAG (the tag the interrupted put was given)',
        );
    } else {
      const s = await statTag(file);
      if (size !== undefined && size !== s.size)
        throw new UsageError(`--size ${size} disagrees with ${file} (${s.size} bytes)`);
      size = s.size;
      tag = tag === 'sha256' ? await digestTag(file) : (tag ?? s.tag);
    }
    const checkpointBytes =
      values.checkpoint === undefined ? undefined : parseSize(values.checkpoint, '--checkpoint');
    if (checkpointBytes !== undefined && checkpointBytes < 16384)
      throw new UsageError('--checkpoint must be at least 16K');

    const info = await withCard(image, values, async (card) => {
      const z = card.zone(zone);
      const put = await z.put(name, {
        ...(size !== undefined ? { size } : {}),
        ...(tag !== undefined ? { sourceTag: tag } : {}),
        ...(checkpointBytes !== undefined ? { checkpointBytes } : {}),
        resume: values.resume === true,
        overwrite: values['no-overwrite'] !== true,
      });
      if (put.offset > 0) io.stderr.write(`resuming ${zone}/${name} at byte ${put.offset}\n`);
      let input = sourceStream(file, put.offset, io);
      const bar = wantsProgress(io, values.progress, values.json)
        ? new ProgressBar(
            io.stderr,
            `put ${zone}/${name}`,
            size === undefined ? undefined : size - put.offset,
          )
        : undefined;
      if (bar) input = input.pipeThrough(bar.counter());
      try {
        await input.pipeTo(put.writable);
      } catch (e) {
        if (e instanceof CardError && e.code === 'CARD_NO_SPACE')
          await keptUpload(io, z, image, zone, name);
        throw e;
      } finally {
        bar?.finish();
      }
      return z.stat(name);
    });
    writeResult(
      io,
      values.json === true,
      fileJson(zone, info),
      `stored ${zone}/${info.name}: ${info.size} bytes`,
    );
  },
};

// A put that ran out of space keeps its last checkpoint, which holds space: say so, and how to
// go on or let go.
async function keptUpload(
  io: CliIO,
  z: CardZone,
  image: string,
  zone: Zone,
  name: string,
): Promise<void> {
  const kept = (await z.pending()).find((p) => p.name === name);
  if (!kept) return;
  io.stderr.write(
    `simvault: the interrupted upload of ${zone}/${name} was kept: ${kept.durableBytes} bytes stored, holding space in the zone.\n` +
      `  to finish it, free space and run the same command with --resume;\n` +
      `  to drop it and free its space: simvault card rm ${image} --zone ${zone} --pending ${name}\n`,
  );
}

// --- get ----------------------------------------------------------------------------------

/**
 * `simvault card get IMAGE [--zone Z] NAME [FILE|-]`
 *
 * @example
 * ```ts
 * await runCli(['card', 'get', 'card.img', '--key', 'sim.key', 'movie.mp4', 'out.mp4'], io);
 * ```
 */
export const cardGetCommand: Command = {
  path: ['card', 'get'],
  summary: 'read a file (or a byte range) from a zone of a card image',
  help: `Usage: simvault card get IMAGE [--zone ZONE] NAME [FILE|-] --key KEYFILE [options]

Decrypts NAME to FILE (default: standard output), one authenticated 16 KiB chunk at a time.
Damaged data is never released: on standard output the stream stops with an error after the
last good chunk; a FILE appears only when everything authenticated.

Options:
  --zone ZONE          ${ZONES.join(' | ')} (default user)
  --key KEYFILE        the SIM's binding key (or --sim STATE: an emulated SIM the card is bound to)
  --cid HEX            the card's CID (default: the identity recorded in the image)
  --range RANGE        bytes START-END (START through END, as HTTP Range), START- (to the
                       end) or, written --range=-LAST, the last LAST bytes. The range must lie
                       in the file (nothing is clamped): START-END reads what the library's
                       zone.get(NAME, START, END + 1) reads, and refuses what it refuses
  --progress           draw a progress bar on stderr (default: when stderr is a terminal)
  --backend NAME       ${BACKEND_CHOICES.join(' | ')} (default auto)

Example:
  simvault card get card.img --key sim.key movie.mp4 - | mpv -`,
  async run(args, io) {
    const { values, positionals: pos } = parseCommandArgs(args, {
      ...CARD_OPTIONS,
      zone: { type: 'string' },
      range: { type: 'string' },
      progress: { type: 'boolean' },
    });
    const [image, name, file = '-'] = positionals(
      pos,
      2,
      3,
      'simvault card get IMAGE [--zone ZONE] NAME [FILE|-]',
    );
    const zone = zoneOption(values.zone);
    await withCard(image!, values, async (card) => {
      const f = await card.zone(zone).open(name!);
      const { start, end } =
        values.range === undefined
          ? { start: 0, end: f.info.size }
          : parseRange(values.range, f.info.size);
      let stream = f.stream(start, end);
      const bar = wantsProgress(io, values.progress, false)
        ? new ProgressBar(io.stderr, `get ${zone}/${name}`, end - start)
        : undefined;
      if (bar) stream = stream.pipeThrough(bar.counter());
      try {
        await writeOutput(stream, file, io.stdout);
      } finally {
        bar?.finish();
      }
    });
  },
};

// --- ls -----------------------------------------------------------------------------------

/**
 * `simvault card ls IMAGE [--zone Z]`
 *
 * @example
 * ```ts
 * await runCli(['card', 'ls', 'card.img', '--key', 'sim.key', '--json'], io);
 * ```
 */
export const cardLsCommand: Command = {
  path: ['card', 'ls'],
  summary: 'list the files of a card image (all zones, or one)',
  help: `Usage: simvault card ls IMAGE [--zone ZONE] --key KEYFILE [options]

Lists files as ZONE SIZE MODIFIED NAME, and interrupted puts that can be resumed or removed.
Exits 1 if a zone is damaged (the others are still listed).

Options:
  --zone ZONE        only this zone (${ZONES.join(' | ')}); default all
  --key KEYFILE      the SIM's binding key (or --sim STATE: an emulated SIM the card is bound to)
  --cid HEX          the card's CID (default: the identity recorded in the image)
  --backend NAME     ${BACKEND_CHOICES.join(' | ')} (default auto)
  --json             print JSON: { files, pending, damaged }`,
  async run(args, io) {
    const { values, positionals: pos } = parseCommandArgs(args, {
      ...CARD_OPTIONS,
      zone: { type: 'string' },
    });
    const [image] = positionals(pos, 1, 1, 'simvault card ls IMAGE [--zone ZONE]');
    const zones = values.zone === undefined ? [...ZONES] : [zoneOption(values.zone)];
    const result = await withCard(image!, values, async (card) => {
      const files: Array<Record<string, unknown>> = [];
      const pending: Array<Record<string, unknown>> = [];
      const damaged: Array<{ zone: Zone; code: string; message: string }> = [];
      for (const zone of zones) {
        const d = card.damaged.find((x) => x.zone === zone);
        if (d) {
          damaged.push({ zone, code: d.error.code, message: d.error.message });
          continue;
        }
        const z: CardZone = card.zone(zone);
        for (const f of await z.list()) files.push(fileJson(zone, f));
        for (const p of await z.pending()) pending.push({ zone, ...p });
      }
      return { files, pending, damaged };
    });
    const lines = [
      ...result.files.map(
        (f) =>
          `${String(f.zone).padEnd(12)}${String(f.size).padStart(12)}  ${String(f.mtime).slice(0, 19).replace('T', ' ')}  ${String(f.name)}`,
      ),
      ...result.pending.map(
        (p) =>
          `${String(p.zone).padEnd(12)}${String(p.durableBytes).padStart(12)}  (interrupted put of ${p.size === -1 ? 'unknown size' : `${String(p.size)} bytes`})  ${String(p.name)}`,
      ),
    ];
    for (const d of result.damaged)
      io.stderr.write(`simvault: zone ${d.zone} is damaged: ${d.code}: ${d.message}\n`);
    if (values.json === true) writeResult(io, true, result, '');
    else if (lines.length) io.stdout.write(`${lines.join('\n')}\n`);
    return result.damaged.length ? 1 : 0;
  },
};

// --- rm / mv ------------------------------------------------------------------------------

/**
 * `simvault card rm IMAGE [--zone Z] NAME…`
 *
 * @example
 * ```ts
 * await runCli(['card', 'rm', 'card.img', '--key', 'sim.key', 'old.txt'], io);
 * ```
 */
export const cardRmCommand: Command = {
  path: ['card', 'rm'],
  summary: 'delete files (or interrupted puts) from a zone of a card image',
  help: `Usage: simvault card rm IMAGE [--zone ZONE] NAME... --key KEYFILE [options]

Deletes each NAME, one atomic commit each; stops at the first that fails.

Options:
  --zone ZONE        ${ZONES.join(' | ')} (default user)
  --pending          remove the interrupted put of NAME instead of the file
  --key KEYFILE      the SIM's binding key (or --sim STATE: an emulated SIM the card is bound to)
  --cid HEX          the card's CID (default: the identity recorded in the image)
  --backend NAME     ${BACKEND_CHOICES.join(' | ')} (default auto)`,
  async run(args, io) {
    const { values, positionals: pos } = parseCommandArgs(args, {
      ...CARD_OPTIONS,
      zone: { type: 'string' },
      pending: { type: 'boolean' },
    });
    const [image, ...names] = positionals(
      pos,
      2,
      Number.POSITIVE_INFINITY,
      'simvault card rm IMAGE [--zone ZONE] NAME...',
    );
    const zone = zoneOption(values.zone);
    await withCard(image!, values, async (card) => {
      const z = card.zone(zone);
      for (const name of names) {
        if (values.pending) await z.abandon(name);
        else await z.delete(name);
        io.stderr.write(`removed ${zone}/${name}${values.pending ? ' (interrupted put)' : ''}\n`);
      }
    });
  },
};

/**
 * `simvault card mv IMAGE [--zone Z] FROM TO`
 *
 * @example
 * ```ts
 * await runCli(['card', 'mv', 'card.img', '--key', 'sim.key', 'a.txt', 'b.txt'], io);
 * ```
 */
export const cardMvCommand: Command = {
  path: ['card', 'mv'],
  summary: 'rename a file within a zone of a card image',
  help: `Usage: simvault card mv IMAGE [--zone ZONE] FROM TO --key KEYFILE [options]

Renames FROM to TO atomically (metadata only). Refuses to replace an existing TO unless --force.

Options:
  --zone ZONE        ${ZONES.join(' | ')} (default user)
  --force            replace TO if it exists
  --key KEYFILE      the SIM's binding key (or --sim STATE: an emulated SIM the card is bound to)
  --cid HEX          the card's CID (default: the identity recorded in the image)
  --backend NAME     ${BACKEND_CHOICES.join(' | ')} (default auto)`,
  async run(args) {
    const { values, positionals: pos } = parseCommandArgs(args, {
      ...CARD_OPTIONS,
      zone: { type: 'string' },
      force: { type: 'boolean' },
    });
    const [image, from, to] = positionals(
      pos,
      3,
      3,
      'simvault card mv IMAGE [--zone ZONE] FROM TO',
    );
    const zone = zoneOption(values.zone);
    await withCard(image!, values, (card) =>
      card.zone(zone).rename(from!, to!, { overwrite: values.force === true }),
    );
  },
};

// --- fsck ---------------------------------------------------------------------------------

// Notes are observations, not damage (an interrupted put, a superblock slot a fresh zone never
// wrote): shown with --verbose and always in --json, so a healthy card reads as healthy.
function fsckText(r: FsckReport, verbose: boolean): string {
  const lines = [
    ...r.zones.map(
      (z) =>
        `zone ${z.zone.padEnd(12)}generation ${z.generation}, ${z.files} files, ${z.verifiedBytes} bytes verified`,
    ),
    ...(verbose ? r.notes.map((n) => `note: ${n}`) : []),
    ...r.problems.map(
      (p) =>
        `${p.repaired ? 'repaired' : 'PROBLEM'}: ${p.zone ?? 'card'}: ${p.kind}: ${p.detail}${!p.repaired && p.repairable ? ' (--repair fixes it)' : ''}`,
    ),
    r.ok
      ? `ok${!verbose && r.notes.length ? ` (${r.notes.length} note(s): --verbose shows them)` : ''}`
      : `${r.problems.filter((p) => !p.repaired).length} problem(s) remain`,
  ];
  return lines.join('\n');
}

/**
 * `simvault card fsck IMAGE [--repair]`
 *
 * @example
 * ```ts
 * const code = await runCli(['card', 'fsck', 'card.img', '--key', 'sim.key'], io); // 1 if damaged
 * ```
 */
export const cardFsckCommand: Command = {
  path: ['card', 'fsck'],
  summary: 'check a card image: every structure and every file authenticates',
  help: `Usage: simvault card fsck IMAGE --key KEYFILE [--repair] [options]

Verifies the header copies, every zone's structures and every file's authentication, and reports
what is damaged. With --repair, fixes what can be fixed without losing committed data (a stale
header copy, allocation map disagreements, counters). Exits 1 when problems remain.

Options:
  --repair           repair what can be repaired
  --verbose          also print notes (observations that are not damage)
  --key KEYFILE      the SIM's binding key (or --sim STATE: an emulated SIM the card is bound to)
  --cid HEX          the card's CID (default: the identity recorded in the image)
  --backend NAME     ${BACKEND_CHOICES.join(' | ')} (default auto)
  --json             print the report as JSON`,
  async run(args, io) {
    const { values, positionals: pos } = parseCommandArgs(args, {
      ...CARD_OPTIONS,
      repair: { type: 'boolean' },
      verbose: { type: 'boolean' },
    });
    const [image] = positionals(pos, 1, 1, 'simvault card fsck IMAGE [--repair]');
    const source = await keySource(values);
    const report = await withDevice(image!, async (device) => {
      const cid = await cidFor(device, values);
      return fsck(device, {
        cid,
        keys: await source.keys(cid),
        anchors: await source.anchors(cid),
        repair: values.repair === true,
        backend: backendOption(values.backend),
      });
    });
    writeResult(io, values.json === true, report, fsckText(report, values.verbose === true));
    return report.ok ? 0 : 1;
  },
};

/**
 * Every `simvault card …` command, for the registry.
 *
 * @example
 * ```ts
 * CARD_COMMANDS.map((c) => c.path.join(' ')); // ['card create', 'card info', …]
 * ```
 */
export const CARD_COMMANDS: Command[] = [
  cardCreateCommand,
  cardBindCommand,
  cardInfoCommand,
  cardPutCommand,
  cardGetCommand,
  cardLsCommand,
  cardRmCommand,
  cardMvCommand,
  cardFsckCommand,
];
