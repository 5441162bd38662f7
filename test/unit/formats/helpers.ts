// Shared helpers for the format tests: temp folders, real tools (a missing tool FAILS the test, CI installs
// them), qemu-img / vhdiinfo readings, and vhdimount read-through with guaranteed unmount.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createDifferencingDisk } from '../../../src/formats';
import { createImage } from '../../../src/formats/manage/create';

const TOOL_PACKAGES: Record<string, string> = {
  'qemu-img': 'qemu-utils', 'qemu-io': 'qemu-utils', vhdiinfo: 'libvhdi-utils', vhdimount: 'libvhdi-utils',
  xorriso: 'xorriso', genisoimage: 'genisoimage', mkudffs: 'udftools', sfdisk: 'fdisk', fusermount: 'fuse3', blkid: 'util-linux', sgdisk: 'gdisk',
};

export function which(tool: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = path.join(dir, tool);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch { /* next */ }
  }
  return null;
}

/** The tool's path, or an assertion failure naming the package to install. */
export function tool(name: string): string {
  const p = which(name);
  if (!p) assert.fail(`${name} is not installed (apt-get install ${TOOL_PACKAGES[name] ?? name}); this test needs it`);
  return p;
}

export function run(name: string, args: string[], opts: cp.ExecFileSyncOptions = {}): string {
  const stdin = opts.input !== undefined ? 'pipe' : 'ignore';
  return cp.execFileSync(tool(name), args, { encoding: 'utf8', stdio: [stdin, 'pipe', 'pipe'], maxBuffer: 64 << 20, ...opts }) as string;
}

export function tempDir(ctx: Mocha.Suite, prefix = 'vdisk-fmt-'): () => string {
  let dir = '';
  ctx.beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix)); });
  ctx.afterAll(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });
  return () => dir;
}

export interface QemuInfo { 'virtual-size': number; format: string; 'cluster-size'?: number; 'backing-filename'?: string }
/** `qemu-img info`; pass the format for fixed VHDs, which qemu cannot probe (their footer is at the end). */
export function qemuInfo(file: string, format?: string): QemuInfo {
  return JSON.parse(run('qemu-img', ['info', '--output=json', ...(format ? ['-f', format] : []), file])) as QemuInfo;
}

export function qemuCreate(fmt: string, file: string, size: string, opts: string[] = []): string {
  run('qemu-img', ['create', '-q', '-f', fmt, ...opts, file, size]);
  return file;
}

export interface VhdiInfo { format: string; diskType: string; mediaSize: number; identifier: string; parentIdentifier?: string; parentFilename?: string }
export function vhdiInfo(file: string): VhdiInfo {
  const out = run('vhdiinfo', [file]);
  const get = (k: string) => new RegExp(`^\\s*${k}\\s*:\\s*(.*)$`, 'm').exec(out)?.[1].trim();
  const media = /\((\d+) bytes\)/.exec(get('Media size') ?? '');
  return {
    format: get('Format') ?? '', diskType: get('Disk type') ?? '', mediaSize: media ? Number(media[1]) : NaN,
    identifier: get('Identifier') ?? '', parentIdentifier: get('Parent identifier'), parentFilename: get('Parent filename'),
  };
}

/** Mounts `image` with vhdimount, hands the exposed vhdi1 file to `fn`, always unmounts. */
export async function withVhdimount<T>(image: string, fn: (vhdi1: string) => Promise<T> | T): Promise<T> {
  tool('vhdimount');
  tool('fusermount');
  const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-vhdimount-'));
  let mounted = false;
  try {
    run('vhdimount', [image, mnt]);
    mounted = true;
    return await fn(path.join(mnt, 'vhdi1'));
  } finally {
    if (mounted) {
      try { run('fusermount', ['-u', mnt]); } catch { cp.spawnSync(which('fusermount') ?? 'fusermount', ['-uz', mnt]); }
    }
    fs.rmSync(mnt, { recursive: true, force: true });
  }
}

/** Byte-for-byte comparison of two files (or file ranges) in 1 MiB chunks. */
export function sameBytes(a: string, b: string, length: number): boolean {
  const fa = fs.openSync(a, 'r'), fb = fs.openSync(b, 'r');
  try {
    const ba = Buffer.alloc(1 << 20), bb = Buffer.alloc(1 << 20);
    for (let off = 0; off < length; off += ba.length) {
      const n = Math.min(ba.length, length - off);
      if (fs.readSync(fa, ba, 0, n, off) !== n || fs.readSync(fb, bb, 0, n, off) !== n) return false;
      if (!ba.subarray(0, n).equals(bb.subarray(0, n))) return false;
    }
    return true;
  } finally {
    fs.closeSync(fa);
    fs.closeSync(fb);
  }
}

export function patch(file: string, offset: number, bytes: Buffer): void {
  const fd = fs.openSync(file, 'r+');
  try { fs.writeSync(fd, bytes, 0, bytes.length, offset); } finally { fs.closeSync(fd); }
}

export function readAt(file: string, offset: number, length: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(length);
    fs.readSync(fd, b, 0, length, offset);
    return b;
  } finally { fs.closeSync(fd); }
}

export const codes = (info: { problems: { code: string }[] }) => info.problems.map((p) => p.code);

/** A text descriptor with one FLAT extent of 1 MiB naming `extent` (a 300-byte file that pulls in another). */
export function vmdkDescriptor(d: string, name: string, extent: string, type = 'FLAT'): string {
  const f = path.join(d, name);
  fs.writeFileSync(f, `# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\nRW 2048 ${type} "${extent}" 0\n`);
  return f;
}

/** A dynamic 64 MiB VHDX base and `children` differencing VHDX on it, in `dir`: [base, c1, c2, ...]. */
export async function vhdxChain(dir: string, children = 3): Promise<string[]> {
  const files = [path.join(dir, 'base.vhdx')];
  await createImage({ path: files[0], format: 'vhdx', type: 'dynamic', size: 64 << 20 });
  for (let i = 1; i <= children; i++) {
    const child = path.join(dir, `c${i}.vhdx`);
    await createDifferencingDisk(files[i - 1], child);
    files.push(child);
  }
  return files;
}
