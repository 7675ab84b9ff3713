/**
 * The zone's file table: a copy-on-write hash trie of sealed blocks. A file's place is fixed by a
 * keyed hash of its name (so the structure reveals nothing even to someone who could see it
 * decrypted, and needs no rebalancing); internal nodes fan out 64 ways on 6 bits of that hash,
 * leaves hold whole records. An update rewrites only the path from the root to one leaf.
 *
 * Lookups read the committed root only, so readers see the last durable state while a writer
 * builds the next one.
 *
 * @module
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8 } from '../bytes.js';
import { CardError } from '../errors.js';
import type { AllocationMap } from './allocation-map.js';
import {
  BODY_SIZE,
  getPtr,
  Kind,
  putPtr,
  PTR_SIZE,
  type Ptr,
  type ZoneBlocks,
} from './sealed-blocks.js';

const FANOUT = 64;
const BITS = 6;
/**
 * Deepest level of the trie: a node at depth `d` is reached with `6d` bits of the name hash, and
 * the 256-bit hash has bits for depths 0..42 (the last with 4 real bits and 2 zero ones). A leaf at
 * this depth never splits; internal nodes exist at depths 0..41 only.
 */
export const MAX_DEPTH = Math.floor(256 / BITS);
/** Most extents kept inside a record; more go to chained extent blocks. */
export const INLINE_EXTENTS = 32;
const EXTENTS_PER_BLOCK = Math.floor((BODY_SIZE - PTR_SIZE - 2) / 8);
/** Longest file name in UTF-8 bytes. */
export const MAX_NAME_BYTES = 255;
/** Longest source tag (digest or ETag) in bytes. */
export const MAX_TAG_BYTES = 64;

function hasControl(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/**
 * The name rules (checked on every call and on every record read): 1..255 bytes of UTF-8; no
 * control characters (U+0000..U+001F, U+007F), no lone surrogates, no U+FFFD (what a decoder puts
 * for invalid bytes); not `.` or `..`; and in Unicode NFC, so one visible name is one name. `/` is
 * an ordinary character: a zone is flat. Names compare as their exact bytes.
 */
export function nameProblem(name: string): string | undefined {
  if (typeof name !== 'string') return 'a file name must be a string';
  const bytes = utf8(name).length;
  if (bytes === 0 || bytes > MAX_NAME_BYTES)
    return `a file name must be 1..${MAX_NAME_BYTES} UTF-8 bytes, got ${bytes}`;
  if (
    hasControl(name) ||
    name.includes('\uFFFD') ||
    /[\uD800-\uDFFF]/.test(name.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, ''))
  )
    return 'a file name may not contain control characters, U+FFFD or lone surrogates';
  if (name === '.' || name === '..') return `'${name}' is not a file name`;
  if (name.normalize('NFC') !== name) return 'a file name must be in Unicode NFC';
  return undefined;
}

/** Throw `CARD_BAD_NAME` unless `name` follows {@link nameProblem}'s rules. */
export function checkName(name: string): void {
  const problem = nameProblem(name);
  if (problem) throw new CardError('CARD_BAD_NAME', problem);
}

/** A run of contiguous blocks. */
export interface Extent {
  start: number;
  count: number;
}

/** One file (or one interrupted put) as the table records it. */
export interface FileRecord {
  readonly name: string;
  /** An interrupted put kept for resuming, not a visible file. */
  readonly pending: boolean;
  readonly fileId: Uint8Array;
  readonly suiteId: number;
  /** Plaintext bytes (declared size for a pending put, or -1 if undeclared). */
  readonly size: number;
  /** Ciphertext bytes stored (for a pending put: the durable prefix). */
  readonly ctLength: number;
  /** The content salt: must equal the first 24 bytes of the stored ciphertext. */
  readonly salt: Uint8Array;
  /** Milliseconds since the epoch. */
  readonly mtime: number;
  /** Caller's identity of the source (digest or ETag), for resuming. */
  readonly sourceTag: string;
  /** In a secure-chip zone: the file key wrapped by the card's chip. */
  readonly wrappedKey?: Uint8Array | undefined;
  /** Extents, when kept inline. */
  readonly extents: readonly Extent[] | undefined;
  /** First extent block and total extent count, when kept outside. */
  readonly extentList: { ptr: Ptr; count: number } | undefined;
}

