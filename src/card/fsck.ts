/**
 * `fsck`: verify every structure of a card and every file's authentication; report what is
 * damaged; repair what can be repaired without losing committed data (a stale header copy, the
 * allocation map disagreeing with what the file table references, wrong counters).
 *
 * @module
 */
import { CardError, SimvaultError } from '../errors.js';
import { ZONES, type Zone } from '../crypto/keys.js';
import type { BlockDevice } from './device.js';
import { BLOCK_SIZE, decodeHeader, encodeHeader, HEADER_BLOCKS } from './layout.js';
import { readExtents } from './file-table.js';
import { mountCard, type Card, type MountOptions } from './card.js';
import { readSuperblocks } from './superblock.js';

/**
 * One finding of {@link fsck}.
 *
 * @example
 * ```ts
 * import type { FsckProblem } from 'simvault/card';
 * const line = (p: FsckProblem) => `${p.zone ?? 'card'}: ${p.kind}: ${p.detail}`;
 * ```
 */
export interface FsckProblem {
  /** The zone, or undefined for the card header. */
  zone?: Zone;
  /** What kind of damage: `header`, `zone`, `file-table`, `overlap`, `unmarked`, `leaked`, `counters`, `file`. */
  kind: 'header' | 'zone' | 'file-table' | 'overlap' | 'unmarked' | 'leaked' | 'counters' | 'file';
  /** Human-readable detail (for `file`, names the file). */
  detail: string;
  /** Whether `repair` can fix it without losing committed data. */
  repairable: boolean;
  /** Whether this run repaired it. */
  repaired: boolean;
}

/**
 * What {@link fsck} found.
 *
 * @example
 * ```ts
 * import type { FsckReport } from 'simvault/card';
 * const clean = (r: FsckReport) => r.ok;
 * ```
 */
export interface FsckReport {
  /** True when nothing is damaged (after repairs, if asked for). */
  ok: boolean;
  /** Everything found. */
  problems: FsckProblem[];
  /** Observations that are not damage (an interrupted put, a superblock slot never written). */
  notes: string[];
  /** Per zone: generation, files and plaintext bytes verified. */
  zones: FsckZoneReport[];
}

/**
 * What {@link fsck} verified in one zone.
 *
 * @example
 * ```ts
 * import type { FsckZoneReport } from 'simvault/card';
 * const line = (z: FsckZoneReport) => `${z.zone}: ${z.files} files, ${z.verifiedBytes} bytes verified`;
 * ```
 */
export interface FsckZoneReport {
  /** The zone. */
  zone: Zone;
  /** Its generation. */
  generation: number;
  /** Visible files. */
  files: number;
  /** Plaintext bytes whose authentication was verified. */
  verifiedBytes: number;
}

/**
 * Check a card. With `repair`, fix what can be fixed without losing committed data.
 *
 * @example
 * ```ts
 * import { fsck } from 'simvault/card';
 * declare const device: import('simvault/card').BlockDevice, cid: Uint8Array, keys: import('simvault/crypto').CardKeys;
 * const report = await fsck(device, { cid, keys });
 * if (!report.ok) console.error(report.problems);
 * ```
 */
export async function fsck(
  device: BlockDevice,
  options: MountOptions & { repair?: boolean },
): Promise<FsckReport> {
  const repair = options.repair === true;

  // Header copies.
  const raw = await device.read(0, HEADER_BLOCKS * BLOCK_SIZE);
  const copies = [0, 1].map((i) => {
    try {
      return decodeHeader(raw.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE));
    } catch {
      return null;
    }
  });
  // A check alone writes nothing; a repair mounts read-write (which also heals header copies).
  const card = await mountCard(device, { ...options, readOnly: !repair });
  try {
    return await check(card, device, raw, copies, repair);
  } finally {
    await card.unmount({ keepDeviceOpen: true });
  }
}

