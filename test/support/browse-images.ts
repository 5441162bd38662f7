// Real images for the browse tests, built with the file systems' own tools (no mount): source folders, a GPT disk
// holding FAT (mkfs.vfat + mtools) and ext4 (mkfs.ext4 -d), conversions by qemu-img, an ISO by xorriso.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as P from '../../src/common/protocol';
import type { BrowseEntry } from '../../src/common/protocol';
import type { WorkerClient } from '../../src/host/worker-client';

/** A reader of whole files inside `image` through the worker's vdisk/browse/read, 1 MiB a request. */
export const browseReader = (client: WorkerClient, image: string) => async (p: string): Promise<Buffer> => {
  const parts: Buffer[] = [];
  for (let offset = 0; ;) {
    const r = await client.request(P.BrowseRead, { image, path: p, offset, length: 1024 * 1024 });
    const b = Buffer.from(r.data, 'base64');
    parts.push(b); offset += b.length;
    if (r.eof || !b.length) return Buffer.concat(parts);
  }
};

/** The Debian package of each tool the browse tests run (.ci/run installs them all). */
const PACKAGES: Record<string, string> = {
  'mkfs.vfat': 'dosfstools', mcopy: 'mtools', 'mkfs.ext4': 'e2fsprogs', sfdisk: 'fdisk', xorriso: 'xorriso', 'qemu-img': 'qemu-utils',
  '7z': 'p7zip-full', mkntfs: 'ntfs-3g', 'ntfs-3g': 'ntfs-3g', mksquashfs: 'squashfs-tools', genisoimage: 'genisoimage',
  'mkfs.exfat': 'exfatprogs', 'mount.exfat-fuse': 'exfat-fuse', losetup: 'util-linux',
};
/** Tools CI installs are not optional: a missing one fails the test, naming the package to install. */
export function requireTools(...tools: string[]): void {
  const missing = tools.filter((t) => cp.spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
  if (missing.length) assert.fail(`${missing.join(', ')} not installed (apt-get install ${[...new Set(missing.map((t) => PACKAGES[t] ?? t))].join(' ')}); this test needs it`);
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): void {
  const r = cp.spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.stdout}`);
}

/**
 * A source folder: nested folders, an empty file, a 9 MiB random file, non-ASCII names; with `links`, symbolic links.
 * `fat`: names FAT stores as long names (mtools would keep Latin-1 names that fit 8.3 as code-page short names,
 * which no reader decodes the same way: native 7-Zip shows them garbled too).
 */
export function makeTree(dir: string, links: boolean, fat = false): string {
  const f = (p: string, data: Buffer | string) => { fs.mkdirSync(path.dirname(path.join(dir, p)), { recursive: true }); fs.writeFileSync(path.join(dir, p), data); };
  f('a.txt', 'hello from the image\n');
  f('empty.dat', '');
  f('sub/big.bin', crypto.randomBytes(9 * 1024 * 1024 + 17));
  f('sub/mid.bin', crypto.randomBytes(200_000));
  f('sub/deep/d.txt', 'deep\n');
  f('with spaces.txt', 'spaces\n');
  f(fat ? 'ユニコード/ファイル.txt' : 'ünïcødé/ファイル.txt', 'unicode\n');
  if (links) {
    fs.symlinkSync('../a.txt', path.join(dir, 'sub/rel-link'));
    fs.symlinkSync('/etc/passwd', path.join(dir, 'abs-link'));
    fs.symlinkSync('sub/deep', path.join(dir, 'dir-link'));
  }
  return dir;
}

/** A raw GPT disk: partition 1 FAT (label VDISKFAT) from `fatSrc`, partition 2 ext4 (label vdiskext) from `extSrc`. */
export function makeGptDisk(dir: string, fatSrc: string, extSrc: string): string {
  const disk = path.join(dir, 'disk.img');
  const fat = path.join(dir, 'fat.part'), ext = path.join(dir, 'ext.part');
  const fatSectors = 32768, extSectors = 40960;
  fs.writeFileSync(disk, ''); fs.truncateSync(disk, (2048 + fatSectors + extSectors + 2048) * 512);
  const table = `label: gpt\nstart=2048, size=${fatSectors}, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name="data"\n`
    + `start=${2048 + fatSectors}, size=${extSectors}, type=0FC63DAF-8483-4772-8E3D-0DE469B9B6EB, name="linux"\n`;
  const r = cp.spawnSync('sfdisk', ['-q', disk], { input: table, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sfdisk: ${r.stderr}`);
  fs.writeFileSync(fat, ''); fs.truncateSync(fat, fatSectors * 512);
  run('mkfs.vfat', ['-n', 'VDISKFAT', fat]);
  const top = fs.readdirSync(fatSrc).map((n) => path.join(fatSrc, n));
  run('mcopy', ['-s', '-p', '-m', '-i', fat, ...top, '::/'], { MTOOLS_SKIP_CHECK: '1', LC_ALL: 'C.UTF-8' });
  fs.writeFileSync(ext, ''); fs.truncateSync(ext, extSectors * 512);
  run('mkfs.ext4', ['-q', '-F', '-L', 'vdiskext', '-d', extSrc, ext]);
  run('dd', [`if=${fat}`, `of=${disk}`, 'bs=512', 'seek=2048', 'conv=notrunc', 'status=none']);
  run('dd', [`if=${ext}`, `of=${disk}`, 'bs=512', `seek=${2048 + fatSectors}`, 'conv=notrunc', 'status=none']);
  fs.rmSync(fat); fs.rmSync(ext);
  return disk;
}