interface Leaf {
  kind: 'leaf';
  records: FileRecord[];
}
interface Internal {
  kind: 'internal';
  children: Child[];
}
type Node = Leaf | Internal;
/** A child: null (empty), a committed pointer, or a node changed in this transaction. */
type Child = null | Ptr | Node;

const isPtr = (c: Child): c is Ptr => c !== null && 'addr' in c;

function setU64(v: DataView, off: number, n: number): void {
  v.setUint32(off, Math.floor(n / 2 ** 32));
  v.setUint32(off + 4, n >>> 0);
}
function getU64(v: DataView, off: number): number {
  return v.getUint32(off) * 2 ** 32 + v.getUint32(off + 4);
}

function encodeRecord(r: FileRecord): Uint8Array {
  const name = utf8(r.name);
  const tag = utf8(r.sourceTag);
  const inline = r.extents !== undefined;
  const extBytes = inline ? 2 + r.extents.length * 8 : 4 + PTR_SIZE;
  const wrapped = r.wrappedKey;
  if (wrapped && wrapped.length > 255)
    throw new CardError('CARD_CORRUPT', 'a wrapped file key is longer than 255 bytes');
  const out = new Uint8Array(
    1 +
      name.length +
      2 +
      16 +
      8 +
      8 +
      24 +
      8 +
      1 +
      tag.length +
      (wrapped ? 1 + wrapped.length : 0) +
      1 +
      extBytes,
  );
  const v = new DataView(out.buffer);
  let o = 0;
  out[o++] = name.length;
  out.set(name, o);
  o += name.length;
  out[o++] = (r.pending ? 1 : 0) | (wrapped ? 2 : 0);
  out[o++] = r.suiteId;
  out.set(r.fileId, o);
  o += 16;
  setU64(v, o, r.size + 1); // -1 (undeclared) is stored as 0
  o += 8;
  setU64(v, o, r.ctLength);
  o += 8;
  out.set(r.salt, o);
  o += 24;
  setU64(v, o, r.mtime);
  o += 8;
  out[o++] = tag.length;
  out.set(tag, o);
  o += tag.length;
  if (wrapped) {
    out[o++] = wrapped.length;
    out.set(wrapped, o);
    o += wrapped.length;
  }
  out[o++] = inline ? 0 : 1;
  if (inline) {
    v.setUint16(o, r.extents.length);
    o += 2;
    for (const e of r.extents) {
      v.setUint32(o, e.start);
      v.setUint32(o + 4, e.count);
      o += 8;
    }
  } else {
    v.setUint32(o, r.extentList!.count);
    putPtr(v, out, o + 4, r.extentList!.ptr);
  }
  return out;
}

function corrupt(detail: string): never {
  throw new CardError('CARD_CORRUPT', `file table: ${detail}`);
}

