// Block-layer bench: sequential reads of a whole dynamic VHDX (every block allocated, made by qemu-img from a random
// raw file) through openDisk, against reading that raw file itself with the same read size, in the same run and
// interleaved so machine load hits both alike. Page cache warm. Also a qcow2 with 64 KiB clusters (one L2 lookup per
// cluster, merged into runs) against the same raw file.
// Run: node out/bench/formats/block-read-bench.js   (needs qemu-img)
import * as cp from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openDisk } from '../../src/formats/open-disk';

const MiB = 1024 * 1024;
const SIZE = 128 * MiB;
const RUNS = Number(process.env.BENCH_N ?? 7);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function readDisk(file: string, chunk: number): Promise<number> {
  const d = await openDisk(file);
  const buf = Buffer.allocUnsafe(chunk);
  let total = 0;
  try {
    for (let off = 0; off < d.size; off += chunk) total += await d.read(buf, off);
  } finally { await d.close(); }
  return total;
}

function readRaw(file: string, chunk: number): number {
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(chunk);
  let total = 0;
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, chunk, total);
      if (!n) break;
      total += n;
    }
  } finally { fs.closeSync(fd); }
  return total;
}

async function time(fn: () => unknown): Promise<number> {
  const s = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - s) / 1e6;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-block-bench-'));
  try {
    const raw = path.join(dir, 'disk.raw');
    const fd = fs.openSync(raw, 'w');
    const chunk = Buffer.alloc(8 * MiB);
    for (let off = 0; off < SIZE; off += chunk.length) fs.writeSync(fd, crypto.randomFillSync(chunk), 0, chunk.length, off);
    fs.closeSync(fd);
    const vhdx = path.join(dir, 'disk.vhdx'), qcow2 = path.join(dir, 'disk.qcow2');
    cp.execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vhdx', '-o', 'subformat=dynamic', raw, vhdx]);
    cp.execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);
    for (const [name, file] of [['dynamic VHDX (32 MiB blocks)', vhdx], ['qcow2 (64 KiB clusters)', qcow2]] as const) {
      for (const size of [MiB, 4 * MiB]) {
        if ((await readDisk(file, size)) !== SIZE || readRaw(raw, size) !== SIZE) throw new Error('short read');
        const ours: number[] = [], peer: number[] = [];
        for (let i = 0; i < RUNS; i++) {
          ours.push(await time(() => readDisk(file, size)));
          peer.push(await time(() => readRaw(raw, size)));
        }
        const o = median(ours), p = median(peer);
        const mibs = (ms: number) => ((SIZE / MiB) / (ms / 1000)).toFixed(0);
        console.log(`block-read ${name}, ${SIZE / MiB} MiB in ${size / MiB} MiB reads: openDisk ${o.toFixed(1)} ms (${mibs(o)} MiB/s), `
          + `raw file ${p.toFixed(1)} ms (${mibs(p)} MiB/s), ratio ${(p / o).toFixed(2)}x of raw speed (target >= 0.5x)`);
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
