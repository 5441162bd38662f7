// exFAT images for the browse tests, written by the real tools: mkfs.exfat (exfatprogs) and exfat-fuse on a loop
// device (this kernel has no exfat module; exfat-fuse as root wants a block device). Needs root, /dev/fuse and
// loop devices: `exfatSkipReason()` says which is missing.
import * as cp from 'child_process';
import { requireTools } from './browse-images';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

export const CLUSTER = 4096;

export function exfatSkipReason(): string | undefined {
  requireTools('mkfs.exfat', 'mount.exfat-fuse', 'losetup', 'sfdisk', 'qemu-img');
  if (process.getuid?.() !== 0) return 'needs root (exfat-fuse on a loop device)';
  if (!fs.existsSync('/dev/fuse')) return 'needs /dev/fuse';
  return undefined;
}

function run(cmd: string, args: string[]): string {
  const r = cp.spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/**
 * Fills `src` with what the exFAT tests compare: nested folders, unicode and long names (several name entries), an
 * empty file, a 9 MiB file, a folder of 300 entries (a folder over several clusters), and `frag/fragmented.bin`,
 * written into the holes left by deleted files so its clusters are not contiguous (a FAT chain).
 */
export function makeExfatImage(dir: string, src: string, label = 'VDISKEX', sizeMiB = 48): string {
  const put = (p: string, data: Buffer | string) => { fs.mkdirSync(path.dirname(path.join(src, p)), { recursive: true }); fs.writeFileSync(path.join(src, p), data); };
  put('a.txt', 'hello from exFAT\n');
  put('empty.dat', '');
  put('sub/big.bin', crypto.randomBytes(9 * 1024 * 1024 + 17));
  put('sub/deep/d.txt', 'deep\n');
  put('ünïcødé/ファイル 😀.txt', 'unicode\n');
  put('a name longer than fifteen characters, over several name entries.txt', 'long\n');
  for (let i = 0; i < 300; i++) put(`many/entry-${String(i).padStart(3, '0')}-with-a-longish-name.txt`, `${i}\n`);
  const img = path.join(dir, `${label.toLowerCase()}.exfat`);
  fs.writeFileSync(img, ''); fs.truncateSync(img, sizeMiB * 1024 * 1024);
  run('mkfs.exfat', ['-c', String(CLUSTER), '-L', label, img]);
  const mnt = fs.mkdtempSync(path.join(dir, 'mnt-'));
  const loop = run('losetup', ['-f', '--show', img]).trim();
  try {
    run('mount.exfat-fuse', [loop, mnt]);
    try {
      run('cp', ['-r', '--no-preserve=all', ...fs.readdirSync(src).map((n) => path.join(src, n)), mnt]);
      fs.mkdirSync(path.join(mnt, 'frag'));
      for (let i = 0; i < 8; i++) fs.writeFileSync(path.join(mnt, 'frag', `fill${i}`), Buffer.alloc(CLUSTER, i));
      for (let i = 0; i < 8; i += 2) fs.rmSync(path.join(mnt, 'frag', `fill${i}`));
      const frag = crypto.randomBytes(6 * CLUSTER + 100);
      fs.writeFileSync(path.join(mnt, 'frag', 'fragmented.bin'), frag);
      put('frag/fragmented.bin', frag);
      for (let i = 1; i < 8; i += 2) put(`frag/fill${i}`, Buffer.alloc(CLUSTER, i));
    } finally { run('umount', [mnt]); }
  } finally { run('losetup', ['-d', loop]); fs.rmdirSync(mnt); }
  return img;
}

/** A raw GPT disk whose one partition (1 MiB in) is the exFAT volume `part`. */
export function gptWithPartition(dir: string, part: string): string {
  const disk = path.join(dir, 'exfat-disk.img');
  const sectors = fs.statSync(part).size / 512;
  fs.writeFileSync(disk, ''); fs.truncateSync(disk, (2048 + sectors + 2048) * 512);
  const r = cp.spawnSync('sfdisk', ['-q', disk], { input: `label: gpt\nstart=2048, size=${sectors}, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name="exfat"\n`, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sfdisk: ${r.stderr}`);
  run('dd', [`if=${part}`, `of=${disk}`, 'bs=1M', 'seek=1', 'conv=notrunc', 'status=none']);
  return disk;
}
