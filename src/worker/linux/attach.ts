// One attach, start to finish: engine (if any), loop device, partitions. Either everything is in place and
// recorded, or nothing is left behind (no loop device, daemon, FUSE mount or scratch folder).
import * as fs from 'fs';
import { AttachParams, ErrorCode } from '../../common/protocol';
import type { ImageInfo } from '../../common/image';
import { errnoError, WorkerError } from '../errors';
import { blockSize64, loopAttach, loopDetach, setReadahead } from './loop';
import { planAttach } from './plan';
import { openLayerFile } from '../../formats/layers';
import { DiskRecord } from './registry';
import { devName, loopOffset, waitUnbound } from './sysfs';
import { EngineHandle, stopEngine } from './engines/engine';
import { startQemu } from './engines/qemu';
import { startVhdimount } from './engines/vhdimount';
import { startVdiskFuse } from './engines/vdisk-fuse';
import { DiskHead, FsProbe, headPartitions, headProbe, kernelPartitions, probeFs, readHead, readPartitions, releaseHead, VolumeRecord } from './volumes';
import type { PartitionEntry } from '../../formats/partitions';

export interface AttachOutcome {
  record: DiskRecord;
  /** Open fds on every loop device made (disk first); for a session attach they keep the devices alive. */
  fds: Map<string, number>;
  engine?: EngineHandle;
  timings: Record<string, number>;
  /** What the kernel now shows for the disk, learnt without sysfs (plain loop disks only): see attachedDisk. */
  seen?: KernelView;
}

/** The kernel's name of the backing file (symlinks resolved, as sysfs `backing_file` shows it) and the disk's size. */
export interface KernelView { backingFile: string; sizeBytes: number }

export interface AttachHooks {
  /** Called once the engine runs, before any loop exists: the reaper must know about it from then on. */
  engineStarted?: (h: EngineHandle) => void;
  cancelled: () => boolean;
}

export async function attachImage(params: AttachParams, image: ImageInfo, hooks: AttachHooks): Promise<AttachOutcome> {
  const plan = planAttach(image, params.readOnly);
  const session = params.lifetime === 'session';
  const timings: Record<string, number> = {};
  const fds = new Map<string, number>();
  let engine: EngineHandle | undefined;
  let t = Date.now();
  const lap = (name: string) => { const n = Date.now(); timings[name] = n - t; t = n; };
  const check = () => { if (hooks.cancelled()) throw new WorkerError(ErrorCode.Cancelled, 'Attach cancelled'); };
  try {
    check();
    if (plan.engine === 'qemu') engine = await startQemu(image, plan.driver, params.readOnly);
    else if (plan.engine === 'vhdimount') engine = await startVhdimount(image);
    else if (plan.engine === 'vdisk-fuse') {
      if (!params.readOnly) throw new Error('vdisk-fuse planned for a read-write attach'); // policy refuses it first
      engine = await startVdiskFuse(image);
    }
    if (engine) { hooks.engineStarted?.(engine); lap('engine'); }
    check();
    const backing = engine?.exportFile ?? (plan.engine === 'loop' ? plan.file : image.path);
    const offset = plan.engine === 'loop' ? plan.offset : 0;
    const sizeLimit = plan.engine === 'loop' ? plan.sizeLimit : 0;
    const diskSize = plan.engine === 'loop' ? (sizeLimit || image.fileSize - offset) : image.virtualSize;
    let disk;
    let volumes: VolumeRecord[];
    let backingIno: string | undefined;
    let seen: KernelView | undefined;
    if (plan.engine === 'loop') {
      // one open of the file: its head tells the partitions and file system before the device exists, and the same
      // fd goes to LOOP_CONFIGURE. A read-only disk without a partition table skips the kernel's partition scan.
      const fd = plan.layer ? openExtent(backing, !params.readOnly, offset + sizeLimit)
        : openImage(backing, params.readOnly);
      let parts: PartitionEntry[];
      let head: DiskHead | undefined;
      try {
        head = readHead(fd, offset);
        backingIno = head.ino;
        parts = await headPartitions(head, diskSize);
        const partscan = !params.readOnly || parts.length > 0;
        disk = loopAttach(backing, { readOnly: params.readOnly, autoclear: session, partscan, offset, sizeLimit, fd,
          blockSize: plan.blockSize, directIo: true });
        fds.set(disk.device, disk.fd);
        tuneReadahead(disk.device, disk.fd, undefined);
        seen = kernelView(fd, disk.fd);
        lap('loop');
        // the kernel's partitions win where it scanned (it also knows tables our reader does not)
        const h = head;
        volumes = await volumesFrom(disk.device, parts, (at) => headProbe(h, at), diskSize, params.readOnly, session, fds,
          partscan ? kernelPartitions(disk.device) : []);
      } finally {
        fs.closeSync(fd);
        if (head) releaseHead(head);
      }
    } else {
      disk = loopAttach(backing, { readOnly: params.readOnly, autoclear: session, partscan: true, directIo: engine?.daemon === 'vdisk-fuse' });
      fds.set(disk.device, disk.fd);
      tuneReadahead(disk.device, disk.fd, engine?.fuseMount);
      lap('loop');
      volumes = await findVolumes(disk.device, backing, offset, diskSize, params.readOnly, session, fds);
    }
    lap('volumes');
    const record: DiskRecord = {
      device: disk.device, image: image.path, backingFile: backing, engine: plan.engine, lifetime: params.lifetime,
      readOnly: params.readOnly, attachedAt: new Date().toISOString(), workerPid: process.pid,
      format: image.format, subtype: image.subtype, chain: image.chain, volumes, mounts: [],
      backingIno: backingIno ?? inodeOf(backing),
      resources: engine ? { pid: engine.pid, fuseMount: engine.fuseMount, dir: engine.dir, daemon: engine.daemon, marker: engine.marker } : undefined,
    };
    return { record, fds, engine, timings, seen };
  } catch (e) {
    await undo(fds, !session, engine);
    throw e;
  }
}

