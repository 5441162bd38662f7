// Linux: images become loop devices, directly (raw, ISO, fixed VHD) or on an engine's export file.
import * as fs from 'fs';
import type { CancellationToken } from 'vscode-jsonrpc';
import { AttachedDisk, AttachParams, DependencyEntry, DetachResult, ErrorCode, VolumeInfo } from '../../common/protocol';
import type { ImageInfo } from '../../common/image';
import type { Backend } from '../backend';
import { WorkerError } from '../errors';
import { loopAttach, loopDetach } from './loop';
import { listLoops, loopInfo, LoopInfo, mountsOf } from './sysfs';
import { DiskRecord, Registry } from './registry';
import { planAttach } from './plan';

type LogFn = (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;

export class LinuxBackend implements Backend {
  readonly name = 'linux' as const;
  onDidChange?: Backend['onDidChange'];
  private readonly registry = new Registry();
  /** fds we hold open on session-lifetime loop devices: closing the last one detaches (autoclear). */
  private readonly held = new Map<string, number>();

  constructor(private readonly log: LogFn) {}

  limitations(): string[] {
    const out: string[] = [];
    if (process.getuid?.() !== 0) out.push('Not running as root: attaching needs root (or CAP_SYS_ADMIN) for loop devices.');
    try { fs.accessSync('/dev/loop-control', fs.constants.W_OK); } catch {
      if (!fs.existsSync('/dev/loop-control')) out.push('/dev/loop-control is missing: the kernel has no loop device support.');
    }
    return out;
  }

  async attach(params: AttachParams, image: ImageInfo, token: CancellationToken): Promise<AttachedDisk> {
    const plan = planAttach(image, params.readOnly);
    if (token.isCancellationRequested) throw new WorkerError(ErrorCode.Cancelled, 'Attach cancelled');
    if (plan.engine !== 'loop') {
      throw new WorkerError(ErrorCode.NotSupported,
        `${image.format.toUpperCase()} ${image.subtype ?? ''} images need the ${plan.engine} engine, which this build does not have yet`,
        { reason: `engine-${plan.engine}` });
    }
    const session = params.lifetime === 'session';
    const { device, fd } = loopAttach(image.path, {
      readOnly: params.readOnly, autoclear: session, offset: plan.offset, sizeLimit: plan.sizeLimit,
    });
    if (session) this.held.set(device, fd); else fs.closeSync(fd);
    const record: DiskRecord = {
      device, image: image.path, backingFile: image.path, engine: 'loop', lifetime: params.lifetime,
      readOnly: params.readOnly, attachedAt: new Date().toISOString(), workerPid: process.pid,
    };
    this.registry.put(record);
    this.log('info', `attached ${image.path} as ${device} (${params.readOnly ? 'read-only' : 'read-write'}, ${params.lifetime})`);
    const info = loopInfo(device.slice(5));
    return this.toDisk(info ?? fallbackInfo(device, image.path, params.readOnly, session), record);
  }

  async detach(target: string, _token: CancellationToken): Promise<DetachResult> {
    const loop = this.resolveTarget(target);
    const mounts = mountsOf(loop.devNo);
    if (mounts.length) {
      throw new WorkerError(ErrorCode.Busy, `${loop.device} is mounted at ${mounts.join(', ')}: unmount it first`, { reason: 'mounted' });
    }
    loopDetach(loop.device);
    const fd = this.held.get(loop.device);
    if (fd !== undefined) { fs.closeSync(fd); this.held.delete(loop.device); }
    const record = this.registry.get(loop.device);
    if (record && record.backingFile === loop.backingFile) this.registry.remove(loop.device);
    if (!(await gone(loop.device))) {
      throw new WorkerError(ErrorCode.Busy,
        `${loop.device} is still open in another process; the kernel will detach it when that process closes it`,
        { reason: 'in-use' });
    }
    this.log('info', `detached ${loop.device} (${loop.backingFile})`);
    return { device: loop.device, image: record?.image ?? loop.backingFile };
  }

  async list(): Promise<AttachedDisk[]> {
    const loops = listLoops();
    const records = new Map(this.registry.all().map((r) => [r.device, r]));
    const out: AttachedDisk[] = [];
    for (const l of loops) {
      const r = records.get(l.device);
      if (r && r.backingFile !== l.backingFile) { this.registry.remove(l.device); records.delete(l.device); }
      out.push(this.toDisk(l, records.get(l.device)));
    }
    // records whose device is gone (a session disk of a dead worker, a detach by another tool)
    for (const r of records.values()) if (!loops.some((l) => l.device === r.device)) this.registry.remove(r.device);
    return out;
  }

  async deps(_target: string): Promise<DependencyEntry[]> {
    throw new WorkerError(ErrorCode.NotSupported, 'Storage dependency information is not implemented on Linux in this build');
  }

  async mount(_device: string): Promise<VolumeInfo[]> {
    throw new WorkerError(ErrorCode.NotSupported, 'Mounting volumes is not implemented on Linux in this build');
  }

  async unmount(_device: string): Promise<VolumeInfo[]> {
    throw new WorkerError(ErrorCode.NotSupported, 'Unmounting volumes is not implemented on Linux in this build');
  }

  async dispose(): Promise<void> {
    for (const [device, fd] of this.held) {
      try { fs.closeSync(fd); } catch { /* already closed */ }
      this.registry.remove(device);
    }
    this.held.clear();
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
    const loops = listLoops().filter((l) => l.backingFile === real || records.some((r) => r.device === l.device && r.backingFile === l.backingFile));
    if (loops.length === 0) throw new WorkerError(ErrorCode.NotAttached, `${target} is not attached`);
    if (loops.length > 1) {
      throw new WorkerError(ErrorCode.InvalidParams,
        `${target} is attached ${loops.length} times (${loops.map((l) => l.device).join(', ')}): name the device to detach`);
    }
    return loops[0];
  }

  private toDisk(l: LoopInfo, r: DiskRecord | undefined): AttachedDisk {
    return {
      device: l.device,
      image: r?.image ?? l.backingFile,
      readOnly: l.readOnly,
      engine: r?.engine ?? 'loop',
      lifetime: l.autoclear ? 'session' : 'permanent',
      ours: r !== undefined,
      sizeBytes: l.sizeBytes,
    };
  }
}

function fallbackInfo(device: string, image: string, readOnly: boolean, autoclear: boolean): LoopInfo {
  return { device, backingFile: image, deleted: false, offset: 0, sizeLimit: 0, autoclear, partscan: false, readOnly, sizeBytes: 0, devNo: '' };
}

/** The kernel unbinds synchronously when we were the last opener; give udev-style openers a moment. */
async function gone(device: string): Promise<boolean> {
  for (let i = 0; i < 20; i++) {
    if (!loopInfo(device.slice(5))) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}
