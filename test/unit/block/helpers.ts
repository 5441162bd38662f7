// Helpers for the block-layer proofs: the sha256 of a whole virtual disk through openDisk, the same through
// `qemu-img convert -O raw` (or a vhdimount view), source files with patterns and holes, and random reads.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { openDisk } from '../../../src/formats/open-disk';
import type { BlockReader } from '../../../src/formats/block';
import { run } from '../formats/helpers';
import { pattern } from '../../support/pattern';

export { pattern };

/** sha256 and size of the whole virtual disk, read in `chunk`-byte reads (odd sizes exercise piece boundaries). */
export async function diskSha(file: string, chunk = 1 << 20): Promise<{ sha: string; size: number; sectorSize: number }> {
  const d = await openDisk(file);
  try {
    return { sha: await readerSha(d, chunk), size: d.size, sectorSize: d.sectorSize };
  } finally {
    await d.close();
  }
}

export async function readerSha(d: BlockReader, chunk = 1 << 20): Promise<string> {
  const h = crypto.createHash('sha256');
  const buf = Buffer.alloc(chunk);
  for (let off = 0; off < d.size;) {
    const n = await d.read(buf, off);
    if (n <= 0) throw new Error(`read at ${off} returned ${n}`);
    h.update(buf.subarray(0, n));
    off += n;
  }
  return h.digest('hex');
}

export function fileSha(file: string): { sha: string; size: number } {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(1 << 20);
  let size = 0;
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, size);
      if (!n) break;
      h.update(buf.subarray(0, n));
      size += n;
    }
  } finally { fs.closeSync(fd); }
  return { sha: h.digest('hex'), size };
}

/** `qemu-img convert -O raw` of `file` into `out` (kept for random reads). */
export function qemuRaw(file: string, out: string, fmt?: string): string {
  // from the image's folder: qemu opens a qcow2 data file relative to the working directory
  run('qemu-img', ['convert', ...(fmt ? ['-f', fmt] : []), '-O', 'raw', file, out], { cwd: path.dirname(file) });
  return out;
}

/** A raw file of `size` bytes: random runs at odd places (block edges, the last partial block) and holes between. */
export function makeSource(file: string, size: number, seed = 1): string {
  const fd = fs.openSync(file, 'w');
  try {
    fs.ftruncateSync(fd, size);
    const spots = [[0, 4096], [65536 - 512, 1536], [1048576 - 3000, 7000], [size >> 1, 65536 + 512], [size - 70000, 70000]];
    spots.forEach(([at, len], i) => {
      const a = Math.max(0, Math.min(at, size - len));
      fs.writeSync(fd, pattern(len, seed * 31 + i), 0, len, a);
    });
    // a run of a constant non-zero byte: compresses to almost nothing
    fs.writeSync(fd, Buffer.alloc(8192, 0xab), 0, 8192, Math.floor(size / 3 / 512) * 512);
  } finally { fs.closeSync(fd); }
  return file;
}

/** `count` reads at random offsets and lengths, each compared with the same range of the raw file `raw`. */
export async function compareRandomReads(d: BlockReader, raw: string, count: number, seed: number): Promise<string | null> {
  const fd = fs.openSync(raw, 'r');
  try {
    const rnd = pattern(count * 8, seed);
    for (let i = 0; i < count; i++) {
      const off = Math.floor((rnd.readUInt32LE(i * 8) / 2 ** 32) * d.size);
      const len = 1 + (rnd.readUInt32LE(i * 8 + 4) % (1 << 20));
      const a = Buffer.alloc(len), b = Buffer.alloc(len);
      const n = await d.read(a, off);
      const want = Math.max(0, Math.min(len, d.size - off));
      if (n !== want) return `read ${len} at ${off} returned ${n}, expected ${want}`;
      fs.readSync(fd, b, 0, n, off);
      if (!a.subarray(0, n).equals(b.subarray(0, n))) return `read ${len} at ${off} differs from qemu's raw`;
    }
    return null;
  } finally { fs.closeSync(fd); }
}

export const sub = (dir: string, name: string) => path.join(dir, name);
