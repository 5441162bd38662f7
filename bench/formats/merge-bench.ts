// Merge bench (issue 13.10): a 1 GiB dynamic VHDX parent with a differencing child holding ~512 MiB (16 of its 32 MiB
// blocks, half of them over blocks the parent has), merged into the parent by `vdisk merge`'s engine (mergeImage,
// in-process: present sectors of the child written into the parent, synced, committed through the log), against two
// peers on the same data in the same run: `qemu-img commit` of the equivalent qcow2 chain (qemu cannot merge a
// differencing VHDX), and `qemu-img convert` of the child's data (the yardstick), each plus an fsync (ours
// syncs; qemu-img does not). Fresh copies every run; page cache warm.
// Run: node out/bench/formats/merge-bench.js   (needs qemu-img, qemu-io)
import * as cp from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { mergeImage } from '../../src/formats/manage/merge';
import { createDifferencingDisk } from '../../src/formats/create-diff';
import { setParent } from '../../src/formats/manage/set-parent';
import { openDisk } from '../../src/formats/open-disk';
import { openVhdxLayer } from '../../src/formats/vhdx/layer';

const MiB = 1024 * 1024;
const RUNS = Number(process.env.BENCH_N ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const q = (args: string[]) => cp.execFileSync('qemu-img', args, { stdio: ['ignore', 'ignore', 'pipe'] });
const qio = (fmt: string, file: string, cmds: string[]) => cp.execFileSync('qemu-io', ['-f', fmt, ...cmds.flatMap((c) => ['-c', c]), file], { stdio: 'ignore' });
function fsync(file: string): void { const fd = fs.openSync(file, 'r+'); try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); } }
const ms = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e6;

/** The parent's writes: every 4th 32 MiB block. The child's: 16 blocks, every other one over a parent block. */
const PARENT = Array.from({ length: 8 }, (_, i) => `write -P ${0x40 + i} ${i * 128}M 32M`);
const CHILD = Array.from({ length: 16 }, (_, i) => `write -P ${0x10 + i} ${i * 64}M 32M`);

/** Writes the child's data through our differencing writer (qemu has no differencing VHDX). */
async function fillChild(child: string): Promise<void> {
  const l = await openVhdxLayer(child, true);
  try {
    const buf = Buffer.alloc(32 * MiB);
    for (let i = 0; i < 16; i++) { buf.fill(0x10 + i); await l.write(i * 64 * MiB, buf); }
    await l.commit();
  } finally { await l.close(); }
}

async function sha(file: string): Promise<string> {
  const d = await openDisk(file);
  const h = crypto.createHash('sha256');
  const b = Buffer.alloc(32 * MiB);
  try { for (let at = 0; at < d.size; at += b.length) { await d.read(b, at); h.update(b); } } finally { await d.close(); }
  return h.digest('hex');
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-merge-bench-'));
  try {
    const p0 = path.join(dir, 'p0.vhdx'), c0 = path.join(dir, 'c0.avhdx');
    q(['create', '-q', '-f', 'vhdx', '-o', 'subformat=dynamic,block_size=32M', p0, '1G']);
    qio('vhdx', p0, PARENT);
    await createDifferencingDisk(p0, c0);
    await fillChild(c0);
    const want = await sha(c0);
    const qp0 = path.join(dir, 'p0.qcow2'), qc0 = path.join(dir, 'c0.qcow2');
    q(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=2M', qp0, '1G']);
    qio('qcow2', qp0, PARENT);
    q(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=2M', '-b', qp0, '-F', 'qcow2', qc0]);
    qio('qcow2', qc0, CHILD);
    const ours: number[] = [], commit: number[] = [], convert: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const sub = path.join(dir, `r${r}`);
      fs.mkdirSync(sub);
      for (const f of [p0, c0, qp0, qc0]) fs.copyFileSync(f, path.join(sub, path.basename(f)));
      q(['rebase', '-u', '-b', path.join(sub, 'p0.qcow2'), '-F', 'qcow2', path.join(sub, 'c0.qcow2')]);
      const child = path.join(sub, 'c0.avhdx');
      await setParent(child, path.join(sub, 'p0.vhdx')); // the copy merges into the copied parent
      cp.execFileSync('sync'); // the copies' dirty pages are not written back during a timed step
      let t = process.hrtime.bigint();
      await mergeImage({ child, force: true });
      ours.push(ms(t));
      if (await sha(path.join(sub, 'p0.vhdx')) !== want) throw new Error('the merged parent does not read as the child did');
      cp.execFileSync('sync');
      t = process.hrtime.bigint();
      q(['commit', '-q', '-f', 'qcow2', path.join(sub, 'c0.qcow2')]);
      fsync(path.join(sub, 'p0.qcow2'));
      commit.push(ms(t));
      const out = path.join(sub, 'convert.vhdx');
      cp.execFileSync('sync');
      t = process.hrtime.bigint();
      q(['convert', '-f', 'vhdx', '-O', 'vhdx', '-o', 'subformat=dynamic,block_size=32M', path.join(sub, 'p0.vhdx'), out]);
      fsync(out);
      convert.push(ms(t));
      fs.rmSync(sub, { recursive: true, force: true });
    }
    const o = median(ours), c = median(commit), v = median(convert);
    console.log(`merge 1 GiB dynamic VHDX child (512 MiB) into its parent: ours ${o.toFixed(0)} ms; qemu-img commit (qcow2 chain) + fsync ${c.toFixed(0)} ms, `
      + `ratio ${(o / c).toFixed(2)}x; qemu-img convert of the same data (the merged parent: 512 MiB) + fsync ${v.toFixed(0)} ms, ratio ${(o / v).toFixed(2)}x `
      + '(time; target <= 1.25x, i.e. >= 0.8x the peer\'s speed)');
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
}

void main().catch((e) => { console.error(e); process.exit(1); });
