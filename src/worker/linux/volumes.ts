// After an attach: the disk's partitions and file systems. Kernel partscan where the kernel parses partition
// tables; otherwise (kernels built without partition parsers) the format layer reads MBR/GPT and each partition
// gets its own loop device with offset + sizelimit on the disk's loop device.
import * as fs from 'fs';
import { RangeReader } from '../../formats/reader';
import { readPartitionTable, PartitionEntry, PartitionTable, SectorSource } from '../../formats/partitions';
import { run, which } from './engines/process';

export interface VolumeRecord {
  device: string;
  /** Partition number, or null for a file system on the whole disk. */
  index: number | null;
  offset: number;
  size: number;
  fsType: string | null;
  label: string | null;
  /** True when the kernel made the node (loopNpM); false when we made a loop device for it. */
  kernelPartition: boolean;
}

/** The partition table on the disk, read from the file the loop device sits on (a regular file, so it has a size). */
export async function readPartitions(backingFile: string, base: number, diskSize: number): Promise<PartitionEntry[]> {
  const r = await RangeReader.open(backingFile);
  try {
    return usable(await readPartitionTable(r, base, diskSize), diskSize);
  } finally { await r.close(); }
}

function usable(t: PartitionTable | null, diskSize: number): PartitionEntry[] {
  if (!t) return [];
  return t.partitions.filter((p) => !['0x05', '0x0f', '0x85'].includes(p.type) && p.size > 0 && p.start + p.size <= diskSize);
}

/** The first bytes of a disk, read once from its file for both the partition table and the file-system probe. */
export interface DiskHead { fd: number; fileSize: number; base: number; buf: Buffer; /** "dev:inode" of the file */ ino: string }

const HEAD_BYTES = 68 * 1024;

/**
 * Head buffers for reuse (releaseHead): a fresh 68 KiB buffer per attach cost more than the pread into it (V8 maps
 * and unmaps its backing store: ~70 us against ~5 us). Attaches can overlap (they await), so a small pool, not one.
 */
const heads: Buffer[] = [];

/** One pread of the disk's first 68 KiB (GPT header and entries, every superblock ownProbe knows). Give it back with releaseHead. */
export function readHead(fd: number, base: number): DiskHead {
  const st = fs.fstatSync(fd, { bigint: true });
  const fileSize = Number(st.size);
  const buf = (heads.pop() ?? Buffer.allocUnsafe(HEAD_BYTES)).subarray(0, Math.max(0, Math.min(HEAD_BYTES, fileSize - base)));
  let n = 0;
  while (n < buf.length) { const got = fs.readSync(fd, buf, n, buf.length - n, base + n); if (!got) break; n += got; }
  return { fd, fileSize, base, buf: buf.subarray(0, n), ino: `${st.dev}:${st.ino}` };
}

/** Returns a head's buffer to the pool; `h` must not be used after. */
export function releaseHead(h: DiskHead): void {
  // only a buffer readHead allocated whole (its own 68 KiB ArrayBuffer, never a slice of Node's shared pool)
  if (heads.length < 4 && h.buf.byteOffset === 0 && h.buf.buffer.byteLength === HEAD_BYTES) heads.push(Buffer.from(h.buf.buffer, 0, HEAD_BYTES));
}

/** `len` bytes at file offset `off`: from the head when it holds them, else one pread (an EBR chain, a partition). */
function headRange(h: DiskHead, off: number, len: number): Buffer | null {
  if (off < 0 || off + len > h.fileSize) return null;
  if (off >= h.base && off + len <= h.base + h.buf.length) return h.buf.subarray(off - h.base, off - h.base + len);
  const b = Buffer.allocUnsafe(len);
  let n = 0;
  while (n < len) { const got = fs.readSync(h.fd, b, n, len - n, off + n); if (!got) break; n += got; }
  return n === len ? b : null;
}

/** readPartitions from a DiskHead: no second open of the file. */
export async function headPartitions(h: DiskHead, diskSize: number): Promise<PartitionEntry[]> {
  const src: SectorSource = { size: h.fileSize, readExact: async (off, len) => headRange(h, off, len) };
  return usable(await readPartitionTable(src, h.base, diskSize), diskSize);
}

