// What the Linux backend reports: loop devices as AttachedDisk/VolumeInfo, ours (with their record) or other tools'.
import * as fs from 'fs';
import { AttachedDisk, ErrorCode, VolumeInfo } from '../../common/protocol';
import { WorkerError } from '../errors';
import { mountedAt } from './engines/process';
import type { DiskRecord } from './registry';
import { routeOf } from './routes';
import { sameBacking, LinuxState } from './state';
import { blockDevNo, listLoops, loopBackingFile, loopSizeBytes, LoopInfo, loopInfoOf, mountsOf } from './sysfs';

export function toDisk(l: LoopInfo, r: DiskRecord | undefined, fresh = false): AttachedDisk {
  const ours = r !== undefined && sameBacking(r, l);
  const disk: AttachedDisk = {
    device: l.device,
    // a loop disk follows its file when it is renamed (the kernel tracks the file, not the name)
    image: ours ? (r.engine === 'loop' && r.backingFile === r.image ? l.backingFile : r.image) : l.backingFile,
    readOnly: l.readOnly,
    engine: ours ? r.engine : 'loop',
    lifetime: ours && !routeOf(r).kernelLifetime ? r.lifetime : l.autoclear ? 'session' : 'permanent',
    ours,
    sizeBytes: l.sizeBytes,
  };
  if (ours) {
    disk.volumes = volumeInfos(r, fresh);
    if (r.chain) disk.chain = r.chain;
  } else {
    const mp = mountsOf(l.devNo);
    disk.volumes = mp.map((m) => ({ device: l.device, offset: l.offset, size: l.sizeBytes, fsType: null, label: null, mountPoint: m, readOnly: l.readOnly }));
  }
  return disk;
}

/**
 * A just-attached disk, described from its record: what we configured is what the kernel has (only the backing
 * file's name is the kernel's: symlinks resolved). Nobody can have mounted a device this new, so no mount table scan.
 * `seen`: the kernel's name and size as the attach learnt them from its fds (attach.ts); else read from sysfs.
 */
export function attachedDisk(r: DiskRecord, seen?: { backingFile: string; sizeBytes: number }): AttachedDisk {
  const l: LoopInfo = { device: r.device, backingFile: seen?.backingFile ?? loopBackingFile(r.device) ?? r.backingFile, deleted: false, offset: 0, sizeLimit: 0,
    autoclear: r.lifetime === 'session', partscan: false, readOnly: r.readOnly, sizeBytes: seen?.sizeBytes ?? loopSizeBytes(r.device), devNo: '' };
  return toDisk(l, r, true);
}

export function volumeInfos(r: DiskRecord, fresh = false): VolumeInfo[] {
  return (r.volumes ?? []).map((v) => {
    const m = fresh ? undefined : (r.mounts ?? []).find((x) => x.device === v.device && mountedAt(x.mountPoint));
    const devNo = fresh ? undefined : blockDevNo(v.device);
    const other = m ? null : devNo ? mountsOf(devNo)[0] ?? null : null;
    return { device: v.device, offset: v.offset, size: v.size, fsType: v.fsType, label: v.label, mountPoint: m?.mountPoint ?? other, readOnly: r.readOnly };
  });
}

/**
 * True when nothing holds `device` exclusively, so no file system on it (or, for a whole disk, on one of its
 * partitions) is mounted in any namespace: an O_EXCL open fails with EBUSY while one is. False also when the open
 * fails for another reason (no right to open it): then ask the mount table.
 */
export function unclaimed(device: string): boolean {
  let fd: number;
  try { fd = fs.openSync(device, fs.constants.O_RDONLY | fs.constants.O_EXCL | fs.constants.O_NONBLOCK); } catch { return false; }
  fs.closeSync(fd);
  return true;
}

/** Mount points of a block device that vdisk did not make (some other tool or the user mounted it). */
export function mountedElsewhere(device: string, ours: Set<string> = new Set()): string[] {
  const devNo = blockDevNo(device);
  return devNo ? mountsOf(devNo).filter((m) => !ours.has(m)) : [];
}

/** The record of our disk `device`, or of the disk `device` is a volume of (then `volumes` is just that one). */
export function volumesFor(s: LinuxState, device: string): { record: DiskRecord; volumes: NonNullable<DiskRecord['volumes']> } {
  for (const r of s.registry.all()) {
    const l = loopInfoOf(r.device);
    if (!l || !sameBacking(r, l)) continue;
    if (r.device === device) return { record: r, volumes: r.volumes ?? [] };
    const v = (r.volumes ?? []).find((x) => x.device === device);
    if (v) return { record: r, volumes: [v] };
  }
  throw new WorkerError(ErrorCode.NotAttached, `${device} is not a disk or volume attached by vdisk`);
}

/** A device path, or an image path attached exactly once. */
export function resolveTarget(s: LinuxState, target: string): Pick<LoopInfo, 'device' | 'backingFile'> {
  if (/^\/dev\/loop\d+$/.test(target)) {
    const backingFile = loopBackingFile(target);
    if (backingFile === undefined) throw new WorkerError(ErrorCode.NotAttached, `${target} is not attached to any image`);
    return { device: target, backingFile };
  }
  let real = target;
  try { real = fs.realpathSync(target); } catch { /* a deleted image can still be attached */ }
  const records = s.registry.all().filter((r) => r.image === real);
  const partitions = new Set(s.registry.all().flatMap((r) => (r.volumes ?? []).filter((v) => v.device !== r.device).map((v) => v.device)));
  const loops = listLoops().filter((l) => !partitions.has(l.device)
    && (l.backingFile === real || records.some((r) => r.device === l.device && sameBacking(r, l))));
  if (loops.length === 0) throw new WorkerError(ErrorCode.NotAttached, `${target} is not attached`);
  if (loops.length > 1) {
    throw new WorkerError(ErrorCode.InvalidParams,
      `${target} is attached ${loops.length} times (${loops.map((l) => l.device).join(', ')}): name the device to detach`);
  }
  return loops[0];
}
