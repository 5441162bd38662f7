// The volumes of a virtual disk read through the block layer: its MBR (primary, extended and logical) or GPT
// partitions, or the whole disk when it has no partition table or is an ISO 9660/UDF image (hybrid ISOs too).
import type { BlockReader } from './block';
import { readPartitionTable, SectorSource } from './partitions';
import type { Problem } from '../common/image';

export interface Volume {
  /** 1-based partition index (1-4 primary, 5.. logical, GPT entry number); 0 for a whole-disk volume. */
  index: number;
  offset: number;
  size: number;
  /** Partition type (`0x07`, a GPT type GUID) and GPT name, when from a table. */
  partitionType?: string;
  partitionName?: string;
}

const CONTAINERS = new Set(['0x05', '0x0f', '0x85']);

/** A BlockReader seen as the sector source the partition table readers take. */
export function blockSectors(disk: BlockReader): SectorSource {
  return {
    size: disk.size,
    async readExact(offset: number, length: number): Promise<Buffer | null> {
      if (offset < 0 || offset + length > disk.size) return null;
      const b = Buffer.alloc(length);
      return (await disk.read(b, offset)) === length ? b : null;
    },
  };
}

export async function findVolumes(disk: BlockReader, problems: Problem[] = []): Promise<Volume[]> {
  const src = blockSectors(disk);
  const iso = await src.readExact(0x8001, 5);
  if (iso && iso.toString('latin1') === 'CD001') return [{ index: 0, offset: 0, size: disk.size }, ...await appleHfsPartitions(src)];
  // a bare exFAT or NTFS volume: its boot sector ends in 55 AA like an MBR, and its boot code is no partition table
  const oem = await src.readExact(3, 8);
  if (oem && /^(EXFAT   |NTFS    )$/.test(oem.toString('latin1'))) return [{ index: 0, offset: 0, size: disk.size }];
  const t = await readPartitionTable(src, 0, disk.size, problems);
  if (!t) return [{ index: 0, offset: 0, size: disk.size }];
  return t.partitions
    .filter((p) => !(t.scheme === 'mbr' && CONTAINERS.has(p.type)) && p.size > 0 && p.start < disk.size)
    .map((p) => ({ index: p.index, offset: p.start, size: Math.min(p.size, disk.size - p.start), partitionType: p.type, partitionName: p.name || undefined }));
}

/**
 * The HFS+ partitions of an Apple Partition Map (a hybrid ISO 9660/HFS+ disc such as `xorriso -hfsplus` writes):
 * block 0 `ER` with the block size, then one `PM` entry a block. Only Apple_HFS/Apple_HFSX entries inside the disk.
 */
async function appleHfsPartitions(src: SectorSource): Promise<Volume[]> {
  const ddm = await src.readExact(0, 512);
  if (!ddm || ddm.toString('latin1', 0, 2) !== 'ER') return [];
  const bs = ddm.readUInt16BE(2);
  if (![512, 1024, 2048, 4096].includes(bs)) return [];
  const out: Volume[] = [];
  let count = 1;
  for (let i = 1; i <= count && i <= 64; i++) {
    const e = await src.readExact(i * bs, 512);
    if (!e || e.toString('latin1', 0, 2) !== 'PM') break;
    if (i === 1) count = e.readUInt32BE(4);
    const type = e.toString('latin1', 48, 80).replace(/\0.*$/s, '');
    const offset = e.readUInt32BE(8) * bs, size = e.readUInt32BE(12) * bs;
    if (/^Apple_HFSX?$/.test(type) && size > 0 && offset + size <= src.size) {
      out.push({ index: i, offset, size, partitionType: type, partitionName: e.toString('latin1', 16, 48).replace(/\0.*$/s, '') || undefined });
    }
  }
  return out;
}