/** The file system `offset` bytes into the disk, from the head (or one pread of the file). */
export function headProbe(h: DiskHead, offset: number): FsProbe {
  const at = h.base + offset;
  const b = headRange(h, at, Math.min(HEAD_BYTES, Math.max(0, h.fileSize - at)));
  return b ? probeBuffer(b) : { fsType: null, label: null };
}

/** Partitions the kernel found itself (loopNpM under /sys/block/loopN), with their byte ranges. */
export function kernelPartitions(device: string): { device: string; index: number; offset: number; size: number }[] {
  const name = device.replace(/^\/dev\//, '');
  let entries: string[] = [];
  try { entries = fs.readdirSync(`/sys/block/${name}`).filter((n) => n.startsWith(`${name}p`)); } catch { return []; }
  return entries.map((n) => {
    const read = (f: string) => Number(fs.readFileSync(`/sys/block/${name}/${n}/${f}`, 'utf8').trim());
    return { device: `/dev/${n}`, index: Number(n.slice(name.length + 1)), offset: read('start') * 512, size: read('size') * 512 };
  }).sort((a, b) => a.index - b.index);
}

export interface FsProbe { fsType: string | null; label: string | null }

/**
 * The file system on a block device. Our own superblock check first (no process spawn: attach stays cheap);
 * with `deep`, blkid's low-level probe for everything else (used when the user asks to mount).
 */
export async function probeFs(device: string, deep = false, source?: { file: string; offset: number }): Promise<FsProbe> {
  const own = source ? ownProbe(source.file, source.offset) : ownProbe(device, 0);
  if (own.fsType || !deep) return own;
  const blkid = which('blkid');
  if (blkid) {
    const r = await run(blkid, ['-p', '-o', 'export', device], 10_000);
    if (r.code === 0) {
      const kv = new Map(r.stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]));
      return { fsType: kv.get('TYPE') ?? null, label: kv.get('LABEL') ?? null };
    }
  }
  return own;
}

/** `path` at `offset`: the device itself, or (cheaper: already in the page cache) the file the device shows. */
function ownProbe(path: string, offset: number): FsProbe {
  let fd: number;
  try { fd = fs.openSync(path, 'r'); } catch { return { fsType: null, label: null }; }
  try {
    const b = Buffer.alloc(HEAD_BYTES);
    return probeBuffer(b.subarray(0, fs.readSync(fd, b, 0, b.length, offset)));
  } finally { fs.closeSync(fd); }
}

/** Our superblock check on the first bytes of a volume. */
function probeBuffer(b: Buffer): FsProbe {
  const n = b.length;
  const at = (off: number, s: string) => n >= off + s.length && b.toString('latin1', off, off + s.length) === s;
  const text = (off: number, len: number) => b.toString('latin1', off, off + len).replace(/[\0 ]+$/, '') || null;
  if (n >= 1082 && b.readUInt16LE(1080) === 0xef53) {
    const compat = b.readUInt32LE(1024 + 0x5c), incompat = b.readUInt32LE(1024 + 0x60);
    const type = incompat & 0x40 || incompat & 0x200 ? 'ext4' : compat & 4 ? 'ext3' : 'ext2';
    return { fsType: type, label: text(1024 + 0x78, 16) };
  }
  if (at(3, 'NTFS    ')) return { fsType: 'ntfs', label: null };
  if (at(82, 'FAT32   ')) return { fsType: 'vfat', label: text(71, 11) };
  if (at(54, 'FAT12   ') || at(54, 'FAT16   ')) return { fsType: 'vfat', label: text(43, 11) };
  if (at(0x8001, 'CD001')) return { fsType: 'iso9660', label: text(0x8028, 32) };
  for (let off = 0x8000; off < 0x8000 + 16 * 2048; off += 2048) if (at(off + 1, 'NSR02') || at(off + 1, 'NSR03')) return { fsType: 'udf', label: null };
  if (at(3, 'EXFAT   ')) return { fsType: 'exfat', label: null };
  if (at(0, 'XFSB')) return { fsType: 'xfs', label: text(108, 12) };
  if (at(0, 'hsqs')) return { fsType: 'squashfs', label: null };
  if (at(0x10040, '_BHRfS_M')) return { fsType: 'btrfs', label: text(0x1012b, 256) };
  return { fsType: null, label: null };
}
