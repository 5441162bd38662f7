// The one interface both OS backends implement. The JSON-RPC server (server.ts) only talks to this.
import type { AttachedDisk, AttachParams, DependencyEntry, DetachResult, VolumeInfo } from '../common/protocol';
import type { ImageInfo } from '../common/image';
import type { Environment } from './policy';
import type { CancellationToken } from 'vscode-jsonrpc';

export interface Backend {
  readonly name: 'linux' | 'windows' | 'unsupported';
  /** Reasons some operations cannot work in this process (not root, missing tools...). Never throws. */
  limitations(): string[];
  /** The facts the policy decides capabilities from (policy.ts). Never throws. */
  environment(): Promise<Environment>;
  /**
   * `image` is the format layer's reading of params.path (inspectImage), already checked by the server:
   * no blocking problems, ISO rules met, chain resolved. The backend picks its engine from it.
   */
  attach(params: AttachParams, image: ImageInfo, token: CancellationToken): Promise<AttachedDisk>;
  /** `target`: a device path or an image path. */
  detach(target: string, token: CancellationToken): Promise<DetachResult>;
  /** Every attached virtual disk on the machine, ours and other tools'. */
  list(): Promise<AttachedDisk[]>;
  deps(target: string): Promise<DependencyEntry[]>;
  mount(device: string, token: CancellationToken): Promise<VolumeInfo[]>;
  unmount(device: string, token: CancellationToken): Promise<VolumeInfo[]>;
  /** Windows only: start an elevated copy of this worker that connects to `pipe` with the secret in `secretFile`. */
  elevate?(pipe: string, secretFile: string): Promise<{ pid: number }>;
  /** Release everything session-scoped (close held handles/fds, stop daemons). Called on shutdown. */
  dispose(): Promise<void>;
  /**
   * A cheap fingerprint of the attached disks, polled by ExternalChangeWatcher instead of list() where listing is
   * expensive (Windows opens every image to describe it). Any change in it means "list again".
   */
  changeSignature?(): Promise<string>;
  /** Called by the backend whenever the set of disks changes on its own initiative. */
  onDidChange?: (reason: 'attach' | 'detach' | 'mount' | 'unmount' | 'external') => void;
}
