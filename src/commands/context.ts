import type * as vscode from 'vscode';
import type { WorkerClient } from '../host/worker-client';
import type { AttachedDisksProvider, DiskTreeNode } from '../views/attached-disks';
import type { Refresher } from '../views/refresher';
import type { RecentImagesProvider } from '../views/recent-images';
import type { CapabilityStore } from '../host/capabilities';

/** What every command gets. */
export interface CommandContext {
  client: WorkerClient;
  log: vscode.LogOutputChannel;
  disks: AttachedDisksProvider;
  disksView: vscode.TreeView<DiskTreeNode>;
  refresher: Refresher;
  recent: RecentImagesProvider;
  caps: CapabilityStore;
}
