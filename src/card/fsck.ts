/**
 * `fsck`: verify every structure of a card and every file's authentication; report what is
 * damaged; repair what can be repaired without losing committed data (a stale header copy, a
 * damaged allocation map or one that disagrees with what the file table references, wrong
 * counters). The allocation map is derivable from the file table, so its damage is reported and
 * checking goes on; a repair rebuilds it.
 *
 * @module
 */
import { equalBytes } from '../bytes.js';
import { CardError, SimvaultError } from '../errors.js';
import { ZONES, type Zone } from '../crypto/keys.js';
import type { BlockDevice } from './device.js';
import { BLOCK_SIZE, HEADER_BLOCKS } from './layout.js';
import { decodeHeader, type CardHeader } from './header.js';
import { mountCard, type Card, type MountOptions } from './card.js';
import type { CardZone } from './zone.js';

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
  /**
   * What kind of damage: `header`, `zone`, `file-table`, `overlap`, `allocation-map` (it cannot
   * be read), `unmarked`, `leaked`, `counters`, `file`.
   */
  kind:
    | 'header'
    | 'zone'
    | 'file-table'
    | 'overlap'
    | 'allocation-map'
    | 'unmarked'
    | 'leaked'
    | 'counters'
    | 'file';
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
  // The header copies as they are before a repairing mount heals them.
  const raw = await device.read(0, HEADER_BLOCKS * BLOCK_SIZE);
  // A check alone writes nothing; a repair mounts read-write (which also heals header copies).
  const card = await mountCard(device, { ...options, readOnly: !repair });
  try {
    const report: FsckReport = { ok: true, problems: [], notes: [], zones: [] };
    checkHeaderCopies(raw, card, report);
    for (const { zone, error } of card.damaged)
      report.problems.push(problem(zone, 'zone', error.message, false));
    for (const name of ZONES) {
      if (card.damaged.some((d) => d.zone === name)) continue;
      await checkZone(card.zone(name), repair, report);
    }
    report.ok = report.problems.every((p) => p.repaired);
    return report;
  } finally {
    await card.unmount({ keepDeviceOpen: true });
  }
}

function problem(
  zone: Zone | undefined,
  kind: FsckProblem['kind'],
  detail: string,
  repairable: boolean,
): FsckProblem {
  return { ...(zone ? { zone } : {}), kind, detail, repairable, repaired: false };
}

// The mount chose and authenticated the newest copy; the other must be byte for byte the same.
function checkHeaderCopies(raw: Uint8Array, card: Card, report: FsckReport): void {
  const copies = [0, 1].map((i) => raw.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE));
  let best: { header: CardHeader; bytes: Uint8Array } | undefined;
  for (const bytes of copies) {
    const c = decodeHeader(bytes);
    if (c.kind === 'valid' && (!best || c.header.generation > best.header.generation))
      best = { header: c.header, bytes };
  }
  for (const [i, bytes] of copies.entries()) {
    if (!best || equalBytes(bytes, best.bytes)) continue;
    const p = problem(
      undefined,
      'header',
      `header copy ${i} is damaged or stale`,
      card.readOnly === undefined || card.readOnly === 'the card is mounted read-only',
    );
    // A repairing mount has already rewritten it.
    p.repaired = card.readOnly === undefined;
    report.problems.push(p);
  }
}

async function checkZone(zone: CardZone, repair: boolean, report: FsckReport): Promise<void> {
  const name = zone.name;
  const view = zone.checkView();
  const { problems, notes } = report;
  const slots = await view.superblockSlots();
  if (slots.some((s) => s === null))
    notes.push(
      `zone ${name}: one superblock slot holds no valid superblock (never written, or a commit was cut)`,
    );

  // Everything the committed state references, each block once.
  const owner = new Map<number, string>();
  const problemsBefore = problems.length;
  const claim = (block: number, who: string) => {
    if (!Number.isInteger(block) || block < 0 || block >= view.blockCount) {
      problems.push(
        problem(name, 'overlap', `${who} points outside the zone (block ${block})`, false),
      );
      return;
    }
    const prev = owner.get(block);
    if (prev !== undefined)
      problems.push(
        problem(name, 'overlap', `block ${block} is used by both ${prev} and ${who}`, false),
      );
    else owner.set(block, who);
  };
  claim(0, 'superblock slot 0');
  claim(1, 'superblock slot 1');

  let records;
  try {
    for (const b of await view.tableBlocks()) claim(b, 'file table');
    records = await view.records();
  } catch (e) {
    if (!(e instanceof SimvaultError)) throw e;
    problems.push(problem(name, 'file-table', e.message, false));
    return;
  }
  let files = 0;
  let bytes = 0;
  let verified = 0;
  for (const r of records) {
    const label = r.pending ? `interrupted put '${r.name}'` : `file '${r.name}'`;
    try {
      const { extents, listBlocks } = await view.extentsOf(r);
      for (const b of listBlocks) claim(b, `${label} extent list`);
      for (const e of extents) for (let b = e.start; b < e.start + e.count; b++) claim(b, label);
    } catch (e) {
      if (!(e instanceof SimvaultError)) throw e;
      problems.push(problem(name, 'file', `${label}: ${e.message}`, false));
      continue;
    }
    if (r.pending) {
      notes.push(`zone ${name}: ${label} can be resumed or abandoned`);
      continue;
    }
    files++;
    bytes += r.size;
    try {
      const it = (await zone.open(r.name)).stream().getReader();
      for (;;) {
        const { done, value } = await it.read();
        if (done) break;
        verified += value.length;
      }
    } catch (e) {
      if (!(e instanceof SimvaultError)) throw e;
      problems.push(
        problem(name, 'file', `file '${r.name}' is damaged: ${e.code}: ${e.message}`, false),
      );
    }
  }
  // What the file table references is what must be in use; the map is checked against it.
  const referenced = [...owner.keys()];
  const structural = problems.slice(problemsBefore).some((p) => p.kind === 'overlap');
  const fixable: FsckProblem[] = [];
  try {
    const map = view.map();
    const mapBlocks = map.metadataBlocks();
    for (const b of mapBlocks) claim(b, 'allocation map');
    const used = new Set(await map.usedBlocks());
    const unmarked = [...owner.keys()].filter((b) => !used.has(b)).length;
    const leaked = [...used].filter((b) => !owner.has(b)).length;
    if (unmarked)
      fixable.push(
        problem(name, 'unmarked', `${unmarked} referenced block(s) are marked free`, !structural),
      );
    if (leaked)
      fixable.push(
        problem(
          name,
          'leaked',
          `${leaked} block(s) are marked used but referenced by nothing`,
          !structural,
        ),
      );
  } catch (e) {
    if (!(e instanceof CardError && e.code === 'CARD_MAP_DAMAGED')) throw e;
    fixable.push(
      problem(
        name,
        'allocation-map',
        `${e.message}; the file table is intact, reads work`,
        !structural,
      ),
    );
  }
  const sb = view.committed;
  if (sb.files !== files || sb.bytes !== bytes)
    fixable.push(
      problem(
        name,
        'counters',
        `superblock counts ${sb.files} files / ${sb.bytes} bytes, the table holds ${files} / ${bytes}`,
        !structural,
      ),
    );
  if (repair && fixable.length && !structural) {
    // One repair for all of them: a new map of exactly what is referenced, and true counters.
    await zone.rebuildMap({ used: referenced, files, bytes });
    for (const p of fixable) p.repaired = true;
  }
  problems.push(...fixable);
  report.zones.push({ zone: name, generation: zone.generation, files, verifiedBytes: verified });
}
