// The Windows backend: VirtDisk through koffi. Session lifetime = this worker holds the VirtDisk handle for as
// long as the disk is attached (closing it, or the worker dying, detaches); permanent = PERMANENT_LIFETIME, the
// handle is closed at once and the disk is found again through GetAllAttachedVirtualDiskPhysicalPaths.
import * as fs from 'fs';
import * as path from 'path';
import type { CancellationToken } from 'vscode-jsonrpc';
import type { AttachedDisk, AttachParams, DependencyEntry, DetachResult, VolumeInfo } from '../../common/protocol';
import { ErrorCode } from '../../common/protocol';
import type { ImageInfo } from '../../common/image';
import type { Backend } from '../backend';
import type { Environment } from '../policy';
import { windowsEnvironment } from './environment';
import { WorkerError } from '../errors';
import type { Handle } from './api';
import * as C from './constants';
import { PermanentRecord } from './permanent-record';
import { Log, VirtDisk, kindFromPath } from './virtdisk';
import { assignDriveLetters, removeMountPoints, volumesOf } from './volumes';
import { DepsHandle, depsHandleFor } from './deps-target';
import { kindForImage } from './attachable';
import { diskInformation } from './disk-info';
import { normaliseWindowsPath, sameImagePath } from '../../common/image-paths';
import { CreateDiskParams, ImageManagement, WindowsImageManager } from './manage';

interface Held { handle: Handle; image: string; readOnly: boolean }

// VirtDisk may report `\\?\C:\...`; the host sends Uri.fsPath (`c:\...`): compare as Windows does
const samePath = (a: string, b: string) => sameImagePath(path.win32.resolve(normaliseWindowsPath(a)), path.win32.resolve(normaliseWindowsPath(b)), 'win32');

/** `virtDisk`: how to load the bindings; unit tests pass a VirtDisk over a fake api (test/unit/windows/fake-api.ts). */
export function createWindowsBackend(log: Log, virtDisk: () => VirtDisk = () => new VirtDisk(log)): Backend {
  return new WindowsBackend(log, virtDisk);
}

export class WindowsBackend implements Backend, ImageManagement {
  readonly name = 'windows' as const;
  onDidChange?: Backend['onDidChange'];
  private vdisk: VirtDisk | undefined;
  private readonly held = new Map<string, Held>();
  private readonly record = new PermanentRecord();

  private readonly manage = new WindowsImageManager(() => this.vd());
  constructor(private readonly log: Log, private readonly load: () => VirtDisk) {}

  // Image management (manage.ts; docs/windows.md "Managing images"): for the cross-platform commands to call.
  createDisk(p: CreateDiskParams): Promise<void> { return this.manage.createDisk(p); }
  createDifferencing(child: string, parent: string): Promise<void> { return this.manage.createDifferencing(child, parent); }
  setParent(child: string, parent: string, ignoreIdMismatch: boolean): Promise<void> { return this.manage.setParent(child, parent, ignoreIdMismatch); }
  setPhysicalSectorSize(image: string, bytes: 512 | 4096): Promise<void> { return this.manage.setPhysicalSectorSize(image, bytes); }
  setIdentifier(image: string, id: string): Promise<void> { return this.manage.setIdentifier(image, id); }
  merge(child: string, depth: number): Promise<void> { return this.manage.merge(child, depth); }
  compact(image: string): Promise<void> { return this.manage.compact(image); }
  resize(image: string, sizeBytes: number): Promise<void> { return this.manage.resize(image, sizeBytes); }

  private vd(): VirtDisk {
    if (!this.vdisk) {
      try {
        this.vdisk = this.load();
      } catch (e) {
        throw new WorkerError(ErrorCode.MissingDependency, `VirtDisk.dll could not be loaded: ${(e as Error).message}. Virtual disks need Windows 7 / Server 2008 R2 or later.`,
          { missing: 'VirtDisk.dll', reason: 'virtdisk-missing' });
      }
    }
    return this.vdisk;
  }

  limitations(): string[] {
    try {
      const vd = this.vd();
      return vd.api.IsUserAnAdmin() ? [] : ['Not elevated: attaching and detaching need administrator rights (use "Retry as Administrator").'];
    } catch (e) {
      return [(e as Error).message];
    }
  }

  async environment(): Promise<Environment> { return windowsEnvironment(() => this.vd()); }

