// Moving a GPT's backup (header + entry array) to a new end of the disk, for resize. The primary header's
// AlternateLBA and LastUsableLBA, its CRC, and the protective MBR's size change with it; the entries do not.
// The backup header is written before the primary names it, so every durable state has one whole table:
// grow: backup at the new end, then the MBR, then the primary header; shrink: the same, before the disk shrinks.
import { FormatError } from '../errors';

import { crc32 } from '../crc32';

export interface Gpt {
  sectorSize: number;
  header: Buffer;
  headerSize: number;
  entries: Buffer;
  entriesSectors: number;
  alternateLba: number;
  /** The bytes the current backup occupies (entries and header), excluded when checking that dropped space is empty. */
  backupRange: [number, number];
  /** A GPT header in the disk's last sector that the primary does not name (left by an interrupted resize), and its entries. */
  staleRange: [number, number] | null;
  /** Where the last partition ends (bytes). */
  lastPartitionEnd: number;
  /** Where the usable space starts (bytes): the new last usable LBA may not come before it. */
  firstUsable: number;
}

type Read = (off: number, len: number) => Promise<Buffer>;

/** The primary GPT of a disk of `size` bytes, checked (signature, header and entry CRCs); null when there is none. */
export async function readGpt(read: Read, size: number, sectorSize: number): Promise<Gpt | null> {
  const h = await read(sectorSize, sectorSize);
  if (h.toString('latin1', 0, 8) !== 'EFI PART') return null;
  const headerSize = h.readUInt32LE(12);
  if (headerSize < 92 || headerSize > sectorSize) throw new FormatError('corrupt', `the GPT header says it is ${headerSize} bytes`);
  const header = Buffer.from(h.subarray(0, headerSize));
  const crc = header.readUInt32LE(16);
  header.writeUInt32LE(0, 16);
  if (crc32(header) !== crc) throw new FormatError('corrupt', 'the primary GPT header\'s CRC is wrong: repair the partition table (gdisk, "sgdisk -e") before resizing');
  header.writeUInt32LE(crc, 16);
  const entriesLba = Number(header.readBigUInt64LE(72)), count = header.readUInt32LE(80), entrySize = header.readUInt32LE(84);
  if (count > 4096 || entrySize < 128 || entrySize % 8) throw new FormatError('corrupt', `the GPT header names ${count} entries of ${entrySize} bytes`);
  const entries = await read(entriesLba * sectorSize, count * entrySize);
  if (crc32(entries) !== header.readUInt32LE(88)) throw new FormatError('corrupt', 'the GPT partition entries\' CRC is wrong: repair the partition table before resizing');
  const entriesSectors = Math.ceil((count * entrySize) / sectorSize);
  const alternateLba = Number(header.readBigUInt64LE(32));
  let lastPartitionEnd = 0;
  for (let i = 0; i < count; i++) {
    const e = entries.subarray(i * entrySize, i * entrySize + 128);
    if (e.subarray(0, 16).every((x) => x === 0)) continue;
    lastPartitionEnd = Math.max(lastPartitionEnd, (Number(e.readBigUInt64LE(40)) + 1) * sectorSize);
  }
  const altOk = alternateLba * sectorSize < size && alternateLba > entriesSectors;
  const backupRange: [number, number] = altOk ? [(alternateLba - entriesSectors) * sectorSize, (alternateLba + 1) * sectorSize] : [size, size];
  const firstUsable = Number(header.readBigUInt64LE(40)) * sectorSize;
  const lastLba = size / sectorSize - 1;
  const tail = alternateLba !== lastLba ? await read(lastLba * sectorSize, sectorSize) : null;
  const staleRange: [number, number] | null = tail && tail.toString('latin1', 0, 8) === 'EFI PART' && Number(tail.readBigUInt64LE(24)) === lastLba
    ? [(lastLba - entriesSectors) * sectorSize, size] : null;
  return { sectorSize, header, headerSize, entries, entriesSectors, alternateLba, backupRange, staleRange, lastPartitionEnd, firstUsable };
}

/** The smallest disk that still holds every partition (or, without any, the first usable sector) and a backup GPT after them. */
export function gptMinimum(g: Gpt): number {
  return Math.max(g.lastPartitionEnd, g.firstUsable + g.sectorSize) + (g.entriesSectors + 1) * g.sectorSize;
}

/**
 * The writes that put the backup GPT at the end of a disk of `newSize` bytes, in order: backup entries and header,
 * the protective MBR's size (when `mbr` is the current sector 0), then the primary header.
 */
export function gptMoveWrites(g: Gpt, newSize: number, mbr: Buffer | null): [number, Buffer][] {
  const ss = g.sectorSize;
  const last = newSize / ss - 1;
  const backupEntries = last - g.entriesSectors;
  const lastUsable = backupEntries - 1;
  const seal = (h: Buffer) => { h.writeUInt32LE(0, 16); h.writeUInt32LE(crc32(h), 16); return h; };
  const primary = Buffer.from(g.header);
  primary.writeBigUInt64LE(BigInt(last), 32);
  primary.writeBigUInt64LE(BigInt(lastUsable), 48);
  const backup = Buffer.from(primary);
  backup.writeBigUInt64LE(BigInt(last), 24);
  backup.writeBigUInt64LE(1n, 32);
  backup.writeBigUInt64LE(BigInt(backupEntries), 72);
  const sector = (h: Buffer) => { const s = Buffer.alloc(ss); seal(h).copy(s); return s; };
  const entries = Buffer.alloc(g.entriesSectors * ss);
  g.entries.copy(entries);
  const writes: [number, Buffer][] = [[backupEntries * ss, entries], [last * ss, sector(backup)]];
  if (mbr) {
    const m = Buffer.from(mbr);
    for (let i = 0; i < 4; i++) {
      const e = 446 + i * 16;
      if (m[e + 4] === 0xee) m.writeUInt32LE(Math.min(newSize / ss - 1, 0xffffffff), e + 12);
    }
    if (!m.equals(mbr)) writes.push([0, m]);
  }
  writes.push([ss, sector(primary)]);
  return writes;
}