async function check(
  card: Card,
  device: BlockDevice,
  raw: Uint8Array,
  copies: Array<ReturnType<typeof decodeHeader>>,
  repair: boolean,
): Promise<FsckReport> {
  const problems: FsckProblem[] = [];
  const notes: string[] = [];
  const zones: FsckReport['zones'] = [];
  const good = encodeHeader(headerOf(copies));
  for (const i of [0, 1]) {
    const same = raw.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE).every((b, k) => b === good[k]);
    if (!same) {
      const p: FsckProblem = {
        kind: 'header',
        detail: `header copy ${i} is damaged or stale`,
        repairable: true,
        repaired: false,
      };
      if (repair) {
        await device.write(i * BLOCK_SIZE, good);
        await device.flush();
        p.repaired = true;
      }
      problems.push(p);
    }
  }

  for (const { zone: name, error } of card.damaged) {
    problems.push({
      zone: name,
      kind: 'zone',
      detail: error.message,
      repairable: false,
      repaired: false,
    });
  }

  for (const name of ZONES) {
    if (card.damaged.some((d) => d.zone === name)) continue;
    const zone = card.zone(name);
    const { params, alloc, table, superblock } = zone.internals;
    const { slots } = await readSuperblocks(params.blocks);
    if (slots.some((s) => s === null))
      notes.push(
        `zone ${name}: one superblock slot holds no valid superblock (never written, or a commit was cut)`,
      );

    // Everything the committed state references, each block once.
    const owner = new Map<number, string>();
    const problemsBefore = problems.length;
    const claim = (block: number, who: string) => {
      if (block < 0 || block >= params.blocks.count) {
        problems.push({
          zone: name,
          kind: 'overlap',
          detail: `${who} points outside the zone (block ${block})`,
          repairable: false,
          repaired: false,
        });
        return;
      }
      const prev = owner.get(block);
      if (prev !== undefined) {
        problems.push({
          zone: name,
          kind: 'overlap',
          detail: `block ${block} is used by both ${prev} and ${who}`,
          repairable: false,
          repaired: false,
        });
      } else owner.set(block, who);
    };
    claim(0, 'superblock slot 0');
    claim(1, 'superblock slot 1');
    for (const b of alloc.metadataBlocks()) claim(b, 'allocation map');

    let records;
    try {
      for (const b of await table.blocksInUse()) claim(b, 'file table');
      records = await table.records();
    } catch (e) {
      problems.push({
        zone: name,
        kind: 'file-table',
        detail: (e as Error).message,
        repairable: false,
        repaired: false,
      });
      continue;
    }
    let files = 0;
    let bytes = 0;
    let verified = 0;
    for (const r of records) {
      const label = r.pending ? `interrupted put '${r.name}'` : `file '${r.name}'`;
      try {
        const { extents, listBlocks } = await readExtents(params.blocks, r);
        for (const b of listBlocks) claim(b, `${label} extent list`);
        for (const e of extents) for (let b = e.start; b < e.start + e.count; b++) claim(b, label);
      } catch (e) {
        problems.push({
          zone: name,
          kind: 'file',
          detail: `${label}: ${(e as Error).message}`,
          repairable: false,
          repaired: false,
        });
        continue;
      }
      if (r.pending) {
        notes.push(`zone ${name}: ${label} can be resumed or abandoned`);
        continue;
      }
      files++;
      bytes += r.size;
      try {
        const f = await zone.open(r.name);
        const reader = f.stream();
        const it = reader.getReader();
        for (;;) {
          const { done, value } = await it.read();
          if (done) break;
          verified += value.length;
        }
      } catch (e) {
        if (!(e instanceof SimvaultError)) throw e;
        problems.push({
          zone: name,
          kind: 'file',
          detail: `file '${r.name}' is damaged: ${e.code}: ${e.message}`,
          repairable: false,
          repaired: false,
        });
      }
    }

    const markUsed: number[] = [];
    const free: number[] = [];
    const structural = problems.slice(problemsBefore).some((p) => p.kind === 'overlap');
    for (const b of owner.keys()) if (!(await alloc.isUsed(b))) markUsed.push(b);
    for (const b of await alloc.usedBlocks()) if (!owner.has(b)) free.push(b);
    const sb = superblock();
    const fixable: FsckProblem[] = [];
    if (markUsed.length)
      fixable.push({
        zone: name,
        kind: 'unmarked',
        detail: `${markUsed.length} referenced block(s) are marked free`,
        repairable: !structural,
        repaired: false,
      });
    if (free.length)
      fixable.push({
        zone: name,
        kind: 'leaked',
        detail: `${free.length} block(s) are marked used but referenced by nothing`,
        repairable: !structural,
        repaired: false,
      });
    if (sb.files !== files || sb.bytes !== bytes) {
      fixable.push({
        zone: name,
        kind: 'counters',
        detail: `superblock counts ${sb.files} files / ${sb.bytes} bytes, the table holds ${files} / ${bytes}`,
        repairable: !structural,
        repaired: false,
      });
    }
    if (repair && fixable.length && !structural) {
      await zone.repair({ markUsed, free, files, bytes });
      for (const p of fixable) p.repaired = true;
    }
    problems.push(...fixable);
    zones.push({ zone: name, generation: zone.generation, files, verifiedBytes: verified });
  }
  return { ok: problems.every((p) => p.repaired), problems, notes, zones };
}

function headerOf(
  copies: Array<ReturnType<typeof decodeHeader>>,
): NonNullable<ReturnType<typeof decodeHeader>> {
  const valid = copies.filter((h): h is NonNullable<typeof h> => h !== null);
  if (!valid.length)
    throw new CardError('CARD_CORRUPT', 'both copies of the card header are damaged');
  return valid.reduce((a, b) => (b.generation > a.generation ? b : a));
}
