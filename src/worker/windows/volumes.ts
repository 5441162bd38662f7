// Volumes of attached disks: FindFirstVolumeW/FindNextVolumeW over every volume, matched to a disk through
// IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS (hard disks) or IOCTL_STORAGE_GET_DEVICE_NUMBER (CD/DVD volumes of an
// ISO), with mount points from GetVolumePathNamesForVolumeNameW and label/file system from GetVolumeInformationW.
import { ErrorCode, VolumeInfo } from '../../common/protocol';
import { WorkerError } from '../errors';
import { Handle, isInvalidHandle, multiSz, wstr } from './api';
import * as C from './constants';
import type { VirtDisk } from './virtdisk';

export interface DiskId { kind: 'disk' | 'cdrom'; number: number }

/** `\\.\PhysicalDrive3` -> disk 3, `\\.\CdRom1` -> cdrom 1. */
export function parseDevice(device: string): DiskId | null {
  const m = /^\\\\[.?]\\(PhysicalDrive|CdRom)(\d+)$/i.exec(device.trim());
  if (!m) return null;
  return { kind: m[1].toLowerCase() === 'cdrom' ? 'cdrom' : 'disk', number: Number(m[2]) };
}

interface RawVolume { guidPath: string; extents: { disk: number; offset: number; length: number }[]; cdrom: number | null }

function ioctl(vd: VirtDisk, h: Handle, code: number, outSize: number): Buffer | null {
  const out = Buffer.alloc(outSize);
  const returned: [number] = [0];
  return vd.api.DeviceIoControl(h, code, null, 0, out, outSize, returned, null) ? out.subarray(0, returned[0]) : null;
}

function describe(vd: VirtDisk, guidPath: string): RawVolume {
  const r: RawVolume = { guidPath, extents: [], cdrom: null };
  // CreateFileW wants the volume without its trailing backslash (\\?\Volume{...}).
  const h = vd.api.CreateFileW(guidPath.replace(/\\$/, ''), 0, C.FILE_SHARE_READ | C.FILE_SHARE_WRITE, null, C.OPEN_EXISTING, 0, null);
  if (isInvalidHandle(h)) return r;
  try {
    const ext = ioctl(vd, h, C.IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS, 8 + 24 * 32);
    if (ext && ext.length >= 8) {
      const n = ext.readUInt32LE(0);
      for (let i = 0; i < n && 8 + 24 * (i + 1) <= ext.length; i++) {
        const o = 8 + 24 * i; // DISK_EXTENT: DiskNumber @0, StartingOffset @8, ExtentLength @16
        r.extents.push({ disk: ext.readUInt32LE(o), offset: Number(ext.readBigInt64LE(o + 8)), length: Number(ext.readBigInt64LE(o + 16)) });
      }
    } else {
      const num = ioctl(vd, h, C.IOCTL_STORAGE_GET_DEVICE_NUMBER, 12);
      if (num && num.length >= 12) {
        const type = num.readUInt32LE(0);
        if (type === C.FILE_DEVICE_CD_ROM || type === C.FILE_DEVICE_DVD) r.cdrom = num.readUInt32LE(4);
      }
    }
  } finally {
    vd.close(h);
  }
  return r;
}

function allVolumes(vd: VirtDisk): RawVolume[] {
  const buf = Buffer.alloc(2 * C.MAX_PATH);
  const find = vd.api.FindFirstVolumeW(buf, C.MAX_PATH);
  if (isInvalidHandle(find)) return [];
  const out: RawVolume[] = [];
  try {
    do out.push(describe(vd, wstr(buf)));
    while (vd.api.FindNextVolumeW(find, buf, C.MAX_PATH));
  } finally {
    vd.api.FindVolumeClose(find);
  }
  return out;
}

/** Drive letters and folder mount points of a volume (GUID path with its trailing backslash). */
export function mountPoints(vd: VirtDisk, guidPath: string): string[] {
  let chars = 1024;
  for (let i = 0; i < 3; i++) {
    const buf = Buffer.alloc(chars * 2);
    const needed: [number] = [0];
    if (vd.api.GetVolumePathNamesForVolumeNameW(guidPath, buf, chars, needed)) return multiSz(buf);
    if (needed[0] <= chars) return [];
    chars = needed[0];
  }
  return [];
}