function decodeRecord(b: Uint8Array, v: DataView, o: number): { record: FileRecord; next: number } {
  const need = (n: number) => {
    if (o + n > b.length) corrupt('record runs past its leaf');
  };
  need(1);
  const nameLen = b[o++]!;
  need(nameLen + 2 + 16 + 8 + 8 + 24 + 8 + 1);
  const name = new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(o, o + nameLen));
  o += nameLen;
  const flags = b[o++]!;
  const suiteId = b[o++]!;
  const fileId = b.slice(o, o + 16);
  o += 16;
  const size = getU64(v, o) - 1;
  o += 8;
  const ctLength = getU64(v, o);
  o += 8;
  const salt = b.slice(o, o + 24);
  o += 24;
  const mtime = getU64(v, o);
  o += 8;
  const tagLen = b[o++]!;
  need(tagLen + 1);
  const sourceTag = new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(o, o + tagLen));
  o += tagLen;
  let wrappedKey: Uint8Array | undefined;
  if (flags & 2) {
    need(1);
    const n = b[o++]!;
    need(n + 1);
    wrappedKey = b.slice(o, o + n);
    o += n;
  }
  const mode = b[o++]!;
  let extents: Extent[] | undefined;
  let extentList: FileRecord['extentList'];
  if (mode === 0) {
    need(2);
    const n = v.getUint16(o);
    o += 2;
    need(n * 8);
    extents = [];
    for (let i = 0; i < n; i++, o += 8)
      extents.push({ start: v.getUint32(o), count: v.getUint32(o + 4) });
  } else if (mode === 1) {
    need(4 + PTR_SIZE);
    extentList = { count: v.getUint32(o), ptr: getPtr(v, b, o + 4) };
    o += 4 + PTR_SIZE;
  } else corrupt(`unknown extent mode ${mode}`);
  if (flags > 3) corrupt(`unknown record flags ${flags}`);
  const problem = nameProblem(name);
  if (problem) corrupt(`a record's name breaks the rules: ${problem}`);
  if (wrappedKey?.length === 0) corrupt(`record '${name}' has an empty wrapped key`);
  if (mode === 0 && extents!.length > INLINE_EXTENTS)
    corrupt(`record '${name}' has more than ${INLINE_EXTENTS} inline extents`);
  if (extents?.some((e) => e.count === 0) === true) corrupt(`record '${name}' has an empty extent`);
  return {
    record: {
      name,
      pending: (flags & 1) === 1,
      fileId,
      suiteId,
      size,
      ctLength,
      salt,
      mtime,
      sourceTag,
      wrappedKey,
      extents,
      extentList,
    },
    next: o,
  };
}

// Records are immutable values, so each is encoded once however often its leaf is rewritten: a
// commit rewrites the leaf of every file it touched, after checking that leaf still fits, and
// encoding all of a leaf's records each time was a tenth of the time of storing a small file.
const encodedRecords = new WeakMap<FileRecord, Uint8Array>();

function encodedRecord(r: FileRecord): Uint8Array {
  let bytes = encodedRecords.get(r);
  if (!bytes) {
    bytes = encodeRecord(r);
    encodedRecords.set(r, bytes);
  }
  return bytes;
}

function leafLength(records: FileRecord[]): number {
  let len = 3;
  for (const r of records) len += encodedRecord(r).length;
  return len;
}

// A node's body starts with its type: 0 leaf, 1 internal.
function encodeLeaf(records: FileRecord[]): Uint8Array | null {
  const len = leafLength(records);
  if (len > BODY_SIZE) return null;
  const out = new Uint8Array(len);
  out[0] = 0;
  new DataView(out.buffer).setUint16(1, records.length);
  let o = 3;
  for (const r of records) {
    const bytes = encodedRecord(r);
    out.set(bytes, o);
    o += bytes.length;
  }
  return out;
}

function decodeLeaf(body: Uint8Array): Leaf {
  const v = new DataView(body.buffer, body.byteOffset, body.length);
  const n = v.getUint16(1);
  if (n === 0) corrupt('an empty leaf');
  const records: FileRecord[] = [];
  let o = 3;
  for (let i = 0; i < n; i++) {
    const { record, next } = decodeRecord(body, v, o);
    if (records.some((r) => r.name === record.name && r.pending === record.pending))
      corrupt(`record '${record.name}' appears twice in one leaf`);
    records.push(record);
    o = next;
  }
  if (body.subarray(o).some((b) => b !== 0)) corrupt('bytes after the last record of a leaf');
  return { kind: 'leaf', records };
}

function encodeInternal(children: Ptr[]): Uint8Array {
  const out = new Uint8Array(1 + FANOUT * PTR_SIZE);
  out[0] = 1;
  const v = new DataView(out.buffer);
  children.forEach((p, i) => {
    putPtr(v, out, 1 + i * PTR_SIZE, p);
  });
  return out;
}

