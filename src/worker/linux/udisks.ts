// The unprivileged path: udisks2 over the system D-Bus sets up loop devices and mounts for a non-root worker,
// the way GNOME Disks does; formats an engine serves go through the user's own FUSE export (udisksAttach). udisksctl opens the image as the caller and hands udisksd the fd, so a user can only
// attach files they can open. Every call has a short timeout: without systemd-udevd, udisks attaches the loop and
// then waits 40 s for a udev event that never comes, so we check for udevd first and delete what a failed call left.
import * as fs from 'fs';
import { ErrorCode } from '../../common/protocol';
import type { ImageInfo } from '../../common/image';
import { WorkerError } from '../errors';
import { run, which } from './engines/process';
import { planAttach } from './plan';
import { needsRoot, USER_ALLOW_OTHER_HOWTO } from '../policy';
import { EngineHandle, stopEngine } from './engines/engine';
import { startQemu } from './engines/qemu';
import { startVhdimount } from './engines/vhdimount';
import { userAllowOther } from './fuse-conf';
import { DiskRecord } from './registry';
import { blockDevNo, listLoops, loopInfo, mountsOf } from './sysfs';
import { kernelPartitions, probeFs, readPartitions, VolumeRecord } from './volumes';
import type { MountRecord } from './mounts';

/** Marks a registry record made through udisks (resources.daemon). */
export const UDISKS = 'udisksd';
export function systemBusSocket(): string {
  const addr = process.env.DBUS_SYSTEM_BUS_ADDRESS;
  const m = addr && /unix:path=([^,;]+)/.exec(addr);
  return m ? m[1] : '/run/dbus/system_bus_socket';
}

const CALL_MS = Number(process.env.VDISK_UDISKS_TIMEOUT_MS) || 5000;

export const viaUdisks = (r: DiskRecord | undefined): boolean => r?.resources?.daemon === UDISKS || r?.resources?.route === 'udisks';

/** What keeps udisks from working here, checked without waiting on anything; null when the pieces are present. */
export function udisksStaticProblem(): string | null {
  const missing: string[] = [];
  if (!which('udisksctl')) missing.push('udisksctl is not installed (apt-get install udisks2)');
  const bus = systemBusSocket();
  if (!fs.existsSync(bus)) missing.push(`there is no system D-Bus at ${bus} (start dbus)`);
  if (!fs.existsSync('/run/udev/control')) missing.push('systemd-udevd is not running (/run/udev/control is missing; udisks waits 40 s for udev events without it)');
  return missing.length ? missing.join('; ') : null;
}

/** Also asks the bus whether udisksd runs or can be activated (3 s at most). */
export async function udisksProblem(): Promise<string | null> {
  const s = udisksStaticProblem();
  if (s) return s;
  const gdbus = which('gdbus');
  if (!gdbus) return 'gdbus is not installed (apt-get install libglib2.0-bin)';
  const ask = (method: string, ...args: string[]) => run(gdbus, ['call', '--system', '--timeout', '3', '--dest', 'org.freedesktop.DBus',
    '--object-path', '/org/freedesktop/DBus', '--method', `org.freedesktop.DBus.${method}`, ...args], 4000);
  const owner = await ask('NameHasOwner', 'org.freedesktop.UDisks2');
  if (owner.code !== 0) return `the system D-Bus at ${systemBusSocket()} does not answer (${oneLine(owner.stderr) || 'timeout'})`;
  if (owner.stdout.includes('true')) return null;
  const act = await ask('ListActivatableNames');
  if (act.code === 0 && act.stdout.includes("'org.freedesktop.UDisks2'")) return null;
  return 'udisksd is not running on the system bus and cannot be activated (systemctl start udisks2)';
}

function oneLine(s: string): string { return s.trim().split('\n').slice(-2).join(' ').replace(/^Error:\s*/, ''); }

function udisksError(what: string, r: { code: number | null; stderr: string; stdout: string }): WorkerError {
  const msg = oneLine(r.stderr || r.stdout) || `no answer within ${CALL_MS} ms (exit ${r.code})`;
  if (/NotAuthorized|not authorized/i.test(msg)) {
    return new WorkerError(ErrorCode.PermissionDenied, `udisks refused to ${what}: ${msg} (polkit allows this to the active local session; ask an administrator for a polkit rule otherwise)`, { reason: 'not-authorized' });
  }
  if (/Permission denied/i.test(msg)) return new WorkerError(ErrorCode.PermissionDenied, `Cannot ${what}: ${msg}`, { reason: 'permission' });
  return new WorkerError(ErrorCode.OsError, `udisks could not ${what}: ${msg}`, { reason: 'udisks-failed' });
}

