// Resizing a fixed or dynamic VHDX in place. The new size (metadata VirtualDiskSize) and the BAT entries that change
// are written in one log transaction (log.ts: entry, header naming it, the sectors, header clearing it), so a crash
// at any point leaves the old or the new disk after replay. Before it:
//   grow, fixed: the new payload blocks are appended (sparse zeros) and synced; nothing references them yet;
//   grow, dynamic: nothing (new blocks are NOT_PRESENT; a stray non-zero entry in the new range is cleared in the
//   same transaction); the unused tail of a partial last block is zeroed first, so the grown range reads zeros;
//   shrink: the BAT entries of the blocks past the new end become NOT_PRESENT in the same transaction.
// After it: a new DataWriteGuid (the disk changed: children made from it no longer match), and on shrink the file
// is truncated after the last structure still referenced.
// Growing beyond what the BAT region holds moves the BAT: a larger copy is written at the end of the file (nothing
// references it yet) and synced, then both region tables naming it go into the same log transaction as the size
// (instead of BAT sectors). The old BAT region is left unused.
import * as fs from 'fs';
import { FormatError } from '../errors';
import { guidLE, randomGuid, ZERO_GUID } from '../guid';
import { crc32cWithZeroField } from '../crc32c';
import { parseRegionTable, REGION_BAT, REGION_METADATA, META_FILE_PARAMETERS, META_VIRTUAL_DISK_SIZE, META_LOGICAL_SECTOR, KiB, MiB } from './inspect';
import { loggedWrite, readHeaders, replayLog, writeHeader } from './log';
import { readAt } from '../vhd/layer';
import { stepDone } from '../manage/steps';

const SECTOR = 4 * KiB;
const FULL = 6n, PARTIAL = 7n;

interface VhdxFacts { virtualSize: number; blockSize: number; logicalSectorSize: number; fixed: boolean; differencing: boolean; maxSize: number }

interface Open {
  fd: number; facts: VhdxFacts; bat: Buffer; batOffset: number; metaOffset: number; meta: Buffer; sizeItemAt: number;
  logEnd: number; others: [number, number][];
  /** The valid region table (64 KiB), to rewrite when the BAT moves. */
  regionTable: Buffer;
}

function open(file: string, fd: number): Open {
  const { current } = readHeaders(fd);
  const rt1 = readAt(fd, 192 * KiB, 64 * KiB), rt2 = readAt(fd, 256 * KiB, 64 * KiB);
  const regionTable = parseRegionTable(rt1) ? rt1 : rt2;
  const regions = parseRegionTable(regionTable);
  const batR = regions?.find((r) => r.guid === REGION_BAT), metaR = regions?.find((r) => r.guid === REGION_METADATA);
  if (!batR || !metaR || metaR.offset % SECTOR) throw new FormatError('corrupt', `${file}: no usable region table`);
  const meta = readAt(fd, metaR.offset, metaR.length);
  if (meta.toString('latin1', 0, 8) !== 'metadata') throw new FormatError('corrupt', `${file}: no metadata table`);
  const items = new Map<string, [number, number]>();
  for (let i = 0; i < meta.readUInt16LE(10); i++) items.set(guidLE(meta, 32 + i * 32), [meta.readUInt32LE(32 + i * 32 + 16), meta.readUInt32LE(32 + i * 32 + 20)]);
  const fp = items.get(META_FILE_PARAMETERS), vs = items.get(META_VIRTUAL_DISK_SIZE), ls = items.get(META_LOGICAL_SECTOR);
  if (!fp || !vs || !ls) throw new FormatError('corrupt', `${file}: a required metadata item is missing`);
  const flags = meta.readUInt32LE(fp[0] + 4);
  const facts: VhdxFacts = {
    virtualSize: Number(meta.readBigUInt64LE(vs[0])), blockSize: meta.readUInt32LE(fp[0]), logicalSectorSize: meta.readUInt32LE(ls[0]),
    fixed: (flags & 1) !== 0, differencing: (flags & 2) !== 0, maxSize: 0,
  };
  const bat = readAt(fd, batR.offset, batR.length);
  facts.maxSize = maxSizeFor(batR.length, facts.blockSize, facts.logicalSectorSize);
  return {
    fd, facts, bat, batOffset: batR.offset, metaOffset: metaR.offset, meta, sizeItemAt: vs[0],
    logEnd: current.logOffset + current.logLength, regionTable,
    others: [[batR.offset, batR.offset + batR.length], [metaR.offset, metaR.offset + metaR.length], [current.logOffset, current.logOffset + current.logLength]],
  };
}

const VHDX_MAX = 64 * 2 ** 40;
const chunkRatio = (bs: number, ls: number) => (2 ** 23 * ls) / bs;
/** BAT entries a non-differencing disk of `blocks` payload blocks uses (the last sector bitmap entry is not needed). */
const entriesFor = (blocks: number, cr: number) => (blocks ? blocks + Math.floor((blocks - 1) / cr) : 0);
const payloadIndex = (i: number, cr: number) => i + Math.floor(i / cr);

/** The largest virtual size the BAT region of `batBytes` can describe. */
function maxSizeFor(batBytes: number, bs: number, ls: number): number {
  const cr = chunkRatio(bs, ls);
  const entries = Math.floor(batBytes / 8);
  const blocks = entries - Math.floor(entries / (cr + 1));
  return Math.min(64 * 2 ** 40, blocks * bs);
}

