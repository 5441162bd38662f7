// Linux: images become loop devices, directly (raw, ISO, fixed VHD) or on an engine's export file
// (qemu-storage-daemon, vhdimount), as root or through udisks (routes.ts). Volumes get their own loop devices when
// the kernel cannot parse partitions. Taking a disk down is release.ts; what is reported, disks.ts.
import * as path from 'path';
import * as fs from 'fs';
import type { CancellationToken } from 'vscode-jsonrpc';
import { AttachedDisk, AttachParams, DependencyEntry, DetachResult, ErrorCode, VolumeInfo } from '../../common/protocol';
import type { ImageInfo } from '../../common/image';
import type { Backend } from '../backend';
import type { Environment } from '../policy';
import { linuxEnvironment } from './environment';
import { userAllowOther } from './fuse-conf';
import { requireServedOwner, requireUserAccessToImage, servedUser } from './served-user';
import { WorkerError } from '../errors';
import { listLoops, loopInfoOf } from './sysfs';
import { DiskRecord, Registry } from './registry';
import { stepDone } from '../../formats/manage/steps';
import { alive, findTool } from './engines/process';
import { vdiskFuseMissing } from './engines/vdisk-fuse';
import { settings } from '../settings';
import { Reaper } from './reaper';
import { computeDeps } from './deps';
import { directLoopProblem, privilegeProblem } from './privilege';
import { attachingRoute, reap, routeOf } from './routes';
import { release, unmountAll } from './release';
import { attachedDisk, mountedElsewhere, resolveTarget, toDisk, unclaimed, volumeInfos, volumesFor } from './disks';
import { closeHeld, LinuxState, LogFn, ownPartitionLoops, sameBacking } from './state';
import { idle } from '../idle';

export class LinuxBackend implements Backend {
  readonly name = 'linux' as const;
  onDidChange?: Backend['onDidChange'];
  private readonly s: LinuxState;
  private orphansChecked = false;

  constructor(log: LogFn) {
    this.s = { registry: new Registry(), reaper: new Reaper(), held: new Map(), log };
  }

  environment(): Promise<Environment> { return linuxEnvironment(); }

  limitations(): string[] {
    const out: string[] = [];
    const p = privilegeProblem();
    if (p) out.push(p);
    else if (directLoopProblem()) {
      out.push(`Not running as root: attaching goes through udisks2 (mounts under /media/$USER; polkit decides what this user may do): raw, ISO and fixed VHD images${userAllowOther()
        ? ', and the other formats through your own FUSE export (allow_other)' : ' only (the other formats also need user_allow_other in /etc/fuse.conf)'}.`);
    }
    if (!fs.existsSync('/dev/loop-control')) out.push('/dev/loop-control is missing: the kernel has no loop device support.');
    if (!fs.existsSync('/dev/fuse')) out.push('/dev/fuse is missing: VHDX, dynamic VHD, qcow2, VMDK, VDI and differencing images cannot be attached.');
    const { qemuStorageDaemon: qsd } = settings();
    if (!findTool(qsd)) out.push(`${qsd} is not installed or not executable (apt-get install qemu-system-common, or set vdisk.paths.qemuStorageDaemon): qcow2, VMDK and VDI images, and dynamic VHD/VHDX read-write, cannot be attached (read-only VHD/VHDX use vdisk's own FUSE server).`);
    const fuseServer = vdiskFuseMissing();
    if (fuseServer && fs.existsSync('/dev/fuse')) out.push(`${fuseServer}: read-only VHD/VHDX and differencing chains cannot be attached.`);
    return out;
  }

  async attach(params: AttachParams, image: ImageInfo, token: CancellationToken): Promise<AttachedDisk> {
    this.settle();
    await this.reapOrphans();
    await requireUserAccessToImage(image, params.readOnly); // an elevated worker: only what its user may open
    const route = await attachingRoute(image);
    const { record, how, unrecorded, seen } = await route.attach(this.s, params, image, token);
    const served = servedUser();
    if (served) record.forUid = served.uid;
    const disk = attachedDisk(record, seen);
    if (unrecorded) this.defer(record, disk.image ?? record.image);
    else if (served) this.s.registry.put(record);
    // logged once the worker is idle: the stderr line wakes the host too, and the requester waits for the reply
    const line = `attached ${image.path} as ${record.device} ${how}`;
    idle.later(() => this.s.log('info', line));
    return disk;
  }

  /**
   * Records the answer does not need, written once the worker is idle (idle.ts): the registry record of a session
   * disk on a plain loop device. Every other entry point writes what is still pending first (settle), so this worker
   * never looks at the registry without it; a detach of such a disk takes its record from here and writes none.
   */
  private readonly pending = new Map<string, { record: DiskRecord; image: string }>();

