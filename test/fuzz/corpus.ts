// Seed images for the fuzzer: generated ones (small, made by qemu-img, xorriso, genisoimage, mkudffs, sfdisk and the
// project's own differencing writer) plus the real third-party images in ../shared/images when that folder exists.
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { createDifferencingDisk } from '../../src/formats';
import { generateBlockSeeds } from './block-corpus';

export const FUZZ_FORMATS = ['vhd', 'vhdx', 'iso', 'udf', 'qcow2', 'vmdk', 'vdi', 'mbr-gpt'] as const;
export type FuzzFormat = typeof FUZZ_FORMATS[number];

export interface SeedEntry {
  name: string;
  format: FuzzFormat;
  origin: 'generated' | 'shared';
  /** For differencing children: the file name of the parent in the same folder. */
  parent?: string;
  /** A second child of the same parent (cycle cases link the two). */
  sibling?: string;
}
export interface Corpus { dir: string; seeds: SeedEntry[]; notes: string[] }

/** Shared images larger than this (decompressed) are left out: every worker keeps its seeds in memory. */
const MAX_SHARED_BYTES = 40 * 1024 * 1024;
const SHARED = process.env.VDISK_SHARED_IMAGES ?? path.resolve(__dirname, '../../../../shared/images');

const TOOL_PACKAGES: Record<string, string> = { 'qemu-img': 'qemu-utils', xorriso: 'xorriso', genisoimage: 'genisoimage', mkudffs: 'udftools', sfdisk: 'fdisk' };

function run(tool: string, args: string[], opts: { cwd?: string; input?: string } = {}): void {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin']);
  const exe = dirs.map((d) => path.join(d, tool)).find((p) => fs.existsSync(p));
  if (!exe) throw new Error(`${tool} is not installed (apt-get install ${TOOL_PACKAGES[tool] ?? tool}); the fuzz corpus needs it`);
  cp.execFileSync(exe, args, { cwd: opts.cwd, input: opts.input, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'] });
}

function sizedFile(file: string, bytes: number): string {
  fs.writeFileSync(file, Buffer.alloc(0));
  fs.truncateSync(file, bytes);
  return file;
}

async function generate(dir: string, format: FuzzFormat, add: (e: SeedEntry) => void): Promise<void> {
  const f = (n: string) => path.join(dir, n);
  const gen = (name: string, extra: Partial<SeedEntry> = {}) => add({ name, format, origin: 'generated', ...extra });
  switch (format) {
    case 'vhd':
      run('qemu-img', ['create', '-q', '-f', 'vpc', '-o', 'subformat=dynamic', f('dyn.vhd'), '8M']);
      run('qemu-img', ['create', '-q', '-f', 'vpc', '-o', 'subformat=fixed', f('fixed.vhd'), '1M']);
      await createDifferencingDisk(f('dyn.vhd'), f('diff.vhd'));
      await createDifferencingDisk(f('dyn.vhd'), f('diff2.vhd'));
      gen('dyn.vhd'); gen('fixed.vhd');
      gen('diff.vhd', { parent: 'dyn.vhd', sibling: 'diff2.vhd' });
      gen('diff2.vhd', { parent: 'dyn.vhd', sibling: 'diff.vhd' });
      return;
    case 'vhdx':
      run('qemu-img', ['create', '-q', '-f', 'vhdx', f('dyn.vhdx'), '8M']);
      run('qemu-img', ['create', '-q', '-f', 'vpc', '-o', 'subformat=dynamic', f('base.vhd'), '8M']);
      await createDifferencingDisk(f('dyn.vhdx'), f('diff.vhdx'));
      await createDifferencingDisk(f('dyn.vhdx'), f('diff2.vhdx'));
      await createDifferencingDisk(f('base.vhd'), f('over-vhd.vhdx'));
      gen('dyn.vhdx');
      gen('diff.vhdx', { parent: 'dyn.vhdx', sibling: 'diff2.vhdx' });
      gen('diff2.vhdx', { parent: 'dyn.vhdx', sibling: 'diff.vhdx' });
      gen('over-vhd.vhdx', { parent: 'base.vhd' });
      return;
    case 'iso': {
      const src = fs.mkdtempSync(path.join(dir, 'src-'));
      fs.writeFileSync(path.join(src, 'boot.img'), Buffer.alloc(2048, 0x90));
      fs.writeFileSync(path.join(src, 'readme.txt'), 'vdisk fuzz seed\n');
      run('xorriso', ['-as', 'mkisofs', '-quiet', '-J', '-V', 'ELTORITO_JOLIET_SEED_LABEL', '-b', 'boot.img', '-no-emul-boot',
        '-boot-load-size', '4', '-o', f('eltorito.iso'), src]);
      run('genisoimage', ['-quiet', '-J', '-R', '-V', 'GENISO', '-o', f('joliet.iso'), src]);
      run('genisoimage', ['-quiet', '-udf', '-V', 'BRIDGE', '-o', f('bridge.iso'), src]);
      fs.rmSync(src, { recursive: true, force: true });
      gen('eltorito.iso'); gen('joliet.iso'); gen('bridge.iso');
      return;
    }
    case 'udf':
      for (const [bs, size] of [[512, 1 << 20], [1024, 1 << 20], [2048, 2 << 20], [4096, 2 << 20]]) {
        run('mkudffs', ['--media-type=hd', `--blocksize=${bs}`, '--label=FUZZ', sizedFile(f(`udf-${bs}.img`), size)]);
        gen(`udf-${bs}.img`);
      }
      return;
    case 'qcow2':
      run('qemu-img', ['create', '-q', '-f', 'raw', f('base.img'), '1M']);
      run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'base.img', '-F', 'raw', f('v3.qcow2'), '8M'], { cwd: dir });
      run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'compat=0.10,cluster_size=4096', f('v2.qcow2'), '8M']);
      gen('v3.qcow2'); gen('v2.qcow2');
      return;
    case 'vmdk':
      run('qemu-img', ['create', '-q', '-f', 'vmdk', f('sparse.vmdk'), '8M']);
      run('qemu-img', ['create', '-q', '-f', 'vmdk', '-o', 'subformat=streamOptimized', f('stream.vmdk'), '8M']);
      run('qemu-img', ['create', '-q', '-f', 'vmdk', '-o', 'subformat=monolithicFlat', f('desc.vmdk'), '1M']);
      gen('sparse.vmdk'); gen('stream.vmdk'); gen('desc.vmdk');
      return;
    case 'vdi':
      run('qemu-img', ['create', '-q', '-f', 'vdi', f('dyn.vdi'), '8M']);
      run('qemu-img', ['create', '-q', '-f', 'vdi', '-o', 'static=on', f('static.vdi'), '1M']);
      gen('dyn.vdi'); gen('static.vdi');
      return;
    case 'mbr-gpt':
      run('sfdisk', ['-q', sizedFile(f('mbr.img'), 4 << 20)], { input: 'label: dos\nstart=64, size=1024, type=83, bootable\n'
        + 'start=1088, size=512, type=7\nstart=1600, size=6000, type=5\nstart=1664, size=512, type=83\n'
        + 'start=2240, size=512, type=83\nstart=2816, size=512, type=c\n' });
      run('sfdisk', ['-q', sizedFile(f('gpt.img'), 2 << 20)], { input: 'label: gpt\nsize=512, type=L, name=one\nsize=256, type=S, name=two\nsize=256, type=U\n' });
      gen('mbr.img'); gen('gpt.img');
      return;
  }
}

