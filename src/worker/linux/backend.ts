// Linux: images become loop devices, directly (raw, ISO, fixed VHD) or on an engine's export file
// (qemu-storage-daemon, vhdimount). Volumes get their own loop devices when the kernel cannot parse partitions.
import * as fs from 'fs';
import * as path from 'path';
import type { CancellationToken } from 'vscode-jsonrpc';
import { AttachedDisk, AttachParams, DependencyEntry, DetachResult, ErrorCode, VolumeInfo } from '../../common/protocol';
import type { ImageInfo } from '../../common/image';
import type { Backend } from '../backend';
import { WorkerError } from '../errors';
import { loopDetach, loopStatus } from './loop';
import { listLoops, loopInfo, LoopInfo, mountsOf } from './sysfs';
import { DiskRecord, Registry } from './registry';
import { attachImage, rescanVolumes, undo } from './attach';
import { stopEngine } from './engines/engine';
import { alive, mountedAt, which } from './engines/process';
import { Reaper, ReapEntry } from './reaper';
import { mountRoot, mountVolume, unmountVolume } from './mounts';
import { computeDeps } from './deps';
import { probeFs } from './volumes';
import { attachRoute, directLoopProblem, privilegeProblem } from './privilege';
import { udisksAttach, udisksDetach, udisksMount, udisksUnmount, viaUdisks } from './udisks';

