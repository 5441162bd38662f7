// Convert / flatten: the virtual disk of an image, read through its whole chain (openDisk), written as one
// standalone VHD, VHDX or raw image. Dynamic outputs hold only the blocks that are not all zeros; the output is
// written beside the destination and moved in place when complete (output.ts).
import * as fs from 'fs';
import * as path from 'path';
import type { ConvertResult } from '../../common/protocol';
import { FormatError } from '../errors';
import { inspectImage } from '../inspect';
import { openDisk } from '../open-disk';
import type { BlockReader } from '../block';
import { randomGuid } from '../guid';
import { buildVhdBase } from '../vhd/writer';
import { buildVhdxBase, payloadEntryIndex } from '../vhdx/writer';
import { VHD_MAX_SIZE, VHDX_MAX_SIZE } from '../../common/create-spec';
import { checkCancel, Output, Progress, writeOutput, writeSparse } from './output';

const MiB = 2 ** 20;

export interface ConvertSpec { source: string; dest: string; format: 'vhd' | 'vhdx' | 'raw'; type?: 'fixed' | 'dynamic'; force?: boolean }

export async function convertImage(s: ConvertSpec, progress?: Progress): Promise<ConvertResult> {
  const source = path.resolve(s.source), dest = path.resolve(s.dest);
  const type = s.type ?? (s.format === 'raw' ? 'fixed' : 'dynamic');
  if (!['vhd', 'vhdx', 'raw'].includes(s.format)) throw new FormatError('unsupported', `--format is vhd, vhdx or raw, not ${s.format}`);
  if (type !== 'fixed' && type !== 'dynamic') throw new FormatError('unsupported', `--type is fixed or dynamic, not ${type}`);
  const info = await inspectImage(source);
  if (info.problems.length) throw new FormatError('chain-broken', `${source} cannot be read whole: ${info.problems.map((p) => p.message).join('; ')}`);
  const real = (p: string) => { try { return fs.realpathSync(p); } catch { return p; } };
  if (info.chain.some((l) => real(l.path) === real(dest))) throw new FormatError('unsupported', `${dest} is a layer of ${path.basename(source)}'s chain: write the result elsewhere`);
  const disk = await openDisk(source);
  try {
    if (s.format === 'vhd' && disk.sectorSize !== 512) throw new FormatError('unsupported', `${source} has ${disk.sectorSize}-byte sectors; a VHD has 512: convert to VHDX`);
    if (s.format === 'vhd' && disk.size > VHD_MAX_SIZE) throw new FormatError('unsupported', `${source} is larger than 2040 GiB, the most a VHD holds: convert to VHDX`);
    if (s.format === 'vhdx' && disk.size > VHDX_MAX_SIZE) throw new FormatError('unsupported', `${source} is larger than 64 TiB, the most a VHDX holds`);
    if (disk.size % disk.sectorSize) throw new FormatError('unsupported', `${source}: its size is not a whole number of sectors`);
    let dataBytes = 0;
    await writeOutput(dest, !!s.force, async (out) => {
      dataBytes = s.format === 'raw' ? await writeRaw(disk, out, type, progress)
        : s.format === 'vhd' ? await writeVhd(disk, out, type, info.blockSize && info.format === 'vhd' ? info.blockSize : 2 * MiB, progress)
          : await writeVhdx(disk, out, type, info.blockSize && info.format === 'vhdx' ? info.blockSize : 32 * MiB, progress);
    });
    return { dest, format: s.format, type, virtualSize: disk.size, fileSize: fs.statSync(dest).size, dataBytes };
  } finally {
    await disk.close();
  }
}

/** A source that can say, without reading, that a range holds no data (a new initialised disk: initialise.ts). */
interface SparseHint { hasData?(offset: number, length: number): boolean }

/**
 * Reads the disk block by block (the last one zero-padded); `sink` gets each block and whether it is all zeros.
 * Blocks the source says are empty are not read: `sink` gets a shared zero buffer it must not change.
 */
async function eachBlock(disk: BlockReader & SparseHint, blockSize: number, progress: Progress | undefined,
  sink: (i: number, data: Buffer, zero: boolean) => Promise<void>): Promise<void> {
  const blocks = Math.ceil(disk.size / blockSize);
  const zero = Buffer.alloc(blockSize);
  // two buffers in turn: block i+1 is read into one while block i, in the other, is written (fresh pages cost faults)
  const bufs: Buffer[] = [];
  const fetch = (i: number): Promise<Buffer> | null => i >= blocks ? null
    : disk.hasData && !disk.hasData(i * blockSize, blockSize) ? Promise.resolve(zero)
      : readBlock(disk, (bufs[i % 2] ??= Buffer.allocUnsafe(blockSize)), i * blockSize, blockSize);
  let next = fetch(0);
  for (let i = 0; i < blocks; i++) {
    checkCancel(progress);
    const buf = await next!;
    next = fetch(i + 1); // read the next block while this one is written
    await sink(i, buf, buf === zero || buf.equals(zero));
    progress?.report?.(Math.min(disk.size, (i + 1) * blockSize), disk.size);
  }
}

