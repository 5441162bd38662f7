// Convert bench: a 1 GiB dynamic VHDX (half its 32 MiB blocks written by qemu-io) converted to a dynamic VHDX and to
// raw by `vdisk convert`'s engine (convertImage, in-process: read through openDisk, write a temporary file, fsync,
// link) against `qemu-img convert` of the same file plus an fsync of its output (ours syncs; qemu-img does not),
// interleaved in the same run. Page cache warm for the source.
// Run: node out/bench/formats/convert-bench.js   (needs qemu-img, qemu-io)
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { convertImage } from '../../src/formats/manage/convert';

const MiB = 1024 * 1024;
const RUNS = Number(process.env.BENCH_N ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function fsync(file: string): void { const fd = fs.openSync(file, 'r+'); try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); } }

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-convert-bench-'));
  try {
    const src = path.join(dir, 'src.vhdx');
    cp.execFileSync('qemu-img', ['create', '-q', '-f', 'vhdx', '-o', 'subformat=dynamic,block_size=32M', src, '1G']);
    const writes = Array.from({ length: 16 }, (_, i) => ['-c', `write -P ${0x10 + i} ${i * 64}M 32M`]).flat();
    cp.execFileSync('qemu-io', ['-f', 'vhdx', ...writes, src], { stdio: 'ignore' });
    for (const [fmt, qfmt] of [['vhdx', 'vhdx'], ['raw', 'raw']] as const) {
      const ours: number[] = [], peer: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        const a = path.join(dir, `ours.${fmt}`), b = path.join(dir, `qemu.${fmt}`);
        fs.rmSync(a, { force: true }); fs.rmSync(b, { force: true });
        let t = process.hrtime.bigint();
        await convertImage({ source: src, dest: a, format: fmt, type: 'dynamic' });
        ours.push(Number(process.hrtime.bigint() - t) / 1e6);
        t = process.hrtime.bigint();
        cp.execFileSync('qemu-img', ['convert', '-f', 'vhdx', '-O', qfmt, ...(fmt === 'vhdx' ? ['-o', 'subformat=dynamic,block_size=32M'] : []), src, b]);
        fsync(b);
        peer.push(Number(process.hrtime.bigint() - t) / 1e6);
        cp.execFileSync('qemu-img', ['compare', '-q', '-F', qfmt, '-f', qfmt, a, b]);
      }
      const o = median(ours), p = median(peer);
      console.log(`convert 1 GiB dynamic VHDX (512 MiB data) -> ${fmt}: ours ${o.toFixed(0)} ms, qemu-img convert + fsync ${p.toFixed(0)} ms, `
        + `ratio ${(o / p).toFixed(2)}x (time; target <= 1.25x, i.e. >= 0.8x qemu's speed)`);
    }
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
}

void main().catch((e) => { console.error(e); process.exit(1); });
