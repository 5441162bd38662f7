// Resize (Resize-VHD): grows an image, or shrinks it only as far as its data allows (never below the end of the
// last partition, nor below a non-zero byte), like Windows' "smallest safe size". raw, fixed/dynamic VHD and VHDX
// are resized in place by our writers (../vhd/resize.ts, ../vhdx/resize.ts: crash-safe orders); qcow2 through
// `qemu-img resize`. A GPT's backup moves to the new end (gpt-move.ts) so partitioning tools find it clean.
// Every check runs before the first write: a refusal leaves the image byte for byte as it was.
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { ResizeResult } from '../../common/protocol';
import { FormatError } from '../errors';
import { inspectOne } from '../inspect-one';
import { openDisk } from '../open-disk';
import type { BlockReader } from '../block';
import { readPartitionTable } from '../partitions';
import { blockSectors } from '../volumes';
import { replayLog } from '../vhdx/log';
import { resizeVhd, checkVhdSize, isInterruptedVhdResize, resizedFooter, syncVhdFooterCopy } from '../vhd/resize';
import { resizeVhdx } from '../vhdx/resize';
import { openVhdLayer } from '../vhd/layer';
import { openVhdxLayer } from '../vhdx/layer';
import { Gpt, gptMinimum, gptMoveWrites, readGpt } from './gpt-move';
import { checkCancel, Progress } from './output';
import { stepDone } from './steps';
import { dependents, realPath } from './dependents';

const MiB = 2 ** 20;
const CHUNK = 4 * MiB;

export interface ResizeSpec {
  /** The new virtual size in bytes; or `smallest` for the smallest size that keeps every partition and byte. */
  size?: number;
  smallest?: boolean;
  /** Work out the result (and the smallest safe size) without writing. */
  dryRun?: boolean;
  /** Resize although other images (same folder, `otherImages`) have this one in their chain. */
  force?: boolean;
  /** More images the user has (Recent Images) to check for children. */
  otherImages?: string[];
}

type Kind = 'raw' | 'vhd' | 'vhdx' | 'qcow2';

