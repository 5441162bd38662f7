// The two ways this worker reaches loop devices and mounts: directly (root: ioctls, mount(8), engines) or through
// udisks2 (an unprivileged user: udisksd does it for us, on the image or on the user's own engine's FUSE export). Which one a disk went through is
// decided here, once; the backend, release and listing ask the disk's route instead of checking again.
import * as fs from 'fs';
import * as path from 'path';
import type { CancellationToken } from 'vscode-jsonrpc';
import { AttachParams, ErrorCode } from '../../common/protocol';
import type { ImageInfo } from '../../common/image';
import { WorkerError } from '../errors';
import { attachImage, KernelView, rescanVolumes, undo } from './attach';
import { loopDetach } from './loop';
import { mountRoot, MountRecord, mountVolume, unmountVolume } from './mounts';
import { mountedAt } from './engines/process';
import { EngineHandle, stopEngine } from './engines/engine';
import { attachRoute, directLoopProblem } from './privilege';
import type { ReapEntry } from './reaper';
import type { DiskRecord } from './registry';
import { loopInfoOf, loopOffset, waitUnbound } from './sysfs';
import { closeHeld, LinuxState, ownPartitionLoops } from './state';
import { needsRoot } from '../policy';
import { udisksAttach, udisksDetach, udisksLoopDelete, udisksMount, udisksUnmount, viaUdisks } from './udisks';
import { FsProbe, probeFs, VolumeRecord } from './volumes';

/** Why a disk's loop devices are being deleted (see release.ts). */
export type ReleaseHow = 'detach' | 'shutdown' | 'stale' | 'orphan';

export interface DiskRoute {
  readonly name: 'direct' | 'udisks';
  /**
   * False when the loop device's autoclear flag does not tell the disk's lifetime: udisks loops cannot be held by an
   * unprivileged fd, so the record keeps it (the worker deletes them on shutdown, the next worker if this one died).
   */
  readonly kernelLifetime: boolean;
  /**
   * Attaches and records the disk (registry; reaper for a session disk). `how` says how, for the log. `unrecorded`:
   * the registry record is not written yet; the caller writes it right after the reply (see LinuxBackend.attach).
   */
  attach(s: LinuxState, params: AttachParams, image: ImageInfo, token: CancellationToken): Promise<{ record: DiskRecord; how: string; unrecorded?: boolean; seen?: KernelView }>;
  /** Deletes the disk's loop devices, partitions first; `r` is undefined for a disk that is not ours. */
  deleteLoops(s: LinuxState, device: string, r: DiskRecord | undefined, how: ReleaseHow): Promise<void>;
  /** Looks at the partition table again before a mount; true when the record's volumes changed. */
  rescan(s: LinuxState, r: DiskRecord, device: string): Promise<boolean>;
  /** The file system on one of the disk's volumes (`offset` from the disk's start). */
  probe(r: DiskRecord, v: { device: string; offset: number }): Promise<FsProbe>;
  mount(r: DiskRecord, v: VolumeRecord): Promise<MountRecord>;
  unmount(m: MountRecord): Promise<void>;
  /** What the reaper undoes for a session disk if the worker dies. */
  reapEntry(s: LinuxState, r: DiskRecord): ReapEntry;
}

const direct: DiskRoute = {
  name: 'direct',
  kernelLifetime: true,

  async attach(s, params, image, token) {
    const session = params.lifetime === 'session';
    let reapId: string | undefined;
    const out = await attachImage(params, image, {
      cancelled: () => token.isCancellationRequested,
      engineStarted: (h) => {
        if (!session) return;
        reapId = h.dir;
        s.reaper.put({ id: reapId, mounts: [], loops: [], pids: [{ pid: h.pid, marker: h.marker }], fuseMounts: [h.fuseMount], remove: [h.dir], rmdirs: [] });
      },
    }).catch((e) => { if (reapId) s.reaper.drop(reapId); throw e; });
    const r = out.record;
    // a session disk on a plain loop device needs its record only for this worker's later requests (they write it
    // first) and for other processes' listings: if the worker dies before writing it, the kernel's autoclear takes
    // the device away with the fds we hold, so nothing is orphaned. Everything else is recorded before the reply.
    const unrecorded = session && !out.engine;
    if (!unrecorded) {
      try {
        s.registry.put(r);
      } catch (e) {
        await undo(out.fds, !session, out.engine);
        throw e;
      }
    }
    if (session) {
      for (const [dev, fd] of out.fds) s.held.set(dev, fd);
      if (reapId) s.reaper.drop(reapId);
      reap(s, r);
    } else {
      for (const fd of out.fds.values()) fs.closeSync(fd);
    }
    return { record: r, unrecorded, seen: out.seen, how: `via ${r.engine} (${params.readOnly ? 'read-only' : 'read-write'}, ${params.lifetime}; `
      + `${Object.entries(out.timings).map(([k, v]) => `${k} ${v} ms`).join(', ')})` };
  },

  async deleteLoops(s, device, r, how) {
    if (how === 'stale') return;
    const devices = [...ownPartitionLoops(r), device];
    for (const dev of devices) {
      // at shutdown our session disks go when we close the fds we hold (autoclear); otherwise ask the kernel, through
      // a second fd, never the held one: as the only opener, LOOP_CLR_FD puts the device in rundown at once and the
      // kernel then refuses the flush of pages written through it at our last close (read-write data lost: measured)
      if (how !== 'shutdown') {
        try { loopDetach(dev); } catch (e) {
          if (how === 'detach' && !(e instanceof WorkerError && e.code === ErrorCode.NotAttached)) throw e;
        }
      }
      closeHeld(s, dev);
    }
    if (!(await waitUnbound(devices, how === 'detach' ? 3000 : 2000)) && how === 'detach') {
      throw new WorkerError(ErrorCode.Busy,
        `${device} is still open in another process; the kernel will detach it when that process closes it`, { reason: 'in-use' });
    }
  },

  async rescan(s, r, device) {
    // partitions and file systems may have been made since the attach (through the device): look again
    if (device !== r.device || (r.mounts ?? []).length) return false;
    return rescanVolumes(r, loopInfoOf(device)?.sizeBytes ?? 0, s.held);
  },

  probe: (_r, v) => probeFs(v.device, true),

  mount: (r, v) => mountVolume(v.device, v.fsType, r.readOnly,
    path.join(mountRoot(), path.basename(r.device), v.index === null ? 'disk' : `p${v.index}`)),

  unmount: (m) => unmountVolume(m),

  reapEntry(s, r) {
    const res = r.resources;
    return {
      id: r.device,
      mounts: (r.mounts ?? []).map((m) => m.mountPoint),
      loops: [...ownPartitionLoops(r).reverse(), r.device],
      pids: res?.pid ? [{ pid: res.pid, marker: res.marker ?? '' }] : [],
      fuseMounts: res?.fuseMount ? [res.fuseMount] : [],
      remove: [...(res?.dir ? [res.dir] : []), s.registry.file(r.device)],
      rmdirs: [...(r.mounts ?? []).map((m) => m.mountPoint), ...(r.mounts?.length ? [path.dirname(r.mounts[0].mountPoint)] : [])],
    };
  },
};