  /** `image`: the name the attach reply gave (the kernel's), which the detach reply repeats. */
  private defer(r: DiskRecord, image: string): void {
    if (this.pending.size === 0) idle.later(() => this.settle());
    this.pending.set(r.device, { record: r, image });
  }

  private settle(): void {
    for (const [device, { record }] of [...this.pending]) {
      if (!this.pending.delete(device)) continue;
      stepDone('attach', 1);
      this.record(record);
    }
  }

  /** The deferred record: if it cannot be written the disk goes (closing our fds detaches it) and the tree hears of it. */
  private record(r: DiskRecord): void {
    try { this.s.registry.put(r); } catch (e) {
      this.s.log('error', `${r.device} (${r.image}): its record could not be written (${(e as Error).message}); detaching it`);
      for (const dev of [...ownPartitionLoops(r), r.device]) closeHeld(this.s, dev);
      this.onDidChange?.('detach');
    }
  }

  async detach(target: string, _token: CancellationToken): Promise<DetachResult> {
    const fresh = this.unrecorded(target);
    if (fresh) return this.detachUnrecorded(fresh);
    this.settle();
    await this.reapOrphans();
    const loop = resolveTarget(this.s, target);
    const record = this.s.registry.get(loop.device);
    const ours = record && sameBacking(record, loop) ? record : undefined;
    requireServedOwner(ours, loop.device);
    const volumeDevs = (ours?.volumes ?? []).filter((v) => v.device !== loop.device).map((v) => v.device);
    const ourMounts = new Set((ours?.mounts ?? []).map((m) => m.mountPoint));
    // the mount table is read only when something holds the device exclusively (a mount does) or the disk has
    // volumes of ours on their own loop devices (those are checked one by one)
    const foreign = !volumeDevs.length && !ourMounts.size && unclaimed(loop.device) ? []
      : [loop.device, ...volumeDevs].flatMap((d) => mountedElsewhere(d, ourMounts));
    if (foreign.length) {
      throw new WorkerError(ErrorCode.Busy, `${loop.device} is mounted at ${foreign.join(', ')}: unmount it first (vdisk only unmounts what it mounted itself)`, { reason: 'mounted' });
    }
    const { stopMs, route } = await release(this.s, loop.device, ours, 'detach');
    const daemon = ours?.resources?.pid ? ours.resources.daemon : undefined;
    const line = `detached ${loop.device} (${loop.backingFile})${route === 'udisks' ? ' through udisks' : daemon ? `; ${daemon} stopped in ${stopMs} ms` : ''}`;
    idle.later(() => this.s.log('info', line));
    return { device: loop.device, image: ours && (ours.engine !== 'loop' || ours.backingFile !== ours.image) ? ours.image : loop.backingFile };
  }

  /**
   * The record of a disk this worker attached moments ago and has not written yet, when `target` names its device.
   * While we hold its fd the device stays bound to that file: LOOP_CLR_FD by anyone else only marks it autoclear
   * while another opener remains, and LOOP_CONFIGURE refuses a bound device; so the record still describes it.
   */
  private unrecorded(target: string): { record: DiskRecord; image: string } | undefined {
    const p = this.pending.get(target);
    return p && this.s.held.has(target) ? p : undefined;
  }

  /**
   * Detach of a session disk whose record was never written: nothing to unmount (a mount would have written the
   * records first) and no record to read or remove; what release() does for it, minus the registry.
   */
  private async detachUnrecorded({ record: r, image }: { record: DiskRecord; image: string }): Promise<DetachResult> {
    requireServedOwner(r, r.device);
    const volumeDevs = ownPartitionLoops(r);
    if (volumeDevs.length || !unclaimed(r.device)) {
      const foreign = [r.device, ...volumeDevs].flatMap((d) => mountedElsewhere(d));
      if (foreign.length) {
        throw new WorkerError(ErrorCode.Busy, `${r.device} is mounted at ${foreign.join(', ')}: unmount it first (vdisk only unmounts what it mounted itself)`, { reason: 'mounted' });
      }
    }
    this.pending.delete(r.device);
    try {
      await routeOf(r).deleteLoops(this.s, r.device, r, 'detach');
    } catch (e) {
      this.defer(r, image); // still attached (another process holds it open): recorded as usual
      throw e;
    }
    this.s.reaper.drop(r.device);
    const line = `detached ${r.device} (${image}) before its record was written`;
    idle.later(() => this.s.log('info', line));
    return { device: r.device, image };
  }