const SHARED_DIRS: Record<FuzzFormat, { dir: string; ext: RegExp } | null> = {
  vhd: { dir: 'vhd', ext: /\.vhd\.(gz|xz)$/ }, vhdx: { dir: 'vhdx', ext: /\.vhdx\.(gz|xz)$/ },
  iso: { dir: 'iso', ext: /\.(iso|img)\.(gz|xz)$/ }, udf: { dir: 'udf', ext: /\.img\.(gz|xz)$/ },
  qcow2: null, vmdk: null, vdi: null, 'mbr-gpt': null,
};

function decompress(src: string): Buffer {
  if (src.endsWith('.gz')) return zlib.gunzipSync(fs.readFileSync(src));
  return cp.execFileSync('xz', ['-dc', src], { maxBuffer: 1 << 30 });
}

function addShared(dir: string, format: FuzzFormat, add: (e: SeedEntry) => void, notes: string[]): void {
  const where = SHARED_DIRS[format];
  if (!where) return;
  const src = path.join(SHARED, where.dir);
  if (!fs.existsSync(src)) {
    notes.push(`${format}: no real images (${src} is absent; the shared images folder is optional), generated seeds only`);
    return;
  }
  for (const n of fs.readdirSync(src).filter((x) => where.ext.test(x)).sort()) {
    const data = decompress(path.join(src, n));
    if (data.length > MAX_SHARED_BYTES) { notes.push(`${format}: ${n} left out (${data.length} bytes > ${MAX_SHARED_BYTES})`); continue; }
    const name = `shared-${n.replace(/\.(gz|xz)$/, '')}`;
    fs.writeFileSync(path.join(dir, name), data);
    // the hand-edited differencing VHD names its parent image.vhd: keep the pair together
    if (/edited-image-parent/.test(n)) fs.writeFileSync(path.join(dir, 'image.vhd'), data);
    add({ name, format, origin: 'shared', parent: /edited-image-differential/.test(n) ? 'image.vhd' : undefined });
  }
}

/** Builds the seeds of `formats` under a new temp folder (one sub-folder per format); the caller removes `dir`. */
/** `block`: also the data-bearing `data-*` seeds of the block target (block-corpus.ts). */
export async function buildCorpus(formats: readonly FuzzFormat[], opts: { shared?: boolean; block?: boolean } = {}): Promise<Corpus> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-fuzz-corpus-'));
  const seeds: SeedEntry[] = [];
  const notes: string[] = [];
  try {
    for (const format of formats) {
      const sub = path.join(dir, format);
      fs.mkdirSync(sub);
      await generate(sub, format, (e) => seeds.push(e));
      if (opts.block) await generateBlockSeeds(sub, format, (e) => seeds.push(e));
      if (opts.shared !== false) addShared(sub, format, (e) => seeds.push(e), notes);
    }
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return { dir, seeds, notes };
}
