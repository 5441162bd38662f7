// The backend on platforms with no virtual-disk support (macOS, BSD): inspect still works; OS calls say why not.
import type { AttachedDisk, DependencyEntry, DetachResult, VolumeInfo } from '../common/protocol';
import { ErrorCode } from '../common/protocol';
import * as os from 'os';
import type { Backend } from './backend';
import type { Environment } from './policy';
import { WorkerError } from './errors';

export class UnsupportedBackend implements Backend {
  readonly name = 'unsupported' as const;
  constructor(private readonly platform: string) {}
  private fail(): never {
    throw new WorkerError(ErrorCode.NotSupported, `Attaching disk images is not supported on ${this.platform}; vdisk attaches on Windows and Linux`);
  }
  limitations(): string[] { return [`Attaching is not supported on ${this.platform}.`]; }
  async environment(): Promise<Environment> {
    return { platform: process.platform, user: { uid: process.getuid?.() ?? null, name: os.userInfo().username }, privileged: false, elevated: false,
      loop: false, fuse: false, tools: {}, udisks: null, polkitAgent: null, virtdisk: null, browse: false, userAllowOther: false, notes: [] };
  }
  async attach(): Promise<AttachedDisk> { this.fail(); }
  async detach(): Promise<DetachResult> { this.fail(); }
  async list(): Promise<AttachedDisk[]> { return []; }
  async deps(): Promise<DependencyEntry[]> { this.fail(); }
  async mount(): Promise<VolumeInfo[]> { this.fail(); }
  async unmount(): Promise<VolumeInfo[]> { this.fail(); }
  async dispose(): Promise<void> { /* nothing held */ }
}