async function udisksctl(args: string[]) {
  const bin = which('udisksctl');
  if (!bin) throw new WorkerError(ErrorCode.MissingDependency, 'udisksctl is not installed: apt-get install udisks2', { missing: 'udisks2' });
  return run(bin, [...args, '--no-user-interaction'], CALL_MS);
}

const loopsOn = (file: string) => new Set(listLoops().filter((l) => l.backingFile === file).map((l) => l.device));

/** Sets up a loop device through udisks. On failure or timeout, loop devices it made on `file` are deleted by name. */
export async function udisksLoopSetup(file: string, o: { readOnly: boolean; offset?: number; size?: number }): Promise<string> {
  const before = loopsOn(file);
  const args = ['loop-setup', '-f', file];
  if (o.readOnly) args.push('-r');
  if (o.offset) args.push('--offset', String(o.offset));
  if (o.size) args.push('--size', String(o.size));
  const r = await udisksctl(args);
  const m = / as (\/dev\/loop\d+)\.\s*$/.exec(r.stdout);
  if (r.code === 0 && m) return m[1];
  const leftovers = [...loopsOn(file)].filter((d) => !before.has(d));
  const why: string[] = [];
  for (const d of leftovers) await udisksLoopDelete(d).catch((e) => why.push((e as Error).message));
  const e = udisksError(`attach ${file}`, r);
  const still = leftovers.filter((d) => loopInfo(d.slice(5)));
  // udisks knows a loop only once udev has announced it: without that, only root can remove it
  if (still.length) e.message += `. It left ${still.join(', ')} attached and could not remove it (${why.join('; ')}): as root, run losetup -d ${still.join(' ')}`;
  throw e;
}

export async function udisksLoopDelete(device: string): Promise<void> {
  if (!loopInfo(device.slice(5))) return;
  const r = await udisksctl(['loop-delete', '-b', device]);
  if (r.code !== 0 && loopInfo(device.slice(5))) throw udisksError(`detach ${device}`, r);
}

/** Mounts through udisks (under /media/$USER/<label or uuid>): returns where it went. */
export async function udisksMount(device: string, readOnly: boolean): Promise<MountRecord> {
  const args = ['mount', '-b', device];
  if (readOnly) args.push('-o', 'ro');
  const r = await udisksctl(args);
  const m = /^Mounted \S+ at (.+)$/m.exec(r.stdout);
  if (r.code !== 0 || !m) throw udisksError(`mount ${device}`, r);
  // the kernel's word over udisksctl's message (whose wording has changed between versions)
  const devNo = blockDevNo(device);
  const where = devNo ? mountsOf(devNo) : [];
  return { device, mountPoint: where.length === 1 ? where[0] : m[1].replace(/\.$/, ''), kind: 'kernel', tool: 'udisks' };
}

export async function udisksUnmount(m: MountRecord): Promise<void> {
  const r = await udisksctl(['unmount', '-b', m.device]);
  if (r.code !== 0 && !/not mounted/i.test(r.stderr)) {
    const busy = /busy/i.test(r.stderr);
    throw busy ? new WorkerError(ErrorCode.Busy, `${m.mountPoint} is in use: close the files and terminals open there, then try again`, { reason: 'mount-busy', path: m.mountPoint })
      : udisksError(`unmount ${m.device}`, r);
  }
}

/** How udisksAttach reports an engine it started, before any loop device exists (the reaper must know it). */
export interface UdisksHooks { engineStarted?: (h: EngineHandle) => void }

/**
 * Attach through udisks. Raw, ISO and fixed VHD images go onto the loop device directly. The formats an engine serves
 * (qemu-storage-daemon, vhdimount) are exported by this user's own daemon, with allow_other, into the user's private
 * scratch folder; udisksctl opens the export and hands udisksd the fd. Needs user_allow_other in /etc/fuse.conf: the
 * loop driver reads the export as root. A non-root user cannot open the loop device udisks made (udev leaves it
 * root:disk 0660), so a session disk cannot be held by an fd; it is deleted by the worker on shutdown and by the
 * reaper or the next worker if this one died.
 */