export async function resizeImage(file: string, spec: ResizeSpec, progress?: Progress): Promise<ResizeResult> {
  const abs = path.resolve(file);
  const fileBefore = fs.statSync(abs).size;
  let p = (await inspectOne(abs)).parsed;
  if (p.format === 'vhd' && isInterruptedVhdResize(p.problems) && !spec.dryRun) {
    syncVhdFooterCopy(abs); // finishes an interrupted resize (vhd/resize.ts, step 4) before anything else
    p = (await inspectOne(abs)).parsed;
  }
  const kind = kindOf(abs, p.format);
  if (p.format === 'qcow2' && (p.parent || p.details.backingFile)) {
    throw new FormatError('unsupported', `${abs} has a backing file: resizing an overlay would no longer match its backing image; resize the base, or convert the chain to one image first`);
  }
  if (p.subtype === 'differencing') {
    throw new FormatError('unsupported', `${abs} is a differencing disk: Windows resizes only fixed and dynamic disks (expanding "will invalidate a differencing chain"). Resize the base disk before making children, or merge/convert the chain to one image and resize that`);
  }
  if (!spec.force && !spec.dryRun) {
    const users = await dependents([realPath(abs)], new Set(), [path.dirname(abs)], spec.otherImages ?? []);
    if (users.length) {
      throw new FormatError('unsupported', `${users.map((u) => path.basename(u)).join(', ')} ${users.length > 1 ? 'have' : 'has'} ${path.basename(abs)} in ${users.length > 1 ? 'their' : 'its'} chain: `
        + `a child must keep its parent's size, so resizing it would break ${users.length > 1 ? 'them' : 'it'}. Merge or convert the chain first, or resize anyway only if you no longer need ${users.length > 1 ? 'them' : 'it'} (force).`);
    }
  }
  const own = p.problems.filter((x) => x.code !== 'log-replay-required' && x.code !== 'partition-table-invalid');
  if (own.length) throw new FormatError('chain-broken', `${abs} is damaged, so it is not resized: ${own.map((x) => x.message).join('; ')}`);
  if (p.needsLogReplay && !spec.dryRun) { const fd = fs.openSync(abs, 'r+'); try { replayLog(fd); } finally { fs.closeSync(fd); } }
  const before = p.virtualSize, align = kind === 'vhdx' ? p.logicalSectorSize : 512;
  if (!spec.smallest && (typeof spec.size !== 'number' || !Number.isSafeInteger(spec.size) || spec.size <= 0)) {
    throw new FormatError('unsupported', 'resize needs a new size in bytes, or the smallest safe size');
  }
  if (!spec.smallest && spec.size! % align) throw new FormatError('unsupported', `the new size must be a multiple of the ${align}-byte sector (${spec.size} is not)`);

  const disk = await openDisk(abs);
  let gpt: Gpt | null = null, table: 'gpt' | 'mbr' | null = null, partitionsEnd = 0, mbr: Buffer | null = null;
  try {
    const t = await readPartitionTable(blockSectors(disk), 0, disk.size);
    const read = async (off: number, len: number) => { const b = Buffer.alloc(len); await disk.read(b, off); return b; };
    if (t) {
      table = t.scheme;
      partitionsEnd = Math.max(0, ...t.partitions.map((x) => x.start + x.size));
      if (t.scheme === 'gpt') {
        gpt = await readGpt(read, disk.size, t.sectorSize);
        if (gpt) { partitionsEnd = gptMinimum(gpt); mbr = await read(0, 512); }
      }
    }
    const skip: [number, number][] = gpt ? [gpt.backupRange, ...(gpt.staleRange ? [gpt.staleRange] : [])] : [];
    const ranges = await dataRanges(abs, kind, disk.size);
    let target: number;
    if (spec.smallest) {
      const lastByte = await lastNonZero(disk, ranges, skip, progress);
      target = Math.ceil(Math.max(partitionsEnd, lastByte, MiB) / MiB) * MiB;
      if (target >= before) target = before;
    } else {
      target = spec.size!;
      if (target < before) {
        if (target < partitionsEnd) {
          throw new FormatError('unsupported', `${abs}: ${target} bytes would cut its ${table?.toUpperCase()} partitions, which need ${partitionsEnd} bytes${gpt ? ' (with the backup GPT)' : ''}; shrink the partitions first (inside the guest), or choose the smallest safe size`);
        }
        // a fixed VHD shrink interrupted after its step 1 left the new footer there (vhd/resize.ts): not data
        if (kind === 'vhd' && p.subtype === 'fixed' && (await read(target, 512)).equals(resizedFooter(readFooter(abs), target))) skip.push([target, target + 512]);
        const at = await firstNonZero(disk, clip(ranges, target, before), skip, progress);
        if (at !== null) throw new FormatError('unsupported', `${abs} holds data at offset ${at}, past ${target} bytes: shrinking would lose it. Choose the smallest safe size (it keeps every non-zero byte), or free that space first`);
      }
    }
    if (kind === 'vhd') checkVhdSize(readFooter(abs), target, abs);
    if (kind === 'vhdx' && target > 64 * 2 ** 40) throw new FormatError('unsupported', 'a VHDX holds at most 64 TiB');
    const notes: string[] = [];
    const result = (after: number, moved: boolean): ResizeResult => ({
      image: abs, format: kind, before, after, fileBefore, fileAfter: fs.statSync(abs).size, partitionTable: table,
      minimumSize: spec.smallest ? target : null, gptBackupMoved: moved, notes, dryRun: spec.dryRun === true,
    });
    // the same size: only a backup GPT away from the end (an interrupted resize, or a disk grown by another tool) moves
    const misplaced = !!gpt && gpt.alternateLba !== before / gpt.sectorSize - 1;
    if (spec.dryRun || (target === before && !misplaced)) return result(target, false);
    await disk.close();

    // shrink: the backup GPT moves inside the disk first, then the disk shrinks; grow: the other way round
    const moveGpt = async () => {
      if (!gpt) return false;
      const writes = gptMoveWrites(gpt, target, mbr);
      // grow: the old backup (now inside the usable space) is cleared last, once the primary names the new one
      const [a, b] = gpt.backupRange;
      if (target >= before && b > a && b <= target && a < (target / gpt.sectorSize - 1 - gpt.entriesSectors) * gpt.sectorSize) writes.push([a, Buffer.alloc(b - a)]);
      await virtualWrites(abs, kind, writes);
      return true;
    };
    let moved = false;
    if (target < before) moved = await moveGpt();
    if (target === before) { /* only the backup GPT moves */ } else if (kind === 'raw') resizeRaw(abs, target);
    else if (kind === 'vhd') resizeVhd(abs, target);
    else if (kind === 'vhdx') resizeVhdx(abs, target);
    else resizeQcow2(abs, target, target < before);
    if (target >= before) moved = await moveGpt();
    if (table === 'mbr' && target > before) notes.push('The MBR partitions keep their size: grow the last partition and its file system inside the guest (or with parted/resize2fs).');
    if (table === 'gpt' && moved) notes.push(target > before ? 'The backup GPT moved to the new end; grow the partition and its file system inside the guest to use the new space.' : 'The backup GPT moved to the new end.');
    return result(target, moved);
  } finally {
    await disk.close().catch(() => undefined);
  }
}

