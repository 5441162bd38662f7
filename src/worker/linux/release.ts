// Taking a disk down, the one way: our mounts, the loop devices (partitions first), the engine, our bookkeeping.
// `how` says why, and with it how strict each step is:
//   detach    the user asked: every step must succeed (a device still open elsewhere is Busy), errors propagate;
//   shutdown  this worker's session disk as it exits: the fds it holds go (autoclear), failures are logged;
//   stale     the loop device was detached outside vdisk: only what it left (mounts, daemon) is undone;
//   orphan    a session disk of a worker that died without its reaper: undone if the device still shows our file.
import { stopEngine } from './engines/engine';
import type { DiskRecord } from './registry';
import { detachRoute, DiskRoute, reap, ReleaseHow, routeOf } from './routes';
import { sameBacking, LinuxState } from './state';
import { loopInfoOf } from './sysfs';

export type { ReleaseHow };

/** `r` is our record of `device`, or undefined for a disk that is not ours (detach only). */
export async function release(s: LinuxState, device: string, r: DiskRecord | undefined, how: ReleaseHow): Promise<{ stopMs: number; route: DiskRoute['name'] }> {
  const strict = how === 'detach';
  const soft = (what: string) => (e: unknown) => {
    if (strict) throw e;
    s.log('warn', `${how} ${device}: ${what}: ${(e as Error).message}`);
  };
  const route = how === 'detach' ? detachRoute(r) : routeOf(r!);
  if (how === 'orphan') {
    const l = loopInfoOf(device);
    if (!l || !sameBacking(r!, l)) how = 'stale'; // its device is gone or holds something else now
  }
  if (r) await unmountAll(s, r, () => true, strict);
  // a disk whose loops could not be deleted stays recorded: the reaper (shutdown) or the next worker (orphan) retries
  const loopsGone = await route.deleteLoops(s, device, r, how).then(() => true, (e) => { soft('loop devices')(e); return false; });
  let stopMs = 0;
  const res = r?.resources;
  if (res?.pid) {
    const stopped = await stopEngine({ pid: res.pid, marker: res.marker ?? '', fuseMount: res.fuseMount ?? '', dir: res.dir ?? '' })
      .catch(soft(res.daemon ?? 'engine'));
    stopMs = stopped?.ms ?? 0;
  }
  if (r && loopsGone) { s.registry.remove(device); s.reaper.drop(device); }
  return { stopMs, route: route.name };
}

/**
 * Unmounts the disk's mounts that `which` selects, recording each one gone. Strict: the first failure propagates
 * (what is still mounted stays recorded); otherwise failures are logged and the rest go on.
 */
export async function unmountAll(s: LinuxState, r: DiskRecord, which: (m: { device: string }) => boolean = () => true, strict = true): Promise<void> {
  const route = routeOf(r);
  for (const m of [...(r.mounts ?? [])].filter(which)) {
    try { await route.unmount(m); } catch (e) {
      if (strict) throw e;
      s.log('warn', `unmounting ${m.mountPoint}: ${(e as Error).message}`);
      continue;
    }
    s.log('info', `unmounted ${m.device} from ${m.mountPoint}`);
    r.mounts = (r.mounts ?? []).filter((x) => x.mountPoint !== m.mountPoint);
    s.registry.put(r);
  }
  if (strict && r.lifetime === 'session' && (s.held.has(r.device) || !route.kernelLifetime)) reap(s, r);
  // FUSE helpers (ntfs-3g, fuseiso) exit a moment after their unmount and hold the device until then
}