  async list(): Promise<AttachedDisk[]> {
    this.settle();
    await this.reapOrphans();
    const loops = listLoops();
    const records = new Map(this.s.registry.all().map((r) => [r.device, r]));
    const partitionLoops = new Set<string>();
    for (const r of records.values()) {
      const l = loops.find((x) => x.device === r.device);
      if (!l || !sameBacking(r, l)) {
        // detached by another tool (e.g. losetup -d); records are written only after their loop device exists,
        // so this is never an attach in progress
        records.delete(r.device);
        this.s.log('info', `${r.device} (${r.image}) was detached outside vdisk; releasing what it left`);
        await release(this.s, r.device, r, 'stale');
        continue;
      }
      for (const v of r.volumes ?? []) if (v.device !== r.device) partitionLoops.add(v.device);
    }
    return loops.filter((l) => !partitionLoops.has(l.device)).map((l) => toDisk(l, records.get(l.device)));
  }

  async deps(target: string): Promise<DependencyEntry[]> {
    this.settle();
    return computeDeps(target, this.s.registry, await this.list());
  }

  async mount(device: string, _token: CancellationToken): Promise<VolumeInfo[]> {
    this.settle();
    const { record, volumes } = volumesFor(this.s, device);
    requireServedOwner(record, device);
    const route = routeOf(record);
    if (await route.rescan(this.s, record, device)) {
      volumes.splice(0, volumes.length, ...(record.volumes ?? []));
      this.s.registry.put(record);
      if (record.lifetime === 'session') reap(this.s, record);
    }
    if (!volumes.length && device === record.device) {
      const p = await route.probe(record, { device, offset: 0 });
      if (p.fsType) volumes.push({ device, index: null, offset: 0, size: loopInfoOf(device)?.sizeBytes ?? 0, ...p, kernelPartition: false });
      record.volumes = volumes;
    }
    for (const v of volumes) {
      const p = await route.probe(record, v);
      if (p.fsType !== v.fsType || p.label !== v.label) { Object.assign(v, p); this.s.registry.put(record); }
    }
    const mounted = new Set((record.mounts ?? []).map((m) => m.device));
    const candidates = volumes.filter((v) => v.fsType && !mounted.has(v.device) && !mountedElsewhere(v.device).length);
    if (!candidates.length && !volumes.some((v) => mounted.has(v.device))) {
      throw noFileSystem(record.image, volumes.length);
    }
    for (const v of candidates) {
      const m = await route.mount(record, v);
      record.mounts = [...(record.mounts ?? []), m];
      this.s.registry.put(record);
      if (record.lifetime === 'session') reap(this.s, record);
      this.s.log('info', `mounted ${v.device} (${v.fsType}) at ${m.mountPoint}${m.tool === 'udisks' ? ' through udisks' : m.kind === 'fuse' ? ` with ${m.tool}` : ''}`);
    }
    return volumeInfos(record);
  }

  async unmount(device: string, _token: CancellationToken): Promise<VolumeInfo[]> {
    this.settle();
    const { record, volumes } = volumesFor(this.s, device);
    requireServedOwner(record, device);
    const devs = new Set(volumes.map((v) => v.device));
    await unmountAll(this.s, record, (m) => devs.has(m.device));
    return volumeInfos(record);
  }

  async dispose(): Promise<void> {
    this.settle();
    // session disks: unmount ours, close the fds (autoclear) or ask udisks, stop their daemons
    const records = this.s.registry.all().filter((r) => r.lifetime === 'session' && r.workerPid === process.pid);
    await Promise.all(records.map((r) => release(this.s, r.device, r, 'shutdown')));
    for (const fd of this.s.held.values()) { try { fs.closeSync(fd); } catch { /* closed */ } }
    this.s.held.clear();
    this.s.reaper.close();
  }

  /** Session disks of workers that died without their reaper (e.g. the whole process tree was killed). */
  private async reapOrphans(): Promise<void> {
    if (this.orphansChecked) return;
    this.orphansChecked = true;
    for (const r of this.s.registry.all()) {
      if (r.lifetime !== 'session' || r.workerPid === process.pid || alive(r.workerPid)) continue;
      this.s.log('info', `cleaning up ${r.device} (${r.image}), a session disk of worker ${r.workerPid} that is gone`);
      await release(this.s, r.device, r, 'orphan');
    }
  }
}

/** Names the image, not the loop device: the user knows the file. */
function noFileSystem(image: string, volumeCount: number): WorkerError {
  const what = volumeCount ? 'none of its volumes has a file system that can be mounted here'
    : 'it has no file system (a blank disk: partition and format it first)';
  return new WorkerError(ErrorCode.UnsupportedImage, `${path.basename(image)} cannot be mounted: ${what}`, { reason: 'no-filesystem', path: image });
}
