// NTFS test disks for the file-system-aware compact: mkntfs + ntfs-3g's FUSE mount to populate them, and oracles
// that do not use vdisk's own NTFS reader (ntfs-3g's ntfscat for $Bitmap and files, ntfsfix -n, ntfsinfo).
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { run, tool, which } from '../unit/formats/helpers';

export const SECTOR = 512;

/** Mounts the NTFS file `img` with ntfs-3g, runs `fn` on the mount point, always unmounts. */
export function withNtfsMount<T>(img: string, fn: (mnt: string) => T): T {
  tool('ntfs-3g');
  const mnt = fs.mkdtempSync(`${img}.mnt-`);
  run('ntfs-3g', [img, mnt]);
  try { return fn(mnt); } finally {
    const r = cp.spawnSync(which('umount') ?? 'umount', [mnt]);
    if (r.status !== 0) cp.spawnSync(which('fusermount') ?? 'fusermount', ['-uz', mnt]);
    fs.rmdirSync(mnt);
  }
}

/** A GPT disk file (`size` bytes) with one partition at 1 MiB holding the NTFS file `part`. */
export function gptDiskWith(part: string, disk: string, size: number): { start: number; size: number } {
  const partSize = fs.statSync(part).size, start = 1 << 20;
  fs.writeFileSync(disk, '');
  fs.truncateSync(disk, size);
  run('sfdisk', ['-q', disk], { input: `label: gpt\nstart=${start / SECTOR}, size=${partSize / SECTOR}, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\n` });
  run('dd', [`if=${part}`, `of=${disk}`, `bs=${SECTOR}`, `seek=${start / SECTOR}`, 'conv=notrunc', 'status=none']);
  return { start, size: partSize };
}

/** The bytes [start, start+size) of `raw` as their own file (a partition extracted for ntfs tools). */
export function extract(raw: string, start: number, size: number, out: string): string {
  run('dd', [`if=${raw}`, `of=${out}`, 'bs=65536', `skip=${start}`, `count=${size}`, 'iflag=skip_bytes,count_bytes', 'status=none']);
  return out;
}

/** ntfs-3g's view of the volume: cluster size, cluster count and $Bitmap (bit set: in use). */
export function ntfsBitmap(part: string): { clusterSize: number; clusters: number; bitmap: Buffer } {
  const info = run('ntfsinfo', ['-m', part]);
  const clusterSize = Number(/Cluster Size:\s*(\d+)/.exec(info)![1]);
  const clusters = Number(/Volume Size in Clusters:\s*(\d+)/.exec(info)![1]);
  const bitmap = cp.execFileSync(tool('ntfscat'), [part, '$Bitmap'], { maxBuffer: 1 << 28 });
  return { clusterSize, clusters, bitmap };
}

/** Blocks of the disk (`blockSize`) whose every byte is zero or a cluster ntfs-3g's $Bitmap marks free. */
export function expectedReleasable(raw: string, partStart: number, part: string, blockSize: number): Set<number> {
  const { clusterSize, clusters, bitmap } = ntfsBitmap(part);
  const disk = fs.readFileSync(raw), out = new Set<number>();
  for (let b = 0; b * blockSize < disk.length; b++) {
    let ok = true;
    for (let at = b * blockSize; at < Math.min(disk.length, (b + 1) * blockSize) && ok; at++) {
      const c = Math.floor((at - partStart) / clusterSize);
      if (at >= partStart && c < clusters && !(bitmap[c >> 3] & (1 << (c & 7)))) { at = partStart + (c + 1) * clusterSize - 1; continue; }
      if (disk[at] !== 0) ok = false;
    }
    if (ok) out.add(b);
  }
  return out;
}

/** Asserts that every cluster the volume marks in use reads the same in both raw disks. */
export function sameAllocatedClusters(a: string, b: string, partStart: number, part: string): number {
  const { clusterSize, clusters, bitmap } = ntfsBitmap(part);
  const x = fs.readFileSync(a), y = fs.readFileSync(b);
  let n = 0;
  for (let c = 0; c < clusters; c++) {
    if (!(bitmap[c >> 3] & (1 << (c & 7)))) continue;
    const o = partStart + c * clusterSize;
    if (!x.subarray(o, o + clusterSize).equals(y.subarray(o, o + clusterSize))) assert.fail(`cluster ${c} differs`);
    n++;
  }
  return n;
}

/** Offsets of the $VOLUME_INFORMATION flags in the partition file `part`: record 3 in $MFT and in $MFTMirr. */
export function volumeFlagsOffset(part: string): number[] {
  const boot = Buffer.alloc(512);
  const fd = fs.openSync(part, 'r');
  try {
    fs.readSync(fd, boot, 0, 512, 0);
    const cs = boot.readUInt16LE(11) * boot[13];
    const cpr = boot.readInt8(0x40), rs = cpr > 0 ? cpr * cs : 2 ** -cpr;
    const recAt = Number(boot.readBigUInt64LE(0x30)) * cs + 3 * rs, mirrAt = Number(boot.readBigUInt64LE(0x38)) * cs + 3 * rs;
    const rec = Buffer.alloc(rs);
    fs.readSync(fd, rec, 0, rs, recAt);
    for (let off = rec.readUInt16LE(0x14); rec.readUInt32LE(off) !== 0xffffffff; off += rec.readUInt32LE(off + 4)) {
      if (rec.readUInt32LE(off) === 0x70) return [recAt, mirrAt].map((r) => r + off + rec.readUInt16LE(off + 20) + 10);
    }
    throw new Error('$Volume has no $VOLUME_INFORMATION');
  } finally { fs.closeSync(fd); }
}

export function patch(file: string, offset: number, bytes: Buffer): void {
  const fd = fs.openSync(file, 'r+');
  try { fs.writeSync(fd, bytes, 0, bytes.length, offset); } finally { fs.closeSync(fd); }
}

export function rawOf(image: string, fmt: 'vhd' | 'vhdx', dir: string, tag = ''): string {
  const out = path.join(dir, `${path.basename(image)}${tag}.raw`);
  run('qemu-img', ['convert', '-f', fmt === 'vhd' ? 'vpc' : 'vhdx', '-O', 'raw', image, out]);
  return out;
}