type LogFn = (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;

export class LinuxBackend implements Backend {
  readonly name = 'linux' as const;
  onDidChange?: Backend['onDidChange'];
  private readonly registry = new Registry();
  private readonly reaper = new Reaper();
  /** fds we hold open on session-lifetime loop devices (disk and partitions): closing the last one detaches. */
  private readonly held = new Map<string, number>();
  private orphansChecked = false;

  constructor(private readonly log: LogFn) {}

  limitations(): string[] {
    const out: string[] = [];
    const p = privilegeProblem();
    if (p) out.push(p);
    else if (directLoopProblem()) out.push('Not running as root: attaching goes through udisks2 (raw, ISO and fixed VHD images only; mounts under /media/$USER; polkit decides what this user may do).');
    if (!fs.existsSync('/dev/loop-control')) out.push('/dev/loop-control is missing: the kernel has no loop device support.');
    if (!fs.existsSync('/dev/fuse')) out.push('/dev/fuse is missing: VHDX, dynamic VHD, qcow2, VMDK, VDI and differencing images cannot be attached.');
    if (!which('qemu-storage-daemon')) out.push('qemu-storage-daemon is not installed (apt-get install qemu-system-common): dynamic VHD, VHDX, qcow2, VMDK and VDI images cannot be attached.');
    if (!which('vhdimount')) out.push('vhdimount is not installed (apt-get install libvhdi-utils): differencing VHD/AVHDX images cannot be attached.');
    return out;
  }

  async attach(params: AttachParams, image: ImageInfo, token: CancellationToken): Promise<AttachedDisk> {
    await this.reapOrphans();
    const route = await attachRoute();
    if ('problem' in route) throw new WorkerError(ErrorCode.PermissionDenied, route.problem, { reason: 'not-root' });
    if (route.route === 'udisks') return this.attachViaUdisks(params, image);
    const session = params.lifetime === 'session';
    let reapId: string | undefined;
    const out = await attachImage(params, image, {
      cancelled: () => token.isCancellationRequested,
      engineStarted: (h) => {
        if (!session) return;
        reapId = h.dir;
        this.reaper.put({ id: reapId, mounts: [], loops: [], pids: [{ pid: h.pid, marker: h.marker }], fuseMounts: [h.fuseMount], remove: [h.dir], rmdirs: [] });
      },
    }).catch((e) => { if (reapId) this.reaper.drop(reapId); throw e; });
    const r = out.record;
    try {
      this.registry.put(r);
    } catch (e) {
      await undo(out.fds, !session, out.engine);
      throw e;
    }
    if (session) {
      for (const [dev, fd] of out.fds) this.held.set(dev, fd);
      if (reapId) this.reaper.drop(reapId);
      this.reap(r);
    } else {
      for (const fd of out.fds.values()) fs.closeSync(fd);
    }
    this.log('info', `attached ${image.path} as ${r.device} via ${r.engine} (${params.readOnly ? 'read-only' : 'read-write'}, ${params.lifetime}; `
      + `${Object.entries(out.timings).map(([k, v]) => `${k} ${v} ms`).join(', ')})`);
    return this.toDisk(loopInfo(r.device.slice(5)) ?? fallbackInfo(r), r);
  }

  async detach(target: string, _token: CancellationToken): Promise<DetachResult> {
    await this.reapOrphans();
    const loop = this.resolveTarget(target);
    const record = this.registry.get(loop.device);
    const ours = record && sameBacking(record, loop) ? record : undefined;
    const volumeDevs = (ours?.volumes ?? []).filter((v) => v.device !== loop.device).map((v) => v.device);
    const ourMounts = new Set((ours?.mounts ?? []).map((m) => m.mountPoint));
    const foreign = [loop.device, ...volumeDevs].flatMap((d) => {
      const info = d === loop.device ? loop : loopInfo(d.slice(5)) ?? kernelPartInfo(d);
      return info ? mountsOf(info.devNo).filter((m) => !ourMounts.has(m)) : [];
    });
    if (foreign.length) {
      throw new WorkerError(ErrorCode.Busy, `${loop.device} is mounted at ${foreign.join(', ')}: unmount it first (vdisk only unmounts what it mounted itself)`, { reason: 'mounted' });
    }
    if (viaUdisks(ours) || directLoopProblem()) {
      await udisksDetach(ours, loop.device);
      this.reaper.drop(loop.device);
      if (ours) this.registry.remove(loop.device);
      this.log('info', `detached ${loop.device} (${loop.backingFile}) through udisks`);
      return { device: loop.device, image: loop.backingFile };
    }
    if (ours) await this.unmountAll(ours);
    const toDetach = [...volumeDevs.filter((d) => ours?.volumes?.find((v) => v.device === d && !v.kernelPartition)).reverse(), loop.device];
    for (const dev of toDetach) {
      try { loopDetach(dev); } catch (e) { if (!(e instanceof WorkerError && e.code === ErrorCode.NotAttached)) throw e; }
      const fd = this.held.get(dev);
      if (fd !== undefined) { fs.closeSync(fd); this.held.delete(dev); }
    }
    if (!(await gone(toDetach))) {
      throw new WorkerError(ErrorCode.Busy,
        `${loop.device} is still open in another process; the kernel will detach it when that process closes it`, { reason: 'in-use' });
    }
    let stopMs = 0;
    if (ours?.resources?.pid) stopMs = (await stopEngine({ pid: ours.resources.pid, marker: ours.resources.marker ?? ours.resources.dir ?? '', fuseMount: ours.resources.fuseMount ?? '', dir: ours.resources.dir ?? '' })).ms;
    if (ours) { this.registry.remove(loop.device); this.reaper.drop(ours.device); }
    this.log('info', `detached ${loop.device} (${loop.backingFile})${ours?.resources ? `; ${ours.resources.daemon} stopped in ${stopMs} ms` : ''}`);
    return { device: loop.device, image: ours && ours.engine !== 'loop' ? ours.image : loop.backingFile };
  }

  async list(): Promise<AttachedDisk[]> {
    await this.reapOrphans();
    const loops = listLoops();
    const records = new Map(this.registry.all().map((r) => [r.device, r]));
    const partitionLoops = new Set<string>();
    for (const r of records.values()) {
      const l = loops.find((x) => x.device === r.device);
      if (!l || !sameBacking(r, l)) { records.delete(r.device); await this.forgetStale(r); continue; }
      for (const v of r.volumes ?? []) if (v.device !== r.device) partitionLoops.add(v.device);
    }
    return loops.filter((l) => !partitionLoops.has(l.device)).map((l) => this.toDisk(l, records.get(l.device)));
  }

  async deps(target: string): Promise<DependencyEntry[]> {
    return computeDeps(target, this.registry, await this.list());
  }

  async mount(device: string, _token: CancellationToken): Promise<VolumeInfo[]> {
    const { record, volumes } = this.volumesFor(device);
    if (viaUdisks(record)) return this.mountViaUdisks(device, record, volumes);
    // partitions and file systems may have been made since the attach (through the device): look again
    if (device === record.device && !(record.mounts ?? []).length
      && await rescanVolumes(record, loopInfo(device.slice(5))?.sizeBytes ?? 0, this.held)) {
      volumes.splice(0, volumes.length, ...(record.volumes ?? []));
      this.registry.put(record);
      if (record.lifetime === 'session') this.reap(record);
    }
    if (!volumes.length && device === record.device) {
      const p = await probeFs(device, true);
      if (p.fsType) volumes.push({ device, index: null, offset: 0, size: loopInfo(device.slice(5))?.sizeBytes ?? 0, ...p, kernelPartition: false });
      record.volumes = volumes;
    }
    for (const v of volumes) {
      const p = await probeFs(v.device, true);
      if (p.fsType !== v.fsType || p.label !== v.label) { Object.assign(v, p); this.registry.put(record); }
    }
    const mounted = new Set((record.mounts ?? []).map((m) => m.device));
    const candidates = volumes.filter((v) => v.fsType && !mounted.has(v.device) && !this.foreignMount(v.device));
    if (!candidates.length && !volumes.some((v) => mounted.has(v.device))) {
      throw noFileSystem(record.image, volumes.length);
    }
    for (const v of candidates) {
      const dir = path.join(mountRoot(), path.basename(record.device), v.index === null ? 'disk' : `p${v.index}`);
      const m = await mountVolume(v.device, v.fsType, record.readOnly, dir);
      record.mounts = [...(record.mounts ?? []), m];
      this.registry.put(record);
      if (record.lifetime === 'session') this.reap(record);
      this.log('info', `mounted ${v.device} (${v.fsType}) at ${dir}${m.kind === 'fuse' ? ` with ${m.tool}` : ''}`);
    }
    return this.volumeInfos(record);
  }

  async unmount(device: string, _token: CancellationToken): Promise<VolumeInfo[]> {
    const { record, volumes } = this.volumesFor(device);
    const devs = new Set(volumes.map((v) => v.device));
    await this.unmountAll(record, (m) => devs.has(m.device));
    return this.volumeInfos(record);
  }

  async dispose(): Promise<void> {
    // session disks: unmount ours, close the fds (autoclear), stop their daemons
    const records = this.registry.all().filter((r) => r.lifetime === 'session' && r.workerPid === process.pid);
    await Promise.all(records.map(async (r) => {
      try { await this.unmountAll(r); } catch (e) { this.log('warn', `dispose: ${(e as Error).message}`); }
    }));
    for (const r of records.filter(viaUdisks)) {
      try { await udisksDetach(r, r.device); this.reaper.drop(r.device); this.registry.remove(r.device); } catch (e) { this.log('warn', `dispose: ${(e as Error).message}`); }
    }
    for (const fd of [...this.held.values()].reverse()) { try { fs.closeSync(fd); } catch { /* closed */ } }
    const devices = [...this.held.keys()];
    this.held.clear();
    await gone(devices, 2000);
    await Promise.all(records.map(async (r) => {
      if (r.resources?.pid) await stopEngine({ pid: r.resources.pid, marker: r.resources.marker ?? '', fuseMount: r.resources.fuseMount ?? '', dir: r.resources.dir ?? '' }).catch(() => undefined);
      this.registry.remove(r.device);
      this.reaper.drop(r.device);
    }));
    this.reaper.close();
  }

  // ---- helpers -------------------------------------------------------------------------------

  private async attachViaUdisks(params: AttachParams, image: ImageInfo): Promise<AttachedDisk> {
    const t = Date.now();
    const r = await udisksAttach(image, params.readOnly, params.lifetime);
    try { this.registry.put(r); } catch (e) { await udisksDetach(r, r.device).catch(() => undefined); throw e; }
    if (r.lifetime === 'session') this.reap(r); // no fd can hold a udisks loop for us: the reaper deletes it if we die
    this.log('info', `attached ${image.path} as ${r.device} through udisks (${params.readOnly ? 'read-only' : 'read-write'}, ${params.lifetime}; ${Date.now() - t} ms)`);
    return this.toDisk(loopInfo(r.device.slice(5)) ?? fallbackInfo(r), r);
  }

  /** udisks mounts under /media/$USER; the file systems are probed from the image (the device is root's). */
  private async mountViaUdisks(device: string, record: DiskRecord, volumes: NonNullable<DiskRecord['volumes']>): Promise<VolumeInfo[]> {
    const base = loopInfo(record.device.slice(5))?.offset ?? 0;
    if (!volumes.length && device === record.device) {
      const p = await probeFs(device, false, { file: record.backingFile, offset: base });
      if (p.fsType) volumes.push({ device, index: null, offset: 0, size: loopInfo(device.slice(5))?.sizeBytes ?? 0, ...p, kernelPartition: false });
      record.volumes = volumes;
    }
    for (const v of volumes) Object.assign(v, await probeFs(v.device, false, { file: record.backingFile, offset: base + v.offset }));
    const mounted = new Set((record.mounts ?? []).map((m) => m.device));
    const candidates = volumes.filter((v) => v.fsType && !mounted.has(v.device) && !this.foreignMount(v.device));
    if (!candidates.length && !volumes.some((v) => mounted.has(v.device))) {
      throw noFileSystem(record.image, volumes.length);
    }
    for (const v of candidates) {
      const m = await udisksMount(v.device, record.readOnly);
      record.mounts = [...(record.mounts ?? []), m];
      this.registry.put(record);
      if (record.lifetime === 'session') this.reap(record);
      this.log('info', `mounted ${v.device} (${v.fsType}) at ${m.mountPoint} through udisks`);
    }
    return this.volumeInfos(record);
  }

  /** Tells the reaper what to undo for a session disk; plain loop disks without mounts need nothing (autoclear). */
  private reap(r: DiskRecord): void {
    const e = this.reapEntry(r);
    if (e.pids.length || e.mounts.length || e.udisks) this.reaper.put(e); else this.reaper.drop(e.id);
  }

  private reapEntry(r: DiskRecord): ReapEntry {
    const res = r.resources;
    if (viaUdisks(r)) {
      return { id: r.device, mounts: [], loops: [], pids: [], fuseMounts: [], remove: [this.registry.file(r.device)], rmdirs: [],
        udisks: { unmount: (r.mounts ?? []).map((m) => m.device), loops: [r.device] } };
    }
    return {
      id: r.device,
      mounts: (r.mounts ?? []).map((m) => m.mountPoint),
      loops: [...(r.volumes ?? []).filter((v) => !v.kernelPartition && v.device !== r.device).map((v) => v.device), r.device],
      pids: res?.pid ? [{ pid: res.pid, marker: res.marker ?? res.dir ?? '' }] : [],
      fuseMounts: res?.fuseMount ? [res.fuseMount] : [],
      remove: [...(res?.dir ? [res.dir] : []), this.registry.file(r.device)],
      rmdirs: [...(r.mounts ?? []).map((m) => m.mountPoint), ...(r.mounts?.length ? [path.dirname(r.mounts[0].mountPoint)] : [])],
    };
  }

  private async unmountAll(r: DiskRecord, which: (m: { device: string }) => boolean = () => true): Promise<void> {
    for (const m of [...(r.mounts ?? [])].filter(which)) {
      if (m.tool === 'udisks') await udisksUnmount(m); else await unmountVolume(m);
      this.log('info', `unmounted ${m.device} from ${m.mountPoint}`);
      r.mounts = (r.mounts ?? []).filter((x) => x.mountPoint !== m.mountPoint);
      this.registry.put(r);
    }
    if (r.lifetime === 'session' && (this.held.has(r.device) || viaUdisks(r))) this.reap(r);
    // FUSE helpers (ntfs-3g, fuseiso) exit a moment after their unmount and hold the device until then
  }

  private foreignMount(device: string): boolean {
    const info = loopInfo(device.slice(5)) ?? kernelPartInfo(device);
    return !!info && mountsOf(info.devNo).length > 0;
  }

  private volumesFor(device: string): { record: DiskRecord; volumes: NonNullable<DiskRecord['volumes']> } {
    for (const r of this.registry.all()) {
      const l = loopInfo(r.device.slice(5));
      if (!l || !sameBacking(r, l)) continue;
      if (r.device === device) return { record: r, volumes: r.volumes ?? [] };
      const v = (r.volumes ?? []).find((x) => x.device === device);
      if (v) return { record: r, volumes: [v] };
    }
    throw new WorkerError(ErrorCode.NotAttached, `${device} is not a disk or volume attached by vdisk`);
  }

  private volumeInfos(r: DiskRecord): VolumeInfo[] {
    return (r.volumes ?? []).map((v) => {
      const m = (r.mounts ?? []).find((x) => x.device === v.device && mountedAt(x.mountPoint));
      const info = loopInfo(v.device.slice(5)) ?? kernelPartInfo(v.device);
      const other = m ? null : info ? mountsOf(info.devNo)[0] ?? null : null;
      return { device: v.device, offset: v.offset, size: v.size, fsType: v.fsType, label: v.label, mountPoint: m?.mountPoint ?? other, readOnly: r.readOnly };
    });
  }

  /**
   * A record whose loop device is gone or now holds something else (detached by another tool, e.g. losetup -d):
   * stop its daemon and drop it. Records are written only after their loop device exists, so this is never an
   * attach in progress.
   */
  private async forgetStale(r: DiskRecord): Promise<void> {
    this.log('info', `${r.device} (${r.image}) was detached outside vdisk; releasing what it left`);
    for (const m of r.mounts ?? []) await unmountVolume(m).catch(() => undefined);
    if (r.resources?.pid) await stopEngine({ pid: r.resources.pid, marker: r.resources.marker ?? '', fuseMount: r.resources.fuseMount ?? '', dir: r.resources.dir ?? '' }).catch(() => undefined);
    this.registry.remove(r.device);
    this.reaper.drop(r.device);
  }

  /** Session disks of workers that died without their reaper (e.g. the whole process tree was killed). */
  private async reapOrphans(): Promise<void> {
    if (this.orphansChecked) return;
    this.orphansChecked = true;
    for (const r of this.registry.all()) {
      if (r.lifetime !== 'session' || r.workerPid === process.pid || alive(r.workerPid)) continue;
      this.log('info', `cleaning up ${r.device} (${r.image}), a session disk of worker ${r.workerPid} that is gone`);
      const l = loopInfo(r.device.slice(5));
      if (viaUdisks(r)) {
        if (l && sameBacking(r, l)) await udisksDetach(r, r.device).catch((e) => this.log('warn', (e as Error).message));
        this.registry.remove(r.device);
        continue;
      }
      for (const m of r.mounts ?? []) await unmountVolume(m).catch(() => undefined);
      if (l && sameBacking(r, l)) {
        for (const v of [...(r.volumes ?? [])].reverse()) if (!v.kernelPartition && v.device !== r.device) { try { loopDetach(v.device); } catch { /* gone */ } }
        try { loopDetach(r.device); } catch { /* gone */ }
        await gone([r.device], 2000);
      }
      if (r.resources?.pid) await stopEngine({ pid: r.resources.pid, marker: r.resources.marker ?? '', fuseMount: r.resources.fuseMount ?? '', dir: r.resources.dir ?? '' }).catch(() => undefined);
      this.registry.remove(r.device);
    }
  }

  /** A device path, or an image path attached exactly once. */
  private resolveTarget(target: string): LoopInfo {
    if (/^\/dev\/loop\d+$/.test(target)) {
      const info = loopInfo(target.slice(5));
      if (!info) throw new WorkerError(ErrorCode.NotAttached, `${target} is not attached to any image`);
      return info;
    }
    let real = target;
    try { real = fs.realpathSync(target); } catch { /* a deleted image can still be attached */ }
    const records = this.registry.all().filter((r) => r.image === real);
    const partitions = new Set(this.registry.all().flatMap((r) => (r.volumes ?? []).filter((v) => v.device !== r.device).map((v) => v.device)));
    const loops = listLoops().filter((l) => !partitions.has(l.device)
      && (l.backingFile === real || records.some((r) => r.device === l.device && sameBacking(r, l))));
    if (loops.length === 0) throw new WorkerError(ErrorCode.NotAttached, `${target} is not attached`);
    if (loops.length > 1) {
      throw new WorkerError(ErrorCode.InvalidParams,
        `${target} is attached ${loops.length} times (${loops.map((l) => l.device).join(', ')}): name the device to detach`);
    }
    return loops[0];
  }

  private toDisk(l: LoopInfo, r: DiskRecord | undefined): AttachedDisk {
    const ours = r !== undefined && sameBacking(r, l);
    const disk: AttachedDisk = {
      device: l.device,
      // a loop disk follows its file when it is renamed (the kernel tracks the file, not the name)
      image: ours ? (r.engine === 'loop' ? l.backingFile : r.image) : l.backingFile,
      readOnly: l.readOnly,
      engine: ours ? r.engine : 'loop',
      // udisks disks cannot be held by an unprivileged fd: their lifetime is ours to keep (see udisks.ts)
      lifetime: ours && viaUdisks(r) ? r.lifetime : l.autoclear ? 'session' : 'permanent',
      ours,
      sizeBytes: l.sizeBytes,
    };
    if (ours) {
      disk.volumes = this.volumeInfos(r);
      if (r.chain) disk.chain = r.chain;
    } else {
      const mp = mountsOf(l.devNo);
      disk.volumes = mp.map((m) => ({ device: l.device, offset: l.offset, size: l.sizeBytes, fsType: null, label: null, mountPoint: m, readOnly: l.readOnly }));
    }
    return disk;
  }
}

/** The record describes this loop device: same backing file name, or the same file (dev+inode) renamed since. */
function sameBacking(r: DiskRecord, l: LoopInfo): boolean {
  if (r.backingFile === l.backingFile) return true;
  if (!r.backingIno) return false;
  const st = loopStatus(l.device);
  return !!st && `${st.device}:${st.inode}` === r.backingIno;
}

function kernelPartInfo(device: string): { devNo: string } | undefined {
  try { return { devNo: fs.readFileSync(`/sys/class/block/${path.basename(device)}/dev`, 'utf8').trim() }; } catch { return undefined; }
}

function fallbackInfo(r: DiskRecord): LoopInfo {
  return { device: r.device, backingFile: r.backingFile, deleted: false, offset: 0, sizeLimit: 0, autoclear: r.lifetime === 'session', partscan: false, readOnly: r.readOnly, sizeBytes: 0, devNo: '' };
}

/** The kernel unbinds synchronously when we were the last opener; FUSE helpers and udev-style openers take a moment. */
async function gone(devices: string[], ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    // one stat per device: whether the kernel still binds it (the full sysfs reading is not needed here)
    if (devices.every((d) => !fs.existsSync(`/sys/block/${d.slice(5)}/loop/backing_file`))) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Names the image, not the loop device: the user knows the file. */
function noFileSystem(image: string, volumeCount: number): WorkerError {
  const what = volumeCount ? 'none of its volumes has a file system that can be mounted here'
    : 'it has no file system (a blank disk: partition and format it first)';
  return new WorkerError(ErrorCode.UnsupportedImage, `${path.basename(image)} cannot be mounted: ${what}`, { reason: 'no-filesystem', path: image });
}