function kindOf(abs: string, format: string): Kind {
  if (format === 'raw' || format === 'qcow2') return format;
  if (format === 'vhd' || format === 'vhdx') return format; // differencing disks are refused by the caller, saying why
  const peer = format === 'vmdk' ? 'vmware-vdiskmanager -x' : format === 'vdi' ? 'VBoxManage modifymedium --resize' : null;
  throw new FormatError('unsupported', `${abs} is ${format.toUpperCase()}: vdisk resizes raw, VHD, VHDX and qcow2 images. `
    + `${peer ? `Use ${peer}, or ` : ''}convert it to VHDX or raw (vdisk convert / "Convert Disk Image...") and resize that`);
}

function readFooter(abs: string): Buffer {
  const fd = fs.openSync(abs, 'r');
  try { const b = Buffer.alloc(512); fs.readSync(fd, b, 0, 512, fs.fstatSync(fd).size - 512); return b; } finally { fs.closeSync(fd); }
}

/** Raw: the file is the disk. Growing extends it sparsely (a hole reads zeros). */
function resizeRaw(abs: string, size: number): void {
  const fd = fs.openSync(abs, 'r+');
  try { fs.ftruncateSync(fd, size); fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
}

function resizeQcow2(abs: string, size: number, shrink: boolean): void {
  const r = cp.spawnSync('qemu-img', ['resize', '-f', 'qcow2', ...(shrink ? ['--shrink'] : []), abs, String(size)], { encoding: 'utf8' });
  if (r.error) throw new FormatError('unsupported', `qcow2 images are resized by qemu-img, which is not installed here (${r.error.message}): install qemu-utils`);
  if (r.status !== 0) throw new FormatError('unsupported', `qemu-img resize failed: ${r.stderr.trim()}`);
}

/** Writes at virtual offsets of the disk (allocating blocks as needed), then makes them durable. */
async function virtualWrites(abs: string, kind: Kind, writes: [number, Buffer][]): Promise<void> {
  if (kind === 'raw') {
    const fd = fs.openSync(abs, 'r+');
    try { for (const [k, [o, b]] of writes.entries()) { fs.writeSync(fd, b, 0, b.length, o); fs.fsyncSync(fd); stepDone('resize-gpt', k + 1); } } finally { fs.closeSync(fd); }
    return;
  }
  if (kind === 'qcow2') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-gpt-'));
    try {
      const args = ['-f', 'qcow2'];
      writes.forEach(([o, b], i) => { const f = path.join(dir, `${i}`); fs.writeFileSync(f, b); args.push('-c', `write -q -s ${f} ${o} ${b.length}`); });
      const r = cp.spawnSync('qemu-io', [...args, abs], { encoding: 'utf8' });
      if (r.error || r.status !== 0 || /error|failed/i.test(r.stdout + r.stderr)) throw new FormatError('unsupported', `qemu-io could not move the backup GPT: ${(r.error?.message ?? r.stdout + r.stderr).trim()}`);
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
    return;
  }
  // one write at a time, each committed: the order of gptMoveWrites is the crash-safe order
  for (const [k, [o, b]] of writes.entries()) {
    const layer = kind === 'vhd' ? openVhdLayer(abs, true) : await openVhdxLayer(abs, true);
    try { await layer.write(o, b); await layer.commit(); } finally { await layer.close(); }
    stepDone('resize-gpt', k + 1);
  }
}

const isZero = (b: Buffer) => { for (let i = 0; i < b.length; i++) if (b[i]) return false; return true; };

/**
 * The ranges of the disk that may hold data, in order: VHD/VHDX blocks their BAT allocates; raw and qcow2 what
 * `qemu-img map` reports as data (holes and zero clusters skipped); the whole disk when that cannot be known.
 */
async function dataRanges(abs: string, kind: Kind, size: number): Promise<[number, number][]> {
  const out: [number, number][] = [];
  const add = (a: number, b: number) => {
    const last = out[out.length - 1];
    if (last && last[1] >= a) last[1] = Math.max(last[1], b); else out.push([a, b]);
  };
  if (kind === 'vhd' || kind === 'vhdx') {
    const layer = kind === 'vhd' ? openVhdLayer(abs, false) : await openVhdxLayer(abs, false);
    try {
      if (!layer.holds) return [[0, size]];
      const bs = layer.blockSize;
      for (let i = 0; i * bs < size; i++) if (layer.holds(i)) add(i * bs, Math.min(size, (i + 1) * bs));
    } finally { await layer.close(); }
    return out;
  }
  const r = cp.spawnSync('qemu-img', ['map', '--output=json', '-f', kind, abs], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.error || r.status !== 0) return [[0, size]];
  try {
    for (const e of JSON.parse(r.stdout) as { start: number; length: number; data: boolean; zero?: boolean }[]) {
      if (e.data && !e.zero) add(e.start, Math.min(size, e.start + e.length));
    }
  } catch { return [[0, size]]; }
  return out;
}

const clip = (ranges: [number, number][], from: number, to: number): [number, number][] =>
  ranges.map(([a, b]) => [Math.max(a, from), Math.min(b, to)] as [number, number]).filter(([a, b]) => b > a);

const clear = (b: Buffer, at: number, skip: [number, number][]) => {
  for (const [s, e] of skip) b.fill(0, Math.min(b.length, Math.max(0, s - at)), Math.max(0, Math.min(b.length, e - at)));
};

/** The first non-zero byte in `ranges` (in order) outside `skip`, or null. */
async function firstNonZero(disk: BlockReader, ranges: [number, number][], skip: [number, number][], progress?: Progress): Promise<number | null> {
  const buf = Buffer.alloc(CHUNK);
  const total = ranges.reduce((n, [a, b]) => n + b - a, 0);
  let done = 0;
  for (const [from, to] of ranges) {
    for (let at = from; at < to; at += CHUNK) {
      checkCancel(progress);
      const n = Math.min(CHUNK, to - at);
      const b = buf.subarray(0, n);
      await disk.read(b, at);
      clear(b, at, skip);
      if (!isZero(b)) return at + b.findIndex((x) => x !== 0);
      progress?.report?.(done += n, total);
    }
  }
  return null;
}

/** One past the last non-zero byte in `ranges` outside `skip` (0 when there is none), scanning from the end. */
async function lastNonZero(disk: BlockReader, ranges: [number, number][], skip: [number, number][], progress?: Progress): Promise<number> {
  const buf = Buffer.alloc(CHUNK);
  const total = ranges.reduce((n, [a, b]) => n + b - a, 0);
  let done = 0;
  for (const [from, to] of [...ranges].reverse()) {
    for (let end = to; end > from;) {
      checkCancel(progress);
      const at = Math.max(from, end - CHUNK), n = end - at;
      const b = buf.subarray(0, n);
      await disk.read(b, at);
      clear(b, at, skip);
      for (let i = n - 1; i >= 0; i--) if (b[i]) return at + i + 1;
      progress?.report?.(done += n, total);
      end = at;
    }
  }
  return 0;
}
