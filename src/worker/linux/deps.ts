// Storage dependency information in the shape of Windows' GetStorageDependencyInformation(HOST_VOLUMES):
// for one of our disks or volumes, one entry per layer (image, parent, grandparent...); for any other mount
// point or block device, the layers of every attached virtual disk whose files live on it, nested ones included.
import * as fs from 'fs';
import * as path from 'path';
import { AttachedDisk, DependencyEntry, DependencyFlag, ErrorCode } from '../../common/protocol';
import type { ChainLink, ImageFormat } from '../../common/image';
import { WorkerError } from '../errors';
import type { Registry } from './registry';
import { blockDeviceOf, devNoOf, hostMountOf, MountEntry, readMountInfo, relativeTo, removable } from './mountinfo';

const REMOTE_FS = new Set(['nfs', 'nfs4', 'cifs', 'smb3', 'smbfs', 'fuse.sshfs', '9p', 'ceph', 'glusterfs', 'fuse.rclone']);

function storageDevice(format: ImageFormat | undefined, file: string): DependencyEntry['storageType'] {
  const f = format ?? (/\.iso$/i.test(file) ? 'iso' : 'raw');
  const device = f === 'udf' ? 'iso' : f;
  return { device, vendor: device === 'iso' || device === 'vhd' || device === 'vhdx' ? 'microsoft' : 'unknown' };
}

function layersOf(disk: AttachedDisk, registry: Registry): ChainLink[] {
  const r = registry.get(disk.device);
  if (disk.ours && r?.chain?.length) return r.chain;
  const file = disk.image ?? '';
  return [{ path: file, format: r?.format ?? (/\.iso$/i.test(file) ? 'iso' : 'raw'), subtype: null, id: null }];
}

function entriesOf(disk: AttachedDisk, dependentVolume: string, registry: Registry, mounts: MountEntry[], only?: string): DependencyEntry[] {
  const out: DependencyEntry[] = [];
  const layers = layersOf(disk, registry);
  const levelOf = (l: ChainLink, i: number) => l.level ?? i + 1;
  layers.forEach((layer, i) => {
    const host = layer.path ? hostMountOf(layer.path, mounts) : null;
    if (only !== undefined && host?.devNo !== only) return;
    // extents and data files are at the level of the image that pulls them in; parents and backing files one below
    const level = levelOf(layer, i);
    const flags: DependencyFlag[] = [];
    if (disk.readOnly || level > 1) flags.push('read-only');
    if (level > 1) flags.push('parent');
    if (disk.lifetime === 'permanent') flags.push('permanent-lifetime');
    // a VMDK with extents, a qcow2 with a data file: several files back this level (DEPENDENT_DISK_FLAG_MULT_BACKING_FILES)
    if (layers.some((l, j) => j !== i && levelOf(l, j) === level)) flags.push('mult-backing-files');
    if (layer.subtype === 'fixed' || layer.format === 'raw' || layer.format === 'iso' || layer.format === 'udf') flags.push('fully-allocated');
    if (host && !blockDeviceOf(host.devNo)) flags.push('no-host-disk');
    if (host && removable(host.devNo)) flags.push('removable');
    if (host && REMOTE_FS.has(host.fsType)) flags.push('remote');
    out.push({
      dependencyDevice: disk.device,
      hostVolume: host?.mountPoint ?? null,
      dependentVolume,
      dependentVolumeRelativePath: host ? relativeTo(host, layer.path) : layer.path,
      ancestorLevel: level,
      storageType: storageDevice(layer.format, layer.path),
      flags,
    });
  });
  return out;
}

/** Layers of every disk with a file on the file system `devNo`, then of disks living on those disks' volumes. */
function hostedOn(devNos: string[], disks: AttachedDisk[], registry: Registry, mounts: MountEntry[]): DependencyEntry[] {
  const out: DependencyEntry[] = [];
  const seenDev = new Set<string>();
  const seenDisk = new Set<string>();
  const queue = [...devNos];
  while (queue.length) {
    const dev = queue.shift()!;
    if (seenDev.has(dev)) continue;
    seenDev.add(dev);
    for (const d of disks) {
      const e = entriesOf(d, d.device, registry, mounts, dev);
      if (!e.length) continue;
      out.push(...e);
      if (seenDisk.has(d.device)) continue;
      seenDisk.add(d.device);
      // nested: images stored inside this disk's mounted volumes
      for (const v of d.volumes ?? []) {
        if (!v.mountPoint) continue;
        const m = mounts.find((x) => x.mountPoint === v.mountPoint);
        if (m) queue.push(m.devNo);
      }
    }
  }
  return out;
}

export async function computeDeps(target: string, registry: Registry, disks: AttachedDisk[]): Promise<DependencyEntry[]> {
  if (typeof target !== 'string' || !target) throw new WorkerError(ErrorCode.InvalidParams, 'deps needs a device or a path');
  const mounts = readMountInfo();
  const abs = target.startsWith('/dev/') ? target : path.resolve(target);
  // one of the attached disks, or a volume of one of ours
  const disk = disks.find((d) => d.device === abs);
  if (disk) return entriesOf(disk, abs, registry, mounts);
  for (const d of disks) {
    const v = (d.volumes ?? []).find((x) => x.device === abs || x.mountPoint === abs);
    if (v) return entriesOf(d, v.device, registry, mounts);
  }
  let st: fs.Stats;
  try { st = fs.statSync(abs); } catch {
    throw new WorkerError(ErrorCode.NotFound, `${abs} does not exist`, { path: abs });
  }
  if (st.isBlockDevice()) {
    // a block device that is not a virtual disk of ours: the disks whose files live on its file systems
    const devNo = devNoOf(st, 'rdev');
    const name = path.basename(fs.realpathSync(`/sys/dev/block/${devNo}`));
    const parts = fs.readdirSync(`/sys/class/block/${name}`).filter((n) => n.startsWith(name))
      .map((n) => { try { return fs.readFileSync(`/sys/class/block/${name}/${n}/dev`, 'utf8').trim(); } catch { return ''; } }).filter(Boolean);
    return hostedOn([devNo, ...parts], disks, registry, mounts);
  }
  if (st.isFile()) {
    let real = abs;
    try { real = fs.realpathSync(abs); } catch { /* keep */ }
    const attached = disks.filter((d) => d.image === real);
    if (attached.length) return attached.flatMap((d) => entriesOf(d, d.device, registry, mounts));
  }
  const host = hostMountOf(abs, mounts);
  if (!host) throw new WorkerError(ErrorCode.NotFound, `No mounted file system holds ${abs}`, { path: abs });
  return hostedOn([host.devNo], disks, registry, mounts);
}