export async function udisksAttach(image: ImageInfo, readOnly: boolean, lifetime: DiskRecord['lifetime'], hooks: UdisksHooks = {}): Promise<DiskRecord> {
  let plan = planAttach(image, readOnly);
  if (plan.engine === 'loop' && plan.blockSize) {
    throw needsRoot(image, 'Not running as root: udisks sets up loop devices with 512-byte sectors only; this disk needs 4 KiB sectors on the loop device.');
  }
  if (plan.engine === 'vdisk-fuse') {
    // vdisk's own server mounts with mount(2), root only: a user's differencing VHD goes to their own vhdimount instead
    if (image.format !== 'vhd') throw needsRoot(image, 'Not running as root: vdisk\'s FUSE server, the only engine here that reads a differencing VHDX correctly, mounts its export with mount(2), which needs root. Retry as Root, or Browse Instead.');
    plan = { engine: 'vhdimount' };
  }
  if (plan.engine === 'loop' && plan.file !== image.path) {
    // a VMDK's flat extent: the loop plan needs the extent checked and opened by us; qemu's vmdk driver serves it too
    if (!userAllowOther()) throw needsRoot(image, `Not running as root: udisks attaches an image file itself, and this one's disk lives in its extent file. ${USER_ALLOW_OTHER_HOWTO}`);
    plan = { engine: 'qemu', driver: 'vmdk' };
  }
  if (plan.engine !== 'loop' && !userAllowOther()) {
    throw needsRoot(image, `Not running as root: it needs ${plan.engine === 'qemu' ? 'qemu-storage-daemon' : 'vhdimount'} plus a loop device. ${USER_ALLOW_OTHER_HOWTO}`);
  }
  const made: string[] = [];
  let engine: EngineHandle | undefined;
  try {
    if (plan.engine === 'qemu') engine = await startQemu(image, plan.driver, readOnly, { allowOther: true });
    else if (plan.engine === 'vhdimount') engine = await startVhdimount(image, { allowOther: true });
    if (engine) hooks.engineStarted?.(engine);
    const file = engine?.exportFile ?? image.path;
    const offset = plan.engine === 'loop' ? plan.offset : 0;
    const diskSize = plan.engine === 'loop' ? (plan.sizeLimit || image.fileSize - plan.offset) : image.virtualSize;
    const device = await udisksLoopSetup(file, { readOnly, offset, size: plan.engine === 'loop' ? plan.sizeLimit : 0 });
    made.push(device);
    const seen = loopInfo(device.slice(5))?.sizeBytes ?? 0;
    if (engine && seen !== diskSize) {
      // FUSE hid the export from the loop driver (allow_other missing after all): never hand out a short disk
      throw needsRoot(image, `Not running as root: the loop device udisks made on the FUSE export shows ${seen} bytes, not ${diskSize}. ${USER_ALLOW_OTHER_HOWTO}`);
    }
    const volumes: VolumeRecord[] = [];
    // udisks asks for partscan; where the kernel has no partition parsers, one udisks loop per partition
    const kparts = kernelPartitions(device);
    const parts = kparts.length ? kparts : (await readPartitions(file, offset, diskSize)).map((p) => ({ device: '', index: p.index, offset: p.start, size: p.size }));
    if (!parts.length) {
      const fsp = await probeFs(device, false, { file, offset });
      if (fsp.fsType) volumes.push({ device, index: null, offset: 0, size: diskSize, ...fsp, kernelPartition: false });
    }
    for (const p of parts) {
      const dev = p.device || await udisksLoopSetup(file, { readOnly, offset: offset + p.offset, size: p.size });
      if (!p.device) made.push(dev);
      const fsp = await probeFs(dev, false, { file, offset: offset + p.offset });
      volumes.push({ device: dev, index: p.index, offset: p.offset, size: p.size, ...fsp, kernelPartition: !!p.device });
    }
    return {
      device, image: image.path, backingFile: file, engine: plan.engine, lifetime, readOnly,
      attachedAt: new Date().toISOString(), workerPid: process.pid, format: image.format, subtype: image.subtype,
      chain: image.chain, volumes, mounts: [], backingIno: inodeOf(file),
      resources: engine ? { pid: engine.pid, fuseMount: engine.fuseMount, dir: engine.dir, daemon: engine.daemon, marker: engine.marker, route: 'udisks' }
        : { daemon: UDISKS },
    };
  } catch (e) {
    for (const d of made.reverse()) await udisksLoopDelete(d).catch(() => undefined);
    if (engine) await stopEngine(engine).catch(() => undefined);
    throw e;
  }
}

/** Unmounts what we mounted, then deletes partition loops and the disk loop. */
export async function udisksDetach(r: DiskRecord | undefined, device: string): Promise<void> {
  for (const m of [...(r?.mounts ?? [])].reverse()) await udisksUnmount(m);
  if (r) r.mounts = [];
  const parts = (r?.volumes ?? []).filter((v) => v.device !== device && !v.kernelPartition).map((v) => v.device).reverse();
  for (const d of [...parts, device]) await udisksLoopDelete(d);
}

function inodeOf(file: string): string | undefined {
  try { const st = fs.statSync(file, { bigint: true }); return `${st.dev}:${st.ino}`; } catch { return undefined; }
}