export function resizeVhdx(file: string, newSize: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    replayLog(fd);
    const o = open(file, fd);
    const f = o.facts, bs = f.blockSize, cr = chunkRatio(bs, f.logicalSectorSize);
    if (f.differencing) throw new FormatError('unsupported', `${file} is a differencing disk: resizing it would no longer match its parent (Windows refuses it too); resize the base disk before making children, or convert the chain to one image first`);
    if (newSize % f.logicalSectorSize || newSize <= 0) throw new FormatError('unsupported', `the new size must be a positive multiple of the ${f.logicalSectorSize}-byte sector`);
    if (newSize > VHDX_MAX) throw new FormatError('unsupported', 'a VHDX holds at most 64 TiB');
    const oldBlocks = Math.ceil(f.virtualSize / bs), newBlocks = Math.ceil(newSize / bs);
    // a BAT region too small for the new size: a larger one at the end of the file
    const moveTo = newSize > f.maxSize ? Math.ceil(fs.fstatSync(fd).size / MiB) * MiB : null;
    const bat = moveTo === null ? o.bat : Buffer.alloc(Math.ceil((entriesFor(newBlocks, cr) * 8) / MiB) * MiB);
    if (moveTo !== null) o.bat.copy(bat);
    const dirty = new Set<number>();
    const set = (idx: number, v: bigint) => { if (bat.readBigUInt64LE(idx * 8) !== v) { bat.writeBigUInt64LE(v, idx * 8); dirty.add(Math.floor((idx * 8) / SECTOR)); } };
    const entry = (i: number) => bat.readBigUInt64LE(payloadIndex(i, cr) * 8);
    if (newSize > f.virtualSize) {
      // the old last block's bytes past the old end become disk data: they must read as zeros
      const tail = f.virtualSize % bs;
      const last = oldBlocks ? entry(oldBlocks - 1) : 0n;
      if (tail && ((last & 7n) === FULL || (last & 7n) === PARTIAL)) {
        const at = Number(last >> 20n) * MiB + tail;
        fs.writeSync(fd, Buffer.alloc(bs - tail), 0, bs - tail, at);
      }
      for (let k = entriesFor(oldBlocks, cr); k < entriesFor(newBlocks, cr); k++) set(k, 0n);
      if (f.fixed && newBlocks > oldBlocks) {
        let end = moveTo !== null ? moveTo + bat.length : Math.ceil(fs.fstatSync(fd).size / MiB) * MiB;
        for (let i = oldBlocks; i < newBlocks; i++) { set(payloadIndex(i, cr), (BigInt(end / MiB) << 20n) | FULL); end += bs; }
        fs.ftruncateSync(fd, end);
      }
    } else {
      for (let k = entriesFor(newBlocks, cr); k < entriesFor(oldBlocks, cr); k++) set(k, 0n);
    }
    if (moveTo !== null) fs.writeSync(fd, bat, 0, bat.length, moveTo);
    fs.fsyncSync(fd);
    stepDone('resize', 1);
    const meta = Buffer.from(o.meta);
    meta.writeBigUInt64LE(BigInt(newSize), o.sizeItemAt);
    const ms = Math.floor(o.sizeItemAt / SECTOR) * SECTOR;
    const writes: [number, Buffer][] = moveTo !== null ? regionTableWrites(o.regionTable, moveTo, bat.length)
      : [...dirty].sort((a, b) => a - b).map((s) => [o.batOffset + s * SECTOR, bat.subarray(s * SECTOR, (s + 1) * SECTOR)]);
    // the size last: if the BAT needs more than one transaction, the disk changes size only with the final one
    writes.push([o.metaOffset + ms, meta.subarray(ms, ms + SECTOR)]);
    loggedWrite(fd, writes, (n) => stepDone('resize', 1 + n));
    writeHeader(fd, ZERO_GUID, { dataWriteGuid: randomGuid() });
    fs.fsyncSync(fd);
    stepDone('resize', 6);
    if (newSize < f.virtualSize) truncateUnreferenced(fd, o, newBlocks, cr);
  } finally {
    fs.closeSync(fd);
  }
}

/** Both region table copies naming the BAT region at `offset` (`length` bytes), as 4 KiB sector writes. */
function regionTableWrites(rt: Buffer, offset: number, length: number): [number, Buffer][] {
  const b = Buffer.from(rt);
  for (let i = 0; i < b.readUInt32LE(8); i++) {
    const o = 16 + i * 32;
    if (guidLE(b, o) !== REGION_BAT) continue;
    b.writeBigUInt64LE(BigInt(offset), o + 16);
    b.writeUInt32LE(length, o + 24);
  }
  b.writeUInt32LE(crc32cWithZeroField(b, 4), 4);
  const out: [number, Buffer][] = [];
  for (const base of [192 * KiB, 256 * KiB]) for (let s = 0; s < b.length; s += SECTOR) out.push([base + s, b.subarray(s, s + SECTOR)]);
  return out;
}

/** Cuts the file after the last region, log or payload/bitmap block still referenced (1 MiB aligned). */
function truncateUnreferenced(fd: number, o: Open, blocks: number, cr: number): void {
  let end = Math.max(1 * MiB, ...o.others.map(([, e]) => e));
  const bs = o.facts.blockSize;
  for (let k = 0; k < entriesFor(blocks, cr); k++) {
    const v = o.bat.readBigUInt64LE(k * 8), st = v & 7n;
    const isBitmap = (k + 1) % (cr + 1) === 0;
    if (st === FULL || (!isBitmap && st === PARTIAL)) end = Math.max(end, Number(v >> 20n) * MiB + (isBitmap ? MiB : bs));
  }
  end = Math.ceil(end / MiB) * MiB;
  if (end < fs.fstatSync(fd).size) { fs.ftruncateSync(fd, end); fs.fsyncSync(fd); }
}