function decodeInternal(body: Uint8Array): Internal {
  const v = new DataView(body.buffer, body.byteOffset, body.length);
  const children: Child[] = [];
  for (let i = 0; i < FANOUT; i++) {
    const p = getPtr(v, body, 1 + i * PTR_SIZE);
    // An empty slot is all zero: address 0 and a zero nonce.
    if (p.addr === 0 && p.nonce.some((b) => b !== 0)) corrupt('a null child with a nonce');
    children.push(p.addr === 0 ? null : p);
  }
  if (children.every((c) => c === null)) corrupt('an internal node without children');
  if (body.subarray(1 + FANOUT * PTR_SIZE).some((b) => b !== 0))
    corrupt('bytes after the children of an internal node');
  return { kind: 'internal', children };
}

/** Encode extents into chained extent blocks' bodies (without their next pointers yet). */
export function extentBlockCount(extents: number): number {
  return extents <= INLINE_EXTENTS ? 0 : Math.ceil(extents / EXTENTS_PER_BLOCK);
}

/** The file table of one zone. */
export class FileTable {
  private committedRoot: Ptr | null;
  private root: Child;
  private freed: number[] = [];
  private readonly cache = new Map<number, { nonce: Uint8Array; node: Node }>();

  constructor(
    private readonly blocks: ZoneBlocks,
    private readonly nameKey: Uint8Array,
    root: Ptr | null,
    /** The zone's suite: every record must carry it. */
    private readonly suiteId: number,
  ) {
    this.committedRoot = root;
    this.root = root;
  }

  /** Keyed hash placing a record in the trie. */
  hash(name: string, pending: boolean): Uint8Array {
    return hmac(sha256, this.nameKey, concatBytes(new Uint8Array([pending ? 1 : 0]), utf8(name)));
  }

  private async load(p: Ptr): Promise<Node> {
    const hit = this.cache.get(p.addr);
    if (hit && hit.nonce.every((b, i) => b === p.nonce[i])) return hit.node;
    const body = await this.blocks.readSealed(p.addr, Kind.TrieNode, p);
    let node: Node;
    if (body[0] === 0) node = decodeLeaf(body);
    else if (body[0] === 1) node = decodeInternal(body);
    else corrupt(`block ${p.addr} has unknown node type ${body[0]}`);
    if (this.cache.size > 8192) this.cache.clear();
    this.cache.set(p.addr, { nonce: p.nonce, node });
    return node;
  }

  private async resolve(c: Child): Promise<Node | null> {
    if (c === null) return null;
    return isPtr(c) ? this.load(c) : c;
  }

  /** Find a record in the committed (durable) table. */
  async find(
    name: string,
    pending = false,
    { working = false } = {},
  ): Promise<FileRecord | undefined> {
    const h = this.hash(name, pending);
    let c: Child = working ? this.root : this.committedRoot;
    for (let depth = 0; c !== null; depth++) {
      const node: Node = (await this.resolve(c))!;
      if (node.kind === 'leaf') {
        const r = node.records.find((x) => x.name === name && x.pending === pending);
        if (r) this.checkSuite(r);
        return r;
      }
      if (depth >= MAX_DEPTH) corrupt('an internal node below the deepest level');
      c = node.children[bitsAt(h, depth)] ?? null;
    }
    return undefined;
  }

  private checkSuite(r: FileRecord): void {
    if (r.suiteId !== this.suiteId)
      corrupt(`record '${r.name}' has suite ${r.suiteId}, its zone ${this.suiteId}`);
  }

  // A record must sit where its name hash leads; a leaf deeper than allowed cannot exist.
  private checkPlace(r: FileRecord, path: readonly number[]): void {
    const h = this.hash(r.name, r.pending);
    if (path.some((slot, depth) => bitsAt(h, depth) !== slot))
      corrupt(`record '${r.name}' is not where its name hash leads`);
    this.checkSuite(r);
  }

  /** Insert or replace a record in the working table. */
  async upsert(record: FileRecord): Promise<void> {
    this.root = await this.insertAt(this.root, 0, this.hash(record.name, record.pending), record);
  }

