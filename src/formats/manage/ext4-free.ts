// Which blocks of an ext4 file system are free (its block bitmaps), for a file-system-aware compact. Only a cleanly
// unmounted file system is trusted: state clean, no journal recovery pending, no errors. Groups whose bitmap is not
// initialised (BLOCK_UNINIT) and META_BG layouts are left alone (counted as used): never a guess.
import { countFree, FreeMap, Read, Refusal } from './free-map';

export async function ext4Free(read: Read, start: number, size: number): Promise<FreeMap | Refusal | null> {
  if (size < 2048) return null;
  const sb = await read(start + 1024, 1024);
  if (sb.readUInt16LE(56) !== 0xef53) return null;
  const no = (refused: string): Refusal => ({ fs: 'ext4', start, refused });
  const incompat = sb.readUInt32LE(0x60);
  const state = sb.readUInt16LE(58);
  if (incompat & 0x4) return no('its journal needs recovery (it was not unmounted cleanly): mount and unmount it, or run e2fsck');
  if (!(state & 1) || state & 2) return no('it is not marked clean (or has errors): run e2fsck first');
  if (incompat & 0x10) return no('it uses META_BG, which this compaction does not read');
  const logBlock = sb.readUInt32LE(24);
  if (logBlock > 6) return no(`its block size (1024 << ${logBlock}) is not one ext4 uses`);
  const bsize = 1024 << logBlock;
  const is64 = (incompat & 0x80) !== 0;
  const blocks = sb.readUInt32LE(4) + (is64 ? sb.readUInt32LE(0x150) * 2 ** 32 : 0);
  const first = sb.readUInt32LE(20), bpg = sb.readUInt32LE(32);
  const descSize = is64 ? Math.max(32, sb.readUInt16LE(0xfe)) : 32;
  if (blocks * bsize > size || !bpg || bpg > bsize * 8 || first >= blocks) return no('its superblock does not fit the partition');
  const groups = Math.ceil((blocks - first) / bpg);
  const used = Buffer.alloc(Math.ceil(blocks / 8), 0xff);
  const gdt = await read(start + (first + 1) * bsize, groups * descSize);
  let reported = 0;
  for (let g = 0; g < groups; g++) {
    const d = g * descSize;
    reported += gdt.readUInt16LE(d + 0x0c) + (descSize >= 64 ? gdt.readUInt16LE(d + 0x2c) * 65536 : 0);
    if (gdt.readUInt16LE(d + 0x12) & 0x2) continue; // BLOCK_UNINIT
    const bitmapBlock = gdt.readUInt32LE(d) + (descSize >= 64 ? gdt.readUInt32LE(d + 0x20) * 2 ** 32 : 0);
    if (!bitmapBlock || bitmapBlock >= blocks) return no(`group ${g} names a block bitmap outside the file system`);
    const bm = await read(start + bitmapBlock * bsize, Math.ceil(bpg / 8));
    const base = first + g * bpg;
    const n = Math.min(bpg, blocks - base);
    let b = 0;
    if (base % 8 === 0) { bm.copy(used, base >> 3, 0, n >> 3); b = n & ~7; } // whole bytes (4 KiB blocks: every group)
    for (; b < n; b++) {
      if (bm[b >> 3] & (1 << (b & 7))) continue;
      const u = base + b;
      used[u >> 3] &= ~(1 << (u & 7));
    }
  }
  return { fs: 'ext4', start, size, unit: bsize, units: blocks, used, freeBytes: countFree(used, blocks) * bsize, reportedFreeBytes: reported * bsize };
}
