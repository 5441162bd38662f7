// Mounting a volume of an attached disk: the kernel where it has the file system (/proc/filesystems or a
// module on disk), otherwise a FUSE tool (fuseiso, ntfs-3g, fusefat), with a MissingDependency naming the
// package when neither exists. Untrusted images: always nosuid,nodev.
import * as fs from 'fs';
import * as path from 'path';
import { ErrorCode } from '../../common/protocol';
import { WorkerError } from '../errors';
import { runDir } from './run-dir';
import { giveToUser, servedUser } from './served-user';
import { settings } from '../settings';
import { fsModuleAvailable } from './kernel-modules';
import { mountedAt, requireTool, run, unmountFuse, which } from './engines/process';

export interface MountRecord { device: string; mountPoint: string; kind: 'kernel' | 'fuse'; tool?: string }

/** Where volumes are mounted: the vdisk.mountRoot setting (or $VDISK_MOUNT_ROOT), else runDir()/mnt. */
export function mountRoot(): string {
  // an elevated worker mounts only under root-owned folders the user can pass through (runDir is 0700): a folder
  // the user controls could be swapped for a symlink between mkdir and mount
  const served = servedUser();
  if (served) return path.join('/run/vdisk-mnt', `uid-${served.uid}`);
  return settings().mountRoot ?? path.join(runDir(), 'mnt');
}

/** Options that let the served user (not only root) use a FUSE mount an elevated worker made. */
function fuseForUser(): string[] {
  const u = servedUser();
  return u ? [`allow_other,uid=${u.uid},gid=${u.gid}`] : [];
}

/** Kernel file system name for a blkid TYPE, when the kernel can mount it here. */
export function kernelFs(fsType: string): string | null {
  const names: Record<string, string[]> = {
    ext2: ['ext2', 'ext4'], ext3: ['ext3', 'ext4'], ext4: ['ext4'], vfat: ['vfat'], msdos: ['msdos', 'vfat'], exfat: ['exfat'],
    ntfs: ['ntfs3'], iso9660: ['iso9660'], udf: ['udf'], xfs: ['xfs'], btrfs: ['btrfs'], squashfs: ['squashfs'], erofs: ['erofs'],
    f2fs: ['f2fs'], hfsplus: ['hfsplus'],
  };
  let have = '';
  try { have = fs.readFileSync('/proc/filesystems', 'utf8'); } catch { /* no procfs */ }
  const loaded = new Set(have.split('\n').map((l) => l.split('\t').pop()!.trim()).filter(Boolean));
  for (const n of names[fsType] ?? [fsType]) {
    if (loaded.has(n) || fsModuleAvailable(n)) return n;
  }
  return null;
}

interface FuseTool { bin: string; pkg: string; args: (dev: string, dir: string, ro: boolean) => string[] }
const FUSE_TOOLS: Record<string, FuseTool> = {
  iso9660: { bin: 'fuseiso', pkg: 'fuseiso', args: (dev, dir) => [dev, dir, ...(servedUser() ? ['-o', 'allow_other'] : [])] }, // always read-only
  ntfs: { bin: 'ntfs-3g', pkg: 'ntfs-3g', args: (dev, dir, ro) => ['-o', [ro ? 'ro,nosuid,nodev' : 'nosuid,nodev', ...fuseForUser()].join(','), dev, dir] },
  vfat: { bin: 'fusefat', pkg: 'fusefat', args: (dev, dir, ro) => ['-o', [ro ? 'ro' : 'rw+', ...(servedUser() ? ['allow_other'] : [])].join(','), dev, dir] },
};

export async function mountVolume(device: string, fsType: string | null, readOnly: boolean, mountPoint: string): Promise<MountRecord> {
  if (!fsType) throw new WorkerError(ErrorCode.UnsupportedImage, `${device} has no file system this system recognises`, { reason: 'no-filesystem' });
  fs.mkdirSync(mountPoint, { recursive: true, mode: 0o755 });
  giveToUser(mountPoint); // an elevated worker's mount point belongs to the user it serves
  const kfs = kernelFs(fsType);
  try {
    if (kfs) {
      const mount = requireTool('mount', 'mount', 'Mounting');
      const opts = [readOnly ? 'ro' : 'rw', 'nosuid', 'nodev'];
      let r = await run(mount, ['-t', kfs, '-o', opts.join(','), device, mountPoint]);
      // a read-only ext3/4 with a dirty journal can only be mounted without replaying it
      if (r.code !== 0 && readOnly && /^ext[34]$/.test(kfs) && /read-only|write-protected|recovery/i.test(r.stderr)) {
        r = await run(mount, ['-t', kfs, '-o', [...opts, 'noload'].join(','), device, mountPoint]);
      }
      if (r.code !== 0) throw mountError(device, fsType, r.stderr);
      return { device, mountPoint, kind: 'kernel' };
    }
    const tool = FUSE_TOOLS[fsType];
    if (!tool) {
      throw new WorkerError(ErrorCode.MissingDependency,
        `The kernel cannot mount ${fsType} (${device}) and there is no FUSE driver for it: load the kernel module for ${fsType}`, { missing: `kernel:${fsType}` });
    }
    const bin = requireTool(tool.bin, tool.pkg, `The kernel has no ${fsType} driver; mounting ${device}`);
    const r = await run(bin, tool.args(device, mountPoint, readOnly));
    if (r.code !== 0 || !mountedAt(mountPoint)) throw mountError(device, fsType, r.stderr || r.stdout);
    return { device, mountPoint, kind: 'fuse', tool: tool.bin };
  } catch (e) {
    try { fs.rmdirSync(mountPoint); } catch { /* not empty or mounted: leave it */ }
    throw e;
  }
}

function mountError(device: string, fsType: string, stderr: string): WorkerError {
  const msg = stderr.trim().split('\n').slice(-3).join(' ');
  if (/permission denied|must be superuser|not permitted/i.test(msg)) {
    return new WorkerError(ErrorCode.PermissionDenied, `Mounting ${device} needs root: ${msg}`, { reason: 'not-root' });
  }
  return new WorkerError(ErrorCode.OsError, `Could not mount the ${fsType} volume ${device}: ${msg}`, { reason: 'mount-failed' });
}

export async function unmountVolume(m: MountRecord): Promise<void> {
  if (mountedAt(m.mountPoint)) {
    if (m.kind === 'fuse') await unmountFuse(m.mountPoint);
    else {
      const umount = requireTool('umount', 'mount', 'Unmounting');
      const r = await run(umount, [m.mountPoint]);
      if (r.code !== 0 && mountedAt(m.mountPoint)) {
        throw new WorkerError(ErrorCode.Busy, `${m.mountPoint} is in use (${r.stderr.trim().replace(/\.$/, "")}). Close the files and terminals open there, then try again.`, { reason: 'mount-busy', path: m.mountPoint });
      }
    }
  }
  // FUSE helpers exit asynchronously after unmount; they hold the device open until then
  try { fs.rmdirSync(m.mountPoint); } catch { /* already gone or not ours to remove */ }
  const parent = path.dirname(m.mountPoint);
  if (parent !== mountRoot()) { try { fs.rmdirSync(parent); } catch { /* other volumes still there */ } }
}

export const haveUmount = () => which('umount') !== null;
