// VHDX: file identifier, the two headers (CRC-32C, current by sequence number), region table,
// metadata items, parent locator and a BAT summary. All fields little-endian.
import { RangeReader, u64le } from '../reader';
import { crc32cWithZeroField, nonZeroEnd } from '../crc32c';
import { guidLE, normalizeGuid, ZERO_GUID } from '../guid';
import { problem } from '../problems';
import { ParsedImage, baseParsed, cstr, isPow2 } from '../types';

export const KiB = 1024;
export const MiB = 1024 * 1024;
export const REGION_BAT = '2dc27766-f623-4200-9d64-115e9bfd4a08';
export const REGION_METADATA = '8b7ca206-4790-4b9a-b8fe-575f050f886e';
export const META_FILE_PARAMETERS = 'caa16737-fa36-4d43-b3b6-33f0aa44e76b';
export const META_VIRTUAL_DISK_SIZE = '2fa54224-cd1b-4876-b211-5dbed83bf4b8';
export const META_VIRTUAL_DISK_ID = 'beca12ab-b2e6-4523-93ef-c309e000c746';
export const META_LOGICAL_SECTOR = '8141bf1d-a96f-4709-ba47-f233a8faab5f';
export const META_PHYSICAL_SECTOR = 'cda348c7-445d-4471-9cc9-e9885251c556';
export const META_PARENT_LOCATOR = 'a8d35f2d-b30b-454d-abf7-d3d84834ab0c';
export const PARENT_LOCATOR_TYPE = 'b04aefb7-d19e-4a81-b789-25b8e9445913';
const MAX_TABLE_ENTRIES = 2047;
const MAX_ITEM_BYTES = 1 * MiB;
const MAX_BAT_BYTES = 8 * MiB;

export interface VhdxHeader {
  index: number;
  valid: boolean;
  sequence: bigint;
  fileWriteGuid: string;
  dataWriteGuid: string;
  logGuid: string;
  logVersion: number;
  version: number;
  logLength: number;
  logOffset: number;
}

export function parseVhdxHeader(b: Buffer, index: number): VhdxHeader {
  const sigOk = b.toString('latin1', 0, 4) === 'head';
  return {
    index,
    valid: sigOk && b.readUInt32LE(4) === crc32cWithZeroField(b.subarray(0, 4096), 4),
    sequence: b.readBigUInt64LE(8),
    fileWriteGuid: guidLE(b, 16),
    dataWriteGuid: guidLE(b, 32),
    logGuid: guidLE(b, 48),
    logVersion: b.readUInt16LE(64),
    version: b.readUInt16LE(66),
    logLength: b.readUInt32LE(68),
    logOffset: u64le(b, 72) ?? -1,
  };
}

export interface Region { guid: string; offset: number; length: number; required: boolean }

export function parseRegionTable(b: Buffer): Region[] | null {
  if (b.length < 64 * KiB || b.toString('latin1', 0, 4) !== 'regi') return null;
  if (b.readUInt32LE(4) !== crc32cWithZeroField(b, 4)) return null;
  const count = b.readUInt32LE(8);
  if (count > MAX_TABLE_ENTRIES) return null;
  const out: Region[] = [];
  for (let i = 0; i < count; i++) {
    const o = 16 + i * 32;
    out.push({ guid: guidLE(b, o), offset: u64le(b, o + 16) ?? -1, length: b.readUInt32LE(o + 24), required: (b.readUInt32LE(o + 28) & 1) === 1 });
  }
  return out;
}

export interface MetaItem { guid: string; offset: number; length: number; isUser: boolean; isVirtualDisk: boolean; isRequired: boolean }

/** UTF-16LE key/value pairs of a parent locator item, or null when malformed. */
export function parseParentLocator(b: Buffer): { type: string; entries: Record<string, string> } | null {
  if (b.length < 20) return null;
  const count = b.readUInt16LE(18);
  if (20 + count * 12 > b.length) return null;
  const entries: Record<string, string> = {};
  for (let i = 0; i < count; i++) {
    const o = 20 + i * 12;
    const ko = b.readUInt32LE(o), vo = b.readUInt32LE(o + 4), kl = b.readUInt16LE(o + 8), vl = b.readUInt16LE(o + 10);
    if (ko + kl > b.length || vo + vl > b.length) return null;
    entries[b.toString('utf16le', ko, ko + (kl & ~1))] = b.toString('utf16le', vo, vo + (vl & ~1));
  }
  return { type: guidLE(b, 0), entries };
}

