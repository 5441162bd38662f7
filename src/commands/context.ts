import type * as vscode from 'vscode';
import type { WorkerClient } from '../host/worker-client';
import type { AttachedDisksProvider, DiskTreeNode } from '../views/attached-disks';
import type { Refresher } from '../views/refresher';
import type { RecentImagesProvider } from '../views/recent-images';
import type { CapabilityStore } from '../host/capabilities';
import type { WslDisksProvider } from '../views/wsl-disks';

/** What every command gets. */
export interface CommandContext {
  client: WorkerClient;
  log: vscode.LogOutputChannel;
  disks: AttachedDisksProvider;
  disksView: vscode.TreeView<DiskTreeNode>;
  refresher: Refresher;
  recent: RecentImagesProvider;
  caps: CapabilityStore;
  /** The "WSL and Docker Disks" section (absent where a caller has no sidebar, e.g. tests of one command). */
  wsl?: WslDisksProvider;
}