  async attach(params: AttachParams, image: ImageInfo, token: CancellationToken): Promise<AttachedDisk> {
    const kind = kindForImage(image); // the format rules were checked by the server (policy.ts)
    if (token.isCancellationRequested) throw new WorkerError(ErrorCode.Cancelled, 'Attach cancelled');
    const vd = this.vd();
    const permanent = params.lifetime === 'permanent';
    const h = vd.open(image.path, kind, params.readOnly ? 'attach-ro' : 'attach-rw');
    let device: string;
    try {
      vd.attach(h, image.path, { readOnly: params.readOnly, permanent });
      try {
        device = vd.physicalPath(h, image.path);
      } catch (e) {
        if (permanent) vd.api.DetachVirtualDisk(h, 0, 0); // do not leave a permanent disk nobody asked for
        throw e;
      }
    } catch (e) {
      vd.close(h);
      throw e;
    }
    if (permanent) {
      vd.close(h);
      this.record.add(image.path);
    } else {
      this.held.set(device, { handle: h, image: image.path, readOnly: params.readOnly });
    }
    this.log('info', `attached ${image.path} as ${device} (${params.readOnly ? 'read-only' : 'read-write'}, ${params.lifetime})`);
    const volumes = await this.waitForVolumes(device, token);
    return { device, image: image.path, readOnly: params.readOnly, engine: 'virtdisk', lifetime: params.lifetime, ours: true,
      sizeBytes: image.virtualSize, volumes };
  }