export async function inspectVhdx(r: RangeReader): Promise<ParsedImage> {
  const p = baseParsed('vhdx', 0);
  const ident = await r.read(0, 520);
  if (ident.toString('latin1', 0, 8) !== 'vhdxfile') throw new Error('not a VHDX');
  p.creator = cstr(ident.subarray(8, ident.length & ~1), 'utf16le') || null;
  if (r.size < 1 * MiB) {
    p.problems.push(problem('truncated', `${r.size} bytes is smaller than the VHDX header section`));
    return p;
  }
  const headers: VhdxHeader[] = [];
  // headers and region tables are parsed straight out of the reader's scratch buffer (nothing awaited in between)
  for (const [i, off] of [[1, 64 * KiB], [2, 128 * KiB]]) headers.push(parseVhdxHeader(r.readExactScratch(off, 4 * KiB)!, i));
  const valid = headers.filter((h) => h.valid);
  if (valid.length === 0) {
    p.problems.push(problem('header-checksum', 'neither VHDX header is valid'));
    return p;
  }
  const cur = valid.reduce((a, b) => (b.sequence > a.sequence ? b : a));
  // the specification (and qemu) treat two valid headers with the same sequence number as a corrupt file
  if (valid.length === 2 && valid[0].sequence === valid[1].sequence) {
    p.problems.push(problem('bad-header', `both headers carry sequence number ${cur.sequence}`));
  }
  p.details.headerSequence = headers.map((h) => (h.valid ? h.sequence.toString() : null));
  p.details.currentHeader = cur.index;
  if (valid.length === 1) p.details.headerWarning = `header ${3 - cur.index} is damaged; the other copy is in use`;
  p.details.fileWriteGuid = cur.fileWriteGuid;
  p.details.logGuid = cur.logGuid;
  p.details.logOffset = cur.logOffset;
  p.details.logLength = cur.logLength;
  p.id = cur.dataWriteGuid;
  if (cur.version !== 1 || cur.logVersion !== 0) p.problems.push(problem('bad-header', `version ${cur.version}, log version ${cur.logVersion}`));
  if (cur.logGuid !== ZERO_GUID) {
    p.needsLogReplay = true;
    p.problems.push(problem('log-replay-required', `LogGuid ${cur.logGuid}`));
  }
  await noteLog(r, cur, p);

  let regions = parseRegionTable(r.readExactScratch(192 * KiB, 64 * KiB)!);
  if (!regions) {
    regions = parseRegionTable(r.readExactScratch(256 * KiB, 64 * KiB)!);
    // like a damaged header: the second copy serves (qemu refuses the image instead)
    if (regions) p.details.regionTableWarning = 'region table 1 is damaged; the copy at 256 KiB is in use';
  }
  if (!regions) {
    p.problems.push(problem('region-table-invalid', 'neither region table copy is valid'));
    return p;
  }
  p.details.regions = regions;
  const bat = regions.find((x) => x.guid === REGION_BAT);
  const meta = regions.find((x) => x.guid === REGION_METADATA);
  const unknownRequired = regions.filter((x) => x.required && x.guid !== REGION_BAT && x.guid !== REGION_METADATA);
  if (!bat || !meta || unknownRequired.length) {
    p.problems.push(problem('region-table-invalid', !bat || !meta ? 'BAT or metadata region missing' : `unknown required region ${unknownRequired[0].guid}`));
    return p;
  }
  for (const reg of [bat, meta]) {
    if (reg.offset < 0 || reg.offset + reg.length > r.size) {
      p.problems.push(problem('truncated', `region ${reg.guid} at ${reg.offset}+${reg.length} beyond the end of the file`));
      return p;
    }
  }
  // regions live after the 1 MiB header section and never overlap each other (or the log)
  const spans = regions.map((x) => [x.offset, x.offset + x.length, x.guid] as const);
  if (cur.logOffset > 0 && cur.logLength > 0) spans.push([cur.logOffset, cur.logOffset + cur.logLength, 'log']);
  for (const [a0, a1, ag] of spans) {
    if (a0 < 1 * MiB && a1 > a0) {
      p.problems.push(problem('region-table-invalid', `region ${ag} at ${a0} inside the header section`));
      return p;
    }
    const other = spans.find(([b0, b1, bg]) => bg !== ag && a0 < b1 && b0 < a1);
    if (other) {
      p.problems.push(problem('region-table-invalid', `region ${ag} (${a0}-${a1}) overlaps ${other[2]} (${other[0]}-${other[1]})`));
      return p;
    }
  }
  if (!(await readMetadata(r, meta, p))) return p;
  await summariseBat(r, bat, p, spans);
  return p;
}

async function noteLog(r: RangeReader, h: VhdxHeader, p: ParsedImage): Promise<void> {
  if (h.logOffset <= 0 || h.logLength < 4 * KiB || h.logOffset + 64 > r.size) return;
  const e = (await r.readExact(h.logOffset, 64))!;
  if (e.toString('latin1', 0, 4) !== 'loge') {
    p.details.logEntries = false;
    return;
  }
  const g = guidLE(e, 32);
  p.details.logEntries = true;
  // Entries under another GUID are left over from an earlier session: stale, never replayed.
  p.details.logEntriesStale = g !== h.logGuid;
}

