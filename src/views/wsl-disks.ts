// "WSL and Docker Disks" (a collapsed sidebar section, on Windows and in a WSL window): the ext4.vhdx of each WSL distribution and Docker Desktop's
// disks as the worker finds them (src/worker/wsl), each with its size on disk against its data, Compact and Inspect
// on its context menu. Read when the section is first expanded and on Refresh or after a compaction, never polled:
// measuring the data reads each disk's ext4 bitmaps.
import * as vscode from 'vscode';
import { WslDisk, WslDisks } from '../common/protocol';
import { wslDiskSizes } from '../common/wsl-disks';
import type { WorkerClient } from '../host/worker-client';

export type WslNode =
  | { kind: 'wslDisk'; id: string; disk: WslDisk; path: string }
  | { kind: 'wslNote'; id: string; text: string };

export class WslDisksProvider implements vscode.TreeDataProvider<WslNode> {
  private readonly changed = new vscode.EventEmitter<WslNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly client: WorkerClient) {}

  /** Finds the disks again (Refresh, after a compaction, after the worker restarted elsewhere). */
  refresh(): void { this.changed.fire(undefined); }

  async getChildren(node?: WslNode): Promise<WslNode[]> {
    if (node) return [];
    let found;
    try {
      found = await this.client.request(WslDisks, {});
    } catch (e) {
      return [{ kind: 'wslNote', id: 'wsl-error', text: `The disks could not be looked for: ${e instanceof Error ? e.message : String(e)}` }];
    }
    const disks: WslNode[] = found.disks.map((d) => ({ kind: 'wslDisk', id: `wsl:${d.path}`, disk: d, path: d.path }));
    if (disks.length) return disks;
    // not on Windows or in WSL the worker's note says where these disks live; elsewhere say first that none was found
    const lines = found.where === 'none' ? found.notes : ['No WSL or Docker Desktop disk was found.', ...found.notes];
    return lines.map((text, i) => ({ kind: 'wslNote', id: `wsl-note:${i}`, text }));
  }

  getTreeItem(node: WslNode): vscode.TreeItem {
    if (node.kind === 'wslNote') {
      const item = new vscode.TreeItem(node.text, vscode.TreeItemCollapsibleState.None);
      item.id = node.id;
      item.tooltip = node.text;
      item.contextValue = 'vdisk.wslNote';
      item.iconPath = new vscode.ThemeIcon('info');
      return item;
    }
    const d = node.disk;
    const item = new vscode.TreeItem(d.name, vscode.TreeItemCollapsibleState.None);
    item.id = node.id;
    item.description = wslDiskSizes(d);
    item.tooltip = `${d.path}\n${wslDiskSizes(d)}${d.inUse ? `\nCannot be compacted now: ${d.inUseReason}` : ''}`;
    item.resourceUri = vscode.Uri.file(d.path);
    item.iconPath = new vscode.ThemeIcon(d.kind === 'docker' ? 'package' : 'terminal-linux');
    item.contextValue = `vdisk.wslDisk${d.inUse ? ' inUse' : ''}`;
    return item;
  }

  getParent(): undefined { return undefined; }

  dispose(): void { this.changed.dispose(); }
}
