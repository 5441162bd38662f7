// MBR (with extended partitions) and GPT summaries for raw images: type, start offset, size.
import type { Problem } from '../common/image';
import { RangeReader, u64le } from './reader';
import { guidLE } from './guid';
import { problem } from './problems';

export interface PartitionEntry {
  index: number;
  type: string;
  name?: string;
  start: number;
  size: number;
  bootable?: boolean;
}
/** What the table readers need: a RangeReader, or a BlockReader seen through `blockSectors` (src/formats/volumes.ts). */
export type SectorSource = Pick<RangeReader, 'readExact' | 'size'>;

export interface PartitionTable { scheme: 'mbr' | 'gpt'; sectorSize: number; diskGuid?: string; partitions: PartitionEntry[] }

const EXTENDED = new Set([0x05, 0x0f, 0x85]);
const MAX_LOGICAL = 128;
const MAX_GPT_ENTRIES = 1024;

/**
 * The MBR/GPT summary of the disk at `base` (`limit` bytes long), or null. Damage (a protective MBR without a
 * readable GPT, GPT entries outside the disk, a broken EBR chain, a partition ending beyond the disk) is pushed to
 * `problems` as `partition-table-invalid` (one problem: the first thing found).
 */
export async function readPartitionTable(r: SectorSource, base = 0, limit = r.size, problems?: Problem[]): Promise<PartitionTable | null> {
  const notes: string[] = [];
  const t = await readTable(r, base, limit, notes);
  const outside = t ? t.partitions.find((x) => x.start + x.size > limit) : undefined;
  if (outside) notes.push(`partition ${outside.index} ends at ${outside.start + outside.size}, beyond the disk end ${limit}`);
  if (problems && notes.length) problems.push(problem('partition-table-invalid', notes[0]));
  return t;
}

async function readTable(r: SectorSource, base: number, limit: number, notes: string[]): Promise<PartitionTable | null> {
  const mbr = await r.readExact(base, 512);
  if (!mbr || mbr[510] !== 0x55 || mbr[511] !== 0xaa) return null;
  const prim = [0, 1, 2, 3].map((i) => mbr.subarray(446 + i * 16, 462 + i * 16));
  if (prim.some((e) => e[4] === 0xee)) {
    for (const ss of [512, 4096]) {
      const g = await readGpt(r, base, limit, ss, notes);
      if (g) return g;
    }
    notes.unshift('protective MBR without a readable GPT');
  }
  // a boot sector of a partitionless filesystem also ends in 55aa: its "entries" have invalid status bytes
  if (prim.some((e) => e[0] !== 0 && e[0] !== 0x80)) return null;
  const partitions: PartitionEntry[] = [];
  for (let i = 0; i < 4; i++) {
    const e = prim[i];
    const type = e[4], lba = e.readUInt32LE(8), count = e.readUInt32LE(12);
    if (type === 0 || count === 0) continue;
    partitions.push({ index: i + 1, type: `0x${type.toString(16).padStart(2, '0')}`, start: lba * 512, size: count * 512, bootable: e[0] === 0x80 });
    if (EXTENDED.has(type)) await readLogical(r, base, lba, partitions, notes);
  }
  return { scheme: 'mbr', sectorSize: 512, partitions };
}

async function readLogical(r: SectorSource, base: number, extStart: number, out: PartitionEntry[], notes: string[]): Promise<void> {
  let ebr = extStart;
  const seen = new Set<number>();
  for (let n = 0; n < MAX_LOGICAL && !seen.has(ebr); n++) {
    seen.add(ebr);
    const b = await r.readExact(base + ebr * 512, 512);
    if (!b || b[510] !== 0x55 || b[511] !== 0xaa) { notes.push(`no extended boot record at sector ${ebr}`); return; }
    const e1 = b.subarray(446, 462), e2 = b.subarray(462, 478);
    if (e1[4] !== 0 && e1.readUInt32LE(12) !== 0) {
      out.push({ index: 5 + n, type: `0x${e1[4].toString(16).padStart(2, '0')}`, start: (ebr + e1.readUInt32LE(8)) * 512, size: e1.readUInt32LE(12) * 512 });
    }
    if (!EXTENDED.has(e2[4]) || e2.readUInt32LE(8) === 0) return;
    ebr = extStart + e2.readUInt32LE(8);
  }
  notes.push(seen.has(ebr) ? `the extended boot record chain loops at sector ${ebr}` : `more than ${MAX_LOGICAL} logical partitions`);
}

async function readGpt(r: SectorSource, base: number, limit: number, ss: number, notes: string[]): Promise<PartitionTable | null> {
  const h = await r.readExact(base + ss, 92);
  if (!h || h.toString('latin1', 0, 8) !== 'EFI PART') return null;
  const entriesLba = u64le(h, 72);
  const count = h.readUInt32LE(80);
  const size = h.readUInt32LE(84);
  if (entriesLba === null || count > MAX_GPT_ENTRIES || size < 128 || size > 4096 || size % 8 !== 0) {
    notes.push(`GPT header: entries at LBA ${entriesLba}, ${count} entries of ${size} bytes`);
    return null;
  }
  const off = base + entriesLba * ss;
  if (off + count * size > Math.min(r.size, base + limit)) {
    notes.push(`GPT entries at LBA ${entriesLba} (${count} x ${size} bytes) beyond the end of the disk`);
    return null;
  }
  const t = (await r.readExact(off, count * size))!;
  const partitions: PartitionEntry[] = [];
  for (let i = 0; i < count; i++) {
    const e = t.subarray(i * size, i * size + 128);
    if (e.subarray(0, 16).every((x) => x === 0)) continue;
    const first = u64le(e, 32), last = u64le(e, 40);
    if (first === null || last === null || last < first) { notes.push(`GPT entry ${i + 1}: first LBA ${first}, last LBA ${last}`); continue; }
    const name = e.toString('utf16le', 56, 128).replace(/\0.*$/, '');
    partitions.push({ index: i + 1, type: guidLE(e, 0), name, start: first * ss, size: (last - first + 1) * ss });
  }
  return { scheme: 'gpt', sectorSize: ss, diskGuid: guidLE(h, 56), partitions };
}