const KNOWN_META = new Set([META_FILE_PARAMETERS, META_VIRTUAL_DISK_SIZE, META_VIRTUAL_DISK_ID, META_LOGICAL_SECTOR, META_PHYSICAL_SECTOR, META_PARENT_LOCATOR]);

async function readMetadata(r: RangeReader, meta: Region, p: ParsedImage): Promise<boolean> {
  // the table header and its first 31 entries in one read (images carry 5 or 6): a second read only for more
  const first = await r.readExact(meta.offset, Math.min(meta.length, 1024)) ?? await r.readExact(meta.offset, 32);
  const bad = (d: string) => { p.problems.push(problem('metadata-invalid', d)); return false; };
  if (!first || first.toString('latin1', 0, 8) !== 'metadata') return bad('no metadata table signature');
  const count = first.readUInt16LE(10);
  if (count > MAX_TABLE_ENTRIES || 32 + count * 32 > meta.length) return bad(`${count} entries`);
  const tb = 32 + count * 32 <= first.length ? first.subarray(32, 32 + count * 32) : (await r.readExact(meta.offset + 32, count * 32))!;
  const items = new Map<string, MetaItem>();
  for (let i = 0; i < count; i++) {
    const o = i * 32;
    const flags = tb.readUInt32LE(o + 24);
    const it: MetaItem = { guid: guidLE(tb, o), offset: tb.readUInt32LE(o + 16), length: tb.readUInt32LE(o + 20),
      isUser: (flags & 1) !== 0, isVirtualDisk: (flags & 2) !== 0, isRequired: (flags & 4) !== 0 };
    if (it.length > MAX_ITEM_BYTES || it.offset + it.length > meta.length) return bad(`item ${it.guid} outside the region`);
    // as qemu and the specification: a known item twice, or an unknown item marked required, cannot be read
    if (items.has(it.guid)) return bad(`item ${it.guid} appears twice`);
    if (it.isRequired && !KNOWN_META.has(it.guid)) return bad(`unknown required item ${it.guid}`);
    items.set(it.guid, it);
  }
  // Items sit together (usually within 64 KiB): one read covers them all when it can.
  const known = [...items.values()].filter((it) => it.length > 0);
  const lo = Math.min(...known.map((it) => it.offset)), hi = Math.max(...known.map((it) => it.offset + it.length));
  const span = known.length && hi - lo <= 64 * KiB ? await r.readExact(meta.offset + lo, hi - lo) : null;
  const read = async (g: string, min: number): Promise<Buffer | null> => {
    const it = items.get(g);
    if (!it || it.length < min) return null;
    if (span) return span.subarray(it.offset - lo, it.offset - lo + it.length);
    return r.readExact(meta.offset + it.offset, it.length);
  };
  const fp = await read(META_FILE_PARAMETERS, 8);
  const vs = await read(META_VIRTUAL_DISK_SIZE, 8);
  const vid = await read(META_VIRTUAL_DISK_ID, 16);
  const ls = await read(META_LOGICAL_SECTOR, 4);
  const ps = await read(META_PHYSICAL_SECTOR, 4);
  if (!fp || !vs || !ls || !ps || !vid) return bad('a required item (file parameters, size, page 83 id, sector sizes) is missing');
  const blockSize = fp.readUInt32LE(0);
  const flags = fp.readUInt32LE(4);
  const virtualSize = u64le(vs, 0);
  const logical = ls.readUInt32LE(0);
  const physical = ps.readUInt32LE(0);
  if (!isPow2(blockSize) || blockSize < 1 * MiB || blockSize > 256 * MiB) return bad(`block size ${blockSize}`);
  if (logical !== 512 && logical !== 4096) return bad(`logical sector size ${logical}`);
  if (physical !== 512 && physical !== 4096) return bad(`physical sector size ${physical}`);
  if (virtualSize === null || virtualSize > 64 * 2 ** 40 || virtualSize % logical !== 0) return bad(`virtual size ${virtualSize}`);
  p.blockSize = blockSize;
  p.virtualSize = virtualSize;
  p.logicalSectorSize = logical;
  p.physicalSectorSize = physical;
  p.virtualDiskId = vid ? guidLE(vid, 0) : null;
  const hasParent = (flags & 2) !== 0;
  p.subtype = hasParent ? 'differencing' : (flags & 1) !== 0 ? 'fixed' : 'dynamic';
  p.details.leaveBlocksAllocated = (flags & 1) !== 0;
  p.details.hasParent = hasParent;
  p.details.metadataItems = [...items.values()];
  if (!hasParent) return true;
  const pl = await read(META_PARENT_LOCATOR, 20);
  const loc = pl ? parseParentLocator(pl) : null;
  if (!loc) return bad('differencing disk without a readable parent locator');
  p.details.parentLocator = loc.entries;
  if (loc.type !== PARENT_LOCATOR_TYPE) p.problems.push(problem('metadata-invalid', `unknown parent locator type ${loc.type}`));
  const e = loc.entries;
  if (!e.parent_linkage || !normalizeGuid(e.parent_linkage)) {
    p.problems.push(problem('metadata-invalid', 'the parent locator has no valid parent_linkage, so no parent can be verified'));
  }
  const locators: { relative?: string; absolute?: string; volume?: string } = {};
  if (e.relative_path) locators.relative = e.relative_path;
  if (e.absolute_win32_path) locators.absolute = e.absolute_win32_path;
  if (e.volume_path) locators.volume = e.volume_path;
  const any = e.relative_path ?? e.absolute_win32_path ?? e.volume_path ?? null;
  p.parent = {
    id: e.parent_linkage ? normalizeGuid(e.parent_linkage) : null,
    altId: e.parent_linkage2 ? normalizeGuid(e.parent_linkage2) : null,
    name: any ? any.split(/[\\/]/).pop() || null : null,
    locators,
  };
  return true;
}