async function readBlock(disk: BlockReader, buf: Buffer, offset: number, blockSize: number): Promise<Buffer> {
  const n = await disk.read(buf, offset);
  if (n < blockSize) buf.fill(0, n);
  return buf;
}

async function writeRaw(disk: BlockReader, out: Output, type: 'fixed' | 'dynamic', progress?: Progress): Promise<number> {
  let data = 0;
  await out.fh.truncate(disk.size);
  await eachBlock(disk, 4 * MiB, progress, async (i, buf, zero) => {
    if (zero && type === 'dynamic') return;
    const n = Math.min(buf.length, disk.size - i * 4 * MiB);
    await out.write(buf.subarray(0, n), i * 4 * MiB);
    if (!zero) data += n;
  });
  return data;
}

/** Identity a rewritten image keeps (compact): VHDX ids and sector sizes; VHD the original footer. */
export interface Keep { dataWriteGuid?: string; virtualDiskId?: string; physicalSectorSize?: number; vhdFooter?: Buffer }

export async function writeVhdx(disk: BlockReader, out: Output, type: 'fixed' | 'dynamic', blockSize: number, progress?: Progress, keep: Keep = {}): Promise<number> {
  const base = buildVhdxBase({
    virtualSize: disk.size, blockSize, logicalSectorSize: disk.sectorSize, physicalSectorSize: keep.physicalSectorSize ?? 4096, fixed: type === 'fixed',
    virtualDiskId: keep.virtualDiskId ?? randomGuid(), fileWriteGuid: randomGuid(), dataWriteGuid: keep.dataWriteGuid ?? randomGuid(), creator: 'vdisk',
  });
  const batAt = base.pieces.length - (type === 'fixed' ? 1 : 0);
  let bat = type === 'fixed' ? base.pieces[batAt][1] : null;
  let at = base.dataOffset, data = 0;
  const entries: [number, number][] = [];
  await eachBlock(disk, blockSize, progress, async (i, buf, zero) => {
    if (!zero) data += Math.min(blockSize, disk.size - i * blockSize);
    if (type === 'fixed') { await out.write(buf, base.dataOffset + i * blockSize); return; }
    if (zero) return;
    await writeSparse(out, buf, at);
    entries.push([i, at]);
    at += blockSize;
  });
  if (type === 'dynamic') {
    const batOffset = 3 * MiB;
    bat = Buffer.alloc(base.dataOffset - batOffset);
    for (const [i, off] of entries) bat.writeBigUInt64LE((BigInt(off / MiB) << 20n) | 6n, payloadEntryIndex(i, blockSize, disk.sectorSize) * 8);
    base.pieces.push([batOffset, bat]);
  }
  await out.fh.truncate(type === 'fixed' ? base.size : at);
  for (const [off, b] of base.pieces) await out.write(b, off);
  return data;
}

export async function writeVhd(disk: BlockReader, out: Output, type: 'fixed' | 'dynamic', blockSize: number, progress?: Progress, keep: Keep = {}): Promise<number> {
  const base = buildVhdBase({ virtualSize: disk.size, type, blockSize, uniqueId: randomGuid() });
  if (keep.vhdFooter) for (const piece of base.pieces) if (piece[1].toString('latin1', 0, 8) === 'conectix') piece[1] = keep.vhdFooter;
  let data = 0;
  if (type === 'fixed') {
    await eachBlock(disk, 4 * MiB, progress, async (i, buf, zero) => {
      const n = Math.min(buf.length, disk.size - i * 4 * MiB);
      await out.write(buf.subarray(0, n), i * 4 * MiB);
      if (!zero) data += n;
    });
    for (const [off, b] of base.pieces) await out.write(b, off);
    return data;
  }
  const [[, footer], [, header], [batOffset, bat]] = base.pieces;
  const bitmap = Buffer.alloc(Math.ceil(blockSize / 512 / 8 / 512) * 512, 0xff);
  let at = batOffset + bat.length;
  await eachBlock(disk, blockSize, progress, async (i, buf, zero) => {
    if (zero) return;
    bat.writeUInt32BE(at / 512, i * 4);
    await out.write(bitmap, at);
    await writeSparse(out, buf, at + bitmap.length);
    at += bitmap.length + blockSize;
    data += Math.min(blockSize, disk.size - i * blockSize);
  });
  await out.write(footer, 0);
  await out.write(header, 512);
  await out.write(bat, batOffset);
  await out.write(footer, at);
  return data;
}