export async function findVolumes(device: string, backing: string, base: number, diskSize: number, readOnly: boolean,
  session: boolean, fds: Map<string, number>): Promise<VolumeRecord[]> {
  const kparts = kernelPartitions(device);
  const parts = kparts.length ? [] : await readPartitions(backing, base, diskSize);
  return volumesFrom(device, parts, async (at) => probeFs(device, false, { file: backing, offset: base + at }), diskSize, readOnly, session, fds, kparts);
}

/**
 * The disk's volumes: the kernel's partitions when it made any, else `parts` (each gets a loop device on the disk's
 * one), else a file system on the whole disk. `probe(offset)` reads the file system at a byte offset of the disk.
 */
async function volumesFrom(device: string, parts: PartitionEntry[], probe: (offset: number) => FsProbe | Promise<FsProbe>, diskSize: number,
  readOnly: boolean, session: boolean, fds: Map<string, number>, kparts: { device: string; index: number; offset: number; size: number }[]): Promise<VolumeRecord[]> {
  const out: VolumeRecord[] = [];
  const list = kparts.length ? kparts : parts.map((p) => ({ device: '', index: p.index, offset: p.start, size: p.size }));
  if (!list.length) {
    const fsp = await probe(0);
    if (fsp.fsType) out.push({ device, index: null, offset: 0, size: diskSize, ...fsp, kernelPartition: false });
    return out;
  }
  for (const p of list) {
    let dev = p.device;
    if (!dev) {
      const a = loopAttach(device, { readOnly, autoclear: session, offset: p.offset, sizeLimit: p.size });
      fds.set(a.device, a.fd);
      dev = a.device;
    }
    const fsp = await probe(p.offset);
    out.push({ device: dev, index: p.index, offset: p.offset, size: p.size, ...fsp, kernelPartition: !!p.device });
  }
  return out;
}

/**
 * Reads the partition table again (it may have been written through the device since the attach) and, when it
 * changed, replaces the partition loops. Only for a disk with nothing mounted. Returns the new fds to hold.
 */
export async function rescanVolumes(r: DiskRecord, diskSize: number, held: Map<string, number>): Promise<boolean> {
  const base = r.engine === 'loop' ? (loopOffset(r.device) ?? 0) : 0;
  const now = (await readPartitions(r.backingFile, base, diskSize)).map((p) => `${p.start}+${p.size}`).join(',');
  const had = (r.volumes ?? []).filter((v) => v.index !== null).map((v) => `${v.offset}+${v.size}`).join(',');
  if (now === had || kernelPartitions(r.device).length) return false;
  const old = (r.volumes ?? []).filter((v) => v.device !== r.device && !v.kernelPartition).map((v) => v.device).reverse();
  for (const dev of old) {
    try { loopDetach(dev); } catch { /* gone */ }
    const fd = held.get(dev);
    if (fd !== undefined) { fs.closeSync(fd); held.delete(dev); }
  }
  const fds = new Map<string, number>();
  r.volumes = await findVolumes(r.device, r.backingFile, base, diskSize, r.readOnly, r.lifetime === 'session', fds);
  if (r.lifetime === 'session') for (const [d, fd] of fds) held.set(d, fd); else for (const fd of fds.values()) fs.closeSync(fd);
  return true;
}

