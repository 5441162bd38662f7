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
  if (iso && iso.toString('latin1') === 'CD001') return [{ index: 0, offset: 0, size: disk.size }];
  const t = await readPartitionTable(src, 0, disk.size, problems);
  if (!t) return [{ index: 0, offset: 0, size: disk.size }];
  return t.partitions
    .filter((p) => !(t.scheme === 'mbr' && CONTAINERS.has(p.type)) && p.size > 0 && p.start < disk.size)
    .map((p) => ({ index: p.index, offset: p.start, size: Math.min(p.size, disk.size - p.start), partitionType: p.type, partitionName: p.name || undefined }));
}