  /** Remove a record from the working table; returns it if it was there. */
  async remove(name: string, pending = false): Promise<FileRecord | undefined> {
    const found = await this.find(name, pending, { working: true });
    if (!found) return undefined;
    this.root = await this.removeAt(this.root, 0, this.hash(name, pending), name, pending);
    return found;
  }

  private replaceChild(c: Child): void {
    if (isPtr(c)) this.freed.push(c.addr);
  }

  private async insertAt(c: Child, depth: number, h: Uint8Array, rec: FileRecord): Promise<Node> {
    const node = await this.resolve(c);
    this.replaceChild(c);
    if (!node || node.kind === 'leaf') {
      const records = (node?.records ?? []).filter(
        (r) => !(r.name === rec.name && r.pending === rec.pending),
      );
      records.push(rec);
      return this.buildLeafOrSplit(records, depth);
    }
    const children = node.children.slice();
    const i = bitsAt(h, depth);
    children[i] = await this.insertAt(children[i] ?? null, depth + 1, h, rec);
    return { kind: 'internal', children };
  }

  private buildLeafOrSplit(records: FileRecord[], depth: number): Node {
    const fits = leafLength(records) <= BODY_SIZE;
    if (fits || depth >= MAX_DEPTH) {
      if (!fits) throw new CardError('CARD_NO_SPACE', 'file table leaf overflow at maximum depth');
      return { kind: 'leaf', records };
    }
    const groups: FileRecord[][] = Array.from({ length: FANOUT }, () => []);
    for (const r of records) groups[bitsAt(this.hash(r.name, r.pending), depth)]!.push(r);
    return {
      kind: 'internal',
      children: groups.map((g) => (g.length ? this.buildLeafOrSplit(g, depth + 1) : null)),
    };
  }

  private async removeAt(
    c: Child,
    depth: number,
    h: Uint8Array,
    name: string,
    pending: boolean,
  ): Promise<Child> {
    const node = await this.resolve(c);
    if (!node) return null;
    this.replaceChild(c);
    if (node.kind === 'leaf') {
      const records = node.records.filter((r) => !(r.name === name && r.pending === pending));
      return records.length ? { kind: 'leaf', records } : null;
    }
    const children = node.children.slice();
    const i = bitsAt(h, depth);
    children[i] = await this.removeAt(children[i] ?? null, depth + 1, h, name, pending);
    return children.some((x) => x !== null) ? { kind: 'internal', children } : null;
  }

  /** Every record of the committed table (or the working one). */
  async records({ working = false } = {}): Promise<FileRecord[]> {
    const out: FileRecord[] = [];
    const path: number[] = [];
    const walk = async (c: Child): Promise<void> => {
      const node = await this.resolve(c);
      if (!node) return;
      if (node.kind === 'leaf') {
        for (const r of node.records) this.checkPlace(r, path);
        out.push(...node.records);
        return;
      }
      if (path.length >= MAX_DEPTH) corrupt('an internal node below the deepest level');
      for (const [i, child] of node.children.entries()) {
        path.push(i);
        await walk(child);
        path.pop();
      }
    };
    await walk(working ? this.root : this.committedRoot);
    return out;
  }

  /** Every block the committed table occupies (for fsck). */
  async blocksInUse(): Promise<number[]> {
    const out: number[] = [];
    const walk = async (c: Child, depth: number): Promise<void> => {
      if (!isPtr(c)) return;
      const node = await this.load(c);
      out.push(c.addr);
      if (node.kind === 'leaf') return;
      if (depth >= MAX_DEPTH) corrupt('an internal node below the deepest level');
      for (const child of node.children) await walk(child, depth + 1);
    };
    await walk(this.committedRoot, 0);
    return out;
  }

  /** Whether the working table differs from the committed one. */
  get dirty(): boolean {
    return this.root !== this.committedRoot;
  }

