// Our own record of the disks we attached, so that a later worker (or the CLI) knows which loop devices
// are ours, how they were attached and what to clean up. One JSON file per device in a private, verified run dir.
import * as fs from 'fs';
import * as path from 'path';
import { ensurePrivateDir, runDir, trustedFile } from './run-dir';
import type { Engine, Lifetime } from '../../common/protocol';
import type { ChainLink, ImageFormat, ImageSubtype } from '../../common/image';
import type { VolumeRecord } from './volumes';
import type { MountRecord } from './mounts';

export interface DiskRecord {
  device: string;
  image: string;
  /** The file the loop device sits on: the image itself, or an engine's export file. */
  backingFile: string;
  engine: Engine;
  lifetime: Lifetime;
  readOnly: boolean;
  attachedAt: string;
  workerPid: number;
  /** The user an elevated worker attached it for (served-user.ts); absent for a worker's own user. */
  forUid?: number;
  /** Engine-owned resources to release on detach (daemon pid, FUSE mount, scratch dir); `route`: the loop came from udisks. */
  resources?: { pid?: number; fuseMount?: string; dir?: string; daemon?: string; marker?: string; route?: 'udisks' };
  /** "dev:inode" of the backing file at attach time: the record still matches after the file is renamed. */
  backingIno?: string;
  format?: ImageFormat;
  subtype?: ImageSubtype;
  /** The image's chain (self first) as the format layer resolved it at attach time. */
  chain?: ChainLink[];
  /** Partitions / file systems found after attach; partition loop devices we made are listed here too. */
  volumes?: VolumeRecord[];
  /** Mounts we made of this disk's volumes. */
  mounts?: MountRecord[];
}

export { runDir } from './run-dir';

export class Registry {
  private readonly dir: string;
  constructor(dir = path.join(runDir(), 'disks')) {
    this.dir = dir;
    ensurePrivateDir(dir);
  }

  file(device: string): string { return path.join(this.dir, `${path.basename(device)}.json`); }

  put(r: DiskRecord): void {
    const tmp = `${this.file(r.device)}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(r, null, 2), { mode: 0o600 });
    fs.renameSync(tmp, this.file(r.device));
  }

  /** A record is trusted only from our verified folder, as a regular file of ours (no symlink planted in it). */
  get(device: string): DiskRecord | undefined {
    const f = this.file(device);
    if (ensurePrivateDir(this.dir) && !trustedFile(f)) return undefined;
    try { return JSON.parse(fs.readFileSync(f, 'utf8')) as DiskRecord; } catch { return undefined; }
  }

  remove(device: string): void {
    try { fs.unlinkSync(this.file(device)); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; }
  }

  all(): DiskRecord[] {
    let names: string[] = [];
    try { names = fs.readdirSync(this.dir).filter((n) => n.endsWith('.json')); } catch { /* none */ }
    return names.map((n) => this.get(n.slice(0, -5))).filter((r): r is DiskRecord => r !== undefined);
  }
}
