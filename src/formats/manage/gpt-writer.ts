// A GPT for a new disk (UEFI 2.10, 5.2-5.3): protective MBR, primary header and entry array, backup entry array
// and header at the end, each with its CRC32; 128 entries of 128 bytes; at most one partition.
import { guidToBytesLE } from '../guid';

import { crc32 } from '../crc32';

export interface GptPartition { offset: number; size: number; typeGuid: string; guid: string; name: string }
export interface GptSpec { diskSize: number; sectorSize: number; diskGuid: string; partition?: GptPartition }

const ENTRIES = 128, ENTRY_SIZE = 128;

/** The pieces to write, as [byte offset on the disk, bytes]. */
export function buildGpt(s: GptSpec): [number, Buffer][] {
  const ss = s.sectorSize;
  const sectors = s.diskSize / ss;
  if (!Number.isInteger(sectors)) throw new Error('the disk size is not a whole number of sectors');
  const entriesSectors = Math.ceil((ENTRIES * ENTRY_SIZE) / ss);
  const lastLba = sectors - 1;
  const firstUsable = 2 + entriesSectors;
  const lastUsable = lastLba - 1 - entriesSectors;
  const entries = Buffer.alloc(entriesSectors * ss);
  if (s.partition) {
    const p = s.partition;
    const first = p.offset / ss, last = (p.offset + p.size) / ss - 1;
    if (!Number.isInteger(first) || !Number.isInteger(last + 1) || first < firstUsable || last > lastUsable || last < first) {
      throw new Error(`the partition [${p.offset}, +${p.size}) is not inside the usable sectors ${firstUsable}-${lastUsable}`);
    }
    guidToBytesLE(p.typeGuid).copy(entries, 0);
    guidToBytesLE(p.guid).copy(entries, 16);
    entries.writeBigUInt64LE(BigInt(first), 32);
    entries.writeBigUInt64LE(BigInt(last), 40);
    Buffer.from(p.name.slice(0, 36), 'utf16le').copy(entries, 56, 0, 72);
  }
  const entriesCrc = crc32(entries.subarray(0, ENTRIES * ENTRY_SIZE));
  const header = (current: number, backup: number, entriesLba: number): Buffer => {
    const h = Buffer.alloc(ss);
    h.write('EFI PART', 0, 'latin1');
    h.writeUInt32LE(0x00010000, 8);
    h.writeUInt32LE(92, 12);
    h.writeBigUInt64LE(BigInt(current), 24);
    h.writeBigUInt64LE(BigInt(backup), 32);
    h.writeBigUInt64LE(BigInt(firstUsable), 40);
    h.writeBigUInt64LE(BigInt(lastUsable), 48);
    guidToBytesLE(s.diskGuid).copy(h, 56);
    h.writeBigUInt64LE(BigInt(entriesLba), 72);
    h.writeUInt32LE(ENTRIES, 80);
    h.writeUInt32LE(ENTRY_SIZE, 84);
    h.writeUInt32LE(entriesCrc, 88);
    h.writeUInt32LE(crc32(h.subarray(0, 92)), 16);
    return h;
  };
  const mbr = Buffer.alloc(512);
  const e = 446;
  mbr.writeUIntBE(0x000200, e + 1, 3); // CHS of LBA 1
  mbr[e + 4] = 0xee;
  mbr.writeUIntBE(0xffffff, e + 5, 3);
  mbr.writeUInt32LE(1, e + 8);
  mbr.writeUInt32LE(Math.min(sectors - 1, 0xffffffff), e + 12);
  mbr.writeUInt16LE(0xaa55, 510);
  return [
    [0, mbr],
    [ss, header(1, lastLba, 2)],
    [2 * ss, entries],
    [(lastLba - entriesSectors) * ss, entries],
    [lastLba * ss, header(lastLba, 1, lastLba - entriesSectors)],
  ];
}
