// "Attached Disks": every attached virtual disk, expanding to its dependency chain (image -> parent -> ...).
// Ids are stable across refreshes so VS Code keeps expansion and selection.
import * as path from 'path';
import * as vscode from 'vscode';
import { problemItem } from './problem-item';
import type { AttachedDisk, VolumeInfo } from '../common/protocol';
import type { ChainLink, Problem } from '../common/image';
import { diskBadges, formatBytes } from '../common/describe';
import { layerRole } from './inspector/model';

export type DiskTreeNode =
  | { kind: 'disk'; id: string; disk: AttachedDisk }
  | { kind: 'image'; id: string; disk: AttachedDisk; link: ChainLink; level: number }
  | { kind: 'volume'; id: string; disk: AttachedDisk; volume: VolumeInfo }
  | { kind: 'problem'; id: string; disk: AttachedDisk; problem: Problem }
  | { kind: 'message'; id: string; text: string; detail?: string; error: boolean };

/** What the tree shows: the last successful listing, or why there is none. */
export type DisksSnapshot = { disks: AttachedDisk[] } | { error: string };

export class AttachedDisksProvider implements vscode.TreeDataProvider<DiskTreeNode> {
  private readonly changed = new vscode.EventEmitter<DiskTreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private snapshot: DisksSnapshot | undefined;
  private readonly parents = new Map<string, DiskTreeNode | undefined>();

  /** @param load fetches the current listing; called by the refresher, never by VS Code directly. */
  constructor(private readonly load: () => Promise<AttachedDisk[]>) {}

  get disks(): AttachedDisk[] { return this.snapshot && 'disks' in this.snapshot ? this.snapshot.disks : []; }

  /** Reloads and repaints. Only the refresher calls this. */
  async reload(): Promise<DisksSnapshot> {
    try {
      this.snapshot = { disks: await this.load() };
    } catch (e) {
      this.snapshot = { error: e instanceof Error ? e.message : String(e) };
    }
    this.changed.fire(undefined);
    return this.snapshot;
  }

  async getChildren(node?: DiskTreeNode): Promise<DiskTreeNode[]> {
    if (!node) {
      if (!this.snapshot) await this.reload();
      const s = this.snapshot!;
      if ('error' in s) return [this.remember({ kind: 'message', id: 'message:error', text: 'Could not list attached disks', detail: s.error, error: true }, undefined)];
      return s.disks.map((disk) => this.remember({ kind: 'disk', id: diskId(disk), disk }, undefined));
    }
    if (node.kind === 'disk') {
      const link = node.disk.chain?.[0];
      const volumes = (node.disk.volumes ?? []).map((volume) =>
        this.remember({ kind: 'volume', id: `${node.id}/volume/${volume.device}@${volume.offset}`, disk: node.disk, volume }, node));
      return [...(link ? [this.remember({ kind: 'image', id: `${node.id}/0`, disk: node.disk, link, level: 0 }, node)] : []), ...volumes];
    }
    if (node.kind === 'image') {
      const next = node.disk.chain?.[node.level + 1];
      if (next) return [this.remember({ kind: 'image', id: `${diskId(node.disk)}/${node.level + 1}`, disk: node.disk, link: next, level: node.level + 1 }, node)];
      // the chain stops here: its problems (a parent that is missing or does not match) belong to this layer
      return (node.disk.problems ?? []).map((problem, i) => this.remember({ kind: 'problem', id: `${node.id}/problem/${i}`, disk: node.disk, problem }, node));
    }
    return [];
  }

  getParent(node: DiskTreeNode): DiskTreeNode | undefined {
    return this.parents.get(node.id);
  }