  /** Write the changed nodes (children before parents) and free the blocks they replace. */
  async prepareCommit(alloc: AllocationMap): Promise<Ptr | null> {
    const write = async (c: Child): Promise<Ptr | null> => {
      if (c === null || isPtr(c)) return c;
      const addr = await alloc.allocateOne();
      if (c.kind === 'leaf') {
        const body = encodeLeaf(c.records)!;
        const ptr = await this.blocks.writeSealed(addr, Kind.TrieNode, body);
        this.cache.set(addr, { nonce: ptr.nonce, node: c });
        return ptr;
      }
      const children: Ptr[] = [];
      for (const child of c.children)
        children.push((await write(child)) ?? { addr: 0, nonce: new Uint8Array(12) });
      const ptr = await this.blocks.writeSealed(addr, Kind.TrieNode, encodeInternal(children));
      const stored: Internal = {
        kind: 'internal',
        children: children.map((p) => (p.addr === 0 ? null : p)),
      };
      this.cache.set(addr, { nonce: ptr.nonce, node: stored });
      return ptr;
    };
    const rootPtr = await write(this.root);
    for (const addr of this.freed) {
      await alloc.free(addr, 1);
      this.cache.delete(addr);
    }
    this.root = rootPtr;
    return rootPtr;
  }

  /** The prepared root is durable. */
  afterCommit(root: Ptr | null): void {
    this.committedRoot = root;
    this.root = root;
    this.freed = [];
  }

  /** Abandon the working changes. */
  rollback(): void {
    this.root = this.committedRoot;
    this.freed = [];
  }
}

function bitsAt(h: Uint8Array, depth: number): number {
  const bit = depth * BITS;
  const byte = bit >> 3;
  const word = ((h[byte] ?? 0) << 8) | (h[byte + 1] ?? 0);
  return (word >> (16 - BITS - (bit & 7))) & (FANOUT - 1);
}

/** Write an extent list into chained extent blocks; returns the first block's pointer. */
export async function writeExtentBlocks(
  blocks: ZoneBlocks,
  alloc: AllocationMap,
  extents: readonly Extent[],
): Promise<Ptr> {
  const n = extentBlockCount(extents.length);
  const addrs: number[] = [];
  for (let i = 0; i < n; i++) addrs.push(await alloc.allocateOne());
  let next: Ptr = { addr: 0, nonce: new Uint8Array(12) };
  for (let i = n - 1; i >= 0; i--) {
    const part = extents.slice(i * EXTENTS_PER_BLOCK, (i + 1) * EXTENTS_PER_BLOCK);
    const body = new Uint8Array(PTR_SIZE + 2 + part.length * 8);
    const v = new DataView(body.buffer);
    putPtr(v, body, 0, next);
    v.setUint16(PTR_SIZE, part.length);
    part.forEach((e, k) => {
      v.setUint32(PTR_SIZE + 2 + k * 8, e.start);
      v.setUint32(PTR_SIZE + 6 + k * 8, e.count);
    });
    next = await blocks.writeSealed(addrs[i]!, Kind.Extents, body);
  }
  return next;
}

/** Read a record's extents (inline or chained); also returns the extent blocks' addresses. */
export async function readExtents(
  blocks: ZoneBlocks,
  record: FileRecord,
): Promise<{ extents: Extent[]; listBlocks: number[] }> {
  if (record.extents) return { extents: record.extents.slice(), listBlocks: [] };
  const extents: Extent[] = [];
  const listBlocks: number[] = [];
  let p = record.extentList!.ptr;
  while (p.addr !== 0) {
    if (listBlocks.length > record.extentList!.count) corrupt('extent list loops');
    listBlocks.push(p.addr);
    const body = await blocks.readSealed(p.addr, Kind.Extents, p);
    const v = new DataView(body.buffer, body.byteOffset, body.length);
    const n = v.getUint16(PTR_SIZE);
    if (n > EXTENTS_PER_BLOCK) corrupt('extent block overflows');
    for (let k = 0; k < n; k++)
      extents.push({
        start: v.getUint32(PTR_SIZE + 2 + k * 8),
        count: v.getUint32(PTR_SIZE + 6 + k * 8),
      });
    p = getPtr(v, body, 0);
  }
  if (extents.length !== record.extentList!.count)
    corrupt('extent list length disagrees with its record');
  return { extents, listBlocks };
}