async function summariseBat(r: RangeReader, bat: Region, p: ParsedImage, spans: (readonly [number, number, string])[]): Promise<void> {
  const bs = p.blockSize!;
  const chunkRatio = (2 ** 23 * p.logicalSectorSize) / bs;
  const dataBlocks = Math.ceil(p.virtualSize / bs);
  const bitmapBlocks = Math.ceil(dataBlocks / chunkRatio);
  const entries = p.subtype === 'differencing' ? bitmapBlocks * (chunkRatio + 1) : dataBlocks + Math.floor(Math.max(0, dataBlocks - 1) / chunkRatio);
  p.details.chunkRatio = chunkRatio;
  p.details.dataBlocks = dataBlocks;
  p.details.batEntries = entries;
  if (entries * 8 > bat.length) {
    p.problems.push(problem('bat-out-of-range', `BAT region of ${bat.length} bytes holds fewer than ${entries} entries`));
    return;
  }
  if (entries * 8 > MAX_BAT_BYTES) {
    p.details.allocatedBlocks = null;
    return;
  }
  // parsed synchronously below, so the reader's scratch buffer serves (no allocation per layer) unless it is large
  const b = entries * 8 <= 1 * MiB ? r.readExactScratch(bat.offset, entries * 8)! : (await r.readExact(bat.offset, entries * 8))!;
  // all zeros (an unwritten differencing disk) in native compares: what the walk finds (nothing allocated or outside, not linear)
  if (dataBlocks > 0 && nonZeroEnd(b, 0, entries * 8) === 0) { p.details.allocatedBlocks = 0; return; }
  let allocated = 0, outside = 0, first = -1, linear = p.subtype === 'fixed';
  for (let i = 0; i < dataBlocks; i++) {
    const at = (i + Math.floor(i / chunkRatio)) * 8;
    const lo = b.readUInt32LE(at);
    const state = lo & 7;
    if (state !== 6 && state !== 7) { linear = false; continue; }
    allocated++;
    // file offset in MiB = bits 20-63: the high 12 bits of the low word, then the high word
    const off = ((lo >>> 20) + b.readUInt32LE(at + 4) * 4096) * MiB;
    const len = Math.min(bs, p.virtualSize - i * bs);
    // a payload block inside the header section, beyond the end or over the BAT, metadata or log is damage
    if (off < 1 * MiB || off + len > r.size || spans.some(([s0, s1]) => off < s1 && s0 < off + len)) outside++;
    if (i === 0) first = off;
    if (state !== 6 || off !== first + i * bs) linear = false;
  }
  p.details.allocatedBlocks = allocated;
  if (outside) p.problems.push(problem('bat-out-of-range', `${outside} block(s) outside the file's data area`));
  // a non-differencing disk has no sector bitmaps: any such entry not NOT_PRESENT is something we do not understand
  for (let k = chunkRatio; linear && k < entries; k += chunkRatio + 1) if ((b.readUInt32LE(k * 8) & 7) !== 0 || b.readUInt32LE(k * 8 + 4) !== 0) linear = false;
  // every payload block FULLY_PRESENT, in order, back to back: the disk is one byte range of the file, which a
  // loop device can serve directly (linux/plan.ts); a log to replay would change that range first
  if (linear && !outside && !p.needsLogReplay && !p.problems.length && first >= 1 * MiB && first + p.virtualSize <= r.size) {
    p.details.flatData = { offset: first, size: p.virtualSize };
  }
}