/**
 * FUSE requests are small and the daemons serve them one at a time: a cold sequential read through the default
 * 128 KiB readahead of the export runs at a tenth of the disk's speed. 8 MiB on the loop device and on the FUSE
 * connection measured best here (bench/linux). A plain loop device with direct I/O needs it as much: 128 KiB reads
 * 85 MB/s, 8 MiB the disk's speed. Best effort: sysfs may be read-only in a container. vdisk's own FUSE server
 * gets direct I/O on its loop device too (no second page cache; the loop's requests reach the server whole, up to
 * 1 MiB each, and its threads serve them in parallel): measured faster cold than buffered (bench/BENCHMARKS.md).
 */
function tuneReadahead(device: string, fd: number, fuseMount: string | undefined): void {
  const set = (p: string) => { try { fs.writeFileSync(p, '8192'); } catch { /* keep the default */ } };
  if (!setReadahead(fd, 8192)) set(`/sys/block/${devName(device)}/queue/read_ahead_kb`);
  if (!fuseMount) return;
  try {
    const st = fs.statSync(fuseMount);
    set(`/sys/class/bdi/${Math.floor(st.dev / 256) & 0xfff}:${(st.dev & 0xff) | ((st.dev >>> 12) & ~0xff)}/read_ahead_kb`);
  } catch { /* no bdi */ }
}

/**
 * The loop device holds the very file `fd` is open on (LOOP_CONFIGURE took a reference to it), so its name through
 * /proc/self/fd is the name sysfs `backing_file` gives (both the kernel's path of that file), and BLKGETSIZE64 on the
 * device is the size sysfs `size` gives: two calls instead of two opens, reads and closes. Undefined when either
 * cannot be read (the reply then asks sysfs).
 */
function kernelView(fd: number, loopFd: number): KernelView | undefined {
  let name: string;
  try { name = fs.readlinkSync(`/proc/self/fd/${fd}`); } catch { return undefined; }
  const sizeBytes = blockSize64(loopFd);
  if (sizeBytes === undefined || !name.startsWith('/')) return undefined;
  return { backingFile: name.endsWith(' (deleted)') ? name.slice(0, -' (deleted)'.length) : name, sizeBytes };
}

/** The image file, opened the way the loop device will use it. */
function openImage(file: string, readOnly: boolean): number {
  try { return fs.openSync(file, readOnly ? fs.constants.O_RDONLY : fs.constants.O_RDWR); } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw errnoError(-(err.errno ?? -5), `open image ${file}`, { path: file });
  }
}

/** A VMDK's flat extent, opened through layers.ts' checks (the very file the chain listed), long enough for the disk. */
function openExtent(file: string, write: boolean, end: number): number {
  let o: { fd: number; path: string };
  try { o = openLayerFile(file, write); } catch (e) {
    throw new WorkerError(ErrorCode.ImageProblem, `extent ${file}: ${e instanceof Error ? e.message : e}`, { path: file });
  }
  const size = fs.fstatSync(o.fd).size;
  if (size < end) {
    fs.closeSync(o.fd);
    throw new WorkerError(ErrorCode.ImageProblem, `extent ${file} is ${size} bytes; the descriptor needs ${end}`, { path: file });
  }
  return o.fd;
}

function inodeOf(file: string): string | undefined {
  try { const st = fs.statSync(file, { bigint: true }); return `${st.dev}:${st.ino}`; } catch { return undefined; }
}

/** Reverses a partial attach: partition loops, disk loop, engine. Never throws. */
export async function undo(fds: Map<string, number>, detachLoops: boolean, engine: EngineHandle | undefined): Promise<void> {
  const devices = [...fds.keys()].reverse(); // partitions before the disk they sit on
  for (const dev of devices) {
    if (detachLoops) { try { loopDetach(dev); } catch { /* already gone */ } }
    try { fs.closeSync(fds.get(dev)!); } catch { /* closed */ }
  }
  for (const dev of devices) {
    // without autoclear, LOOP_CLR_FD works right away; with it, the last close above detached it
    if (!(await waitUnbound([dev], 1000))) { try { loopDetach(dev); } catch { /* gone */ } }
  }
  if (engine) { try { await stopEngine(engine); } catch { /* reported by list() */ } }
}
