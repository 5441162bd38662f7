// Compact (Optimize-VHD, and more): a dynamic VHD or VHDX rewritten without the blocks that are all zeros and, unless
// zeroOnly, without the blocks whose every byte is zero or free space of a cleanly unmounted ext4 or NTFS file system
// inside (ext4 block bitmaps, NTFS $Bitmap; free-map.ts). The image
// keeps its identity (VHD footer, VHDX DataWriteGuid and Virtual Disk ID), so its children still match it. It is
// rewritten beside itself and renamed over itself at the end: the original stays whole until then (this needs free
// space for the compacted copy). qcow2: `qemu-img convert` the same way.
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { CompactResult } from '../../common/protocol';
import { FormatError } from '../errors';
import { inspectOne } from '../inspect-one';
import { openVhdLayer } from '../vhd/layer';
import { openVhdxLayer } from '../vhdx/layer';
import { layerReader } from './merge-layer';
import { ext4Free } from './ext4-free';
import { ntfsFree } from './ntfs-free';
import { allZero, FreeMap, partitionsOf, releasable, Refusal } from './free-map';
import type { BlockReader } from '../block';
import { Progress, writeOutput } from './output';
import { writeVhd, writeVhdx } from './convert';

export async function compactImage(file: string, opts: { zeroOnly?: boolean } = {}, progress?: Progress): Promise<CompactResult> {
  const abs = path.resolve(file);
  const { size: before, mode } = fs.statSync(abs);
  const p = (await inspectOne(abs)).parsed;
  if (p.problems.length) throw new FormatError('chain-broken', `${abs} is damaged, so it is not rewritten: ${p.problems.map((x) => x.message).join('; ')}`);
  if (p.format === 'qcow2') return compactQcow2(abs, before, p.parent !== null || !!p.details.backingFile);
  if ((p.format !== 'vhd' && p.format !== 'vhdx') || p.subtype !== 'dynamic') {
    throw new FormatError('unsupported', `${abs} is ${p.format}${p.subtype ? ` ${p.subtype}` : ''}: only dynamic VHD and VHDX (and qcow2) images can be compacted`);
  }
  const layer = p.format === 'vhd' ? openVhdLayer(abs, false) : await openVhdxLayer(abs, false);
  const fsNotes: CompactResult['fileSystems'] = [];
  let maps: FreeMap[] = [];
  try {
    if (!opts.zeroOnly) {
      maps = await freeMaps(layerReader(layer));
      for (const m of maps) fsNotes.push({ type: m.fs, offset: m.start, freeBytes: m.freeBytes });
    }
    let freed = 0;
    const drop = (i: number, data: Buffer) => {
      if (!maps.length || !releasable(maps, i * layer.blockSize, data)) return false;
      if (!allZero(data)) freed++;
      return true;
    };
    const reader = layerReader(layer, drop);
    let kept = 0;
    await writeOutput(abs, true, async (out) => {
      kept = p.format === 'vhd'
        ? await writeVhd(reader, out, 'dynamic', layer.blockSize, progress, { vhdFooter: footerOf(abs) })
        : await writeVhdx(reader, out, 'dynamic', layer.blockSize, progress, { dataWriteGuid: p.id!, virtualDiskId: p.virtualDiskId ?? undefined, physicalSectorSize: p.physicalSectorSize });
    });
    fs.chmodSync(abs, mode);
    return { image: abs, before, after: fs.statSync(abs).size, dataBytes: kept, freedByFileSystem: freed, fileSystems: fsNotes };
  } finally { await layer.close(); }
}

const NAMES = { ext4: 'ext4', ntfs: 'NTFS' } as const;

/** What every file system inside marks free; throws (nothing written) when one is found but not trusted. */
async function freeMaps(disk: BlockReader): Promise<FreeMap[]> {
  const read = async (off: number, len: number) => {
    if (off < 0 || len < 0 || off + len > disk.size) throw new FormatError('unsupported', `file system metadata at ${off} (+${len}) is beyond the disk`);
    const b = Buffer.alloc(len); await disk.read(b, off); return b;
  };
  const { volumes, refused } = await partitionsOf(disk);
  if (refused) throw new FormatError('unsupported', `The disk's free space cannot be located: ${refused}. Use --zero-only to release only blocks of zeros.`);
  const maps: FreeMap[] = [];
  for (const [start, size] of volumes) {
    let f: FreeMap | Refusal | null;
    try {
      f = (await ext4Free(read, start, size)) ?? (await ntfsFree(read, start, size));
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      f = { fs: 'ntfs', start, refused: e.message };
    }
    if (!f) continue;
    if ('refused' in f) throw new FormatError('unsupported', `The ${NAMES[f.fs]} file system at offset ${start} cannot be compacted: ${f.refused}. Use --zero-only to release only blocks of zeros.`);
    maps.push(f);
  }
  return maps;
}

function footerOf(file: string): Buffer {
  const fd = fs.openSync(file, 'r');
  try { const b = Buffer.alloc(512); fs.readSync(fd, b, 0, 512, fs.fstatSync(fd).size - 512); return b; } finally { fs.closeSync(fd); }
}

async function compactQcow2(abs: string, before: number, hasBacking: boolean): Promise<CompactResult> {
  if (hasBacking) throw new FormatError('unsupported', `${abs} has a backing file: compacting it with qemu-img would flatten it; convert it instead`);
  await writeOutput(abs, true, async (out) => {
    await out.fh.close();
    const r = cp.spawnSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'qcow2', abs, out.tmp], { encoding: 'utf8' });
    if (r.error || r.status !== 0) throw new FormatError('unsupported', `qemu-img convert failed: ${(r.error?.message ?? r.stderr).trim()} (install qemu-utils)`);
    out.fh = await fs.promises.open(out.tmp, 'r+');
  });
  return { image: abs, before, after: fs.statSync(abs).size, dataBytes: null, freedByFileSystem: 0, fileSystems: [] };
}
