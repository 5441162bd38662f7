// Test-only writers that put data into differencing children made by createDifferencingDisk (neither qemu nor
// vhdimount can write differencing VHD/VHDX). Sectors not written are filled with 0xEE garbage in the child's block,
// so a reader that takes them from the child instead of the parent gets the wrong bytes.
import * as fs from 'fs';
import { inspectImage } from '../../src/formats/inspect';
import { REGION_BAT } from '../../src/formats/vhdx/inspect';
import { pattern } from './pattern';

const MiB = 1 << 20;
const GARBAGE = 0xee;

function pwrite(file: string, pos: number, b: Buffer): void {
  const fd = fs.openSync(file, 'r+');
  try { fs.writeSync(fd, b, 0, b.length, pos); } finally { fs.closeSync(fd); }
}

function pread(file: string, pos: number, len: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(len);
    fs.readSync(fd, b, 0, len, pos);
    return b;
  } finally { fs.closeSync(fd); }
}

/** Sector runs [first, count] within the block, in the block's sector units. */
export type Runs = [number, number][];
/** What a write put where on the virtual disk: the model the reader must reproduce. */
export type Overlay = [number, Buffer][];

function overlayOf(block: number, bs: number, ss: number, runs: Runs, data: Buffer): Overlay {
  return runs.map(([s, n]) => [block * bs + s * ss, data.subarray(s * ss, (s + n) * ss)]);
}

/** `base` (the parent's raw bytes) with each overlay applied in order. */
export function applyOverlays(base: Buffer, ...overlays: Overlay[]): Buffer {
  const out = Buffer.from(base);
  for (const o of overlays) for (const [at, b] of o) b.copy(out, at, 0, Math.max(0, Math.min(b.length, out.length - at)));
  return out;
}

function blockData(bs: number, ss: number, runs: Runs, seed: number): Buffer {
  const data = Buffer.alloc(bs, GARBAGE);
  runs.forEach(([s, n], i) => pattern(n * ss, seed + i).copy(data, s * ss));
  return data;
}

/** Allocates block `block` of a differencing VHD child with the sectors of `runs` present (bitmap bits set). */
export function writeVhdChildBlock(child: string, block: number, runs: Runs, seed: number): Overlay {
  const size = fs.statSync(child).size;
  const footer = pread(child, size - 512, 512);
  const dyn = pread(child, Number(footer.readBigUInt64BE(16)), 1024);
  const batOffset = Number(dyn.readBigUInt64BE(16));
  const bs = dyn.readUInt32BE(32);
  const bitmapBytes = Math.ceil(bs / 512 / 8 / 512) * 512;
  const bitmap = Buffer.alloc(bitmapBytes);
  for (const [s, n] of runs) for (let k = s; k < s + n; k++) bitmap[k >> 3] |= 0x80 >> (k & 7);
  const at = size - 512;
  const data = blockData(bs, 512, runs, seed);
  pwrite(child, at, Buffer.concat([bitmap, data, footer]));
  const e = Buffer.alloc(4);
  e.writeUInt32BE(at / 512);
  pwrite(child, batOffset + block * 4, e);
  return overlayOf(block, bs, 512, runs, data);
}

/** Writes block `block` of a differencing VHDX child: fully present (runs ignored) or partially present with `runs`. */
export async function writeVhdxChildBlock(child: string, block: number, state: 'full' | 'partial', runs: Runs, seed: number): Promise<Overlay> {
  const info = await inspectImage(child);
  const d = info.details!;
  const bat = (d.regions as { guid: string; offset: number }[]).find((r) => r.guid === REGION_BAT)!;
  const cr = d.chunkRatio as number, bs = info.blockSize!, ss = info.logicalSectorSize;
  let end = Math.ceil(fs.statSync(child).size / MiB) * MiB;
  const entry = (i: number) => pread(child, bat.offset + i * 8, 8).readBigUInt64LE(0);
  const setEntry = (i: number, st: number, off: number) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(st) | (BigInt(off / MiB) << 20n));
    pwrite(child, bat.offset + i * 8, b);
  };
  const payload = end;
  end += bs;
  const data = state === 'full' ? pattern(bs, seed) : blockData(bs, ss, runs, seed);
  pwrite(child, payload, data);
  setEntry(block + Math.floor(block / cr), state === 'full' ? 6 : 7, payload);
  if (state === 'partial') {
    const sbIndex = Math.floor(block / cr) * (cr + 1) + cr;
    const sb = entry(sbIndex);
    let sbAt = Number(sb >> 20n) * MiB;
    if ((sb & 7n) !== 6n) {
      sbAt = end;
      end += MiB;
      pwrite(child, sbAt, Buffer.alloc(MiB));
      setEntry(sbIndex, 6, sbAt);
    }
    const perBlock = bs / ss;
    const sliceAt = sbAt + (block % cr) * (perBlock / 8);
    const slice = pread(child, sliceAt, perBlock / 8);
    for (const [s, n] of runs) for (let k = s; k < s + n; k++) slice[k >> 3] |= 1 << (k & 7);
    pwrite(child, sliceAt, slice);
  }
  const fd = fs.openSync(child, 'r+');
  try { if (fs.fstatSync(fd).size < end) fs.ftruncateSync(fd, end); } finally { fs.closeSync(fd); }
  return state === 'full' ? [[block * bs, data]] : overlayOf(block, bs, ss, runs, data);
}