function volumeInfo(vd: VirtDisk, v: RawVolume, offset: number, size: number): VolumeInfo {
  const mps = mountPoints(vd, v.guidPath);
  const label = Buffer.alloc(2 * (C.MAX_PATH + 1));
  const fs = Buffer.alloc(2 * (C.MAX_PATH + 1));
  const fsFlags: [number] = [0];
  const known = vd.api.GetVolumeInformationW(v.guidPath, label, C.MAX_PATH + 1, null, null, fsFlags, fs, C.MAX_PATH + 1) !== 0;
  return {
    device: v.guidPath,
    offset, size,
    fsType: known ? wstr(fs) || null : null,
    label: known ? wstr(label) || null : null,
    mountPoint: mps[0] ?? null,
    readOnly: known ? (fsFlags[0] & C.FILE_READ_ONLY_VOLUME) !== 0 : false,
  };
}

/** Volumes on the disk `device` (PhysicalDriveN / CdRomN), in disk order. */
export function volumesOf(vd: VirtDisk, device: string): VolumeInfo[] {
  const id = parseDevice(device);
  if (!id) return [];
  const out: VolumeInfo[] = [];
  for (const v of allVolumes(vd)) {
    if (id.kind === 'cdrom' ? v.cdrom === id.number : false) out.push(volumeInfo(vd, v, 0, 0));
    for (const e of v.extents) if (id.kind === 'disk' && e.disk === id.number) out.push(volumeInfo(vd, v, e.offset, e.length));
  }
  return out.sort((a, b) => a.offset - b.offset);
}

/** First drive letter not in use (D: on), for mount(). */
export function freeDriveLetter(vd: VirtDisk): string | null {
  const used = vd.api.GetLogicalDrives();
  for (let i = 3; i < 26; i++) if (!(used & (1 << i))) return `${String.fromCharCode(65 + i)}:\\`;
  return null;
}

function volumesOrFail(vd: VirtDisk, device: string): VolumeInfo[] {
  if (!parseDevice(device)) throw new WorkerError(ErrorCode.InvalidParams, `${device} is not a disk device (\\\\.\\PhysicalDriveN or \\\\.\\CdRomN)`);
  const volumes = volumesOf(vd, device);
  if (!volumes.length) {
    throw new WorkerError(ErrorCode.NotSupported, `Windows found no volume on ${device}: the disk is empty, not initialised, or its file system is unknown. Initialise it in Disk Management.`, { reason: 'no-volumes' });
  }
  return volumes;
}

/**
 * Windows mounts volumes itself when it attaches a disk; this gives a drive letter to every volume of the disk that
 * has none (attached with NO_DRIVE_LETTER, or a letter removed by removeMountPoints) and returns the volumes.
 */
export function assignDriveLetters(vd: VirtDisk, device: string): VolumeInfo[] {
  for (const v of volumesOrFail(vd, device).filter((x) => !x.mountPoint)) {
    const letter = freeDriveLetter(vd);
    if (!letter) throw new WorkerError(ErrorCode.Busy, 'No free drive letter is left (D: to Z: are all in use)', { reason: 'no-drive-letter' });
    if (!vd.api.SetVolumeMountPointW(letter, v.device.endsWith('\\') ? v.device : `${v.device}\\`)) vd.lastError(`Assigning ${letter} to ${v.device}`);
  }
  return volumesOf(vd, device);
}

/** Removes every drive letter and folder mount point of the disk's volumes; the disk stays attached. */
export function removeMountPoints(vd: VirtDisk, device: string): VolumeInfo[] {
  for (const v of volumesOrFail(vd, device)) {
    for (const mp of mountPoints(vd, v.device)) {
      if (!vd.api.DeleteVolumeMountPointW(mp)) vd.lastError(`Removing the mount point ${mp}`);
    }
  }
  return volumesOf(vd, device);
}