/** qemu-img's output format names for our extensions. */
export const QEMU_FORMATS: Record<string, string> = { vhd: 'vpc', vhdx: 'vhdx', qcow2: 'qcow2', vmdk: 'vmdk', vdi: 'vdi' };
export function convert(raw: string, ext: string): string {
  const out = raw.replace(/\.img$/, `.${ext}`);
  run('qemu-img', ['convert', '-f', 'raw', '-O', QEMU_FORMATS[ext], ...(ext === 'vhd' ? ['-o', 'subformat=dynamic'] : []), raw, out]);
  return out;
}

export function makeIso(dir: string, src: string): string {
  const iso = path.join(dir, 'disc.iso');
  run('xorriso', ['-as', 'mkisofs', '-quiet', '-J', '-R', '-V', 'VDISKISO', '-o', iso, src]);
  return iso;
}

/**
 * Asserts that `entries` (a recursive listing under `prefix`) hold exactly the files, folders and links of `src`,
 * and that every file's bytes are equal (`read` gives a file's content by its path inside the image).
 */
export async function assertSameTree(src: string, entries: BrowseEntry[], prefix: string, read: (p: string) => Promise<Buffer>,
  ignore: string[] = ['lost+found'], linkTargets = true): Promise<number> {
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const seen = new Set<string>();
  let files = 0;
  const walk = async (rel: string) => {
    for (const name of fs.readdirSync(path.join(src, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = `${prefix === '/' ? '' : prefix}/${r}`;
      const e = byPath.get(p);
      assert.ok(e, `${p} is missing from the image's listing`);
      seen.add(p);
      const st = fs.lstatSync(path.join(src, r));
      if (st.isSymbolicLink()) {
        assert.strictEqual(e.type, 'symlink', `${p} should be a symlink`);
        assert.strictEqual(e.target, linkTargets ? fs.readlinkSync(path.join(src, r)) : undefined, `${p}: link target`);
      } else if (st.isDirectory()) {
        assert.strictEqual(e.type, 'directory', `${p} should be a folder`);
        await walk(r);
      } else {
        assert.strictEqual(e.type, 'file', `${p} should be a file`);
        assert.strictEqual(e.size, st.size, `${p}: size`);
        const got = await read(p);
        assert.ok(got.equals(fs.readFileSync(path.join(src, r))), `${p}: content differs (${got.length} bytes read)`);
        files++;
      }
    }
  };
  await walk('');
  const extra = entries.filter((e) => !seen.has(e.path) && !ignore.some((i) => e.path === `${prefix === '/' ? '' : prefix}/${i}` || e.path.startsWith(`${prefix === '/' ? '' : prefix}/${i}/`)));
  assert.deepStrictEqual(extra.map((e) => e.path), [], 'the image lists entries its source folder does not have');
  return files;
}

/** Compares an extracted folder with its source: same names, types, bytes and link targets. */
export function assertSameFolder(a: string, b: string): void {
  const names = (d: string) => fs.readdirSync(d).sort();
  assert.deepStrictEqual(names(a), names(b), `${a} vs ${b}`);
  for (const n of names(a)) {
    const x = path.join(a, n), y = path.join(b, n);
    const sx = fs.lstatSync(x), sy = fs.lstatSync(y);
    if (sx.isSymbolicLink()) { assert.ok(sy.isSymbolicLink(), `${y} should be a link`); assert.strictEqual(fs.readlinkSync(y), fs.readlinkSync(x)); }
    else if (sx.isDirectory()) { assert.ok(sy.isDirectory(), `${y} should be a folder`); assertSameFolder(x, y); }
    else assert.ok(fs.readFileSync(x).equals(fs.readFileSync(y)), `${y}: content differs`);
  }
}