const udisks: DiskRoute = {
  name: 'udisks',
  kernelLifetime: false,

  async attach(s, params, image) {
    const t = Date.now();
    let reapId: string | undefined;
    // an engine's daemon and FUSE export are the reaper's from the moment they exist (whatever the lifetime: an attach
    // that dies half-way must not leave them)
    const engineStarted = (h: EngineHandle) => {
      reapId = h.dir;
      s.reaper.put({ id: reapId, mounts: [], loops: [], pids: [{ pid: h.pid, marker: h.marker }], fuseMounts: [h.fuseMount], remove: [h.dir], rmdirs: [] });
    };
    const r = await udisksAttach(image, params.readOnly, params.lifetime, { engineStarted }).finally(() => { if (reapId) s.reaper.drop(reapId); });
    try { s.registry.put(r); } catch (e) { await udisksDetach(r, r.device).catch(() => undefined); await stopOwnEngine(r); throw e; }
    if (r.lifetime === 'session') reap(s, r); // no fd can hold a udisks loop for us: the reaper deletes it if we die
    const via = r.resources?.pid ? `${r.resources.daemon}'s FUSE export ` : '';
    return { record: r, how: `through ${via}udisks (${params.readOnly ? 'read-only' : 'read-write'}, ${params.lifetime}; ${Date.now() - t} ms)` };
  },

  async deleteLoops(_s, device, r, how) {
    if (how === 'stale') return;
    for (const d of [...ownPartitionLoops(r), device]) await udisksLoopDelete(d);
  },

  rescan: async () => false,

  // the device is root's: read the file systems from the image, where the loop device shows it
  probe: async (r, v) => probeFs(v.device, false, { file: r.backingFile, offset: (loopOffset(r.device) ?? 0) + v.offset }),

  mount: (r, v) => udisksMount(v.device, r.readOnly),

  // a loop device that is gone (or someone else's by now) has none of our mounts left: nothing to ask udisks
  unmount: async (m) => { if (mountedAt(m.mountPoint)) await udisksUnmount(m); },

  // udisks unmounts and deletes the loops first; then our own daemon stops and its FUSE export goes
  reapEntry: (s, r) => {
    const res = r.resources;
    return {
      id: r.device, mounts: [], loops: [], pids: res?.pid ? [{ pid: res.pid, marker: res.marker ?? '' }] : [],
      fuseMounts: res?.fuseMount ? [res.fuseMount] : [], remove: [...(res?.dir ? [res.dir] : []), s.registry.file(r.device)], rmdirs: [],
      udisks: { unmount: (r.mounts ?? []).map((m) => m.device), loops: [...ownPartitionLoops(r), r.device] },
    };
  },
};

async function stopOwnEngine(r: DiskRecord): Promise<void> {
  const res = r.resources;
  if (res?.pid) await stopEngine({ pid: res.pid, marker: res.marker ?? '', fuseMount: res.fuseMount ?? '', dir: res.dir ?? '' }).catch(() => undefined);
}

/** The route a disk of ours was attached through. */
export function routeOf(r: DiskRecord): DiskRoute {
  return viaUdisks(r) ? udisks : direct;
}

/** How this worker detaches a disk: its own route, or udisks for any disk when this process cannot use the ioctls. */
export function detachRoute(r: DiskRecord | undefined): DiskRoute {
  return viaUdisks(r) || directLoopProblem() ? udisks : direct;
}

/** How this worker attaches now; PermissionDenied naming what is missing when neither route works. */
export async function attachingRoute(image?: ImageInfo): Promise<DiskRoute> {
  const route = await attachRoute();
  if ('problem' in route) throw image ? needsRoot(image, route.problem) : new WorkerError(ErrorCode.PermissionDenied, route.problem, { reason: 'not-root' });
  return route.route === 'udisks' ? udisks : direct;
}

/** Tells the reaper what to undo for a session disk; plain loop disks without mounts need nothing (autoclear). */
export function reap(s: LinuxState, r: DiskRecord): void {
  const e = routeOf(r).reapEntry(s, r);
  if (e.pids.length || e.mounts.length || e.udisks) s.reaper.put(e); else s.reaper.drop(e.id);
}
