// Which byte ranges of a disk an ext4 file system marks free (its block bitmaps), for a file-system-aware compact.
// Only a cleanly unmounted file system is trusted: state clean, no journal recovery pending, no errors. Groups whose
// bitmap is not initialised (BLOCK_UNINIT) and META_BG layouts are left alone (counted as used): never a guess.
export interface FsFree { fs: 'ext4'; start: number; size: number; free: [number, number][]; refused?: string }

type Read = (off: number, len: number) => Promise<Buffer>;

export async function ext4Free(read: Read, start: number, size: number): Promise<FsFree | null> {
  const sb = await read(start + 1024, 1024);
  if (sb.readUInt16LE(56) !== 0xef53) return null;
  const out: FsFree = { fs: 'ext4', start, size, free: [] };
  const incompat = sb.readUInt32LE(0x60);
  const state = sb.readUInt16LE(58);
  if (incompat & 0x4) return { ...out, refused: 'its journal needs recovery (it was not unmounted cleanly): mount and unmount it, or run e2fsck' };
  if (!(state & 1) || state & 2) return { ...out, refused: 'it is not marked clean (or has errors): run e2fsck first' };
  if (incompat & 0x10) return { ...out, refused: 'it uses META_BG, which this compaction does not read' };
  const bsize = 1024 << sb.readUInt32LE(24);
  const is64 = (incompat & 0x80) !== 0;
  const blocks = sb.readUInt32LE(4) + (is64 ? sb.readUInt32LE(0x150) * 2 ** 32 : 0);
  const first = sb.readUInt32LE(20), bpg = sb.readUInt32LE(32);
  const descSize = is64 ? Math.max(32, sb.readUInt16LE(0xfe)) : 32;
  const groups = Math.ceil((blocks - first) / bpg);
  if (blocks * bsize > size || !bpg || groups > 1 << 22) return { ...out, refused: 'its superblock does not fit the partition' };
  const gdt = await read(start + (first + 1) * bsize, groups * descSize);
  for (let g = 0; g < groups; g++) {
    const d = g * descSize;
    if (gdt.readUInt16LE(d + 0x12) & 0x2) continue; // BLOCK_UNINIT
    const bitmapBlock = gdt.readUInt32LE(d) + (descSize >= 64 ? gdt.readUInt32LE(d + 0x20) * 2 ** 32 : 0);
    if (!bitmapBlock || bitmapBlock >= blocks) return { ...out, free: [], refused: `group ${g} names a block bitmap outside the file system` };
    const bm = await read(start + bitmapBlock * bsize, Math.ceil(bpg / 8));
    const base = first + g * bpg;
    const n = Math.min(bpg, blocks - base);
    for (let b = 0; b < n; b++) {
      if (bm[b >> 3] & (1 << (b & 7))) continue;
      let e = b + 1;
      while (e < n && !(bm[e >> 3] & (1 << (e & 7)))) e++;
      out.free.push([start + (base + b) * bsize, (e - b) * bsize]);
      b = e;
    }
  }
  return out;
}

/** Partitions (MBR primary or GPT) as [start, size], or the whole disk when there is no table. */
export async function volumesOf(read: Read, diskSize: number): Promise<[number, number][]> {
  const mbr = await read(0, 512);
  if (mbr.readUInt16LE(510) !== 0xaa55) return [[0, diskSize]];
  const entries = [0, 1, 2, 3].map((i) => mbr.subarray(446 + i * 16, 462 + i * 16)).filter((e) => e[4] !== 0);
  if (entries.some((e) => e[4] === 0xee)) {
    const h = await read(512, 512);
    if (h.toString('latin1', 0, 8) !== 'EFI PART') return [];
    const lba = Number(h.readBigUInt64LE(72)), count = h.readUInt32LE(80), esz = h.readUInt32LE(84);
    const t = await read(lba * 512, Math.min(count, 256) * esz);
    const out: [number, number][] = [];
    for (let i = 0; i < Math.min(count, 256); i++) {
      const e = t.subarray(i * esz, (i + 1) * esz);
      if (e.subarray(0, 16).every((x) => x === 0)) continue;
      const a = Number(e.readBigUInt64LE(32)), b = Number(e.readBigUInt64LE(40));
      out.push([a * 512, (b - a + 1) * 512]);
    }
    return out;
  }
  return entries.filter((e) => ![0x05, 0x0f, 0x85].includes(e[4])).map((e) => [e.readUInt32LE(8) * 512, e.readUInt32LE(12) * 512]);
}