  getTreeItem(node: DiskTreeNode): vscode.TreeItem {
    switch (node.kind) {
      case 'message': {
        const item = new vscode.TreeItem(node.text, vscode.TreeItemCollapsibleState.None);
        item.id = node.id;
        item.description = node.detail;
        item.tooltip = node.detail;
        item.iconPath = new vscode.ThemeIcon(node.error ? 'error' : 'info', node.error ? new vscode.ThemeColor('errorForeground') : undefined);
        item.contextValue = node.error ? 'vdisk.error' : 'vdisk.message';
        return item;
      }
      case 'disk': {
        const d = node.disk;
        const item = new vscode.TreeItem(d.image ? path.basename(d.image) : d.device,
          d.chain?.length || d.volumes?.length ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
        item.id = node.id;
        item.description = [d.device, ...diskBadges(d)].join(' · ');
        item.tooltip = diskTooltip(d);
        item.iconPath = new vscode.ThemeIcon(d.readOnly ? 'lock' : 'database');
        const mounted = d.volumes?.some((v) => v.mountPoint);
        item.contextValue = ['vdisk.disk', d.ours ? 'ours' : 'foreign', d.image ? 'hasImage' : 'noImage', d.readOnly ? 'readOnly' : 'readWrite',
          mounted ? 'mounted' : 'unmounted'].join(' ');
        if (d.image) item.resourceUri = vscode.Uri.file(d.image);
        return item;
      }
      case 'problem':
        return problemItem(node.id, node.problem);
      case 'volume': {
        const v = node.volume;
        const item = new vscode.TreeItem(v.label || v.fsType || path.basename(v.device), vscode.TreeItemCollapsibleState.None);
        item.id = node.id;
        item.description = [v.fsType ?? 'unknown file system', formatBytes(v.size), v.mountPoint ? `mounted at ${v.mountPoint}` : 'not mounted'].join(' · ');
        item.tooltip = new vscode.MarkdownString([`**${escapeMd(v.label || v.device)}**`, '', `Device: \`${v.device}\``,
          `File system: ${v.fsType ?? 'unknown'}`, `Size: ${formatBytes(v.size)} at offset ${v.offset}`,
          v.mountPoint ? `Mounted at \`${v.mountPoint}\`${v.readOnly ? ' (read-only)' : ''}` : 'Not mounted'].join('  \n'));
        item.iconPath = new vscode.ThemeIcon(v.mountPoint ? 'folder-opened' : 'folder');
        item.contextValue = ['vdisk.volume', v.mountPoint ? 'mounted' : 'unmounted'].join(' ');
        if (v.mountPoint) item.resourceUri = vscode.Uri.file(v.mountPoint);
        return item;
      }
      case 'image': {
        const l = node.link;
        const last = (node.disk.chain?.length ?? 0) <= node.level + 1;
        const hasChildren = !last || (node.disk.problems?.length ?? 0) > 0;
        const item = new vscode.TreeItem(path.basename(l.path), hasChildren ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
        item.id = node.id;
        item.description = [layerRole(l, node.level), l.format + (l.subtype ? ` ${l.subtype}` : '')].join(' · ');
        item.tooltip = new vscode.MarkdownString(`**${escapeMd(l.path)}**\n\n${l.format}${l.subtype ? ` (${l.subtype})` : ''}${l.id ? `\n\nid \`${l.id}\`` : ''}`);
        item.iconPath = last && node.disk.problems?.length
          ? new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground'))
          : new vscode.ThemeIcon(node.level === 0 ? 'file-binary' : l.role === 'extent' || l.role === 'data-file' ? 'file' : 'layers');
        item.resourceUri = vscode.Uri.file(l.path);
        item.contextValue = 'vdisk.image hasImage';
        return item;
      }
    }
  }

  private remember(node: DiskTreeNode, parent: DiskTreeNode | undefined): DiskTreeNode {
    this.parents.set(node.id, parent);
    return node;
  }
}

export function diskId(d: AttachedDisk): string {
  return `disk:${d.device}|${d.image ?? ''}`;
}

function diskTooltip(d: AttachedDisk): vscode.MarkdownString {
  const lines = [`**${escapeMd(d.image ?? d.device)}**`, '', `Device: \`${d.device}\``, `Access: ${d.readOnly ? 'read-only' : 'read-write'}`,
    `Lifetime: ${d.lifetime === 'session' ? 'session (detached when VS Code or its worker ends)' : 'permanent (stays until detached)'}`,
    `Engine: ${d.engine}`];
  if (d.sizeBytes) lines.push(`Size: ${formatBytes(d.sizeBytes)}`);
  if (!d.ours) lines.push('', '_Attached by another tool_');
  return new vscode.MarkdownString(lines.join('  \n'));
}

function escapeMd(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}