  /** Windows mounts the new disk's volumes asynchronously (PnP, then the mount manager): wait up to 3 s for them. */
  private async waitForVolumes(device: string, token: CancellationToken): Promise<VolumeInfo[]> {
    let volumes: VolumeInfo[] = [];
    for (let waited = 0; waited <= 3000 && !token.isCancellationRequested; waited += 250) {
      volumes = volumesOf(this.vd(), device);
      if (volumes.length && volumes.every((v) => v.mountPoint)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    return volumes;
  }

  async detach(target: string, token: CancellationToken): Promise<DetachResult> {
    if (token.isCancellationRequested) throw new WorkerError(ErrorCode.Cancelled, 'Detach cancelled');
    const vd = this.vd();
    for (const [device, held] of this.held) {
      if (device.toLowerCase() === target.toLowerCase() || samePath(held.image, target)) {
        // on failure keep the handle: closing it would detach anyway, behind the error the user is shown
        vd.detach(held.handle, held.image);
        vd.close(held.handle);
        this.held.delete(device);
        this.log('info', `detached ${held.image} (${device})`);
        return { device, image: held.image };
      }
    }
    const disk = (await this.list()).find((d) => d.device.toLowerCase() === target.toLowerCase() || (d.image && samePath(d.image, target)));
    if (!disk || !disk.image) throw new WorkerError(ErrorCode.NotAttached, `${target} is not an attached virtual disk`, { path: target });
    const h = vd.open(disk.image, kindFromPath(disk.image), 'detach');
    try { vd.detach(h, disk.image); } finally { vd.close(h); }
    this.record.remove(disk.image);
    this.log('info', `detached ${disk.image} (${disk.device})`);
    return { device: disk.device, image: disk.image };
  }

  async list(): Promise<AttachedDisk[]> {
    const vd = this.vd();
    const out: AttachedDisk[] = [];
    for (const image of vd.allAttachedPaths()) {
      const mine = [...this.held].find(([, v]) => samePath(v.image, image));
      try {
        const { device, sizeBytes } = this.describe(image, mine?.[0]);
        const flags = this.diskFlags(device);
        out.push({
          device, image, engine: 'virtdisk',
          readOnly: mine ? mine[1].readOnly : flags.includes('read-only'),
          lifetime: mine ? 'session' : 'permanent',
          ours: !!mine || this.record.has(image),
          ...(sizeBytes !== null ? { sizeBytes } : {}),
          volumes: volumesOf(vd, device),
        });
      } catch (e) {
        this.log('warn', `attached disk ${image} could not be described: ${(e as Error).message}`);
      }
    }
    return out;
  }

  /**
   * For the change watcher: GetAllAttachedVirtualDiskPhysicalPaths (one call, every tool's disks) and the drive
   * letters in use (GetLogicalDrives: volumes of a new disk arrive after it, and unmount removes letters).
   */
  async changeSignature(): Promise<string> {
    const vd = this.vd();
    const paths = vd.allAttachedPaths().map((p) => p.toLowerCase()).sort();
    return `${paths.join('\n')}\n#${vd.api.GetLogicalDrives() >>> 0}`;
  }

  /** Device (GetVirtualDiskPhysicalPath) and virtual size (GetVirtualDiskInformation SIZE) of an attached image. */
  private describe(image: string, knownDevice?: string): { device: string; sizeBytes: number | null } {
    const vd = this.vd();
    const h = vd.open(image, kindFromPath(image), 'info');
    try {
      return { device: knownDevice ?? vd.physicalPath(h, image), sizeBytes: diskInformation(vd, h, image).virtualSize };
    } finally { vd.close(h); }
  }

  private deviceOf(image: string): string {
    const vd = this.vd();
    const h = vd.open(image, kindFromPath(image), 'info');
    try { return vd.physicalPath(h, image); } finally { vd.close(h); }
  }

  /** DEPENDENT_DISK_FLAGs of the disk itself (its level-1 entry), via a disk handle. */
  private diskFlags(device: string): string[] {
    try {
      const entries = this.depsOfHandle({ path: device, kind: 'disk', flags: C.GET_STORAGE_DEPENDENCY_FLAG.DISK_HANDLE });
      return (entries.find((e) => e.ancestorLevel === 1) ?? entries[0])?.flags ?? [];
    } catch (e) {
      this.log('debug', `dependency flags of ${device}: ${(e as Error).message}`);
      return [];
    }
  }

  private depsOfHandle(t: DepsHandle): DependencyEntry[] {
    const vd = this.vd();
    const h = vd.openDevice(t.path, t.kind);
    try {
      return vd.dependencies(h, t.flags, t.path);
    } finally { vd.close(h); }
  }

  /**
   * `target`: a disk (\\.\PhysicalDriveN, \\.\CdRomN), an attached image file, a volume GUID path, a drive letter or
   * any path on a volume (see depsHandleFor); a volume on a physical disk has no dependencies: [].
   */
  async deps(target: string): Promise<DependencyEntry[]> {
    const t = depsHandleFor(target, (image) => (kindFromPath(image) && fs.existsSync(image) ? this.deviceOf(image) : null));
    try {
      return this.depsOfHandle(t);
    } catch (e) {
      if (e instanceof WorkerError && e.data.win32 === C.ERROR.VIRTDISK_NOT_VIRTUAL_DISK) return [];
      if (e instanceof WorkerError && e.data.win32 === C.ERROR.INVALID_PARAMETER && (t.flags & C.GET_STORAGE_DEPENDENCY_FLAG.HOST_VOLUMES)) {
        this.log('debug', `GetStorageDependencyInformation with HOST_VOLUMES rejected for ${t.path}; asking for direct dependencies only`);
        return this.depsOfHandle({ ...t, flags: t.flags & ~C.GET_STORAGE_DEPENDENCY_FLAG.HOST_VOLUMES });
      }
      throw e;
    }
  }

  /** Drive letters for the disk's volumes that have none (volumes.ts); returns the volumes. */
  async mount(device: string, _token: CancellationToken): Promise<VolumeInfo[]> { return assignDriveLetters(this.vd(), device); }

  /** Removes the drive letters and folder mount points of the disk's volumes (like `mountvol X: /D`). */
  async unmount(device: string, _token: CancellationToken): Promise<VolumeInfo[]> { return removeMountPoints(this.vd(), device); }

  async elevate(pipe: string, secretFile: string): Promise<{ pid: number }> {
    // loaded only when asked: it binds shell32 for the UAC prompt
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { launchElevatedWorker } = require('./elevate') as typeof import('./elevate');
    this.log('info', 'starting an elevated worker (UAC prompt)');
    // this very bundle (dist/worker.js in the extension's folder), run by this process's own executable
    return launchElevatedWorker({ workerPath: path.resolve(process.argv[1]), pipe, secretFile });
  }

  async dispose(): Promise<void> {
    for (const [device, held] of this.held) {
      this.log('info', `closing the handle of ${held.image} (${device}): its session attachment ends`);
      try { this.vd().close(held.handle); } catch (e) { this.log('warn', `closing ${device}: ${(e as Error).message}`); }
    }
    this.held.clear();
  }
}
